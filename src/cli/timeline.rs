//! `yuqing event show ID`: an event's timeline for staff — its grade and owner, every copy
//! on the propagation path, engagement over time, every alert and reminder with its fate,
//! every workflow action, the hourly trend of the last 24 hours, what netizens say
//! (网民观点: viewpoints of the comments, comment volume per hour), and where its deadline
//! clocks stand.

use std::process::ExitCode;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::report::timeline::{TREND_HOURS, trend_lines, view};
use crate::store::Timeline;

use super::local;

/// A representative comment is cut after this many characters.
pub const REPRESENTATIVE_CHARS: usize = 60;

pub(super) fn show(config: &Config, id: i64) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config)?;
    let Some(timeline) = store.event_timeline(id)? else {
        eprintln!("没有编号为 #{id} 的事件（用 yuqing event list 查看最近的事件）");
        return Ok(ExitCode::from(1));
    };
    print!("{}", render(config, &timeline, Utc::now()));
    Ok(ExitCode::SUCCESS)
}

/// The timeline as text, with deadline clocks evaluated at `now`.
pub fn render(config: &Config, t: &Timeline, now: DateTime<Utc>) -> String {
    let tz = config.timezone;
    let v = view(config, t, now);
    let mut out = format!("{}\n", v.heading);
    for (label, text) in &v.facts {
        out.push_str(&format!("  {label}：{text}\n"));
    }
    let trend = trend_lines(&v.trend, tz);
    if !trend.is_empty() {
        out.push_str(&format!("\n传播趋势（近 {TREND_HOURS} 小时）：\n"));
        for line in trend {
            out.push_str(&format!("  {line}\n"));
        }
    }
    let views = v.viewpoints.lines_zh(REPRESENTATIVE_CHARS);
    if !views.is_empty() {
        out.push_str("\n网民观点：\n");
        for line in views {
            out.push_str(&format!("  {line}\n"));
        }
        let volume = v.viewpoints.trend_lines_zh(tz);
        if !volume.is_empty() {
            out.push_str("\n评论量趋势：\n");
            for line in volume {
                out.push_str(&format!("  {line}\n"));
            }
        }
    }
    out.push_str("\n时间线：\n");
    for e in &v.entries {
        let link = e.link.as_deref().map(|l| format!("\n{:23}{l}", "")).unwrap_or_default();
        out.push_str(&format!("  {}  {}  {}{link}\n", local(e.at, tz), e.kind, e.text));
    }
    if t.event.grade.is_some() {
        out.push_str("\n办理时限：\n");
        for c in &v.clocks {
            out.push_str(&format!("  {}（{}）  截止 {}  {}\n", c.kind, c.span, local(c.due, tz), c.outcome_zh(tz)));
        }
    }
    out
}
