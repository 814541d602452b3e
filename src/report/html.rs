//! The report as one self-contained HTML page for the yearly assessment (Art. 15): summary
//! tables and horizontal bar charts (by grade, category, section, and each section's on-time
//! rate) drawn as inline SVG here; inline CSS laid out for A4 printing; no script, no
//! external resource. Every piece of text is escaped: titles come from the internet.

use std::fmt::Write;

use super::{DeadlineStatus, Report, category_label, grade_label, local, rate_zh, section_label, span_zh};
use crate::config::Config;
use crate::response::Grade;

/// The page style every printable report shares (A4, CJK fonts, tables, figures).
pub(super) const BASE_STYLE: &str = "
@page { size: A4; margin: 15mm; }
body { font-family: 'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', SimSun, sans-serif;
       color: #222; max-width: 960px; margin: 0 auto; padding: 16px; font-size: 14px; line-height: 1.5; }
h1 { font-size: 24px; text-align: center; margin-bottom: 4px; }
h2 { font-size: 18px; border-bottom: 2px solid #8b0000; padding-bottom: 2px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.n { text-align: right; }
tr { page-break-inside: avoid; }
figure { margin: 8px 0; page-break-inside: avoid; }
figcaption { font-weight: bold; margin-bottom: 2px; }
svg { max-width: 100%; height: auto; }
footer { margin-top: 32px; color: #777; font-size: 12px; }
@media print { body { padding: 0; } h2 { page-break-after: avoid; } }
";

const STYLE: &str = "
p.meta { text-align: center; color: #555; margin-top: 0; }
.missed { color: #b00020; font-weight: bold; }
.met { color: #2e7d32; }
.running { color: #8a6d00; }
";

/// Renders the report as a complete HTML document.
pub fn render(report: &Report, config: &Config) -> String {
    let tz = report.period.timezone;
    let (from, to) = (report.period.from, report.period.to);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"generator\" content=\"yuqing report\">\n\
         <title>政务舆情定期通报（{from} 至 {to}）</title>\n<style>{BASE_STYLE}{STYLE}</style>\n</head>\n<body>\n\
         <h1>政务舆情定期通报</h1>\n<p class=\"meta\">统计期间：{from} 至 {to}（{}）<br>办理情况截至：{}；生成时间：{}</p>\n",
        esc(tz.name()),
        local(report.as_of, tz),
        local(report.generated_at, tz)
    );
    let t = &report.totals;
    out.push_str("<h2>一、总体情况</h2>\n");
    if t.events == 0 {
        out.push_str("<p>本期间没有新增舆情事件。</p>\n");
        return finish(out);
    }
    let d = t.deadlines;
    out.push_str(&table(
        &["新增事件", "已受理", "转办", "已办结", "未办结", "办理时限", "按时", "超时", "计时中", "按时率"],
        &[vec![
            t.events.to_string(),
            t.accepted.to_string(),
            t.transferred.to_string(),
            t.closed.to_string(),
            t.open.to_string(),
            (d.met + d.missed + d.running).to_string(),
            d.met.to_string(),
            d.missed.to_string(),
            d.running.to_string(),
            rate_zh(d.on_time_rate()),
        ]],
    ));

    out.push_str("<h2>二、按分级</h2>\n");
    let bars: Vec<Bar> =
        report.by_grade.iter().map(|(g, n)| Bar::count(grade_label(*g), *n, grade_colour(*g))).collect();
    out.push_str(&bar_chart("新增事件数（按分级）", &bars, None));

    out.push_str("<h2>三、按类别</h2>\n<p>一件事件可属多个类别。</p>\n");
    let bars: Vec<Bar> =
        report.by_category.iter().map(|(c, n)| Bar::count(category_label(*c), *n, "#5b7db1")).collect();
    out.push_str(&bar_chart("新增事件数（按类别）", &bars, None));

    out.push_str("<h2>四、各科室办理情况</h2>\n<p>按当前牵头科室统计（转办后计入接收科室）。受理用时自科室接收（事件创建或转办）起算；首次反馈用时自事件创建起算。</p>\n");
    let (header, rows) = super::section_table(report);
    out.push_str(&table(&header, &rows));
    let bars: Vec<Bar> = report.sections.iter().map(|s| Bar::count(&s.label, s.owned, "#5b7db1")).collect();
    out.push_str(&bar_chart("牵头事件数（按科室）", &bars, None));
    let bars: Vec<Bar> = report
        .sections
        .iter()
        .map(|s| {
            let c = s.deadlines;
            match c.on_time_rate() {
                Some(rate) => Bar {
                    label: s.label.clone(),
                    value: rate * 100.0,
                    text: format!("{}（{}/{}）", rate_zh(Some(rate)), c.met, c.met + c.missed),
                    colour: if rate >= 0.9 {
                        "#2e7d32"
                    } else if rate >= 0.6 {
                        "#e67e22"
                    } else {
                        "#c0392b"
                    },
                },
                None => Bar { label: s.label.clone(), value: 0.0, text: "无到期时限".into(), colour: "#999" },
            }
        })
        .collect();
    out.push_str(&bar_chart("办理时限按时率（按科室；按时 ÷ 已到期）", &bars, Some(100.0)));

    let open: Vec<Vec<String>> = report
        .open_events()
        .map(|e| {
            let deadlines: Vec<String> = e
                .deadlines
                .iter()
                .map(|d| {
                    let (class, word) = match d.status {
                        DeadlineStatus::Met { .. } => ("met", "按时"),
                        DeadlineStatus::Missed { .. } => ("missed", "超时"),
                        DeadlineStatus::Running => ("running", "计时中"),
                    };
                    format!(
                        "<span class=\"{class}\">{word}</span>：{}（{}，应于 {} 前）",
                        esc(d.kind.label_zh()),
                        esc(&span_zh(d.span)),
                        esc(&local(d.due, tz))
                    )
                })
                .collect();
            let mut deadlines = deadlines;
            if let Some(line) = super::assessment_line(e, report.as_of, tz, |p| config.response.org.person_label(p)) {
                let class = if line.contains("超时") { "missed" } else { "running" };
                deadlines.push(format!("<span class=\"{class}\">{}</span>", esc(&line)));
            }
            vec![
                format!("#{}", e.id),
                esc(grade_label(e.grade)),
                esc(&e.title),
                esc(&section_label(config, e.flow.section.as_deref())),
                esc(&local(e.flow.created_at, tz)),
                e.flow.accepted_at.map_or_else(|| "未受理".to_string(), |at| esc(&local(at, tz))),
                deadlines.join("<br>"),
            ]
        })
        .collect();
    let _ = writeln!(out, "<h2>五、未办结事件（{} 件）</h2>", open.len());
    if open.is_empty() {
        out.push_str("<p>无。</p>\n");
    } else {
        out.push_str(&raw_table(&["编号", "分级", "标题", "牵头科室", "创建", "受理", "办理时限"], &open));
    }

    let missed: Vec<Vec<String>> = report
        .events
        .iter()
        .filter(|e| e.missed().next().is_some())
        .map(|e| {
            let kinds: Vec<&str> = e.missed().map(|d| d.kind.label_zh()).collect();
            vec![
                format!("#{}", e.id),
                esc(grade_label(e.grade)),
                esc(&e.title),
                esc(&section_label(config, e.flow.section.as_deref())),
                esc(&kinds.join("、")),
                if e.is_open() { "未办结" } else { "已办结" }.to_string(),
            ]
        })
        .collect();
    let _ = writeln!(out, "<h2>六、超时记录（{} 件事件）</h2>", missed.len());
    if missed.is_empty() {
        out.push_str("<p>无。</p>\n");
    } else {
        out.push_str(&raw_table(&["编号", "分级", "标题", "牵头科室", "超时的时限", "状态"], &missed));
    }

    out.push_str("<h2>七、主要来源</h2>\n");
    let rows: Vec<Vec<String>> =
        report.sources.iter().map(|s| vec![format!("{}（{}）", s.name, s.id), s.events.to_string()]).collect();
    out.push_str(&table(&["来源", "事件数"], &rows));

    out.push_str("<h2>八、研判标记</h2>\n");
    let rows: Vec<Vec<String>> =
        report.flags.iter().map(|(k, n)| vec![k.label_zh().to_string(), n.to_string()]).collect();
    out.push_str(&table(&["标记", "含该标记的事件数"], &rows));

    let commented: Vec<&super::EventReport> =
        report.events.iter().filter(|e| !e.viewpoints.groups.is_empty()).collect();
    let _ = writeln!(out, "<h2>九、网民观点（有评论的事件 {} 件）</h2>", commented.len());
    if commented.is_empty() {
        out.push_str("<p>无。</p>\n");
    }
    for e in commented {
        let v = &e.viewpoints;
        let _ = writeln!(
            out,
            "<h3>#{} {}</h3>\n<p>共 {} 条评论，{} 条参与归类</p>",
            e.id,
            esc(&e.title),
            v.total,
            v.grouped()
        );
        let rows: Vec<Vec<String>> = v
            .groups
            .iter()
            .map(|g| {
                vec![
                    g.size.to_string(),
                    format!("{:.0}%", g.share * 100.0),
                    format!("{}（{:.1}）", g.leaning.label_zh(), g.negativity),
                    crate::detect::viewpoints::truncate(&g.representative, super::VIEWPOINT_CHARS),
                    g.terms.join("、"),
                ]
            })
            .collect();
        out.push_str(&table(&["条数", "占比", "倾向（负面度）", "代表评论", "关键词"], &rows));
        if v.other > 0 {
            let _ = writeln!(out, "<p>其他：{} 条（未形成集中观点）</p>", v.other);
        }
    }
    finish(out)
}

fn finish(mut out: String) -> String {
    out.push_str("<footer>由 yuqing 政务舆情监测系统生成。</footer>\n</body>\n</html>\n");
    out
}

fn grade_colour(grade: Option<Grade>) -> &'static str {
    match grade {
        Some(Grade::I) => "#c0392b",
        Some(Grade::II) => "#e67e22",
        Some(Grade::III) => "#d4ac0d",
        Some(Grade::IV) => "#2e86de",
        None => "#999",
    }
}

/// Escapes text for HTML and SVG content and attribute values.
pub use crate::notify::escape as esc;

/// A table of plain text cells (escaped here); cells that look like numbers align right
/// (class `n`). Shared with the briefing's HTML.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| esc(c)).collect()).collect();
    raw_table(header, &rows)
}

/// A table whose cells are already HTML.
fn raw_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table>\n<thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let numeric = !cell.is_empty() && cell.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '%');
            let _ = write!(out, "<td{}>{cell}</td>", if numeric { " class=\"n\"" } else { "" });
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// One bar of a chart.
struct Bar {
    label: String,
    value: f64,
    /// Printed after the bar.
    text: String,
    colour: &'static str,
}

impl Bar {
    fn count(label: &str, n: usize, colour: &'static str) -> Self {
        Bar { label: label.to_string(), value: n as f64, text: n.to_string(), colour }
    }
}

/// The opening of a captioned inline SVG chart (`<figure>`, caption, `<svg>`, `<title>`), a
/// `width` × `height` drawing; close it with `</svg>\n</figure>\n`.
pub(super) fn figure_open(caption: &str, width: f64, height: f64) -> String {
    format!(
        "<figure>\n<figcaption>{c}</figcaption>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{c}\">\n<title>{c}</title>\n",
        c = esc(caption)
    )
}

/// A horizontal bar chart as inline SVG: labels on the left, bars scaled to `max` (the
/// largest value when `None`), each bar's text after it.
fn bar_chart(caption: &str, bars: &[Bar], max: Option<f64>) -> String {
    const WIDTH: f64 = 720.0;
    const LABEL: f64 = 190.0;
    const TEXT: f64 = 130.0;
    const ROW: f64 = 26.0;
    const BAR: f64 = 18.0;
    let max = max.unwrap_or_else(|| bars.iter().map(|b| b.value).fold(0.0, f64::max)).max(1.0);
    let span = WIDTH - LABEL - TEXT;
    let height = ROW * bars.len() as f64 + 8.0;
    let mut out = figure_open(caption, WIDTH, height);
    let _ = writeln!(
        out,
        "<line x1=\"{LABEL}\" y1=\"0\" x2=\"{LABEL}\" y2=\"{}\" stroke=\"#888\" stroke-width=\"1\"/>",
        height - 4.0
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = 4.0 + ROW * i as f64;
        let w = (bar.value.max(0.0) / max * span).min(span);
        let mid = y + BAR / 2.0 + 4.5;
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{mid}\" text-anchor=\"end\" font-size=\"13\">{}</text>",
            LABEL - 8.0,
            esc(&bar.label)
        );
        let _ =
            writeln!(out, "<rect x=\"{LABEL}\" y=\"{y}\" width=\"{w:.1}\" height=\"{BAR}\" fill=\"{}\"/>", bar.colour);
        let _ =
            writeln!(out, "<text x=\"{:.1}\" y=\"{mid}\" font-size=\"13\">{}</text>", LABEL + w + 6.0, esc(&bar.text));
    }
    out.push_str("</svg>\n</figure>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }

    #[test]
    fn bars_scale_to_the_largest_value_and_escape_labels() {
        let bars = [Bar::count("a<b", 2, "#000"), Bar::count("c", 4, "#000")];
        let svg = bar_chart("t&t", &bars, None);
        assert!(svg.contains("<title>t&amp;t</title>"), "{svg}");
        assert!(svg.contains(">a&lt;b</text>"), "{svg}");
        assert!(svg.contains("width=\"200.0\""), "half of the 400 px span: {svg}");
        assert!(svg.contains("width=\"400.0\""), "{svg}");
    }
}
