//! Hot reload against the real binary: a source added to sources.toml while the daemon
//! runs is fetched without a restart; a broken sources.toml keeps the daemon running on
//! the old configuration, names file and line in the log and tells the admin once; SIGHUP
//! reloads too; a changed database path is reported as needing a restart, not applied.

mod support;

use std::time::Duration;

use support::{Daemon, FILE_MAIL, HttpServer, Project, Route, rss, source, wait_for};

const LIMIT: Duration = Duration::from_secs(30);

/// A source that runs at start and then not before New Year: only a reload could fetch it again.
fn once(id: &str, url: &str) -> String {
    source(id, url).replacen("[[source]]\n", "[[source]]\nschedule = \"0 3 1 1 *\"\n", 1)
}

fn feed(server: &HttpServer, path: &str) {
    server.route(path, Route::ok("application/rss+xml", rss(&[("g1", "通知", "无关内容")])));
}

#[test]
fn a_new_source_is_fetched_and_a_broken_list_keeps_the_old_one_running() {
    let server = HttpServer::start();
    for path in ["/a.xml", "/b.xml", "/c.xml"] {
        feed(&server, path);
    }
    let p = Project::new(&once("a", &server.url("/a.xml")), FILE_MAIL);
    let mut daemon = Daemon::start(&p);
    wait_for(LIMIT, "source a fetched", || !server.requests("/a.xml").is_empty());
    daemon.wait_log(LIMIT, "source run a: ok", 1);

    // Added while running: fetched without a restart.
    p.write("sources.toml", once("a", &server.url("/a.xml")) + &once("b", &server.url("/b.xml")));
    wait_for(LIMIT, "the added source b fetched", || !server.requests("/b.xml").is_empty());
    daemon.wait_log(LIMIT, "configuration reloaded", 1);
    assert!(daemon.log().contains("added b"), "{}", daemon.log());
    assert_eq!(server.requests("/a.xml").len(), 1, "a keeps its schedule: not fetched again by the reload");

    // Broken (line 4: an unknown kind): logged with file and line, the daemon keeps running.
    let broken = "[[source]]\nid = \"c\"\nname = \"坏信源\"\nkind = \"nonsense\"\nurl = \"http://127.0.0.1:1/\"\n";
    p.write("sources.toml", broken);
    daemon.wait_log(LIMIT, "configuration reload failed", 1);
    let sources = p.path().join("sources.toml");
    let log = daemon.log();
    assert!(log.contains(&format!("{}:4:", sources.display())), "file and line in:\n{log}");
    assert!(log.contains("still running on the previous configuration"), "{log}");
    assert!(daemon.running());
    // One notice to the admin per broken episode, not per retry.
    let outbox = p.path().join("outbox");
    wait_for(LIMIT, "the config notice mailed", || !support::eml_files(&outbox).is_empty());
    p.write("sources.toml", format!("{broken}\n# still broken\n"));
    daemon.wait_log(LIMIT, "configuration reload failed", 2);
    let notices = || {
        support::eml_files(&outbox)
            .iter()
            .filter(|f| {
                let mail = std::fs::read_to_string(f).expect("eml");
                support::decode_words(&support::header(&mail, "Subject").unwrap_or_default()).contains("【配置错误】")
            })
            .count()
    };
    assert_eq!(notices(), 1, "{}", daemon.log());
    assert!(daemon.log().contains("configuration error notice queued"), "{}", daemon.log());
    assert_eq!(daemon.log().matches("configuration error notice queued").count(), 1);
    assert!(server.requests("/c.xml").is_empty());

    // Fixed: applied, and the removed sources are no longer scheduled.
    p.write("sources.toml", source("c", &server.url("/c.xml")));
    wait_for(LIMIT, "source c fetched after the fix", || !server.requests("/c.xml").is_empty());
    daemon.wait_log(LIMIT, "configuration reloaded", 2);
    assert!(daemon.log().contains("removed a,b"), "{}", daemon.log());
    assert!(daemon.running());
}

#[test]
fn sighup_reloads_and_a_new_database_path_waits_for_a_restart() {
    let server = HttpServer::start();
    feed(&server, "/a.xml");
    let p = Project::new(&source("a", &server.url("/a.xml")), "");
    let mut daemon = Daemon::start(&p);
    daemon.wait_log(LIMIT, "source run a: ok", 1);

    // SIGHUP's default action would end the process; the daemon reloads instead.
    daemon.signal("HUP");
    daemon.wait_log(LIMIT, "SIGHUP received", 1);
    daemon.wait_log(LIMIT, "configuration reloaded", 1);
    assert!(daemon.running());

    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    p.write("yuqing.toml", toml.replace("state/yuqing.db", "state/other.db"));
    daemon.wait_log(LIMIT, "needs a restart", 1);
    daemon.wait_log(LIMIT, "configuration reloaded", 2);
    let log = daemon.log();
    assert!(log.contains("[storage] path") && log.contains("需要重启才能生效"), "{log}");
    assert!(!p.path().join("state/other.db").exists(), "the running daemon did not switch databases");
    daemon.signal("HUP");
    daemon.wait_log(LIMIT, "configuration reloaded", 3);
    assert!(daemon.running());
}
