//! `yuqing policy report`: a policy's risk assessment ([`PolicyAssessment`]) as text, as one
//! self-contained HTML page (the daily volume as an inline SVG chart with the publication day
//! marked and the baseline drawn, no script, everything escaped) or as CSV (a summary, then
//! one row per day; UTF-8 with BOM, cells that look like formulas defused). Every form holds
//! the window, the baseline, the days, the current level with its reasons, the recorded
//! levels, the most engaged documents and the 处置预案 section the office writes.

use std::fmt::Write;

use chrono::NaiveDate;

use super::html::{BASE_STYLE, esc, figure_open, table as html_table};
use super::policy::{PolicyAssessment, PolicyDay, WatchStatus};
use super::text::{one_line, table as text_table};
use super::{ReportError, local};
use crate::config::Config;
use crate::model::FlagKind;
use crate::response::policy::RiskLevel;

/// What the 处置预案 section says when the config has no plan.
pub const NO_PLAN: &str = "（待填写）";

fn day_zh(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn percent(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// 基线 / 发布前 / 发布日 / 发布后.
fn phase(a: &PolicyAssessment, d: &PolicyDay) -> &'static str {
    match d.day {
        _ if d.baseline => "基线",
        day if day < a.policy.publish => "发布前",
        day if day == a.policy.publish => "发布日",
        _ => "发布后",
    }
}

fn level_cell(d: &PolicyDay) -> String {
    if d.baseline { "—".into() } else { d.assessment.level.label_zh().into() }
}

fn header_lines(a: &PolicyAssessment, config: &Config) -> Vec<String> {
    let p = &a.policy;
    let mut lines = vec![
        format!("负责科室：{}", config.response.org.section_label(&p.section)),
        format!(
            "监测期：{} 至 {}（发布日 {}，发布前 {} 天、发布后 {} 天）；状态：{}",
            day_zh(p.first_day()),
            day_zh(p.last_day()),
            day_zh(p.publish),
            p.before_days,
            p.after_days,
            a.status.label_zh()
        ),
        format!("话题词：{}", p.terms.join("、")),
    ];
    if !p.groups.is_empty() {
        lines.push(format!("涉及群体：{}", p.groups.join("、")));
    }
    lines.push(format!("窗口内信息：{} 篇；生成时间：{}", a.documents, local(a.generated_at, a.timezone)));
    lines
}

fn baseline_line(a: &PolicyAssessment) -> String {
    let p = &a.policy;
    if a.baseline.days == 0 {
        return format!("基线期 {} 至 {} 尚未开始。", day_zh(p.first_day()), day_zh(p.baseline_end()));
    }
    format!(
        "基线期 {} 至 {}（已过 {} 天）：日均声量 {:.1} 篇，负面占比 {}（负面分值 ≥ {}）。",
        day_zh(p.first_day()),
        day_zh(p.baseline_end()),
        a.baseline.days,
        a.baseline.documents_per_day,
        percent(a.baseline.negative_share),
        a.rules.negative_score
    )
}

fn level_line(a: &PolicyAssessment) -> String {
    let day = a.current_day().map(|d| format!("（依据 {} 的数据）", day_zh(d))).unwrap_or_default();
    match a.status {
        WatchStatus::NotStarted | WatchStatus::Baseline => {
            format!("当前风险等级：{}（基线期内不定级）", RiskLevel::Low.label_zh())
        }
        _ => format!("当前风险等级：{}{day}", a.current.level.label_zh()),
    }
}

fn reasons(a: &PolicyAssessment) -> Vec<String> {
    match a.current.reasons.is_empty() {
        true => vec!["各项指标均未达到中风险阈值".into()],
        false => a.current.reasons.clone(),
    }
}

const DAY_HEADER: [&str; 7] = ["日期", "阶段", "声量", "负面占比", "研判标记", "热词", "风险等级"];

fn day_row(a: &PolicyAssessment, d: &PolicyDay) -> Vec<String> {
    let flags = d.flags_text();
    vec![
        day_zh(d.day),
        phase(a, d).into(),
        d.figures.documents.to_string(),
        percent(d.negative_share()),
        if flags.is_empty() { "—".into() } else { flags },
        d.terms_text(),
        level_cell(d),
    ]
}

fn level_rows(a: &PolicyAssessment) -> Vec<Vec<String>> {
    a.levels
        .iter()
        .map(|l| {
            vec![
                local(l.at, a.timezone),
                RiskLevel::parse(&l.level).map_or_else(|| l.level.clone(), |x| x.label_zh().to_string()),
                l.day.clone(),
                if l.alert_id.is_some() { "已通知科室".into() } else { "未通知".into() },
                l.reasons.join("；"),
            ]
        })
        .collect()
}

fn document_rows(a: &PolicyAssessment) -> Vec<Vec<String>> {
    a.top_documents
        .iter()
        .enumerate()
        .map(|(i, d)| {
            vec![
                (i + 1).to_string(),
                one_line(&d.title),
                d.source_id.clone(),
                local(d.at, a.timezone),
                d.interactions.to_string(),
                d.negativity.map_or_else(|| "—".into(), |n| format!("{n:.1}")),
                d.flags.iter().map(|k| k.label_zh()).collect::<Vec<_>>().join("、"),
                d.link.clone().unwrap_or_default(),
            ]
        })
        .collect()
}

const DOC_HEADER: [&str; 8] = ["序号", "标题", "来源", "时间", "互动量", "负面分值", "研判标记", "链接"];
const LEVEL_HEADER: [&str; 5] = ["记录时间", "等级", "依据日", "通知", "理由"];

fn plan(a: &PolicyAssessment) -> &str {
    a.policy.plan.as_deref().unwrap_or(NO_PLAN)
}

/// The assessment as plain text.
pub fn text(a: &PolicyAssessment, config: &Config) -> String {
    let mut out = format!("政策舆情风险评估：{}（{}）\n", a.policy.name, a.policy.id);
    for line in header_lines(a, config) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "\n一、基线\n  {}", baseline_line(a));
    let _ = writeln!(out, "\n二、风险等级\n  {}", level_line(a));
    for r in reasons(a) {
        let _ = writeln!(out, "  - {r}");
    }
    out.push_str("\n三、逐日情况\n");
    let rows: Vec<Vec<String>> = a.days.iter().map(|d| day_row(a, d)).collect();
    match rows.is_empty() {
        true => out.push_str("  （监测期尚未开始）\n"),
        false => out.push_str(&text_table(&DAY_HEADER, &rows)),
    }
    out.push_str("\n四、等级变化记录\n");
    match a.levels.is_empty() {
        true => out.push_str("  （暂无）\n"),
        false => out.push_str(&text_table(&LEVEL_HEADER, &level_rows(a))),
    }
    out.push_str("\n五、互动量最高的信息\n");
    match a.top_documents.is_empty() {
        true => out.push_str("  （暂无）\n"),
        false => out.push_str(&text_table(&DOC_HEADER, &document_rows(a))),
    }
    let _ = writeln!(out, "\n六、处置预案\n  {}", plan(a).trim().replace('\n', "\n  "));
    out
}

/// The daily volume as a column chart: negative documents darker at the foot of each
/// column, a dashed line at the baseline's daily mean and a red marker at publication.
fn trend_chart(a: &PolicyAssessment) -> String {
    const WIDTH: f64 = 900.0;
    const HEIGHT: f64 = 260.0;
    const LEFT: f64 = 40.0;
    const BOTTOM: f64 = 30.0;
    const TOP: f64 = 20.0;
    let caption = "每日声量（深色为负面信息；虚线为基线日均；红线为发布日）";
    let n = a.days.len().max(1) as f64;
    let max =
        a.days.iter().map(|d| f64::from(d.figures.documents)).fold(a.baseline.documents_per_day, f64::max).max(1.0);
    let plot_h = HEIGHT - TOP - BOTTOM;
    let step = (WIDTH - LEFT - 10.0) / n;
    let y = |v: f64| TOP + plot_h - v / max * plot_h;
    let mut out = figure_open(caption, WIDTH, HEIGHT);
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{b}\" stroke=\"#888\"/><line x1=\"{LEFT}\" y1=\"{b}\" x2=\"{w}\" y2=\"{b}\" stroke=\"#888\"/>",
        b = TOP + plot_h,
        w = WIDTH - 10.0
    );
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\">{max:.0}</text>",
        LEFT - 4.0,
        TOP + 4.0
    );
    for (i, d) in a.days.iter().enumerate() {
        let x = LEFT + step * i as f64 + step * 0.15;
        let w = (step * 0.7).max(1.0);
        let total = f64::from(d.figures.documents);
        let negative = f64::from(d.figures.negative);
        let colour = match d.assessment.level {
            _ if d.baseline => "#9e9e9e",
            RiskLevel::High => "#c0392b",
            RiskLevel::Medium => "#e67e22",
            RiskLevel::Low => "#2e86de",
        };
        let _ = writeln!(
            out,
            "<rect class=\"day\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{colour}\" fill-opacity=\"0.55\"><title>{} 声量 {} 篇</title></rect>",
            y(total),
            TOP + plot_h - y(total),
            day_zh(d.day),
            d.figures.documents
        );
        if negative > 0.0 {
            let _ = writeln!(
                out,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{colour}\"/>",
                y(negative),
                TOP + plot_h - y(negative)
            );
        }
        if i == 0 || i + 1 == a.days.len() || d.day == a.policy.publish || i % 7 == 0 {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\">{}</text>",
                x + w / 2.0,
                HEIGHT - 10.0,
                d.day.format("%m-%d")
            );
        }
    }
    if a.baseline.days > 0 {
        let by = y(a.baseline.documents_per_day);
        let _ = writeln!(
            out,
            "<line class=\"baseline\" x1=\"{LEFT}\" y1=\"{by:.1}\" x2=\"{}\" y2=\"{by:.1}\" stroke=\"#555\" stroke-dasharray=\"5,4\"/>",
            WIDTH - 10.0
        );
    }
    if let Some(i) = a.days.iter().position(|d| d.day == a.policy.publish) {
        let px = LEFT + step * i as f64 + step / 2.0;
        let _ = writeln!(
            out,
            "<line class=\"publish\" x1=\"{px:.1}\" y1=\"{TOP}\" x2=\"{px:.1}\" y2=\"{}\" stroke=\"#b00020\" stroke-width=\"2\"/>\n<text x=\"{px:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#b00020\">发布日</text>",
            TOP + plot_h,
            TOP - 6.0
        );
    }
    out.push_str("</svg>\n</figure>\n");
    out
}

const STYLE: &str = "
.level { font-size: 20px; font-weight: bold; }
.plan { white-space: pre-wrap; border: 1px dashed #999; padding: 8px; min-height: 80px; }
";

/// The assessment as a complete HTML document.
pub fn html(a: &PolicyAssessment, config: &Config) -> String {
    let title = format!("政策舆情风险评估：{}", a.policy.name);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>{BASE_STYLE}{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = esc(&title)
    );
    for line in header_lines(a, config) {
        let _ = writeln!(out, "<p>{}</p>", esc(&line));
    }
    let _ = writeln!(out, "<h2>一、基线</h2>\n<p>{}</p>", esc(&baseline_line(a)));
    let colour = match a.current.level {
        RiskLevel::High => "#c0392b",
        RiskLevel::Medium => "#e67e22",
        RiskLevel::Low => "#2e7d32",
    };
    let _ = writeln!(
        out,
        "<h2>二、风险等级</h2>\n<p class=\"level\" style=\"color:{colour}\">{}</p>\n<ul>",
        esc(&level_line(a))
    );
    for r in reasons(a) {
        let _ = writeln!(out, "<li>{}</li>", esc(&r));
    }
    out.push_str("</ul>\n<h2>三、逐日情况</h2>\n");
    if a.days.is_empty() {
        out.push_str("<p>（监测期尚未开始）</p>\n");
    } else {
        out.push_str(&trend_chart(a));
        let rows: Vec<Vec<String>> = a.days.iter().map(|d| day_row(a, d)).collect();
        out.push_str(&html_table(&DAY_HEADER, &rows));
    }
    out.push_str("<h2>四、等级变化记录</h2>\n");
    match a.levels.is_empty() {
        true => out.push_str("<p>（暂无）</p>\n"),
        false => out.push_str(&html_table(&LEVEL_HEADER, &level_rows(a))),
    }
    out.push_str("<h2>五、互动量最高的信息</h2>\n");
    match a.top_documents.is_empty() {
        true => out.push_str("<p>（暂无）</p>\n"),
        false => out.push_str(&html_table(&DOC_HEADER, &document_rows(a))),
    }
    let _ = writeln!(out, "<h2>六、处置预案</h2>\n<div class=\"plan\">{}</div>", esc(plan(a).trim()));
    out.push_str("<footer>由 yuqing 政务舆情监测系统生成。</footer>\n</body>\n</html>\n");
    out
}

/// Text from the internet that a spreadsheet would take for a formula, made inert.
fn defuse(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() }
}

/// The assessment as CSV: summary rows (项目, 内容), a blank row, then one row per day.
pub fn csv(a: &PolicyAssessment, config: &Config) -> Result<Vec<u8>, ReportError> {
    let mut w = ::csv::WriterBuilder::new().flexible(true).from_writer(super::csv::BOM.to_vec());
    let p = &a.policy;
    w.write_record(["项目", "内容"])?;
    let summary = [
        ("政策", format!("{}（{}）", p.name, p.id)),
        ("负责科室", config.response.org.section_label(&p.section)),
        ("监测期", format!("{} 至 {}", day_zh(p.first_day()), day_zh(p.last_day()))),
        ("发布日", day_zh(p.publish)),
        ("状态", a.status.label_zh().into()),
        ("话题词", p.terms.join("、")),
        ("涉及群体", p.groups.join("、")),
        ("基线", baseline_line(a)),
        ("基线日均声量", format!("{:.1}", a.baseline.documents_per_day)),
        ("基线负面占比", percent(a.baseline.negative_share)),
        ("当前风险等级", a.current.level.label_zh().into()),
        ("理由", reasons(a).join("；")),
        ("处置预案", plan(a).trim().to_string()),
    ];
    for (k, v) in summary {
        w.write_record([k.to_string(), defuse(&v)])?;
    }
    w.write_record([""])?;
    let mut header: Vec<String> = ["日期", "阶段", "声量", "负面篇数", "负面占比"].map(String::from).to_vec();
    header.extend(FlagKind::ALL.iter().map(|k| k.label_zh().to_string()));
    header.extend(["带标记篇数", "互动量", "热词", "风险等级", "理由"].map(String::from));
    w.write_record(&header)?;
    for d in &a.days {
        let f = &d.figures;
        let mut row = vec![
            day_zh(d.day),
            phase(a, d).into(),
            f.documents.to_string(),
            f.negative.to_string(),
            percent(d.negative_share()),
        ];
        row.extend(f.flags.iter().map(u32::to_string));
        row.extend([
            f.flagged.to_string(),
            f.interactions.to_string(),
            defuse(&d.terms_text()),
            level_cell(d),
            d.assessment.reasons.join("；"),
        ]);
        w.write_record(&row)?;
    }
    w.into_inner().map_err(|e| ReportError::Csv(e.into_error().into()))
}
