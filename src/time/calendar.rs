//! The working-hours calendar: which instants are the bureau's working time. A workday is
//! Monday–Friday, minus public holidays, plus make-up workdays (调休上班, a Saturday or
//! Sunday worked in exchange for a bridge day); its working periods (default 08:30–12:00 and
//! 14:00–17:30) are local times in the configured timezone. The holidays and make-up workdays
//! come from `calendar.toml` (the State Council's notice for each year); without one, every
//! Monday–Friday is a workday.
//!
//! It serves the deadline clocks that count working time ([`WorkCalendar::add_working`],
//! [`WorkCalendar::working_between`]) and anything that must wait for working time
//! ([`WorkCalendar::is_working`], [`WorkCalendar::next_working_start`]). Pure: no I/O, no
//! clock, and no allocation after construction (dates are binary-searched).

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;

const DAY_SECS: u32 = 24 * 3600;

/// A calendar that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("working period {0:?} is not written HH:MM-HH:MM")]
    BadPeriod(String),
    #[error("working period {0} is empty or ends before it starts")]
    EmptyPeriod(Period),
    #[error("working periods {0} and {1} overlap")]
    Overlap(Period, Period),
    #[error("no working periods")]
    NoPeriods,
    #[error("{0} is both a holiday and a make-up workday")]
    HolidayAndWorkday(NaiveDate),
}

/// One working period of a workday: from `start` to `end` (exclusive), in seconds after
/// local midnight; `end` may be 24:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    start: u32,
    end: u32,
}

impl Period {
    /// The default working periods: 08:30–12:00 and 14:00–17:30.
    pub const DEFAULT: [Period; 2] =
        [Period { start: 8 * 3600 + 1800, end: 12 * 3600 }, Period { start: 14 * 3600, end: 17 * 3600 + 1800 }];

    /// A period from seconds after midnight; it must not be empty and must end by 24:00.
    pub fn new(start: u32, end: u32) -> Result<Self, CalendarError> {
        let period = Period { start, end };
        if start >= end || end > DAY_SECS { Err(CalendarError::EmptyPeriod(period)) } else { Ok(period) }
    }

    /// `"08:30-12:00"` (hours 0–24, minutes 0–59; 24:00 only as an end).
    pub fn parse(text: &str) -> Result<Self, CalendarError> {
        let bad = || CalendarError::BadPeriod(text.to_string());
        let (from, to) = text.split_once('-').ok_or_else(bad)?;
        let clock = |s: &str| -> Option<u32> {
            let (h, m) = s.trim().split_once(':')?;
            let all_digits = |x: &str| !x.is_empty() && x.len() <= 2 && x.bytes().all(|b| b.is_ascii_digit());
            if !all_digits(h) || m.len() != 2 || !all_digits(m) {
                return None;
            }
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 3600 + m * 60)
        };
        let (start, end) = (clock(from).ok_or_else(bad)?, clock(to).ok_or_else(bad)?);
        if start == DAY_SECS {
            return Err(bad());
        }
        Period::new(start, end)
    }

    /// Seconds after local midnight when the period starts.
    pub fn start(self) -> u32 {
        self.start
    }

    /// Seconds after local midnight when the period ends (exclusive).
    pub fn end(self) -> u32 {
        self.end
    }

    pub fn len(self) -> Duration {
        Duration::from_secs(u64::from(self.end - self.start))
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hm = |s: u32| (s / 3600, s % 3600 / 60);
        let ((h1, m1), (h2, m2)) = (hm(self.start), hm(self.end));
        write!(f, "{h1:02}:{m1:02}-{h2:02}:{m2:02}")
    }
}

/// Workdays and their working periods in a timezone.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkCalendar {
    tz: Tz,
    /// Sorted, disjoint, never empty.
    periods: Vec<Period>,
    /// Sorted, without repeats.
    holidays: Vec<NaiveDate>,
    /// Make-up workdays (调休上班); sorted, without repeats, none of them a holiday.
    workdays: Vec<NaiveDate>,
    /// Years whose holidays were added (each year's notice), sorted.
    years: Vec<i32>,
}

impl Default for WorkCalendar {
    /// Asia/Shanghai, 08:30–12:00 and 14:00–17:30, Monday–Friday, no holidays.
    fn default() -> Self {
        WorkCalendar {
            tz: chrono_tz::Asia::Shanghai,
            periods: Period::DEFAULT.to_vec(),
            holidays: Vec::new(),
            workdays: Vec::new(),
            years: Vec::new(),
        }
    }
}

impl WorkCalendar {
    /// Monday–Friday in `periods` (any order; they may touch but not overlap) in `tz`.
    pub fn new(tz: Tz, mut periods: Vec<Period>) -> Result<Self, CalendarError> {
        periods.sort();
        if periods.is_empty() {
            return Err(CalendarError::NoPeriods);
        }
        if let Some(w) = periods.windows(2).find(|w| w[1].start < w[0].end) {
            return Err(CalendarError::Overlap(w[0], w[1]));
        }
        Ok(WorkCalendar { tz, periods, holidays: Vec::new(), workdays: Vec::new(), years: Vec::new() })
    }

    /// Adds one year's notice: its holidays (放假, weekends included) and make-up workdays.
    pub fn add_year(&mut self, year: i32, holidays: &[NaiveDate], workdays: &[NaiveDate]) -> Result<(), CalendarError> {
        let mut new_holidays = self.holidays.clone();
        new_holidays.extend_from_slice(holidays);
        new_holidays.sort_unstable();
        new_holidays.dedup();
        let mut new_workdays = self.workdays.clone();
        new_workdays.extend_from_slice(workdays);
        new_workdays.sort_unstable();
        new_workdays.dedup();
        if let Some(d) = new_workdays.iter().find(|d| new_holidays.binary_search(d).is_ok()) {
            return Err(CalendarError::HolidayAndWorkday(*d));
        }
        self.holidays = new_holidays;
        self.workdays = new_workdays;
        if let Err(i) = self.years.binary_search(&year) {
            self.years.insert(i, year);
        }
        Ok(())
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    pub fn periods(&self) -> &[Period] {
        &self.periods
    }

    /// The years whose holidays are known (added with [`WorkCalendar::add_year`]).
    pub fn years(&self) -> &[i32] {
        &self.years
    }

    /// Whether `year`'s holidays are known; outside those years only weekends are off.
    pub fn covers(&self, year: i32) -> bool {
        self.years.binary_search(&year).is_ok()
    }

    /// Whether `date` (a local date) is a workday: a make-up workday, or Monday–Friday and
    /// not a holiday.
    pub fn is_workday(&self, date: NaiveDate) -> bool {
        if self.workdays.binary_search(&date).is_ok() {
            return true;
        }
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && self.holidays.binary_search(&date).is_err()
    }

    /// Whether `t` falls in a working period of a workday.
    pub fn is_working(&self, t: DateTime<Utc>) -> bool {
        self.segment(t).is_some_and(|(start, _)| start == t)
    }

    /// The first working instant at or after `t` (`t` itself when it is working time).
    pub fn next_working_start(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.segment(t).map_or(t, |(start, _)| start)
    }

    /// The instant when `duration` of working time has gone by after `start`. A zero
    /// duration gives `start`; otherwise the count begins at the next working instant.
    pub fn add_working(&self, start: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
        let mut left = duration;
        let mut t = start;
        while !left.is_zero() {
            let Some((from, to)) = self.segment(t) else {
                // Past the end of representable dates: count the rest as calendar time.
                let left = chrono::Duration::from_std(left).unwrap_or(chrono::Duration::MAX);
                return t.checked_add_signed(left).unwrap_or(DateTime::<Utc>::MAX_UTC);
            };
            let available = (to - from).to_std().unwrap_or_default();
            if left <= available {
                return from + chrono::Duration::from_std(left).unwrap_or_default();
            }
            left -= available;
            t = to;
        }
        start
    }

    /// The working time between `a` and `b` (zero when `b` is not after `a`).
    pub fn working_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        let mut total = Duration::ZERO;
        let mut t = a;
        while t < b {
            let Some((from, to)) = self.segment(t) else { break };
            if from >= b {
                break;
            }
            total += (to.min(b) - from).to_std().unwrap_or_default();
            t = to;
        }
        total
    }

    /// The working stretch that holds `t` or comes next: (max(`t`, its start), its end), the
    /// end always after the start. `None` only past the last representable date.
    fn segment(&self, t: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let local = t.with_timezone(&self.tz).naive_local();
        let today = local.date();
        let mut date = today;
        let mut from = local.time().num_seconds_from_midnight();
        loop {
            if self.is_workday(date) {
                for p in &self.periods {
                    if p.end <= from {
                        continue;
                    }
                    // Only a period of `t`'s own day can have begun already.
                    let start = if date == today && p.start <= from { t } else { self.instant(date, p.start)? };
                    let end = self.instant(date, p.end)?;
                    if end > start && end > t {
                        return Some((start.max(t), end));
                    }
                }
            }
            date = date.succ_opt()?;
            from = 0;
        }
    }

    /// The instant of a local date and time (seconds after midnight, up to 24:00). In a
    /// daylight-saving gap the first instant after it; when a time repeats, the first one.
    fn instant(&self, date: NaiveDate, secs: u32) -> Option<DateTime<Utc>> {
        let naive: NaiveDateTime = date.and_hms_opt(0, 0, 0)? + chrono::Duration::seconds(i64::from(secs));
        (0..=8).find_map(|quarter| {
            let shifted = naive + chrono::Duration::minutes(15 * quarter);
            self.tz.from_local_datetime(&shifted).earliest().map(|t| t.with_timezone(&Utc))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn days(from: &str, to: &str) -> Vec<NaiveDate> {
        date(from).iter_days().take_while(|d| *d <= date(to)).collect()
    }

    /// Beijing time "2026-02-13 16:00" as an instant.
    fn bj(s: &str) -> DateTime<Utc> {
        let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_default();
        chrono_tz::Asia::Shanghai
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn show(t: DateTime<Utc>) -> String {
        t.with_timezone(&chrono_tz::Asia::Shanghai).format("%Y-%m-%d %H:%M").to_string()
    }

    fn hours(h: f64) -> Duration {
        Duration::from_secs_f64(h * 3600.0)
    }

    /// 2026 per 国办发明电〔2025〕7号.
    fn cal_2026() -> WorkCalendar {
        let mut cal = WorkCalendar::default();
        let holidays: Vec<NaiveDate> = [
            ("2026-01-01", "2026-01-03"),
            ("2026-02-15", "2026-02-23"),
            ("2026-04-04", "2026-04-06"),
            ("2026-05-01", "2026-05-05"),
            ("2026-06-19", "2026-06-21"),
            ("2026-09-25", "2026-09-27"),
            ("2026-10-01", "2026-10-07"),
        ]
        .iter()
        .flat_map(|(a, b)| days(a, b))
        .collect();
        let workdays: Vec<NaiveDate> =
            ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"].map(date).to_vec();
        assert_eq!(cal.add_year(2026, &holidays, &workdays), Ok(()));
        cal
    }

    #[test]
    fn periods_parse_and_print() {
        assert_eq!(Period::parse("08:30-12:00").map(|p| p.to_string()), Ok("08:30-12:00".to_string()));
        assert_eq!(Period::parse(" 8:30 - 12:00 ").map(|p| (p.start(), p.end())), Ok((30600, 43200)));
        assert_eq!(Period::parse("00:00-24:00").map(|p| p.len()), Ok(hours(24.0)));
        for bad in ["08:30", "8-12", "08:30-12:60", "25:00-26:00", "24:00-24:00", "08:3-12:00", "a:00-b:00"] {
            assert!(matches!(Period::parse(bad), Err(CalendarError::BadPeriod(_))), "{bad}");
        }
        assert!(matches!(Period::parse("12:00-08:30"), Err(CalendarError::EmptyPeriod(_))));
        assert!(matches!(Period::parse("12:00-12:00"), Err(CalendarError::EmptyPeriod(_))));
    }

    #[test]
    fn periods_may_touch_but_not_overlap() {
        let p = |s: &str| Period::parse(s).unwrap_or(Period::DEFAULT[0]);
        let tz = chrono_tz::Asia::Shanghai;
        assert!(WorkCalendar::new(tz, vec![p("14:00-17:30"), p("08:30-12:00")]).is_ok());
        assert!(WorkCalendar::new(tz, vec![p("08:30-12:00"), p("12:00-13:00")]).is_ok());
        assert_eq!(
            WorkCalendar::new(tz, vec![p("08:30-12:00"), p("11:00-13:00")]),
            Err(CalendarError::Overlap(p("08:30-12:00"), p("11:00-13:00")))
        );
        assert_eq!(WorkCalendar::new(tz, vec![]), Err(CalendarError::NoPeriods));
    }

    /// Regression: a period starting at midnight on a later day used to begin at `t` itself,
    /// so with `00:00-24:00` every holiday evening counted as working time.
    #[test]
    fn a_period_from_midnight_on_a_later_day_starts_that_day() {
        let mut cal = cal_2026();
        cal.periods = vec![Period::parse("00:00-24:00").unwrap_or(Period::DEFAULT[0])];
        let national_day_evening = bj("2026-10-03 20:42");
        assert!(!cal.is_working(national_day_evening));
        assert_eq!(show(cal.next_working_start(national_day_evening)), "2026-10-08 00:00");
        assert!(cal.is_working(bj("2026-10-08 00:00")));
        let friday_noon = bj("2026-11-27 12:00");
        assert!(cal.is_working(friday_noon), "a workday's own period still holds `t`");
        assert_eq!(show(cal.next_working_start(bj("2026-11-28 09:00"))), "2026-11-30 00:00");
    }

    #[test]
    fn a_date_cannot_be_both_holiday_and_workday() {
        let mut cal = WorkCalendar::default();
        let d = date("2026-02-14");
        assert_eq!(cal.add_year(2026, &[d], &[d]), Err(CalendarError::HolidayAndWorkday(d)));
        assert!(cal.years().is_empty(), "nothing added on error");
        assert_eq!(cal.add_year(2026, &[], &[d]), Ok(()));
        assert_eq!(cal.add_year(2027, &[d], &[]), Err(CalendarError::HolidayAndWorkday(d)), "across years too");
    }

    #[test]
    fn working_periods_of_a_plain_week() {
        let cal = WorkCalendar::default();
        assert!(cal.is_working(bj("2026-03-02 08:30")), "Monday, opening time");
        assert!(cal.is_working(bj("2026-03-02 11:59")));
        assert!(!cal.is_working(bj("2026-03-02 12:00")), "lunch");
        assert!(!cal.is_working(bj("2026-03-02 08:29")));
        assert!(cal.is_working(bj("2026-03-06 17:29")), "Friday afternoon");
        assert!(!cal.is_working(bj("2026-03-07 10:00")), "Saturday");
        assert_eq!(show(cal.next_working_start(bj("2026-03-02 12:30"))), "2026-03-02 14:00");
        assert_eq!(show(cal.next_working_start(bj("2026-03-02 09:15"))), "2026-03-02 09:15", "itself when working");
        assert_eq!(show(cal.next_working_start(bj("2026-03-02 07:00"))), "2026-03-02 08:30");
        // Sub-minute instants: one second before noon is working, noon is not.
        let t = bj("2026-03-02 11:59") + chrono::Duration::seconds(59);
        assert_eq!(cal.next_working_start(t), t);
        assert_eq!(show(cal.next_working_start(t + chrono::Duration::seconds(1))), "2026-03-02 14:00");
    }

    #[test]
    fn friday_evening_rolls_to_monday() {
        let cal = WorkCalendar::default();
        let friday = bj("2026-03-06 19:00");
        assert!(!cal.is_working(friday));
        assert_eq!(show(cal.next_working_start(friday)), "2026-03-09 08:30");
        assert_eq!(
            show(cal.add_working(friday, hours(4.0))),
            "2026-03-09 14:30",
            "3.5 h in the morning, 0.5 after lunch"
        );
        // Friday 16:00 + 4 working hours: 1.5 h on Friday, 2.5 h on Monday.
        assert_eq!(show(cal.add_working(bj("2026-03-06 16:00"), hours(4.0))), "2026-03-09 11:00");
        assert_eq!(cal.working_between(bj("2026-03-06 16:00"), bj("2026-03-09 11:00")), hours(4.0));
    }

    #[test]
    fn a_span_crossing_lunch() {
        let cal = WorkCalendar::default();
        let start = bj("2026-03-03 11:00");
        assert_eq!(show(cal.add_working(start, hours(2.0))), "2026-03-03 15:00");
        assert_eq!(show(cal.add_working(start, hours(1.0))), "2026-03-03 12:00", "ends at the period's end");
        assert_eq!(cal.working_between(start, bj("2026-03-03 15:00")), hours(2.0));
        assert_eq!(cal.working_between(bj("2026-03-03 12:10"), bj("2026-03-03 13:50")), Duration::ZERO);
        assert_eq!(cal.working_between(bj("2026-03-03 15:00"), start), Duration::ZERO, "backwards");
        assert_eq!(cal.working_between(bj("2026-03-02 00:00"), bj("2026-03-09 00:00")), hours(35.0), "a week");
        assert_eq!(cal.add_working(start, Duration::ZERO), start);
        assert_eq!(show(cal.add_working(bj("2026-03-03 12:30"), hours(1.0))), "2026-03-03 15:00");
    }

    #[test]
    fn spring_festival_2026_and_its_make_up_saturdays() {
        let cal = cal_2026();
        assert!(cal.covers(2026) && !cal.covers(2027));
        assert!(cal.is_workday(date("2026-02-13")), "Friday before");
        assert!(cal.is_workday(date("2026-02-14")), "Saturday worked (调休)");
        for d in days("2026-02-15", "2026-02-23") {
            assert!(!cal.is_workday(d), "{d} is off");
        }
        assert!(cal.is_workday(date("2026-02-24")));
        assert!(cal.is_workday(date("2026-02-28")), "Saturday worked (调休)");
        assert!(!cal.is_workday(date("2026-03-01")), "an ordinary Sunday");
        // Friday 16:00 + 4 working hours ends on the make-up Saturday, not after the festival.
        let friday = bj("2026-02-13 16:00");
        assert_eq!(show(cal.add_working(friday, hours(4.0))), "2026-02-14 11:00");
        // Saturday 17:00: the next working time is after nine days off.
        assert_eq!(show(cal.next_working_start(bj("2026-02-14 17:30"))), "2026-02-24 08:30");
        assert_eq!(show(cal.add_working(bj("2026-02-14 17:00"), hours(1.0))), "2026-02-24 09:00");
        assert_eq!(cal.working_between(bj("2026-02-14 00:00"), bj("2026-02-25 00:00")), hours(14.0), "two workdays");
        assert!(cal.is_working(bj("2026-02-28 10:00")));
    }

    #[test]
    fn national_day_2026_with_the_sunday_workday() {
        let cal = cal_2026();
        assert!(cal.is_working(bj("2026-09-20 09:00")), "Sunday 2026-09-20 is worked");
        assert!(!cal.is_working(bj("2026-09-25 09:00")), "中秋 (a Friday)");
        assert!(!cal.is_working(bj("2026-10-05 09:00")));
        assert!(cal.is_working(bj("2026-10-10 09:00")), "Saturday 2026-10-10 is worked");
        // Wednesday 30 September 16:00 + 4 working hours: 1.5 h, then the holiday, then 8 October.
        assert_eq!(show(cal.add_working(bj("2026-09-30 16:00"), hours(4.0))), "2026-10-08 11:00");
        // Friday 9 October 17:00 + 1 working hour: the Saturday is a workday.
        assert_eq!(show(cal.add_working(bj("2026-10-09 17:00"), hours(1.0))), "2026-10-10 09:00");
        // Saturday 19 September 12:00: the Sunday is a workday.
        assert_eq!(show(cal.next_working_start(bj("2026-09-19 12:00"))), "2026-09-20 08:30");
    }

    #[test]
    fn new_year_and_may_day_2026() {
        let cal = cal_2026();
        assert_eq!(show(cal.next_working_start(bj("2025-12-31 18:00"))), "2026-01-04 08:30", "Sunday worked");
        assert_eq!(show(cal.next_working_start(bj("2026-04-03 17:30"))), "2026-04-07 08:30", "清明 Sat–Mon");
        assert_eq!(show(cal.next_working_start(bj("2026-04-30 17:30"))), "2026-05-06 08:30");
        assert!(cal.is_workday(date("2026-05-09")));
    }

    #[test]
    fn shanghai_has_no_daylight_saving() {
        // China has not observed DST since 1991: every day has the full 7 working hours, also
        // on the dates other zones shift their clocks (2026-03-08 in the US, 2026-03-29 in the EU).
        let cal = WorkCalendar::default();
        for day in ["2026-03-09", "2026-03-30", "2026-10-26", "2026-11-02"] {
            let a = bj(&format!("{day} 00:00"));
            assert_eq!(cal.working_between(a, a + chrono::Duration::days(1)), hours(7.0), "{day}");
            assert_eq!(show(cal.add_working(a, hours(7.0))), format!("{day} 17:30"));
        }
        assert_eq!(bj("2026-07-01 08:30").timestamp() - bj("2026-01-05 08:30").timestamp(), 177 * 86400);
    }

    #[test]
    fn a_zone_with_daylight_saving_still_counts_local_hours() {
        // Europe/Berlin springs forward on 2026-03-29 (a Sunday); Monday is a normal day.
        let tz = chrono_tz::Europe::Berlin;
        let Ok(cal) = WorkCalendar::new(tz, Period::DEFAULT.to_vec()) else { panic!("calendar") };
        let at = |s: &str| {
            let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_default();
            tz.from_local_datetime(&naive).earliest().map(|t| t.with_timezone(&Utc)).unwrap_or_default()
        };
        assert_eq!(cal.add_working(at("2026-03-27 17:00"), hours(1.0)), at("2026-03-30 09:00"));
        assert!(cal.is_working(at("2026-03-30 08:30")));
    }

    #[test]
    fn working_between_is_the_inverse_of_add_working() {
        let cal = cal_2026();
        let mut t = bj("2026-02-10 07:13");
        for step in 0..200u64 {
            let span = Duration::from_secs(1800 + step * 1337);
            let end = cal.add_working(t, span);
            assert_eq!(cal.working_between(t, end), span, "from {} for {span:?}", show(t));
            t = end + chrono::Duration::minutes(47);
        }
    }
}
