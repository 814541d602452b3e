//! The per-source state of every poll, written once for both backends (issue 19's second
//! shared slice): what a run reads before it fetches (the validators for a conditional GET
//! and the source's health for its notices), what it writes when the server answers 304 or
//! the run fails, the health notices (queued once per episode, with the episode flag in the
//! same transaction), the reads the scheduler and the CLI use (last attempt, last entries,
//! every source's state), and the source leases several daemons take on PostgreSQL.
//!
//! [`SourceStates`] is the handle: `Store::sources()` on either backend (SQLite or
//! PostgreSQL); `Store`'s own methods of the same names call it, so the daemon and the
//! pipeline are unchanged. A successful run's state is written with its documents by the
//! ingest path (`store::ingest`, `Store::commit_run`), not here.
//!
//! Source leases ([`SourceStates::claim`], [`SourceStates::renew`],
//! [`SourceStates::release`]): each daemon computes from the cron schedules which sources
//! are due and for which scheduled time (the slot), and asks the store to lease them for one
//! run (fetch and commit). On PostgreSQL several daemons share the sources: `source_leases`
//! holds one row per source with its holder (`lease_owner`, `lease_until`), the slot of the
//! lease and `done_slot`, the latest slot whose run ended (released). A claim takes, with
//! `FOR UPDATE SKIP LOCKED`, the sources whose lease is free or ran out (its holder crashed
//! or hung) and whose asked slot is later than `done_slot` — so a slot that one daemon ran
//! is not run again by another that computed the same slot a moment later, and a row another
//! claim is locking is skipped, not waited for. A release ends the lease at once (the next
//! slot is claimable by anyone); a renewal keeps a long run's lease unless another daemon
//! already took it over. On SQLite one daemon holds the file (`daemon::lock`) and its
//! scheduler runs each source at most once at a time, so a claim is every source asked for
//! and renew/release have nothing to do.

use chrono::{DateTime, Utc};

use super::delivery::Lease;
use super::pg::conn::PgConn;
use super::read::{SourceState, time};
use super::sql::{Db, Dialect, Exec, Row, Sqlite, in_tx};
use super::{Conn, Health, Store, StoreError};
use crate::model::{AlertMessage, SourceNotice, Validators};

/// A source the scheduler found due, asking for its lease: which source, the scheduled time
/// the run is for, and how long the lease holds (longer than the run can take: see
/// [`lease_secs_for`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueSource {
    pub source_id: String,
    pub slot: DateTime<Utc>,
    pub lease_secs: i64,
}

/// How long a source's lease should hold for one run whose fetch may take up to
/// `fetch_timeout`: twice that (the connection, the body, a page source's follow-up
/// requests share the budget unevenly) plus two minutes for parsing and the commit. A run
/// that might exceed it renews its lease ([`SourceStates::renew`]).
pub fn lease_secs_for(fetch_timeout: std::time::Duration) -> i64 {
    i64::try_from(fetch_timeout.as_secs()).unwrap_or(i64::MAX / 4).saturating_mul(2).saturating_add(120)
}

/// The source state of one store, on either backend.
pub struct SourceStates<'a> {
    db: Handle<'a>,
}

enum Handle<'a> {
    Sqlite(Sqlite<'a>),
    /// The connection and the lease naming this daemon (`owner`; the length of a source
    /// lease is asked per source).
    Postgres(std::cell::RefMut<'a, PgConn>, &'a Lease),
}

impl Store {
    /// The source-state operations on this (SQLite) store.
    pub fn sources(&self) -> SourceStates<'_> {
        match &self.conn {
            Conn::Sqlite(c) => SourceStates { db: Handle::Sqlite(Sqlite(c)) },
            Conn::Postgres { conn, lease } => SourceStates { db: Handle::Postgres(conn.borrow_mut(), lease) },
        }
    }
}

/// The six `source_state` columns a [`Health`] is read from, in [`health_at`]'s order.
macro_rules! health_columns {
    () => {
        "consecutive_failures, failing_notified, silent_notified, last_new_at, last_success_at, last_error"
    };
}

impl<'a> SourceStates<'a> {
    fn db(&mut self) -> &mut dyn Db {
        match &mut self.db {
            Handle::Sqlite(s) => s,
            Handle::Postgres(c, _) => &mut **c,
        }
    }

    fn exec(&mut self) -> &mut dyn Exec {
        self.db()
    }

    pub fn dialect(&self) -> Dialect {
        match self.db {
            Handle::Sqlite(_) => Dialect::Sqlite,
            Handle::Postgres(..) => Dialect::Postgres,
        }
    }

    /// The validators to send with the next conditional GET of a source.
    pub fn validators(&mut self, source_id: &str) -> Result<Validators, StoreError> {
        let row = self.exec().first(
            "SELECT etag, last_modified FROM source_state WHERE source_id = ?1",
            &[&source_id],
            |r| Ok(Validators { etag: r.get(0)?, last_modified: r.get(1)? }),
        )?;
        Ok(row.unwrap_or_default())
    }

    /// How many entries the source's last successful run parsed, if it ever had one.
    pub fn last_entries(&mut self, source_id: &str) -> Result<Option<u64>, StoreError> {
        let n: Option<Option<i64>> =
            self.exec()
                .first("SELECT last_entries FROM source_state WHERE source_id = ?1", &[&source_id], |r| r.get(0))?;
        Ok(n.flatten().and_then(|n| u64::try_from(n).ok()))
    }

    /// The last time a run of the source was attempted, if ever.
    pub fn last_attempt(&mut self, source_id: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let secs: Option<Option<i64>> =
            self.exec()
                .first("SELECT last_attempt_at FROM source_state WHERE source_id = ?1", &[&source_id], |r| r.get(0))?;
        Ok(time(secs.flatten()))
    }

    /// What a run needs before it fetches, in one read: the validators for a conditional
    /// GET and the source's health (for the notices after a 304, which writes nothing else).
    pub fn poll_state(&mut self, source_id: &str) -> Result<(Validators, Health), StoreError> {
        let row = self.exec().first(
            concat!("SELECT etag, last_modified, ", health_columns!(), " FROM source_state WHERE source_id = ?1"),
            &[&source_id],
            |r| Ok((Validators { etag: r.get(0)?, last_modified: r.get(1)? }, health_at(r, 2)?)),
        )?;
        Ok(row.unwrap_or_default())
    }

    /// A source's health as far as notices are concerned.
    pub fn health(&mut self, source_id: &str) -> Result<Health, StoreError> {
        let row = self.exec().first(
            concat!("SELECT ", health_columns!(), " FROM source_state WHERE source_id = ?1"),
            &[&source_id],
            |r| health_at(r, 0),
        )?;
        Ok(row.unwrap_or_default())
    }

    /// Records a run that found nothing new (HTTP 304): a success, validators unchanged.
    pub fn record_not_modified(&mut self, source_id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.exec().execute(
            "INSERT INTO source_state (source_id, last_attempt_at, last_success_at) VALUES (?1, ?2, ?2)
             ON CONFLICT(source_id) DO UPDATE SET last_attempt_at = ?2, last_success_at = ?2, consecutive_failures = 0",
            &[&source_id, &now.timestamp()],
        )?;
        Ok(())
    }

    /// [`SourceStates::record_not_modified`] for many sources in one transaction (`(source,
    /// when)` each). The times only move forward, so a batch written after a later run of
    /// the same source (a commit or a failure) does not take its state back. On PostgreSQL
    /// the rows are written in source order, so two daemons writing overlapping batches
    /// lock them in the same order (no deadlock).
    pub fn record_not_modified_many(&mut self, runs: &[(String, DateTime<Utc>)]) -> Result<(), StoreError> {
        if runs.is_empty() {
            return Ok(());
        }
        if self.dialect() == Dialect::Postgres {
            // One statement for the whole batch (a warm slot of 10,000 sources was 10,000
            // round trips), each source once at its latest time, in source order.
            let mut latest: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
            for (source_id, at) in runs {
                let t = latest.entry(source_id.as_str()).or_insert(i64::MIN);
                *t = (*t).max(at.timestamp());
            }
            let rows: Vec<serde_json::Value> =
                latest.into_iter().map(|(id, at)| serde_json::json!({ "id": id, "at": at })).collect();
            let rows = serde_json::Value::Array(rows).to_string();
            self.db().execute(
                "INSERT INTO source_state (source_id, last_attempt_at, last_success_at)
                 SELECT x.id, x.at, x.at
                 FROM jsonb_to_recordset(CAST(CAST(?1 AS TEXT) AS jsonb)) AS x(id TEXT, at BIGINT)
                 ORDER BY x.id
                 ON CONFLICT(source_id) DO UPDATE SET
                     consecutive_failures = CASE WHEN coalesce(source_state.last_attempt_at, 0) <= EXCLUDED.last_attempt_at
                                                 THEN 0 ELSE source_state.consecutive_failures END,
                     last_attempt_at = GREATEST(coalesce(source_state.last_attempt_at, 0), EXCLUDED.last_attempt_at),
                     last_success_at = GREATEST(coalesce(source_state.last_success_at, 0), EXCLUDED.last_success_at)",
                &[&rows],
            )?;
            return Ok(());
        }
        // SQLite (one writer): a statement per run; two-argument max() is SQLite's GREATEST.
        in_tx(self.db(), |tx| {
            for (source_id, at) in runs {
                tx.execute(
                    "INSERT INTO source_state (source_id, last_attempt_at, last_success_at) VALUES (?1, ?2, ?2)
                     ON CONFLICT(source_id) DO UPDATE SET
                         consecutive_failures = CASE WHEN coalesce(source_state.last_attempt_at, 0) <= ?2
                                                     THEN 0 ELSE source_state.consecutive_failures END,
                         last_attempt_at = max(coalesce(source_state.last_attempt_at, 0), ?2),
                         last_success_at = max(coalesce(source_state.last_success_at, 0), ?2)",
                    &[source_id, &at.timestamp()],
                )?;
            }
            Ok(())
        })
    }

    /// Records a failed run: the error, when, and one more consecutive failure.
    pub fn record_failure(&mut self, source_id: &str, error: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.exec().execute(
            "INSERT INTO source_state (source_id, last_attempt_at, last_error, last_error_at, consecutive_failures)
             VALUES (?1, ?2, ?3, ?2, 1)
             ON CONFLICT(source_id) DO UPDATE SET last_attempt_at = ?2, last_error = ?3, last_error_at = ?2,
                 consecutive_failures = source_state.consecutive_failures + 1",
            &[&source_id, &now.timestamp(), &error],
        )?;
        Ok(())
    }

    /// Queues a notice about a source and sets (or clears) its episode flag, in one
    /// transaction and only if the flag was not already in that state: a notice goes out
    /// once per episode even if two runs race (on PostgreSQL the second waits for the
    /// first's row lock, then finds the flag set).
    pub fn notify_source(
        &mut self,
        source_id: &str,
        notice: SourceNotice,
        message: &AlertMessage,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (flag, set): (&str, i64) = match notice {
            SourceNotice::Failing => {
                ("UPDATE source_state SET failing_notified = ?2 WHERE source_id = ?1 AND failing_notified != ?2", 1)
            }
            SourceNotice::Recovered => {
                ("UPDATE source_state SET failing_notified = ?2 WHERE source_id = ?1 AND failing_notified != ?2", 0)
            }
            SourceNotice::Silent => {
                ("UPDATE source_state SET silent_notified = ?2 WHERE source_id = ?1 AND silent_notified != ?2", 1)
            }
        };
        let recipients = serde_json::to_string(&message.recipients).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        in_tx(self.db(), |tx| {
            let changed = tx.execute(flag, &[&source_id, &set])?;
            if changed == 1 {
                tx.execute(
                    "INSERT INTO alerts (kind, source_id, channel, recipients, subject, body_text, body_html,
                                         next_attempt_at, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                    &[
                        &notice.as_str(),
                        &source_id,
                        &message.channel,
                        &recipients,
                        &message.subject,
                        &message.body_text,
                        &message.body_html,
                        &now.timestamp(),
                    ],
                )?;
            }
            Ok(changed == 1)
        })
    }

    /// Clears the silence flag once a source has new documents again.
    pub fn clear_silence(&mut self, source_id: &str) -> Result<(), StoreError> {
        self.exec().execute("UPDATE source_state SET silent_notified = 0 WHERE source_id = ?1", &[&source_id])?;
        Ok(())
    }

    /// The recorded state of every source that has run at least once.
    pub fn states(&mut self) -> Result<Vec<SourceState>, StoreError> {
        self.exec().rows(
            "SELECT s.source_id, s.last_attempt_at, s.last_success_at, s.last_error, s.last_error_at,
                    s.consecutive_failures, (SELECT count(*) FROM documents d WHERE d.source_id = s.source_id),
                    s.last_new_at, s.failing_notified, s.silent_notified
             FROM source_state s ORDER BY s.source_id",
            &[],
            |r| {
                Ok(SourceState {
                    source_id: r.get(0)?,
                    last_attempt_at: time(r.get(1)?),
                    last_success_at: time(r.get(2)?),
                    last_error: r.get(3)?,
                    last_error_at: time(r.get(4)?),
                    consecutive_failures: count(r.get(5)?),
                    documents: r.get::<i64>(6)?.try_into().unwrap_or(0),
                    last_new_at: time(r.get(7)?),
                    failing_notified: r.get::<i64>(8)? != 0,
                    silent_notified: r.get::<i64>(9)? != 0,
                })
            },
        )
    }

    /// Leases the due sources this daemon may run now, at `now`: the ids of `due` it got, in
    /// the order asked. On PostgreSQL a source is left out while another daemon's lease on it
    /// holds, while another claim is locking its row, or when its asked slot is not later
    /// than the last slot run to its end (see the module doc); on SQLite every source asked
    /// for is granted.
    pub fn claim(&mut self, due: &[DueSource], now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let mut seen = std::collections::HashSet::new();
        let asked: Vec<&DueSource> = due.iter().filter(|d| seen.insert(d.source_id.as_str())).collect();
        let (conn, lease) = match &mut self.db {
            Handle::Sqlite(_) => return Ok(asked.into_iter().map(|d| d.source_id.clone()).collect()),
            Handle::Postgres(conn, lease) => (&mut **conn, &**lease),
        };
        if asked.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<serde_json::Value> = asked
            .iter()
            .map(|d| {
                serde_json::json!({
                    "id": d.source_id,
                    "slot": d.slot.timestamp(),
                    "until": now.timestamp().saturating_add(d.lease_secs),
                })
            })
            .collect();
        let wanted = serde_json::Value::Array(wanted).to_string();
        let (owner, now) = (lease.owner.as_str(), now.timestamp());
        let db: &mut dyn Exec = conn;
        // A source never leased before gets its row with this lease. The rows go in in id
        // order, so two claims inserting overlapping sets wait for each other, never deadlock;
        // a row another claim is inserting is waited for (a moment), then left to it.
        let mut got: Vec<String> = db.rows(
            "INSERT INTO source_leases (source_id, lease_owner, lease_until, slot)
             SELECT x.id, CAST(?2 AS TEXT), x.until, x.slot
             FROM jsonb_to_recordset(CAST(CAST(?1 AS TEXT) AS jsonb)) AS x(id TEXT, slot BIGINT, until BIGINT)
             ORDER BY x.id
             ON CONFLICT DO NOTHING RETURNING source_id",
            &[&wanted, &owner],
            |r| r.get(0),
        )?;
        // The others: free or run out, for a slot not yet run, and not locked by a claim in
        // progress (those are skipped).
        got.extend(db.rows(
            "WITH wanted AS (
                 SELECT x.id, x.slot, x.until
                 FROM jsonb_to_recordset(CAST(CAST(?1 AS TEXT) AS jsonb)) AS x(id TEXT, slot BIGINT, until BIGINT)),
             free AS (
                 SELECT l.source_id, w.slot, w.until FROM source_leases l JOIN wanted w ON w.id = l.source_id
                 WHERE coalesce(l.lease_until, 0) <= ?3 AND (l.done_slot IS NULL OR l.done_slot < w.slot)
                 ORDER BY l.source_id
                 FOR UPDATE OF l SKIP LOCKED)
             UPDATE source_leases s SET lease_owner = ?2, lease_until = free.until, slot = free.slot
             FROM free WHERE s.source_id = free.source_id
             RETURNING s.source_id",
            &[&wanted, &owner, &now],
            |r| r.get(0),
        )?);
        let got: std::collections::HashSet<String> = got.into_iter().collect();
        Ok(asked.into_iter().filter(|d| got.contains(&d.source_id)).map(|d| d.source_id.clone()).collect())
    }

    /// Extends this daemon's lease on a source to `lease_secs` from `now`, for a run that
    /// takes longer than its lease. False when the lease is no longer this daemon's
    /// (released, or run out and taken over by another daemon): the run should stop
    /// before it stores anything more. On SQLite always true.
    pub fn renew(&mut self, source_id: &str, now: DateTime<Utc>, lease_secs: i64) -> Result<bool, StoreError> {
        let Handle::Postgres(conn, lease) = &mut self.db else { return Ok(true) };
        let until = now.timestamp().saturating_add(lease_secs);
        let db: &mut dyn Exec = &mut **conn;
        let n = db.execute(
            "UPDATE source_leases SET lease_until = ?3
             WHERE source_id = ?1 AND lease_owner = ?2 AND lease_until IS NOT NULL",
            &[&source_id, &lease.owner.as_str(), &until],
        )?;
        Ok(n == 1)
    }

    /// Ends this daemon's lease on a source after its run (success or failure): the slot it
    /// was for counts as run, and the next slot is claimable by any daemon at once. False
    /// when the lease was no longer this daemon's (nothing changes then). On SQLite always
    /// true.
    pub fn release(&mut self, source_id: &str) -> Result<bool, StoreError> {
        let Handle::Postgres(conn, lease) = &mut self.db else { return Ok(true) };
        let db: &mut dyn Exec = &mut **conn;
        let n = db.execute(
            "UPDATE source_leases SET lease_owner = NULL, lease_until = NULL, done_slot = slot
             WHERE source_id = ?1 AND lease_owner = ?2",
            &[&source_id, &lease.owner.as_str()],
        )?;
        Ok(n == 1)
    }
}

/// A stored count as a `u32` (saturating; a negative one is corrupt and reads as 0).
fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// A [`Health`] from the six columns of `health_columns!` starting at `first` (flags are
/// 0/1 integers on both backends).
fn health_at(r: &Row<'_, '_>, first: usize) -> Result<Health, StoreError> {
    Ok(Health {
        consecutive_failures: count(r.get(first)?),
        failing_notified: r.get::<i64>(first + 1)? != 0,
        silent_notified: r.get::<i64>(first + 2)? != 0,
        last_new_at: time(r.get(first + 3)?),
        last_success_at: time(r.get(first + 4)?),
        last_error: r.get(first + 5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_outlasts_two_fetch_timeouts_and_a_commit() {
        assert_eq!(lease_secs_for(std::time::Duration::from_secs(30)), 180);
        assert_eq!(lease_secs_for(std::time::Duration::ZERO), 120);
        assert!(lease_secs_for(std::time::Duration::from_secs(u64::MAX)) > 0, "saturates, never wraps");
    }
}
