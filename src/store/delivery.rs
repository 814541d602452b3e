//! The outbox operations of a delivery session, written once for both backends (issue 19's
//! first shared slice): claim the due alerts, record what happened to each (sent, held,
//! failed with its retry time, dead with the admin's one notice per episode, a digest
//! reaching a recipient), queue an admin notice and the escalation ladder's notification
//! (once per event, person, step and channel: the `notifications` primary key with
//! `INSERT OR IGNORE`), and the reads the CLI and tests use (status, rows, attempts).
//!
//! [`Outbox`] is the handle: `Store::outbox()` on either backend;
//! `Store`'s own methods of the same names call it, so the daemon is unchanged.
//!
//! Claims: on SQLite one daemon holds the database (`daemon::lock`), so a claim is the plain
//! read of the due alerts, as before. On PostgreSQL several daemons may share the outbox: a
//! claim takes up to `limit` due rows with `FOR UPDATE SKIP LOCKED` and leases them to the
//! claimer (`lease_owner`, `lease_until`) in the same statement; a row under a lease is
//! handed to nobody else until the lease runs out, when it is claimable again (its claimer
//! died or hung). Recording a failure, a hold, a partial digest or a requeue ends the lease
//! so the row comes due at its own time; sent, dead and dropped rows are never claimed.

use chrono::{DateTime, Utc};

use super::outbox::{AttemptRow, OutboxFilter, OutboxRow, OutboxStatus, into_alert, parse_list};
use super::pg::conn::PgConn;
use super::sql::{Db, Dialect, Exec, Row, Sqlite, in_tx};
use super::workflow::LadderEvent;
use super::{Conn, Store, StoreError};
use crate::model::{AlertMessage, HoldReason, OutboxAlert};

/// The columns [`into_alert`] reads, from `alerts a`.
macro_rules! alert_columns {
    () => {
        "a.id, a.channel, a.recipients, a.subject, a.body_text, a.body_html, a.attempts, a.created_at,
         (SELECT CAST(r.id AS TEXT) || '.' || CAST(r.created_at AS TEXT) FROM alerts r
          WHERE r.event_id = a.event_id AND r.id < a.id ORDER BY r.id LIMIT 1), a.kind,
         (SELECT e.grade FROM events e WHERE e.id = a.event_id), a.held, a.delivered_to"
    };
}

/// Who claims on PostgreSQL and for how long a claim holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Names the claimer in `lease_owner` (host and process, say).
    pub owner: String,
    /// How long a claimed row is held for its claimer.
    pub secs: i64,
}

/// The outbox of one store, on either backend.
pub struct Outbox<'a> {
    db: Handle<'a>,
}

enum Handle<'a> {
    Sqlite(Sqlite<'a>),
    Postgres(std::cell::RefMut<'a, PgConn>, &'a Lease),
}

impl Store {
    /// The outbox operations on this (SQLite) store. An open group of source runs is
    /// committed first: what is claimed for sending must be durable, and an outbox
    /// transaction cannot start inside the group's.
    pub fn outbox(&self) -> Outbox<'_> {
        self.flush_or_log();
        match &self.conn {
            Conn::Sqlite(c) => Outbox { db: Handle::Sqlite(Sqlite(c)) },
            Conn::Postgres { conn, lease } => Outbox { db: Handle::Postgres(conn.borrow_mut(), lease) },
        }
    }
}

impl<'a> Outbox<'a> {
    fn db(&mut self) -> &mut dyn Db {
        match &mut self.db {
            Handle::Sqlite(s) => s,
            Handle::Postgres(c, _) => &mut **c,
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.db {
            Handle::Sqlite(_) => Dialect::Sqlite,
            Handle::Postgres(..) => Dialect::Postgres,
        }
    }

    /// Up to `limit` pending alerts due at `due` (every pending one when `None`), oldest
    /// first, claimed at `now`: on PostgreSQL leased to this claimer, skipping rows another
    /// claimer holds (see the module doc); on SQLite a plain read.
    pub fn claim_due(
        &mut self,
        due: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxAlert>, StoreError> {
        let due = due.map_or(i64::MAX, |t| t.timestamp());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match &mut self.db {
            Handle::Sqlite(db) => {
                let db: &mut dyn Exec = db;
                db.rows(
                    concat!(
                        "SELECT ",
                        alert_columns!(),
                        " FROM alerts a WHERE a.status = 'pending' AND a.next_attempt_at <= ?1 ORDER BY a.id LIMIT ?2"
                    ),
                    &[&due, &limit],
                    alert_row,
                )?
            }
            Handle::Postgres(conn, lease) => {
                let until = now.timestamp().saturating_add(lease.secs);
                let owner = lease.owner.as_str();
                let db: &mut dyn Exec = &mut **conn;
                db.rows(
                    concat!(
                        "WITH claimed AS (
                            UPDATE alerts SET lease_owner = ?3, lease_until = ?4
                            WHERE id IN (SELECT id FROM alerts
                                         WHERE status = 'pending' AND next_attempt_at <= ?1
                                           AND coalesce(lease_until, 0) <= ?5
                                         ORDER BY id LIMIT ?2 FOR UPDATE SKIP LOCKED)
                            RETURNING id)
                         SELECT ",
                        alert_columns!(),
                        " FROM alerts a WHERE a.id IN (SELECT id FROM claimed) ORDER BY a.id"
                    ),
                    &[&due, &limit, &owner, &until, &now.timestamp()],
                    alert_row,
                )?
            }
        };
        rows.into_iter().map(into_alert).collect()
    }

    /// Ends this claimer's lease on those of `ids` still pending (PostgreSQL; nothing on
    /// SQLite): claims a session took but did not finish — it stopped early, or had tried
    /// the alert already — come due again at their own time for any claimer, instead of
    /// waiting out the lease.
    pub fn release_claims(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        let Handle::Postgres(conn, lease) = &mut self.db else { return Ok(()) };
        if ids.is_empty() {
            return Ok(());
        }
        // One statement for the batch (most of its rows are sent by now and match nothing).
        let ids = serde_json::Value::from(ids.to_vec()).to_string();
        let owner = lease.owner.clone();
        let db: &mut dyn Exec = &mut **conn;
        db.execute(
            "UPDATE alerts SET lease_owner = NULL, lease_until = NULL
             WHERE lease_owner = ?2 AND status = 'pending'
               AND id IN (SELECT CAST(x AS BIGINT) FROM jsonb_array_elements_text(CAST(CAST(?1 AS TEXT) AS jsonb)) AS x)",
            &[&ids, &owner.as_str()],
        )?;
        Ok(())
    }

    /// Records a delivery: the alert leaves the outbox; the attempt (with the provider's
    /// answer and message id, when there are any) joins its audit trail. A delivery ends a
    /// dead-letter episode.
    pub fn mark_sent(
        &mut self,
        id: i64,
        now: DateTime<Utc>,
        receipt: Option<(&str, Option<&str>)>,
    ) -> Result<(), StoreError> {
        let (detail, provider_id) = receipt.map_or((None, None), |(d, p)| (Some(d), p));
        in_tx(self.db(), |tx| {
            tx.execute(SENT, &[&id, &now.timestamp()])?;
            attempt(tx, id, now, true, detail, provider_id)?;
            tx.execute(EPISODE_OVER, &[])?;
            Ok(())
        })
    }

    /// [`Outbox::mark_sent`] for several alerts in one transaction: `(id, the server's
    /// answer)` each, all sent at `now`.
    pub fn mark_sent_many(&mut self, sent: &[(i64, String)], now: DateTime<Utc>) -> Result<(), StoreError> {
        if sent.is_empty() {
            return Ok(());
        }
        in_tx(self.db(), |tx| {
            for (id, answer) in sent {
                tx.execute(SENT, &[id, &now.timestamp()])?;
                attempt(tx, *id, now, true, Some(answer), None)?;
            }
            tx.execute(EPISODE_OVER, &[])?;
            Ok(())
        })
    }

    /// Records a failed attempt; the alert is tried again at `next_attempt_at`.
    pub fn mark_failed(
        &mut self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Round up: a retry must not come earlier than its backoff.
        let next = next_attempt_at.timestamp() + i64::from(next_attempt_at.timestamp_subsec_nanos() > 0);
        in_tx(self.db(), |tx| {
            tx.execute(
                "UPDATE alerts SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
                &[&id, &error, &next],
            )?;
            release(tx, id)?;
            attempt(tx, id, now, false, Some(error), None)
        })
    }

    /// Holds alerts until `until` without counting an attempt, and says why (held alerts
    /// that come due together are merged into digests), in one transaction.
    pub fn hold_many(&mut self, ids: &[i64], until: DateTime<Utc>, reason: HoldReason) -> Result<(), StoreError> {
        in_tx(self.db(), |tx| {
            for id in ids {
                tx.execute(
                    "UPDATE alerts SET next_attempt_at = ?2, held = ?3 WHERE id = ?1 AND status = 'pending'",
                    &[id, &until.timestamp(), &reason.as_str()],
                )?;
                release(tx, *id)?;
            }
            Ok(())
        })
    }

    /// Records one digest delivered to `recipient` (`None`: to the channel itself, a robot's
    /// group) that carried the alerts `ids`, the first of which names the digest. Each alert
    /// notes the recipient as reached and the attempt in its audit trail; it leaves the outbox
    /// once every one of its recipients was reached. Ends a dead-letter episode, like a send.
    /// Returns how many alerts left the outbox.
    pub fn mark_digest_sent(
        &mut self,
        ids: &[i64],
        recipient: Option<&str>,
        now: DateTime<Utc>,
        receipt: (&str, Option<&str>),
    ) -> Result<usize, StoreError> {
        let Some(&digest) = ids.first() else { return Ok(0) };
        in_tx(self.db(), |tx| {
            let mut finished = 0;
            for &id in ids {
                let (recipients, delivered): (String, Option<String>) =
                    tx.one("SELECT recipients, delivered_to FROM alerts WHERE id = ?1", &[&id], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?;
                let recipients: Vec<String> = parse_list(id, &recipients)?;
                let mut delivered: Vec<String> = delivered.map(|d| parse_list(id, &d)).transpose()?.unwrap_or_default();
                if let Some(r) = recipient
                    && !delivered.iter().any(|d| d == r)
                {
                    delivered.push(r.to_string());
                }
                let done = recipient.is_none() || recipients.iter().all(|r| delivered.contains(r));
                finished += usize::from(done);
                let delivered = serde_json::to_string(&delivered).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                tx.execute(
                    "UPDATE alerts SET delivered_to = ?2, digest_id = ?3, attempts = attempts + 1, last_error = NULL,
                            status = CASE WHEN CAST(?4 AS BIGINT) = 1 THEN 'sent' ELSE status END,
                            sent_at = CASE WHEN CAST(?4 AS BIGINT) = 1 THEN ?5 ELSE sent_at END
                     WHERE id = ?1",
                    &[&id, &delivered, &digest, &i64::from(done), &now.timestamp()],
                )?;
                if !done {
                    release(tx, id)?;
                }
                let to = recipient.map(|r| format!("发给 {r} 的")).unwrap_or_default();
                let detail = format!("已并入{to}汇总消息（{} 条，#{digest} 起）：{}", ids.len(), receipt.0);
                attempt(tx, id, now, true, Some(&detail), receipt.1)?;
            }
            tx.execute(EPISODE_OVER, &[])?;
            Ok(finished)
        })
    }

    /// Gives up on an alert after its last attempt (a dead letter). The first dead letter of
    /// an episode (until something is delivered again) queues one notice to the admin, in the
    /// same transaction; returns whether it did.
    pub fn mark_dead(
        &mut self,
        id: i64,
        error: &str,
        now: DateTime<Utc>,
        notice: Option<&AlertMessage>,
    ) -> Result<bool, StoreError> {
        in_tx(self.db(), |tx| {
            tx.execute(
                "UPDATE alerts SET status = 'dead', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                &[&id, &error],
            )?;
            attempt(tx, id, now, false, Some(error), None)?;
            let Some(notice) = notice else { return Ok(false) };
            let first = tx.execute(
                "INSERT OR IGNORE INTO daemon_state (name, value) VALUES ('dead_notified', ?1)",
                &[&now.timestamp()],
            )?;
            if first == 1 {
                insert_notice(tx, "outbox_dead", notice, now)?;
            }
            Ok(first == 1)
        })
    }

    /// Queues a notice to the admin that is about no source or event (kind `config_invalid`,
    /// say).
    pub fn queue_admin_notice(
        &mut self,
        kind: &str,
        message: &AlertMessage,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        in_tx(self.db(), |tx| insert_notice(tx, kind, message, now))
    }

    /// Queues a ladder notification and logs it, in one transaction; nothing when it was
    /// logged before (the log's key is the event, person, step and channel: two daemons
    /// racing on PostgreSQL queue it once, the second waiting on the first's key).
    pub fn queue_notification(
        &mut self,
        event: &LadderEvent,
        (person, step): (&str, usize),
        alert: &AlertMessage,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        let recipients = serde_json::to_string(&alert.recipients).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        in_tx(self.db(), |tx| {
            let logged = tx.execute(
                "INSERT OR IGNORE INTO notifications (event_id, person, step, channel, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                &[&event.id, &person, &step, &alert.channel, &now.timestamp()],
            )?;
            if logged == 0 {
                return Ok(false);
            }
            let alert_id: i64 = tx.one(
                "INSERT INTO alerts (document_id, event_id, channel, recipients, subject, body_text, body_html, next_attempt_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) RETURNING id",
                &[
                    &event.first_document_id,
                    &event.id,
                    &alert.channel,
                    &recipients,
                    &alert.subject,
                    &alert.body_text,
                    &alert.body_html,
                    &now.timestamp(),
                ],
                |r| r.get(0),
            )?;
            tx.execute(
                "UPDATE notifications SET alert_id = ?5 WHERE event_id = ?1 AND person = ?2 AND step = ?3 AND channel = ?4",
                &[&event.id, &person, &step, &alert.channel, &alert_id],
            )?;
            Ok(true)
        })
    }

    pub fn outbox_status(&mut self) -> Result<OutboxStatus, StoreError> {
        let db: &mut dyn Exec = self.db();
        let (pending, failing, next): (i64, i64, Option<i64>) = db.one(
            "SELECT count(*), count(*) FILTER (WHERE attempts > 0), min(next_attempt_at)
             FROM alerts WHERE status = 'pending'",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let last_error = db.first(
            "SELECT last_error FROM alerts WHERE status = 'pending' AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1",
            &[],
            |r| r.get(0),
        )?;
        Ok(OutboxStatus {
            pending: usize::try_from(pending).unwrap_or(0),
            failing: usize::try_from(failing).unwrap_or(0),
            last_error,
            next_attempt_at: next.and_then(|s| DateTime::from_timestamp(s, 0)),
        })
    }

    /// The newest alerts matching `filter`, newest first.
    pub fn outbox_rows(&mut self, filter: OutboxFilter, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        macro_rules! rows_where {
            ($condition:literal) => {
                concat!(
                    "SELECT id, kind, channel, recipients, subject, status, attempts, last_error, created_at, sent_at,
                            next_attempt_at, event_id, held, delivered_to
                     FROM alerts WHERE ",
                    $condition,
                    " ORDER BY id DESC LIMIT ?1"
                )
            };
        }
        let sql = match filter {
            OutboxFilter::All => rows_where!("1 = 1"),
            OutboxFilter::Pending => rows_where!("status = 'pending'"),
            OutboxFilter::Failing => rows_where!("status = 'pending' AND attempts > 0"),
            OutboxFilter::Sent => rows_where!("status = 'sent'"),
            OutboxFilter::Dead => rows_where!("status = 'dead'"),
            OutboxFilter::Dropped => rows_where!("status = 'dropped'"),
        };
        let time = |s: i64| DateTime::from_timestamp(s, 0).unwrap_or_default();
        let db: &mut dyn Exec = self.db();
        db.rows(sql, &[&i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok(OutboxRow {
                id: r.get(0)?,
                kind: r.get(1)?,
                channel: r.get(2)?,
                recipients: serde_json::from_str(&r.get::<String>(3)?).unwrap_or_default(),
                subject: r.get(4)?,
                status: r.get(5)?,
                attempts: r.get(6)?,
                last_error: r.get(7)?,
                created_at: time(r.get(8)?),
                sent_at: r.get::<Option<i64>>(9)?.map(time),
                next_attempt_at: time(r.get(10)?),
                event_id: r.get(11)?,
                held: r.get::<Option<String>>(12)?.as_deref().and_then(HoldReason::parse),
                delivered_to: r
                    .get::<Option<String>>(13)?
                    .and_then(|d| serde_json::from_str(&d).ok())
                    .unwrap_or_default(),
            })
        })
    }

    /// Every delivery attempt of an alert, oldest first.
    pub fn alert_attempts(&mut self, alert_id: i64) -> Result<Vec<AttemptRow>, StoreError> {
        let db: &mut dyn Exec = self.db();
        db.rows(
            "SELECT at, ok, detail, provider_id FROM alert_attempts WHERE alert_id = ?1 ORDER BY at, id",
            &[&alert_id],
            |r| {
                Ok(AttemptRow {
                    at: DateTime::from_timestamp(r.get(0)?, 0).unwrap_or_default(),
                    ok: r.get::<i64>(1)? != 0,
                    detail: r.get(2)?,
                    provider_id: r.get(3)?,
                })
            },
        )
    }

    /// Requeues dead (or failing) alerts for delivery now: one by id, or every dead one.
    /// Returns how many were requeued; sent or dropped alerts are left alone.
    pub fn requeue(&mut self, id: Option<i64>, now: DateTime<Utc>) -> Result<usize, StoreError> {
        in_tx(self.db(), |tx| {
            let changed = match id {
                Some(id) => {
                    let n = tx.execute(
                        "UPDATE alerts SET status = 'pending', attempts = 0, next_attempt_at = ?2
                         WHERE id = ?1 AND status IN ('dead', 'pending')",
                        &[&id, &now.timestamp()],
                    )?;
                    release(tx, id)?;
                    n
                }
                None => tx.execute(
                    "UPDATE alerts SET status = 'pending', attempts = 0, next_attempt_at = ?1 WHERE status = 'dead'",
                    &[&now.timestamp()],
                )?,
            };
            Ok(changed)
        })
    }

    /// SMS sent to exactly these recipients since `since`: how many, and the oldest's time.
    pub fn sms_sent_since(
        &mut self,
        recipients: &[String],
        since: DateTime<Utc>,
    ) -> Result<Option<(usize, DateTime<Utc>)>, StoreError> {
        let recipients = serde_json::to_string(recipients).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let db: &mut dyn Exec = self.db();
        let (n, oldest): (i64, Option<i64>) = db.one(
            // A digest is one message however many alerts it carried.
            "SELECT count(DISTINCT coalesce(digest_id, id)), min(sent_at) FROM alerts
             WHERE channel = 'sms' AND status = 'sent' AND recipients = ?1 AND sent_at >= ?2",
            &[&recipients, &since.timestamp()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(oldest.and_then(|t| DateTime::from_timestamp(t, 0)).map(|t| (usize::try_from(n).unwrap_or(0), t)))
    }
}

const SENT: &str =
    "UPDATE alerts SET status = 'sent', sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1";
const EPISODE_OVER: &str = "DELETE FROM daemon_state WHERE name = 'dead_notified'";

fn alert_row(r: &Row<'_, '_>) -> Result<super::outbox::AlertColumns, StoreError> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
    ))
}

fn attempt(
    tx: &mut dyn Exec,
    alert_id: i64,
    at: DateTime<Utc>,
    ok: bool,
    detail: Option<&str>,
    provider_id: Option<&str>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO alert_attempts (alert_id, at, ok, detail, provider_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        &[&alert_id, &at.timestamp(), &i64::from(ok), &detail, &provider_id],
    )?;
    Ok(())
}

/// Ends a claim's lease (PostgreSQL; SQLite has no leases), so the row comes due at its own
/// `next_attempt_at` for any claimer.
fn release(tx: &mut dyn Exec, id: i64) -> Result<(), StoreError> {
    if tx.dialect() == Dialect::Postgres {
        tx.execute("UPDATE alerts SET lease_owner = NULL, lease_until = NULL WHERE id = ?1", &[&id])?;
    }
    Ok(())
}

fn insert_notice(tx: &mut dyn Exec, kind: &str, message: &AlertMessage, now: DateTime<Utc>) -> Result<i64, StoreError> {
    let recipients = serde_json::to_string(&message.recipients).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.one(
        "INSERT INTO alerts (kind, channel, recipients, subject, body_text, body_html, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) RETURNING id",
        &[
            &kind,
            &message.channel,
            &recipients,
            &message.subject,
            &message.body_text,
            &message.body_html,
            &now.timestamp(),
        ],
        |r| r.get(0),
    )
}
