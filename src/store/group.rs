//! Group commit: the daemon's source runs share write transactions. Each run is its own
//! savepoint inside one open transaction (so a failed run takes back only its own rows), and
//! the transaction commits when [`GroupPolicy::max_runs`] runs are in it, when it is
//! [`GroupPolicy::max_age`] old at the next run or at the daemon's tick ([`Store::flush_due`]),
//! before any other transaction of the store ([`Store::write`]), before the outbox is used
//! (`Store::outbox`: nothing is claimed for sending before it is durable), before a workflow
//! action (`Store::workflow`: an accept is durable when it returns), and when the store is
//! dropped. Plain reads and single-statement writes (a source's poll state, a failure, an
//! event's state and the ladder's events) run inside the open group and see its rows.
//!
//! A cold poll of 1000 feeds made 1000 commits, each writing the same B-tree and
//! search-index pages to the WAL again (BENCHMARKS.md: grouped, 18 % fewer bytes written
//! with alerts going out beside the runs, 45 % fewer without).
//!
//! A crash before a group commits loses the whole group, the sources' state included, so
//! its sources are fetched again in full and nothing is lost. A commit that fails is rolled
//! back and remembered ([`Store::take_lost_group`]): the event index, which assigned the
//! lost documents, is then rebuilt from the store.
//!
//! CLI commands and tests that open their own [`Store`] never group: commits there are
//! immediate, as before.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::sql::{Exec, Sqlite, in_tx};
use super::{Store, StoreError};

/// When an open group commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupPolicy {
    /// Runs per transaction at most.
    pub max_runs: usize,
    /// How long a group may stay open (checked at each run and by the daemon's tick).
    pub max_age: Duration,
}

impl GroupPolicy {
    /// The daemon's setting: up to 64 runs or 200 ms per transaction.
    pub const DAEMON: GroupPolicy = GroupPolicy { max_runs: 64, max_age: Duration::from_millis(200) };
}

/// The group state of a store that groups its runs. The connection itself says whether a
/// group is open (it is not in autocommit mode); `open` counts its age and runs.
#[derive(Debug)]
pub(super) struct Grouping {
    policy: GroupPolicy,
    /// Since when the open group's transaction has been open, with how many runs in it.
    open: Cell<Option<(Instant, usize)>>,
    /// Set while a group is open, for the daemon's tick (read without the store's lock).
    flag: Arc<AtomicBool>,
    /// A group's commit failed since this was last asked.
    lost: Cell<bool>,
}

impl Store {
    /// Groups this store's source runs from now on (the daemon's store).
    /// Returns the flag that is set while a group is open, for [`Store::flush_due`]'s caller.
    /// On PostgreSQL nothing changes: each run is one transaction (two daemons' runs must
    /// not wait on each other's open groups).
    pub fn group_commits(&mut self, policy: GroupPolicy) -> Arc<AtomicBool> {
        let flag = Arc::new(AtomicBool::new(false));
        if self.dialect() == super::sql::Dialect::Postgres {
            return flag;
        }
        self.group = Some(Grouping { policy, open: Cell::new(None), flag: flag.clone(), lost: Cell::new(false) });
        flag
    }

    /// Commits the open group, if any. Whatever happens, no group is open afterwards: a
    /// commit that fails is rolled back (and remembered for [`Store::take_lost_group`]).
    pub fn flush(&self) -> Result<(), StoreError> {
        let Some(g) = self.group.as_ref() else { return Ok(()) };
        let Some((since, runs)) = g.open.take() else { return Ok(()) };
        g.flag.store(false, Ordering::Release);
        tracing::trace!(runs, open_ms = since.elapsed().as_millis() as u64, "committing a group of source runs");
        let conn = self.lite()?;
        if let Err(e) = conn.execute_batch("COMMIT") {
            // SQLite keeps some failed commits open: take it all back, and say so.
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            g.lost.set(true);
            return Err(e.into());
        }
        Ok(())
    }

    /// [`Store::flush`] where the caller cannot report an error: it is logged, and the
    /// group's runs are fetched again (their state went back with them).
    pub(super) fn flush_or_log(&self) {
        if let Err(e) = self.flush() {
            tracing::error!(error = %e, "cannot commit a group of source runs; they are fetched again");
        }
    }

    /// Commits the open group if it is older than the policy allows (the daemon's tick).
    pub fn flush_due(&self) -> Result<(), StoreError> {
        match self.group.as_ref().and_then(|g| g.open.get().map(|(since, _)| since.elapsed() >= g.policy.max_age)) {
            Some(true) => self.flush(),
            _ => Ok(()),
        }
    }

    /// Whether a group's commit failed (and its runs were taken back) since the last call.
    pub fn take_lost_group(&mut self) -> bool {
        self.group.as_ref().is_some_and(|g| g.lost.take())
    }

    /// Runs one source run's writes: in the open group (a savepoint of it) on a grouping
    /// store, else in a transaction of its own. A failed run leaves nothing of its own.
    pub(super) fn in_run<R>(
        &mut self,
        write: impl FnOnce(&mut dyn Exec) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let Some(policy) = self.group.as_ref().map(|g| g.policy) else {
            // No group (PostgreSQL's runs are one transaction each): one transaction.
            return in_tx(self.db().db(), write);
        };
        self.flush_due()?;
        if let Some(g) = self.group.as_ref().filter(|g| g.open.get().is_none()) {
            // IMMEDIATE: wait (busy timeout) for the write lock now, not fail on upgrading.
            self.lite()?.execute_batch("BEGIN IMMEDIATE")?;
            g.open.set(Some((Instant::now(), 0)));
            g.flag.store(true, Ordering::Release);
        }
        let out = {
            let mut sp = self.lite_mut()?.savepoint()?;
            match write(&mut Sqlite(&sp)) {
                Ok(out) => {
                    sp.commit()?;
                    out
                }
                Err(e) => {
                    sp.rollback()?;
                    return Err(e);
                }
            }
        };
        if let Some(g) = self.group.as_ref()
            && let Some((since, runs)) = g.open.get()
        {
            g.open.set(Some((since, runs + 1)));
            if runs + 1 >= policy.max_runs {
                self.flush()?;
            }
        }
        Ok(out)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.flush_or_log();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Document;
    use crate::store::NewDocument;
    use chrono::Utc;
    use rusqlite::Connection;

    fn doc(source: &str, n: usize) -> NewDocument {
        let document = Document {
            source_id: source.into(),
            keys: vec![format!("link:{source}:{n}")],
            fingerprint: format!("fp-{source}-{n}"),
            link: Some(format!("https://example.gov.cn/{source}/{n}")),
            guid: None,
            title: format!("标题 {n}"),
            text: format!("正文 {source} {n}"),
            author: None,
            published_at: None,
            page_state: None,
        };
        NewDocument {
            document,
            hits: Vec::new(),
            flags: Vec::new(),
            negativity: None,
            to_verify: None,
            event: None,
            alert: None,
            extra: Vec::new(),
        }
    }

    fn count(path: &std::path::Path) -> i64 {
        // A second connection sees only what is committed.
        let conn = Connection::open(path).expect("open");
        conn.query_row("SELECT count(*) FROM documents", [], |r| r.get(0)).expect("count")
    }

    #[test]
    fn runs_in_a_group_are_committed_together_by_count_and_by_flush() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("yuqing.db");
        let mut store = Store::open(&path).expect("open");
        let flag = store.group_commits(GroupPolicy { max_runs: 3, max_age: Duration::from_secs(3600) });
        let now = Utc::now();
        for n in 0..2 {
            store.commit_run(&format!("s{n}"), &[doc(&format!("s{n}"), n)], 1, &Default::default(), now).expect("run");
        }
        assert!(flag.load(Ordering::Acquire), "the group is open");
        assert_eq!(count(&path), 0, "nothing is committed before the group is");
        // The grouping connection sees its own runs (a repeated item is not new).
        assert!(store.unseen(vec![doc("s0", 0).document]).expect("unseen").is_empty());
        store.commit_run("s2", &[doc("s2", 2)], 1, &Default::default(), now).expect("third run");
        assert_eq!(count(&path), 3, "the third run fills the group, which commits");
        assert!(!flag.load(Ordering::Acquire));
        store.commit_run("s3", &[doc("s3", 3)], 1, &Default::default(), now).expect("run");
        assert_eq!(count(&path), 3);
        store.flush().expect("flush");
        assert_eq!(count(&path), 4);
        // Sources' 304s join the open group (a savepoint of it) and commit with it.
        store.commit_run("s4", &[doc("s4", 4)], 1, &Default::default(), now).expect("run");
        store.record_not_modified_many(&[("s0".into(), now)]).expect("304s");
        assert_eq!(count(&path), 4);
        // The outbox is read only after the group is durable: nothing is sent uncommitted.
        store.outbox_status().expect("outbox");
        assert_eq!(count(&path), 5, "using the outbox commits the group first");
        // Any other transaction commits it first, too.
        store.commit_run("s5", &[doc("s5", 5)], 1, &Default::default(), now).expect("run");
        store.link_key().expect("link key");
        assert_eq!(count(&path), 6, "a transaction of its own commits the group first");
    }

    #[test]
    fn a_group_whose_commit_fails_is_taken_back_whole_and_said_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("yuqing.db");
        let mut store = Store::open(&path).expect("open");
        let flag = store.group_commits(GroupPolicy { max_runs: 10, max_age: Duration::from_secs(3600) });
        let now = Utc::now();
        store.commit_run("a", &[doc("a", 1)], 1, &Default::default(), now).expect("run");
        // A foreign key checked only at COMMIT makes the commit itself fail.
        store
            .lite().expect("sqlite")
            .execute_batch(
                "PRAGMA defer_foreign_keys = ON;
                 INSERT INTO hits (document_id, list, term, field, start, end) VALUES (999999, 'l', 't', 'title', 0, 1)",
            )
            .expect("a dangling hit");
        assert!(store.flush().is_err(), "the commit fails");
        assert!(store.take_lost_group(), "and says its runs are gone (the event index is rebuilt)");
        assert!(!store.take_lost_group(), "once");
        assert!(!flag.load(Ordering::Acquire));
        assert_eq!(count(&path), 0, "nothing of the group is stored");
        assert!(store.last_attempt("a").expect("state").is_none(), "its source state went with it");
        // The store goes on: the next run opens a new group and commits.
        store.commit_run("a", &[doc("a", 1)], 1, &Default::default(), now).expect("run again");
        store.flush().expect("flush");
        assert_eq!(count(&path), 1);
    }

    #[test]
    fn workflow_reads_stay_in_the_group_and_an_action_commits_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("yuqing.db");
        let mut store = Store::open(&path).expect("open");
        store
            .lite()
            .expect("sqlite")
            .execute_batch(
                "INSERT INTO documents (id, source_id, fingerprint, title, text, fetched_at)
                 VALUES (1, 'forum', 'f1', '标题', '正文', 1000);
                 INSERT INTO events (id, title, first_document_id, first_source_id, first_seen_at, last_seen_at,
                                     documents, sources, created_at, grade, owner)
                 VALUES (1, '标题', 1, 'forum', 1000, 1000, 1, 1, 1000, 'III', 'office');",
            )
            .expect("seed");
        let flag = store.group_commits(GroupPolicy { max_runs: 10, max_age: Duration::from_secs(3600) });
        let now = Utc::now();
        store.commit_run("s", &[doc("s", 1)], 1, &Default::default(), now).expect("run");
        // The ingest path reads the event's state and the ladder reads its events while the
        // group is open: the group stays open.
        assert!(store.event_state(1).expect("state").is_some());
        assert_eq!(store.ladder_events(now - chrono::Duration::days(30_000)).expect("ladder").len(), 1);
        assert!(flag.load(Ordering::Acquire), "reads leave the group open");
        assert_eq!(count(&path), 1);
        // An accept is durable when it returns, the group's runs with it.
        let accept = crate::store::Action { action: "accept", actor: "wang", target: None, link: None, note: None };
        assert!(store.record_action(1, &accept, now).expect("accept"));
        assert!(!flag.load(Ordering::Acquire), "the action committed the group");
        assert_eq!(count(&path), 2);
        let conn = Connection::open(&path).expect("open");
        let accepts: i64 = conn
            .query_row("SELECT count(*) FROM event_actions WHERE action = 'accept'", [], |r| r.get(0))
            .expect("count");
        assert_eq!(accepts, 1, "another connection sees the accept");
    }

    #[test]
    fn a_failed_run_takes_back_only_its_own_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("yuqing.db");
        let mut store = Store::open(&path).expect("open");
        store.group_commits(GroupPolicy { max_runs: 10, max_age: Duration::from_secs(3600) });
        let now = Utc::now();
        store.commit_run("a", &[doc("a", 1)], 1, &Default::default(), now).expect("run");
        let failed: Result<(), StoreError> = store.in_run(|tx| {
            super::super::ingest::insert_new(tx, &doc("b", 1), now.timestamp(), &mut Default::default())?;
            Err(StoreError::NoRow("made to fail".into()))
        });
        assert!(failed.is_err());
        store.commit_run("c", &[doc("c", 1)], 1, &Default::default(), now).expect("run");
        store.flush().expect("flush");
        let conn = Connection::open(&path).expect("open");
        let sources: Vec<String> = conn
            .prepare("SELECT source_id FROM documents ORDER BY source_id")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(sources, ["a", "c"]);
    }

    #[test]
    fn an_open_group_is_committed_when_the_store_is_dropped_and_by_age() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("yuqing.db");
        let now = Utc::now();
        {
            let mut store = Store::open(&path).expect("open");
            store.group_commits(GroupPolicy { max_runs: 10, max_age: Duration::from_secs(3600) });
            store.commit_run("a", &[doc("a", 1)], 1, &Default::default(), now).expect("run");
            assert_eq!(count(&path), 0);
        }
        assert_eq!(count(&path), 1, "dropping the store commits its group");
        let mut store = Store::open(&path).expect("open");
        store.group_commits(GroupPolicy { max_runs: 10, max_age: Duration::ZERO });
        store.commit_run("b", &[doc("b", 1)], 1, &Default::default(), now).expect("run");
        store.flush_due().expect("tick");
        assert_eq!(count(&path), 2, "a group past its age is committed by the tick");
    }
}
