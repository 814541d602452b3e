//! The pipeline against a loopback HTTP server: every feed format, charsets, conditional
//! GET, and every way a source can fail — without one broken source affecting the others.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::{FILE_MAIL, HttpServer, Project, Route, eml_files, rss, source};

const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>临江日报</title><id>urn:linjiang</id><updated>2026-11-26T08:00:00Z</updated>
<entry><title>优抚政策宣讲进社区</title><id>urn:a1</id><link href="/news/a1.html"/><updated>2026-11-26T08:00:00Z</updated>
<summary type="html">&lt;p&gt;面向&lt;b&gt;优抚对象&lt;/b&gt;的政策宣讲&lt;/p&gt;</summary></entry>
<entry><title>冬季长跑比赛举行</title><id>urn:a2</id><link href="https://news.example.com/a2"/><updated>2026-11-26T09:00:00Z</updated>
<summary>与本局无关</summary></entry>
</feed>"#;

const JSON_FEED: &str = r#"{"version":"https://jsonfeed.org/version/1.1","title":"市民来信","items":[
{"id":"j1","url":"https://example.gov.cn/letters/j1","title":"询问抚恤金标准","content_text":"想了解今年的抚恤金标准","date_published":"2026-11-26T10:00:00+08:00"}]}"#;

fn gbk_feed() -> Vec<u8> {
    let text = "<?xml version=\"1.0\" encoding=\"gb2312\"?>\n<rss version=\"2.0\"><channel><title>论坛</title>\
<item><title>网友：烈士陵园要拆迁？</title><link>https://bbs.example.com/t/1</link><guid>t1</guid>\
<description>听说ＡＢＣ公司要在烈士陵园旁施工，喆</description></item></channel></rss>";
    encoding_rs::GBK.encode(text).0.into_owned()
}

/// Serves one fixture per source kind and failure mode; returns the server and the
/// sources.toml listing them.
fn fixture_server() -> (HttpServer, String) {
    let server = HttpServer::start();
    let rss_body = rss(&[
        ("r1", "关于发放第四季度抚恤金的通知", "&lt;p&gt;抚恤金将于月底发放&lt;/p&gt;"),
        ("r2", "本局召开学习会", "学习会议精神"),
    ])
    .replace(
        "</channel>",
        "<item><title>烈士陵园开放时间调整</title><description>无链接也无 guid 的条目</description></item></channel>",
    );
    server.route("/rss.xml", Route::ok("application/rss+xml; charset=utf-8", rss_body));
    server.route("/atom.xml", Route::ok("application/atom+xml", ATOM));
    server.route("/feed.json", Route::ok("application/feed+json", JSON_FEED));
    server.route("/gbk.xml", Route::ok("application/xml", gbk_feed()));
    server.route(
        "/etag.xml",
        Route {
            etag: Some("\"v1\"".into()),
            gzip: true,
            ..Route::ok("application/rss+xml", rss(&[("e1", "抚恤金发放进度", "已发放")]))
        },
    );
    server.route("/malformed.xml", Route::ok("application/rss+xml", "<rss><channel><item><title>抚恤金"));
    server.route("/slow.xml", Route { delay: Duration::from_secs(4), ..Route::ok("application/rss+xml", rss(&[])) });
    let big = rss(&[("b1", "抚恤金", &"很长的正文".repeat(8000))]);
    server.route("/big.xml", Route::ok("application/rss+xml", big.clone()));
    server.route("/big-stream.xml", Route { no_length: true, ..Route::ok("application/rss+xml", big) });
    server.route("/error.xml", Route::status(500));
    server.route(
        "/dated.xml",
        Route {
            last_modified: Some("Thu, 26 Nov 2026 01:00:00 GMT".into()),
            ..Route::ok("application/rss+xml", rss(&[("lm1", "烈士陵园修缮", "已完工")]))
        },
    );
    server.route("/loop.xml", Route { headers: vec![("Location".into(), "/loop.xml".into())], ..Route::status(302) });
    let mut sources = String::new();
    for (id, path) in [
        ("rss", "/rss.xml"),
        ("atom", "/atom.xml"),
        ("json", "/feed.json"),
        ("gbk", "/gbk.xml"),
        ("etag", "/etag.xml"),
        ("malformed", "/malformed.xml"),
        ("slow", "/slow.xml"),
        ("big", "/big.xml"),
        ("big-stream", "/big-stream.xml"),
        ("error", "/error.xml"),
        ("dated", "/dated.xml"),
        ("loop", "/loop.xml"),
    ] {
        sources.push_str(&source(id, &server.url(path)));
    }
    (server, sources)
}

#[test]
fn every_format_is_read_and_every_failure_is_isolated_and_reported() {
    let (server, sources) = fixture_server();
    let p = Project::new(&sources, FILE_MAIL);

    let first = p.run(&["run", "--once"]);
    assert_eq!(first.code, Some(0), "{}\n{}", first.stdout, first.stderr);
    let expect_ok = [
        ("rss", "条目 3，新文档 3，命中 3，新提醒 2"),
        ("atom", "条目 2，新文档 2，命中 1，新提醒 1"),
        ("json", "条目 1，新文档 1，命中 2，新提醒 1"),
        ("gbk", "条目 1，新文档 1，命中 2，新提醒 1"),
        ("etag", "条目 1，新文档 1，命中 1，新提醒 1"),
        ("dated", "条目 1，新文档 1，命中 1，新提醒 1"),
    ];
    for (id, counts) in expect_ok {
        let line = first.source_line(id);
        assert!(line.starts_with("[正常]") && line.contains(counts), "{id}: {line}");
    }
    let expect_err = [
        ("malformed", "内容无法解析"),
        ("slow", "抓取超时（超过 2 秒）"),
        ("big", "响应超过大小上限 65536 字节"),
        ("big-stream", "响应超过大小上限 65536 字节"),
        ("error", "服务器返回 HTTP 500"),
        ("loop", "重定向超过 5 次"),
    ];
    for (id, message) in expect_err {
        let line = first.source_line(id);
        assert!(line.starts_with("[错误]") && line.contains(message), "{id}: {line}");
    }
    assert!(first.stdout.contains("新文档 9 篇，命中 10 处，新提醒 7 条，出错信源 6 个"), "{}", first.stdout);
    assert_eq!(eml_files(&p.path().join("outbox")).len(), 7);

    // What was stored: GBK decoded, full-width folded, relative links resolved.
    let store = p.store();
    let hits = store.recent_hits(50).expect("hits");
    let gbk = hits.iter().find(|h| h.source_id == "gbk").expect("gbk hit");
    assert_eq!(gbk.title, "网友：烈士陵园要拆迁？");
    assert_eq!(gbk.terms, vec!["烈士陵园".to_string()]);
    let atom = hits.iter().find(|h| h.source_id == "atom").expect("atom hit");
    assert_eq!(atom.link.as_deref(), Some(server.url("/news/a1.html").as_str()));

    // Politeness: our User-Agent, compression offered.
    let req = &server.requests("/rss.xml")[0];
    assert!(req.headers.get("user-agent").is_some_and(|ua| ua.starts_with("yuqing/")), "{req:?}");
    assert!(req.headers.get("accept-encoding").is_some_and(|ae| ae.contains("gzip") && ae.contains("br")), "{req:?}");

    // A restart: nothing new is stored or alerted; the ETag source answers 304.
    let second = p.run(&["run", "--once"]);
    assert_eq!(second.code, Some(0));
    assert!(second.source_line("etag").starts_with("[未变化]"), "{}", second.stdout);
    assert_eq!(server.requests("/etag.xml")[1].headers.get("if-none-match").map(String::as_str), Some("\"v1\""));
    assert!(second.source_line("dated").starts_with("[未变化]"), "{}", second.stdout);
    let dated = &server.requests("/dated.xml")[1];
    assert_eq!(dated.headers.get("if-modified-since").map(String::as_str), Some("Thu, 26 Nov 2026 01:00:00 GMT"));
    assert!(!dated.headers.contains_key("if-none-match"), "no ETag was given, none must be invented");
    for id in ["rss", "atom", "json", "gbk"] {
        assert!(second.source_line(id).contains("新文档 0，命中 0，新提醒 0"), "{}", second.source_line(id));
    }
    assert_eq!(eml_files(&p.path().join("outbox")).len(), 7);

    let states = p.store().source_states().expect("states");
    let failures = |id: &str| states.iter().find(|s| s.source_id == id).map(|s| s.consecutive_failures);
    assert_eq!(failures("error"), Some(2));
    assert_eq!(failures("slow"), Some(2));
    assert_eq!(failures("rss"), Some(0));
    let error_state = states.iter().find(|s| s.source_id == "error").expect("state");
    assert_eq!(error_state.last_error.as_deref(), Some("服务器返回 HTTP 500"));
    assert!(error_state.last_success_at.is_none());

    // The read side shows it too.
    let status = p.run(&["sources"]);
    assert!(status.stdout.contains("[故障] error（测试信源 error）"), "{}", status.stdout);
    assert!(status.stdout.contains("连续失败：2 次"), "{}", status.stdout);
    let listed = p.run(&["hits", "--limit", "3"]);
    assert_eq!(listed.code, Some(0));
    assert!(listed.stdout.contains("命中："), "{}", listed.stdout);
}

#[test]
fn alert_email_carries_title_source_terms_excerpt_and_link() {
    let server = HttpServer::start();
    server.route(
        "/rss.xml",
        Route::ok("application/rss+xml", rss(&[("m1", "抚恤金迟迟未发放", "网友反映某区抚恤金三个月未到账")])),
    );
    let p = Project::new(&source("forum", &server.url("/rss.xml")), FILE_MAIL);
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let files = eml_files(&p.path().join("outbox"));
    assert_eq!(files.len(), 1);
    let raw = std::fs::read_to_string(&files[0]).expect("eml");
    let subject = support::decode_words(&support::header(&raw, "Subject").expect("subject"));
    assert_eq!(subject, "【舆情提示】抚恤金迟迟未发放");
    assert!(raw.contains("Content-Type: text/html"));
    let text = support::text_part(&raw);
    let published = format!("发布时间：{}（北京时间）", support::published());
    for want in [
        "标题：抚恤金迟迟未发放",
        "信源：测试信源 forum",
        published.as_str(),
        "命中关键词：抚恤金（preferential）",
        "网友反映某区抚恤金三个月未到账",
        "链接：https://example.gov.cn/news/m1.html",
    ] {
        assert!(text.contains(want), "missing {want} in:\n{text}");
    }
}

#[test]
fn bundled_default_config_runs_offline_and_writes_alerts() {
    // The shipped config, with its network source switched off (tests stay on loopback).
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = Project::new("", FILE_MAIL);
    let shipped = std::fs::read_to_string(root.join("sources.toml")).expect("sources.toml");
    let at = shipped.find("url = \"http://www.people.com.cn/rss/politics.xml\"").expect("the shipped network source");
    let offline = format!("{}{}", &shipped[..at], shipped[at..].replacen("enabled = true", "enabled = false", 1));
    p.write("sources.toml", offline);
    // Quiet hours would hold the grade III/IV alerts when the suite runs out of office hours.
    let toml = std::fs::read_to_string(root.join("yuqing.toml")).expect("yuqing.toml");
    assert!(toml.contains("quiet_hours = true"), "the shipped config holds III/IV out of hours");
    p.write("yuqing.toml", toml.replacen("quiet_hours = true", "quiet_hours = false", 1));
    p.write("calendar.toml", std::fs::read_to_string(root.join("calendar.toml")).expect("calendar.toml"));
    copy_tree(&root.join("keywords"), &p, "keywords");
    copy_tree(&root.join("examples"), &p, "examples");
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("[错误]"), "{}", run.stdout);
    let alerts = eml_files(&p.path().join("outbox")).len();
    assert!(alerts >= 10, "only {alerts} alerts:\n{}", run.stdout);
    assert!(run.source_line("city-forum").contains("条目 7，新文档 7"), "{}", run.stdout);
    assert!(run.source_line("bureau-site").contains("条目 3，新文档 3"), "{}", run.stdout);
}

fn copy_tree(from: &std::path::Path, p: &Project, to: &str) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let path = entry.expect("entry").path();
        let rel = format!("{to}/{}", path.file_name().expect("name").to_string_lossy());
        if path.is_dir() {
            copy_tree(&path, p, &rel);
        } else {
            p.write(&rel, std::fs::read(&path).expect("read"));
        }
    }
}

#[test]
fn polite_fetching_per_host_limit_retry_after_and_extra_headers() {
    let server = HttpServer::start();
    let mut sources = String::new();
    for n in 0..6 {
        let path = format!("/slow{n}.xml");
        server.route(&path, Route { delay: Duration::from_millis(300), ..Route::ok("application/rss+xml", rss(&[])) });
        sources.push_str(&source(&format!("s{n}"), &server.url(&path)));
    }
    server.route("/busy.xml", Route { headers: vec![("Retry-After".into(), "120".into())], ..Route::status(429) });
    sources.push_str(&source("busy", &server.url("/busy.xml")));
    server.route("/bridge.xml", Route::ok("application/rss+xml", rss(&[])));
    sources.push_str(&source("bridge", &server.url("/bridge.xml")));
    sources.push_str("headers = { \"Cookie\" = \"sid=abc123\", \"X-Token\" = \"t-1\" }\n");
    let p = Project::new(&sources, FILE_MAIL);
    p.write(
        "yuqing.toml",
        format!("[storage]\npath = \"state/yuqing.db\"\n[fetch]\ntimeout_secs = 5\nper_host_concurrency = 2\n[daemon]\nconcurrency = 8\n{FILE_MAIL}"),
    );

    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(server.max_concurrent() <= 2, "{} requests at once to one host", server.max_concurrent());
    let busy = run.source_line("busy");
    assert!(busy.contains("服务器返回 HTTP 429，要求 120 秒后再试"), "{busy}");
    let bridge = &server.requests("/bridge.xml")[0];
    assert_eq!(bridge.headers.get("cookie").map(String::as_str), Some("sid=abc123"));
    assert_eq!(bridge.headers.get("x-token").map(String::as_str), Some("t-1"));
}

#[test]
fn robots_txt_is_honoured_unless_the_source_opts_out() {
    let server = HttpServer::start();
    server.route("/robots.txt", Route::ok("text/plain", "User-agent: *\nDisallow: /private/\n"));
    for path in ["/private/feed.xml", "/public/feed.xml"] {
        server.route(path, Route::ok("application/rss+xml", rss(&[(path, "抚恤金", "x")])));
    }
    let mut sources = source("private", &server.url("/private/feed.xml"));
    sources.push_str(&source("own-site", &server.url("/private/feed.xml")));
    sources.push_str("robots = false\n\n");
    sources.push_str(&source("public", &server.url("/public/feed.xml")));
    let p = Project::new(&sources, FILE_MAIL);
    let run = p.run(&["run", "--once"]);
    let private = run.source_line("private");
    assert!(private.starts_with("[错误]") && private.contains("robots.txt 不允许抓取 /private/feed.xml"), "{private}");
    assert!(run.source_line("own-site").starts_with("[正常]"), "{}", run.stdout);
    assert!(run.source_line("public").starts_with("[正常]"), "{}", run.stdout);
    assert_eq!(server.requests("/robots.txt").len(), 1, "robots.txt is read once per site and kept");
}

#[test]
fn art7_flags_are_explained_in_the_alert_and_in_hits() {
    let server = HttpServer::start();
    server.route(
        "/forum.xml",
        Route::ok("application/rss+xml", rss(&[("f1", "网传抚恤金以后都不发了", "到底怎么回事？请转发扩散")])),
    );
    let p = Project::new(&source("forum", &server.url("/forum.xml")), FILE_MAIL);
    p.write("keywords/flags/rumour.txt", "网传\n转发扩散\n");
    p.write("keywords/flags/misunderstanding.txt", "以后都不\n");
    p.write("keywords/flags/doubt.txt", "到底\n怎么回事\n");
    p.write("keywords/sentiment/negative.txt", "不发 2\n");
    p.write("keywords/sentiment/degree.txt", "都 1.5\n");
    let run = p.run(&["run", "--once"]);
    assert!(run.source_line("forum").contains("新提醒 1"), "{}\n{}", run.stdout, run.stderr);
    let text = support::text_part(&std::fs::read_to_string(&eml_files(&p.path().join("outbox"))[0]).expect("eml"));
    assert!(
        text.contains(
            "研判提示：疑似谣言（线索：网传、转发扩散）；疑似误解（线索：以后都不）；疑虑（线索：到底、怎么回事）"
        ),
        "{text}"
    );
    assert!(text.contains("负面程度：3.0（都不发）"), "{text}");
    let hits = p.run(&["hits"]);
    assert!(hits.stdout.contains("研判：疑似谣言（线索：网传、转发扩散）"), "{}", hits.stdout);

    p.write("keywords/flags/gossip.txt", "八卦\n");
    p.write("keywords/sentiment/negative.txt", "拖欠 很多\n");
    let check = p.run(&["check"]);
    assert_eq!(check.code, Some(1));
    assert!(check.stdout.contains("gossip.txt") && check.stdout.contains("未知的研判线索列表"), "{}", check.stdout);
    assert!(
        check.stdout.contains("negative.txt:1:") && check.stdout.contains("权重 \"很多\" 不是非负数"),
        "{}",
        check.stdout
    );
}

/// A feed of 2,500 items, read in parts of 1,000 (`extract::FeedBatches`): every item
/// stored once, a link shared by items of different parts not used as an identity, a
/// second poll storing only what is new, and a feed broken in its last part storing
/// nothing (the error as before).
#[test]
fn a_big_feed_is_read_in_parts_with_the_same_documents() {
    let item = |i: usize| {
        // Every 100th item points at the home page; one in 500 is about 抚恤金.
        let link = if i.is_multiple_of(100) {
            "https://example.gov.cn/".to_string()
        } else {
            format!("https://example.gov.cn/n/{i}")
        };
        let title =
            if i % 500 == 7 { format!("第{i}号 抚恤金发放通知") } else { format!("第{i}号 本局动态") };
        format!(
            "<item><title>{title}</title><link>{link}</link><description>正文 {i}</description><pubDate>{}:00</pubDate></item>\n",
            support::published()
        )
    };
    let feed = |n: usize| {
        let items: String = (0..n).map(item).collect();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>大</title>\n{items}</channel></rss>"
        )
    };
    let server = HttpServer::start();
    server.route("/big.xml", Route::ok("application/rss+xml", feed(2500)));
    let broken = feed(2500).replace("<title>第2400号 本局动态</title>", "<title>第2400号 本局动态</titel>");
    server.route("/broken.xml", Route::ok("application/rss+xml", broken));
    let sources = source("big", &server.url("/big.xml")) + &source("broken", &server.url("/broken.xml"));
    let p = Project::new(&sources, FILE_MAIL);
    let config = std::fs::read_to_string(p.path().join("yuqing.toml")).unwrap();
    p.write("yuqing.toml", config.replace("max_body_bytes = 65536", "max_body_bytes = 4194304"));

    let first = p.run(&["run", "--once"]);
    let line = first.source_line("big");
    assert!(line.starts_with("[正常]") && line.contains("条目 2500，新文档 2500，命中 5"), "{line}\n{}", first.stderr);
    let line = first.source_line("broken");
    assert!(line.starts_with("[错误]") && line.contains("内容无法解析"), "{line}");
    let db = rusqlite::Connection::open(p.path().join("state/yuqing.db")).unwrap();
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT count(*) FROM documents WHERE source_id = 'big'"), 2500);
    assert_eq!(count("SELECT count(*) FROM documents WHERE source_id = 'broken'"), 0);
    // 25 items share the home page: none has it as a key; the others have their own.
    assert_eq!(count("SELECT count(*) FROM document_keys WHERE key = 'link:https://example.gov.cn/'"), 0);
    assert_eq!(count("SELECT count(*) FROM document_keys WHERE key LIKE 'link:%'"), 2475);

    server.route("/big.xml", Route::ok("application/rss+xml", feed(2503)));
    let second = p.run(&["run", "--once"]);
    let line = second.source_line("big");
    assert!(line.contains("条目 2503，新文档 3，"), "{line}");
    assert_eq!(count("SELECT count(*) FROM documents WHERE source_id = 'big'"), 2503);
}
