//! Operations, with the real binary: the systemd notify protocol on a fake `NOTIFY_SOCKET`
//! (READY, STATUS, watchdog pings, STOPPING), SIGTERM in the middle of a cycle, `yuqing
//! status`, `yuqing db backup` while another connection writes, `yuqing db check` on a sound
//! and on a damaged file, and the unit file through `systemd-analyze verify` when present.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use support::{HttpServer, Project, Route, free_port, smtp_mail, source, wait_for};

/// Texts that each hit the test keywords and share too little to be one event.
const STORIES: [&str; 6] = [
    "抚恤金迟迟不到账，家属多次反映",
    "优抚对象医疗补助标准调整引发讨论",
    "烈士陵园修缮工程进度受到网友关注",
    "去年的抚恤金名单公示有误被指出",
    "优抚对象住房困难问题在论坛反映强烈",
    "清明节前烈士陵园祭扫预约系统故障",
];

/// An RSS feed with `n` matching items, each its own story (so each gives one alert).
fn matching_items(prefix: &str, skip: usize, n: usize) -> String {
    let items: Vec<(String, String)> =
        (skip..skip + n).map(|i| (format!("{prefix}-{i}"), STORIES[i % STORIES.len()].to_string())).collect();
    let refs: Vec<(&str, &str, &str)> = items.iter().map(|(g, t)| (g.as_str(), t.as_str(), t.as_str())).collect();
    support::rss(&refs)
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(ok.success());
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "daemon did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Receives datagrams into `seen` until one of them satisfies `done`.
fn receive_until(
    socket: &UnixDatagram,
    what: &str,
    limit: Duration,
    seen: &mut Vec<String>,
    done: impl Fn(&str) -> bool,
) {
    let deadline = Instant::now() + limit;
    let mut buf = vec![0u8; 4096];
    while !seen.iter().any(|m| done(m)) {
        assert!(Instant::now() < deadline, "no {what} from the daemon; got {seen:?}");
        if let Ok(n) = socket.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
}

fn has_line(message: &str, line: &str) -> bool {
    message.lines().any(|l| l == line)
}

#[test]
fn notify_socket_gets_ready_status_watchdog_and_stopping() {
    let server = HttpServer::start();
    server.route("/rss.xml", Route::ok("application/rss+xml", matching_items("n", 0, 2)));
    let p = Project::new(&source("news", &server.url("/rss.xml")), support::FILE_MAIL);
    let socket_path = p.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind notify socket");
    socket.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");

    let mut daemon = p
        .command()
        .arg("run")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "400000")
        .env_remove("WATCHDOG_PID")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut seen = Vec::new();
    receive_until(&socket, "READY=1", Duration::from_secs(20), &mut seen, |m| has_line(m, "READY=1"));
    let ready = seen.iter().position(|m| has_line(m, "READY=1")).expect("ready");
    assert!(
        seen[ready].lines().any(|l| l.starts_with("STATUS=") && l.contains("个信源正常")),
        "READY comes with a status line: {seen:?}"
    );
    receive_until(&socket, "WATCHDOG=1", Duration::from_secs(20), &mut seen, |m| has_line(m, "WATCHDOG=1"));
    // Once the source has run, the status line says so.
    receive_until(&socket, "a status after the first run", Duration::from_secs(60), &mut seen, |m| {
        m.contains("STATUS=1/1 个信源正常，上次抓取")
    });

    // SIGHUP (systemctl reload) never ends the daemon: killed by it, it would neither say
    // STOPPING=1 nor exit 0.
    let hup = Command::new("kill").args(["-HUP", &daemon.id().to_string()]).status().expect("kill");
    assert!(hup.success());

    sigterm(&daemon);
    receive_until(&socket, "STOPPING=1", Duration::from_secs(20), &mut seen, |m| has_line(m, "STOPPING=1"));
    let status = wait_exit(&mut daemon, Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    let stopping = seen.iter().position(|m| has_line(m, "STOPPING=1")).expect("stopping");
    assert!(stopping > ready);
}

#[test]
fn sigterm_mid_cycle_loses_no_document_and_no_pending_alert() {
    let server = HttpServer::start();
    server.route("/fast.xml", Route::ok("application/rss+xml", matching_items("fast", 0, 3)));
    let slow =
        Route { delay: Duration::from_secs(1), ..Route::ok("application/rss+xml", matching_items("slow", 3, 2)) };
    server.route("/slow.xml", slow);
    // (The test config times fetches out after 2 s.) SMTP is down: every alert stays pending.
    let sources = [source("fast", &server.url("/fast.xml")), source("slow", &server.url("/slow.xml"))].concat();
    let p = Project::new(&sources, &smtp_mail(free_port()));

    let mut daemon = p.spawn_daemon();
    wait_for(Duration::from_secs(20), "the fast source stored and the slow one in flight", || {
        !server.requests("/slow.xml").is_empty() && p.store().outbox_status().is_ok_and(|s| s.pending == 3)
    });
    sigterm(&daemon);
    let status = wait_exit(&mut daemon, Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
    let output = daemon.wait_with_output().expect("output");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("waiting for running sources to finish"), "SIGTERM came mid-cycle:\n{log}");

    // Everything fetched is stored, and every alert is still waiting to be sent.
    let store = p.store();
    assert_eq!(store.outbox_status().expect("outbox").pending, 5, "{log}");
    let states = store.source_states().expect("states");
    assert_eq!(states.iter().map(|s| s.documents).sum::<u64>(), 5, "{states:?}");

    // Fetching both again after the restart neither loses nor duplicates anything.
    let again = p.run(&["run", "--once"]);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.stdout.contains("新文档 0 篇"), "{}", again.stdout);
    let store = p.store();
    assert_eq!(store.outbox_status().expect("outbox").pending, 5);
    assert_eq!(store.source_states().expect("states").iter().map(|s| s.documents).sum::<u64>(), 5);
}

#[test]
fn status_reads_sources_events_outbox_and_disk() {
    let server = HttpServer::start();
    server.route("/ok.xml", Route::ok("application/rss+xml", matching_items("ok", 0, 2)));
    server.route("/broken.xml", Route::status(500));
    let sources = [source("ok", &server.url("/ok.xml")), source("broken", &server.url("/broken.xml"))].concat();
    let p = Project::new(&sources, &smtp_mail(free_port()));

    let before = p.run(&["status"]);
    assert_eq!(before.code, Some(0), "{}", before.stderr);
    assert!(before.stdout.contains("尚未建立"), "{}", before.stdout);
    assert!(!p.path().join("state/yuqing.db").exists(), "status creates no database");

    let once = p.run(&["run", "--once"]);
    assert_eq!(once.code, Some(0), "{}", once.stderr);
    let status = p.run(&["status"]);
    assert_eq!(status.code, Some(0), "{}", status.stderr);
    let out = &status.stdout;
    assert!(out.contains("信源：启用 2 个，正常 1 个，故障 1 个"), "{out}");
    assert!(out.contains("故障：连续失败 1 次"), "{out}");
    assert!(out.contains("HTTP 500"), "{out}");
    assert!(out.contains("发件箱：2 条待发送，其中 2 条发送失败待重试，最早一条已等待"), "{out}");
    assert!(out.contains("未办结事件："), "{out}");
    assert!(out.contains("超时未完成的时限：0 个"), "{out}");
    assert!(out.contains("磁盘可用"), "{out}");
    assert!(out.contains("数据保留：文档 180 天，事件与处置记录 730 天"), "{out}");
    let next = out.lines().find(|l| l.contains("ok（")).expect("the ok source's line");
    assert!(next.contains("下次抓取：20"), "a next due time: {next}");
}

#[test]
fn backup_while_writing_then_check_sound_and_damaged_files() {
    let server = HttpServer::start();
    server.route("/rss.xml", Route::ok("application/rss+xml", matching_items("b", 0, 3)));
    let p = Project::new(&source("news", &server.url("/rss.xml")), support::FILE_MAIL);
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));

    // Another connection writes while the backup runs.
    let db = p.path().join("state/yuqing.db");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut store = yuqing::store::Store::open(&db).expect("open");
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                store.record_failure("other", &format!("write {n}"), chrono::Utc::now()).expect("write");
                n += 1;
            }
            n
        })
    };
    let target = p.path().join("backup.db");
    let backup = p.run(&["db", "backup", target.to_str().expect("utf-8 path")]);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let writes = writer.join().expect("writer");
    assert_eq!(backup.code, Some(0), "{}\n{}", backup.stdout, backup.stderr);
    assert!(backup.stdout.contains("备份完成"), "{}", backup.stdout);
    assert!(writes > 0);
    let copy = yuqing::store::Store::open(&target).expect("open backup");
    let states = copy.source_states().expect("states");
    assert_eq!(states.iter().find(|s| s.source_id == "news").map(|s| s.documents), Some(3));
    assert_eq!(copy.outbox_status().expect("outbox").pending, 0);
    drop(copy);

    let again = p.run(&["db", "backup", target.to_str().expect("utf-8 path")]);
    assert_eq!(again.code, Some(1), "an existing file is never overwritten");
    assert!(again.stderr.contains("已存在"), "{}", again.stderr);

    let check = p.run(&["db", "check"]);
    assert_eq!(check.code, Some(0), "{}{}", check.stdout, check.stderr);
    assert!(check.stdout.contains("完整性检查通过"), "{}", check.stdout);

    // Damage a copy: overwrite everything after the first two pages with garbage.
    let damaged = p.path().join("damaged.db");
    let mut bytes = std::fs::read(&target).expect("read backup");
    assert!(bytes.len() > 3 * 4096, "the copy has several pages");
    for (i, b) in bytes.iter_mut().enumerate().skip(2 * 4096) {
        *b = (i * 7 % 251) as u8;
    }
    std::fs::write(&damaged, bytes).expect("write damaged copy");
    let check = p.run(&["db", "check", "--file", damaged.to_str().expect("utf-8 path")]);
    assert_eq!(check.code, Some(1), "{}{}", check.stdout, check.stderr);
    assert!(check.stdout.contains("已损坏"), "{}", check.stdout);
}

#[test]
fn unit_file_passes_systemd_analyze_verify() {
    let unit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/yuqing.service");
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("note: systemd-analyze not installed; unit file not verified");
        return;
    };
    assert!(version.status.success());
    // `verify` checks that ExecStart= binaries exist: point them at the one just built.
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(&unit).expect("read unit");
    let text = text.replace("/usr/bin/yuqing", env!("CARGO_BIN_EXE_yuqing"));
    let copy = dir.path().join("yuqing.service");
    std::fs::write(&copy, text).expect("write unit");
    let out = Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&copy).output().expect("verify");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Without a running systemd (containers, CI) verify still parses the unit; only
    // complaints about this unit's own lines count.
    let problems: Vec<&str> = stderr.lines().filter(|l| l.contains("yuqing.service")).collect();
    assert!(problems.is_empty(), "systemd-analyze verify:\n{stderr}");
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&copy)
        .output()
        .expect("security");
    let report = String::from_utf8_lossy(&security.stdout);
    if let Some(line) = report.lines().find(|l| l.contains("Overall exposure level")) {
        let level: f64 =
            line.split_whitespace().find_map(|w| w.parse().ok()).unwrap_or_else(|| panic!("no figure in {line}"));
        assert!(level <= 2.0, "exposure {level} > 2.0:\n{report}");
    } else {
        eprintln!("note: this systemd-analyze cannot score offline:\n{}", String::from_utf8_lossy(&security.stderr));
    }
}

/// A backup that cannot be written says why in Chinese first, SQLite's words after.
#[test]
fn a_backup_into_a_missing_folder_is_explained_in_chinese() {
    let p = Project::new("", support::FILE_MAIL);
    drop(p.store());
    let target = p.path().join("no-such-folder/backup.db");
    let run = p.run(&["db", "backup", target.to_str().expect("utf-8 path")]);
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("备份失败：无法打开或创建数据库文件：请检查路径所在目录是否存在、是否可写（SQLite："),
        "{}",
        run.stderr
    );
    assert!(!target.exists());
}
