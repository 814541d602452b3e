//! Source health: one notice to the admin when a source keeps failing, one when it
//! recovers, one when it goes silent — never a mail per failed poll.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::{HttpServer, Project, Route, eml_files, header, rss, source};

const MAIL_WITH_ADMIN: &str = "[mail]\ntransport = \"file\"\noutbox_dir = \"outbox\"\nfrom = \"yuqing@example.gov.cn\"\nto = [\"gkb@example.gov.cn\"]\nadmin = [\"admin@example.gov.cn\"]\n";

fn subjects(p: &Project) -> Vec<String> {
    eml_files(&p.path().join("outbox"))
        .iter()
        .map(|f| support::decode_words(&header(&std::fs::read_to_string(f).expect("eml"), "Subject").expect("subject")))
        .collect()
}

#[test]
fn a_failing_source_gives_one_notice_and_one_recovery() {
    let server = HttpServer::start();
    server.route("/feed.xml", Route::status(500));
    let p = Project::new(&source("site", &server.url("/feed.xml")), MAIL_WITH_ADMIN);
    for _ in 0..2 {
        p.run(&["run", "--once"]);
    }
    assert!(subjects(&p).is_empty(), "no notice before the third failure");
    for _ in 0..3 {
        p.run(&["run", "--once"]);
    }
    assert_eq!(subjects(&p), vec!["【信源故障】测试信源 site 已连续 3 次抓取失败".to_string()]);
    let notice = std::fs::read_to_string(&eml_files(&p.path().join("outbox"))[0]).expect("eml");
    assert_eq!(header(&notice, "To").as_deref(), Some("admin@example.gov.cn"));
    assert!(support::text_part(&notice).contains("最近错误：服务器返回 HTTP 500"));

    server.route("/feed.xml", Route::ok("application/rss+xml", rss(&[("a", "正常新闻", "内容")])));
    p.run(&["run", "--once"]);
    p.run(&["run", "--once"]);
    assert_eq!(subjects(&p).len(), 2);
    assert_eq!(subjects(&p)[1], "【信源恢复】测试信源 site 已恢复正常");
}

#[test]
fn a_silent_source_gives_one_notice() {
    let server = HttpServer::start();
    server.route("/feed.xml", Route::ok("application/rss+xml", rss(&[("a", "正常新闻", "内容")])));
    let sources = format!("{}max_silence = \"1s\"\n", source("quiet", &server.url("/feed.xml")));
    let p = Project::new(&sources, MAIL_WITH_ADMIN);
    p.run(&["run", "--once"]);
    assert!(subjects(&p).is_empty(), "new documents: not silent");
    std::thread::sleep(Duration::from_millis(2100));
    p.run(&["run", "--once"]);
    p.run(&["run", "--once"]);
    assert_eq!(subjects(&p), vec!["【信源沉寂】测试信源 quiet 长时间没有新内容".to_string()]);
}

#[test]
fn bad_health_settings_are_config_errors() {
    let sources = format!("{}max_silence = \"3 weeks\"\n", source("a", "feed.xml"));
    let p = Project::new(&sources, &MAIL_WITH_ADMIN.replace("admin@example.gov.cn", "not-an-address"));
    p.write("feed.xml", rss(&[]));
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stdout.contains("sources.toml:7:") && run.stdout.contains("max_silence \"3 weeks\" 无效"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("邮件地址 \"not-an-address\" 无效"), "{}", run.stdout);
}

/// A connection failure is explained in Chinese first, the HTTP client's words after, in
/// `run --once` and in `yuqing sources`.
#[test]
fn a_refused_connection_is_explained_in_chinese() {
    let url = format!("http://127.0.0.1:{}/feed.xml", support::free_port());
    let p = Project::new(&source("closed", &url), MAIL_WITH_ADMIN);
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let line = run.source_line("closed");
    assert!(
        line.contains("[错误] closed（测试信源 closed）：无法连接：对方拒绝连接，服务器的端口未开放或服务未运行（"),
        "{line}"
    );
    assert!(line.to_ascii_lowercase().contains("connection refused"), "the client's own words follow: {line}");
    let sources = p.run(&["sources"]);
    assert!(sources.stdout.contains("：无法连接：对方拒绝连接"), "{}", sources.stdout);
}
