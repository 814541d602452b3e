//! PostgreSQL as the second store (issue 19, experimental): `[storage] url` in `yuqing
//! check`, the PostgreSQL schema, and `yuqing db migrate-to` copying a real SQLite store
//! (made by `run --once` and a workflow action) into a real PostgreSQL — Debian's
//! `postgresql` package, started by scripts/pg.sh in a temporary directory on loopback (or
//! the server named by YUQING_TEST_PG_URL). Where PostgreSQL is not installed, the tests
//! that need it say so on stderr and pass without running.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use support::{FILE_MAIL, Project, source};
use yuqing::store::pg::copy::TABLES;

// ---------------------------------------------------------------- the PostgreSQL server

/// A server shared by the tests running at the same time, stopped when the last drops it.
struct Cluster {
    base: String,
    /// scripts/pg.sh's directory; None for a server given by YUQING_TEST_PG_URL.
    dir: Option<tempfile::TempDir>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = Command::new(script()).arg("stop").arg(dir.path()).status();
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg.sh")
}

static SHARED: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());

/// The server, or None (with a message) where PostgreSQL is not installed.
fn cluster() -> Option<Arc<Cluster>> {
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = shared.upgrade() {
        return Some(c);
    }
    let cluster = if let Ok(url) = std::env::var("YUQING_TEST_PG_URL") {
        Cluster { base: url, dir: None }
    } else {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new(script()).arg("start").arg(dir.path()).output().expect("run scripts/pg.sh");
        if out.status.code() == Some(69) {
            eprintln!(
                "SKIPPED: PostgreSQL is not installed (Debian package `postgresql`; scripts/test.sh installs it): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        assert!(out.status.success(), "scripts/pg.sh start failed: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let base = stdout.trim().strip_prefix("export YUQING_TEST_PG_URL=").expect("url line").to_string();
        Cluster { base, dir: Some(dir) }
    };
    let cluster = Arc::new(cluster);
    *shared = Arc::downgrade(&cluster);
    Some(cluster)
}

static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// A new empty database on the server; its URL.
fn database(cluster: &Cluster) -> String {
    let name = format!("t{}_{}", std::process::id(), DATABASES.fetch_add(1, Ordering::SeqCst));
    let mut admin = postgres::Client::connect(&cluster.base, postgres::NoTls).expect("connect");
    admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create database");
    let (prefix, _) = cluster.base.rsplit_once('/').expect("database in url");
    format!("{prefix}/{name}")
}

fn connect(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("connect")
}

fn sqlite_count(db: &Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open sqlite");
    conn.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| r.get(0)).expect("count")
}

// ---------------------------------------------------------------- a store with some history

/// A store with an event (two documents), its alerts and their delivery attempts, and an
/// accept in the audit trail.
fn store_with_history() -> Project {
    let p = Project::with_org(&source("forum", "forum.xml"));
    let story = "网传临江市烈士陵园将被拆迁改建商业综合体，市退役军人事务局回应：系不实信息，烈士陵园不会拆迁。";
    p.write(
        "forum.xml",
        support::feed_linked(
            "https://example.com/",
            &[
                ("f1", "烈士陵园要拆？", story),
                ("f2", "转发：烈士陵园要拆？", &format!("转发微博 //{story}")),
                ("f3", "第四季度抚恤金发放通知", "抚恤金月底发放到位。"),
            ],
        ),
    );
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let run = p.run(&["event", "accept", "1", "--by", "wang"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    p
}

// ---------------------------------------------------------------- tests

/// `db migrate-to` copies every table with its ids, verifies the counts, rebuilds the search
/// table, continues the id sequences after the copied ids, and refuses a target that
/// already holds data unless --force.
#[test]
fn migrate_to_copies_every_table_and_verifies_the_counts() {
    let Some(cluster) = cluster() else { return };
    let p = store_with_history();
    let db = p.path().join("state/yuqing.db");
    for table in ["documents", "events", "event_documents", "alerts", "alert_attempts", "event_actions", "hits"] {
        assert!(sqlite_count(&db, table) > 0, "the fixture has rows in {table}");
    }
    let url = database(&cluster);
    let run = p.run(&["db", "migrate-to", &url]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(&format!("复制完成：{} 张表", TABLES.len())), "{}", run.stdout);
    assert!(run.stdout.contains("逐表核对行数一致"), "{}", run.stdout);

    let mut pg = connect(&url);
    for table in TABLES {
        let rows: i64 = pg.query_one(&format!("SELECT count(*) FROM \"{table}\""), &[]).expect("count").get(0);
        assert_eq!(rows, sqlite_count(&db, table), "rows of {table}");
        assert!(
            run.stdout.lines().any(|l| l.starts_with(table) && l.trim_end().ends_with(&rows.to_string())),
            "{table} in the summary"
        );
    }
    // Spot checks: a document's text, the audit trail's actor, an alert's subject.
    let sqlite = rusqlite::Connection::open(&db).expect("open");
    let (title, text): (String, String) = sqlite
        .query_row("SELECT title, text FROM documents WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("doc");
    let row = pg.query_one("SELECT title, text FROM documents WHERE id = 1", &[]).expect("doc");
    assert_eq!((row.get::<_, String>(0), row.get::<_, String>(1)), (title, text));
    let row =
        pg.query_one("SELECT action, actor, event_id FROM event_actions ORDER BY id LIMIT 1", &[]).expect("action");
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, String>(1), row.get::<_, i64>(2)),
        ("accept".into(), "wang".into(), 1)
    );
    let subject: String =
        sqlite.query_row("SELECT subject FROM alerts ORDER BY id LIMIT 1", [], |r| r.get(0)).expect("alert");
    let row = pg.query_one("SELECT subject FROM alerts ORDER BY id LIMIT 1", &[]).expect("alert");
    assert_eq!(row.get::<_, String>(0), subject);
    // The search table holds the event's documents (the trigger fired for each).
    let search: i64 = pg.query_one("SELECT count(*) FROM document_search", &[]).expect("search").get(0);
    assert_eq!(search, sqlite_count(&db, "event_documents"));
    let found: i64 = pg
        .query_one("SELECT count(*) FROM document_search WHERE text ILIKE '%' || $1 || '%'", &[&"烈士陵园不会拆迁"])
        .expect("search")
        .get(0);
    assert_eq!(found, 2, "both copies of the story are found by a phrase of it, the notice is not");
    // A new row continues after the copied ids.
    let max: i64 = pg.query_one("SELECT max(id) FROM documents", &[]).expect("max").get(0);
    let next: i64 = pg
        .query_one(
            "INSERT INTO documents (source_id, fingerprint, title, text, fetched_at) VALUES ('x', 'f', 't', 'x', 0) RETURNING id",
            &[],
        )
        .expect("insert")
        .get(0);
    assert_eq!(next, max + 1);

    // A second copy into the same database is refused, and changes nothing.
    let run = p.run(&["db", "migrate-to", &url]);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("目标数据库已有数据"), "{}", run.stderr);
    let docs: i64 = pg.query_one("SELECT count(*) FROM documents", &[]).expect("count").get(0);
    assert_eq!(docs, sqlite_count(&db, "documents") + 1);
    // --force empties it first: the counts are the SQLite ones again.
    let run = p.run(&["db", "migrate-to", &url, "--force"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let docs: i64 = pg.query_one("SELECT count(*) FROM documents", &[]).expect("count").get(0);
    assert_eq!(docs, sqlite_count(&db, "documents"));
}

/// The schema applies once: a second migrate changes nothing; every SQLite table has the
/// same columns in PostgreSQL (a new SQLite migration without its PostgreSQL step fails
/// here), and the CHECKs hold as in SQLite.
#[test]
fn the_schema_applies_twice_and_has_every_sqlite_column() {
    let Some(cluster) = cluster() else { return };
    let url = database(&cluster);
    let mut pg = connect(&url);
    let first = yuqing::store::pg::migrations::migrate(&mut pg).expect("migrate");
    assert_eq!((first.from, first.to), (0, yuqing::store::pg::migrations::LATEST as i64));
    let again = yuqing::store::pg::migrations::migrate(&mut pg).expect("migrate again");
    assert_eq!(again.from, again.to, "nothing left to apply");

    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("y.db");
    drop(yuqing::store::Store::open(&db).expect("sqlite"));
    let sqlite = rusqlite::Connection::open(&db).expect("open");
    for table in TABLES {
        let mut want: Vec<String> = sqlite
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("columns");
        let mut have: Vec<String> = pg
            .query(
                "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
                &[table],
            )
            .expect("columns")
            .iter()
            .map(|r| r.get(0))
            .collect();
        want.sort();
        have.sort();
        assert_eq!(have, want, "columns of {table}");
    }
    let bad = pg.execute(
        "INSERT INTO alerts (kind, channel, recipients, subject, body_text, body_html, next_attempt_at, created_at)
         VALUES ('gossip', 'email', '[]', 's', 't', 'h', 0, 0)",
        &[],
    );
    assert!(bad.is_err(), "an unknown alert kind is refused");
    let dangling = pg.execute("INSERT INTO alert_attempts (alert_id, at, ok) VALUES (99, 5, 1)", &[]);
    assert!(dangling.is_err(), "foreign keys hold");
}

/// `[storage]` takes path or url, not both; a bad URL is named without its password; TLS
/// is refused clearly; a valid URL passes `check` with a warning, and the commands that
/// need the store say they cannot run on it yet instead of touching SQLite.
#[test]
fn check_explains_the_storage_url() {
    let p = Project::new(&source("forum", "forum.xml"), FILE_MAIL);
    p.write("forum.xml", support::rss(&[]));
    let settings = |storage: &str| format!("timezone = \"Asia/Shanghai\"\n[storage]\n{storage}\n{FILE_MAIL}");
    p.write(
        "yuqing.toml",
        settings("path = \"state/yuqing.db\"\nurl = \"postgres://yuqing:topsecret@127.0.0.1/yuqing\""),
    );
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(run.stdout.contains("[storage] 中 path 和 url 只能写一个"), "{}", run.stdout);
    assert!(!run.stdout.contains("topsecret"), "{}", run.stdout);

    p.write("yuqing.toml", settings("url = \"mysql://yuqing:topsecret@127.0.0.1/yuqing\""));
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(run.stdout.contains("应以 postgres:// 或 postgresql:// 开头"), "{}", run.stdout);
    assert!(!run.stdout.contains("topsecret"), "{}", run.stdout);

    p.write("yuqing.toml", settings("url = \"postgres://yuqing:topsecret@127.0.0.1/yuqing?sslmode=require\""));
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(run.stdout.contains("暂不支持 TLS 连接（sslmode=require）"), "{}", run.stdout);
    assert!(!run.stdout.contains("topsecret"), "{}", run.stdout);

    p.write("yuqing.toml", settings("url = \"postgres://yuqing:topsecret@127.0.0.1:5432/yuqing\""));
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert!(run.stdout.contains("PostgreSQL 存储尚在试验中"), "{}", run.stdout);
    assert!(
        run.stdout.contains("数据库：PostgreSQL postgres://yuqing:***@127.0.0.1:5432/yuqing（试验中）"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("topsecret"), "{}", run.stdout);
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("本版本尚不能在其上运行守护进程或此命令"), "{}", run.stderr);
    assert!(!run.stderr.contains("topsecret"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(!p.path().join("state").exists(), "no SQLite file was made instead");
}

/// A server that cannot be reached is named (password hidden) with what to check, and
/// nothing is read from it.
#[test]
fn migrate_to_an_unreachable_server_says_so() {
    let p = Project::new(&source("forum", "forum.xml"), FILE_MAIL);
    p.write("forum.xml", support::rss(&[]));
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));
    let port = support::free_port();
    let run = p.run(&["db", "migrate-to", &format!("postgres://yuqing:topsecret@127.0.0.1:{port}/yuqing")]);
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("无法连接 PostgreSQL postgres://yuqing:***@127.0.0.1"), "{}", run.stderr);
    assert!(run.stderr.contains("连不上服务器"), "{}", run.stderr);
    assert!(!run.stderr.contains("topsecret"), "{}", run.stderr);
    let run = p.run(&["db", "migrate-to", "postgres://yuqing@127.0.0.1/yuqing?sslmode=require"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("暂不支持 TLS"), "{}", run.stderr);
}
