//! `sources.toml`: the `[[source]]` tables — what to watch, where, and how often.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};
use url::Url;

use super::diag::Diagnostics;
use super::toml_doc::TomlFile;
use super::{SOURCES_FILE, resolve};
use crate::extract::html::{Field, ListSpec, parse_selector};
use crate::time::schedule::Schedule;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use scraper::Selector;

const SOURCE_KEYS: &[&str] = &[
    "id",
    "name",
    "kind",
    "url",
    "schedule",
    "enabled",
    "charset",
    "headers",
    "max_silence",
    "settle_secs",
    "robots",
    "official",
    "tier",
    "html",
];
const HTML_KEYS: &[&str] =
    &["item", "title", "link", "date", "summary", "datastore", "follow", "content", "max_follow", "next", "pages"];
const KINDS: &str = "\"feed\"（RSS 0.9x/1.0/2.0、Atom、JSON Feed，自动识别）、\"html\"（网站列表页，需 [source.html]）、\"weibo_export\" 和 \"wechat_export\"（导出文件所在的文件夹）";

/// What kind of source this is; decides how fetched bytes become documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Feed,
    /// A website list page read with CSS selectors (`[source.html]`).
    Html,
    /// A folder of Weibo export files (CSV / JSON / JSONL).
    WeiboExport,
    /// A folder of WeChat official-account export files (JSON / CSV).
    WechatExport,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Feed => "feed",
            SourceKind::Html => "html",
            SourceKind::WeiboExport => "weibo_export",
            SourceKind::WechatExport => "wechat_export",
        }
    }

    pub fn is_export(self) -> bool {
        matches!(self, SourceKind::WeiboExport | SourceKind::WechatExport)
    }
}

/// `[source.html]`: how to read a list page, and whether to fetch each new article.
#[derive(Debug, Clone)]
pub struct HtmlConfig {
    pub list: ListSpec,
    /// Fetch each new article once and use its text (and meta tags).
    pub follow: bool,
    /// Selector of the article body; without it the government meta tags and a main-text
    /// heuristic are used.
    pub content: Option<Selector>,
    /// At most this many articles are fetched per run (the rest keep their list text).
    pub max_follow: usize,
    /// The "next page" link, and how many list pages to read per run (1 = no pagination).
    pub next: Option<Field>,
    pub pages: usize,
}

pub use crate::model::Location;

/// One validated `[[source]]`.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub id: String,
    pub name: String,
    pub kind: SourceKind,
    pub location: Location,
    pub schedule: Schedule,
    pub enabled: bool,
    /// Admin override of the declared charset (after a BOM, which always wins).
    pub charset: Option<&'static encoding_rs::Encoding>,
    /// For `kind = "html"`.
    pub html: Option<HtmlConfig>,
    /// Extra request headers (cookies or tokens for bridge services).
    pub headers: HeaderMap,
    /// Nothing new for longer than this → one notice to the admin.
    pub max_silence: Option<std::time::Duration>,
    /// Export folders: a file is read only once it has not changed for this long (it may
    /// still be being written).
    pub settle: std::time::Duration,
    /// Honour the site's robots.txt (default true; the bureau's own site may say false).
    pub robots: bool,
    /// The bureau's own website or official account (本局发布): what it publishes is the
    /// reference that claims elsewhere are compared with (歪曲, Art. 7).
    pub official: bool,
    /// How far the outlet reaches (central, provincial, …): media involvement when grading.
    pub tier: Option<crate::response::Tier>,
}

/// The keys of one `[[source]]` as read; a key that is missing or has the wrong type is
/// `None` (and already reported), so the remaining keys are still checked.
struct RawSource {
    id: Option<Spanned<String>>,
    name: Option<String>,
    kind: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    schedule: Option<Spanned<String>>,
    enabled: Option<bool>,
    charset: Option<Spanned<String>>,
    /// `[source.html]`, already checked and compiled; `Err` when present but invalid.
    html: Option<Result<HtmlConfig, ()>>,
    headers: Result<HeaderMap, ()>,
    max_silence: Result<Option<std::time::Duration>, ()>,
    settle_secs: Option<u64>,
    robots: Option<bool>,
    official: Option<bool>,
    tier: Option<Spanned<String>>,
    line: usize,
}

impl RawSource {
    fn read(file: &TomlFile, span: Range<usize>, table: &DeTable<'_>, diags: &mut Diagnostics) -> Self {
        const TEXT: &str = "字符串（用双引号括起来）";
        let line = file.line(span);
        let required = |key: &str, diags: &mut Diagnostics| match file.value::<String>(table, key, TEXT, diags) {
            Ok(Some(v)) => Some(v),
            Ok(None) => {
                diags.error(
                    &file.path,
                    line,
                    format!("[[source]] 缺少必填键 \"{key}\""),
                    format!("请为这个信源写上 {key} = \"...\""),
                );
                None
            }
            Err(()) => None,
        };
        let text = |key: &str, diags: &mut Diagnostics| file.value::<String>(table, key, TEXT, diags).ok().flatten();
        RawSource {
            id: required("id", diags),
            kind: required("kind", diags),
            url: required("url", diags),
            name: text("name", diags).map(Spanned::into_inner),
            schedule: text("schedule", diags),
            enabled: file
                .value::<bool>(table, "enabled", "布尔值 true 或 false", diags)
                .ok()
                .flatten()
                .map(Spanned::into_inner),
            charset: text("charset", diags),
            html: table.contains_key("html").then(|| html_config(file, table, diags)),
            headers: headers(file, table, diags),
            settle_secs: file
                .value::<u64>(table, "settle_secs", "非负整数（秒）", diags)
                .ok()
                .flatten()
                .map(Spanned::into_inner),
            robots: file
                .value::<bool>(table, "robots", "布尔值 true 或 false", diags)
                .ok()
                .flatten()
                .map(Spanned::into_inner),
            official: file
                .value::<bool>(table, "official", "布尔值 true 或 false", diags)
                .ok()
                .flatten()
                .map(Spanned::into_inner),
            tier: file.value::<String>(table, "tier", "字符串", diags).ok().flatten(),
            max_silence: match text("max_silence", diags) {
                None => Ok(None),
                Some(v) => parse_duration(v.get_ref()).map(Some).ok_or_else(|| {
                    diags.error(
                        &file.path,
                        file.line(v.span()),
                        format!("max_silence \"{}\" 无效", v.get_ref()),
                        "写成数字加单位：\"30m\"（分钟）、\"72h\"（小时）或 \"3d\"（天）",
                    );
                }),
            },
            line,
        }
    }
}

/// `"90s"`, `"30m"`, `"72h"`, `"3d"`.
fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = text[..unit_at].parse().ok()?;
    let secs = match text[unit_at..].trim() {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    (secs > 0).then(|| std::time::Duration::from_secs(secs))
}

/// `headers = { "Cookie" = "...", ... }`: every name and value must be valid HTTP.
fn headers(file: &TomlFile, source: &DeTable<'_>, diags: &mut Diagnostics) -> Result<HeaderMap, ()> {
    let mut map = HeaderMap::new();
    if !source.contains_key("headers") {
        return Ok(map);
    }
    let (_, table) = file.sub_table(source, "headers", diags).ok_or(())?;
    let mut ok = true;
    for (key, value) in table {
        let line = file.line(key.span());
        let name = HeaderName::from_bytes(key.get_ref().as_bytes());
        let text = value.get_ref().as_str().and_then(|v| HeaderValue::from_str(v).ok());
        match (name, text) {
            (Ok(name), Some(text)) => {
                map.insert(name, text);
            }
            _ => {
                ok = false;
                diags.error(
                    &file.path,
                    line,
                    format!("请求头 \"{}\" 无效", key.get_ref()),
                    "写成 headers = { \"Cookie\" = \"...\" }：名称为 HTTP 头名，值为不含换行的字符串",
                );
            }
        }
    }
    if ok { Ok(map) } else { Err(()) }
}

/// Reads and compiles `[source.html]`, reporting every bad key and selector.
fn html_config(file: &TomlFile, source: &DeTable<'_>, diags: &mut Diagnostics) -> Result<HtmlConfig, ()> {
    const TEXT: &str = "字符串（CSS 选择器，可加 @属性，如 \"a@href\"）";
    let (span, raw) = file.sub_table(source, "html", diags).ok_or(())?;
    let table = file.known_keys(raw, HTML_KEYS, "[source.html] 中", diags);
    let errors_before = diags.errors().count();
    let line = file.line(span);
    let field = |key: &str, required: bool, diags: &mut Diagnostics| -> Option<Field> {
        let value = file.value::<String>(&table, key, TEXT, diags).ok().flatten();
        let Some(value) = value else {
            if required {
                diags.error(
                    &file.path,
                    line,
                    format!("[source.html] 缺少必填键 \"{key}\""),
                    format!("例如 {key} = \"a@href\"（见 README）"),
                );
            }
            return None;
        };
        Field::parse(value.get_ref())
            .map_err(|e| {
                diags.error(
                    &file.path,
                    file.line(value.span()),
                    format!("{key} 的选择器 \"{}\" 无效：{e}", value.get_ref()),
                    "请检查 CSS 选择器写法",
                )
            })
            .ok()
    };
    let item = field("item", true, diags);
    let title = field("title", true, diags);
    let link = field("link", true, diags);
    let date = field("date", false, diags);
    let summary = field("summary", false, diags);
    let content = field("content", false, diags);
    let next = field("next", false, diags);
    let pages = file.value::<usize>(&table, "pages", "正整数", diags).ok().flatten();
    if let Some(p) = pages.as_ref().filter(|p| *p.get_ref() > 1 && next.is_none()) {
        diags.error(
            &file.path,
            file.line(p.span()),
            "pages 大于 1 时需要 next（下一页链接的选择器）".into(),
            "例如 next = \"a.next@href\"",
        );
    }
    let pages = pages.map_or(1, Spanned::into_inner).max(1);
    let flag = |key: &str, diags: &mut Diagnostics| {
        file.value::<bool>(&table, key, "布尔值 true 或 false", diags).ok().flatten().is_some_and(Spanned::into_inner)
    };
    let datastore = flag("datastore", diags);
    let follow = flag("follow", diags);
    let max_follow =
        file.value::<usize>(&table, "max_follow", "正整数", diags).ok().flatten().map_or(20, Spanned::into_inner);
    if diags.errors().count() != errors_before {
        return Err(());
    }
    let (Some(item), Some(title), Some(link)) = (item, title, link) else {
        return Err(());
    };
    let item_selector = parse_selector(&item.spec).map_err(|_| ())?;
    Ok(HtmlConfig {
        list: ListSpec { item: item_selector, item_css: item.spec, title, link, date, summary, datastore },
        follow,
        content: content.and_then(|c| parse_selector(&c.spec).ok()),
        max_follow,
        next,
        pages,
    })
}

pub(super) fn load(dir: &Path, default_schedule: Option<&Schedule>, diags: &mut Diagnostics) -> Vec<SourceConfig> {
    let path = dir.join(SOURCES_FILE);
    let Some(file) = TomlFile::read(&path, "请在配置目录中放置 sources.toml（可复制仓库自带的示例）", diags)
    else {
        return Vec::new();
    };
    let Some(doc) = file.parse(diags) else {
        return Vec::new();
    };
    let root = file.known_keys(doc.get_ref(), &["source"], "顶层", diags);
    let Some(entries) = root.get("source") else {
        diags.warning(&path, 0, "没有配置任何信源".into(), "请添加 [[source]] 表");
        return Vec::new();
    };
    let DeValue::Array(entries) = entries.get_ref() else {
        diags.error(
            &path,
            file.line(entries.span()),
            "source 应写成 [[source]] 表数组".into(),
            "每个信源写一个 [[source]] 小节",
        );
        return Vec::new();
    };
    let default_schedule = default_schedule.cloned().unwrap_or_default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    // Sources with the same schedule line share one parsed schedule.
    let mut schedules: HashMap<String, Schedule> = HashMap::new();
    let mut sources = Vec::new();
    for entry in entries {
        let DeValue::Table(table) = entry.get_ref() else {
            diags.error(
                &path,
                file.line(entry.span()),
                "[[source]] 的每一项都应是表".into(),
                "请用 [[source]] 小节书写",
            );
            continue;
        };
        let table = file.known_keys(table, SOURCE_KEYS, "[[source]] 中", diags);
        let errors_before = diags.errors().count();
        let raw = RawSource::read(&file, entry.span(), &table, diags);
        let source = validate(dir, &file, raw, &default_schedule, &mut seen, &mut schedules, diags);
        if let Some(source) = source.filter(|_| diags.errors().count() == errors_before) {
            sources.push(source);
        }
    }
    sources
}

fn validate(
    dir: &Path,
    file: &TomlFile,
    raw: RawSource,
    default_schedule: &Schedule,
    seen: &mut HashMap<String, usize>,
    schedules: &mut HashMap<String, Schedule>,
    diags: &mut Diagnostics,
) -> Option<SourceConfig> {
    let id = raw.id.as_ref().and_then(|id| check_id(file, id, seen, diags));
    let kind = raw.kind.as_ref().and_then(|kind| match kind.get_ref().as_str() {
        "feed" => Some(SourceKind::Feed),
        "html" => Some(SourceKind::Html),
        "weibo_export" => Some(SourceKind::WeiboExport),
        "wechat_export" => Some(SourceKind::WechatExport),
        other => {
            diags.error(
                &file.path,
                file.line(kind.span()),
                format!("不支持的信源类型 kind = \"{other}\""),
                format!("当前支持：{KINDS}"),
            );
            None
        }
    });
    let folder = kind.is_some_and(SourceKind::is_export);
    let tier = raw.tier.as_ref().and_then(|t| {
        let parsed = crate::response::Tier::parse(t.get_ref());
        if parsed.is_none() {
            let known: Vec<&str> = crate::response::Tier::ALL.iter().map(|x| x.as_str()).collect();
            diags.error(
                &file.path,
                file.line(t.span()),
                format!("未知的媒体层级 tier = \"{}\"", t.get_ref()),
                format!("可用：{}", known.join("、")),
            );
        }
        parsed
    });
    let location = raw.url.as_ref().and_then(|url| location(dir, file, url, folder, diags));
    let schedule = match &raw.schedule {
        None => Some(default_schedule.clone()),
        Some(expr) => match schedules.get(expr.get_ref()) {
            Some(parsed) => Some(parsed.clone()),
            None => Schedule::parse(expr.get_ref())
                .map_err(|e| {
                    diags.error(&file.path, file.line(expr.span()), format!("schedule 无效：{e}"), Schedule::HINT)
                })
                .ok()
                .inspect(|parsed| {
                    schedules.insert(expr.get_ref().clone(), parsed.clone());
                }),
        },
    };
    let charset = match &raw.charset {
        None => Some(None),
        Some(label) => match encoding_rs::Encoding::for_label(label.get_ref().as_bytes()) {
            Some(enc) => Some(Some(enc)),
            None => {
                diags.error(
                    &file.path,
                    file.line(label.span()),
                    format!("未知的字符集 \"{}\"", label.get_ref()),
                    "常用值：\"utf-8\"、\"gbk\"、\"gb18030\"、\"big5\"",
                );
                None
            }
        },
    };
    let html = match (kind, raw.html) {
        (Some(SourceKind::Html), None) => {
            diags.error(
                &file.path,
                raw.line,
                "kind = \"html\" 需要 [source.html] 小节".into(),
                "请在该信源下写 [source.html]，至少包含 item、title、link 三个选择器",
            );
            None
        }
        (Some(SourceKind::Feed), Some(_)) => {
            diags.error(
                &file.path,
                raw.line,
                "kind = \"feed\" 的信源不需要 [source.html]".into(),
                "请删除 [source.html]，或把 kind 改为 \"html\"",
            );
            None
        }
        (_, Some(Err(()))) => None,
        (_, Some(Ok(html))) => Some(Some(html)),
        (_, None) => Some(None),
    };
    let id = id?;
    Some(SourceConfig {
        name: raw.name.unwrap_or_else(|| id.clone()),
        id,
        kind: kind?,
        location: location?,
        schedule: schedule?,
        enabled: raw.enabled.unwrap_or(true),
        charset: charset?,
        html: html?,
        headers: raw.headers.ok()?,
        max_silence: raw.max_silence.ok()?,
        settle: std::time::Duration::from_secs(raw.settle_secs.unwrap_or(10)),
        robots: raw.robots.unwrap_or(true),
        official: raw.official.unwrap_or(false),
        tier,
    })
}

/// Checks the id's shape and uniqueness; returns it when usable.
fn check_id(
    file: &TomlFile,
    id: &Spanned<String>,
    seen: &mut HashMap<String, usize>,
    diags: &mut Diagnostics,
) -> Option<String> {
    let line = file.line(id.span());
    let id = id.get_ref();
    if !valid_id(id) {
        diags.error(
            &file.path,
            line,
            format!("信源 id \"{id}\" 不合规"),
            "id 只能使用小写字母、数字、- 和 _（以字母或数字开头，最长 64 个字符），且发布后不要再改",
        );
        return None;
    }
    if let Some(first) = seen.get(id) {
        diags.error(
            &file.path,
            line,
            format!("信源 id \"{id}\" 重复（第 {first} 行已使用）"),
            "每个信源的 id 必须唯一",
        );
        return None;
    }
    seen.insert(id.clone(), line);
    Some(id.clone())
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok && id.len() <= 64 && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn location(
    dir: &Path,
    file: &TomlFile,
    url: &Spanned<String>,
    folder: bool,
    diags: &mut Diagnostics,
) -> Option<Location> {
    let text = url.get_ref().trim();
    let line = file.line(url.span());
    if text.starts_with("http://") || text.starts_with("https://") {
        return match Url::parse(text) {
            Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => Some(Location::Http(u)),
            Ok(_) => {
                diags.error(
                    &file.path,
                    line,
                    format!("URL \"{text}\" 缺少主机名"),
                    "例如 https://www.example.gov.cn/rss.xml",
                );
                None
            }
            Err(e) => {
                diags.error(&file.path, line, format!("URL \"{text}\" 无效：{e}"), "请检查网址拼写");
                None
            }
        };
    }
    let path = if let Some(rest) = text.strip_prefix("file://") {
        PathBuf::from(rest)
    } else if text.contains("://") {
        diags.error(
            &file.path,
            line,
            format!("不支持的网址协议：\"{text}\""),
            "url 只能是 http/https 网址或本地文件路径",
        );
        return None;
    } else {
        resolve(dir, text)
    };
    if folder && path.is_dir() || !folder && path.is_file() {
        Some(Location::File(path))
    } else if diags.paths_may_be_missing {
        let what = if folder { "导出文件夹" } else { "文件" };
        diags.warning(
            &file.path,
            line,
            format!("{what}不存在：{}", path.display()),
            "本命令不读取信源，照常运行；运行守护进程前请修正",
        );
        Some(Location::File(path))
    } else if folder {
        diags.error(
            &file.path,
            line,
            format!("导出文件夹不存在：{}", path.display()),
            "url 应为存放导出文件（*.csv、*.json、*.jsonl）的文件夹；相对路径以配置目录为基准",
        );
        None
    } else {
        diags.error(
            &file.path,
            line,
            format!("文件不存在：{}", path.display()),
            "相对路径以配置目录为基准；请检查路径，或改用 http/https 网址",
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_duration, valid_id};

    #[test]
    fn durations_with_units() {
        assert_eq!(parse_duration("72h").map(|d| d.as_secs()), Some(72 * 3600));
        assert_eq!(parse_duration("3d").map(|d| d.as_secs()), Some(3 * 86_400));
        assert_eq!(parse_duration("30m").map(|d| d.as_secs()), Some(1800));
        assert_eq!(parse_duration("1s").map(|d| d.as_secs()), Some(1));
        for bad in ["", "72", "h", "0h", "3 weeks", "-1h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn ids_are_lowercase_slugs() {
        for ok in ["bureau-news", "people_politics", "a1", "9"] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", "-x", "Bureau", "有中文", "a b", &"x".repeat(65)] {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}
