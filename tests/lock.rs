//! One daemon per database: a second `yuqing run` is refused with the first one's PID, in
//! Chinese; `run --once` and the read-only commands work beside the daemon, and what
//! `run --once` queues is delivered once, by the daemon; a killed daemon's lock does not
//! block the next one.

mod support;

use std::time::Duration;

use support::{Daemon, FILE_MAIL, Project, eml_files, rss, source, wait_for};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn a_second_daemon_is_refused_and_run_once_leaves_delivery_to_the_first() {
    let p = Project::new(&source("forum", "forum.xml"), FILE_MAIL);
    p.write("forum.xml", rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账")]));
    let mut daemon = Daemon::start(&p);
    daemon.wait_log(LIMIT, "daemon started", 1);
    let outbox = p.path().join("outbox");
    wait_for(LIMIT, "the first alert", || eml_files(&outbox).len() == 1);

    let second = p.run(&["run"]);
    assert_eq!(second.code, Some(2), "{}\n{}", second.stdout, second.stderr);
    let pid = daemon.child.id().to_string();
    assert!(second.stderr.contains(&format!("另一个 yuqing 守护进程（PID {pid}）")), "{}", second.stderr);
    assert!(daemon.running(), "the first daemon goes on");

    // Beside the daemon: read-only commands, and a run --once whose alert the daemon sends.
    assert_eq!(p.run(&["sources"]).code, Some(0));
    assert_eq!(p.run(&["hits"]).code, Some(0));
    p.write(
        "forum.xml",
        rss(&[
            ("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账"),
            ("f2", "烈士陵园要拆？", "网传烈士陵园要拆迁"),
        ]),
    );
    p.write("keywords/preferential.txt", format!("{}烈士陵园\n", support::KEYWORDS));
    let once = p.run(&["run", "--once"]);
    assert_eq!(once.code, Some(0), "{}\n{}", once.stdout, once.stderr);
    assert!(once.stdout.contains(&format!("守护进程（PID {pid}）正在运行")), "{}", once.stdout);
    wait_for(Duration::from_secs(90), "the daemon to deliver run --once's alert", || eml_files(&outbox).len() >= 2);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(eml_files(&outbox).len(), 2, "each alert once");
    assert!(p.store().outbox_rows(yuqing::store::OutboxFilter::Pending, 10).expect("outbox").is_empty());

    // Killed: the kernel frees the lock, and the next daemon starts.
    daemon.signal("KILL");
    let _ = daemon.child.wait();
    let mut next = Daemon::start(&p);
    next.wait_log(LIMIT, "daemon started", 1);
    assert!(next.running());
}

/// What stops the daemon is said in Chinese first, the system's words after: a port taken by
/// another program.
#[test]
fn a_taken_http_port_is_explained_in_chinese() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let p = Project::new(&source("forum", "forum.xml"), FILE_MAIL);
    p.write("forum.xml", rss(&[]));
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    p.write("yuqing.toml", format!("{toml}\n[http]\nlisten = \"127.0.0.1:{port}\"\n"));
    let run = p.run(&["run"]);
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    let line = run.stderr.lines().find(|l| l.starts_with("错误：")).unwrap_or_default();
    assert!(
        line.contains(&format!("无法在 127.0.0.1:{port} 上提供 HTTP 服务（[http] listen）：地址已被占用")),
        "{}",
        run.stderr
    );
    drop(taken);
}
