//! Data lifecycle on a virtual clock: documents, events, alerts and the audit trail stored at
//! chosen times through the store API, then pruned as of later instants; what must stay
//! (young events with their documents, pending alerts, identity keys) stays, the database
//! keeps its foreign keys, and the low-disk notice goes out once per episode.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use support::{FILE_MAIL, Project, source};
use yuqing::detect::events::Assignment;
use yuqing::model::{AlertMessage, Document, Field, Hit, SourceNotice};
use yuqing::response::Grade;
use yuqing::store::{Action, NewDocument, Retention, Store, maintenance};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 10, 2, 0, 0).single().expect("a time")
}

fn message(subject: &str) -> AlertMessage {
    AlertMessage {
        channel: "email".into(),
        recipients: vec!["gkb@example.gov.cn".into()],
        subject: subject.into(),
        body_text: "t".into(),
        body_html: "<p>t</p>".into(),
    }
}

fn document(key: &str) -> Document {
    Document {
        source_id: "news".into(),
        keys: vec![format!("guid:news:{key}")],
        fingerprint: format!("fp-{key}"),
        link: None,
        guid: Some(key.into()),
        title: format!("抚恤金 {key}"),
        text: "正文".into(),
        author: None,
        published_at: None,
        page_state: None,
    }
}

/// Stores one document at `at`: with an event (a new one, id `event`) and/or an alert.
fn store_doc(store: &mut Store, key: &str, event: Option<i64>, alert: bool, at: DateTime<Utc>) {
    let event = event.map(|id| Assignment {
        event_id: id,
        new_event: true,
        new_source: true,
        similarity: 1.0,
        evidence: vec![],
        seen_at: at,
        event_title: key.into(),
        sources: 1,
        documents: 1,
        grade: Grade::IV,
        grade_reasons: vec![],
        previous_grade: None,
        owner: None,
    });
    let item = NewDocument {
        document: document(key),
        hits: vec![Hit { field: Field::Title, start: 0, end: 9, list: "l".into(), term: "抚恤金".into() }],
        flags: vec![],
        negativity: None,
        to_verify: None,
        event,
        alert: alert.then(|| message(key)),
        extra: vec![],
    };
    store.commit_run("news", &[item], 1, &Default::default(), at).expect("commit");
}

fn count(path: &std::path::Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

fn titles(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).expect("open");
    let mut stmt = conn.prepare("SELECT title FROM documents ORDER BY id").expect("prepare");
    stmt.query_map([], |r| r.get(0)).expect("query").map(|r| r.expect("row")).collect()
}

#[test]
fn pruning_keeps_what_the_assessment_needs_and_never_re_alerts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("yuqing.db");
    let mut store = Store::open(&path).expect("open");
    let t = t0();
    store_doc(&mut store, "a-plain", None, false, t);
    store_doc(&mut store, "b-event", Some(1), true, t);
    store_doc(&mut store, "c-acted", Some(2), true, t);
    store_doc(&mut store, "e-pending", None, true, t);
    store_doc(&mut store, "d-later", None, false, t + Duration::days(170));
    // Alerts 1 (b) and 2 (c) went out; 3 (e) never did.
    store.mark_sent(1, t, None).expect("sent");
    store.mark_sent(2, t, None).expect("sent");
    // Event 2 was still being worked on 400 days later.
    let a = Action { action: "accept", actor: "wang", target: None, link: None, note: None };
    assert!(store.record_action(2, &a, t + Duration::days(400)).expect("action"));
    // A source notice, sent.
    store.record_failure("news", "HTTP 500", t).expect("failure");
    assert!(store.notify_source("news", SourceNotice::Failing, &message("故障"), t).expect("notice"));
    store.mark_sent(4, t, None).expect("sent");

    let retention = Retention { documents_days: 180, assessment_days: 730 };

    // Day 200: only the plain old document goes; events are young, alerts stay.
    let day200 = t + Duration::days(200);
    let dry = store.prune(retention, day200, None, true).expect("dry run");
    assert_eq!(titles(&path).len(), 5, "a dry run deletes nothing");
    let real = store.prune(retention, day200, None, false).expect("prune");
    assert_eq!(dry, real, "the dry run counts exactly what the prune does");
    assert_eq!((real.documents, real.hits, real.events, real.alerts, real.keys_kept), (1, 1, 0, 0, 1));
    assert_eq!(titles(&path), ["抚恤金 b-event", "抚恤金 c-acted", "抚恤金 e-pending", "抚恤金 d-later"]);
    assert_eq!(store.last_prune_at().expect("read"), Some(day200));

    // The feed still lists the pruned item: it is known, so it is neither stored nor alerted.
    assert!(store.unseen(vec![document("a-plain")]).expect("unseen").is_empty());
    store_doc(&mut store, "a-plain", None, true, day200);
    assert_eq!(count(&path, "SELECT count(*) FROM alerts"), 4, "no new alert for a pruned item");

    // Day 800: event 1 (nothing since day 0) goes with its alert and document; event 2
    // (acted on at day 400) stays with its document, though its day-0 alert is past the
    // period; the pending alert and its document stay; the sent source notice goes; the
    // day-170 document is past 180 days now.
    let day800 = t + Duration::days(800);
    let r = store.prune(retention, day800, None, false).expect("prune");
    assert_eq!((r.events, r.documents), (1, 2), "{r:?}");
    assert_eq!(r.alerts, 3, "event 1's alert, event 2's sent alert and the source notice: {r:?}");
    assert_eq!(titles(&path), ["抚恤金 c-acted", "抚恤金 e-pending"]);
    assert_eq!(count(&path, "SELECT count(*) FROM events"), 1);
    assert_eq!(count(&path, "SELECT count(*) FROM event_actions"), 1);
    assert_eq!(count(&path, "SELECT count(*) FROM alerts WHERE status = 'pending'"), 1);
    assert_eq!(count(&path, "SELECT count(*) FROM document_keys"), 5, "every identity key is kept");
    assert!(store.unseen(vec![document("b-event"), document("d-later")]).expect("unseen").is_empty());
    drop(store);
    assert_eq!(maintenance::integrity_check(&path).expect("check"), Vec::<String>::new());
}

#[test]
fn batches_remove_at_most_their_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("yuqing.db")).expect("open");
    for n in 0..5 {
        store_doc(&mut store, &format!("k{n}"), None, false, t0());
    }
    let retention = Retention { documents_days: 1, assessment_days: 730 };
    let later = t0() + Duration::days(2);
    let sizes: Vec<usize> =
        (0..3).map(|_| store.prune(retention, later, Some(2), false).expect("prune").documents).collect();
    assert_eq!(sizes, [2, 2, 1]);
}

#[test]
fn the_low_disk_notice_goes_out_once_per_episode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("yuqing.db")).expect("open");
    let notice = message("【磁盘空间不足】");
    assert!(store.notify_disk_low(&notice, t0()).expect("notice"));
    assert!(!store.notify_disk_low(&notice, t0()).expect("notice"), "same episode: no second notice");
    assert!(store.disk_low_notified().expect("flag"));
    assert_eq!(store.outbox_status().expect("outbox").pending, 1);
    assert!(store.clear_disk_low().expect("clear"));
    assert!(!store.clear_disk_low().expect("clear"));
    assert!(store.notify_disk_low(&notice, t0()).expect("notice"), "a new episode");
    assert_eq!(store.outbox_status().expect("outbox").pending, 2);
}

#[test]
fn retention_settings_are_checked_with_their_line() {
    let p = Project::new(&source("news", "feed.xml"), FILE_MAIL);
    p.write("feed.xml", support::rss(&[]));
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("read");
    p.write("yuqing.toml", format!("{toml}[retention]\ndocuments_days = 0\nassessment_days = 30\nkeep = 1\n"));
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(run.stdout.contains("[retention] documents_days 不能为 0"), "{}", run.stdout);
    assert!(run.stdout.contains("keep"), "unknown key reported: {}", run.stdout);
    p.write(
        "yuqing.toml",
        format!("{toml}[retention]\ndocuments_days = 90\nassessment_days = 300\nmin_free_mb = 100\n"),
    );
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert!(run.stdout.contains("assessment_days = 300 短于一年"), "{}", run.stdout);
    let run = p.run(&["db", "prune", "--dry-run"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("将删除：文档 0 篇"), "{}", run.stdout);
    assert!(run.stdout.contains("文档 90 天，事件、提醒与处置记录 300 天"), "{}", run.stdout);
}
