//! Dates as Chinese sites write them. [`parse_timestamp`] reads absolute forms (RFC 2822,
//! RFC 3339, `2026-11-20 10:00:00`, `2026年11月20日`); [`parse_list_date`] also reads the
//! relative and partial forms of list pages (`08-02`, `今天 10:00`, `昨天`, `3小时前`,
//! `刚刚`). Times without an offset are in the configured timezone. Pure: `now` is passed in.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use regex::Regex;

static LOCAL_DATE: LazyLock<Regex> = LazyLock::new(|| {
    // Patterns are literals checked by the unit tests below; construction cannot fail.
    #[allow(clippy::unwrap_used)]
    Regex::new(
        r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[\sT]+(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2}))?\s*[分秒]?(?:\.\d+)?)?$",
    )
    .unwrap()
});

/// Reads RFC 2822 / RFC 3339 timestamps and the local formats Chinese sites use.
/// Times without an offset are in `tz`.
pub fn parse_timestamp(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    // RFC 2822 with a wrong weekday name ("Mon, 20 Nov ..." on a Friday) is common.
    if let Some((_, rest)) = s.split_once(", ")
        && let Ok(t) = DateTime::parse_from_rfc2822(rest)
    {
        return Some(t.with_timezone(&Utc));
    }
    local_timestamp(s, tz)
}

fn local_timestamp(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let caps = LOCAL_DATE.captures(s)?;
    let num = |i: usize| caps.get(i).map_or(Some(0), |m| m.as_str().parse::<u32>().ok());
    let year = i32::try_from(num(1)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, num(2)?, num(3)?)?;
    let naive: NaiveDateTime = date.and_hms_opt(num(4)?, num(5)?, num(6)?)?;
    tz.from_local_datetime(&naive).earliest().map(|t| t.with_timezone(&Utc))
}

/// Month-day without a year (`08-02`, `8月2日`, optionally with a time): this year, or last
/// year when that would be more than a day in the future.
static MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern, exercised by the tests below
    Regex::new(r"^(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+(\d{1,2})\s*[:：]\s*(\d{1,2}))?$").unwrap()
});

/// `今天 10:00`, `昨天`, `前天 08:30`.
static NAMED_DAY: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern, exercised by the tests below
    Regex::new(r"^(今天|昨天|前天)\s*(?:(\d{1,2})\s*[:：]\s*(\d{1,2}))?$").unwrap()
});

/// `3小时前`, `5分钟前`, `2天前`, `30秒前`.
static AGO: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern, exercised by the tests below
    Regex::new(r"^(\d{1,4})\s*(秒|分钟|小时|天|周)前$").unwrap()
});

/// Reads a date as list pages show it, relative to `now`. Brackets around the date
/// (`[2026-11-20]`, `（11-20）`) are ignored.
pub fn parse_list_date(s: &str, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let s = s.trim().trim_matches(|c| matches!(c, '[' | ']' | '(' | ')' | '（' | '）' | '【' | '】')).trim();
    if s == "刚刚" {
        return Some(now);
    }
    if let Some(t) = parse_timestamp(s, tz) {
        return Some(t);
    }
    let local_now = now.with_timezone(&tz);
    if let Some(c) = AGO.captures(s) {
        let n: i64 = c[1].parse().ok()?;
        let ago = match &c[2] {
            "秒" => Duration::seconds(n),
            "分钟" => Duration::minutes(n),
            "小时" => Duration::hours(n),
            "天" => Duration::days(n),
            _ => Duration::weeks(n),
        };
        return Some(now - ago);
    }
    if let Some(c) = NAMED_DAY.captures(s) {
        let back = match &c[1] {
            "今天" => 0,
            "昨天" => 1,
            _ => 2,
        };
        let day = local_now.date_naive() - Duration::days(back);
        let time = time_of(c.get(2).map(|m| m.as_str()), c.get(3).map(|m| m.as_str()))?;
        return local(day.and_time(time), tz);
    }
    if let Some(c) = MONTH_DAY.captures(s) {
        let (month, day): (u32, u32) = (c[1].parse().ok()?, c[2].parse().ok()?);
        let time = time_of(c.get(3).map(|m| m.as_str()), c.get(4).map(|m| m.as_str()))?;
        let this_year = NaiveDate::from_ymd_opt(local_now.year(), month, day)?;
        let candidate = local(this_year.and_time(time), tz)?;
        if candidate <= now + Duration::days(1) {
            return Some(candidate);
        }
        let last_year = NaiveDate::from_ymd_opt(local_now.year() - 1, month, day)?;
        return local(last_year.and_time(time), tz);
    }
    None
}

fn time_of(hour: Option<&str>, minute: Option<&str>) -> Option<NaiveTime> {
    NaiveTime::from_hms_opt(hour.map_or(Some(0), |h| h.parse().ok())?, minute.map_or(Some(0), |m| m.parse().ok())?, 0)
}

fn local(t: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&t).earliest().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: Tz = chrono_tz::Asia::Shanghai;

    fn utc(s: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
    }

    #[test]
    fn timestamps_in_the_wild() {
        let cases = [
            ("Fri, 20 Nov 2026 10:00:00 +0800", "2026-11-20T02:00:00Z"),
            ("Mon, 20 Nov 2026 10:00:00 GMT", "2026-11-20T10:00:00Z"),
            ("2026-11-20T10:00:00+08:00", "2026-11-20T02:00:00Z"),
            ("2026-11-20 10:00:00", "2026-11-20T02:00:00Z"),
            ("2026-11-20 10:00", "2026-11-20T02:00:00Z"),
            ("2026/11/20 10:00:05", "2026-11-20T02:00:05Z"),
            ("2026年11月20日", "2026-11-19T16:00:00Z"),
            ("2026年11月20日 10时30分", "2026-11-20T02:30:00Z"),
            ("2026-11-20", "2026-11-19T16:00:00Z"),
        ];
        for (input, want) in cases {
            assert_eq!(parse_timestamp(input, TZ), utc(want), "{input}");
        }
        assert_eq!(parse_timestamp("昨天", TZ), None);
        assert_eq!(parse_timestamp("2026-13-40", TZ), None);
    }

    #[test]
    fn list_page_dates_relative_to_now() {
        let now = utc("2026-11-27T10:30:00+08:00").expect("now");
        let cases = [
            ("2020-08-02", "2020-08-02T00:00:00+08:00"),
            ("[2020-08-02]", "2020-08-02T00:00:00+08:00"),
            ("2020年08月02日", "2020-08-02T00:00:00+08:00"),
            ("08-02", "2026-08-02T00:00:00+08:00"),
            ("11月26日", "2026-11-26T00:00:00+08:00"),
            ("12-25", "2025-12-25T00:00:00+08:00"),
            ("11-27 09:15", "2026-11-27T09:15:00+08:00"),
            ("今天 10:00", "2026-11-27T10:00:00+08:00"),
            ("昨天", "2026-11-26T00:00:00+08:00"),
            ("昨天 23:59", "2026-11-26T23:59:00+08:00"),
            ("前天", "2026-11-25T00:00:00+08:00"),
            ("3小时前", "2026-11-27T07:30:00+08:00"),
            ("15分钟前", "2026-11-27T10:15:00+08:00"),
            ("2天前", "2026-11-25T10:30:00+08:00"),
            ("刚刚", "2026-11-27T10:30:00+08:00"),
        ];
        for (input, want) in cases {
            assert_eq!(parse_list_date(input, TZ, now), utc(want), "{input}");
        }
        for bad in ["", "明天见", "13-45", "发布时间"] {
            assert_eq!(parse_list_date(bad, TZ, now), None, "{bad}");
        }
    }
}
