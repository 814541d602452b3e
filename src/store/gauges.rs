//! Cheap counts for `/metrics` and `/healthz`, read at scrape time: events by grade,
//! notifications by channel and status, the outbox's depth, what it holds back (quiet hours,
//! rate limits, the SMS cap) and the age of its oldest pending notification, and when a
//! notification was last delivered. One SQL text for both backends.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};
use crate::model::AlertMessage;

/// What the store says about itself at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    /// (grade `I`…`IV` or `none`, events).
    pub events_by_grade: Vec<(String, u64)>,
    /// ((channel, status), notifications).
    pub alerts: Vec<((String, String), u64)>,
    pub outbox_pending: u64,
    /// (reason `quiet` / `rate` / `cap`, pending notifications held back for it, not yet due).
    pub outbox_held: Vec<(String, u64)>,
    /// When the oldest pending notification was queued.
    pub oldest_pending_at: Option<DateTime<Utc>>,
    /// When a notification was last delivered.
    pub last_sent_at: Option<DateTime<Utc>>,
}

fn time(secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.and_then(|s| DateTime::from_timestamp(s, 0))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Store {
    /// Counts for the metrics endpoint (a few aggregate queries). "Due" is measured
    /// against this machine's clock (read here, not SQLite's `strftime('%s', 'now')`, so
    /// both backends run one text).
    pub fn gauges(&self) -> Result<Gauges, StoreError> {
        let now = Utc::now().timestamp();
        let mut db = self.db();
        let events_by_grade =
            db.exec().rows("SELECT coalesce(grade, 'none'), count(*) FROM events GROUP BY 1 ORDER BY 1", &[], |r| {
                Ok((r.get::<String>(0)?, count(r.get(1)?)))
            })?;
        let alerts =
            db.exec().rows("SELECT channel, status, count(*) FROM alerts GROUP BY 1, 2 ORDER BY 1, 2", &[], |r| {
                Ok(((r.get::<String>(0)?, r.get::<String>(1)?), count(r.get(2)?)))
            })?;
        // The oldest pending alert that is due: one held for working hours, a rate limit or
        // its backoff is waiting by design, not stuck.
        let (pending, oldest): (i64, Option<i64>) = db.exec().one(
            "SELECT count(*), min(created_at) FILTER (WHERE next_attempt_at <= ?1)
             FROM alerts WHERE status = 'pending'",
            &[&now],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let outbox_held = db.exec().rows(
            "SELECT held, count(*) FROM alerts
             WHERE status = 'pending' AND held IS NOT NULL AND next_attempt_at > ?1
             GROUP BY 1 ORDER BY 1",
            &[&now],
            |r| Ok((r.get::<String>(0)?, count(r.get(1)?))),
        )?;
        let last_sent: Option<i64> =
            db.exec().one("SELECT max(sent_at) FROM alerts WHERE status = 'sent'", &[], |r| r.get(0))?;
        drop(db);
        Ok(Gauges {
            events_by_grade,
            alerts,
            outbox_pending: count(pending),
            outbox_held,
            oldest_pending_at: time(oldest),
            last_sent_at: time(last_sent),
        })
    }

    /// Queues a notice to the admin that is about no source or event (the configuration
    /// could not be reloaded: kind `config_invalid`).
    pub fn queue_admin_notice(
        &mut self,
        kind: &str,
        message: &AlertMessage,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.outbox().queue_admin_notice(kind, message, now).map(|_| ())
    }
}
