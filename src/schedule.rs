//! Crontab schedules: when is a source due next.
//!
//! Admins write classic 5-field crontab lines (`minute hour day-of-month month
//! day-of-week`), evaluated in the configured timezone. We use `croner` rather than the
//! `cron` crate because `cron` rejects 5-field lines, numbers weekdays 1 = Sunday (so `1-5`
//! would mean Sunday–Thursday) and ANDs day-of-month with day-of-week; `croner` keeps Vixie
//! cron semantics: 0 and 7 are Sunday, `1-5` is Monday–Friday, and day-of-month and
//! day-of-week are ORed. Nicknames such as `@hourly` and `@daily` work too.
//! Pure: every function takes `now`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A parsed crontab line. Cheap to clone: a croner `Cron` holds about 5 KB of bitmaps
/// (years included), so it is shared, not copied, between sources and runs.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: Arc<str>,
    cron: Arc<Cron>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("需要 5 个字段（分 时 日 月 周），实际有 {0} 个")]
    FieldCount(usize),
    #[error("{0}")]
    Invalid(String),
}

impl Schedule {
    pub const DEFAULT: &'static str = "*/10 * * * *";
    pub const HINT: &'static str =
        "crontab 格式：分 时 日 月 周，例如 \"*/10 * * * *\"（每 10 分钟）或 \"0 8-18 * * 1-5\"（工作日 8–18 点整点）";

    pub fn parse(expr: &str) -> Result<Self, ScheduleError> {
        let expr = expr.trim();
        let fields = expr.split_whitespace().count();
        if !expr.starts_with('@') && fields != 5 {
            return Err(ScheduleError::FieldCount(fields));
        }
        let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build();
        let cron = parser.parse(expr).map_err(|e| ScheduleError::Invalid(e.to_string()))?;
        Ok(Self { expr: expr.into(), cron: Arc::new(cron) })
    }

    pub fn as_str(&self) -> &str {
        &self.expr
    }

    /// The first scheduled time strictly after `after`, in `tz`.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&tz);
        self.cron.find_next_occurrence(&local, false).ok().map(|t| t.with_timezone(&Utc))
    }
}

impl Schedule {
    /// When a source is first due after the daemon starts: at once if it never ran or
    /// missed a scheduled time while the daemon was down, else at its next scheduled time.
    pub fn first_due(&self, last_attempt: Option<DateTime<Utc>>, now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        last_attempt.and_then(|t| self.next_after(t, tz)).unwrap_or(now)
    }
}

impl Default for Schedule {
    fn default() -> Self {
        // The constant is a valid 5-field line, checked by `default_is_every_ten_minutes`.
        #[allow(clippy::expect_used)]
        Self::parse(Self::DEFAULT).expect("default schedule parses")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: Tz = chrono_tz::Asia::Shanghai;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).expect("valid test time")
    }

    fn next(expr: &str, after: &str) -> DateTime<Utc> {
        Schedule::parse(expr).expect("parses").next_after(at(after), TZ).expect("has a next time")
    }

    #[test]
    fn default_is_every_ten_minutes() {
        let s = Schedule::default();
        assert_eq!(s.next_after(at("2026-11-27T10:03:00+08:00"), TZ), Some(at("2026-11-27T10:10:00+08:00")));
    }

    #[test]
    fn weekdays_follow_crontab_numbering() {
        // 2026-11-27 is a Friday; "1-5" must skip Saturday and Sunday.
        assert_eq!(next("0 9 * * 1-5", "2026-11-27T10:00:00+08:00"), at("2026-11-30T09:00:00+08:00"));
        assert_eq!(next("0 9 * * 0", "2026-11-27T10:00:00+08:00"), at("2026-11-29T09:00:00+08:00"));
        assert_eq!(next("0 9 * * 7", "2026-11-27T10:00:00+08:00"), at("2026-11-29T09:00:00+08:00"));
    }

    #[test]
    fn hours_are_in_the_configured_timezone() {
        assert_eq!(next("30 8 * * *", "2026-11-27T00:00:00Z"), at("2026-11-27T08:30:00+08:00"));
    }

    #[test]
    fn day_of_month_and_weekday_are_ored() {
        // The 1st of the month OR a Monday: Monday 30 Nov comes before 1 Dec.
        assert_eq!(next("0 0 1 * 1", "2026-11-27T10:00:00+08:00"), at("2026-11-30T00:00:00+08:00"));
    }

    #[test]
    fn first_due_catches_up_missed_runs_only() {
        let s = Schedule::parse("0 * * * *").expect("hourly");
        let now = at("2026-11-27T10:20:00+08:00");
        assert_eq!(s.first_due(None, now, TZ), now, "never ran: now");
        let missed = s.first_due(Some(at("2026-11-27T08:59:00+08:00")), now, TZ);
        assert!(missed <= now, "the 09:00 and 10:00 runs were missed: due at once");
        assert_eq!(s.first_due(Some(at("2026-11-27T10:00:00+08:00")), now, TZ), at("2026-11-27T11:00:00+08:00"));
    }

    #[test]
    fn bad_lines_are_rejected_with_reasons() {
        assert!(matches!(Schedule::parse("0 */10 * * * *"), Err(ScheduleError::FieldCount(6))));
        assert!(matches!(Schedule::parse("* * *"), Err(ScheduleError::FieldCount(3))));
        assert!(matches!(Schedule::parse("61 * * * *"), Err(ScheduleError::Invalid(_))));
        assert!(Schedule::parse("@hourly").is_ok());
    }
}
