//! Export files → posts, engagement counts and comments: Weibo exports (the back
//! office's CSV, weibo-crawler's CSV and `{user, weibo: [...]}` JSON, MediaCrawler's
//! JSON / JSONL / CSV notes and comments) and WeChat official-account exports
//! (wechat-article-exporter JSON and its spreadsheet columns as CSV).
//!
//! Columns are recognised by name through alias lists (English and Chinese headers), so
//! the tools' variants need no per-tool code; counts may be numbers or strings (`"12"`,
//! `"1.2万"`). A row that cannot be read is reported with its line and the rest of the file
//! is still used. Pure: no I/O, `now` passed in.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::date::parse_list_date;
use super::normalize::{excerpt, html_to_text, normalize_text};
use super::{Entry, ExtractError, charset};

/// Engagement counts as the export reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Engagement {
    pub reposts: Option<u64>,
    pub comments: Option<u64>,
    pub likes: Option<u64>,
    pub reads: Option<u64>,
    pub shares: Option<u64>,
}

impl Engagement {
    /// Reposts + comments + likes: the public reaction used in grading.
    pub fn interactions(&self) -> i64 {
        [self.reposts, self.comments, self.likes]
            .iter()
            .flatten()
            .map(|n| i64::try_from(*n).unwrap_or(i64::MAX))
            .fold(0, i64::saturating_add)
    }

    pub fn is_empty(&self) -> bool {
        *self == Engagement::default()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExportPost {
    pub entry: Entry,
    pub engagement: Engagement,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExportComment {
    pub id: String,
    /// The id of the post it belongs to (as in the post's `guid`).
    pub post_id: String,
    pub author: Option<String>,
    pub text: String,
    pub published_at: Option<DateTime<Utc>>,
    pub likes: Option<u64>,
}

/// A row that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct ExportFile {
    pub posts: Vec<ExportPost>,
    pub comments: Vec<ExportComment>,
    pub errors: Vec<RowError>,
}

const ID: &[&str] = &["id", "note_id", "mid", "aid", "msgid", "微博id", "文章id"];
const TITLE: &[&str] = &["title", "标题", "文章标题"];
const TEXT: &[&str] = &["text", "content", "desc", "正文", "微博正文", "内容", "文章内容", "content_html"];
const DIGEST: &[&str] = &["digest", "摘要"];
const LINK: &[&str] = &["link", "url", "note_url", "article_url", "content_url", "链接", "文章链接", "微博链接"];
const AUTHOR: &[&str] =
    &["screen_name", "nickname", "用户昵称", "author", "author_name", "作者", "公众号", "公众号名称"];
/// The most precise first: weibo-crawler writes `日期` (the day) beside `完整日期` (day and
/// time) in CSV, `created_at` beside `full_created_at` in JSON.
const TIME: &[&str] = &[
    "full_created_at",
    "完整日期",
    "created_at",
    "create_time",
    "publish_time",
    "create_date_time",
    "日期",
    "发布时间",
    "发文时间",
    "创建时间",
    "update_time",
];
const REPOSTS: &[&str] = &["reposts_count", "repost_count", "shared_count", "转发数"];
const COMMENTS: &[&str] = &["comments_count", "comment_count", "comment_num", "评论数"];
const LIKES: &[&str] = &["attitudes_count", "liked_count", "like_count", "like_num", "点赞数", "赞"];
const READS: &[&str] = &["read_num", "read_count", "reads", "阅读数", "阅读量"];
const SHARES: &[&str] = &["share_num", "share_count", "分享数"];
const COMMENT_ID: &[&str] = &["comment_id", "评论id"];
const COMMENT_LIKES: &[&str] = &["comment_like_count", "like_count", "liked_count", "点赞数"];

/// Reads one export file; `name` gives the format by its extension (`.csv`, `.json`,
/// `.jsonl`). A file that is not readable at all is an error; bad rows are not.
pub fn parse_export(name: &str, bytes: &[u8], tz: Tz, now: DateTime<Utc>) -> Result<ExportFile, ExtractError> {
    let text = charset::decode(bytes, None, None).text;
    let lower = name.to_ascii_lowercase();
    let rows = if lower.ends_with(".csv") {
        csv_rows(&text)
    } else if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
        Ok(jsonl_rows(&text))
    } else if lower.ends_with(".json") {
        json_rows(&text)
    } else {
        Err(ExtractError::Export {
            message: format!("无法识别的导出文件格式：{name}（应为 .csv、.json 或 .jsonl）")
        })
    }?;
    let mut file = ExportFile { errors: rows.errors, ..ExportFile::default() };
    for (line, row) in rows.rows {
        match record(&row, tz, now) {
            Ok(Record::Post(post)) => file.posts.push(*post),
            Ok(Record::Comment(comment)) => file.comments.push(comment),
            Err(message) => file.errors.push(RowError { line, message }),
        }
    }
    Ok(file)
}

type Row = HashMap<String, String>;

struct Rows {
    rows: Vec<(usize, Row)>,
    errors: Vec<RowError>,
}

fn csv_rows(text: &str) -> Result<Rows, ExtractError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ExtractError::Export { message: format!("无法读取 CSV 表头（csv：{e}）") })?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{FEFF}').to_lowercase())
        .collect();
    let mut rows = Rows { rows: Vec::new(), errors: Vec::new() };
    for result in reader.records() {
        match result {
            Ok(record) => {
                let line = record.position().map_or(0, |p| usize::try_from(p.line()).unwrap_or(0));
                let row: Row = headers
                    .iter()
                    .zip(record.iter())
                    .map(|(h, v)| (h.clone(), v.trim().trim_end_matches('\t').to_string()))
                    .collect();
                if row.len() < headers.len() / 2 {
                    rows.errors.push(RowError {
                        line,
                        message: format!("只有 {} 列，表头有 {} 列", row.len(), headers.len()),
                    });
                } else {
                    rows.rows.push((line, row));
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| usize::try_from(p.line()).unwrap_or(0));
                rows.errors.push(RowError { line, message: format!("CSV 格式错误（csv：{e}）") });
            }
        }
    }
    Ok(rows)
}

fn jsonl_rows(text: &str) -> Rows {
    let mut rows = Rows { rows: Vec::new(), errors: Vec::new() };
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => rows.rows.push((index + 1, flatten(&map))),
            Ok(_) => rows.errors.push(RowError { line: index + 1, message: "不是 JSON 对象".into() }),
            Err(e) => rows
                .errors
                .push(RowError { line: index + 1, message: format!("不是有效的 JSON（serde_json：{e}）") }),
        }
    }
    rows
}

fn json_rows(text: &str) -> Result<Rows, ExtractError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ExtractError::Export { message: format!("不是有效的 JSON（serde_json：{e}）") })?;
    // weibo-crawler: {user: {...}, weibo: [...]}; others: a list, or a list under a key.
    let default_author = value.pointer("/user/screen_name").and_then(Value::as_str).map(str::to_string);
    let items = match &value {
        Value::Array(items) => items,
        Value::Object(map) => ["weibo", "data", "list", "articles", "items", "notes", "comments"]
            .iter()
            .find_map(|k| map.get(*k).and_then(Value::as_array))
            .ok_or_else(|| ExtractError::Export {
                message: "JSON 对象中没有帖子列表（weibo、data、list、articles、items、notes 或 comments）".into(),
            })?,
        _ => return Err(ExtractError::Export { message: "JSON 既不是列表也不是对象".into() }),
    };
    let mut rows = Rows { rows: Vec::new(), errors: Vec::new() };
    for (index, item) in items.iter().enumerate() {
        match item {
            Value::Object(map) => {
                let mut row = flatten(map);
                if let Some(author) = &default_author {
                    row.entry("screen_name".into()).or_insert_with(|| author.clone());
                }
                rows.rows.push((index + 1, row));
            }
            _ => rows.errors.push(RowError { line: index + 1, message: "列表项不是 JSON 对象".into() }),
        }
    }
    Ok(rows)
}

/// Top-level scalar fields as strings (keys lower-cased).
fn flatten(map: &serde_json::Map<String, Value>) -> Row {
    map.iter()
        .filter_map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.trim().to_string(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.to_lowercase(), text))
        })
        .collect()
}

enum Record {
    Post(Box<ExportPost>),
    Comment(ExportComment),
}

/// The first of `names` the row has with a value (an empty column falls through to the next).
fn get<'a>(row: &'a Row, names: &[&str]) -> Option<&'a str> {
    names.iter().filter_map(|n| row.get(*n)).map(String::as_str).find(|v| !v.trim().is_empty())
}

fn record(row: &Row, tz: Tz, now: DateTime<Utc>) -> Result<Record, String> {
    let published_at = get(row, TIME).and_then(|t| time(t, tz, now));
    let author = get(row, AUTHOR).map(normalize_text);
    if let Some(comment_id) = get(row, COMMENT_ID) {
        let post_id = get(row, ID).ok_or("评论缺少所属帖子的 id（note_id）")?;
        let text = get(row, TEXT).map(html_to_text).unwrap_or_default();
        return Ok(Record::Comment(ExportComment {
            id: comment_id.to_string(),
            post_id: post_id.to_string(),
            author,
            text,
            published_at,
            likes: get(row, COMMENT_LIKES).and_then(count),
        }));
    }
    let text = get(row, TEXT).or_else(|| get(row, DIGEST)).map(html_to_text).unwrap_or_default();
    let title = get(row, TITLE).map(normalize_text).unwrap_or_else(|| excerpt(&text, None, 40));
    if title.is_empty() && text.is_empty() {
        return Err("没有标题也没有正文".into());
    }
    let id = get(row, ID).map(str::to_string);
    let link = get(row, LINK).map(str::to_string).or_else(|| {
        // weibo-crawler: https://weibo.com/<user_id>/<bid>
        Some(format!("https://weibo.com/{}/{}", get(row, &["user_id"])?, get(row, &["bid"])?))
    });
    let engagement = Engagement {
        reposts: get(row, REPOSTS).and_then(count),
        comments: get(row, COMMENTS).and_then(count),
        likes: get(row, LIKES).and_then(count),
        reads: get(row, READS).and_then(count),
        shares: get(row, SHARES).and_then(count),
    };
    let entry = Entry { title, text, link, guid: id, author, published_at };
    Ok(Record::Post(Box::new(ExportPost { entry, engagement })))
}

/// Unix seconds or milliseconds, or any date form [`parse_list_date`] reads.
fn time(value: &str, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Ok(n) = value.parse::<i64>() {
        let secs = if n > 100_000_000_000 { n / 1000 } else { n };
        return DateTime::from_timestamp(secs, 0);
    }
    parse_list_date(value, tz, now)
}

/// `12`, `"12"`, `1,234`, `1.2万`, `3亿`, `10万+`.
fn count(value: &str) -> Option<u64> {
    let v = value.trim().trim_end_matches('+').replace(',', "");
    let (number, factor) = match v.strip_suffix('万') {
        Some(n) => (n, 10_000.0),
        None => match v.strip_suffix('亿') {
            Some(n) => (n, 100_000_000.0),
            None => (v.as_str(), 1.0),
        },
    };
    let n: f64 = number.trim().parse().ok()?;
    (n >= 0.0 && n.is_finite()).then(|| (n * factor).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: Tz = chrono_tz::Asia::Shanghai;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T10:00:00+08:00").map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    #[test]
    fn counts_in_the_wild() {
        assert_eq!(count("12"), Some(12));
        assert_eq!(count("1,234"), Some(1234));
        assert_eq!(count("1.2万"), Some(12_000));
        assert_eq!(count("10万+"), Some(100_000));
        assert_eq!(count("3亿"), Some(300_000_000));
        assert_eq!(count("很多"), None);
    }

    #[test]
    fn weibo_crawler_csv_with_bom_tabs_and_retweet_columns() {
        let csv = "\u{FEFF}id,bid,正文,头条文章url,原始图片url,视频url,位置,日期,工具,点赞数,评论数,转发数,话题,@用户,源用户id,源微博正文\n\
                   4454572602912349\t,IjV3EbCkr,网传烈士陵园要拆迁，有人知道吗,,,,,2026-11-25 08:30,iPhone,15,3,1.2万,,,,\n\
                   4454572602912350\t,IjV3EbCks,\"转发微博\",,,,,2026-11-25,iPhone,0,0,0,,,123,原微博正文\n";
        let f = parse_export("weibo.csv", csv.as_bytes(), TZ, now()).expect("parses");
        assert!(f.errors.is_empty(), "{:?}", f.errors);
        assert_eq!(f.posts.len(), 2);
        let p = &f.posts[0];
        assert_eq!(p.entry.guid.as_deref(), Some("4454572602912349"));
        assert_eq!(p.entry.text, "网传烈士陵园要拆迁，有人知道吗");
        assert_eq!(
            p.engagement,
            Engagement { reposts: Some(12_000), comments: Some(3), likes: Some(15), ..Engagement::default() }
        );
        assert_eq!(f.posts[1].entry.text, "转发微博", "源微博 columns describe the original, not this post");
    }

    /// Regression: weibo-crawler's CSV has 日期 (the day) and 完整日期 (day and time); the
    /// row's time was stored as midnight.
    #[test]
    fn weibo_crawler_rows_keep_their_full_time() {
        let csv = "id,bid,正文,日期,完整日期,点赞数,评论数,转发数
                   4454572602912349	,IjV3EbCkr,网传烈士陵园要拆迁,2026-11-20,2026-11-20 10:00:00,1,0,0
                   4454572602912350	,IjV3EbCks,烈士陵园开放时间,2026-11-21,,1,0,0
";
        let f = parse_export("weibo.csv", csv.as_bytes(), TZ, now()).expect("parses");
        let at =
            |i: usize| f.posts[i].entry.published_at.map(|t| t.with_timezone(&TZ).format("%Y-%m-%d %H:%M").to_string());
        assert_eq!(at(0).as_deref(), Some("2026-11-20 10:00"));
        assert_eq!(at(1).as_deref(), Some("2026-11-21 00:00"), "an empty 完整日期 falls back to 日期");
        let json = r#"{"weibo": [{"id": 9, "bid": "B9", "text": "烈士陵园开放公告", "created_at": "2026-11-20", "full_created_at": "2026-11-20 10:00:00"}]}"#;
        let f = parse_export("weibo.json", json.as_bytes(), TZ, now()).expect("parses");
        let t = f.posts[0].entry.published_at.map(|t| t.with_timezone(&TZ).format("%H:%M").to_string());
        assert_eq!(t.as_deref(), Some("10:00"));
    }

    #[test]
    fn weibo_crawler_json_and_mediacrawler_jsonl_with_comments() {
        let json = r#"{"user": {"id": 1, "screen_name": "临江发布"}, "weibo": [
            {"user_id": 1, "screen_name": "临江发布", "id": 4454572602912349, "bid": "IjV3EbCkr", "text": "退役军人就业招聘会本周六举行",
             "created_at": "2026-11-24", "attitudes_count": 10, "comments_count": 2, "reposts_count": 1}]}"#;
        let f = parse_export("u.json", json.as_bytes(), TZ, now()).expect("parses");
        assert_eq!(f.posts[0].entry.link.as_deref(), Some("https://weibo.com/1/IjV3EbCkr"));
        assert_eq!(f.posts[0].entry.author.as_deref(), Some("临江发布"));

        let jsonl = "{\"note_id\": \"N1\", \"content\": \"抚恤金什么时候发\", \"create_time\": 1795740000000, \"liked_count\": \"7\", \"comments_count\": \"2\", \"shared_count\": \"1\", \"nickname\": \"网友A\", \"note_url\": \"https://m.weibo.cn/detail/N1\"}\n\
                     {\"comment_id\": \"C1\", \"note_id\": \"N1\", \"content\": \"我家也没收到\", \"create_time\": 1795740600, \"comment_like_count\": \"3\", \"nickname\": \"网友B\"}\n\
                     {\"note_id\": \"N2\", \"content\": \n\
                     [1, 2]\n";
        let f = parse_export("notes.jsonl", jsonl.as_bytes(), TZ, now()).expect("parses");
        assert_eq!(f.posts.len(), 1);
        assert_eq!(f.posts[0].engagement.likes, Some(7));
        assert_eq!(f.posts[0].entry.published_at, DateTime::from_timestamp(1_795_740_000, 0));
        assert_eq!(f.comments.len(), 1);
        assert_eq!((f.comments[0].post_id.as_str(), f.comments[0].likes), ("N1", Some(3)));
        assert_eq!(f.errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![3, 4], "{:?}", f.errors);
        // Staff read these: Chinese first, the parser's words after.
        assert!(f.errors[0].message.starts_with("不是有效的 JSON（serde_json："), "{:?}", f.errors);
        assert_eq!(f.errors[1].message, "不是 JSON 对象");
    }

    #[test]
    fn wechat_exporter_csv_columns() {
        let csv = "标题,链接,发布时间,摘要,阅读数,点赞数,分享数,评论数,正文\n\
                   关于抚恤金发放的说明,https://mp.weixin.qq.com/s/abc,2026-11-25 16:00,已全部发放到位,\"1,024\",12,5,3,<p>资金已于11月24日发放</p>\n\
                   \"未闭合的引号,https://mp.weixin.qq.com/s/def,2026-11-25\n";
        let f = parse_export("articles.csv", csv.as_bytes(), TZ, now()).expect("parses");
        assert_eq!(f.posts.len(), 1, "{:?}", f.errors);
        let p = &f.posts[0];
        assert_eq!(p.entry.title, "关于抚恤金发放的说明");
        assert_eq!(p.entry.text, "资金已于11月24日发放");
        assert_eq!(
            p.engagement,
            Engagement { reads: Some(1024), likes: Some(12), shares: Some(5), comments: Some(3), reposts: None }
        );
        assert_eq!(f.errors.len(), 1, "the truncated row is reported");
        assert_eq!(f.errors[0].message, "只有 1 列，表头有 9 列", "{:?}", f.errors);
    }

    #[test]
    fn unreadable_files_are_errors() {
        assert!(parse_export("x.json", b"{not json", TZ, now()).is_err());
        assert!(parse_export("x.json", br#"{"user": {}}"#, TZ, now()).is_err());
        assert!(parse_export("x.xlsx", b"PK..", TZ, now()).is_err());
        let shown =
            parse_export("x.json", b"{not json", TZ, now()).map(|_| String::new()).unwrap_or_else(|e| e.to_string());
        assert!(shown.starts_with("导出文件无法读取：不是有效的 JSON（serde_json："), "{shown}");
    }
}
