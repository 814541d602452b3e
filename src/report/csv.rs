//! The report as CSV: one row per event created in the period, UTF-8 with a byte-order
//! mark (Excel on Chinese Windows reads BOM-less CSV as GBK), Chinese headers, times in the
//! configured timezone.
//!
//! Columns: 编号, 标题, 分级, 类别 (`、`-separated), 牵头科室, 科室代码, 转办 (是/否),
//! 创建时间, 受理时间, 受理用时（分钟）, 首次反馈时间, 首次反馈用时（分钟）, then one
//! column per deadline kind in use (`<kind>时限`: 按时 / 超时 / 计时中, empty when the
//! event's grade has no such clock), 办结时间, 信息数, 来源数, 研判标记. Empty cells for
//! things that did not happen. A title starting with `=`, `+`, `-` or `@` gets a leading
//! `'` so that a spreadsheet shows it instead of evaluating it.

use super::{Report, ReportError, category_label, grade_label, local, section_label, status_label};
use crate::config::Config;

/// The UTF-8 byte-order mark the file starts with.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Renders the report's events.
pub fn render(report: &Report, config: &Config) -> Result<Vec<u8>, ReportError> {
    let tz = report.period.timezone;
    let mut writer = ::csv::Writer::from_writer(BOM.to_vec());
    let mut header: Vec<String> = [
        "编号",
        "标题",
        "分级",
        "类别",
        "牵头科室",
        "科室代码",
        "转办",
        "创建时间",
        "受理时间",
        "受理用时（分钟）",
        "首次反馈时间",
        "首次反馈用时（分钟）",
    ]
    .map(String::from)
    .to_vec();
    header.extend(report.deadline_kinds.iter().map(|k| format!("{}时限", k.label_zh())));
    header.extend(["办结时间", "信息数", "来源数", "研判标记"].map(String::from));
    writer.write_record(&header)?;
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| local(t, tz)).unwrap_or_default();
    let minutes = |d: Option<chrono::Duration>| d.map(|d| d.num_minutes().to_string()).unwrap_or_default();
    for e in &report.events {
        let flow = &e.flow;
        let categories: Vec<&str> = e.categories.iter().map(|c| category_label(Some(*c))).collect();
        let flags: Vec<&str> = e.flags.iter().map(|f| f.label_zh()).collect();
        let mut row = vec![
            e.id.to_string(),
            defuse(&e.title),
            grade_label(e.grade).to_string(),
            categories.join("、"),
            section_label(config, flow.section.as_deref()),
            flow.section.clone().unwrap_or_default(),
            if flow.transferred { "是" } else { "否" }.to_string(),
            local(flow.created_at, tz),
            time(flow.accepted_at),
            minutes(flow.time_to_accept()),
            time(flow.first_feedback_at()),
            minutes(flow.time_to_feedback()),
        ];
        for kind in &report.deadline_kinds {
            let outcome = e.deadlines.iter().find(|d| d.kind == *kind);
            row.push(outcome.map(|d| status_label(&d.status).to_string()).unwrap_or_default());
        }
        row.extend([time(flow.closed_at), e.documents.to_string(), e.sources.to_string(), flags.join("、")]);
        writer.write_record(&row)?;
    }
    writer.into_inner().map_err(|e| ReportError::Csv(e.into_error().into()))
}

/// Text from the internet that a spreadsheet would take for a formula, made inert.
fn defuse(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_defused() {
        assert_eq!(super::defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(super::defuse("抚恤金 = 多少"), "抚恤金 = 多少");
    }
}
