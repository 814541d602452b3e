//! The report as plain Chinese text, for a terminal or the body of an email: numbered
//! parts (总体情况, 分级, 类别, 科室, 未办结事件, 超时记录, 来源, 研判标记), tables aligned
//! by display width (a Chinese character takes two columns).

use std::fmt::Write;

use super::{DeadlineStatus, EventReport, Report, category_label, grade_label, local, rate_zh, span_zh};
use crate::config::Config;

/// Renders the report; `config` names the sections and sources.
pub fn render(report: &Report, config: &Config) -> String {
    let tz = report.period.timezone;
    let mut out = String::new();
    let t = &report.totals;
    let _ = writeln!(out, "政务舆情定期通报");
    let _ = writeln!(out, "统计期间：{} 至 {}（{}）", report.period.from, report.period.to, tz.name());
    let _ = writeln!(out, "办理情况截至：{}；生成时间：{}", local(report.as_of, tz), local(report.generated_at, tz));
    let _ = writeln!(out);
    let _ = writeln!(out, "一、总体情况");
    if t.events == 0 {
        let _ = writeln!(out, "  本期间没有新增舆情事件。");
        return out;
    }
    let _ = writeln!(
        out,
        "  新增舆情事件 {} 件：已受理 {} 件，转办 {} 件，已办结 {} 件，未办结 {} 件。",
        t.events, t.accepted, t.transferred, t.closed, t.open
    );
    let d = t.deadlines;
    let _ = writeln!(
        out,
        "  办理时限 {} 个：按时 {} 个，超时 {} 个，计时中 {} 个；按时率 {}。",
        d.met + d.missed + d.running,
        d.met,
        d.missed,
        d.running,
        rate_zh(d.on_time_rate())
    );

    let _ = writeln!(out, "\n二、按分级");
    let rows: Vec<Vec<String>> =
        report.by_grade.iter().map(|(g, n)| vec![grade_label(*g).to_string(), format!("{n} 件")]).collect();
    out.push_str(&table(&[], &rows));

    let _ = writeln!(out, "\n三、按类别（一件事件可属多个类别）");
    let rows: Vec<Vec<String>> =
        report.by_category.iter().map(|(c, n)| vec![category_label(*c).to_string(), format!("{n} 件")]).collect();
    out.push_str(&table(&[], &rows));

    let _ = writeln!(out, "\n四、各科室办理情况（按当前牵头科室）");
    let (header, rows) = super::section_table(report);
    out.push_str(&table(&header, &rows));
    let _ = writeln!(out, "  注：受理用时自科室接收（事件创建或转办）起算；首次反馈用时自事件创建起算。");

    let open: Vec<&EventReport> = report.open_events().collect();
    let _ = writeln!(out, "\n五、未办结事件（{} 件）", open.len());
    if open.is_empty() {
        let _ = writeln!(out, "  无。");
    }
    for e in open {
        let _ = writeln!(out, "  #{} [{}] {}", e.id, grade_label(e.grade), one_line(&e.title));
        let accepted = e.flow.accepted_at.map_or_else(|| "未受理".to_string(), |at| local(at, tz));
        let _ = writeln!(
            out,
            "      牵头：{}；创建：{}；受理：{accepted}",
            super::section_label(config, e.flow.section.as_deref()),
            local(e.flow.created_at, tz)
        );
        if let Some(line) = super::assessment_line(e, report.as_of, tz, |p| config.response.org.person_label(p)) {
            let _ = writeln!(out, "      {line}");
        }
        for d in &e.deadlines {
            let what = format!("{}（时限 {}，应于 {} 前）", d.kind.label_zh(), span_zh(d.span), local(d.due, tz));
            let line = match d.status {
                DeadlineStatus::Met { at } => format!("按时：{what}，{} 完成", local(at, tz)),
                DeadlineStatus::Missed { late_at: Some(at) } => format!("超时：{what}，{} 补办", local(at, tz)),
                DeadlineStatus::Missed { late_at: None } => format!("超时：{what}，尚未办理"),
                DeadlineStatus::Running => format!("计时中：{what}"),
            };
            let _ = writeln!(out, "      {line}");
        }
    }

    let missed: Vec<&EventReport> = report.events.iter().filter(|e| e.missed().next().is_some()).collect();
    let _ = writeln!(out, "\n六、超时记录（{} 件事件）", missed.len());
    if missed.is_empty() {
        let _ = writeln!(out, "  无。");
    }
    for e in missed {
        let kinds: Vec<&str> = e.missed().map(|d| d.kind.label_zh()).collect();
        let _ = writeln!(
            out,
            "  #{} {}：{}（{}）",
            e.id,
            one_line(&e.title),
            kinds.join("、"),
            super::section_label(config, e.flow.section.as_deref())
        );
    }

    let _ = writeln!(out, "\n七、主要来源");
    let rows: Vec<Vec<String>> =
        report.sources.iter().map(|s| vec![format!("{}（{}）", s.name, s.id), format!("{} 件", s.events)]).collect();
    out.push_str(&table(&[], &rows));

    let _ = writeln!(out, "\n八、研判标记（含该标记的事件数）");
    let flags: Vec<String> = report.flags.iter().map(|(k, n)| format!("{} {n} 件", k.label_zh())).collect();
    let _ = writeln!(out, "  {}", flags.join("；"));

    let commented: Vec<&EventReport> = report.events.iter().filter(|e| !e.viewpoints.groups.is_empty()).collect();
    let _ = writeln!(out, "\n九、网民观点（有评论的事件 {} 件）", commented.len());
    if commented.is_empty() {
        let _ = writeln!(out, "  无。");
    }
    for e in commented {
        let _ = writeln!(out, "  #{} {}", e.id, one_line(&e.title));
        for line in e.viewpoints.lines_zh(super::VIEWPOINT_CHARS) {
            let _ = writeln!(out, "      {}", one_line(&line));
        }
    }
    out
}

/// A title on one line (titles come from the internet and may hold line breaks).
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Columns a terminal gives a character: two for East Asian wide characters.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60 => 2,
            0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

/// Rows under an optional header, indented two spaces, columns padded to equal width.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut all: Vec<Vec<String>> = Vec::new();
    if !header.is_empty() {
        all.push(header.iter().map(|h| h.to_string()).collect());
    }
    all.extend(rows.iter().cloned());
    let columns = all.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..columns).map(|c| all.iter().filter_map(|r| r.get(c)).map(|s| width(s)).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in &all {
        let mut line = String::from("  ");
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < row.len() {
                line.push_str(&" ".repeat(widths[c] - width(cell) + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_chinese_by_display_width() {
        assert_eq!(width("科室"), 4);
        assert_eq!(width("a科"), 3);
        let t = table(&["科室", "n"], &[vec!["办公室".into(), "1".into()], vec!["ab".into(), "22".into()]]);
        assert_eq!(t, "  科室    n\n  办公室  1\n  ab      22\n");
    }
}
