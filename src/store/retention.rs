//! Data lifecycle: pruning old documents and old events, and the daemon's own flags.
//!
//! Two ages govern what stays (`[retention]`): documents for `documents_days`, and what the
//! yearly assessment (Art. 15) reads — events with their propagation path, alerts, workflow
//! actions (the audit trail) and the notification log — for `assessment_days`.
//!
//! The rules, in the order [`Store::prune`] applies them inside one transaction:
//!
//! 1. An event goes when nothing happened to it within the assessment period: created,
//!    last seen and last acted on before the cutoff, and no alert of it still pending. Its
//!    actions, notification log, link uses, propagation rows and alerts go with it.
//! 2. Sent (or dropped / dead) alerts older than the assessment cutoff go; pending ones never.
//! 3. A document goes when it was fetched before the documents cutoff and nothing that is
//!    kept points at it: no remaining event's propagation path or first document, no
//!    remaining alert. Its hits, flags, engagement points and policy-topic rows go with it.
//! 4. Its identity keys stay, detached (`document_id` NULL): a feed that still lists an old
//!    item must not make it new again. Keys are small (a URL or a guid), so this costs little.
//!    Comments kept under a pruned post's key go.
//!
//! Nothing here reads the clock: callers pass `now`, so tests run on a virtual one.
//!
//! Both backends (issue 19): one SQL text each, the doomed ids held in two temporary tables
//! per prune ([`temp_ids`], the only per-dialect piece). On PostgreSQL two daemons pruning
//! at once delete the same rows at most once: the second's deletes wait for the first's row
//! locks and then find the rows gone.

use chrono::{DateTime, Utc};

use super::sql::{Dialect, Exec};
use super::{Store, StoreError};
use crate::model::AlertMessage;

/// How long data is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub documents_days: u32,
    pub assessment_days: u32,
}

/// What a prune removed (or, on a dry run, would remove).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub documents: usize,
    pub hits: usize,
    pub events: usize,
    pub actions: usize,
    pub alerts: usize,
    pub comments: usize,
    /// Identity keys kept, detached from their pruned documents.
    pub keys_kept: usize,
}

/// The daemon's own once-per-episode flag for the low-disk notice.
const DISK_LOW_NOTIFIED: &str = "disk_low_notified";
/// When the last prune ran (Unix seconds).
const LAST_PRUNE_AT: &str = "last_prune_at";

impl Store {
    /// Prunes what is older than `retention` allows at `now`, in one transaction, removing
    /// at most `batch` documents (all with `None`): the daemon prunes in small batches so it
    /// never holds the database for long. With `dry_run` the same work is done and rolled
    /// back, so the counts are exact.
    pub fn prune(
        &mut self,
        retention: Retention,
        now: DateTime<Utc>,
        batch: Option<usize>,
        dry_run: bool,
    ) -> Result<PruneReport, StoreError> {
        let doc_cutoff = cutoff(now, retention.documents_days);
        let assess_cutoff = cutoff(now, retention.assessment_days);
        self.write(|tx| {
            // A dry run does the work inside a savepoint it rolls back (temporary tables
            // included), so the counts are exact and nothing changes; the empty transaction
            // then commits. SAVEPOINT is the same statement on both backends.
            if dry_run {
                tx.execute("SAVEPOINT prune_dry_run", &[])?;
            }
            let mut report = PruneReport::default();
            prune_events(tx, assess_cutoff, &mut report)?;
            // An alert's delivery attempts go with it.
            tx.execute(
                "DELETE FROM alert_attempts WHERE alert_id IN
                     (SELECT id FROM alerts WHERE status != 'pending' AND created_at < ?1)",
                &[&assess_cutoff],
            )?;
            report.alerts +=
                tx.execute("DELETE FROM alerts WHERE status != 'pending' AND created_at < ?1", &[&assess_cutoff])?;
            prune_documents(tx, doc_cutoff, batch, &mut report)?;
            if dry_run {
                tx.execute("ROLLBACK TO SAVEPOINT prune_dry_run", &[])?;
                tx.execute("RELEASE SAVEPOINT prune_dry_run", &[])?;
            } else {
                set_state(tx, LAST_PRUNE_AT, now.timestamp())?;
            }
            Ok(report)
        })
    }

    /// When the last (real) prune ran.
    pub fn last_prune_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.state(LAST_PRUNE_AT)?.and_then(|s| DateTime::from_timestamp(s, 0)))
    }

    /// Queues the low-disk notice unless one went out in this episode; `true` when queued.
    pub fn notify_disk_low(&mut self, message: &AlertMessage, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.write(|tx| {
            // A claim of the episode: on PostgreSQL a second daemon's upsert waits for the
            // first's row lock, then finds the flag set and changes nothing. The old row's
            // column is named with its table (PostgreSQL finds a bare `value` ambiguous).
            let changed = tx.execute(
                "INSERT INTO daemon_state (name, value) VALUES (?1, 1)
                 ON CONFLICT(name) DO UPDATE SET value = 1 WHERE daemon_state.value != 1",
                &[&DISK_LOW_NOTIFIED],
            )?;
            if changed == 1 {
                super::outbox::enqueue_notice(tx, None, "disk_low", message, now.timestamp())?;
            }
            Ok(changed == 1)
        })
    }

    /// Ends a low-disk episode (free space is back above the threshold): the next shortage
    /// gives a new notice. `true` when an episode was open.
    pub fn clear_disk_low(&mut self) -> Result<bool, StoreError> {
        let changed = self.write(|tx| {
            tx.execute("UPDATE daemon_state SET value = 0 WHERE name = ?1 AND value != 0", &[&DISK_LOW_NOTIFIED])
        })?;
        Ok(changed == 1)
    }

    /// Whether a low-disk notice went out and free space has not recovered since.
    pub fn disk_low_notified(&self) -> Result<bool, StoreError> {
        Ok(self.state(DISK_LOW_NOTIFIED)? == Some(1))
    }

    fn state(&self, name: &str) -> Result<Option<i64>, StoreError> {
        self.db().exec().first("SELECT value FROM daemon_state WHERE name = ?1", &[&name], |r| r.get(0))
    }
}

fn cutoff(now: DateTime<Utc>, days: u32) -> i64 {
    now.timestamp() - i64::from(days) * 86_400
}

fn set_state(tx: &mut dyn Exec, name: &str, value: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO daemon_state (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = ?2",
        &[&name, &value],
    )?;
    Ok(())
}

/// Creates the temporary id table `name` for this transaction. Per dialect, because the
/// DDL differs: SQLite's temporary tables live in the connection's `temp` schema (an
/// `INTEGER PRIMARY KEY` is the rowid), PostgreSQL's in `pg_temp`, BIGINT like every id and
/// dropped at the latest with the transaction. The statements that use it name it bare,
/// which both resolve to the temporary table first.
fn temp_ids(tx: &mut dyn Exec, name: &str) -> Result<(), StoreError> {
    match tx.dialect() {
        Dialect::Sqlite => {
            tx.execute(&format!("DROP TABLE IF EXISTS temp.{name}"), &[])?;
            tx.execute(&format!("CREATE TEMP TABLE {name} (id INTEGER PRIMARY KEY)"), &[])?;
        }
        Dialect::Postgres => {
            tx.execute(&format!("CREATE TEMP TABLE {name} (id BIGINT PRIMARY KEY) ON COMMIT DROP"), &[])?;
        }
    }
    Ok(())
}

/// Drops the temporary id table `name` ([`temp_ids`]).
fn drop_temp_ids(tx: &mut dyn Exec, name: &str) -> Result<(), StoreError> {
    let schema = match tx.dialect() {
        Dialect::Sqlite => "temp",
        Dialect::Postgres => "pg_temp",
    };
    tx.execute(&format!("DROP TABLE {schema}.{name}"), &[])?;
    Ok(())
}

/// Rule 1: events untouched since the assessment cutoff, with everything that hangs on them.
fn prune_events(tx: &mut dyn Exec, cutoff: i64, report: &mut PruneReport) -> Result<(), StoreError> {
    temp_ids(tx, "prune_events")?;
    tx.execute(
        "INSERT INTO prune_events (id)
         SELECT e.id FROM events e
         WHERE e.created_at < ?1 AND e.last_seen_at < ?1
           AND NOT EXISTS (SELECT 1 FROM event_actions a WHERE a.event_id = e.id AND a.at >= ?1)
           AND NOT EXISTS (SELECT 1 FROM alerts l WHERE l.event_id = e.id AND l.status = 'pending')",
        &[&cutoff],
    )?;
    const DOOMED: &str = "IN (SELECT id FROM prune_events)";
    report.actions += tx.execute(&format!("DELETE FROM event_actions WHERE event_id {DOOMED}"), &[])?;
    tx.execute(&format!("DELETE FROM notifications WHERE event_id {DOOMED}"), &[])?;
    tx.execute(&format!("DELETE FROM link_uses WHERE event_id {DOOMED}"), &[])?;
    tx.execute(&format!("DELETE FROM event_documents WHERE event_id {DOOMED}"), &[])?;
    tx.execute(
        &format!("DELETE FROM alert_attempts WHERE alert_id IN (SELECT id FROM alerts WHERE event_id {DOOMED})"),
        &[],
    )?;
    report.alerts += tx.execute(&format!("DELETE FROM alerts WHERE event_id {DOOMED}"), &[])?;
    report.events += tx.execute(&format!("DELETE FROM events WHERE id {DOOMED}"), &[])?;
    drop_temp_ids(tx, "prune_events")
}

/// Rules 3 and 4: old documents nothing kept points at; their keys stay, detached. A batch
/// takes the lowest ids first (the same documents on either backend).
fn prune_documents(
    tx: &mut dyn Exec,
    cutoff: i64,
    batch: Option<usize>,
    report: &mut PruneReport,
) -> Result<(), StoreError> {
    // No batch: no bound (PostgreSQL refuses SQLite's negative LIMIT).
    let limit = batch.map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX));
    temp_ids(tx, "prune_docs")?;
    tx.execute(
        "INSERT INTO prune_docs (id)
         SELECT id FROM documents WHERE fetched_at < ?1
         EXCEPT SELECT document_id FROM event_documents
         EXCEPT SELECT first_document_id FROM events
         EXCEPT SELECT document_id FROM alerts WHERE document_id IS NOT NULL
         ORDER BY 1 LIMIT ?2",
        &[&cutoff, &limit],
    )?;
    const DOOMED: &str = "IN (SELECT id FROM prune_docs)";
    report.hits += tx.execute(&format!("DELETE FROM hits WHERE document_id {DOOMED}"), &[])?;
    tx.execute(&format!("DELETE FROM flags WHERE document_id {DOOMED}"), &[])?;
    tx.execute(&format!("DELETE FROM engagement WHERE document_id {DOOMED}"), &[])?;
    tx.execute(&format!("DELETE FROM policy_documents WHERE document_id {DOOMED}"), &[])?;
    report.keys_kept +=
        tx.execute(&format!("UPDATE document_keys SET document_id = NULL WHERE document_id {DOOMED}"), &[])?;
    report.comments += tx.execute(
        "DELETE FROM comments WHERE post_key IN (SELECT key FROM document_keys WHERE document_id IS NULL)",
        &[],
    )?;
    report.documents += tx.execute(&format!("DELETE FROM documents WHERE id {DOOMED}"), &[])?;
    drop_temp_ids(tx, "prune_docs")
}
