//! The alert outbox: alerts are queued in the same transaction as their document and
//! leave the queue only when a delivery succeeded. Failures are recorded with the error
//! and a next-attempt time, so nothing is lost and every failure is visible.

use chrono::{DateTime, Utc};
use rusqlite::{Row, Transaction, params};

use super::{Store, StoreError};
use crate::model::{AlertMessage, OutboxAlert};

pub(super) fn enqueue(
    tx: &Transaction<'_>,
    doc_id: i64,
    event_id: Option<i64>,
    alert: &AlertMessage,
    now: i64,
) -> Result<(), StoreError> {
    let recipients = serde_json::to_string(&alert.recipients).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.prepare_cached(
        "INSERT INTO alerts (document_id, event_id, channel, recipients, subject, body_text, body_html, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    )?
    .execute(params![doc_id, event_id, alert.channel, recipients, alert.subject, alert.body_text, alert.body_html, now])?;
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
                     WHERE r.event_id = a.event_id AND r.id < a.id ORDER BY r.id LIMIT 1)
             FROM alerts a WHERE a.status = 'pending' AND a.next_attempt_at <= ?1 ORDER BY a.id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![due, i64::try_from(limit).unwrap_or(i64::MAX)], alert_row)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(into_alert)).collect()
    }

    pub fn mark_sent(&mut self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE alerts SET status = 'sent', sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
            )?
            .execute(params![id, now.timestamp()])?;
        Ok(())
    }

    pub fn mark_failed(&mut self, id: i64, error: &str, next_attempt_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE alerts SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
            // Round up: a retry must not come earlier than its backoff.
            params![id, error, next_attempt_at.timestamp() + i64::from(next_attempt_at.timestamp_subsec_nanos() > 0)],
        )?;
        Ok(())
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

type AlertColumns = (i64, String, String, String, String, String, i64, i64, Option<String>);

fn alert_row(r: &Row<'_>) -> rusqlite::Result<AlertColumns> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
}

fn into_alert(columns: AlertColumns) -> Result<OutboxAlert, StoreError> {
    let (id, channel, recipients, subject, body_text, body_html, attempts, created_at, thread) = columns;
    let recipients: Vec<String> =
        serde_json::from_str(&recipients).map_err(|e| StoreError::Corrupt(format!("recipients of alert {id}: {e}")))?;
    Ok(OutboxAlert {
        id,
        message: AlertMessage { channel, recipients, subject, body_text, body_html },
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        created_at: DateTime::from_timestamp(created_at, 0).unwrap_or_default(),
        thread,
    })
}
