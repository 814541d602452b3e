//! The briefing log (Art. 10 定期通报): one row per briefing and due time, written in the
//! transaction that queues the briefing's alert (kind `briefing`), so a briefing goes out
//! once per due time however often the daemon restarts or an admin repeats a command. A
//! period with nothing to report is logged too, with no alert. Both backends (issue 19).
//!
//! How callers use it (`report::briefing::send`): [`Store::briefing_done`] is a cheap read
//! that skips building a digest already sent; [`Store::record_briefing`] is the claim. Its
//! first statement inserts the log row keyed by (briefing, due time) `ON CONFLICT DO
//! NOTHING`; only the caller whose insert added the row queues alerts, in the same
//! transaction, and gets `Queued` / `Skipped`; every other caller gets `AlreadyDone` and
//! drops the digest it built. Several daemons on one PostgreSQL: a second claimer's insert
//! waits for the first's transaction on the key, then adds nothing (the first committed)
//! or takes the claim (the first rolled back, e.g. it crashed), so a due time goes out once
//! and is never lost to a claimer that died before its commit. SQLite has one writer.

use chrono::{DateTime, Utc};

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
    /// This briefing was already logged for this due time (by this daemon or another one):
    /// nothing written, the caller's digest is not sent.
    AlreadyDone,
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Claims the briefing's due time and queues its alerts (email, IM posts), in one
    /// transaction; nothing at all when that due time is already logged (`AlreadyDone`:
    /// another caller or daemon claimed it; see the module doc).
    pub fn record_briefing(
        &mut self,
        record: &BriefingRecord<'_>,
        alerts: &[AlertMessage],
        now: DateTime<Utc>,
    ) -> Result<BriefingLogged, StoreError> {
        let now = now.timestamp();
        let (due_at, period_start) = (record.due_at.timestamp(), record.period_start.timestamp());
        self.write(|tx| {
            // The claim: only the caller whose insert adds the row goes on (module doc).
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO briefings_sent (briefing_id, due_at, period_start, events, open, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &[&record.briefing_id, &due_at, &period_start, &count(record.events), &count(record.open), &now],
            )?;
            if inserted == 0 {
                return Ok(BriefingLogged::AlreadyDone);
            }
            let mut first = None;
            for alert in alerts {
                let recipients =
                    serde_json::to_string(&alert.recipients).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let id: i64 = tx.one(
                    "INSERT INTO alerts (kind, channel, recipients, subject, body_text, body_html, next_attempt_at, created_at)
                     VALUES ('briefing', ?1, ?2, ?3, ?4, ?5, ?6, ?6)
                     RETURNING id",
                    &[&alert.channel, &recipients, &alert.subject, &alert.body_text, &alert.body_html, &now],
                    |r| r.get(0),
                )?;
                first = first.or(Some(id));
            }
            Ok(match first {
                None => BriefingLogged::Skipped,
                Some(alert_id) => {
                    tx.execute(
                        "UPDATE briefings_sent SET alert_id = ?3 WHERE briefing_id = ?1 AND due_at = ?2",
                        &[&record.briefing_id, &due_at, &alert_id],
                    )?;
                    BriefingLogged::Queued(alert_id)
                }
            })
        })
    }

    /// Whether the briefing is logged for this due time (a read; the claim is
    /// [`Store::record_briefing`]).
    pub fn briefing_done(&self, briefing_id: &str, due_at: DateTime<Utc>) -> Result<bool, StoreError> {
        let found = self.db().exec().first(
            "SELECT CAST(1 AS BIGINT) FROM briefings_sent WHERE briefing_id = ?1 AND due_at = ?2",
            &[&briefing_id, &due_at.timestamp()],
            |r| r.get::<i64>(0),
        )?;
        Ok(found.is_some())
    }

    /// The latest due time logged for the briefing before `before` (what `since_last` covers from).
    pub fn last_briefing_before(
        &self,
        briefing_id: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let secs: Option<i64> = self.db().exec().one(
            "SELECT max(due_at) FROM briefings_sent WHERE briefing_id = ?1 AND due_at < ?2",
            &[&briefing_id, &before.timestamp()],
            |r| r.get(0),
        )?;
        Ok(secs.and_then(|s| DateTime::from_timestamp(s, 0)))
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
        let kind: String =
            store.db().exec().one("SELECT kind FROM alerts WHERE id = ?1", &[&id], |r| r.get(0)).expect("kind");
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
