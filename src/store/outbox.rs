//! The alert outbox: alerts are queued in the same transaction as their document and
//! leave the queue only when a delivery succeeded. Failures are recorded with the error
//! and a next-attempt time, so nothing is lost and every failure is visible.

use chrono::{DateTime, Utc};
use rusqlite::{Row, Transaction, params};

use super::{Store, StoreError};
use crate::model::{AlertMessage, HoldReason, OutboxAlert};

pub(super) fn enqueue(
    tx: &Transaction<'_>,
    doc_id: i64,
    event_id: Option<i64>,
    alert: &AlertMessage,
    now: i64,
) -> Result<(), StoreError> {
    enqueue_at(tx, doc_id, event_id, alert, now, None)
}

/// [`enqueue`], due at `spaced` instead of now when given (an update waiting for its
/// event's spacing, held as `rate` so the delivery merges what comes due together).
fn enqueue_at(
    tx: &Transaction<'_>,
    doc_id: i64,
    event_id: Option<i64>,
    alert: &AlertMessage,
    now: i64,
    spaced: Option<i64>,
) -> Result<(), StoreError> {
    let recipients = serde_json::to_string(&alert.recipients).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let held = spaced.map(|_| HoldReason::Rate.as_str());
    tx.prepare_cached(
        "INSERT INTO alerts (document_id, event_id, channel, recipients, subject, body_text, body_html, next_attempt_at, created_at, held)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        doc_id,
        event_id,
        alert.channel,
        recipients,
        alert.subject,
        alert.body_text,
        alert.body_html,
        spaced.unwrap_or(now),
        now,
        held
    ])?;
    Ok(())
}

/// Queues an alert about a document and its event: a plain copy's update spaced
/// ([`enqueue_update`]), anything else due now.
pub(super) fn enqueue_for(
    tx: &Transaction<'_>,
    doc_id: i64,
    event: Option<&crate::detect::events::Assignment>,
    alert: &AlertMessage,
    now: i64,
) -> Result<(), StoreError> {
    match event {
        // A further copy of a story, changing nothing: an update, spaced so that a burst
        // of reposts becomes one merged message.
        Some(e) if e.is_plain_copy() => enqueue_update(tx, doc_id, e.event_id, alert, now),
        event => enqueue(tx, doc_id, event.map(|e| e.event_id), alert, now),
    }
}

/// How far apart one event's update messages go (a copy from a source already on the
/// event's path): updates within this span of the event's previous message wait and go
/// out together, merged into one digest per recipient.
pub const UPDATE_SPACING_SECS: i64 = 30 * 60;

/// Queues an update about event `event_id` (a copy that changes nothing), spaced: when the
/// event already has an update waiting on this channel it joins that one's due time; when
/// the event had a message within [`UPDATE_SPACING_SECS`] it waits until that span has
/// passed; otherwise it is due now. Never dropped.
fn enqueue_update(
    tx: &Transaction<'_>,
    doc_id: i64,
    event_id: i64,
    alert: &AlertMessage,
    now: i64,
) -> Result<(), StoreError> {
    let (waiting, previous): (Option<i64>, Option<i64>) = tx
        .prepare_cached(
            "SELECT max(CASE WHEN status = 'pending' AND held = 'rate' THEN next_attempt_at END),
                    max(CASE WHEN status <> 'dropped' AND created_at > ?3 THEN created_at END)
             FROM alerts WHERE event_id = ?1 AND channel = ?2",
        )?
        .query_row(params![event_id, alert.channel, now - UPDATE_SPACING_SECS], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let spaced = waiting.or(previous.map(|t| t + UPDATE_SPACING_SECS)).filter(|due| *due > now);
    enqueue_at(tx, doc_id, Some(event_id), alert, now, spaced)
}

fn attempt(
    tx: &Transaction<'_>,
    alert_id: i64,
    at: DateTime<Utc>,
    ok: bool,
    detail: Option<&str>,
    provider_id: Option<&str>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO alert_attempts (alert_id, at, ok, detail, provider_id) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![alert_id, at.timestamp(), ok, detail, provider_id])?;
    Ok(())
}

pub(super) fn enqueue_notice(
    tx: &Transaction<'_>,
    source_id: Option<&str>,
    kind: &str,
    alert: &AlertMessage,
    now: i64,
) -> Result<(), StoreError> {
    let recipients = serde_json::to_string(&alert.recipients).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.prepare_cached(
        "INSERT INTO alerts (kind, source_id, channel, recipients, subject, body_text, body_html, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    )?
    .execute(params![kind, source_id, alert.channel, recipients, alert.subject, alert.body_text, alert.body_html, now])?;
    Ok(())
}

/// Counts of the outbox, for summaries and status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxStatus {
    pub pending: usize,
    /// Pending alerts that have failed at least once.
    pub failing: usize,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Pending alerts whose next attempt is due at `now` (all pending ones if `now` is
    /// `None`), oldest first.
    pub fn due_alerts(&self, now: Option<DateTime<Utc>>, limit: usize) -> Result<Vec<OutboxAlert>, StoreError> {
        let due = now.map_or(i64::MAX, |t| t.timestamp());
        let mut stmt = self.conn.prepare_cached(
            "SELECT a.id, a.channel, a.recipients, a.subject, a.body_text, a.body_html, a.attempts, a.created_at,
                    (SELECT r.id || '.' || r.created_at FROM alerts r
                     WHERE r.event_id = a.event_id AND r.id < a.id ORDER BY r.id LIMIT 1), a.kind,
                    (SELECT e.grade FROM events e WHERE e.id = a.event_id), a.held, a.delivered_to
             FROM alerts a WHERE a.status = 'pending' AND a.next_attempt_at <= ?1 ORDER BY a.id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![due, i64::try_from(limit).unwrap_or(i64::MAX)], alert_row)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(into_alert)).collect()
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
        let tx = self.conn.transaction()?;
        tx.prepare_cached(
            "UPDATE alerts SET status = 'sent', sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
        )?
        .execute(params![id, now.timestamp()])?;
        let (detail, provider_id) = receipt.map_or((None, None), |(d, p)| (Some(d), p));
        attempt(&tx, id, now, true, detail, provider_id)?;
        tx.prepare_cached("DELETE FROM daemon_state WHERE name = 'dead_notified'")?.execute([])?;
        tx.commit()?;
        Ok(())
    }

    /// [`Store::mark_sent`] for several alerts in one transaction: `(id, the server's
    /// answer)` each, all sent at `now`.
    pub fn mark_sent_many(&mut self, sent: &[(i64, String)], now: DateTime<Utc>) -> Result<(), StoreError> {
        if sent.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for (id, answer) in sent {
            tx.prepare_cached(
                "UPDATE alerts SET status = 'sent', sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
            )?
            .execute(params![id, now.timestamp()])?;
            attempt(&tx, *id, now, true, Some(answer), None)?;
        }
        tx.prepare_cached("DELETE FROM daemon_state WHERE name = 'dead_notified'")?.execute([])?;
        tx.commit()?;
        Ok(())
    }

    /// Records a failed attempt; the alert is tried again at `next_attempt_at`.
    pub fn mark_failed(
        &mut self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.prepare_cached(
            "UPDATE alerts SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
        )?
        .execute(
            // Round up: a retry must not come earlier than its backoff.
            params![id, error, next_attempt_at.timestamp() + i64::from(next_attempt_at.timestamp_subsec_nanos() > 0)],
        )?;
        attempt(&tx, id, now, false, Some(error), None)?;
        tx.commit()?;
        Ok(())
    }

    /// Holds an alert until `until` without counting an attempt, and says why: held alerts
    /// that come due together are merged into digests.
    pub fn hold(&mut self, id: i64, until: DateTime<Utc>, reason: HoldReason) -> Result<(), StoreError> {
        self.hold_many(&[id], until, reason)
    }

    /// [`Store::hold`] for several alerts, in one transaction.
    pub fn hold_many(&mut self, ids: &[i64], until: DateTime<Utc>, reason: HoldReason) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for id in ids {
            tx.prepare_cached(
                "UPDATE alerts SET next_attempt_at = ?2, held = ?3 WHERE id = ?1 AND status = 'pending'",
            )?
            .execute(params![id, until.timestamp(), reason.as_str()])?;
        }
        tx.commit()?;
        Ok(())
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
        let mut finished = 0;
        let tx = self.conn.transaction()?;
        for &id in ids {
            let (recipients, delivered): (String, Option<String>) = tx
                .prepare_cached("SELECT recipients, delivered_to FROM alerts WHERE id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
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
            tx.prepare_cached(
                "UPDATE alerts SET delivered_to = ?2, digest_id = ?3, attempts = attempts + 1, last_error = NULL,
                        status = CASE WHEN ?4 THEN 'sent' ELSE status END,
                        sent_at = CASE WHEN ?4 THEN ?5 ELSE sent_at END
                 WHERE id = ?1",
            )?
            .execute(params![id, delivered, digest, done, now.timestamp()])?;
            let to = recipient.map(|r| format!("发给 {r} 的")).unwrap_or_default();
            let detail = format!("已并入{to}汇总消息（{} 条，#{digest} 起）：{}", ids.len(), receipt.0);
            attempt(&tx, id, now, true, Some(&detail), receipt.1)?;
        }
        tx.prepare_cached("DELETE FROM daemon_state WHERE name = 'dead_notified'")?.execute([])?;
        tx.commit()?;
        Ok(finished)
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
        let tx = self.conn.transaction()?;
        tx.prepare_cached("UPDATE alerts SET status = 'dead', attempts = attempts + 1, last_error = ?2 WHERE id = ?1")?
            .execute(params![id, error])?;
        attempt(&tx, id, now, false, Some(error), None)?;
        let mut told = false;
        if let Some(notice) = notice {
            let first = tx
                .prepare_cached("INSERT OR IGNORE INTO daemon_state (name, value) VALUES ('dead_notified', ?1)")?
                .execute([now.timestamp()])?;
            if first == 1 {
                let recipients =
                    serde_json::to_string(&notice.recipients).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                tx.prepare_cached(
                    "INSERT INTO alerts (kind, channel, recipients, subject, body_text, body_html, next_attempt_at, created_at)
                     VALUES ('outbox_dead', ?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                )?
                .execute(params![
                    notice.channel,
                    recipients,
                    notice.subject,
                    notice.body_text,
                    notice.body_html,
                    now.timestamp()
                ])?;
                told = true;
            }
        }
        tx.commit()?;
        Ok(told)
    }

    pub fn outbox_status(&self) -> Result<OutboxStatus, StoreError> {
        let (pending, failing, next): (i64, i64, Option<i64>) = self.conn.query_row(
            "SELECT count(*), count(*) FILTER (WHERE attempts > 0), min(next_attempt_at)
             FROM alerts WHERE status = 'pending'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let last_error = self
            .conn
            .query_row(
                "SELECT last_error FROM alerts WHERE status = 'pending' AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .ok();
        Ok(OutboxStatus {
            pending: usize::try_from(pending).unwrap_or(0),
            failing: usize::try_from(failing).unwrap_or(0),
            last_error,
            next_attempt_at: next.and_then(|s| DateTime::from_timestamp(s, 0)),
        })
    }
}

type AlertColumns = (
    i64,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A JSON list of recipients as stored in `recipients` and `delivered_to`.
fn parse_list(id: i64, json: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("recipients of alert {id}: {e}")))
}

fn alert_row(r: &Row<'_>) -> rusqlite::Result<AlertColumns> {
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

fn into_alert(columns: AlertColumns) -> Result<OutboxAlert, StoreError> {
    let (
        id,
        channel,
        recipients,
        subject,
        body_text,
        body_html,
        attempts,
        created_at,
        thread,
        kind,
        grade,
        held,
        delivered,
    ) = columns;
    // Recipients a digest already reached are not sent to again.
    let delivered = delivered.map(|d| parse_list(id, &d)).transpose()?.unwrap_or_default();
    let recipients: Vec<String> = parse_list(id, &recipients)?.into_iter().filter(|r| !delivered.contains(r)).collect();
    Ok(OutboxAlert {
        id,
        kind,
        grade: grade.as_deref().and_then(crate::response::Grade::parse),
        message: AlertMessage { channel, recipients, subject, body_text, body_html },
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        created_at: DateTime::from_timestamp(created_at, 0).unwrap_or_default(),
        thread,
        held: held.as_deref().and_then(HoldReason::parse),
    })
}

/// An alert as listed by `yuqing outbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub channel: String,
    pub recipients: Vec<String>,
    pub subject: String,
    /// pending, sent, dropped or dead.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub next_attempt_at: DateTime<Utc>,
    pub event_id: Option<i64>,
    /// Why it was held back, if it was (it then goes out in a digest).
    pub held: Option<HoldReason>,
    /// Recipients a digest already reached.
    pub delivered_to: Vec<String>,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub at: DateTime<Utc>,
    pub ok: bool,
    pub detail: Option<String>,
    pub provider_id: Option<String>,
}

/// Which alerts to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxFilter {
    All,
    Pending,
    /// Pending after at least one failed attempt.
    Failing,
    Sent,
    Dead,
    Dropped,
}

impl Store {
    /// The newest alerts matching `filter`, newest first.
    pub fn outbox_rows(&self, filter: OutboxFilter, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let condition = match filter {
            OutboxFilter::All => "1",
            OutboxFilter::Pending => "status = 'pending'",
            OutboxFilter::Failing => "status = 'pending' AND attempts > 0",
            OutboxFilter::Sent => "status = 'sent'",
            OutboxFilter::Dead => "status = 'dead'",
            OutboxFilter::Dropped => "status = 'dropped'",
        };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT id, kind, channel, recipients, subject, status, attempts, last_error, created_at, sent_at,
                    next_attempt_at, event_id, held, delivered_to
             FROM alerts WHERE {condition} ORDER BY id DESC LIMIT ?1"
        ))?;
        let time = |s: i64| DateTime::from_timestamp(s, 0).unwrap_or_default();
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok(OutboxRow {
                id: r.get(0)?,
                kind: r.get(1)?,
                channel: r.get(2)?,
                recipients: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
                subject: r.get(4)?,
                status: r.get(5)?,
                attempts: r.get(6)?,
                last_error: r.get(7)?,
                created_at: time(r.get(8)?),
                sent_at: r.get::<_, Option<i64>>(9)?.map(time),
                next_attempt_at: time(r.get(10)?),
                event_id: r.get(11)?,
                held: r.get::<_, Option<String>>(12)?.as_deref().and_then(HoldReason::parse),
                delivered_to: r
                    .get::<_, Option<String>>(13)?
                    .and_then(|d| serde_json::from_str(&d).ok())
                    .unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every delivery attempt of an alert, oldest first.
    pub fn alert_attempts(&self, alert_id: i64) -> Result<Vec<AttemptRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT at, ok, detail, provider_id FROM alert_attempts WHERE alert_id = ?1 ORDER BY at, id")?;
        let rows = stmt.query_map([alert_id], |r| {
            Ok(AttemptRow {
                at: DateTime::from_timestamp(r.get(0)?, 0).unwrap_or_default(),
                ok: r.get(1)?,
                detail: r.get(2)?,
                provider_id: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Requeues dead (or failing) alerts for delivery now: one by id, or every dead one.
    /// Returns how many were requeued; sent or dropped alerts are left alone.
    pub fn requeue(&mut self, id: Option<i64>, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let changed = match id {
            Some(id) => self.conn.execute(
                "UPDATE alerts SET status = 'pending', attempts = 0, next_attempt_at = ?2
                 WHERE id = ?1 AND status IN ('dead', 'pending')",
                params![id, now.timestamp()],
            )?,
            None => self.conn.execute(
                "UPDATE alerts SET status = 'pending', attempts = 0, next_attempt_at = ?1 WHERE status = 'dead'",
                [now.timestamp()],
            )?,
        };
        Ok(changed)
    }
}

impl Store {
    /// SMS sent to exactly these recipients since `since`: how many, and the oldest's time.
    pub fn sms_sent_since(
        &self,
        recipients: &[String],
        since: DateTime<Utc>,
    ) -> Result<Option<(usize, DateTime<Utc>)>, StoreError> {
        let recipients = serde_json::to_string(recipients).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let (n, oldest): (i64, Option<i64>) = self.conn.query_row(
            // A digest is one message however many alerts it carried.
            "SELECT count(DISTINCT coalesce(digest_id, id)), min(sent_at) FROM alerts
             WHERE channel = 'sms' AND status = 'sent' AND recipients = ?1 AND sent_at >= ?2",
            params![recipients, since.timestamp()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(oldest.and_then(|t| DateTime::from_timestamp(t, 0)).map(|t| (usize::try_from(n).unwrap_or(0), t)))
    }
}
