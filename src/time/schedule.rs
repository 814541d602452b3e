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
    /// A field croner refuses: which one (分钟, 小时, …) and its range in Chinese first,
    /// croner's own words after.
    #[error("{field}字段 \"{value}\" 无效，应为 {range}（croner：{detail}）")]
    Field { field: &'static str, value: String, range: &'static str, detail: String },
    /// A line croner refuses as a whole (a nickname other than @hourly, @daily, …).
    #[error("无法识别的计划写法（croner：{0}）")]
    Invalid(String),
}

/// The five crontab fields: their Chinese name and what they accept.
const FIELDS: [(&str, &str); 5] = [
    ("分钟", "0–59"),
    ("小时", "0–23"),
    ("日期", "1–31"),
    ("月份", "1–12 或 JAN–DEC"),
    ("星期", "0–7（0 和 7 都是周日）或 SUN–SAT"),
];

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
        let cron = parser.parse(expr).map_err(|e| Self::explain(&parser, expr, &e.to_string()))?;
        Ok(Self { expr: expr.into(), cron: Arc::new(cron) })
    }

    /// Which field croner refused: the first that fails with `*` in every other place.
    fn explain(parser: &CronParser, expr: &str, detail: &str) -> ScheduleError {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() == FIELDS.len() {
            for (i, value) in fields.iter().enumerate() {
                let alone: Vec<&str> = (0..fields.len()).map(|j| if j == i { *value } else { "*" }).collect();
                if parser.parse(&alone.join(" ")).is_err() {
                    let (field, range) = FIELDS[i];
                    return ScheduleError::Field { field, value: value.to_string(), range, detail: detail.to_string() };
                }
            }
        }
        ScheduleError::Invalid(detail.to_string())
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
    /// The latest scheduled time at or before `at`, in `tz` (`None` when there is none,
    /// e.g. a schedule whose only dates lie in the future).
    pub fn latest_at_or_before(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&tz);
        self.cron.find_previous_occurrence(&local, true).ok().map(|t| t.with_timezone(&Utc))
    }

    /// The latest scheduled time strictly before `before`, in `tz`.
    pub fn previous_before(&self, before: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = before.with_timezone(&tz);
        self.cron.find_previous_occurrence(&local, false).ok().map(|t| t.with_timezone(&Utc))
    }
}

impl Schedule {
    /// When a source is first due after the daemon starts: at once if it never ran or
    /// missed a scheduled time while the daemon was down, else at its next scheduled time.
    /// "At once" is a scheduled time too (the latest one up to now, else now): the due time
    /// is the slot a run is for, and instances sharing a database must name the same slot
    /// for one source, to run it once between them (`store::sources`' leases).
    pub fn first_due(&self, last_attempt: Option<DateTime<Utc>>, now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        last_attempt.and_then(|t| self.next_after(t, tz)).unwrap_or_else(|| {
            self.previous_before(now + chrono::Duration::seconds(1), tz).filter(|t| *t <= now).unwrap_or(now)
        })
    }
}

impl Schedule {
    /// When to run a source again after the run scheduled for `slot` ended at `finished`:
    /// the first scheduled time strictly after `slot` that is not before `finished` (a slot
    /// that passed while the run was still going is skipped, not caught up), after repeated
    /// failures not before [`failure_backoff`], and never before the server's
    /// `Retry-After`.
    ///
    /// Counting from the slot, not from `finished`, is what makes one run per due time: a
    /// run that ends within its own scheduled second (say 12:27:00.300 for the 12:27 slot)
    /// must not find 12:27:00 "due" again.
    pub fn next_run(
        &self,
        slot: DateTime<Utc>,
        finished: DateTime<Utc>,
        tz: Tz,
        consecutive_failures: u32,
        retry_after: Option<std::time::Duration>,
    ) -> Option<DateTime<Utc>> {
        let wait = failure_backoff(consecutive_failures).max(retry_after.unwrap_or_default());
        let earliest = finished + chrono::Duration::from_std(wait).ok()?;
        let next = self.next_after(slot, tz)?;
        if next >= earliest {
            return Some(next);
        }
        self.next_at_or_after(earliest, tz)
    }

    /// The first scheduled time at or after `at` (schedules have whole minutes, so a time
    /// with a fraction of a second is rounded up first).
    pub fn next_at_or_after(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let whole = at.timestamp() + i64::from(at.timestamp_subsec_nanos() > 0);
        let whole = DateTime::<Utc>::from_timestamp(whole, 0)?;
        self.next_after(whole - chrono::Duration::seconds(1), tz)
    }
}

/// How long a failing source rests: nothing after one failure (it may be a blip), then
/// 5 minutes after two, doubling per failure, at most 6 hours — so a dead site is polled
/// a few times a day, not every few minutes all night.
pub fn failure_backoff(consecutive_failures: u32) -> std::time::Duration {
    if consecutive_failures < 2 {
        return std::time::Duration::ZERO;
    }
    let doublings = (consecutive_failures - 2).min(10);
    (std::time::Duration::from_secs(300) * 2u32.pow(doublings)).min(std::time::Duration::from_secs(6 * 3600))
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
        assert_eq!(
            s.first_due(None, now, TZ),
            at("2026-11-27T10:00:00+08:00"),
            "never ran: at once, for the 10:00 slot"
        );
        let missed = s.first_due(Some(at("2026-11-27T08:59:00+08:00")), now, TZ);
        assert!(missed <= now, "the 09:00 and 10:00 runs were missed: due at once");
        assert_eq!(s.first_due(Some(at("2026-11-27T10:00:00+08:00")), now, TZ), at("2026-11-27T11:00:00+08:00"));
    }

    #[test]
    fn previous_times_are_found_backwards_in_the_timezone() {
        let s = Schedule::parse("0 8 * * *").expect("daily");
        let eight = at("2026-11-27T08:00:00+08:00");
        assert_eq!(s.latest_at_or_before(eight, TZ), Some(eight), "inclusive");
        assert_eq!(s.previous_before(eight, TZ), Some(at("2026-11-26T08:00:00+08:00")), "exclusive");
        assert_eq!(s.latest_at_or_before(at("2026-11-27T07:59:00+08:00"), TZ), Some(at("2026-11-26T08:00:00+08:00")));
        // Monday 08:30: from Friday 27 Nov back to Monday 23 Nov.
        let weekly = Schedule::parse("30 8 * * 1").expect("weekly");
        assert_eq!(
            weekly.latest_at_or_before(at("2026-11-27T10:00:00+08:00"), TZ),
            Some(at("2026-11-23T08:30:00+08:00"))
        );
    }

    #[test]
    fn failing_sources_back_off_exponentially_up_to_six_hours() {
        let minutes: Vec<u64> = (0..=9).map(|n| failure_backoff(n).as_secs() / 60).collect();
        assert_eq!(minutes, vec![0, 0, 5, 10, 20, 40, 80, 160, 320, 360]);
        assert_eq!(failure_backoff(u32::MAX).as_secs(), 6 * 3600);
    }

    #[test]
    fn next_run_keeps_the_schedule_grid_and_honours_backoff_and_retry_after() {
        let s = Schedule::parse("*/10 * * * *").expect("every 10 minutes");
        let slot = at("2026-11-27T10:00:00+08:00");
        let now = at("2026-11-27T10:03:00+08:00");
        assert_eq!(s.next_run(slot, now, TZ, 0, None), Some(at("2026-11-27T10:10:00+08:00")));
        assert_eq!(s.next_run(slot, now, TZ, 1, None), Some(at("2026-11-27T10:10:00+08:00")));
        // 4 failures: 20 minutes' rest → 10:23 → the 10:30 slot.
        assert_eq!(s.next_run(slot, now, TZ, 4, None), Some(at("2026-11-27T10:30:00+08:00")));
        // Retry-After one hour wins over a short backoff.
        let hour = std::time::Duration::from_secs(3600);
        assert_eq!(s.next_run(slot, now, TZ, 2, Some(hour)), Some(at("2026-11-27T11:10:00+08:00")));
        // Exactly on a slot counts.
        let seven = std::time::Duration::from_secs(7 * 60);
        assert_eq!(s.next_run(slot, now, TZ, 0, Some(seven)), Some(at("2026-11-27T10:10:00+08:00")));
    }

    /// Regression: a run that ended inside its own scheduled second was due again at once,
    /// so the daemon ran each source hundreds of times in that second.
    #[test]
    fn a_run_that_ends_within_its_slot_second_is_next_due_at_the_following_slot() {
        let s = Schedule::parse("* * * * *").expect("every minute");
        let slot = at("2026-12-02T12:27:00+08:00");
        for finished in
            ["2026-12-02T12:27:00.000+08:00", "2026-12-02T12:27:00.300+08:00", "2026-12-02T12:27:00.999+08:00"]
        {
            assert_eq!(
                s.next_run(slot, at(finished), TZ, 0, None),
                Some(at("2026-12-02T12:28:00+08:00")),
                "{finished}"
            );
            assert_eq!(
                s.next_run(slot, at(finished), TZ, 1, None),
                Some(at("2026-12-02T12:28:00+08:00")),
                "{finished}"
            );
        }
        let five = Schedule::parse("*/5 * * * *").expect("every 5 minutes");
        let slot = at("2026-12-02T12:25:00+08:00");
        assert_eq!(
            five.next_run(slot, at("2026-12-02T12:25:00.420+08:00"), TZ, 0, None),
            Some(at("2026-12-02T12:30:00+08:00"))
        );
    }

    #[test]
    fn a_slot_that_passed_during_a_long_run_is_skipped_not_caught_up() {
        let s = Schedule::parse("* * * * *").expect("every minute");
        let slot = at("2026-12-02T12:27:00+08:00");
        // Ended at 12:28:10: the 12:28 slot passed while it ran; next is 12:29.
        assert_eq!(
            s.next_run(slot, at("2026-12-02T12:28:10.5+08:00"), TZ, 0, None),
            Some(at("2026-12-02T12:29:00+08:00"))
        );
    }

    #[test]
    fn next_at_or_after_rounds_fractions_up() {
        let s = Schedule::parse("* * * * *").expect("every minute");
        let minute = at("2026-12-02T12:27:00+08:00");
        assert_eq!(s.next_at_or_after(minute, TZ), Some(minute));
        assert_eq!(s.next_at_or_after(at("2026-12-02T12:27:00.001+08:00"), TZ), Some(at("2026-12-02T12:28:00+08:00")));
        assert_eq!(s.next_after(at("2026-12-02T12:26:59.700+08:00"), TZ), Some(minute));
    }

    #[test]
    fn bad_lines_are_rejected_with_reasons() {
        assert!(matches!(Schedule::parse("0 */10 * * * *"), Err(ScheduleError::FieldCount(6))));
        assert!(matches!(Schedule::parse("* * *"), Err(ScheduleError::FieldCount(3))));
        assert!(Schedule::parse("@hourly").is_ok());
    }

    #[test]
    fn a_refused_field_is_named_in_chinese_before_croners_words() {
        let cases = [
            ("61 * * * *", "分钟字段 \"61\" 无效，应为 0–59（croner："),
            ("0 25 * * *", "小时字段 \"25\" 无效，应为 0–23（croner："),
            ("0 8 32 * *", "日期字段 \"32\" 无效"),
            ("0 8 * 13 *", "月份字段 \"13\" 无效"),
            ("0 8 * * 1-8", "星期字段 \"1-8\" 无效"),
            ("0 8 * * MON-FRY", "星期字段 \"MON-FRY\" 无效"),
        ];
        for (line, want) in cases {
            let shown = Schedule::parse(line).map(|_| String::new()).unwrap_or_else(|e| e.to_string());
            assert!(shown.starts_with(want), "{line}: {shown}");
            assert!(shown.ends_with('）') && shown.len() > want.len() + 4, "croner's words follow: {shown}");
        }
        let shown = Schedule::parse("@sometimes").map(|_| String::new()).unwrap_or_else(|e| e.to_string());
        assert!(shown.starts_with("无法识别的计划写法（croner："), "{shown}");
    }
}
