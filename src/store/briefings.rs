//! The briefing log (Art. 10 定期通报): one row per briefing and due time, written in the
//! transaction that queues the briefing's alert (kind `briefing`), so a briefing goes out
//! once per due time however often the daemon restarts or an admin repeats a command. A
//! period with nothing to report is logged too, with no alert.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::model::AlertMessage;

/// What a briefing covered, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BriefingRecord<'a> {
    pub briefing_id: &'a str,
    pub due_at: DateTime<Utc>,
    pub period_start: DateTime<Utc>,
    /// Events created in the period.
    pub events: usize,
    /// Open events listed (the period's and earlier ones).
    pub open: usize,
}

/// The outcome of [`Store::record_briefing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BriefingLogged {
    /// Logged, and its alerts queued, the first with this id.
    Queued(i64),
    /// Logged with nothing queued (nothing to report).
    Skipped,
    /// This briefing was already logged for this due time: nothing written.
    AlreadyDone,
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Logs a briefing for its due time and queues its alerts (email, IM posts), in one
    /// transaction; nothing at all when that due time is already logged.
    pub fn record_briefing(
        &mut self,
        record: &BriefingRecord<'_>,
        alerts: &[AlertMessage],
        now: DateTime<Utc>,
    ) -> Result<BriefingLogged, StoreError> {
        let now = now.timestamp();
        let tx = self.begin()?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO briefings_sent (briefing_id, due_at, period_start, events, open, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                record.briefing_id,
                record.due_at.timestamp(),
                record.period_start.timestamp(),
                count(record.events),
                count(record.open),
                now
            ],
        )?;
        if inserted == 0 {
            return Ok(BriefingLogged::AlreadyDone);
        }
        let mut first = None;
        for alert in alerts {
            let recipients =
                serde_json::to_string(&alert.recipients).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            tx.execute(
                "INSERT INTO alerts (kind, channel, recipients, subject, body_text, body_html, next_attempt_at, created_at)
                 VALUES ('briefing', ?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![alert.channel, recipients, alert.subject, alert.body_text, alert.body_html, now],
            )?;
            first = first.or(Some(tx.last_insert_rowid()));
        }
        let outcome = match first {
            None => BriefingLogged::Skipped,
            Some(alert_id) => {
                tx.execute(
                    "UPDATE briefings_sent SET alert_id = ?3 WHERE briefing_id = ?1 AND due_at = ?2",
                    params![record.briefing_id, record.due_at.timestamp(), alert_id],
                )?;
                BriefingLogged::Queued(alert_id)
            }
        };
        tx.commit()?;
        Ok(outcome)
    }

    /// Whether the briefing is logged for this due time.
    pub fn briefing_done(&self, briefing_id: &str, due_at: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(self
            .lite()?
            .prepare_cached("SELECT 1 FROM briefings_sent WHERE briefing_id = ?1 AND due_at = ?2")?
            .exists(params![briefing_id, due_at.timestamp()])?)
    }

    /// The latest due time logged for the briefing before `before` (what `since_last` covers from).
    pub fn last_briefing_before(
        &self,
        briefing_id: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let secs: Option<Option<i64>> = self
            .lite()?
            .query_row(
                "SELECT max(due_at) FROM briefings_sent WHERE briefing_id = ?1 AND due_at < ?2",
                params![briefing_id, before.timestamp()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(secs.flatten().and_then(|s| DateTime::from_timestamp(s, 0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default()
    }

    fn alert() -> AlertMessage {
        AlertMessage {
            channel: "email".into(),
            recipients: vec!["陈局长 <chen@example.gov.cn>".into()],
            subject: "【舆情简报】每日舆情简报 2027-01-15".into(),
            body_text: "t".into(),
            body_html: "h".into(),
        }
    }

    #[test]
    fn a_due_time_is_logged_once_with_its_alert() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("y.db")).expect("open");
        let record =
            BriefingRecord { briefing_id: "daily", due_at: at(0), period_start: at(-86_400), events: 2, open: 1 };
        let Ok(BriefingLogged::Queued(id)) = store.record_briefing(&record, &[alert()], at(5)) else {
            panic!("queued");
        };
        assert_eq!(store.record_briefing(&record, &[alert()], at(9)).ok(), Some(BriefingLogged::AlreadyDone));
        let pending = store.due_alerts(None, 10).expect("due");
        assert_eq!(pending.iter().map(|a| a.id).collect::<Vec<_>>(), vec![id]);
        let kind: String = store
            .lite()
            .expect("sqlite")
            .query_row("SELECT kind FROM alerts WHERE id = ?1", [id], |r| r.get(0))
            .expect("kind");
        assert_eq!(kind, "briefing");
        assert!(store.briefing_done("daily", at(0)).expect("done"));
        assert!(!store.briefing_done("weekly", at(0)).expect("other id"));
        // Nothing to report: logged without an alert.
        let quiet = BriefingRecord { due_at: at(86_400), ..record };
        assert_eq!(store.record_briefing(&quiet, &[], at(86_401)).ok(), Some(BriefingLogged::Skipped));
        assert_eq!(store.due_alerts(None, 10).expect("due").len(), 1);
        assert_eq!(store.last_briefing_before("daily", at(200_000)).expect("last"), Some(at(86_400)));
        assert_eq!(store.last_briefing_before("daily", at(86_400)).expect("last"), Some(at(0)));
        assert_eq!(store.last_briefing_before("daily", at(0)).expect("none"), None);
    }
}
