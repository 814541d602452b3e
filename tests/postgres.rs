//! PostgreSQL as the second store (issue 19, experimental): `[storage] url` in `yuqing
//! check`, the PostgreSQL schema, and `yuqing db migrate-to` copying a real SQLite store
//! (made by `run --once` and a workflow action) into a real PostgreSQL — Debian's
//! `postgresql` package, started by scripts/pg.sh in a temporary directory on loopback (or
//! the server named by YUQING_TEST_PG_URL). The outbox operations (`store::Outbox`) run the
//! same test bodies on an SQLite file and on PostgreSQL, and so do the source state of every
//! poll and the source leases (`store::SourceStates`), the ingest path (`commit_run`,
//! `commit_documents`, `unseen`: every table a run writes compared across the backends; a
//! failed run leaves nothing), and the response workflow (`store::Workflow`: actions,
//! downgrade, mute, withdrawals, event state and ladder reads, on events seeded in SQL);
//! PostgreSQL's outbox claims and source leases are tested with two claimers. The CLI runs
//! on a PostgreSQL store copied by `migrate-to`, its output compared with the same commands
//! on the SQLite file, and refuses the SQLite-file maintenance there. Where
//! PostgreSQL is not installed, the tests that need it say so on stderr and pass without
//! running (the SQLite half still runs).

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use support::pg::{Cluster, cluster, connect, database};
use support::{FILE_MAIL, Project, source};
use yuqing::store::pg::copy::TABLES;

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
    // --force empties it first (the PostgreSQL-only source leases too): the counts are the
    // SQLite ones again.
    pg.execute("INSERT INTO source_leases (source_id, lease_owner, lease_until) VALUES ('forum', 'old', 5)", &[])
        .expect("lease");
    let run = p.run(&["db", "migrate-to", &url, "--force"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let docs: i64 = pg.query_one("SELECT count(*) FROM documents", &[]).expect("count").get(0);
    assert_eq!(docs, sqlite_count(&db, "documents"));
    let leases: i64 = pg.query_one("SELECT count(*) FROM source_leases", &[]).expect("count").get(0);
    assert_eq!(leases, 0, "no lease survives a forced copy");
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
        // The outbox leases are PostgreSQL's own (one daemon holds an SQLite store).
        want.extend(
            yuqing::store::pg::migrations::PG_ONLY_COLUMNS
                .iter()
                .filter(|(t, _)| t == table)
                .map(|(_, c)| (*c).to_string()),
        );
        want.sort();
        have.sort();
        assert_eq!(have, want, "columns of {table}");
    }
    // The PostgreSQL-only tables (source leases) are there, and only there.
    for table in yuqing::store::pg::migrations::PG_ONLY_TABLES {
        let in_pg: i64 = pg
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1",
                &[table],
            )
            .expect("table")
            .get(0);
        let in_sqlite: i64 = sqlite
            .query_row("SELECT count(*) FROM sqlite_master WHERE name = ?1", [table], |r| r.get(0))
            .expect("table");
        assert_eq!((in_pg, in_sqlite), (1, 0), "{table}");
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
/// is refused clearly; a valid URL passes `check` with a warning; `db backup` is refused
/// on it, and the commands that need the store name a server they cannot reach instead of
/// touching SQLite.
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
    // The source lease: within its range, and said to do nothing on an SQLite file.
    p.write("yuqing.toml", settings("url = \"postgres://yuqing@127.0.0.1:5432/yuqing\"\nlease_secs = 3"));
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(run.stdout.contains("yuqing.toml:4:"), "{}", run.stdout);
    assert!(run.stdout.contains("[storage] lease_secs = 3 超出范围（6–3600 秒）"), "{}", run.stdout);
    p.write("yuqing.toml", settings("path = \"state/yuqing.db\"\nlease_secs = 30"));
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert!(run.stdout.contains("[storage] lease_secs = 30 只对 PostgreSQL（url）有效"), "{}", run.stdout);
    p.write("yuqing.toml", settings("url = \"postgres://yuqing:topsecret@127.0.0.1:5432/yuqing\""));
    // An SQLite-file operation is refused before it touches any store.
    let run = p.run(&["db", "backup", "copy.db"]);
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("db backup 只用于 SQLite"), "{}", run.stderr);
    assert!(!run.stderr.contains("topsecret"), "{}", run.stderr);
    // The daemon and the commands run on it: a server that does not answer (port 9 on
    // loopback) is named without the password, and no SQLite file is made instead.
    p.write("yuqing.toml", settings("url = \"postgres://yuqing:topsecret@127.0.0.1:9/yuqing?connect_timeout=5\""));
    for args in [&["run", "--once"][..], &["hits"][..], &["status"][..], &["report"][..]] {
        let run = p.run(args);
        assert_eq!(run.code, Some(2), "{args:?}: {}\n{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("无法连接 PostgreSQL postgres://yuqing:***@127.0.0.1:9/yuqing"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("topsecret"), "{}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
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

// ---------------------------------------------------------------- the outbox on both backends

use chrono::{DateTime, Duration, TimeZone, Utc};
use yuqing::detect::events::Assignment;
use yuqing::model::{AlertMessage, HoldReason, SourceNotice};
use yuqing::model::{Document, Field, Flag, FlagKind, Grade, Hit, Negativity, Validators};
use yuqing::store::{
    Action, Committed, Downgraded, DueSource, EventState, LadderEvent, Lease, NewDocument, Outbox, OutboxFilter,
    SourceStates, Store, Withdraw, Workflow,
};

/// A fixed clock: nothing here depends on today's date.
fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap() + Duration::seconds(secs)
}

fn lease(owner: &str, secs: i64) -> Lease {
    Lease { owner: owner.into(), secs }
}

fn message(channel: &str, subject: &str, recipients: &[&str]) -> AlertMessage {
    AlertMessage {
        channel: channel.into(),
        recipients: recipients.iter().map(|r| (*r).to_string()).collect(),
        subject: subject.into(),
        body_text: format!("{subject}：正文"),
        body_html: format!("<p>{subject}</p>"),
    }
}

/// A document in its event (for the ladder's notifications and the ingest tests' joined
/// event), and the state its source's commit left, in SQL both backends run.
const SEED: &str = "
    INSERT INTO documents (id, source_id, fingerprint, title, text, fetched_at)
    VALUES (1, 'forum', 'f1', '烈士陵园要拆？', '网传临江市烈士陵园将被拆迁。', 1000);
    INSERT INTO events (id, title, first_document_id, first_source_id, first_seen_at, last_seen_at,
                        documents, sources, created_at, grade)
    VALUES (1, '烈士陵园要拆？', 1, 'forum', 1000, 1000, 1, 1, 1000, 'II');
    INSERT INTO event_documents (document_id, event_id, source_id, seen_at, similarity) VALUES (1, 1, 'forum', 1000, 1.0);
    INSERT INTO source_state (source_id, last_attempt_at, last_success_at, etag, last_modified, last_entries, last_new_at)
    VALUES ('forum', 1000, 1000, '\"e1\"', 'Mon, 02 Mar 2026 01:00:00 GMT', 12, 1000);";

/// One store of either kind, with what keeps it alive and where a second connection finds it.
enum Backend {
    Sqlite { store: Store, dir: tempfile::TempDir },
    Postgres { store: Box<Store>, url: String, _cluster: Arc<Cluster> },
}

impl Backend {
    fn workflow(&mut self) -> Workflow<'_> {
        match self {
            Backend::Sqlite { store, .. } => store.workflow(),
            Backend::Postgres { store, .. } => store.workflow(),
        }
    }

    /// Runs `sql` on a second connection (rows another writer commits meanwhile).
    fn run_sql(&self, sql: &str) {
        match self {
            Backend::Sqlite { dir, .. } => {
                rusqlite::Connection::open(dir.path().join("yuqing.db")).expect("open").execute_batch(sql).expect("sql")
            }
            Backend::Postgres { url, .. } => connect(url).batch_execute(sql).expect("sql"),
        }
    }

    /// A count (`sql` selects one BIGINT) on a second connection.
    fn count(&self, sql: &str) -> i64 {
        match self {
            Backend::Sqlite { dir, .. } => rusqlite::Connection::open(dir.path().join("yuqing.db"))
                .expect("open")
                .query_row(sql, [], |r| r.get(0))
                .expect("count"),
            Backend::Postgres { url, .. } => connect(url).query_one(sql, &[]).expect("count").get(0),
        }
    }

    fn outbox(&mut self) -> Outbox<'_> {
        match self {
            Backend::Sqlite { store, .. } => store.outbox(),
            Backend::Postgres { store, .. } => store.outbox(),
        }
    }

    fn sources(&mut self) -> SourceStates<'_> {
        match self {
            Backend::Sqlite { store, .. } => store.sources(),
            Backend::Postgres { store, .. } => store.sources(),
        }
    }

    fn commit_run(
        &mut self,
        source: &str,
        batch: &[NewDocument],
        entries: usize,
        v: &Validators,
        now: DateTime<Utc>,
    ) -> Committed {
        match self {
            Backend::Sqlite { store, .. } => store.commit_run(source, batch, entries, v, now),
            Backend::Postgres { store, .. } => store.commit_run(source, batch, entries, v, now),
        }
        .expect("commit run")
    }

    fn commit_documents(&mut self, source: &str, batch: &[NewDocument], now: DateTime<Utc>) -> Committed {
        match self {
            Backend::Sqlite { store, .. } => store.commit_documents(source, batch, now),
            Backend::Postgres { store, .. } => store.commit_documents(source, batch, now),
        }
        .expect("commit documents")
    }

    fn unseen(&mut self, documents: Vec<Document>) -> Vec<Document> {
        match self {
            Backend::Sqlite { store, .. } => store.unseen(documents),
            Backend::Postgres { store, .. } => store.unseen(documents),
        }
        .expect("unseen")
    }

    /// [`Backend::column`] of each query, each sorted (rows compared as sets).
    fn sorted_columns(&self, queries: &[&str]) -> Vec<Vec<String>> {
        queries
            .iter()
            .map(|q| {
                let mut rows = self.column(q);
                rows.sort();
                rows
            })
            .collect()
    }

    /// The one text column of every row of `sql`, read on a connection of its own (what is
    /// committed).
    fn column(&self, sql: &str) -> Vec<String> {
        match self {
            Backend::Sqlite { dir, .. } => {
                let conn = rusqlite::Connection::open(dir.path().join("yuqing.db")).expect("open");
                let mut stmt = conn.prepare(sql).expect("prepare");
                stmt.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows")
            }
            Backend::Postgres { url, .. } => {
                connect(url).query(sql, &[]).expect("query").iter().map(|r| r.get(0)).collect()
            }
        }
    }
}

/// A new seeded SQLite file, and a new seeded PostgreSQL database where PostgreSQL runs
/// (its outbox claims under a 60 s lease).
fn backends() -> Vec<(&'static str, Backend)> {
    backends_with("")
}

/// [`backends`], each also seeded with `more` (SQL both run).
fn backends_with(more: &str) -> Vec<(&'static str, Backend)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("yuqing.db");
    let store = Store::open(&db).expect("open sqlite");
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute_batch(SEED).expect("seed sqlite");
    conn.execute_batch(more).expect("seed sqlite");
    let mut out = vec![("sqlite", Backend::Sqlite { store, dir })];
    if let Some(cluster) = cluster() {
        let url = database(&cluster);
        let store = Store::with_pg_client(connect(&url), lease("yuqing-a", 60)).expect("migrate");
        let mut client = connect(&url);
        client.batch_execute(SEED).expect("seed postgres");
        client.batch_execute(more).expect("seed postgres");
        // The seed's explicit id does not move the identity, as `db migrate-to` does.
        client
            .batch_execute("SELECT setval(pg_get_serial_sequence('documents', 'id'), (SELECT max(id) FROM documents))")
            .expect("sequence");
        out.push(("postgres", Backend::Postgres { store: Box::new(store), url, _cluster: cluster }));
    }
    out
}

fn ladder_event() -> LadderEvent {
    LadderEvent {
        id: 1,
        title: "烈士陵园要拆？".into(),
        grade: yuqing::model::Grade::parse("II").expect("grade"),
        owner: "veterans".into(),
        since: t(0),
        accepted_at: None,
        accepts: Vec::new(),
        first_document_id: 1,
        transferred: false,
        created_at: t(0),
        feedback: Vec::new(),
        mutes: Vec::new(),
    }
}

/// A delivery session's path through the outbox, the same on both backends: claimed oldest
/// first; a failure waits for its retry time; a hold waits and says why; a send leaves the
/// outbox with its receipt in the audit trail; the first dead letter of an episode queues
/// one admin notice, the second none; a digest reaches each recipient once; a flush claims
/// what is held; requeue brings the dead back.
#[test]
fn the_outbox_behaves_the_same_on_both_backends() {
    for (name, mut backend) in backends() {
        let mut o = backend.outbox();
        let ids: Vec<i64> = ["一", "二", "三", "四"]
            .iter()
            .enumerate()
            .map(|(i, s)| {
                o.queue_admin_notice("config_invalid", &message("email", s, &["admin@example.gov.cn"]), t(i as i64))
                    .expect("queue")
            })
            .collect();
        let due = o.claim_due(Some(t(10)), t(10), 10).expect("claim");
        assert_eq!(due.iter().map(|a| a.id).collect::<Vec<_>>(), ids, "{name}: oldest first");
        assert_eq!(due[0].message.subject, "一", "{name}");
        assert_eq!(due[0].kind, "config_invalid", "{name}");
        assert_eq!(o.claim_due(Some(t(10)), t(10), 2).expect("claim").len(), if name == "sqlite" { 2 } else { 0 });

        o.mark_failed(ids[0], "connection refused", t(70), t(10)).expect("failed");
        o.hold_many(&[ids[1]], t(3600), HoldReason::Quiet).expect("held");
        // At 80 s the first is due again; the held one is not; the other two are due (on
        // PostgreSQL their 60 s leases from the claim at 10 s have run out).
        let due = o.claim_due(Some(t(80)), t(80), 10).expect("claim");
        assert_eq!(due.iter().map(|a| a.id).collect::<Vec<_>>(), vec![ids[0], ids[2], ids[3]], "{name}");
        assert_eq!(due[0].attempts, 1, "{name}");

        o.mark_sent(ids[0], t(80), Some(("250 2.0.0 OK", Some("msg-1")))).expect("sent");
        let notice = message("email", "告警无法送达", &["admin@example.gov.cn"]);
        assert!(o.mark_dead(ids[2], "550 no such user", t(81), Some(&notice)).expect("dead"), "{name}: first told");
        assert!(!o.mark_dead(ids[3], "550 no such user", t(82), Some(&notice)).expect("dead"), "{name}: once");

        let attempts = o.alert_attempts(ids[0]).expect("attempts");
        assert_eq!(attempts.len(), 2, "{name}");
        assert!(!attempts[0].ok && attempts[0].detail.as_deref() == Some("connection refused"), "{name}");
        assert!(attempts[1].ok && attempts[1].provider_id.as_deref() == Some("msg-1"), "{name}");
        let sent: Vec<i64> = o.outbox_rows(OutboxFilter::Sent, 10).expect("rows").iter().map(|r| r.id).collect();
        assert_eq!(sent, vec![ids[0]], "{name}");
        let dead: Vec<i64> = o.outbox_rows(OutboxFilter::Dead, 10).expect("rows").iter().map(|r| r.id).collect();
        assert_eq!(dead, vec![ids[3], ids[2]], "{name}: newest first");
        let status = o.outbox_status().expect("status");
        assert_eq!((status.pending, status.failing), (2, 0), "{name}: the held one and the notice");

        // A flush claims every pending alert, held or not, the notice of the dead letter last.
        let all = o.claim_due(None, t(90), 10).expect("flush");
        assert_eq!(all.len(), 2, "{name}");
        assert_eq!((all[0].id, all[0].held), (ids[1], Some(HoldReason::Quiet)), "{name}");
        assert_eq!(all[1].kind, "outbox_dead", "{name}");

        // A digest to two people: after the first it waits for the second, then leaves.
        let pair = o
            .queue_admin_notice(
                "config_invalid",
                &message("email", "五", &["a@example.gov.cn", "b@example.gov.cn"]),
                t(100),
            )
            .expect("queue");
        assert_eq!(o.mark_digest_sent(&[pair], Some("a@example.gov.cn"), t(110), ("250 OK", None)).expect("d"), 0);
        let again = o.claim_due(Some(t(200)), t(200), 10).expect("claim");
        let row = again.iter().find(|a| a.id == pair).expect("still pending");
        assert_eq!(row.message.recipients, vec!["b@example.gov.cn".to_string()], "{name}: only who is left");
        assert_eq!(o.mark_digest_sent(&[pair], Some("b@example.gov.cn"), t(210), ("250 OK", None)).expect("d"), 1);
        assert!(!o.outbox_rows(OutboxFilter::Pending, 10).expect("rows").iter().any(|r| r.id == pair), "{name}");

        assert_eq!(o.requeue(None, t(300)).expect("requeue"), 2, "{name}");
        assert!(o.outbox_rows(OutboxFilter::Dead, 10).expect("rows").is_empty(), "{name}");
    }
}

/// The ladder's log holds one message per (event, person, step, channel) on both backends:
/// the same key again queues nothing; another channel, step or person is another message.
#[test]
fn the_notification_log_is_unique_on_both_backends() {
    for (name, mut backend) in backends() {
        let mut o = backend.outbox();
        let event = ladder_event();
        let email = message("email", "请接收：烈士陵园要拆？", &["wang@example.gov.cn"]);
        let sms = message("sms", "请接收：烈士陵园要拆？", &["13800000000"]);
        assert!(o.queue_notification(&event, ("wang", 0), &email, t(0)).expect("queue"), "{name}");
        assert!(!o.queue_notification(&event, ("wang", 0), &email, t(5)).expect("queue"), "{name}: logged before");
        assert!(o.queue_notification(&event, ("wang", 0), &sms, t(5)).expect("queue"), "{name}: another channel");
        assert!(o.queue_notification(&event, ("wang", 1), &email, t(6)).expect("queue"), "{name}: another step");
        assert!(o.queue_notification(&event, ("li", 0), &email, t(7)).expect("queue"), "{name}: another person");
        assert!(!o.queue_notification(&event, ("wang", 1), &email, t(8)).expect("queue"), "{name}");
        let rows = o.outbox_rows(OutboxFilter::All, 10).expect("rows");
        assert_eq!(rows.len(), 4, "{name}");
        assert!(rows.iter().all(|r| r.event_id == Some(1) && r.status == "pending"), "{name}");
        // The later ones thread under the first message of the event.
        let due = o.claim_due(Some(t(10)), t(10), 10).expect("claim");
        assert_eq!(due.len(), 4, "{name}");
        assert_eq!(due[0].thread, None, "{name}");
        let first = &rows[3];
        let thread = format!("{}.{}", first.id, first.created_at.timestamp());
        assert!(due[1..].iter().all(|a| a.thread.as_deref() == Some(thread.as_str())), "{name}: {:?}", due[1].thread);
    }
}

/// Two daemons' claimers (two connections, two threads) over one PostgreSQL outbox never get
/// the same row, and between them get every row.
#[test]
fn two_claimers_on_postgres_never_get_the_same_row() {
    let Some(cluster) = cluster() else { return };
    let url = database(&cluster);
    let setup = Store::with_pg_client(connect(&url), lease("setup", 300)).expect("migrate");
    let mut queued = Vec::new();
    for i in 0..150 {
        let m = message("email", &format!("第 {i} 条"), &["admin@example.gov.cn"]);
        queued.push(setup.outbox().queue_admin_notice("config_invalid", &m, t(0)).expect("queue"));
    }
    let start = Arc::new(std::sync::Barrier::new(2));
    let claimers: Vec<_> = ["yuqing-a", "yuqing-b"]
        .into_iter()
        .map(|who| {
            let (url, start) = (url.clone(), start.clone());
            std::thread::spawn(move || {
                let store = Store::with_pg_client(connect(&url), lease(who, 300)).expect("connect");
                start.wait();
                let mut mine = Vec::new();
                loop {
                    let batch = store.outbox().claim_due(Some(t(5)), t(5), 7).expect("claim");
                    if batch.is_empty() {
                        return (who, mine);
                    }
                    mine.extend(batch.iter().map(|a| a.id));
                }
            })
        })
        .collect();
    let results: Vec<(&str, Vec<i64>)> = claimers.into_iter().map(|h| h.join().expect("claimer")).collect();
    let mut all: Vec<i64> = results.iter().flat_map(|(_, ids)| ids.iter().copied()).collect();
    let claimed = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), claimed, "no row was handed to both claimers");
    assert_eq!(all, queued, "every row was claimed by one of them");
    // Each row's lease names the claimer that got it.
    let mut pg = connect(&url);
    for (who, ids) in &results {
        for id in ids {
            let owner: Option<String> =
                pg.query_one("SELECT lease_owner FROM alerts WHERE id = $1", &[id]).expect("row").get(0);
            assert_eq!(owner.as_deref(), Some(*who));
        }
    }
}

/// A lease holds a row for its claimer until it runs out, then another claimer gets it (the
/// first one died); rows finished in time are not handed out again, a recorded failure ends
/// the lease at once, and a row locked by a claim in progress is skipped without waiting.
#[test]
fn an_expired_lease_is_claimed_by_the_other_daemon() {
    let Some(cluster) = cluster() else { return };
    let url = database(&cluster);
    let a = Store::with_pg_client(connect(&url), lease("yuqing-a", 60)).expect("migrate");
    let b = Store::with_pg_client(connect(&url), lease("yuqing-b", 60)).expect("connect");
    let ids: Vec<i64> = (0..3)
        .map(|i| {
            let m = message("email", &format!("第 {i} 条"), &["admin@example.gov.cn"]);
            a.outbox().queue_admin_notice("config_invalid", &m, t(0)).expect("queue")
        })
        .collect();
    let got: Vec<i64> = a.outbox().claim_due(Some(t(0)), t(0), 10).expect("claim").iter().map(|x| x.id).collect();
    assert_eq!(got, ids);
    assert!(b.outbox().claim_due(Some(t(30)), t(30), 10).expect("claim").is_empty(), "a's leases hold");
    a.outbox().mark_sent(ids[0], t(40), None).expect("sent");
    // a stops before finishing the other two; at 61 s its leases have run out.
    let got: Vec<i64> = b.outbox().claim_due(Some(t(61)), t(61), 10).expect("claim").iter().map(|x| x.id).collect();
    assert_eq!(got, vec![ids[1], ids[2]], "b picks up what a left, not what a sent");
    assert!(a.outbox().claim_due(Some(t(62)), t(62), 10).expect("claim").is_empty(), "b's leases hold now");
    b.outbox().mark_failed(ids[1], "421 try later", t(90), t(62)).expect("failed");
    let got: Vec<i64> = a.outbox().claim_due(Some(t(90)), t(90), 10).expect("claim").iter().map(|x| x.id).collect();
    assert_eq!(got, vec![ids[1]], "a failure ends the lease: due again at its retry time for anyone");

    // A row locked by another claim still in its transaction is skipped, not waited for.
    let fresh: Vec<i64> = (3..5)
        .map(|i| {
            let m = message("email", &format!("第 {i} 条"), &["admin@example.gov.cn"]);
            a.outbox().queue_admin_notice("config_invalid", &m, t(100)).expect("queue")
        })
        .collect();
    let mut other = connect(&url);
    let mut tx = other.transaction().expect("tx");
    tx.query("SELECT id FROM alerts WHERE id = $1 FOR UPDATE", &[&fresh[0]]).expect("lock");
    let got: Vec<i64> = b.outbox().claim_due(Some(t(100)), t(100), 10).expect("claim").iter().map(|x| x.id).collect();
    assert_eq!(got, vec![fresh[1]], "the locked row is skipped");
    tx.rollback().expect("rollback");
    let got: Vec<i64> = b.outbox().claim_due(Some(t(100)), t(100), 10).expect("claim").iter().map(|x| x.id).collect();
    assert_eq!(got, vec![fresh[0]], "once unlocked it is claimed");
}

/// What a delivery session needs beside its store: the project's config, its senders and
/// mailer, and a runtime to run the session's rounds on.
fn delivery_parts(
    p: &Project,
) -> (yuqing::config::Config, yuqing::deliver::Senders, Arc<yuqing::notify::Mailer>, tokio::runtime::Runtime) {
    let config = yuqing::config::Config::load(p.path()).config.expect("config");
    let senders = yuqing::deliver::Senders::build(&config).expect("senders");
    let mailer = Arc::new(yuqing::notify::Mailer::new(config.mail.as_ref().expect("[mail]")).expect("mailer"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    (config, senders, mailer, runtime)
}

/// Regression (the killed-daemons test once left an alert unsent for the 300 s lease): on
/// PostgreSQL a lower alert id can commit after a higher one was claimed. A delivery session
/// that took ids as a watermark claimed the late row, skipped it as "tried" and left it
/// leased to itself, so no daemon sent it until the lease ran out. The session sends it, and
/// leaves no lease behind.
#[test]
fn an_alert_committed_out_of_id_order_is_delivered_in_the_same_session() {
    let Some(cluster) = cluster() else { return };
    let url = database(&cluster);
    let p = Project::new("", FILE_MAIL);
    let (config, senders, mailer, runtime) = delivery_parts(&p);
    let store = Store::with_pg_client(connect(&url), lease("yuqing-a", 300)).expect("migrate");
    let store = Arc::new(std::sync::Mutex::new(store));
    // Another daemon's transaction takes the next id and has not committed yet.
    let mut other = connect(&url);
    let mut late = other.transaction().expect("begin");
    let low: i64 = late
        .query_one(
            "INSERT INTO alerts (kind, channel, recipients, subject, body_text, body_html, next_attempt_at, created_at)
             VALUES ('config_invalid', 'email', '[\"gkb@example.gov.cn\"]', '后提交的提醒', '正文', '<p>正文</p>', 0, 0)
             RETURNING id",
            &[],
        )
        .expect("insert")
        .get(0);
    let now = Utc::now();
    let high = {
        let s = store.lock().expect("store");
        s.outbox().queue_admin_notice("config_invalid", &message("email", "先提交的提醒", &["gkb@example.gov.cn"]), now)
    }
    .expect("queue");
    assert!(high > low, "ids {low} < {high}");
    let mut session = yuqing::deliver::Delivery::new(&store, Some(mailer), &senders, true, &config);
    runtime.block_on(session.round(None)).expect("round");
    assert_eq!(session.report.sent, 1, "only the committed one is visible yet");
    // The lower id commits now, after the higher one was claimed and sent.
    late.commit().expect("commit");
    runtime.block_on(session.round(None)).expect("round");
    let report = session.report;
    assert_eq!(report.sent, 2, "{report:?}");
    let mut pg = connect(&url);
    for id in [low, high] {
        let row = pg.query_one("SELECT status, lease_owner FROM alerts WHERE id = $1", &[&id]).expect("row");
        let (status, owner): (String, Option<String>) = (row.get(0), row.get(1));
        assert_eq!(status, "sent", "alert {id} (lease: {owner:?})");
    }
    assert_eq!(support::eml_files(&p.path().join("outbox")).len(), 2, "both mails written once");
}

/// A session that stops early (the breaker: the mail server is down) hands the rest of its
/// claims back at once: another daemon can deliver them without waiting out the lease.
#[test]
fn a_session_stopped_by_the_breaker_leaves_no_claim_behind() {
    let Some(cluster) = cluster() else { return };
    let url = database(&cluster);
    let port = support::free_port();
    let p = Project::new("", &support::smtp_mail(port));
    let (config, senders, mailer, runtime) = delivery_parts(&p);
    let store = Store::with_pg_client(connect(&url), lease("yuqing-a", 300)).expect("migrate");
    let now = Utc::now();
    let queued: Vec<i64> = (0..8)
        .map(|i| {
            let m = message("email", &format!("第 {i} 条"), &["gkb@example.gov.cn"]);
            store.outbox().queue_admin_notice("config_invalid", &m, now).expect("queue")
        })
        .collect();
    let store = Arc::new(std::sync::Mutex::new(store));
    let report = runtime.block_on(async {
        // Nothing listens on the port: every send fails and the breaker trips.
        let mut session = yuqing::deliver::Delivery::new(&store, Some(mailer.clone()), &senders, true, &config);
        session.round(None).await.expect("round");
        session.report
    });
    assert!(report.stopped_early, "{report:?}");
    assert!(report.failed < queued.len(), "the breaker stopped before trying all: {report:?}");
    let mut pg = connect(&url);
    let leased: i64 =
        pg.query_one("SELECT count(*) FROM alerts WHERE lease_owner IS NOT NULL", &[]).expect("count").get(0);
    assert_eq!(leased, 0, "every claim of the stopped session was handed back");
    // The other daemon claims the untried ones at once (those tried wait for their retry).
    let b = Store::with_pg_client(connect(&url), lease("yuqing-b", 300)).expect("connect");
    let got = b.outbox().claim_due(Some(Utc::now()), Utc::now(), 50).expect("claim");
    assert_eq!(got.len(), queued.len() - report.failed, "untried alerts are free for another claimer");
}

// ---------------------------------------------------------------- source state and leases

/// A source's poll state as a run sees it, in one comparable value.
type Seen = (yuqing::model::Validators, yuqing::store::Health, Option<DateTime<Utc>>, Option<u64>);

fn seen(s: &mut SourceStates<'_>, id: &str) -> Seen {
    let (validators, health) = s.poll_state(id).expect("poll state");
    assert_eq!(s.validators(id).expect("validators"), validators, "one read or two, the same");
    assert_eq!(s.health(id).expect("health"), health, "one read or two, the same");
    (validators, health, s.last_attempt(id).expect("last attempt"), s.last_entries(id).expect("last entries"))
}

/// The state of every poll, the same on both backends: an unknown source reads as never
/// polled; failures count up with their error; the failing notice goes out once per
/// episode; a 304 is a success that keeps the validators; a batch of 304s never takes a
/// later run's state back; the recovery and silence notices and clearing the silence; every
/// source's state with its document count. Each step's reads are compared across backends.
#[test]
fn source_poll_state_behaves_the_same_on_both_backends() {
    let mut traces: Vec<(&str, Vec<Seen>)> = Vec::new();
    for (name, mut backend) in backends() {
        let mut trace = Vec::new();
        let mut s = backend.sources();
        let never = seen(&mut s, "unknown");
        assert_eq!(never, Default::default(), "{name}: never polled");
        trace.push(never);

        let start = seen(&mut s, "forum");
        assert_eq!(start.0.etag.as_deref(), Some("\"e1\""), "{name}");
        assert_eq!(start.0.last_modified.as_deref(), Some("Mon, 02 Mar 2026 01:00:00 GMT"), "{name}");
        assert_eq!((start.2, start.3), (DateTime::from_timestamp(1000, 0), Some(12)), "{name}");
        assert_eq!(start.1.last_new_at.map(|t| t.timestamp()), Some(1000), "{name}");
        trace.push(start.clone());

        s.record_failure("forum", "HTTP 500", t(10)).expect("failure");
        s.record_failure("forum", "抓取超时（超过 30 秒）", t(20)).expect("failure");
        let failing = seen(&mut s, "forum");
        assert_eq!(failing.1.consecutive_failures, 2, "{name}");
        assert_eq!(failing.1.last_error.as_deref(), Some("抓取超时（超过 30 秒）"), "{name}");
        assert_eq!(failing.2, Some(t(20)), "{name}");
        assert_eq!(failing.0, start.0, "{name}: a failure keeps the validators");
        trace.push(failing);

        let notice = message("email", "信息源连续失败：论坛", &["admin@example.gov.cn"]);
        assert!(s.notify_source("forum", SourceNotice::Failing, &notice, t(20)).expect("notify"), "{name}");
        assert!(!s.notify_source("forum", SourceNotice::Failing, &notice, t(21)).expect("notify"), "{name}: once");
        assert!(seen(&mut s, "forum").1.failing_notified, "{name}");

        // A 304 batch from before the last failure changes nothing; one after it is a success.
        s.record_not_modified_many(&[("forum".into(), t(15)), ("blog".into(), t(15))]).expect("304s");
        let stale = seen(&mut s, "forum");
        assert_eq!((stale.1.consecutive_failures, stale.2), (2, Some(t(20))), "{name}: not taken back");
        trace.push(stale);
        // The same source twice in a batch (two 304s queued between flushes): its latest.
        s.record_not_modified_many(&[("forum".into(), t(30)), ("forum".into(), t(25))]).expect("304s");
        let recovered = seen(&mut s, "forum");
        assert_eq!(recovered.1.consecutive_failures, 0, "{name}");
        assert_eq!((recovered.1.last_success_at, recovered.2), (Some(t(30)), Some(t(30))), "{name}");
        assert_eq!(recovered.0, start.0, "{name}: a 304 keeps the validators");
        assert_eq!(recovered.3, Some(12), "{name}: and the entry count");
        trace.push(recovered);
        let blog = seen(&mut s, "blog");
        assert_eq!((blog.1.last_success_at, blog.2, blog.1.consecutive_failures), (Some(t(15)), Some(t(15)), 0));
        trace.push(blog);

        assert!(s.notify_source("forum", SourceNotice::Recovered, &notice, t(30)).expect("notify"), "{name}");
        assert!(!s.notify_source("forum", SourceNotice::Recovered, &notice, t(31)).expect("notify"), "{name}");
        assert!(s.notify_source("forum", SourceNotice::Silent, &notice, t(32)).expect("notify"), "{name}");
        let quiet = seen(&mut s, "forum");
        assert!(!quiet.1.failing_notified && quiet.1.silent_notified, "{name}");
        trace.push(quiet);
        s.clear_silence("forum").expect("clear");
        s.record_failure("blog", "HTTP 404", t(40)).expect("failure");
        s.record_not_modified("blog", t(50)).expect("304");
        let states = s.states().expect("states");
        assert_eq!(states.iter().map(|s| s.source_id.as_str()).collect::<Vec<_>>(), ["blog", "forum"], "{name}");
        assert_eq!((states[0].consecutive_failures, states[0].last_error_at), (0, Some(t(40))), "{name}");
        assert_eq!((states[1].documents, states[1].silent_notified), (1, false), "{name}: the seeded document");
        trace.push(seen(&mut s, "forum"));
        trace.push(seen(&mut s, "blog"));

        // Three notices queued, each naming its kind (a handle holds the connection).
        drop(s);
        let mut o = backend.outbox();
        let kinds: Vec<String> =
            o.outbox_rows(OutboxFilter::All, 10).expect("rows").into_iter().map(|r| r.kind).collect();
        assert_eq!(kinds, ["source_silent", "source_recovered", "source_failing"], "{name}");
        traces.push((name, trace));
    }
    if let [(_, sqlite), (_, postgres)] = traces.as_slice() {
        assert_eq!(sqlite, postgres, "every read the same on both backends");
    }
}

fn due(ids: &[&str], slot: i64, lease_secs: i64) -> Vec<DueSource> {
    ids.iter().map(|id| DueSource { source_id: (*id).into(), slot: t(slot), lease_secs }).collect()
}

/// Leases on both backends: on SQLite (one daemon per file) every source asked for is
/// granted, renewing and releasing always succeed; on PostgreSQL a held source is granted
/// once, until it is released. Duplicates in the asking are asked once, in the order asked.
#[test]
fn source_leases_on_both_backends() {
    for (name, mut backend) in backends() {
        let mut s = backend.sources();
        let ask = due(&["b", "a", "b", "c"], 0, 60);
        assert_eq!(s.claim(&ask, t(0)).expect("claim"), ["b", "a", "c"], "{name}");
        let again = s.claim(&due(&["a", "d"], 0, 60), t(1)).expect("claim");
        assert_eq!(again, if name == "sqlite" { vec!["a", "d"] } else { vec!["d"] }, "{name}");
        assert!(s.renew("a", t(2), 60).expect("renew"), "{name}");
        assert!(s.release("a").expect("release"), "{name}");
        assert_eq!(s.claim(&due(&["a"], 60, 60), t(3)).expect("claim"), ["a"], "{name}: released, next slot");
        assert!(s.claim(&[], t(3)).expect("claim").is_empty(), "{name}");
    }
}

/// Two daemons' claimers (two connections, two threads) asking for the same 200 due
/// sources, in opposite orders and batches of 9, never both get one, and between them get
/// every one; each lease names the claimer that holds it.
#[test]
fn two_claimers_of_the_same_due_sources_get_disjoint_sets() {
    let Some(cluster) = cluster() else { return };
    let url = database(&cluster);
    drop(Store::with_pg_client(connect(&url), lease("setup", 60)).expect("migrate"));
    let ids: Vec<String> = (0..200).map(|i| format!("src-{i:03}")).collect();
    // A quarter have rows already (claimed and released for an earlier slot).
    let setup = Store::with_pg_client(connect(&url), lease("setup", 60)).expect("connect");
    let early: Vec<&str> = ids.iter().step_by(4).map(String::as_str).collect();
    assert_eq!(setup.sources().claim(&due(&early, -600, 60), t(-600)).expect("claim").len(), early.len());
    for id in &early {
        assert!(setup.sources().release(id).expect("release"));
    }
    let start = Arc::new(std::sync::Barrier::new(2));
    let claimers: Vec<_> = [("yuqing-a", false), ("yuqing-b", true)]
        .into_iter()
        .map(|(who, reversed)| {
            let (url, start, mut ids) = (url.clone(), start.clone(), ids.clone());
            if reversed {
                ids.reverse();
            }
            std::thread::spawn(move || {
                let store = Store::with_pg_client(connect(&url), lease(who, 300)).expect("connect");
                start.wait();
                let mut mine = Vec::new();
                for chunk in ids.chunks(9) {
                    let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
                    mine.extend(store.sources().claim(&due(&chunk, 0, 300), t(0)).expect("claim"));
                }
                (who, mine)
            })
        })
        .collect();
    let results: Vec<(&str, Vec<String>)> = claimers.into_iter().map(|h| h.join().expect("claimer")).collect();
    let mut all: Vec<String> = results.iter().flat_map(|(_, got)| got.iter().cloned()).collect();
    let claimed = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), claimed, "no source was leased to both claimers");
    assert_eq!(all, ids, "every due source was leased to one of them");
    let mut pg = connect(&url);
    for (who, got) in &results {
        for id in got {
            let row =
                pg.query_one("SELECT lease_owner, slot FROM source_leases WHERE source_id = $1", &[id]).expect("row");
            assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some(*who), "{id}");
            assert_eq!(row.get::<_, Option<i64>>(1), Some(t(0).timestamp()), "{id}");
        }
    }
}

/// A lease holds a source for its daemon until it runs out, then another daemon takes it
/// over (the first crashed); a released lease is claimable at once for the next slot, but a
/// slot already run is not run again; the daemon that lost its lease cannot renew or release
/// it; a renewal keeps it; a source whose row another claim is locking is skipped without
/// waiting, and claimed once unlocked.
#[test]
fn an_expired_source_lease_is_taken_over_and_a_released_one_is_free_at_once() {
    let Some(cluster) = cluster() else { return };
    let url = database(&cluster);
    let a = Store::with_pg_client(connect(&url), lease("yuqing-a", 60)).expect("migrate");
    let b = Store::with_pg_client(connect(&url), lease("yuqing-b", 60)).expect("connect");
    assert_eq!(a.sources().claim(&due(&["x", "y"], 0, 60), t(0)).expect("claim"), ["x", "y"]);
    assert!(b.sources().claim(&due(&["x", "y"], 0, 60), t(30)).expect("claim").is_empty(), "a's leases hold");
    assert!(a.sources().release("x").expect("release"));
    assert!(b.sources().claim(&due(&["x"], 0, 60), t(41)).expect("claim").is_empty(), "the 0 s slot was run");
    assert_eq!(b.sources().claim(&due(&["x"], 60, 60), t(41)).expect("claim"), ["x"], "released: free at once");
    // a crashed while running y; at 60 s its lease has run out and b takes y over.
    assert!(b.sources().claim(&due(&["y"], 0, 60), t(59)).expect("claim").is_empty(), "still a's");
    assert_eq!(b.sources().claim(&due(&["y"], 0, 60), t(60)).expect("claim"), ["y"], "taken over, same slot");
    assert!(!a.sources().renew("y", t(61), 60).expect("renew"), "a lost it");
    assert!(!a.sources().release("y").expect("release"), "a lost it");
    assert!(b.sources().renew("y", t(90), 60).expect("renew"), "b keeps it to 150 s");
    assert!(a.sources().claim(&due(&["y"], 120, 60), t(140)).expect("claim").is_empty(), "renewed");
    assert_eq!(a.sources().claim(&due(&["y"], 120, 60), t(150)).expect("claim"), ["y"], "b hung: a takes it back");

    // A source whose lease row another claim is locking is skipped, not waited for.
    assert!(b.sources().release("x").expect("release"));
    assert_eq!(b.sources().claim(&due(&["z"], 0, 60), t(200)).expect("claim"), ["z"]);
    assert!(b.sources().release("z").expect("release"));
    let mut other = connect(&url);
    let mut tx = other.transaction().expect("tx");
    tx.query("SELECT source_id FROM source_leases WHERE source_id = $1 FOR UPDATE", &[&"x"]).expect("lock");
    let got = a.sources().claim(&due(&["x", "z"], 300, 60), t(300)).expect("claim");
    assert_eq!(got, ["z"], "the locked one is skipped");
    tx.rollback().expect("rollback");
    assert_eq!(a.sources().claim(&due(&["x", "z"], 300, 60), t(300)).expect("claim"), ["x"], "once unlocked");
}

// ---------------------------------------------------------------- the response workflow

/// Event 1 (II, routed to veterans) gets a second event beside it (III, preferential), and
/// their queued alerts: A and B for event 1 due inside and after a mute, C for event 2
/// written before a close, D for event 2 written after it (a rise breaking through).
const WORKFLOW_SEED: &str = "
    UPDATE events SET owner = 'veterans', graded_at = 1000 WHERE id = 1;
    INSERT INTO documents (id, source_id, fingerprint, title, text, fetched_at)
    VALUES (2, 'forum', 'f2', '抚恤金发放延迟', '第四季度抚恤金尚未发放。', 1000);
    INSERT INTO events (id, title, first_document_id, first_source_id, first_seen_at, last_seen_at,
                        documents, sources, created_at, grade, owner, graded_at)
    VALUES (2, '抚恤金发放延迟', 2, 'forum', 1000, 1000, 1, 1, 1000, 'III', 'preferential', 1000);
    INSERT INTO alerts (document_id, event_id, channel, recipients, subject, body_text, body_html, next_attempt_at, created_at)
    VALUES (1, 1, 'email', '[\"wang@example.gov.cn\"]', 'A', 'a', '<p>a</p>', 3000, 900),
           (1, 1, 'email', '[\"wang@example.gov.cn\"]', 'B', 'b', '<p>b</p>', 5000, 900),
           (2, 2, 'email', '[\"li@example.gov.cn\"]', 'C', 'c', '<p>c</p>', 1000, 900),
           (2, 2, 'email', '[\"li@example.gov.cn\"]', 'D', 'd', '<p>d</p>', 1000, 1700);";

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("time")
}

fn act<'a>(action: &'a str, actor: &'a str, target: Option<&'a str>) -> Action<'a> {
    Action { action, actor, target, link: None, note: None }
}

fn ids(events: &[LadderEvent]) -> Vec<i64> {
    events.iter().map(|e| e.id).collect()
}

/// A response on both backends, the same: accept, transfer (the ladder restarts for the new
/// section and earlier accepts no longer count), feedback, a second accept, a downgrade
/// (recorded once: the same again is not lower; the ladder restarts from it), a mute (its
/// alerts due inside it withdrawn, one due after kept), the delivery's guard withdrawing an
/// alert a close or mute silenced after it was written (once; not one written after the
/// close, and nothing after a reopen), a close withdrawing the rest, and the ladder's
/// notification of the event queued once. Every state and ladder read is compared across
/// backends.
#[test]
fn the_response_workflow_behaves_the_same_on_both_backends() {
    type Trace = (Vec<Option<EventState>>, Vec<Vec<LadderEvent>>, Vec<(String, String, Option<String>)>);
    let mut traces: Vec<(&str, Trace)> = Vec::new();
    for (name, mut backend) in backends_with(WORKFLOW_SEED) {
        let (mut states, mut ladders) = (Vec::new(), Vec::new());
        let mut w = backend.workflow();
        let start = w.event_state(1).expect("state").expect("event 1");
        assert_eq!(start.grade.map(|g| g.as_str()), Some("II"), "{name}");
        assert_eq!((start.owner.as_deref(), start.closed, start.muted_until), (Some("veterans"), false, None));
        assert!(start.accepted_by.is_empty(), "{name}");
        assert_eq!(w.event_state(99).expect("state"), None, "{name}");
        states.push(Some(start));
        let ladder = w.ladder_events(at(0)).expect("ladder");
        assert_eq!(ids(&ladder), [1, 2], "{name}");
        assert_eq!((ladder[0].since, ladder[0].transferred, ladder[0].accepted_at), (at(1000), false, None));
        assert!(w.ladder_events(at(1001)).expect("ladder").is_empty(), "{name}: created before");
        ladders.push(ladder);

        assert!(w.record_action(1, &act("accept", "wang", None), at(1100)).expect("accept"), "{name}");
        assert!(!w.record_action(99, &act("accept", "wang", None), at(1100)).expect("accept"), "{name}: no event");
        assert_eq!(w.event_state(1).expect("state").expect("event").accepted_by, ["wang"], "{name}");

        let transfer = Action { note: Some("涉及优抚政策"), ..act("transfer", "wang", Some("preferential")) };
        assert!(w.record_action(1, &transfer, at(1200)).expect("transfer"), "{name}");
        let moved = w.event_state(1).expect("state").expect("event");
        assert_eq!(moved.owner.as_deref(), Some("preferential"), "{name}");
        assert_eq!(moved.transferred_to.as_deref(), Some("preferential"), "{name}");
        assert!(moved.accepted_by.is_empty(), "{name}: an accept before the transfer does not count");
        states.push(Some(moved));

        let feedback =
            Action { link: Some("https://example.gov.cn/notice/1"), ..act("feedback", "li", Some("online")) };
        assert!(w.record_action(1, &feedback, at(1300)).expect("feedback"), "{name}");
        assert!(w.record_action(1, &act("accept", "li", None), at(1400)).expect("accept"), "{name}");
        let ladder = w.ladder_events(at(0)).expect("ladder");
        let e = &ladder[0];
        assert_eq!((e.owner.as_str(), e.transferred, e.since), ("preferential", true, at(1200)), "{name}");
        assert_eq!((e.accepted_at, e.accepts.clone()), (Some(at(1400)), vec![("li".to_string(), at(1400))]));
        assert_eq!(e.feedback, [("online".to_string(), at(1300))], "{name}");
        states.push(w.event_state(1).expect("state"));
        ladders.push(ladder);

        let (iii, ii) = (yuqing::model::Grade::parse("III").expect("III"), yuqing::model::Grade::parse("II"));
        let down = w.downgrade(1, iii, "zhang", "经核实影响有限", at(1500)).expect("downgrade");
        assert_eq!(down, Downgraded::From(ii.expect("II")), "{name}");
        let again = w.downgrade(1, iii, "zhang", "经核实影响有限", at(1510)).expect("downgrade");
        assert_eq!(again, Downgraded::NotLower(Some(iii)), "{name}: recorded once");
        assert_eq!(w.downgrade(99, iii, "zhang", "r", at(1510)).expect("downgrade"), Downgraded::NoEvent, "{name}");
        let lowered = w.event_state(1).expect("state").expect("event");
        assert_eq!((lowered.grade, lowered.downgraded_from), (Some(iii), ii), "{name}");
        assert!(lowered.accepted_by.is_empty(), "{name}: the ladder restarts from the new grade");
        states.push(Some(lowered));
        let ladder = w.ladder_events(at(0)).expect("ladder");
        assert_eq!((ladder[0].grade, ladder[0].since, ladder[0].transferred), (iii, at(1500), false), "{name}");
        assert!(ladder[0].accepts.is_empty(), "{name}");
        ladders.push(ladder);

        assert_eq!(w.mute(1, "wang", "已发布澄清", at(4000), at(1600)).expect("mute"), Some(1), "{name}: A");
        assert_eq!(w.mute(99, "wang", "r", at(4000), at(1600)).expect("mute"), None, "{name}");
        let muted = w.event_state(1).expect("state").expect("event");
        assert_eq!(muted.muted_until, Some(at(4000)), "{name}");
        assert!(muted.quiet_at(at(3999)) && !muted.quiet_at(at(4000)), "{name}");
        states.push(Some(muted));
        let ladder = w.ladder_events(at(0)).expect("ladder");
        assert_eq!(ladder[0].mutes, [(at(1600), at(4000))], "{name}");
        assert!(ladder[0].muted_at(at(2000)) && !ladder[0].muted_at(at(4000)), "{name}");
        ladders.push(ladder);
        drop(w);

        // A run that read event 1's state before the mute commits alert E after it; event 2
        // is closed by an action that withdrew nothing (C was written before it, D after).
        backend.run_sql(
            "INSERT INTO alerts (document_id, event_id, channel, recipients, subject, body_text, body_html, next_attempt_at, created_at)
             VALUES (1, 1, 'email', '[\"wang@example.gov.cn\"]', 'E', 'e', '<p>e</p>', 2000, 1550)",
        );
        let mut w = backend.workflow();
        assert!(w.record_action(2, &act("close", "li", None), at(1650)).expect("close"), "{name}");
        assert!(w.event_state(2).expect("state").expect("event").closed, "{name}");
        assert_eq!(ids(&w.ladder_events(at(0)).expect("ladder")), [1], "{name}: a closed event leaves the ladder");
        assert_eq!(w.withdraw_silenced(at(1700)).expect("guard"), 2, "{name}: C and E");
        assert_eq!(w.withdraw_silenced(at(1701)).expect("guard"), 0, "{name}: once");
        assert!(w.record_action(2, &act("reopen", "li", None), at(1800)).expect("reopen"), "{name}");
        assert!(!w.event_state(2).expect("state").expect("event").closed, "{name}");
        assert_eq!(w.withdraw_silenced(at(1800)).expect("guard"), 0, "{name}: D stays after the reopen");
        states.push(w.event_state(2).expect("state"));

        let close = Withdraw { reason: "事件已办结，撤回未发提醒", due_before: None };
        let closed = w.record_withdrawing(1, &act("close", "li", None), Some(&close), at(1900)).expect("close");
        assert_eq!(closed, Some(1), "{name}: B");
        assert_eq!(w.record_withdrawing(99, &act("close", "li", None), Some(&close), at(1900)).expect("close"), None);
        states.push(w.event_state(1).expect("state"));
        let ladder = w.ladder_events(at(0)).expect("ladder");
        assert_eq!(ids(&ladder), [2], "{name}");
        drop(w);

        // The ladder's notification about event 2, once.
        let mut o = backend.outbox();
        let m = message("email", "请接收：抚恤金发放延迟", &["li@example.gov.cn"]);
        assert!(o.queue_notification(&ladder[0], ("li", 0), &m, at(2000)).expect("queue"), "{name}");
        assert!(!o.queue_notification(&ladder[0], ("li", 0), &m, at(2001)).expect("queue"), "{name}: logged before");
        ladders.push(ladder);
        let mut outbox: Vec<(String, String, Option<String>)> = o
            .outbox_rows(OutboxFilter::All, 20)
            .expect("rows")
            .into_iter()
            .map(|r| (r.subject, r.status, r.last_error))
            .collect();
        outbox.sort();
        let dropped = |s: &str, why: &str| (s.to_string(), "dropped".to_string(), Some(why.to_string()));
        let pending = |s: &str| (s.to_string(), "pending".to_string(), None);
        assert_eq!(
            outbox,
            [
                dropped("A", "事件已静默，撤回静默期内到期的提醒"),
                dropped("B", "事件已办结，撤回未发提醒"),
                dropped("C", "事件已办结，撤回未发提醒"),
                pending("D"),
                dropped("E", "事件静默中，撤回静默期内到期的提醒"),
                pending("请接收：抚恤金发放延迟"),
            ],
            "{name}"
        );
        drop(o);
        // Each action once in the audit trail: the refused downgrade and the actions on a
        // missing event wrote nothing.
        let actions = backend.count("SELECT count(*) FROM event_actions");
        assert_eq!(actions, 9, "{name}");
        assert_eq!(backend.count("SELECT count(*) FROM event_actions WHERE action = 'downgrade'"), 1, "{name}");
        traces.push((name, (states, ladders, outbox)));
    }
    if let [(_, sqlite), (_, postgres)] = traces.as_slice() {
        assert_eq!(sqlite, postgres, "every read the same on both backends");
    }
}
// ---------------------------------------------------------------- the ingest path on both backends

fn document(key: &str, title: &str) -> Document {
    Document {
        source_id: "news".into(),
        keys: vec![format!("link:{key}"), format!("guid:{key}")],
        fingerprint: format!("fp-{key}"),
        link: Some(format!("https://news.example.cn/{key}")),
        guid: Some(key.into()),
        title: title.into(),
        text: format!("{title}：网传临江市烈士陵园将被拆迁。"),
        author: None,
        published_at: Some(t(-60)),
        page_state: None,
    }
}

fn assignment(event_id: i64, seen: i64, grade: Grade, previous: Option<Grade>, new_source: bool) -> Assignment {
    Assignment {
        event_id,
        new_event: previous.is_none(),
        new_source,
        similarity: if previous.is_none() { 1.0 } else { 0.5 },
        evidence: if previous.is_none() { Vec::new() } else { vec!["烈士陵园".into(), "拆迁".into()] },
        seen_at: t(seen),
        event_title: "烈士陵园要拆？".into(),
        sources: 1,
        documents: 1,
        grade,
        grade_reasons: vec![format!("{} 级：测试", grade.as_str())],
        previous_grade: previous,
        owner: Some("veterans".into()),
    }
}

fn item(doc: Document, event: Option<Assignment>, alert: Option<AlertMessage>) -> NewDocument {
    let hit =
        |term: &str, start| Hit {
            field: Field::Title, start, end: start + 4, list: "军人".into(), term: term.into()
        };
    NewDocument {
        document: doc,
        hits: vec![hit("烈士陵园", 0), hit("拆迁", 6)],
        flags: Vec::new(),
        negativity: None,
        to_verify: None,
        event,
        alert,
        extra: Vec::new(),
    }
}

/// What a run left, table by table, each row one comparable text (ids only where both
/// backends give the same ones; text orders sorted here, not by the server's collation).
fn ingest_rows(b: &Backend) -> Vec<Vec<String>> {
    let queries = [
        "SELECT CAST(id AS TEXT) || '|' || source_id || '|' || title || '|' || coalesce(link, '-') || '|'
                || coalesce(CAST(published_at AS TEXT), '-') || '|' || CAST(fetched_at AS TEXT) || '|'
                || coalesce(CAST(CAST(negativity * 100 AS BIGINT) AS TEXT), '-') || '|' || coalesce(negativity_drivers, '-')
         FROM documents",
        "SELECT k.key || '>' || CAST(k.document_id AS TEXT) FROM document_keys k",
        "SELECT CAST(document_id AS TEXT) || '|' || list || '|' || term || '|' || field || '|'
                || CAST(start AS TEXT) || '-' || CAST(\"end\" AS TEXT) FROM hits",
        "SELECT CAST(document_id AS TEXT) || '|' || kind || '|' || reasons FROM flags",
        "SELECT CAST(id AS TEXT) || '|' || title || '|' || CAST(first_document_id AS TEXT) || '|' || first_source_id
                || '|' || CAST(first_seen_at AS TEXT) || '|' || CAST(last_seen_at AS TEXT) || '|'
                || CAST(documents AS TEXT) || '|' || CAST(sources AS TEXT) || '|' || coalesce(grade, '-') || '|'
                || coalesce(grade_reasons, '-') || '|' || coalesce(owner, '-') || '|' || coalesce(CAST(graded_at AS TEXT), '-')
         FROM events",
        "SELECT CAST(document_id AS TEXT) || '|' || CAST(event_id AS TEXT) || '|' || source_id || '|'
                || CAST(seen_at AS TEXT) || '|' || CAST(CAST(similarity * 100 AS BIGINT) AS TEXT) || '|' || coalesce(evidence, '-')
         FROM event_documents",
        "SELECT CAST(id AS TEXT) || '|' || kind || '|' || coalesce(CAST(document_id AS TEXT), '-') || '|'
                || coalesce(CAST(event_id AS TEXT), '-') || '|' || channel || '|' || recipients || '|' || subject || '|'
                || status || '|' || coalesce(held, '-') || '|' || coalesce(last_error, '-') || '|'
                || CAST(next_attempt_at AS TEXT) || '|' || CAST(created_at AS TEXT)
         FROM alerts",
        "SELECT source_id || '|' || coalesce(etag, '-') || '|' || coalesce(last_modified, '-') || '|'
                || coalesce(CAST(last_entries AS TEXT), '-') || '|' || coalesce(CAST(last_attempt_at AS TEXT), '-') || '|'
                || coalesce(CAST(last_success_at AS TEXT), '-') || '|' || coalesce(CAST(last_new_at AS TEXT), '-') || '|'
                || CAST(consecutive_failures AS TEXT)
         FROM source_state",
    ];
    b.sorted_columns(&queries)
}

/// A source run's writes, the same on both backends: two new documents (and a third
/// repeating the first's key, skipped) with their keys, hits, a flag and negativity; one
/// starts a new event, the other joins the seeded one and raises it to I (its pending alert
/// is dropped); an alert each, and an SMS extra; the source's state with its validators.
/// A second run's plain copy of the new event is spaced after the event's last message; a
/// document seen before (by any key) is skipped; a batch without the state moves only
/// `last_new_at`. Every table reads the same on both backends.
#[test]
fn a_source_run_is_stored_the_same_on_both_backends() {
    let mut results: Vec<(&str, Vec<Vec<String>>)> = Vec::new();
    for (name, mut backend) in backends() {
        // A pending alert of the seeded event, written for its grade II.
        let before = message("email", "旧告警", &["wang@example.gov.cn"]);
        backend.outbox().queue_admin_notice("config_invalid", &before, t(0)).expect("queue");
        match &backend {
            Backend::Sqlite { dir, .. } => rusqlite::Connection::open(dir.path().join("yuqing.db"))
                .expect("open")
                .execute_batch("UPDATE alerts SET kind = 'document', event_id = 1, document_id = 1")
                .expect("tie"),
            Backend::Postgres { url, .. } => connect(url)
                .batch_execute("UPDATE alerts SET kind = 'document', event_id = 1, document_id = 1")
                .expect("tie"),
        }

        let mut first = item(document("a", "烈士陵园要拆迁？"), Some(assignment(2, -60, Grade::III, None, true)), None);
        first.document.author = Some("网友甲".into());
        first.flags = vec![Flag { kind: FlagKind::Rumour, reasons: vec!["网传".into()] }];
        first.negativity = Some(Negativity { score: 0.75, drivers: vec!["严重拖欠".into()] });
        first.alert = Some(message("email", "新事件：烈士陵园要拆迁？", &["wang@example.gov.cn"]));
        first.extra = vec![message("sms", "新事件：烈士陵园要拆迁？", &["13800000000"])];
        let joined = item(
            document("b", "转发：烈士陵园要拆迁"),
            Some(assignment(1, 500, Grade::I, Some(Grade::II), true)),
            Some(message("email", "升为 I 级：烈士陵园要拆？", &["wang@example.gov.cn"])),
        );
        let mut again = item(document("c", "同一篇"), None, None);
        again.document.keys = vec!["guid:a".into()];
        let v = Validators { etag: Some("\"n1\"".into()), last_modified: Some("Mon, 02 Mar 2026 01:00:00 GMT".into()) };
        let counts = backend.commit_run("news", &[first.clone(), joined, again], 3, &v, t(10));
        assert_eq!(counts, Committed { documents: 2, hits: 4, alerts: 3 }, "{name}");
        let state = backend.sources().poll_state("news").expect("state");
        assert_eq!(state.0, v, "{name}: the validators of the run");
        assert_eq!(state.1.last_new_at, Some(t(10)), "{name}");

        // The same document again (one key is enough) is not new; a plain copy is spaced.
        let repeat = backend.commit_run("news", &[first.clone()], 1, &v, t(20));
        assert_eq!(repeat, Committed::default(), "{name}");
        let copy = item(
            document("d", "又一篇：烈士陵园要拆迁？"),
            Some(assignment(2, 30, Grade::III, Some(Grade::III), false)),
            Some(message("email", "事件更新：烈士陵园要拆迁？", &["wang@example.gov.cn"])),
        );
        let counts = backend.commit_documents("news", &[copy], t(30));
        assert_eq!(counts, Committed { documents: 1, hits: 2, alerts: 1 }, "{name}");

        let rows = ingest_rows(&backend);
        let [documents, keys, hits, flags, events, event_documents, alerts, states] = rows.as_slice() else {
            panic!("eight tables")
        };
        assert_eq!((documents.len(), keys.len(), hits.len(), flags.len()), (4, 6, 6, 1), "{name}: {documents:?}");
        assert!(documents.iter().any(|d| d.ends_with("|75|[\"严重拖欠\"]")), "{name}: {documents:?}");
        assert_eq!(events.len(), 2, "{name}");
        assert!(events[0].starts_with("1|烈士陵园要拆？|1|forum|1000|"), "{name}: first copy kept: {}", events[0]);
        assert!(events[0].contains("|2|2|I|"), "{name}: two documents, two sources, risen to I: {}", events[0]);
        assert!(events[1].contains("|2|1|III|"), "{name}: the new event, two copies of one source: {}", events[1]);
        assert_eq!(event_documents.len(), 4, "{name}");
        assert_eq!(alerts.len(), 5, "{name}");
        assert!(alerts[0].contains("|dropped|"), "{name}: the pending alert of the risen event: {}", alerts[0]);
        let update = alerts.iter().find(|a| a.contains("事件更新")).expect("update");
        let spaced = t(10).timestamp() + 30 * 60; // the first alert's time + the update spacing
        assert!(update.ends_with(&format!("|rate|-|{spaced}|{}", t(30).timestamp())), "{name}: {update}");
        assert!(alerts.iter().any(|a| a.contains("|sms|[\"13800000000\"]|")), "{name}: the SMS extra");
        let news = states.iter().find(|s| s.starts_with("news|")).expect("news state");
        assert_eq!(
            news,
            &format!("news|\"n1\"|Mon, 02 Mar 2026 01:00:00 GMT|1|{0}|{0}|{1}|0", t(20).timestamp(), t(30).timestamp()),
            "{name}"
        );
        if let Backend::Postgres { url, .. } = &backend {
            // The search table follows event_documents (its trigger), as FTS5 does on SQLite.
            let found: i64 = connect(url)
                .query_one("SELECT count(*) FROM document_search WHERE text ILIKE '%' || $1 || '%'", &[&"又一篇"])
                .expect("search")
                .get(0);
            assert_eq!(found, 1, "the copy is searchable");
        }

        // unseen filters documents any of whose keys is stored.
        let mut by_link = document("x", "只有链接相同");
        by_link.keys = vec!["link:d".into(), "guid:new".into()];
        let fresh = backend.unseen(vec![document("a", "重复"), by_link, document("e", "新的一篇")]);
        assert_eq!(fresh.iter().map(|d| d.title.as_str()).collect::<Vec<_>>(), ["新的一篇"], "{name}");
        results.push((name, rows));
    }
    if let [(_, sqlite), (_, postgres)] = results.as_slice() {
        assert_eq!(sqlite, postgres, "every table the same on both backends");
    }
}

/// A run that fails in its last write (its second alert, refused by an index the test adds
/// on both backends) leaves nothing: no document, key, hit, event or alert, and the
/// source's state as it was.
#[test]
fn a_failed_run_leaves_nothing_on_both_backends() {
    for (name, mut backend) in backends() {
        let before = ingest_rows(&backend);
        let ddl = "CREATE UNIQUE INDEX one_subject ON alerts(subject)";
        match &backend {
            Backend::Sqlite { dir, .. } => rusqlite::Connection::open(dir.path().join("yuqing.db"))
                .expect("open")
                .execute_batch(ddl)
                .expect("index"),
            Backend::Postgres { url, .. } => connect(url).batch_execute(ddl).expect("index"),
        }
        let same = message("email", "同一主题", &["wang@example.gov.cn"]);
        let one = item(document("a", "第一篇"), Some(assignment(2, 0, Grade::III, None, true)), Some(same.clone()));
        let two = item(document("b", "第二篇"), None, Some(same));
        let v = Validators { etag: Some("\"n2\"".into()), last_modified: None };
        let failed = match &mut backend {
            Backend::Sqlite { store, .. } => store.commit_run("forum", &[one.clone(), two.clone()], 2, &v, t(10)),
            Backend::Postgres { store, .. } => store.commit_run("forum", &[one.clone(), two.clone()], 2, &v, t(10)),
        };
        assert!(failed.is_err(), "{name}: the second alert is refused");
        assert_eq!(ingest_rows(&backend), before, "{name}: nothing of the run is left");
        assert_eq!(backend.unseen(vec![one.document.clone()]).len(), 1, "{name}: its keys are not stored");
        // Without the index the same run goes in whole.
        let drop = "DROP INDEX one_subject";
        match &backend {
            Backend::Sqlite { dir, .. } => rusqlite::Connection::open(dir.path().join("yuqing.db"))
                .expect("open")
                .execute_batch(drop)
                .expect("drop"),
            Backend::Postgres { url, .. } => connect(url).batch_execute(drop).expect("drop"),
        }
        assert_eq!(backend.commit_run("forum", &[one, two], 2, &v, t(10)).documents, 2, "{name}");
    }
}

/// Two daemons storing the same document at once (from two sources, sharing a key) store it
/// once on PostgreSQL: the second one's key insert waits for the first's commit, adds
/// nothing, and the second takes its document row back in its own transaction (its other
/// key, hits and alert with it); the rest of its run (the source's state) commits.
#[test]
fn a_document_two_daemons_store_at_once_is_stored_once() {
    let Some(cluster) = cluster() else { return };
    let url = database(&cluster);
    drop(Store::with_pg_client(connect(&url), lease("setup", 60)).expect("migrate"));
    // The first daemon's transaction, not yet committed.
    let mut first = connect(&url);
    let mut tx = first.transaction().expect("tx");
    let id: i64 = tx
        .query_one(
            "INSERT INTO documents (source_id, fingerprint, title, text, fetched_at)
             VALUES ('forum', 'fp-same', '同一篇', '正文', 0) RETURNING id",
            &[],
        )
        .expect("document")
        .get(0);
    tx.execute("INSERT INTO document_keys (key, document_id) VALUES ('link:same', $1)", &[&id]).expect("key");
    let second = {
        let url = url.clone();
        std::thread::spawn(move || {
            let mut store = Store::with_pg_client(connect(&url), lease("yuqing-b", 60)).expect("connect");
            let mut doc = document("same", "同一篇");
            doc.keys = vec!["guid:other".into(), "link:same".into()];
            let alert = message("email", "同一篇", &["wang@example.gov.cn"]);
            let run = item(doc, Some(assignment(7, 0, Grade::III, None, true)), Some(alert));
            store.commit_run("news", &[run], 1, &Validators::default(), t(0)).expect("commit")
        })
    };
    // Until the second waits for the first's key (a wait, not a timing asserted).
    let mut watch = connect(&url);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let waiting: i64 = watch
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .expect("activity")
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the second daemon never waited for the key");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    tx.commit().expect("first commits");
    let counts = second.join().expect("second daemon");
    assert_eq!(counts, Committed::default(), "not new after all");
    let mut pg = connect(&url);
    let count = |pg: &mut postgres::Client, table: &str| -> i64 {
        pg.query_one(&format!("SELECT count(*) FROM {table}"), &[]).expect("count").get(0)
    };
    assert_eq!(count(&mut pg, "documents"), 1, "stored once");
    let keys: Vec<String> =
        pg.query("SELECT key FROM document_keys", &[]).expect("keys").iter().map(|r| r.get(0)).collect();
    assert_eq!(keys, ["link:same"], "the second's other key went back with its row");
    for table in ["hits", "events", "event_documents", "alerts"] {
        assert_eq!(count(&mut pg, table), 0, "{table}");
    }
    let state: Option<i64> =
        pg.query_one("SELECT last_success_at FROM source_state WHERE source_id = 'news'", &[]).expect("state").get(0);
    assert_eq!(state, Some(t(0).timestamp()), "the run itself committed");
}

// ---------------------------------------------------------------- briefings, retention and policies on both backends

use yuqing::store::{BriefingLogged, BriefingRecord, NewPolicyLevel, PolicyMatch, PruneReport, Retention};

/// Where a second connection (another daemon's store) finds a backend's database.
#[derive(Clone)]
enum Opener {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Opener {
    fn open(&self, owner: &str) -> Store {
        match self {
            Opener::Sqlite(path) => Store::open(path).expect("open sqlite"),
            Opener::Postgres(url) => Store::with_pg_client(connect(url), lease(owner, 60)).expect("connect"),
        }
    }
}

impl Backend {
    fn store(&mut self) -> &mut Store {
        match self {
            Backend::Sqlite { store, .. } => store,
            Backend::Postgres { store, .. } => store,
        }
    }

    fn opener(&self) -> Opener {
        match self {
            Backend::Sqlite { dir, .. } => Opener::Sqlite(dir.path().join("yuqing.db")),
            Backend::Postgres { url, .. } => Opener::Postgres(url.clone()),
        }
    }
}

/// Every value of `rows` equal on all backends; the rows of the first.
fn same_on_all<T: PartialEq + std::fmt::Debug>(rows: Vec<(&'static str, T)>) -> T {
    let mut rows = rows.into_iter();
    let (first_name, first) = rows.next().expect("a backend");
    for (name, other) in rows {
        assert_eq!(other, first, "{name} differs from {first_name}");
    }
    first
}

fn daily(due: i64, start: i64, events: usize, open: usize) -> BriefingRecord<'static> {
    BriefingRecord { briefing_id: "daily", due_at: t(due), period_start: t(start), events, open }
}

const BRIEFINGS_SENT: &str = "SELECT briefing_id || ' ' || CAST(due_at - 1772413200 AS TEXT) || ' '
        || CAST(period_start - 1772413200 AS TEXT) || ' ' || CAST(events AS TEXT) || ' ' || CAST(open AS TEXT) || ' '
        || coalesce(CAST(alert_id AS TEXT), '-') || ' ' || CAST(at - 1772413200 AS TEXT)
    FROM briefings_sent ORDER BY briefing_id, due_at";

/// The briefing log on both backends: a due time is claimed once with its alerts (email
/// and an IM post), a repeat does nothing, a period with nothing to report is logged
/// without an alert, and `since_last` finds the latest due time before a given one; the
/// log's rows are the same on both.
#[test]
fn the_briefing_log_behaves_the_same_on_both_backends() {
    assert_eq!(t(0).timestamp(), 1_772_413_200, "BRIEFINGS_SENT's offset");
    let mut logs = Vec::new();
    for (name, mut backend) in backends() {
        let s = backend.store();
        let mail = message("email", "【舆情简报】每日舆情简报 2026-03-03", &["陈局长 <chen@example.gov.cn>"]);
        let post = message("robot:duty", "【舆情简报】每日舆情简报 2026-03-03", &["robot:duty"]);
        assert!(!s.briefing_done("daily", t(86_400)).expect("done"), "{name}");
        assert_eq!(s.last_briefing_before("daily", t(86_400)).expect("last"), None, "{name}");
        let first = s.record_briefing(&daily(86_400, 0, 2, 1), &[mail.clone(), post], t(86_401)).expect("record");
        let BriefingLogged::Queued(alert_id) = first else { panic!("{name}: queued, got {first:?}") };
        let again = s.record_briefing(&daily(86_400, 0, 5, 5), &[mail], t(86_500)).expect("record");
        assert_eq!(again, BriefingLogged::AlreadyDone, "{name}: once per due time");
        assert!(s.briefing_done("daily", t(86_400)).expect("done"), "{name}");
        assert!(!s.briefing_done("weekly", t(86_400)).expect("done"), "{name}: another briefing");
        let quiet = s.record_briefing(&daily(172_800, 86_400, 0, 0), &[], t(172_801)).expect("record");
        assert_eq!(quiet, BriefingLogged::Skipped, "{name}: logged, nothing queued");
        assert_eq!(s.last_briefing_before("daily", t(172_800)).expect("last"), Some(t(86_400)), "{name}");
        assert_eq!(s.last_briefing_before("daily", t(999_999)).expect("last"), Some(t(172_800)), "{name}");
        let due = s.due_alerts(None, 10).expect("due");
        let queued: Vec<(i64, &str, &str)> =
            due.iter().map(|a| (a.id, a.kind.as_str(), a.message.channel.as_str())).collect();
        assert_eq!(queued, [(alert_id, "briefing", "email"), (alert_id + 1, "briefing", "robot:duty")], "{name}");
        logs.push((name, backend.column(BRIEFINGS_SENT)));
    }
    let log = same_on_all(logs);
    assert_eq!(log, ["daily 86400 0 2 1 1 86401", "daily 172800 86400 0 0 - 172801"]);
}

/// Two daemons (two stores, two connections, two threads) racing for the same briefings:
/// each due time is claimed by exactly one of them, which queued its alert; the other got
/// `AlreadyDone` and queued nothing. On SQLite too (the file's write lock orders them).
#[test]
fn two_daemons_racing_for_a_briefing_send_it_once() {
    const DUE_TIMES: i64 = 25;
    let mut totals = Vec::new();
    for (name, backend) in backends() {
        let opener = backend.opener();
        let start = Arc::new(std::sync::Barrier::new(2));
        let racers: Vec<_> = ["yuqing-a", "yuqing-b"]
            .into_iter()
            .map(|who| {
                let (opener, start) = (opener.clone(), start.clone());
                std::thread::spawn(move || {
                    let mut store = opener.open(who);
                    start.wait();
                    (1..=DUE_TIMES)
                        .map(|day| {
                            let m = message(
                                "email",
                                &format!("【舆情简报】第 {day} 期（{who}）"),
                                &["chen@example.gov.cn"],
                            );
                            let record = daily(day * 86_400, (day - 1) * 86_400, 1, 0);
                            store.record_briefing(&record, &[m], t(day * 86_400 + 1)).expect("record")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let outcomes: Vec<Vec<BriefingLogged>> = racers.into_iter().map(|h| h.join().expect("racer")).collect();
        let mut wins = 0;
        for day in 0..DUE_TIMES as usize {
            let won: Vec<bool> = outcomes.iter().map(|o| matches!(o[day], BriefingLogged::Queued(_))).collect();
            assert_eq!(won.iter().filter(|w| **w).count(), 1, "{name}: due time {day}: {won:?}");
            assert!(
                outcomes.iter().all(|o| matches!(o[day], BriefingLogged::Queued(_) | BriefingLogged::AlreadyDone)),
                "{name}"
            );
            wins += 1;
        }
        let alerts = backend.count("SELECT count(*) FROM alerts WHERE kind = 'briefing'");
        let logged = backend.count("SELECT count(*) FROM briefings_sent WHERE alert_id IN (SELECT id FROM alerts)");
        assert_eq!((alerts, logged), (DUE_TIMES, DUE_TIMES), "{name}: one alert per due time, the winner's");
        totals.push((name, wins));
    }
    assert_eq!(same_on_all(totals), DUE_TIMES as usize);
}

/// A store with something of every kind a prune decides on (days from 0; the prune runs at
/// day 400, keeping documents 10 days and the assessment 100): event 1 (the base seed's, day
/// 0) is stale with its action, notification, link use and sent alert 1 (with an attempt);
/// document 2 has hits, a flag, engagement, a policy row, a key and a comment under it;
/// document 3 is held by pending alert 2; document 4 by young event 2; document 5 is young;
/// 6 is free; 7 only has an old sent alert 3 (rule 2 takes it first); event 3 is old but
/// acted on at day 350; event 4 is old with pending alert 4.
const PRUNE_SEED: &str = "
    INSERT INTO documents (id, source_id, fingerprint, title, text, fetched_at) VALUES
        (2, 'forum', 'f2', '二', '正文', 1000), (3, 'forum', 'f3', '三', '正文', 1000),
        (4, 'forum', 'f4', '四', '正文', 2000), (5, 'forum', 'f5', '五', '正文', 34128000),
        (6, 'forum', 'f6', '六', '正文', 3000), (7, 'forum', 'f7', '七', '正文', 4000);
    INSERT INTO document_keys (key, document_id) VALUES
        ('guid:forum:f1', 1), ('link:two', 2), ('guid:forum:f3', 3), ('guid:forum:f5', 5);
    INSERT INTO hits (document_id, list, term, field, start, \"end\") VALUES
        (2, 'watch', '烈士', 'title', 0, 6), (2, 'watch', '陵园', 'text', 0, 6), (5, 'watch', '陵园', 'text', 3, 9);
    INSERT INTO flags (document_id, kind, reasons) VALUES (2, 'rumour', '[\"网传\"]'), (5, 'doubt', '[\"？\"]');
    INSERT INTO engagement (document_id, observed_at, reposts, comments, likes) VALUES (2, 1100, 5, 1, 0), (5, 34128000, 9, 2, 1);
    INSERT INTO policy_documents (policy_id, document_id, terms, groups) VALUES
        ('p1', 2, '[\"抚恤\"]', '[]'), ('p1', 5, '[\"抚恤\"]', '[]');
    INSERT INTO comments (source_id, comment_id, post_key, text) VALUES ('weibo', 'c1', 'link:two', '跟帖'),
        ('weibo', 'c2', 'guid:forum:f5', '跟帖二');
    INSERT INTO events (id, title, first_document_id, first_source_id, first_seen_at, last_seen_at, documents, sources, created_at)
    VALUES (2, '四', 4, 'forum', 30240000, 30240000, 1, 1, 30240000),
           (3, '三', 3, 'forum', 1000, 1000, 1, 1, 1000),
           (4, '三又', 3, 'forum', 1000, 1000, 1, 1, 1000);
    INSERT INTO event_documents (document_id, event_id, source_id, seen_at, similarity) VALUES
        (4, 2, 'forum', 30240000, 1.0), (3, 3, 'forum', 1000, 1.0);
    INSERT INTO event_actions (event_id, action, actor, at) VALUES (1, 'accept', 'wang', 1500), (3, 'feedback', 'li', 30240000);
    INSERT INTO notifications (event_id, person, step, channel, alert_id, at) VALUES (1, 'wang', 0, 'email', 1, 1100);
    INSERT INTO link_uses (token_hash, event_id, person, action, outcome, at) VALUES ('h1', 1, 'wang', 'accept', 'ok', 1500);
    INSERT INTO alerts (id, kind, document_id, event_id, channel, recipients, subject, body_text, body_html, status,
                        next_attempt_at, created_at) VALUES
        (1, 'document', 1, 1, 'email', '[]', '一', 't', 'h', 'sent', 1100, 1100),
        (2, 'document', 3, NULL, 'email', '[]', '二', 't', 'h', 'pending', 1200, 1200),
        (3, 'document', 7, NULL, 'email', '[]', '三', 't', 'h', 'sent', 1300, 1300),
        (4, 'document', NULL, 4, 'email', '[]', '四', 't', 'h', 'pending', 1400, 1400);
    INSERT INTO alert_attempts (alert_id, at, ok) VALUES (1, 1100, 1), (3, 1300, 1);";

/// What is left of a pruned store, table by table, as text both backends give alike.
fn remaining(b: &Backend) -> Vec<(&'static str, Vec<String>)> {
    [
        ("documents", "SELECT CAST(id AS TEXT) FROM documents ORDER BY id"),
        ("keys", "SELECT key || ' ' || coalesce(CAST(document_id AS TEXT), '-') FROM document_keys ORDER BY key"),
        ("hits", "SELECT CAST(document_id AS TEXT) || ' ' || term FROM hits ORDER BY id"),
        ("flags", "SELECT CAST(document_id AS TEXT) || ' ' || kind FROM flags ORDER BY document_id, kind"),
        ("engagement", "SELECT CAST(document_id AS TEXT) FROM engagement ORDER BY document_id"),
        ("policy", "SELECT policy_id || ' ' || CAST(document_id AS TEXT) FROM policy_documents ORDER BY 1"),
        ("comments", "SELECT comment_id FROM comments ORDER BY comment_id"),
        ("events", "SELECT CAST(id AS TEXT) FROM events ORDER BY id"),
        ("event_documents", "SELECT CAST(document_id AS TEXT) FROM event_documents ORDER BY document_id"),
        ("actions", "SELECT CAST(event_id AS TEXT) || ' ' || action FROM event_actions ORDER BY id"),
        ("notifications", "SELECT CAST(event_id AS TEXT) FROM notifications ORDER BY 1"),
        ("link_uses", "SELECT token_hash FROM link_uses ORDER BY 1"),
        ("alerts", "SELECT CAST(id AS TEXT) || ' ' || status FROM alerts ORDER BY id"),
        ("attempts", "SELECT CAST(alert_id AS TEXT) FROM alert_attempts ORDER BY 1"),
    ]
    .into_iter()
    .map(|(table, sql)| (table, b.column(sql)))
    .collect()
}

fn sum(reports: &[PruneReport]) -> PruneReport {
    reports.iter().fold(PruneReport::default(), |a, r| PruneReport {
        documents: a.documents + r.documents,
        hits: a.hits + r.hits,
        events: a.events + r.events,
        actions: a.actions + r.actions,
        alerts: a.alerts + r.alerts,
        comments: a.comments + r.comments,
        keys_kept: a.keys_kept + r.keys_kept,
    })
}

/// Pruning a seeded store gives the same counts and leaves the same rows on both backends:
/// a dry run counts exactly what the batches then remove (and changes nothing, the time of
/// the last prune neither); batches of 2 take the lowest ids first, then stop; identity
/// keys stay, detached; what is young, pending or acted on stays.
#[test]
fn a_prune_leaves_the_same_rows_on_both_backends() {
    let day = |d: i64| DateTime::from_timestamp(d * 86_400, 0).unwrap();
    let retention = Retention { documents_days: 10, assessment_days: 100 };
    let mut results = Vec::new();
    for (name, mut backend) in backends_with(PRUNE_SEED) {
        let before = remaining(&backend);
        let s = backend.store();
        let dry = s.prune(retention, day(400), None, true).expect("dry run");
        assert_eq!(s.last_prune_at().expect("last"), None, "{name}: a dry run is no prune");
        assert_eq!(remaining(&backend), before, "{name}: a dry run changes nothing");
        let s = backend.store();
        let mut batches = Vec::new();
        loop {
            let report = s.prune(retention, day(400), Some(2), false).expect("prune");
            if report.documents == 0 {
                break;
            }
            batches.push(report);
            assert!(batches.len() < 10, "{name}: batches end");
        }
        assert_eq!(s.last_prune_at().expect("last"), Some(day(400)), "{name}");
        assert_eq!(sum(&batches), dry, "{name}: the dry run counted what the prune removed");
        results.push((name, (batches, remaining(&backend))));
    }
    let (batches, left) = same_on_all(results);
    assert_eq!(batches.iter().map(|b| b.documents).collect::<Vec<_>>(), [2, 2], "documents 1, 2 then 6, 7");
    let total = sum(&batches);
    assert_eq!(
        total,
        PruneReport { documents: 4, hits: 2, events: 1, actions: 1, alerts: 2, comments: 1, keys_kept: 2 }
    );
    let left: std::collections::HashMap<&str, Vec<String>> = left.into_iter().collect();
    assert_eq!(left["documents"], ["3", "4", "5"]);
    assert_eq!(left["keys"], ["guid:forum:f1 -", "guid:forum:f3 3", "guid:forum:f5 5", "link:two -"]);
    assert_eq!(left["hits"], ["5 陵园"]);
    assert_eq!(left["policy"], ["p1 5"]);
    assert_eq!(left["comments"], ["c2"]);
    assert_eq!(left["events"], ["2", "3", "4"]);
    assert_eq!(left["actions"], ["3 feedback"]);
    assert!(left["notifications"].is_empty() && left["link_uses"].is_empty());
    assert_eq!(left["alerts"], ["2 pending", "4 pending"]);
    assert!(left["attempts"].is_empty());
}

/// The low-disk notice on both backends: one per episode, a new one after free space came
/// back; the flag reads the same.
#[test]
fn the_low_disk_flag_behaves_the_same_on_both_backends() {
    for (name, mut backend) in backends() {
        let s = backend.store();
        let notice = message("email", "磁盘空间不足", &["admin@example.gov.cn"]);
        assert!(!s.disk_low_notified().expect("flag"), "{name}");
        assert!(s.notify_disk_low(&notice, t(0)).expect("notify"), "{name}: first told");
        assert!(!s.notify_disk_low(&notice, t(60)).expect("notify"), "{name}: once per episode");
        assert!(s.disk_low_notified().expect("flag"), "{name}");
        assert!(s.clear_disk_low().expect("clear"), "{name}");
        assert!(!s.clear_disk_low().expect("clear"), "{name}: no episode open");
        assert!(s.notify_disk_low(&notice, t(120)).expect("notify"), "{name}: a new episode");
        assert_eq!(backend.count("SELECT count(*) FROM alerts WHERE kind = 'disk_low'"), 2, "{name}");
    }
}

/// Documents for the policy watch: published times, negativity, flags and two engagement
/// observations of document 2 (the later one counts).
const POLICY_SEED: &str = "
    INSERT INTO documents (id, source_id, fingerprint, title, text, published_at, fetched_at, negativity) VALUES
        (2, 'weibo', 'p2', '抚恤金调整', '抚恤金标准上调', 2000, 2100, 0.75),
        (3, 'forum', 'p3', '无关', '天气', NULL, 3000, NULL),
        (4, 'news', 'p4', '抚恤政策解读', '解读', NULL, 4000, 0.25);
    INSERT INTO flags (document_id, kind, reasons) VALUES (2, 'rumour', '[]'), (2, 'doubt', '[]'), (2, 'rumour', '[]');
    INSERT INTO engagement (document_id, observed_at, reposts, comments, likes) VALUES
        (2, 2200, 1, 1, 1), (2, 2300, 10, NULL, 5);";

/// A policy's scan, documents and levels round trip the same on both backends: a scan
/// starts at 0, reads documents in id order in batches, records what it found (found again:
/// replaced) and only moves forward; the documents come back with flags and the latest
/// engagement; a level is recorded once per change (a stale `after` records nothing) with
/// its alert; a new selection forgets the documents and keeps the levels.
#[test]
fn a_policy_scan_round_trips_the_same_on_both_backends() {
    let found = |id: i64, terms: &[&str]| PolicyMatch {
        document_id: id,
        terms: terms.iter().map(|t| (*t).to_string()).collect(),
        groups: vec!["待遇".into()],
    };
    let mut results = Vec::new();
    for (name, mut backend) in backends_with(POLICY_SEED) {
        let s = backend.store();
        assert_eq!(s.policy_scan("p1").expect("scan"), None, "{name}");
        s.restart_policy_scan("p1", "抚恤|待遇").expect("restart");
        let scan = s.policy_scan("p1").expect("scan").expect("started");
        assert_eq!((scan.selection.as_str(), scan.scanned_to), ("抚恤|待遇", 0), "{name}");
        let first = s.documents_after(0, 2).expect("batch");
        let rest = s.documents_after(first.last().expect("a batch").id, 100).expect("batch");
        let read: Vec<i64> = first.iter().chain(&rest).map(|d| d.id).collect();
        assert_eq!(read, [1, 2, 3, 4], "{name}");
        assert_eq!(rest[0].title, "无关", "{name}");
        s.record_policy_scan("p1", 2, &[found(1, &["陵园"]), found(2, &["抚恤"])]).expect("record");
        s.record_policy_scan("p1", 4, &[found(1, &["抚恤"]), found(4, &["抚恤", "政策"])]).expect("record");
        s.record_policy_scan("p1", 3, &[]).expect("an older batch");
        assert_eq!(s.policy_scan("p1").expect("scan").expect("scan").scanned_to, 4, "{name}: only forward");
        assert_eq!(s.policy_document_count("p1").expect("count"), 3, "{name}");
        let docs = s.policy_documents("p1", DateTime::from_timestamp(1000, 0).unwrap(), t(0)).expect("documents");
        let window = s
            .policy_documents(
                "p1",
                DateTime::from_timestamp(1000, 0).unwrap(),
                DateTime::from_timestamp(3000, 0).unwrap(),
            )
            .expect("documents");
        assert_eq!(window.iter().map(|d| d.id).collect::<Vec<_>>(), [1, 2], "{name}: by published, else fetched");

        let reasons = vec!["负面占比 75%".to_string()];
        let medium = NewPolicyLevel { level: "medium", reasons: &reasons, day: "2026-03-02" };
        let notice = message("email", "【政策风险】抚恤政策 风险升至中", &["head@example.gov.cn"]);
        assert!(s.record_policy_level("p1", None, &medium, Some(&notice), t(0)).expect("level"), "{name}");
        assert!(!s.record_policy_level("p1", None, &medium, Some(&notice), t(5)).expect("level"), "{name}: told once");
        let low = NewPolicyLevel { level: "low", reasons: &[], day: "2026-03-03" };
        let latest = s.policy_levels("p1").expect("levels")[0].id;
        assert!(s.record_policy_level("p1", Some(latest), &low, None, t(86_400)).expect("level"), "{name}");
        let levels = s.policy_levels("p1").expect("levels");
        s.restart_policy_scan("p1", "抚恤").expect("restart");
        assert_eq!(s.policy_document_count("p1").expect("count"), 0, "{name}: a new selection rescans");
        assert_eq!(s.policy_levels("p1").expect("levels"), levels, "{name}: the levels stay");
        let alerts = backend.column("SELECT kind || ' ' || subject FROM alerts ORDER BY id");
        results.push((name, (docs, levels, alerts)));
    }
    let (docs, levels, alerts) = same_on_all(results);
    /// id, time, terms, negativity, interactions.
    type Summary = (i64, i64, Vec<String>, Option<f64>, i64);
    let summary: Vec<Summary> =
        docs.iter().map(|d| (d.id, d.at.timestamp(), d.terms.clone(), d.negativity, d.interactions)).collect();
    let terms = |t: &[&str]| t.iter().map(|t| (*t).to_string()).collect::<Vec<_>>();
    assert_eq!(
        summary,
        [
            (1, 1000, terms(&["抚恤"]), None, 0),
            (2, 2000, terms(&["抚恤"]), Some(0.75), 15),
            (4, 4000, terms(&["抚恤", "政策"]), Some(0.25), 0),
        ],
        "found again: replaced; published else fetched; the latest engagement (10 + 0 + 5)"
    );
    assert_eq!(docs[1].flags, [FlagKind::Rumour, FlagKind::Doubt], "each kind once, in order");
    assert_eq!(
        levels.iter().map(|l| (l.level.as_str(), l.alert_id.is_some())).collect::<Vec<_>>(),
        [("medium", true), ("low", false)]
    );
    assert_eq!(alerts, ["policy_risk 【政策风险】抚恤政策 风险升至中"]);
}

/// Two daemons recording the same change of a policy's level at once on PostgreSQL (two
/// connections, two threads): exactly one records it and queues its alert. PostgreSQL only:
/// SQLite runs one daemon per file (`daemon::lock`), and a second writer there whose
/// transaction read first is refused (SQLITE_BUSY), not serialised.
#[test]
fn two_daemons_record_a_policy_level_change_once() {
    for (name, backend) in backends().into_iter().filter(|(name, _)| *name == "postgres") {
        let opener = backend.opener();
        let start = Arc::new(std::sync::Barrier::new(2));
        let racers: Vec<_> = ["yuqing-a", "yuqing-b"]
            .into_iter()
            .map(|who| {
                let (opener, start) = (opener.clone(), start.clone());
                std::thread::spawn(move || {
                    let mut store = opener.open(who);
                    let reasons = vec![format!("{who} 判定")];
                    start.wait();
                    (0..20)
                        .map(|i| {
                            let policy = format!("p{i}");
                            let high = NewPolicyLevel { level: "high", reasons: &reasons, day: "2026-03-02" };
                            let m = message("email", &format!("【政策风险】{policy}"), &["head@example.gov.cn"]);
                            store.record_policy_level(&policy, None, &high, Some(&m), t(0)).expect("level")
                        })
                        .collect::<Vec<bool>>()
                })
            })
            .collect();
        let outcomes: Vec<Vec<bool>> = racers.into_iter().map(|h| h.join().expect("racer")).collect();
        for i in 0..20 {
            assert_eq!(outcomes.iter().filter(|o| o[i]).count(), 1, "{name}: policy p{i}: {outcomes:?}");
        }
        assert_eq!(backend.count("SELECT count(*) FROM policy_levels"), 20, "{name}");
        assert_eq!(backend.count("SELECT count(*) FROM alerts WHERE kind = 'policy_risk'"), 20, "{name}");
    }
}

// ---- console, reads, gauges, reports and search on both backends

use yuqing::store::{ConsoleSession, SearchQuery};

fn store_of(b: &mut Backend) -> &mut Store {
    match b {
        Backend::Sqlite { store, .. } => store,
        Backend::Postgres { store, .. } => store,
    }
}

/// Events 2 (grade III, in the report's period) and 3 (no grade, after it) beside the seed's
/// event 1, their documents with hits, flags (document 1's written doubt first), negativity,
/// workflow actions, a comment on document 1, and alerts in every state the gauges count.
/// A fourth document has no hits and no event.
const READS_SEED: &str = "
    UPDATE documents SET negativity = 0.8, negativity_drivers = '[\"拆迁\"]', link = 'https://example.com/1' WHERE id = 1;
    INSERT INTO documents (id, source_id, fingerprint, title, text, fetched_at, published_at, link, negativity, to_verify)
    VALUES (2, 'news', 'f2', '抚恤金发放延迟', '第四季度抚恤金尚未发放，涨幅50%的说法不实。', 1100, 1050, 'https://example.com/2', 0.4,
            '谣言线索：不实；文本分类模型 0.12 < 0.44'),
           (3, 'news', 'f3', 'Pension DELAY', '涨幅5000元？网传消息。', 1200, NULL, NULL, NULL, NULL),
           (4, 'forum', 'f4', '无关的帖子', '没有命中。', 1300, NULL, NULL, NULL, NULL);
    INSERT INTO document_keys (key, document_id) VALUES ('guid:f1', 1), ('guid:f2', 2);
    INSERT INTO events (id, title, first_document_id, first_source_id, first_seen_at, last_seen_at,
                        documents, sources, created_at, grade, owner)
    VALUES (2, '抚恤金发放延迟', 2, 'news', 1100, 1100, 1, 1, 1100, 'III', 'preferential'),
           (3, 'Pension', 3, 'news', 1200, 1200, 1, 1, 1200, NULL, NULL);
    INSERT INTO event_documents (document_id, event_id, source_id, seen_at, similarity)
    VALUES (2, 2, 'news', 1100, 1.0), (3, 3, 'news', 1200, 1.0);
    INSERT INTO hits (document_id, list, term, field, start, \"end\")
    VALUES (1, '军人', '拆迁', 'text', 10, 12), (1, '军人', '烈士陵园', 'title', 0, 4),
           (2, '优抚', '抚恤金', 'text', 4, 7), (2, '优抚', '抚恤金', 'title', 0, 3), (2, '军人', '发放', 'title', 3, 5),
           (3, '优抚', 'pension', 'title', 0, 7);
    INSERT INTO flags (document_id, kind, reasons)
    VALUES (1, 'doubt', '[\"为什么\"]'), (1, 'rumour', '[\"网传\",\"转发扩散\"]'), (2, 'misunderstanding', '[\"误读\"]');
    INSERT INTO event_actions (event_id, action, actor, target, note, at)
    VALUES (1, 'accept', 'wang', NULL, NULL, 1050), (1, 'transfer', 'wang', 'preferential', '涉及优抚政策', 1060),
           (2, 'feedback', 'li', 'online', NULL, 2000);
    INSERT INTO comments (source_id, comment_id, post_key, author, text, published_at, likes)
    VALUES ('forum', 'c1', 'guid:f1', '网友', '真的要拆？', 1010, 3);
    INSERT INTO alerts (document_id, event_id, channel, recipients, subject, body_text, body_html, status, held,
                        next_attempt_at, created_at, sent_at)
    VALUES (1, 1, 'email', '[\"wang@example.gov.cn\"]', 'due', 'b', '<p>b</p>', 'pending', NULL, 0, 900, NULL),
           (1, 1, 'email', '[\"wang@example.gov.cn\"]', 'quiet', 'b', '<p>b</p>', 'pending', 'quiet', 4102444800, 800, NULL),
           (2, 2, 'sms', '[\"13800000000\"]', 'sent', 'b', '<p>b</p>', 'sent', NULL, 0, 950, 1500),
           (2, 2, 'email', '[\"li@example.gov.cn\"]', 'dead', 'b', '<p>b</p>', 'dead', NULL, 0, 960, NULL);";

/// The web console's rows on both backends: a password and its replacement (which ends the
/// person's sessions), a session valid until its expiry, sign-out, a form token used once,
/// and the detectors' signals of an event (flags by document and kind, the most negative
/// document first).
#[test]
fn console_sessions_and_signals_behave_the_same_on_both_backends() {
    let mut signals = Vec::new();
    for (name, mut backend) in backends_with(READS_SEED) {
        let s = store_of(&mut backend);
        assert_eq!(s.console_password("wang").expect("password"), None, "{name}");
        s.set_console_password("wang", "$argon2id$one", at(100)).expect("set");
        assert_eq!(s.console_password("wang").expect("password").as_deref(), Some("$argon2id$one"), "{name}");
        let session = ConsoleSession { person: "wang".into(), form_key: "ab12".into(), expires_at: at(1000) };
        s.create_console_session("tok-1", &session, at(200)).expect("session");
        assert_eq!(s.console_session("tok-1", at(999)).expect("read"), Some(session.clone()), "{name}");
        assert_eq!(s.console_session("tok-1", at(1000)).expect("read"), None, "{name}: expired");
        assert_eq!(s.console_session("tok-x", at(300)).expect("read"), None, "{name}");
        assert!(s.use_console_form("form-1", at(300)).expect("form"), "{name}");
        assert!(!s.use_console_form("form-1", at(301)).expect("form"), "{name}: used before");
        // A new session a week later removes the expired one and the old form token.
        let later = ConsoleSession { expires_at: at(900_000), ..session.clone() };
        s.create_console_session("tok-2", &later, at(700_000)).expect("session");
        assert_eq!(backend.count("SELECT count(*) FROM console_sessions"), 1, "{name}");
        assert_eq!(backend.count("SELECT count(*) FROM console_forms_used"), 0, "{name}");
        let s = store_of(&mut backend);
        assert!(s.use_console_form("form-1", at(700_001)).expect("form"), "{name}: forgotten after a week");
        s.set_console_password("wang", "$argon2id$two", at(700_100)).expect("replace");
        assert_eq!(s.console_password("wang").expect("password").as_deref(), Some("$argon2id$two"), "{name}");
        assert_eq!(s.console_session("tok-2", at(700_200)).expect("read"), None, "{name}: ended by the new password");
        s.create_console_session("tok-3", &later, at(700_300)).expect("session");
        s.end_console_session("tok-3").expect("sign out");
        assert_eq!(s.console_session("tok-3", at(700_400)).expect("read"), None, "{name}");

        let one = s.event_signals(1).expect("signals");
        let kinds: Vec<&str> = one.flags.iter().map(|(_, k, _)| k.as_str()).collect();
        assert_eq!(kinds, ["doubt", "rumour"], "{name}: by kind name");
        assert_eq!(one.flags[1].2, ["网传", "转发扩散"], "{name}");
        assert_eq!(one.negativity, [(1, 0.8, vec!["拆迁".to_string()])], "{name}");
        assert_eq!(
            s.event_signals(2).expect("signals").to_verify,
            [(2, "谣言线索：不实；文本分类模型 0.12 < 0.44".to_string())],
            "{name}"
        );
        assert_eq!(s.event_signals(3).expect("signals"), Default::default(), "{name}: nothing detected");
        signals.push((s.event_signals(1).expect("signals"), s.event_signals(2).expect("signals")));
    }
    if let [sqlite, postgres] = signals.as_slice() {
        assert_eq!(sqlite, postgres, "the same signals on both backends");
    }
}

/// `yuqing hits`, `yuqing sources` and the outbox's oldest alert read the same on both
/// backends: documents with hits newest first (the one without is left out), terms
/// distinct in order of first match (title first), flags in kind order whatever order they
/// were written in.
#[test]
fn hits_and_source_listings_are_the_same_on_both_backends() {
    let mut listings = Vec::new();
    for (name, mut backend) in backends_with(READS_SEED) {
        let s = store_of(&mut backend);
        let hits = s.recent_hits(10).expect("hits");
        let ids: Vec<&str> = hits.iter().map(|h| h.title.as_str()).collect();
        assert_eq!(ids, ["Pension DELAY", "抚恤金发放延迟", "烈士陵园要拆？"], "{name}");
        assert_eq!(hits[1].terms, ["抚恤金", "发放"], "{name}");
        assert_eq!(hits[1].published_at, Some(at(1050)), "{name}");
        assert_eq!(hits[2].terms, ["烈士陵园", "拆迁"], "{name}");
        let flags: Vec<&str> = hits[2].flags.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(flags, ["rumour", "doubt"], "{name}: kind order");
        assert_eq!(hits[2].link.as_deref(), Some("https://example.com/1"), "{name}");
        assert_eq!(s.recent_hits(1).expect("hits").len(), 1, "{name}");
        assert_eq!(s.oldest_pending_alert().expect("oldest"), Some(at(800)), "{name}");
        listings.push((hits, s.source_states().expect("states"), s.oldest_pending_alert().expect("oldest")));
    }
    if let [sqlite, postgres] = listings.as_slice() {
        assert_eq!(sqlite, postgres, "the same listings on both backends");
    }
}

/// The `/metrics` gauges on both backends: events by grade (ungraded as `none`),
/// notifications by channel and status, the outbox's depth, what it holds back and not yet
/// due, the oldest due pending notification (not the one held), the last delivery.
#[test]
fn gauges_are_the_same_on_both_backends() {
    let mut all = Vec::new();
    for (name, mut backend) in backends_with(READS_SEED) {
        let g = store_of(&mut backend).gauges().expect("gauges");
        let by_grade: Vec<(&str, u64)> = g.events_by_grade.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        assert_eq!(by_grade, [("II", 1), ("III", 1), ("none", 1)], "{name}");
        let alerts: Vec<(&str, &str, u64)> = g.alerts.iter().map(|((c, s), n)| (c.as_str(), s.as_str(), *n)).collect();
        assert_eq!(alerts, [("email", "dead", 1), ("email", "pending", 2), ("sms", "sent", 1)], "{name}");
        assert_eq!(g.outbox_pending, 2, "{name}");
        assert_eq!(g.outbox_held, [("quiet".to_string(), 1)], "{name}");
        assert_eq!(g.oldest_pending_at, Some(at(900)), "{name}: the held one is not stuck");
        assert_eq!(g.last_sent_at, Some(at(1500)), "{name}");
        all.push(g);
    }
    if let [sqlite, postgres] = all.as_slice() {
        assert_eq!(sqlite, postgres, "the same gauges on both backends");
    }
}

/// A report over a seeded period reads the same on both backends: the events created in it
/// (oldest first; the later one left out), each with its keyword lists, sources and flags,
/// its actions up to the given moment, and which of them have comments.
#[test]
fn a_report_over_a_period_is_the_same_on_both_backends() {
    let mut reports = Vec::new();
    for (name, mut backend) in backends_with(READS_SEED) {
        let s = store_of(&mut backend);
        let events = s.report_events(at(900), at(1150), at(1500)).expect("report");
        assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 2], "{name}");
        let one = &events[0];
        assert_eq!(one.lists.iter().map(String::as_str).collect::<Vec<_>>(), ["军人"], "{name}");
        assert_eq!(one.flags.iter().map(String::as_str).collect::<Vec<_>>(), ["doubt", "rumour"], "{name}");
        assert_eq!(one.source_ids.iter().map(String::as_str).collect::<Vec<_>>(), ["forum"], "{name}");
        let actions: Vec<(&str, Option<&str>)> =
            one.actions.iter().map(|a| (a.action.as_str(), a.target.as_deref())).collect();
        assert_eq!(actions, [("accept", None), ("transfer", Some("preferential"))], "{name}");
        assert_eq!(one.actions[1].note.as_deref(), Some("涉及优抚政策"), "{name}");
        let two = &events[1];
        assert_eq!((two.grade.map(|g| g.as_str()), two.owner.as_deref()), (Some("III"), Some("preferential")));
        assert_eq!(two.lists.iter().map(String::as_str).collect::<Vec<_>>(), ["优抚", "军人"], "{name}");
        assert!(two.actions.is_empty(), "{name}: its feedback came after the moment");
        let later = s.report_events(at(900), at(1150), at(2000)).expect("report");
        assert_eq!(later[1].actions.len(), 1, "{name}: up to and including the moment");
        assert!(s.report_events(at(5000), at(6000), at(6000)).expect("report").is_empty(), "{name}");
        let commented = s.report_events_with_comments(at(900), at(1150)).expect("comments");
        assert_eq!(commented, [1].into_iter().collect(), "{name}");
        reports.push((events, later, commented.into_iter().collect::<Vec<_>>()));
    }
    if let [sqlite, postgres] = reports.as_slice() {
        assert_eq!(sqlite, postgres, "the same report on both backends");
    }
}

/// Search finds the same documents on both backends (FTS5 on SQLite, ILIKE on PostgreSQL):
/// a Chinese word of three characters and one of two, a word with `%` in it (literal: 50%
/// is not 5000) and one with `_`, Latin letters in another case, two words at once, the
/// filters (source, grade, lists, time) and paging, newest first.
#[test]
fn search_finds_the_same_documents_on_both_backends() {
    let query = |words: &[&str]| SearchQuery {
        words: words.iter().map(|w| (*w).to_string()).collect(),
        limit: 20,
        ..SearchQuery::default()
    };
    let lists =
        |q: SearchQuery, l: &[&str]| SearchQuery { lists: Some(l.iter().map(|s| s.to_string()).collect()), ..q };
    let cases: Vec<(&str, SearchQuery, Vec<i64>)> = vec![
        ("抚恤金", query(&["抚恤金"]), vec![2]),
        ("拆迁 (two characters)", query(&["拆迁"]), vec![1]),
        ("网传", query(&["网传"]), vec![3, 1]),
        ("50%", query(&["50%"]), vec![2]),
        ("0% (two characters)", query(&["0%"]), vec![2]),
        ("涨幅_0", query(&["涨幅_0"]), vec![]),
        ("pension", query(&["pension"]), vec![3]),
        ("two words", query(&["网传", "烈士陵园"]), vec![1]),
        ("nothing", query(&["不存在的词"]), vec![]),
        ("all", query(&[]), vec![3, 2, 1]),
        ("source", SearchQuery { source: Some("news".into()), ..query(&[]) }, vec![3, 2]),
        ("grade", SearchQuery { grade: Grade::parse("III"), ..query(&[]) }, vec![2]),
        ("lists", lists(query(&[]), &["优抚"]), vec![3, 2]),
        ("lists and word", lists(query(&["网传"]), &["优抚", "其他"]), vec![3]),
        ("time", SearchQuery { from: Some(at(1000)), to: Some(at(1200)), ..query(&[]) }, vec![2, 1]),
        ("page", SearchQuery { limit: 1, offset: 1, ..query(&[]) }, vec![2]),
    ];
    let mut found = Vec::new();
    for (name, backend) in backends_with(READS_SEED) {
        let s = match &backend {
            Backend::Sqlite { store, .. } => store,
            Backend::Postgres { store, .. } => &**store,
        };
        let mut results = Vec::new();
        for (case, q, ids) in &cases {
            let (hits, total) = s.search(q).expect("search");
            assert_eq!(&hits.iter().map(|h| h.document_id).collect::<Vec<_>>(), ids, "{name}: {case}");
            let all = if *case == "page" { 3 } else { ids.len() };
            assert_eq!(total, all, "{name}: {case}: total");
            results.push(hits);
        }
        let first = &results[0][0];
        assert_eq!((first.event_id, first.event_title.as_str()), (2, "抚恤金发放延迟"), "{name}");
        assert_eq!((first.seen_at, first.source_id.as_str()), (at(1100), "news"), "{name}");
        assert_eq!(first.link.as_deref(), Some("https://example.com/2"), "{name}");
        found.push(results);
    }
    if let [sqlite, postgres] = found.as_slice() {
        assert_eq!(sqlite, postgres, "the same documents, in the same order, on both backends");
    }
}

// ---- events, exports and the timeline on both backends (store::events, store::exports, store::timeline)

use yuqing::extract::export::{Engagement, ExportComment};
use yuqing::store::{ExportBatch, ExportCommitted};

impl Backend {
    /// The store itself, for the operations without a handle.
    fn events_store(&mut self) -> &mut Store {
        match self {
            Backend::Sqlite { store, .. } => store,
            Backend::Postgres { store, .. } => store,
        }
    }
}

/// Beside SEED's event 1 (document 1, forum, II): a repost in it (document 2, weibo, with a
/// comment thread under its post key), event 2 (document 3, IV), a publication of the
/// bureau (document 4), hits and two flags on document 1, engagement points (two of
/// document 1 in one second: the later one counts), an accept and a transfer, an alert
/// sent and a reminder pending (its notification step), a processed export file.
const EVENTS_SEED: &str = "
    INSERT INTO documents (id, source_id, fingerprint, link, guid, title, text, author, published_at, fetched_at) VALUES
        (2, 'weibo', 'f2', 'https://weibo.example.cn/p2', 'p2', '转发：烈士陵园要拆？', '转发微博 网传临江市烈士陵园将被拆迁。', '网友甲', 1500, 1600),
        (3, 'news', 'f3', NULL, NULL, '第四季度抚恤金发放通知', '第四季度抚恤金月底发放到位。', NULL, NULL, 1700),
        (4, 'gov', 'f4', 'https://gov.example.cn/4', NULL, '关于烈士陵园的说明', '烈士陵园不会拆迁。', NULL, 1800, 1800);
    INSERT INTO document_keys (key, document_id) VALUES ('link:1', 1), ('guid:weibo:p2', 2), ('link:2', 2), ('link:3', 3);
    UPDATE events SET last_seen_at = 1500, documents = 2, sources = 2, owner = 'veterans',
                      grade_reasons = '[\"II 级：测试\"]' WHERE id = 1;
    INSERT INTO events (id, title, first_document_id, first_source_id, first_seen_at, last_seen_at,
                        documents, sources, created_at, grade, owner)
    VALUES (2, '第四季度抚恤金发放通知', 3, 'news', 1700, 1700, 1, 1, 1700, 'IV', 'preferential');
    INSERT INTO event_documents (document_id, event_id, source_id, seen_at, similarity, evidence) VALUES
        (2, 1, 'weibo', 1500, 0.8, '烈士陵园、拆迁'), (3, 2, 'news', 1700, 1.0, NULL);
    INSERT INTO hits (document_id, list, term, field, start, \"end\") VALUES
        (1, '军人', '拆迁', 'text', 10, 12), (1, '军人', '烈士陵园', 'title', 0, 4);
    INSERT INTO flags (document_id, kind, reasons) VALUES (1, 'rumour', '[\"网传\"]'), (1, 'doubt', '[\"要拆？\"]');
    INSERT INTO engagement (document_id, observed_at, reposts, comments, likes, reads, shares) VALUES
        (1, 1100, 1, 2, 3, NULL, NULL), (2, 1600, 10, 0, 5, 100, NULL),
        (1, 2000, 4, 2, 3, NULL, NULL), (1, 2000, 5, 2, 3, NULL, 7);
    INSERT INTO comments (source_id, comment_id, post_key, author, text, published_at, likes) VALUES
        ('weibo', 'c1', 'guid:weibo:p2', '网友乙', '真的假的？', 1550, 2),
        ('weibo', 'c2', 'guid:weibo:p2', NULL, '已经辟谣了，不会拆', 1700, NULL),
        ('weibo', 'c3', 'guid:weibo:p2', '网友丙', '没有时间的评论', NULL, 1);
    INSERT INTO event_actions (event_id, action, actor, target, note, at) VALUES
        (1, 'accept', 'wang', NULL, NULL, 1200), (1, 'transfer', 'wang', 'preferential', '涉及优抚', 1300);
    INSERT INTO alerts (document_id, event_id, channel, recipients, subject, body_text, body_html,
                        next_attempt_at, created_at, status, sent_at, attempts) VALUES
        (1, 1, 'email', '[\"wang@example.gov.cn\"]', '新事件', 'a', '<p>a</p>', 1000, 1000, 'sent', 1010, 1),
        (1, 1, 'email', '[\"li@example.gov.cn\"]', '提醒', 'b', '<p>b</p>', 1400, 1400, 'pending', NULL, 0);
    INSERT INTO notifications (event_id, person, step, channel, alert_id, at) VALUES (1, 'li', 1, 'email', 2, 1400);
    INSERT INTO export_files (source_id, sha256, path, processed_at, posts, comments, bad_rows)
    VALUES ('weibo', 'abc', '/exports/a.csv', 1600, 1, 3, 0);";

/// A document of the seed's story (as `yuqing` would fetch it), for the event index.
fn story(key: &str, title: &str, text: &str) -> Document {
    Document { title: title.into(), text: text.into(), ..document(key, title) }
}

/// Every read of store::events, store::exports and store::timeline on the seeded events,
/// the same on both backends: the event index rebuilt from the store (a copy of event 1
/// joins it with its stored grade, an unrelated story gets the next id after the stored
/// ones), interactions at a time and at the latest counts (of two points in one second the
/// later one), the spread, a document's event, an event's head and a stored document with
/// hits and flags in order, recent events, the latest copy, the propagation path, the
/// bureau's publications, comments per event (at most `limit`, the latest; those without a
/// time oldest), early comments (those without a time last), keys, an engagement history,
/// export files seen, and `event show`'s timeline (owner after the transfer, reminders with
/// their step, engagement over time).
#[test]
fn event_reads_are_the_same_on_both_backends() {
    let mut results: Vec<(&str, Vec<String>)> = Vec::new();
    for (name, mut backend) in backends_with(EVENTS_SEED) {
        let store = backend.events_store();
        let mut out: Vec<String> = Vec::new();

        let now = at(5000);
        let mut index = store.event_index(0.5, std::time::Duration::from_secs(86_400), now).expect("index");
        let copy = story("copy", "烈士陵园要拆？", "网传临江市烈士陵园将被拆迁。");
        let peeked = index.peek(&copy, now).expect("the copy joins an open event");
        assert_eq!(peeked.0, 1, "{name}: {peeked:?}");
        let joined = index.assign(&copy, now);
        assert_eq!((joined.event_id, joined.new_event, joined.previous_grade), (1, false, Some(Grade::II)), "{name}");
        let apart = index.assign(&story("apart", "城区停水通知", "明日上午城区部分区域停水检修。"), now);
        assert_eq!((apart.event_id, apart.new_event), (3, true), "{name}: the next id after the stored events");
        out.push(format!("{peeked:?} {joined:?} {apart:?}"));

        let interactions: Vec<i64> = [1099, 1100, 1600, 2000]
            .iter()
            .map(|s| store.event_interactions(1, at(*s)).expect("interactions"))
            .collect();
        assert_eq!(interactions, [0, 6, 21, 25], "{name}: the later point of one second counts");
        assert_eq!(store.latest_interactions(1).expect("latest"), Some(25), "{name}");
        assert_eq!(store.latest_interactions(2).expect("latest"), None, "{name}: no counts");
        let spread = store.event_spread(1, at(8300)).expect("spread");
        assert_eq!((spread.last_2h, spread.prev_2h), (1, 1), "{name}");
        out.push(format!("{interactions:?} {spread:?}"));

        assert_eq!(store.event_of_document(2).expect("event"), Some(1), "{name}");
        assert_eq!(store.event_of_document(4).expect("event"), None, "{name}");
        let (head, doc) = store.event_head(1).expect("head").expect("event 1 has a head");
        assert_eq!(head, 1, "{name}");
        let terms: Vec<&str> = doc.hits.iter().map(|h| h.term.as_str()).collect();
        assert_eq!(terms, ["烈士陵园", "拆迁"], "{name}: title hits first");
        assert_eq!(doc.hits[1].end, 12, "{name}: the quoted end column");
        let kinds: Vec<FlagKind> = doc.flags.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [FlagKind::Rumour, FlagKind::Doubt], "{name}: flags in the order stored");
        out.push(format!("{doc:?}"));
        let (_, repost) = store.stored_document(2).expect("stored").expect("document 2");
        assert_eq!((repost.document.author.as_deref(), repost.document.published_at), (Some("网友甲"), Some(at(1500))));
        out.push(format!("{repost:?}"));
        assert!(store.stored_document(99).expect("stored").is_none(), "{name}");
        assert!(store.event_head(99).expect("head").is_none(), "{name}");

        let recent = store.recent_events(10).expect("recent");
        assert_eq!(recent.iter().map(|e| e.id).collect::<Vec<_>>(), [2, 1], "{name}: latest activity first");
        assert_eq!(store.latest_copy(1).expect("copy"), Some(("weibo".into(), at(1500))), "{name}");
        assert_eq!(store.latest_copy(99).expect("copy"), None, "{name}");
        let path = store.event_path(1).expect("path");
        assert_eq!(path.iter().map(|s| s.document_id).collect::<Vec<_>>(), [1, 2], "{name}");
        assert_eq!(path[1].evidence, ["烈士陵园", "拆迁"], "{name}");
        let publications = store.publications(&["gov", "forum"], 5).expect("publications");
        assert_eq!(publications.len(), 2, "{name}");
        out.push(format!("{recent:?} {path:?}"));
        out.push(publications.iter().map(|p| format!("{}|{}", p.title, p.text)).collect::<Vec<_>>().join(";"));

        let comments = store.event_comments(1, 10).expect("comments");
        let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["没有时间的评论", "真的假的？", "已经辟谣了，不会拆"], "{name}: no time is oldest");
        let latest_two = store.event_comments(1, 2).expect("comments");
        let texts: Vec<&str> = latest_two.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["真的假的？", "已经辟谣了，不会拆"], "{name}: the latest two");
        let early = store.early_comments(2, Some(at(1500)), Duration::seconds(100)).expect("early");
        assert_eq!(early, ["真的假的？", "没有时间的评论"], "{name}: within 100 s, those without a time last");
        assert_eq!(store.early_comments(2, None, Duration::seconds(1)).expect("early").len(), 3, "{name}");
        let thread = store.comments_for("guid:weibo:p2").expect("thread");
        assert_eq!(thread.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>()[0], "没有时间的评论", "{name}");
        out.push(format!("{comments:?} {latest_two:?} {early:?} {thread:?}"));

        assert_eq!(store.document_of_key("guid:weibo:p2").expect("key"), Some(2), "{name}");
        assert_eq!(store.document_by_key("link:3").expect("key"), Some(3), "{name}");
        assert_eq!(store.document_of_key("guid:weibo:none").expect("key"), None, "{name}");
        let history = store.engagement_history(1).expect("history");
        let reposts: Vec<Option<u64>> = history.iter().map(|(_, e)| e.reposts).collect();
        assert_eq!(reposts, [Some(1), Some(4), Some(5)], "{name}: oldest first, insertion order within a second");
        assert!(store.export_seen("weibo", "abc").expect("seen"), "{name}");
        assert!(!store.export_seen("weibo", "def").expect("seen"), "{name}");
        assert!(!store.export_seen("forum", "abc").expect("seen"), "{name}: per source");
        out.push(format!("{history:?}"));

        let timeline = store.event_timeline(1).expect("timeline").expect("event 1");
        assert_eq!(timeline.event.owner.as_deref(), Some("preferential"), "{name}: the transfer's target");
        assert_eq!(timeline.event.grade_reasons, ["II 级：测试"], "{name}");
        assert_eq!(timeline.copies, path, "{name}");
        assert_eq!(timeline.engagement, [(at(1100), 6), (at(1600), 21), (at(2000), 25)], "{name}");
        let alerts: Vec<(&str, Option<(String, i64)>)> =
            timeline.alerts.iter().map(|a| (a.status.as_str(), a.step.clone())).collect();
        assert_eq!(alerts, [("sent", None), ("pending", Some(("li".into(), 1)))], "{name}");
        assert_eq!(timeline.actions.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), ["accept", "transfer"]);
        assert_eq!(timeline.comments, comments, "{name}");
        assert!(store.event_timeline(99).expect("timeline").is_none(), "{name}");
        let other = store.event_timeline(2).expect("timeline").expect("event 2");
        assert!(other.engagement.is_empty() && other.alerts.is_empty() && other.comments.is_empty(), "{name}");
        out.push(format!("{timeline:?} {other:?}"));
        results.push((name, out));
    }
    if let [(_, sqlite), (_, postgres)] = results.as_slice() {
        for (s, p) in sqlite.iter().zip(postgres) {
            assert_eq!(s, p, "every read the same on both backends");
        }
    }
}

/// A document split out of its event into a new one (with its alert), and a regrade of
/// another event with its alert, the same on both backends: the old event's counts and
/// latest copy recomputed, both events' audit trails, the new event's row, the risen
/// event's grade and time; splitting a document not in the event fails and leaves nothing.
#[test]
fn a_split_and_a_regrade_are_stored_the_same_on_both_backends() {
    let mut results: Vec<(&str, Vec<String>)> = Vec::new();
    for (name, mut backend) in backends_with(EVENTS_SEED) {
        let store = backend.events_store();
        let mut doc = document("p2", "转发：烈士陵园要拆？");
        doc.source_id = "weibo".into();
        let into = item(
            doc,
            Some(assignment(3, 0, Grade::III, None, true)),
            Some(message("email", "新事件：转发", &["wang@example.gov.cn"])),
        );
        store.split_document(1, 2, &into, ("wang", "不是同一件事"), at(3000)).expect("split");
        let wrong = store.split_document(1, 3, &into, ("wang", "再拆"), at(3100));
        assert!(wrong.is_err(), "{name}: document 3 is not in event 1");

        let rise = assignment(2, 0, Grade::II, Some(Grade::IV), false);
        let alert = message("email", "升为 II 级：抚恤金", &["li@example.gov.cn"]);
        store.record_regrade(&rise, 3, std::slice::from_ref(&alert), at(3200)).expect("regrade");

        let one = store.event_timeline(1).expect("timeline").expect("event 1");
        assert_eq!((one.event.documents, one.event.sources), (1, 1), "{name}: recomputed");
        assert_eq!(one.copies.iter().map(|c| c.document_id).collect::<Vec<_>>(), [1], "{name}");
        assert_eq!(store.latest_copy(1).expect("copy"), Some(("forum".into(), at(1000))), "{name}");
        let split = one.actions.last().expect("split action");
        assert_eq!((split.action.as_str(), split.target.as_deref()), ("split", Some("2")), "{name}");
        let three = store.event_timeline(3).expect("timeline").expect("the new event");
        assert_eq!(three.actions.iter().map(|a| a.target.clone()).collect::<Vec<_>>(), [Some("from:1".into())]);
        assert_eq!(three.alerts.iter().map(|a| a.subject.as_str()).collect::<Vec<_>>(), ["新事件：转发"], "{name}");
        assert_eq!(store.event_of_document(2).expect("event"), Some(3), "{name}");
        let two = store.event_timeline(2).expect("timeline").expect("event 2");
        assert_eq!(two.event.grade, Some(Grade::II), "{name}");
        assert_eq!(two.alerts.iter().map(|a| a.subject.as_str()).collect::<Vec<_>>(), ["升为 II 级：抚恤金"]);
        let graded = backend.column("SELECT coalesce(CAST(graded_at AS TEXT), '-') FROM events WHERE id = 2");
        assert_eq!(graded, [at(3200).timestamp().to_string()], "{name}");

        let mut out: Vec<String> = ingest_rows(&backend).into_iter().flatten().collect();
        out.push(format!("{one:?} {three:?} {two:?}"));
        let actions = "SELECT CAST(event_id AS TEXT) || '|' || action || '|' || actor || '|' || coalesce(target, '-')
                || '|' || coalesce(note, '-') || '|' || CAST(at AS TEXT) FROM event_actions ORDER BY id";
        out.extend(backend.column(actions));
        results.push((name, out));
    }
    if let [(_, sqlite), (_, postgres)] = results.as_slice() {
        assert_eq!(sqlite, postgres, "every table the same on both backends");
    }
}

/// Rows of the export tables, each one comparable text.
fn export_rows(b: &Backend) -> Vec<Vec<String>> {
    let queries = [
        "SELECT CAST(document_id AS TEXT) || '|' || CAST(observed_at AS TEXT) || '|' || coalesce(CAST(reposts AS TEXT), '-')
                || '|' || coalesce(CAST(comments AS TEXT), '-') || '|' || coalesce(CAST(likes AS TEXT), '-') || '|'
                || coalesce(CAST(reads AS TEXT), '-') || '|' || coalesce(CAST(shares AS TEXT), '-') FROM engagement",
        "SELECT source_id || '|' || comment_id || '|' || post_key || '|' || coalesce(author, '-') || '|' || text || '|'
                || coalesce(CAST(published_at AS TEXT), '-') || '|' || coalesce(CAST(likes AS TEXT), '-') FROM comments",
        "SELECT source_id || '|' || sha256 || '|' || path || '|' || CAST(processed_at AS TEXT) || '|' || CAST(posts AS TEXT)
                || '|' || CAST(comments AS TEXT) || '|' || CAST(bad_rows AS TEXT) FROM export_files",
    ];
    b.sorted_columns(&queries)
}

/// An export file committed and a post judged again on its comments, the same on both
/// backends: a new post with its hits, event and alert; a known post's changed counts a new
/// point (and the post counted as updated), unchanged or unknown counts nothing; a comment
/// already stored not again; the file recorded and seen; the source's state a success with
/// new documents; the re-judged post's flag, its event risen to I with the pending reminder
/// dropped, and the rise alert queued. Every table compared across the backends.
#[test]
fn an_export_commit_and_a_rejudge_are_stored_the_same_on_both_backends() {
    let mut results: Vec<(&str, Vec<Vec<String>>)> = Vec::new();
    for (name, mut backend) in backends_with(EVENTS_SEED) {
        let store = backend.events_store();
        let mut post = document("p5", "网传烈士陵园下月拆除");
        post.source_id = "weibo".into();
        post.keys = vec!["guid:weibo:p5".into()];
        let new_post = item(
            post,
            Some(assignment(4, 0, Grade::III, None, true)),
            Some(message("email", "新事件：网传烈士陵园下月拆除", &["wang@example.gov.cn"])),
        );
        let counts = |reposts: u64| Engagement { reposts: Some(reposts), likes: Some(1), ..Engagement::default() };
        let engagement = vec![
            (vec!["guid:weibo:p2".to_string()], counts(20)),
            (vec!["guid:weibo:p5".to_string()], counts(3)),
            (vec!["guid:weibo:none".to_string()], counts(9)),
            (vec!["link:3".to_string()], Engagement::default()),
        ];
        let comment = |id: &str, post: &str, text: &str, secs: Option<i64>| ExportComment {
            id: id.into(),
            post_id: post.into(),
            author: None,
            text: text.into(),
            published_at: secs.map(at),
            likes: Some(4),
        };
        let comments = vec![
            comment("c1", "p2", "真的假的？", Some(1550)),
            comment("c4", "p5", "下月就拆？", Some(2500)),
            comment("c5", "p2", "有图吗", None),
        ];
        let batch = ExportBatch {
            sha256: "def",
            path: "/exports/b.csv",
            documents: std::slice::from_ref(&new_post),
            engagement: &engagement,
            comments: &comments,
            bad_rows: 1,
        };
        let committed = store.commit_export("weibo", &batch, at(2600)).expect("commit export");
        let expected = ExportCommitted {
            committed: Committed { documents: 1, hits: 2, alerts: 1 },
            updated_counts: 1,
            updated_documents: vec![2],
            comments: 2,
        };
        assert_eq!(committed, expected, "{name}");
        assert!(store.export_seen("weibo", "def").expect("seen"), "{name}");
        let again = ExportBatch { sha256: "ghi", documents: &[], comments: &[], ..batch };
        let unchanged = store.commit_export("weibo", &again, at(2700)).expect("again");
        assert_eq!((unchanged.updated_counts, unchanged.committed), (0, Committed::default()), "{name}: same counts");
        assert_eq!(store.document_of_key("guid:weibo:p5").expect("key"), Some(5), "{name}");
        assert_eq!(store.engagement_history(2).expect("history").len(), 2, "{name}");

        let flag = Flag { kind: FlagKind::Rumour, reasons: vec!["评论：辟谣".into()] };
        let rise = assignment(1, -100, Grade::I, Some(Grade::II), false);
        let alert = message("email", "升为 I 级：烈士陵园要拆？", &["wang@example.gov.cn"]);
        store.record_rejudged(2, &flag, Some(&rise), std::slice::from_ref(&alert), at(2800)).expect("rejudge");
        let (_, rejudged) = store.stored_document(2).expect("stored").expect("document 2");
        assert_eq!(rejudged.flags, [flag], "{name}");
        let timeline = store.event_timeline(1).expect("timeline").expect("event 1");
        assert_eq!(timeline.event.grade, Some(Grade::I), "{name}");
        let alerts: Vec<(&str, &str)> =
            timeline.alerts.iter().map(|a| (a.subject.as_str(), a.status.as_str())).collect();
        assert_eq!(
            alerts,
            [("新事件", "sent"), ("提醒", "dropped"), ("升为 I 级：烈士陵园要拆？", "pending")],
            "{name}"
        );
        assert_eq!(timeline.comments.len(), 4, "{name}: the thread with the new comment");

        let mut rows = ingest_rows(&backend);
        rows.extend(export_rows(&backend));
        let state = backend.column(
            "SELECT CAST(last_success_at AS TEXT) || '|' || coalesce(CAST(last_new_at AS TEXT), '-') || '|'
                    || CAST(consecutive_failures AS TEXT) FROM source_state WHERE source_id = 'weibo'",
        );
        assert_eq!(state, [format!("{}|{}|0", at(2700).timestamp(), at(2600).timestamp())], "{name}");
        results.push((name, rows));
    }
    if let [(_, sqlite), (_, postgres)] = results.as_slice() {
        assert_eq!(sqlite, postgres, "every table the same on both backends");
    }
}

// ---- the CLI on PostgreSQL

/// A watched policy (`policy list` / `policy report` at a fixed time) and a daily briefing
/// for both projects.
const CLI_POLICY: &str = "[[policies]]\nid = \"lingyuan\"\nname = \"烈士陵园保护管理办法\"\nsection = \"preferential\"\nterms = [\"烈士陵园\"]\npublish = \"2026-03-01\"\n\
    [[briefings]]\nid = \"daily\"\nname = \"每日舆情简报\"\nschedule = \"0 8 * * *\"\nperiod = \"day\"\nto = [\"gkb\", \"chen\"]\n";

/// A project like [`store_with_history`]'s (same sources, keywords, organisation and
/// [`CLI_POLICY`]) whose `[storage] url` names `url`; its forum feed is copied from `like`.
fn project_on(url: &str, like: &Project) -> Project {
    let p = Project::with_org(&source("forum", "forum.xml"));
    p.write("forum.xml", std::fs::read(like.path().join("forum.xml")).expect("feed"));
    p.write("yuqing.toml", format!("{}\n[storage]\nurl = \"{url}\"\n{FILE_MAIL}{CLI_POLICY}", support::ORG));
    p
}

/// Runs the same command on both projects, expects success from both and returns the
/// SQLite project's stdout after checking that PostgreSQL's is the same (each project's
/// directory, as in a file source's path or a copied delivery detail, read as `DIR`).
fn same_output(lite: &Project, pg: &Project, args: &[&str]) -> String {
    let (a, b) = (lite.run(args), pg.run(args));
    assert_eq!(a.code, Some(0), "sqlite {args:?}: {}\n{}", a.stdout, a.stderr);
    assert_eq!(b.code, Some(0), "postgres {args:?}: {}\n{}", b.stdout, b.stderr);
    let dirs = [lite.path().display().to_string(), pg.path().display().to_string()];
    let plain = |out: &str| dirs.iter().fold(out.to_string(), |out, dir| out.replace(dir, "DIR"));
    let (a, b) = (plain(&a.stdout), plain(&b.stdout));
    assert_eq!(a, b, "{args:?}: the same output on both backends");
    a
}

/// `yuqing status` on both projects: the same but for the time it is read at (its first
/// line) and the database's line (the file's size, the server's address); PostgreSQL's
/// names the server.
fn same_status(lite: &Project, pg: &Project) -> String {
    let (a, b) = (lite.run(&["status"]), pg.run(&["status"]));
    assert_eq!((a.code, b.code), (Some(0), Some(0)), "{}\n{}\n{}\n{}", a.stdout, a.stderr, b.stdout, b.stderr);
    assert!(b.stdout.contains("数据库：PostgreSQL"), "{}", b.stdout);
    let steady = |out: &str| out.lines().skip(1).filter(|l| !l.starts_with("数据库：")).collect::<Vec<_>>().join("\n");
    assert_eq!(steady(&a.stdout), steady(&b.stdout), "status: the same on both backends");
    steady(&a.stdout)
}

/// The commands staff use read and act on a PostgreSQL store copied by `db migrate-to` as
/// on the SQLite file it came from: the same hits, sources, status, report, outbox and
/// prune count, policies, event list, propagation path, 报送单 and `test match`; every
/// workflow action answers the same, a close withdraws the same waiting alert, a dead
/// letter is requeued the same, a briefing is queued once, a split re-judges the copy, and
/// the audit trail, the rumour cases and a console password come out the same. No SQLite file is made for the PostgreSQL
/// project, and `db backup` / `db check` are refused there (exit 2) naming pg_dump /
/// pg_amcheck, while `db check --file` still checks an SQLite file.
#[test]
fn the_commands_read_and_act_on_postgres_as_on_sqlite() {
    let Some(cluster) = cluster() else { return };
    let lite = store_with_history();
    let url = database(&cluster);
    let run = lite.run(&["db", "migrate-to", &url]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let pg = project_on(&url, &lite);
    lite.write(
        "yuqing.toml",
        format!("{}\n[storage]\npath = \"state/yuqing.db\"\n{FILE_MAIL}{CLI_POLICY}", support::ORG),
    );

    let hits = same_output(&lite, &pg, &["hits"]);
    assert!(hits.contains("烈士陵园要拆？") && hits.contains("命中：烈士陵园"), "{hits}");
    let sources = same_output(&lite, &pg, &["sources"]);
    assert!(sources.contains("[正常] forum") && sources.contains("发件箱"), "{sources}");
    let today = Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive().to_string();
    let report = same_output(&lite, &pg, &["report", "--from", &today, "--to", &today]);
    assert!(report.contains("烈士陵园"), "{report}");
    let outbox = same_output(&lite, &pg, &["outbox", "list", "--status", "all"]);
    assert!(outbox.contains("事件#1"), "{outbox}");
    let first = outbox.lines().next().and_then(|l| l.strip_prefix('#')).and_then(|l| l.split_whitespace().next());
    let first = first.expect("an alert id").to_string();
    same_output(&lite, &pg, &["outbox", "show", &first]);
    same_output(&lite, &pg, &["db", "prune", "--dry-run"]);
    let policies = same_output(&lite, &pg, &["policy", "list", "--at", "2026-03-05 12:00"]);
    assert!(policies.contains("烈士陵园保护管理办法"), "{policies}");
    same_output(&lite, &pg, &["policy", "report", "lingyuan", "--at", "2026-03-05 12:00"]);
    let status = same_status(&lite, &pg);
    assert!(status.contains("未办结事件：2 件"), "{status}");
    let quiet = pg.run(&["hits"]);
    assert!(!quiet.stderr.contains("already exists"), "no server notice on each command: {}", quiet.stderr);

    // Acting: a reminder waiting in both outboxes, then a transfer and a close recorded the
    // same way, the close withdrawing the waiting reminder on both; a closed event cannot
    // be closed again; reopen, feedback, assessment and mute answer the same.
    let waiting = "INSERT INTO alerts (document_id, event_id, channel, recipients, subject, body_text, body_html,
                                       status, next_attempt_at, created_at)
                   SELECT 1, 1, 'email', '[\"wang@example.gov.cn\"]', '待发的提醒', 'b', '<p>b</p>', 'pending',
                          4102444800, max(created_at) FROM alerts";
    rusqlite::Connection::open(lite.path().join("state/yuqing.db")).expect("open").execute(waiting, []).expect("add");
    let mut pg_db = connect(&url);
    pg_db.execute(waiting, &[]).expect("add");
    let queued = same_output(&lite, &pg, &["outbox", "list", "--status", "pending"]);
    assert!(queued.contains("待发的提醒") && queued.contains("[待发送]"), "{queued}");
    same_output(&lite, &pg, &["event", "transfer", "1", "--to", "preferential", "--by", "xu", "--reason", "涉及优抚"]);
    let closed = same_output(&lite, &pg, &["event", "close", "1", "--by", "xu", "--note", "已回应"]);
    assert!(closed.contains("#1"), "{closed}");
    let withdrawn = same_output(&lite, &pg, &["outbox", "list", "--status", "dropped"]);
    assert!(withdrawn.contains("待发的提醒") && withdrawn.contains("[已撤回]"), "{withdrawn}");
    let queued = same_output(&lite, &pg, &["outbox", "list", "--status", "pending"]);
    assert!(!queued.contains("待发的提醒"), "{queued}");
    let status = same_status(&lite, &pg);
    assert!(status.contains("未办结事件：1 件"), "{status}");
    let again = pg.run(&["event", "close", "1", "--by", "xu"]);
    assert_eq!(again.code, Some(1), "closing a closed event is refused: {}\n{}", again.stdout, again.stderr);
    for args in [
        &["event", "reopen", "1", "--by", "xu", "--note", "重新核查"][..],
        &["event", "feedback", "1", "--by", "wang", "--kind", "online", "--link", "https://example.gov.cn/answer"],
        &["event", "assess", "1", "--by=chen", "--nature=不实信息", "--trend=down", "--risk=低", "--plan=继续关注"],
        &["event", "mute", "1", "--by", "xu", "--reason", "已回应", "--until", "2030-01-01 08:00"],
    ] {
        same_output(&lite, &pg, args);
    }
    same_status(&lite, &pg);
    // A dead letter requeued by hand.
    let dead = waiting.replace("'待发的提醒', 'b', '<p>b</p>', 'pending'", "'投递失败的提醒', 'b', '<p>b</p>', 'dead'");
    rusqlite::Connection::open(lite.path().join("state/yuqing.db")).expect("open").execute(&dead, []).expect("add");
    pg_db.execute(dead.as_str(), &[]).expect("add");
    let letters = same_output(&lite, &pg, &["outbox", "list", "--status", "dead"]);
    assert!(letters.contains("投递失败的提醒"), "{letters}");
    let retried = same_output(&lite, &pg, &["outbox", "retry", "--all-dead"]);
    assert!(retried.contains("1 条死信已重新排队"), "{retried}");
    let queued = same_output(&lite, &pg, &["outbox", "list", "--status", "pending"]);
    assert!(queued.contains("投递失败的提醒"), "{queued}");
    same_output(&lite, &pg, &["hits"]);
    same_output(&lite, &pg, &["report", "--from", &today, "--to", &today]);
    let actions: Vec<String> = pg_db
        .query("SELECT action FROM event_actions WHERE event_id = 1 ORDER BY id", &[])
        .expect("actions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        actions,
        ["accept", "transfer", "close", "reopen", "feedback", "assess", "mute"],
        "every action is in PostgreSQL's audit trail"
    );

    // A console password, from stdin as scripts give it.
    let mut passwd = pg
        .command()
        .args(["user", "passwd", "li"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::io::Write::write_all(&mut passwd.stdin.take().expect("stdin"), b"li-secret-12\n").expect("write");
    let out = passwd.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let users: i64 =
        pg_db.query_one("SELECT count(*) FROM console_users WHERE person = 'li'", &[]).expect("users").get(0);
    assert_eq!(users, 1);

    // The event reads (store::events, store::exports, store::timeline): the list, the
    // propagation path, the 报送单, a text's would-be event, the office's rumour cases (the
    // file each writes, too), a briefing previewed and queued once. `event show` is only run
    // on PostgreSQL (its deadline clocks are read at the time it runs).
    let tomorrow =
        (Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive() + chrono::Days::new(1)).to_string();
    let at = format!("{tomorrow} 08:00");
    for args in [
        &["events"][..],
        &["events", "1"],
        &["event", "list"],
        &["event", "brief", "1", "--to", "wangxuan"],
        &["test", "match", "--text", "烈士陵园要拆迁"],
        &["event", "feedback", "1", "--by", "wang", "--kind", "rumour-confirmed"],
        &["briefing", "send", "daily", "--dry-run", "--at", &at],
    ] {
        same_output(&lite, &pg, args);
    }
    let queued = same_output(&lite, &pg, &["briefing", "send", "daily", "--at", &at]);
    assert!(queued.contains("加入发件箱"), "{queued}");
    let again = same_output(&lite, &pg, &["briefing", "send", "daily", "--at", &at]);
    assert!(again.contains("已经生成过"), "{again}");
    // A copy split out of the event is judged again on either (new event ids come from
    // PostgreSQL's blocks, so only the outcome is compared).
    let split = |p: &Project| p.run(&["event", "split", "1", "--doc", "2", "--by", "wang", "--reason", "并非同一事件"]);
    let (a, b) = (split(&lite), split(&pg));
    assert_eq!((a.code, b.code), (Some(0), Some(0)), "{}\n{}\n{}\n{}", a.stdout, a.stderr, b.stdout, b.stderr);
    assert!(b.stdout.contains("文档 #2 已由") && b.stdout.contains("从事件 #1 拆出，自成新事件 #"), "{}", b.stdout);
    let unnumbered = |out: &str| {
        let (head, tail) = out.split_once("新事件 #").expect("a new event");
        format!("{head}新事件 #N{}", tail.trim_start_matches(|c: char| c.is_ascii_digit()))
    };
    assert_eq!(unnumbered(&a.stdout), unnumbered(&b.stdout), "the same split on both backends");
    let cases = |p: &Project| std::fs::read_to_string(p.path().join("rumour_cases.jsonl")).expect("cases");
    assert_eq!(cases(&lite), cases(&pg), "the same rumour cases from both backends");
    assert_eq!(cases(&pg).lines().count(), 2, "both posts of the event");
    let run = pg.run(&["event", "show", "1"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("烈士陵园要拆？"), "{}", run.stdout);

    // SQLite-file maintenance is refused on PostgreSQL, naming the server's tools.
    let run = pg.run(&["db", "backup", "copy.db"]);
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("db backup 只用于 SQLite") && run.stderr.contains("pg_dump"), "{}", run.stderr);
    assert!(!pg.path().join("copy.db").exists());
    let run = pg.run(&["db", "check"]);
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("db check 只检查 SQLite") && run.stderr.contains("pg_amcheck"), "{}", run.stderr);
    let file = lite.path().join("state/yuqing.db");
    let run = pg.run(&["db", "check", "--file", file.to_str().expect("utf-8 path")]);
    assert_eq!(run.code, Some(0), "an SQLite file can still be checked: {}\n{}", run.stdout, run.stderr);

    assert!(!pg.path().join("state").exists(), "no SQLite file was made for the PostgreSQL project");
}
