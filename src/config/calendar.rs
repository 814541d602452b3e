//! `[calendar]` in `yuqing.toml` (`file`, `working_hours`) and the calendar file it names
//! (`calendar.toml`): per year, the public holidays and make-up workdays (调休上班) of the
//! State Council's notice. Every problem names its line and column; a calendar that does not
//! cover the current year is a warning, so the admin remembers to add the new notice.

use std::collections::HashMap;
use std::ops::Range;

use chrono::{Datelike, NaiveDate, Weekday};
use chrono_tz::Tz;
use toml::de::{DeTable, DeValue};

use super::diag::Diagnostics;
use super::resolve;
use super::toml_doc::TomlFile;
use crate::time::calendar::{CalendarError, Period, WorkCalendar};

const CALENDAR_KEYS: &[&str] = &["file", "working_hours"];
const YEAR_KEYS: &[&str] = &["notice", "holidays", "workdays"];
/// No notice has a holiday longer than this; a longer range is a typo.
const MAX_RANGE_DAYS: i64 = 31;
const DAYS_HINT: &str = "日期写成 \"YYYY-MM-DD\"，连续几天写成 \"YYYY-MM-DD..YYYY-MM-DD\"（含首尾两天）";

/// The working calendar of `[calendar]`; without it, Monday–Friday in the default periods.
/// `today` (local) decides which year must be covered.
pub(super) fn load(
    dir: &std::path::Path,
    file: &TomlFile,
    root: &DeTable<'_>,
    tz: Tz,
    today: NaiveDate,
    diags: &mut Diagnostics,
) -> WorkCalendar {
    let fallback = || WorkCalendar::new(tz, Period::DEFAULT.to_vec()).unwrap_or_default();
    let Some((_, table)) = file.sub_table(root, "calendar", diags) else { return fallback() };
    let table = file.known_keys(table, CALENDAR_KEYS, "[calendar] 中", diags);
    let periods = match table.get("working_hours") {
        None => Period::DEFAULT.to_vec(),
        Some(value) => working_hours(file, value.get_ref(), value.span(), diags),
    };
    let mut calendar = match WorkCalendar::new(tz, periods) {
        Ok(c) => c,
        Err(_) => fallback(), // already reported
    };
    let Ok(Some(name)) = file.value::<String>(&table, "file", "字符串（日历文件路径）", diags) else {
        return calendar;
    };
    let path = resolve(dir, name.get_ref());
    if !path.is_file() {
        diags.error(
            &file.path,
            file.line(name.span()),
            format!("日历文件 {} 不存在", path.display()),
            "请创建该文件（可复制仓库自带的 calendar.toml），或删去 [calendar] 中的 file（则只按周一至周五计工作日）",
        );
        return calendar;
    }
    let Some(cal_file) = TomlFile::read(&path, "请检查日历文件的路径和权限", diags) else {
        return calendar;
    };
    let Some(doc) = cal_file.parse(diags) else { return calendar };
    for (year, holidays, workdays) in years(&cal_file, doc.get_ref(), diags) {
        // Conflicts were reported with their lines; the library check cannot fire here.
        if let Err(CalendarError::HolidayAndWorkday(d)) = calendar.add_year(year, &holidays, &workdays) {
            diags.error(&cal_file.path, 0, format!("{d} 既是放假日又是调休上班日"), "请对照通知改正其中一处");
        }
    }
    coverage(&calendar, &cal_file.path, today, diags);
    calendar
}

/// Warns when the calendar lacks the current year's holidays.
fn coverage(calendar: &WorkCalendar, path: &std::path::Path, today: NaiveDate, diags: &mut Diagnostics) {
    let year = today.year();
    if calendar.covers(year) {
        return;
    }
    let known = calendar.years().iter().map(|y| y.to_string()).collect::<Vec<_>>().join("、");
    let known =
        if known.is_empty() { "文件中还没有任何年份".to_string() } else { format!("只有 {known} 年") };
    diags.warning(
        path,
        0,
        format!("日历中没有 {year} 年的节假日安排（{known}）：今年的法定节假日将按工作日计，调休上班日按休息日计"),
        format!(
            "请按国务院办公厅关于{year}年部分节假日安排的通知，在该文件中添加 [{year}] 一节（holidays 放假日、workdays 调休上班日）"
        ),
    );
}

/// `working_hours = ["08:30-12:00", "14:00-17:30"]`: each period checked where it is written.
fn working_hours(file: &TomlFile, value: &DeValue<'_>, span: Range<usize>, diags: &mut Diagnostics) -> Vec<Period> {
    let DeValue::Array(items) = value else {
        diags.error(
            &file.path,
            file.line(span),
            "working_hours 应为字符串数组".into(),
            "例如 working_hours = [\"08:30-12:00\", \"14:00-17:30\"]",
        );
        return Period::DEFAULT.to_vec();
    };
    if items.is_empty() {
        diags.error(
            &file.path,
            file.line(span),
            "working_hours 不能为空".into(),
            "至少写一个工作时段，例如 working_hours = [\"08:30-12:00\", \"14:00-17:30\"]",
        );
        return Period::DEFAULT.to_vec();
    }
    let mut periods: Vec<(Period, Range<usize>)> = Vec::new();
    for item in items.iter() {
        let at = file.position(item.span());
        let Some(text) = item.get_ref().as_str() else {
            diags.error_at(&file.path, at, "工作时段应为字符串".into(), "例如 \"08:30-12:00\"");
            continue;
        };
        match Period::parse(text) {
            Ok(p) => periods.push((p, item.span())),
            Err(CalendarError::EmptyPeriod(_)) => diags.error_at(
                &file.path,
                at,
                format!("工作时段 \"{text}\" 为空或结束早于开始"),
                "结束时间应晚于开始时间，例如 \"14:00-17:30\"；跨午夜的时段请拆成两段",
            ),
            Err(_) => diags.error_at(
                &file.path,
                at,
                format!("工作时段 \"{text}\" 格式不对"),
                "写成 \"HH:MM-HH:MM\"（24 小时制），例如 \"08:30-12:00\"",
            ),
        }
    }
    periods.sort_by_key(|(p, _)| *p);
    for pair in periods.windows(2) {
        let ((a, _), (b, b_span)) = (&pair[0], &pair[1]);
        if b.start() < a.end() {
            diags.error_at(
                &file.path,
                file.position(b_span.clone()),
                format!("工作时段 {b} 与 {a} 重叠"),
                "各时段不能重叠，例如 [\"08:30-12:00\", \"14:00-17:30\"]",
            );
        }
    }
    let periods: Vec<Period> = periods.into_iter().map(|(p, _)| p).collect();
    if periods.is_empty() { Period::DEFAULT.to_vec() } else { periods }
}

type Year = (i32, Vec<NaiveDate>, Vec<NaiveDate>);

/// Each `[YYYY]` table: its holidays and make-up workdays, every bad entry reported and left out.
fn years(file: &TomlFile, root: &DeTable<'_>, diags: &mut Diagnostics) -> Vec<Year> {
    // Every date seen: holiday or workday, and where.
    let mut seen: HashMap<NaiveDate, (bool, usize)> = HashMap::new();
    let mut out = Vec::new();
    for (key, value) in root {
        let year = key.get_ref().parse::<i32>().ok().filter(|y| (2000..=2100).contains(y));
        let Some(year) = year else {
            diags.error(
                &file.path,
                file.line(key.span()),
                format!("\"{}\" 不是年份", key.get_ref()),
                "日历文件的每一节是一年，例如 [2026]，其中写 notice、holidays 和 workdays",
            );
            continue;
        };
        let DeValue::Table(table) = value.get_ref() else {
            diags.error(&file.path, file.line(key.span()), format!("{year} 应是表"), format!("写成 [{year}] 小节"));
            continue;
        };
        let table = file.known_keys(table, YEAR_KEYS, &format!("[{year}] 中"), diags);
        let _ = file.value::<String>(&table, "notice", "字符串（通知的名称和文号）", diags);
        let mut holidays = Vec::new();
        let mut workdays = Vec::new();
        for (name, is_holiday) in [("holidays", true), ("workdays", false)] {
            let Some(list) = table.get(name) else { continue };
            let DeValue::Array(items) = list.get_ref() else {
                diags.error(&file.path, file.line(list.span()), format!("[{year}] {name} 应为字符串数组"), DAYS_HINT);
                continue;
            };
            for item in items.iter() {
                let at = file.position(item.span());
                let Some((first, last)) = days(file, item.get_ref().as_str(), at, year, diags) else { continue };
                for d in first.iter_days().take_while(|d| *d <= last) {
                    if !is_holiday && !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
                        diags.error_at(
                            &file.path,
                            at,
                            format!("调休上班日 {d} 是{}，不是周末", weekday_zh(d.weekday())),
                            "workdays 只列调休上班的周六、周日（周一至周五本来就上班）；请对照通知核对日期",
                        );
                        continue;
                    }
                    match seen.get(&d) {
                        Some(&(was_holiday, line)) if was_holiday != is_holiday => {
                            diags.error_at(
                                &file.path,
                                at,
                                format!("{d} 既是放假日又是调休上班日（另见第 {line} 行）"),
                                "请对照通知改正其中一处",
                            );
                            continue;
                        }
                        Some(_) => {}
                        None => {
                            seen.insert(d, (is_holiday, at.0));
                        }
                    }
                    if is_holiday { holidays.push(d) } else { workdays.push(d) }
                }
            }
        }
        out.push((year, holidays, workdays));
    }
    out
}

/// One entry: a date or a range of dates, near its year.
fn days(
    file: &TomlFile,
    text: Option<&str>,
    at: (usize, usize),
    year: i32,
    diags: &mut Diagnostics,
) -> Option<(NaiveDate, NaiveDate)> {
    let Some(text) = text else {
        diags.error_at(&file.path, at, "日期应写成字符串".into(), DAYS_HINT);
        return None;
    };
    let (a, b) = text.split_once("..").unwrap_or((text, text));
    let parse = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
    let (Some(first), Some(last)) = (parse(a), parse(b)) else {
        diags.error_at(&file.path, at, format!("\"{text}\" 不是有效的日期"), DAYS_HINT);
        return None;
    };
    if last < first {
        diags.error_at(&file.path, at, format!("日期范围 \"{text}\" 结束早于开始"), DAYS_HINT);
        return None;
    }
    let length = (last - first).num_days() + 1;
    if length > MAX_RANGE_DAYS {
        diags.error_at(
            &file.path,
            at,
            format!("日期范围 \"{text}\" 长达 {length} 天"),
            format!("一个假期不超过 {MAX_RANGE_DAYS} 天；请核对首尾日期"),
        );
        return None;
    }
    // A notice may reach into the neighbouring years (元旦 from 30 December); no further.
    for d in [first, last] {
        if (d.year() - year).abs() > 1 {
            diags.error_at(
                &file.path,
                at,
                format!("{d} 不在 [{year}] 这一年前后"),
                format!("请核对年份，或把它写到 [{}] 一节", d.year()),
            );
            return None;
        }
    }
    Some((first, last))
}

fn weekday_zh(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "星期一",
        Weekday::Tue => "星期二",
        Weekday::Wed => "星期三",
        Weekday::Thu => "星期四",
        Weekday::Fri => "星期五",
        Weekday::Sat => "星期六",
        Weekday::Sun => "星期日",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_year_is_a_warning_naming_it() {
        let mut calendar = WorkCalendar::default();
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        let path = std::path::Path::new("calendar.toml");
        let mut diags = Diagnostics::default();
        coverage(&calendar, path, day, &mut diags);
        assert_eq!(diags.warnings().count(), 1);
        assert!(diags.items[0].message.contains("没有 2026 年") && diags.items[0].message.contains("没有任何年份"));
        assert!(!diags.has_errors());

        assert_eq!(calendar.add_year(2026, &[day], &[]), Ok(()));
        let mut diags = Diagnostics::default();
        coverage(&calendar, path, day, &mut diags);
        assert!(diags.items.is_empty(), "{:?}", diags.items);
        let next = NaiveDate::from_ymd_opt(2027, 3, 1).unwrap_or_default();
        coverage(&calendar, path, next, &mut diags);
        let message = &diags.items[0].message;
        assert!(message.contains("没有 2027 年") && message.contains("（只有 2026 年）"), "{message}");
        assert!(diags.items[0].hint.contains("关于2027年部分节假日安排的通知"));
    }
}
