//! Export folders (`weibo_export`, `wechat_export`): each file once, files still being
//! written left alone, bad rows reported with file and line, re-exports without
//! duplicates, engagement kept as a time series, comments kept with their post.

mod support;

use support::{FILE_MAIL, Project, eml_files};

const CRAWLER_CSV: &str = "\u{FEFF}id,bid,正文,头条文章url,原始图片url,视频url,位置,日期,工具,点赞数,评论数,转发数,话题,@用户\n\
4454572602912349\t,IjV3EbCkr,网传烈士陵园要拆迁，有人知道吗,,,,,2026-11-25 08:30,iPhone,15,3,20,,\n\
4454572602912350\t,IjV3EbCks,今天天气不错,,,,,2026-11-25 09:00,iPhone,1,0,0,,\n";

/// The fixtures' dates moved next to the test's own clock: 2026-11-25 becomes the day
/// before yesterday and 2026-11-26 yesterday (Beijing time), so every row is in the past
/// and within the event window whatever day the suite runs.
fn recent(content: impl AsRef<str>) -> String {
    let day = |n: i64| {
        (chrono::Utc::now() - chrono::Duration::days(n))
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .format("%Y-%m-%d")
            .to_string()
    };
    content.as_ref().replace("2026-11-25", &day(2)).replace("2026-11-26", &day(1))
}

fn write_export(p: &Project, rel: &str, content: impl AsRef<str>) {
    p.write(rel, recent(content));
}

fn export_source(id: &str, kind: &str, settle: u64) -> String {
    format!(
        "[[source]]\nid = \"{id}\"\nname = \"导出 {id}\"\nkind = \"{kind}\"\nurl = \"exports/{id}\"\nsettle_secs = {settle}\n\n"
    )
}

#[test]
fn weibo_exports_import_once_update_counts_and_report_bad_rows() {
    let p = Project::new(&export_source("weibo", "weibo_export", 0), FILE_MAIL);
    write_export(&p, "exports/weibo/2026-11-25.csv", CRAWLER_CSV);

    let first = p.run(&["run", "--once"]);
    assert!(
        first.source_line("weibo").contains("条目 2，新文档 2，命中 2，新提醒 1"),
        "{}\n{}",
        first.stdout,
        first.stderr
    );
    assert_eq!(eml_files(&p.path().join("outbox")).len(), 1);

    // A later export of the same account: one known post with new counts, one new post,
    // and a truncated last row.
    let later = "id,bid,正文,日期,点赞数,评论数,转发数\n\
                 4454572602912349\t,IjV3EbCkr,网传烈士陵园要拆迁，有人知道吗,2026-11-25 08:30,150,40,1.2万\n\
                 4454572602912351\t,IjV3EbCkt,抚恤金到账了吗,2026-11-26 10:00,2,1,0\n\
                 \"4454572602912352\t,IjV3";
    write_export(&p, "exports/weibo/2026-11-26.csv", later);
    write_export(&p, "exports/weibo/copy-of-first.csv", CRAWLER_CSV);
    write_export(&p, "exports/weibo/notes.txt", "not an export");
    let second = p.run(&["run", "--once"]);
    let line = second.source_line("weibo");
    // Two alerts: the new post, and the known post's event rising to II on 12,190 interactions.
    assert!(line.contains("条目 2，新文档 1，命中 2，新提醒 2，互动数更新 1"), "{}\n{}", second.stdout, second.stderr);
    assert!(second.stdout.contains("跳过：") && second.stdout.contains("2026-11-26.csv:4："), "{}", second.stdout);
    assert_eq!(eml_files(&p.path().join("outbox")).len(), 3);

    let store = p.store();
    let id = store.document_by_key("guid:weibo:4454572602912349").expect("query").expect("stored");
    let history = store.engagement_history(id).expect("history");
    let reposts: Vec<Option<u64>> = history.iter().map(|(_, e)| e.reposts).collect();
    assert_eq!(reposts, vec![Some(20), Some(12_000)]);
    // The dashboard's interactions column: the event's latest counts, as on its timeline.
    let event = store.event_of_document(id).expect("query").expect("in an event");
    let timeline = store.event_timeline(event).expect("timeline").expect("event");
    let latest = store.latest_interactions(event).expect("interactions");
    assert_eq!(latest, timeline.engagement.last().map(|(_, v)| *v));
    assert_eq!(latest, Some(12_000 + 40 + 150));

    // Nothing new: no file is read again.
    let third = p.run(&["run", "--once"]);
    assert!(third.source_line("weibo").contains("条目 0，新文档 0"), "{}", third.stdout);
}

#[test]
fn a_file_still_being_written_waits() {
    let p = Project::new(&export_source("weibo", "weibo_export", 3600), FILE_MAIL);
    write_export(&p, "exports/weibo/now.csv", CRAWLER_CSV);
    // Written "now" on the test's own clock (the kernel stamps the real time, which differs
    // when scripts/test-clock.sh moves the clock).
    let file = std::fs::File::options().append(true).open(p.path().join("exports/weibo/now.csv")).expect("open");
    file.set_modified(std::time::SystemTime::now()).expect("set mtime");
    let run = p.run(&["run", "--once"]);
    assert!(run.source_line("weibo").contains("条目 0，新文档 0"), "{}", run.stdout);
    assert!(p.store().document_by_key("guid:weibo:4454572602912349").expect("query").is_none());
}

/// Regression: `fetch ID --dry-run` printed 共 0 条 for files younger than settle_secs, with
/// no word why. It reads them (it stores nothing) and says the daemon waits, and until when.
#[test]
fn a_dry_run_reads_files_still_being_written_and_says_the_daemon_waits() {
    let p = Project::new(&export_source("weibo", "weibo_export", 3600), FILE_MAIL);
    write_export(&p, "exports/weibo/now.csv", CRAWLER_CSV);
    let file = std::fs::File::options().append(true).open(p.path().join("exports/weibo/now.csv")).expect("open");
    file.set_modified(std::time::SystemTime::now()).expect("set mtime");
    let run = p.run(&["fetch", "weibo", "--dry-run"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("共 2 条"), "{}", run.stdout);
    assert!(
        run.stdout.contains("now.csv 在最近 3600 秒内修改过") && run.stdout.contains("守护进程要到"),
        "{}",
        run.stdout
    );
    assert!(p.store().document_by_key("guid:weibo:4454572602912349").expect("query").is_none(), "stores nothing");
}

#[test]
fn mediacrawler_notes_and_comments_and_wechat_articles() {
    let sources = format!("{}{}", export_source("mc", "weibo_export", 0), export_source("wx", "wechat_export", 0));
    let p = Project::new(&sources, FILE_MAIL);
    write_export(
        &p,
        "exports/mc/weibo_search_contents.jsonl",
        "{\"note_id\": \"N1\", \"content\": \"我父亲的抚恤金三个月没到账\", \"create_time\": \"1795740000\", \"liked_count\": \"7\", \"comments_count\": \"2\", \"shared_count\": \"1\", \"nickname\": \"网友A\", \"note_url\": \"https://m.weibo.cn/detail/N1\"}\n",
    );
    write_export(
        &p,
        "exports/mc/weibo_search_comments.json",
        r#"[{"comment_id": "C1", "note_id": "N1", "content": "我家也没收到", "create_time": "1795740600", "comment_like_count": "3", "nickname": "网友B"},
            {"comment_id": "C2", "note_id": "N1", "content": "打12345问问", "create_time": "1795740700", "nickname": "网友C"}]"#,
    );
    write_export(
        &p,
        "exports/wx/articles.csv",
        "标题,链接,发布时间,摘要,阅读数,点赞数,分享数,评论数\n关于优抚对象抚恤金发放情况的说明,https://mp.weixin.qq.com/s/abc,2026-11-25 16:00,已全部发放到位,1024,12,5,3\n",
    );
    let run = p.run(&["run", "--once"]);
    assert!(
        run.source_line("mc").contains("新文档 1，命中 2，新提醒 1") && run.source_line("mc").contains("新评论 2"),
        "{}",
        run.stdout
    );
    assert!(run.source_line("wx").contains("条目 1，新文档 1，命中 2，新提醒 1"), "{}", run.stdout);
    let comments = p.store().comments_for("guid:mc:N1").expect("comments");
    assert_eq!(comments.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(), vec!["我家也没收到", "打12345问问"]);
    let dry = p.run(&["fetch", "wx", "--dry-run"]);
    assert!(dry.stdout.contains("关于优抚对象抚恤金发放情况的说明") && dry.stdout.contains("命中："), "{}", dry.stdout);
}

#[test]
fn a_missing_export_folder_is_a_config_error() {
    let p = Project::new(&export_source("weibo", "weibo_export", 0), FILE_MAIL);
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("sources.toml:5:") && run.stdout.contains("导出文件夹不存在"), "{}", run.stdout);
}

#[test]
fn an_export_published_at_a_url_is_imported_once_per_content() {
    let server = support::HttpServer::start();
    let json = |likes: u32| {
        format!(
            r#"{{"user": {{"screen_name": "临江发布"}}, "weibo": [{{"user_id": 1, "id": 9, "bid": "B9", "text": "烈士陵园开放公告", "created_at": "2026-11-25", "attitudes_count": {likes}}}]}}"#
        )
    };
    server.route("/exports/weibo.json", support::Route::ok("application/json", recent(json(1))));
    let sources = format!(
        "[[source]]\nid = \"remote\"\nkind = \"weibo_export\"\nurl = \"{}\"\n",
        server.url("/exports/weibo.json")
    );
    let p = Project::new(&sources, FILE_MAIL);
    assert!(p.run(&["run", "--once"]).source_line("remote").contains("新文档 1"));
    assert!(p.run(&["run", "--once"]).source_line("remote").contains("条目 0，新文档 0"), "same content: skipped");
    server.route("/exports/weibo.json", support::Route::ok("application/json", recent(json(50))));
    let run = p.run(&["run", "--once"]);
    assert!(
        run.source_line("remote").contains("条目 1，新文档 0") && run.source_line("remote").contains("互动数更新 1"),
        "{}",
        run.stdout
    );
}

/// Public reaction grades: a post with 60,000 interactions in the export is grade I at
/// once, and its alert says why.
#[test]
fn interactions_in_an_export_grade_the_event() {
    let p = Project::new(&export_source("weibo", "weibo_export", 0), FILE_MAIL);
    let csv = "id,bid,正文,日期,点赞数,评论数,转发数\n\
               4454572602912360\t,IjV3EbCk1,网传烈士陵园要拆迁，大家转发,2026-11-25 08:30,20000,10000,30000\n\
               4454572602912361\t,IjV3EbCk2,烈士陵园开放时间调整,2026-11-25 09:00,1,0,0\n";
    write_export(&p, "exports/weibo/hot.csv", csv);
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let texts: Vec<String> = eml_files(&p.path().join("outbox"))
        .iter()
        .map(|f| support::text_part(&std::fs::read_to_string(f).expect("eml")))
        .collect();
    assert_eq!(texts.len(), 2, "{texts:#?}");
    assert!(texts.iter().any(|t| t.contains("分级：Ⅰ级 特别重大（公众反应：互动 60000 ≥ 50000）")), "{texts:#?}");
    assert!(texts.iter().any(|t| t.contains("分级：Ⅳ级 一般")), "{texts:#?}");
}

/// Growing counts on a known post regrade its event; each rise is one threaded alert.
#[test]
fn growing_counts_on_a_known_post_raise_the_grade() {
    let p = Project::new(&export_source("weibo", "weibo_export", 0), FILE_MAIL);
    let export = |likes: u32, comments: u32, reposts: u32| {
        format!(
            "id,bid,正文,日期,点赞数,评论数,转发数\n4454572602912370\t,IjV3EbCk9,网传烈士陵园要拆迁，大家转发,2026-11-25 08:30,{likes},{comments},{reposts}\n"
        )
    };
    write_export(&p, "exports/weibo/1.csv", export(15, 3, 20));
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));
    write_export(&p, "exports/weibo/2.csv", export(600, 200, 400));
    let run = p.run(&["run", "--once"]);
    assert!(run.source_line("weibo").contains("新提醒 1，互动数更新 1"), "{}\n{}", run.stdout, run.stderr);
    write_export(&p, "exports/weibo/3.csv", export(600, 200, 410));
    let run = p.run(&["run", "--once"]);
    assert!(run.source_line("weibo").contains("新提醒 0，互动数更新 1"), "no rise, no alert: {}", run.stdout);

    let mails: Vec<String> =
        eml_files(&p.path().join("outbox")).iter().map(|f| std::fs::read_to_string(f).expect("eml")).collect();
    assert_eq!(mails.len(), 2);
    let root = support::header(&mails[0], "Message-ID").expect("message id");
    assert_eq!(support::header(&mails[1], "In-Reply-To").as_deref(), Some(root.as_str()));
    let text = support::text_part(&mails[1]);
    assert!(text.contains("舆情升级：Ⅳ级 一般 → Ⅲ级 较大"), "{text}");
    assert!(text.contains("公众反应：互动 1200 ≥ 1000"), "{text}");
    let events = p.store().recent_events(5).expect("events");
    assert_eq!(events[0].grade, Some(yuqing::response::Grade::III));
}

/// A rise on counts alone goes out on the new grade's channels too (here SMS for grade III).
#[test]
fn a_rise_on_counts_fans_out_to_the_new_grades_channels() {
    let server = support::HttpServer::start();
    server.route("/sms?to=13900000009", support::Route::ok("application/json", r#"{"code":0}"#));
    let p = Project::with_org(&export_source("weibo", "weibo_export", 0));
    let org = support::ORG.replacen(
        "email = \"xu@example.gov.cn\"",
        "email = \"xu@example.gov.cn\"\nmobile = \"13900000009\"",
        1,
    );
    let sms = format!(
        "[sms]\nprovider = \"gateway\"\nmethod = \"GET\"\nurl = \"{}?to={{mobile}}\"\n[delivery]\nIII = [\"sms\", \"email\"]\n",
        server.url("/sms")
    );
    p.write("yuqing.toml", format!("{org}\n{sms}[storage]\npath = \"state/yuqing.db\"\n{FILE_MAIL}"));
    let export = |likes: u32| {
        format!(
            "id,bid,正文,日期,点赞数,评论数,转发数\n4454572602912370\t,IjV3EbCk9,网传烈士陵园要拆迁，大家转发,2026-11-25 08:30,{likes},3,20\n"
        )
    };
    write_export(&p, "exports/weibo/1.csv", export(15));
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));
    assert!(server.requests("/sms?to=13900000009").is_empty(), "grade IV: email only");
    write_export(&p, "exports/weibo/2.csv", export(1500));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        server.requests("/sms?to=13900000009").len(),
        1,
        "the rise reached the liaison's mobile\n{}",
        run.stdout
    );
}
