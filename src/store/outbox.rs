//! The alert outbox: alerts are queued in the same transaction as their document and
//! leave the queue only when a delivery succeeded. Failures are recorded with the error
//! and a next-attempt time, so nothing is lost and every failure is visible.

use chrono::{DateTime, Utc};

use super::sql::Exec;
use super::{Store, StoreError};
use crate::model::{AlertMessage, HoldReason, OutboxAlert};

pub(super) fn enqueue(
    tx: &mut dyn Exec,
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
    tx: &mut dyn Exec,
    doc_id: i64,
    event_id: Option<i64>,
    alert: &AlertMessage,
    now: i64,
    spaced: Option<i64>,
) -> Result<(), StoreError> {
    let recipients = serde_json::to_string(&alert.recipients).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let held = spaced.map(|_| HoldReason::Rate.as_str());
    tx.execute(
        "INSERT INTO alerts (document_id, event_id, channel, recipients, subject, body_text, body_html, next_attempt_at, created_at, held)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        &[
            &doc_id,
            &event_id,
            &alert.channel,
            &recipients,
            &alert.subject,
            &alert.body_text,
            &alert.body_html,
            &spaced.unwrap_or(now),
            &now,
            &held,
        ],
    )?;
    Ok(())
}

/// Queues an alert about a document and its event: a plain copy's update spaced
/// ([`enqueue_update`]), anything else due now. Written once for both backends
/// (`store::ingest`).
pub(super) fn enqueue_for(
    tx: &mut dyn Exec,
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
    tx: &mut dyn Exec,
    doc_id: i64,
    event_id: i64,
    alert: &AlertMessage,
    now: i64,
) -> Result<(), StoreError> {
    let (waiting, previous): (Option<i64>, Option<i64>) = tx.one(
        "SELECT max(CASE WHEN status = 'pending' AND held = 'rate' THEN next_attempt_at END),
                max(CASE WHEN status <> 'dropped' AND created_at > ?3 THEN created_at END)
         FROM alerts WHERE event_id = ?1 AND channel = ?2",
        &[&event_id, &alert.channel, &(now - UPDATE_SPACING_SECS)],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let spaced = waiting.or(previous.map(|t| t + UPDATE_SPACING_SECS)).filter(|due| *due > now);
    enqueue_at(tx, doc_id, Some(event_id), alert, now, spaced)
}

/// Queues an admin notice (no document); its id.
pub(super) fn enqueue_notice(
    tx: &mut dyn Exec,
    source_id: Option<&str>,
    kind: &str,
    alert: &AlertMessage,
    now: i64,
) -> Result<i64, StoreError> {
    let recipients = serde_json::to_string(&alert.recipients).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.one(
        "INSERT INTO alerts (kind, source_id, channel, recipients, subject, body_text, body_html, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
         RETURNING id",
        &[&kind, &source_id, &alert.channel, &recipients, &alert.subject, &alert.body_text, &alert.body_html, &now],
        |r| r.get(0),
    )
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

// The delivery session's operations are written once for both backends in
// `store::delivery`; these keep their names on `Store`.
impl Store {
    /// Pending alerts whose next attempt is due at `now` (all pending ones if `now` is
    /// `None`), oldest first.
    pub fn due_alerts(&self, now: Option<DateTime<Utc>>, limit: usize) -> Result<Vec<OutboxAlert>, StoreError> {
        self.outbox().claim_due(now, now.unwrap_or_default(), limit)
    }

    /// See [`Outbox::release_claims`](super::Outbox::release_claims); on SQLite nothing is
    /// leased, and the open group is left alone.
    pub fn release_claims(&self, ids: &[i64]) -> Result<(), StoreError> {
        if !matches!(self.conn, super::Conn::Postgres { .. }) {
            return Ok(());
        }
        self.outbox().release_claims(ids)
    }

    /// See [`Outbox::mark_sent`](super::Outbox::mark_sent).
    pub fn mark_sent(
        &mut self,
        id: i64,
        now: DateTime<Utc>,
        receipt: Option<(&str, Option<&str>)>,
    ) -> Result<(), StoreError> {
        self.outbox().mark_sent(id, now, receipt)
    }

    /// See [`Outbox::mark_sent_many`](super::Outbox::mark_sent_many).
    pub fn mark_sent_many(&mut self, sent: &[(i64, String)], now: DateTime<Utc>) -> Result<(), StoreError> {
        self.outbox().mark_sent_many(sent, now)
    }

    /// Records a failed attempt; the alert is tried again at `next_attempt_at`.
    pub fn mark_failed(
        &mut self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.outbox().mark_failed(id, error, next_attempt_at, now)
    }

    /// Holds an alert until `until` without counting an attempt, and says why: held alerts
    /// that come due together are merged into digests.
    pub fn hold(&mut self, id: i64, until: DateTime<Utc>, reason: HoldReason) -> Result<(), StoreError> {
        self.hold_many(&[id], until, reason)
    }

    /// [`Store::hold`] for several alerts, in one transaction.
    pub fn hold_many(&mut self, ids: &[i64], until: DateTime<Utc>, reason: HoldReason) -> Result<(), StoreError> {
        self.outbox().hold_many(ids, until, reason)
    }

    /// See [`Outbox::mark_digest_sent`](super::Outbox::mark_digest_sent).
    pub fn mark_digest_sent(
        &mut self,
        ids: &[i64],
        recipient: Option<&str>,
        now: DateTime<Utc>,
        receipt: (&str, Option<&str>),
    ) -> Result<usize, StoreError> {
        self.outbox().mark_digest_sent(ids, recipient, now, receipt)
    }

    /// See [`Outbox::mark_dead`](super::Outbox::mark_dead).
    pub fn mark_dead(
        &mut self,
        id: i64,
        error: &str,
        now: DateTime<Utc>,
        notice: Option<&AlertMessage>,
    ) -> Result<bool, StoreError> {
        self.outbox().mark_dead(id, error, now, notice)
    }

    pub fn outbox_status(&self) -> Result<OutboxStatus, StoreError> {
        self.outbox().outbox_status()
    }
}

pub(super) type AlertColumns = (
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
pub(super) fn parse_list(id: i64, json: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("recipients of alert {id}: {e}")))
}

pub(super) fn into_alert(columns: AlertColumns) -> Result<OutboxAlert, StoreError> {
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
        self.outbox().outbox_rows(filter, limit)
    }

    /// Every delivery attempt of an alert, oldest first.
    pub fn alert_attempts(&self, alert_id: i64) -> Result<Vec<AttemptRow>, StoreError> {
        self.outbox().alert_attempts(alert_id)
    }

    /// Requeues dead (or failing) alerts for delivery now: one by id, or every dead one.
    /// Returns how many were requeued; sent or dropped alerts are left alone.
    pub fn requeue(&mut self, id: Option<i64>, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.outbox().requeue(id, now)
    }
}

impl Store {
    /// SMS sent to exactly these recipients since `since`: how many, and the oldest's time.
    pub fn sms_sent_since(
        &self,
        recipients: &[String],
        since: DateTime<Utc>,
    ) -> Result<Option<(usize, DateTime<Utc>)>, StoreError> {
        self.outbox().sms_sent_since(recipients, since)
    }
}
