use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::model::Field;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 2, 0, 0).single().unwrap_or_default()
}

fn doc(key: &str, title: &str) -> Document {
    Document {
        source_id: "s".into(),
        keys: vec![key.into()],
        fingerprint: format!("fp-{key}"),
        link: None,
        guid: None,
        title: title.into(),
        text: "正文".into(),
        author: None,
        published_at: None,
        page_state: None,
    }
}

fn alert(subject: &str) -> AlertMessage {
    AlertMessage {
        channel: "email".into(),
        recipients: vec!["a@example.gov.cn".into()],
        subject: subject.into(),
        body_text: "t".into(),
        body_html: "<p>t</p>".into(),
    }
}

fn hit() -> Hit {
    Hit { field: Field::Title, start: 0, end: 9, list: "l".into(), term: "抚恤金".into() }
}

fn batch(key: &str) -> NewDocument {
    NewDocument {
        document: doc(key, "抚恤金"),
        hits: vec![hit()],
        flags: vec![],
        negativity: None,
        to_verify: None,
        event: None,
        alert: Some(alert(key)),
        extra: vec![],
    }
}

#[test]
fn documents_hits_and_alerts_commit_together_and_dedup_across_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state/y.db");
    let v = Validators { etag: Some("\"e1\"".into()), last_modified: None };
    {
        let mut store = Store::open(&path).expect("open");
        let counts = store.commit_run("s", &[batch("k1"), batch("k2"), batch("k1")], 3, &v, now()).expect("commit");
        assert_eq!(counts, Committed { documents: 2, hits: 2, alerts: 2 });
        assert_eq!(store.validators("s").expect("validators"), v);
    }
    let mut store = Store::open(&path).expect("reopen");
    assert!(store.unseen(vec![doc("k1", "x"), doc("k2", "y")]).expect("unseen").is_empty());
    assert_eq!(store.unseen(vec![doc("k3", "z")]).expect("unseen").len(), 1);
    let counts = store.commit_run("s", &[batch("k2")], 1, &v, now()).expect("commit");
    assert_eq!(counts, Committed::default());
    assert_eq!(store.due_alerts(Some(now()), 10).expect("due").len(), 2);
}

#[test]
fn any_known_key_makes_a_document_known() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("y.db")).expect("open");
    let mut first = doc("guid:s:1", "a");
    first.keys.push("link:https://x.cn/1".into());
    store
        .commit_run(
            "s",
            &[NewDocument {
                document: first,
                hits: vec![],
                flags: vec![],
                negativity: None,
                to_verify: None,
                event: None,
                alert: None,
                extra: vec![],
            }],
            1,
            &Validators::default(),
            now(),
        )
        .expect("commit");
    let same_link = doc("guid:other:9", "a");
    let mut same_link = same_link;
    same_link.keys.push("link:https://x.cn/1".into());
    assert!(store.unseen(vec![same_link]).expect("unseen").is_empty());
}

#[test]
fn failed_delivery_is_retried_later_and_sent_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("y.db")).expect("open");
    store.commit_run("s", &[batch("k1")], 1, &Validators::default(), now()).expect("commit");
    let due = store.due_alerts(Some(now()), 10).expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].message.subject, "k1");
    store.mark_failed(due[0].id, "connection refused", now() + Duration::seconds(60), now()).expect("fail");
    assert!(store.due_alerts(Some(now()), 10).expect("due").is_empty());
    let status = store.outbox_status().expect("status");
    assert_eq!((status.pending, status.failing), (1, 1));
    assert_eq!(status.last_error.as_deref(), Some("connection refused"));
    assert_eq!(store.due_alerts(None, 10).expect("all pending").len(), 1);
    let later = now() + Duration::seconds(61);
    let due = store.due_alerts(Some(later), 10).expect("due");
    assert_eq!(due[0].attempts, 1);
    store.mark_sent(due[0].id, later, None).expect("sent");
    assert!(store.due_alerts(None, 10).expect("due").is_empty());
    assert_eq!(store.outbox_status().expect("status").pending, 0);
}

#[test]
fn source_state_counts_consecutive_failures_and_resets_on_success() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("y.db")).expect("open");
    store.record_failure("s", "HTTP status 500", now()).expect("fail");
    store.record_failure("s", "timed out", now()).expect("fail");
    let state = &store.source_states().expect("states")[0];
    assert_eq!(state.consecutive_failures, 2);
    assert_eq!(state.last_error.as_deref(), Some("timed out"));
    assert_eq!(state.last_success_at, None);
    store.record_not_modified("s", now()).expect("ok");
    let state = &store.source_states().expect("states")[0];
    assert_eq!(state.consecutive_failures, 0);
    assert_eq!(state.last_success_at, Some(now()));
    assert_eq!(store.last_attempt("s").expect("attempt"), Some(now()));
}

#[test]
fn recent_hits_lists_terms_per_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("y.db")).expect("open");
    let mut item = batch("k1");
    item.hits.push(Hit { field: Field::Text, start: 0, end: 6, list: "l".into(), term: "烈士".into() });
    item.hits.push(hit());
    store
        .commit_run(
            "s",
            &[
                item,
                NewDocument {
                    document: doc("k2", "无"),
                    hits: vec![],
                    flags: vec![],
                    negativity: None,
                    to_verify: None,
                    event: None,
                    alert: None,
                    extra: vec![],
                },
            ],
            2,
            &Validators::default(),
            now(),
        )
        .expect("commit");
    let rows = store.recent_hits(10).expect("hits");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].terms, vec!["抚恤金".to_string(), "烈士".to_string()]);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("y.db");
    drop(Store::open(&path).expect("open"));
    let conn = Connection::open(&path).expect("raw open");
    conn.pragma_update(None, "user_version", 99).expect("bump");
    drop(conn);
    assert!(matches!(Store::open(&path), Err(StoreError::TooNew { found: 99, .. })));
}

/// Regression: the daemon and a CLI command opening a new database at the same moment
/// both ran the first migration ("table source_state already exists").
#[test]
fn concurrent_first_opens_migrate_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("y.db");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                Store::open(&path).map(|_| ())
            })
        })
        .collect();
    for h in handles {
        let result = h.join().expect("thread");
        assert!(result.is_ok(), "{result:?}");
    }
}
