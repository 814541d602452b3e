//! Several daemons on one PostgreSQL database (issue 19): the real `yuqing` binary with
//! `[storage] url`, a feed corpus on a loopback HTTP server, a real SMTP sink (aiosmtpd)
//! and a real PostgreSQL (scripts/pg.sh; skipped with a message where it is not
//! installed). What must hold: every document is stored once whatever instance fetched
//! it, every alert reaches the sink (one Message-ID per alert: a resend after a kill
//! between the server's 250 and the commit keeps its Message-ID, so it is seen as the same
//! message), and killing instances with SIGKILL at random moments loses nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use support::pg::{cluster, connect, database};
use support::{Daemon, HttpServer, Project, Route, SmtpServer, free_port, header, smtp_mail};

/// Distinct stories (so they make distinct events), each about a keyword of the list.
const PLACES: [&str; 10] =
    ["临江市", "东岭县", "南湖区", "西山镇", "北塘乡", "青石街道", "白沙村", "红旗社区", "金水县", "石门区"];
const MATTERS: [&str; 6] = [
    "抚恤金发放延迟三个月，老兵家属多次反映无人答复",
    "烈士陵园围墙倒塌，祭扫通道被封闭",
    "优抚对象体检名单漏报，部分老兵未能参加",
    "抚恤金标准调整后仍按旧标准发放，差额未补",
    "烈士陵园管理处被指收取停车费",
    "优抚对象医疗补助报销窗口长期无人值守",
];

/// Source `i`'s items of round `round`: `(guid, title, text)`; every second item matches.
fn items(i: usize, round: usize) -> Vec<(String, String, String)> {
    (0..4)
        .map(|j| {
            let guid = format!("s{i}-r{round}-{j}");
            let place = PLACES[(i + j) % PLACES.len()];
            if j % 2 == 0 {
                let matter = MATTERS[(i * 4 + j + round * 3) % MATTERS.len()];
                (
                    guid.clone(),
                    format!("{place}{matter}（{guid}）"),
                    format!("{place}群众反映：{matter}。编号 {guid}。"),
                )
            } else {
                (
                    guid.clone(),
                    format!("{place}文明城市创建工作推进会召开（{guid}）"),
                    format!("会议部署了下一阶段工作。编号 {guid}。"),
                )
            }
        })
        .collect()
}

fn feed(i: usize, rounds: usize) -> String {
    let all: Vec<(String, String, String)> = (0..rounds).flat_map(|r| items(i, r)).collect();
    support::feed_linked(&format!("https://example.gov.cn/{i}/"), &all)
}

fn sources(server: &HttpServer, n: usize, schedule: &str) -> String {
    (0..n)
        .map(|i| {
            format!(
                "[[source]]\nid = \"s{i}\"\nname = \"测试信源 {i}\"\nkind = \"feed\"\nurl = \"{}\"\nschedule = \"{schedule}\"\n\n",
                server.url(&format!("/feed/{i}.xml"))
            )
        })
        .collect()
}

/// A project on PostgreSQL `url` with `n` sources on `server` and mail to `smtp_port`.
fn project(server: &HttpServer, n: usize, schedule: &str, url: &str, smtp_port: u16) -> Project {
    let p = Project::new(&sources(server, n, schedule), &smtp_mail(smtp_port));
    p.write(
        "yuqing.toml",
        format!(
            "timezone = \"Asia/Shanghai\"\n[storage]\nurl = \"{url}\"\n[fetch]\ntimeout_secs = 2\nconnect_timeout_secs = 2\nmax_body_bytes = 65536\n[daemon]\nconcurrency = 4\n{}",
            smtp_mail(smtp_port)
        ),
    );
    p
}

fn count(url: &str, sql: &str) -> i64 {
    connect(url).query_one(sql, &[]).expect("count").get(0)
}

/// Message-ID → how many times the sink received it.
fn received(smtp: &SmtpServer) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for m in smtp.messages() {
        let id = header(&m, "Message-ID").expect("every message has a Message-ID");
        *out.entry(id).or_default() += 1;
    }
    out
}

/// The Message-IDs the store says it sent (`alerts.status = 'sent'`, one per alert; a
/// digest of several alerts carries its first alert's).
fn sent_alerts(url: &str) -> i64 {
    count(url, "SELECT count(*) FROM alerts WHERE status = 'sent'")
}

/// No event holds two different stories: instances that gave two stories one event id
/// would have merged them (the event upsert), the failure ids from the database prevent.
fn one_story_per_event(url: &str) {
    let rows = connect(url)
        .query("SELECT e.event_id, d.title FROM event_documents e JOIN documents d ON d.id = e.document_id", &[])
        .expect("event documents");
    let mut matters: BTreeMap<i64, HashSet<usize>> = BTreeMap::new();
    for row in rows {
        let (event, title): (i64, String) = (row.get(0), row.get(1));
        let matter = MATTERS.iter().position(|m| title.contains(m)).expect("a matched title names its matter");
        matters.entry(event).or_default().insert(matter);
    }
    let mixed: Vec<_> = matters.iter().filter(|(_, m)| m.len() > 1).collect();
    assert!(mixed.is_empty(), "events holding two stories: {mixed:?}");
}

/// Two `run --once` started together on one empty database over the same 12 sources:
/// each document is stored once, each alert sent once, whichever process fetched it.
#[test]
fn two_runs_at_once_store_and_send_everything_once() {
    let Some(cluster) = cluster() else { return };
    let url = database(&cluster);
    let server = HttpServer::start();
    let n = 12;
    for i in 0..n {
        server.route(&format!("/feed/{i}.xml"), Route::ok("application/rss+xml", feed(i, 1)));
    }
    let maildir = tempfile::tempdir().expect("maildir");
    let smtp = SmtpServer::start(free_port(), maildir.path());
    let a = project(&server, n, "0 8 * * *", &url, smtp.port);
    let b = project(&server, n, "0 8 * * *", &url, smtp.port);
    let spawn = |p: &Project| {
        p.command()
            .args(["run", "--once"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run --once")
    };
    let (ca, cb) = (spawn(&a), spawn(&b));
    let (ra, rb) = (ca.wait_with_output().expect("run a"), cb.wait_with_output().expect("run b"));
    for (name, r) in [("a", &ra), ("b", &rb)] {
        assert!(
            r.status.success(),
            "{name}: {}\n{}",
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&r.stderr)
        );
    }
    let expected = i64::try_from(n * 4).expect("n");
    assert_eq!(count(&url, "SELECT count(*) FROM documents"), expected, "every item stored once");
    assert_eq!(count(&url, "SELECT count(DISTINCT title) FROM documents"), expected, "no item twice");
    let matched = count(&url, "SELECT count(DISTINCT document_id) FROM hits");
    assert_eq!(matched, expected / 2, "every second item matched");
    let events = count(&url, "SELECT count(*) FROM events");
    assert!(events >= 6, "distinct stories make distinct events: {events}");
    one_story_per_event(&url);
    // Everything queued went out, once.
    support::wait_for(Duration::from_secs(30), "the sink to receive every sent alert", || {
        usize::try_from(sent_alerts(&url)).expect("n") == received(&smtp).len()
    });
    assert_eq!(count(&url, "SELECT count(*) FROM alerts WHERE status <> 'sent'"), 0, "nothing left pending");
    let got = received(&smtp);
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "no alert sent twice: {twice:?}");
    assert!(!got.is_empty());
}

/// Three daemons on one database, each source due every minute, new items every round;
/// instances are killed with SIGKILL at random moments and started again. Every document
/// ends up stored once, every alert reaches the sink, and nothing stays pending.
#[test]
fn daemons_killed_at_random_moments_lose_nothing_and_duplicate_nothing() {
    let Some(cluster) = cluster() else { return };
    let url = database(&cluster);
    let server = HttpServer::start();
    let n = 24;
    let rounds = 2;
    for i in 0..n {
        server.route(&format!("/feed/{i}.xml"), Route::ok("application/rss+xml", feed(i, 1)));
    }
    let maildir = tempfile::tempdir().expect("maildir");
    let smtp = SmtpServer::start(free_port(), maildir.path());
    let projects: Vec<Project> = (0..3).map(|_| project(&server, n, "* * * * *", &url, smtp.port)).collect();
    let mut daemons: Vec<Daemon> = projects.iter().map(Daemon::start).collect();
    let first_minute = chrono::Utc::now().timestamp() / 60;
    let mut rng = Lcg(u64::from(std::process::id()) ^ 0x9e37_79b9);
    let mut kills = Vec::new();
    let started = Instant::now();
    for round in 0..rounds {
        if round > 0 {
            // The next round's items appear for the next minute's runs.
            for i in 0..n {
                server.route(&format!("/feed/{i}.xml"), Route::ok("application/rss+xml", feed(i, round + 1)));
            }
        }
        // Kill one instance at a random moment of the round's first seconds (fetching,
        // committing or sending), then start it again.
        let victim = rng.below(3);
        std::thread::sleep(Duration::from_millis(200 + rng.below(2500) as u64));
        daemons[victim].signal("KILL");
        let _ = daemons[victim].child.wait();
        kills.push((round, victim, started.elapsed()));
        std::thread::sleep(Duration::from_millis(500));
        daemons[victim] = Daemon::start(&projects[victim]);
        if round + 1 < rounds {
            // Until the next minute's slot has begun.
            let now = chrono::Utc::now().timestamp();
            let next_minute = (now / 60 + 1) * 60;
            std::thread::sleep(Duration::from_secs(u64::try_from(next_minute - now).unwrap_or(1) + 1));
        }
    }
    let expected = i64::try_from(n * 4 * rounds).expect("n");
    // Well inside the outbox lease (300 s): a killed instance's claims are freed when it
    // restarts (`release_dead_holders`), and a live one leaves none unsent (once in seven runs
    // one did, for the lease: a lower id committed after a higher one was claimed, fixed in
    // `deliver::Delivery::round`; tests/postgres.rs has the regression test).
    let deadline = Duration::from_secs(150);
    // An update about an event already alerted is spaced after its last message
    // (`store::outbox`): pending until then, not lost.
    // (By this process's clock, which the daemons share: the server's may differ.)
    let overdue = || {
        format!(
            "SELECT count(*) FROM alerts WHERE status <> 'sent' AND next_attempt_at <= {}",
            chrono::Utc::now().timestamp() - 10
        )
    };
    let settled = || {
        count(&url, "SELECT count(*) FROM documents") == expected
            && count(&url, &overdue()) == 0
            && usize::try_from(sent_alerts(&url)).expect("n") == received(&smtp).len()
    };
    let begin = Instant::now();
    while !settled() {
        for d in &mut daemons {
            assert!(d.running(), "a daemon exited:\n{}", d.log());
        }
        assert!(
            begin.elapsed() < deadline,
            "not settled after {deadline:?} (kills {kills:?}): {} of {expected} documents, {} alerts overdue, {} sent, {} received\n{}",
            count(&url, "SELECT count(*) FROM documents"),
            count(&url, &overdue()),
            sent_alerts(&url),
            received(&smtp).len(),
            daemons.iter().map(|d| d.log()).collect::<Vec<_>>().join("\n----\n")
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(count(&url, "SELECT count(DISTINCT title) FROM documents"), expected, "no item twice");
    assert_eq!(count(&url, "SELECT count(DISTINCT document_id) FROM hits"), expected / 2, "every matched item");
    assert_eq!(
        count(&url, "SELECT count(DISTINCT document_id) FROM event_documents"),
        expected / 2,
        "every matched document belongs to an event"
    );
    one_story_per_event(&url);
    // A resend keeps its Message-ID: the ones received more than once can only be alerts
    // a killed instance was sending when it died (at most one batch of its connections).
    let got = received(&smtp);
    let resent: Vec<_> = got.iter().filter(|(_, n)| **n > 1).map(|(id, n)| format!("{id}×{n}")).collect();
    eprintln!(
        "kills {kills:?}; {} documents, {} alerts sent, {} messages received ({} resent after a kill)",
        expected,
        got.len(),
        got.values().sum::<usize>(),
        resent.len()
    );
    assert!(resent.len() <= 4 * kills.len(), "resent only what a killed instance had in flight: {resent:?}");
    // The work was shared, not repeated: each feed was fetched about once per minute slot
    // (three instances without leases fetch it three times). A killed instance's runs in
    // flight may be run again by the instance that takes its slot over.
    let minutes = u64::try_from(chrono::Utc::now().timestamp() / 60 - first_minute + 1).expect("minutes");
    let gets: usize = (0..n).map(|i| server.requests(&format!("/feed/{i}.xml")).len()).sum();
    eprintln!("{gets} feed requests over {minutes} minute slots of {n} feeds");
    let waiting: Vec<String> = connect(&url)
        .query(
            &format!(
                "SELECT coalesce(held, '-') || ' due in ' || CAST(next_attempt_at - {} AS TEXT) || ' s'
                 FROM alerts WHERE status = 'pending' ORDER BY id",
                chrono::Utc::now().timestamp()
            ),
            &[],
        )
        .expect("pending")
        .iter()
        .map(|r| r.get(0))
        .collect();
    eprintln!("still waiting (spaced updates): {waiting:?}");
    assert!(waiting.iter().all(|w| w.starts_with("rate")), "only spaced updates wait: {waiting:?}");
    let bound = n * usize::try_from(minutes).expect("minutes") + n * kills.len();
    assert!(gets <= bound, "{gets} feed requests: more than one per source and slot (bound {bound})");
}

/// A run that outlasts its lease keeps it: the daemon renews the lease every third of it
/// (`[storage] lease_secs = 6`) while the run lasts, so a second instance started after the
/// lease would have run out is refused the slot and the feed is fetched once. Without the
/// renewal the second instance takes the expired lease over and fetches it again.
#[test]
fn a_run_longer_than_its_lease_renews_it_and_is_not_run_twice() {
    let Some(cluster) = cluster() else { return };
    let url = database(&cluster);
    let server = HttpServer::start();
    // Slower than the lease: the answer comes after 12 s.
    server
        .route("/feed/0.xml", Route { delay: Duration::from_secs(12), ..Route::ok("application/rss+xml", feed(0, 1)) });
    let maildir = tempfile::tempdir().expect("maildir");
    let smtp = SmtpServer::start(free_port(), maildir.path());
    // Due once a year: both instances name the same slot (the latest scheduled time), and
    // no later slot comes during the test.
    let projects: Vec<Project> = (0..2).map(|_| project(&server, 1, "0 0 1 1 *", &url, smtp.port)).collect();
    for p in &projects {
        let settings = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("read");
        p.write(
            "yuqing.toml",
            settings
                .replace("[storage]\n", "[storage]\nlease_secs = 6\n")
                .replace("timeout_secs = 2\n", "timeout_secs = 30\n"),
        );
    }
    let first = Daemon::start(&projects[0]);
    support::wait_for(Duration::from_secs(20), "the first instance to ask for the feed", || {
        !server.requests("/feed/0.xml").is_empty()
    });
    // Past the 6 s lease as claimed; the run still waits for its answer.
    std::thread::sleep(Duration::from_secs(8));
    let mut second = Daemon::start(&projects[1]);
    support::wait_for(Duration::from_secs(30), "the first instance's run to store the feed", || {
        count(&url, "SELECT count(*) FROM documents") == 4
    });
    // Time for the second instance to have claimed and fetched, were it granted the slot.
    std::thread::sleep(Duration::from_secs(3));
    assert!(second.running(), "{}", second.log());
    assert_eq!(server.requests("/feed/0.xml").len(), 1, "fetched once:\n{}\n----\n{}", first.log(), second.log());
    assert_eq!(count(&url, "SELECT count(*) FROM source_leases WHERE lease_owner IS NOT NULL"), 0, "released");
}

/// A small deterministic generator (seeded per run, printed with the kills on failure).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        usize::try_from((self.0 >> 33) % n as u64).expect("fits")
    }
}

/// A restarted daemon frees what a dead instance of its host held (its source leases and
/// claimed alerts), and leaves alone a live one's, another host's and its own.
#[test]
fn the_leases_of_a_dead_instance_on_this_host_are_released_at_start() {
    let Some(cluster) = cluster() else { return };
    let url = database(&cluster);
    let lease = yuqing::store::Lease { owner: "host-a:1:1".into(), secs: 60 };
    let store = yuqing::store::Store::with_pg_client(connect(&url), lease).expect("migrate");
    let live = std::process::id();
    connect(&url)
        .batch_execute(&format!(
            "INSERT INTO source_leases (source_id, lease_owner, lease_until, slot) VALUES
               ('dead', 'host-a:999999999:5', 9999999999, 60),
               ('live', 'host-a:{live}:5', 9999999999, 60),
               ('other', 'host-b:999999999:5', 9999999999, 60),
               ('mine', 'host-a:1:1', 9999999999, 60);
             INSERT INTO alerts (channel, recipients, subject, body_text, body_html, next_attempt_at, created_at, lease_owner, lease_until)
               VALUES ('email', '[\"a@example.gov.cn\"]', 'held by the dead one', 't', '<p>t</p>', 0, 0, 'host-a:999999999:5', 9999999999);"
        ))
        .expect("seed");
    let alive = |pid: u32| std::path::Path::new(&format!("/proc/{pid}")).exists();
    let released = store.release_dead_holders("host-a", "host-a:1:1", alive).expect("release");
    assert_eq!(released, ["host-a:999999999:5"]);
    let held: Vec<(String, Option<String>)> = connect(&url)
        .query("SELECT source_id, lease_owner FROM source_leases ORDER BY source_id", &[])
        .expect("leases")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        held,
        [
            ("dead".to_string(), None),
            ("live".to_string(), Some(format!("host-a:{live}:5"))),
            ("mine".to_string(), Some("host-a:1:1".to_string())),
            ("other".to_string(), Some("host-b:999999999:5".to_string())),
        ]
    );
    assert_eq!(count(&url, "SELECT count(*) FROM alerts WHERE lease_owner IS NULL AND lease_until IS NULL"), 1);
    assert!(store.release_dead_holders("host-a", "host-a:1:1", alive).expect("again").is_empty(), "once");
}

/// Alerts queued by any connection wake a listening instance once per transaction, on
/// commit; changing alerts (sending them) wakes nobody; the listener stops when told.
#[test]
fn an_alert_queued_anywhere_wakes_the_listening_instances() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let Some(cluster) = cluster() else { return };
    let url = database(&cluster);
    let lease = yuqing::store::Lease { owner: "host-a:1:1".into(), secs: 60 };
    drop(yuqing::store::Store::with_pg_client(connect(&url), lease).expect("migrate"));
    let parsed = yuqing::store::pg::PgUrl::parse(&url).expect("url");
    let (stop, woke) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let (s, w) = (stop.clone(), woke.clone());
    let listener = std::thread::spawn(move || {
        yuqing::store::pg::listen::listen_outbox(&parsed, &s, || {
            w.fetch_add(1, Ordering::SeqCst);
        })
    });
    support::wait_for(Duration::from_secs(10), "the listener to listen", || {
        count(&url, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'") == 1
    });
    let insert = "INSERT INTO alerts (channel, recipients, subject, body_text, body_html, next_attempt_at, created_at)
                  VALUES ('email', '[\"a@example.gov.cn\"]', 's', 't', '<p>t</p>', 0, 0)";
    let mut other = connect(&url);
    let mut tx = other.transaction().expect("tx");
    for _ in 0..3 {
        tx.batch_execute(insert).expect("insert");
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(woke.load(Ordering::SeqCst), 0, "nothing before the commit");
    tx.commit().expect("commit");
    support::wait_for(Duration::from_secs(5), "a wake-up", || woke.load(Ordering::SeqCst) >= 1);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(woke.load(Ordering::SeqCst), 1, "once per transaction");
    other.batch_execute("UPDATE alerts SET status = 'sent'").expect("send");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(woke.load(Ordering::SeqCst), 1, "sending wakes nobody");
    stop.store(true, Ordering::Release);
    listener.join().expect("the listener stops when told");
}
