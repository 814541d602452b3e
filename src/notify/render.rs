//! The alert email for one document: a Chinese subject `【舆情提示】<标题>`, and plain-text
//! and HTML bodies with title, source, publish time, matched terms (highlighted in HTML),
//! a short excerpt and the link. Pure: takes the timezone and data, returns text.

use aho_corasick::{AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::detect::events::Assignment;
use crate::detect::flags::describe_zh;
use crate::extract::normalize::excerpt;
use crate::model::{AlertMessage, Field, MatchedDocument};

const EXCERPT_CHARS: usize = 160;
const SUBJECT_TITLE_CHARS: usize = 60;

/// What the alert needs besides the document.
pub struct AlertContext<'a> {
    pub source_name: &'a str,
    pub subject_prefix: &'a str,
    pub recipients: Vec<String>,
    pub timezone: Tz,
    pub fetched_at: DateTime<Utc>,
    /// The event the document started or joined; a joined one makes this an update that
    /// threads to the event's first alert.
    pub event: Option<&'a Assignment>,
    /// Labelled lines about the response: grade and reasons, owner, accountable leader,
    /// departments to report to.
    pub details: Vec<(&'static str, String)>,
    /// One-click links: (what and for whom, URL).
    pub links: Vec<(String, String)>,
}

/// One-click links as text lines and as an HTML paragraph (empty without links).
fn links_block(links: &[(String, String)]) -> (String, String) {
    if links.is_empty() {
        return (String::new(), String::new());
    }
    let text: String = links.iter().map(|(label, url)| format!("\n  {label}：{url}")).collect();
    let html: String = links
        .iter()
        .map(|(label, url)| format!("<a href=\"{}\">{}</a>", escape(url), escape(label)))
        .collect::<Vec<_>>()
        .join(" ｜ ");
    (format!("\n\n一键办理（链接仅限本人使用，有时效）：{text}"), format!("<p><strong>一键办理：</strong>{html}</p>"))
}

pub fn render_email(doc: &MatchedDocument, ctx: &AlertContext<'_>) -> AlertMessage {
    let d = &doc.document;
    let title = if d.title.is_empty() { "（无标题）" } else { d.title.as_str() };
    let first_text_hit = doc.hits.iter().find(|h| h.field == Field::Text).map(|h| h.start);
    let summary = excerpt(&d.text, first_text_hit, EXCERPT_CHARS);
    let terms = term_labels(doc);
    let published = d.published_at.map_or_else(|| "未知".to_string(), |t| local_time(t, ctx.timezone));
    let fetched = local_time(ctx.fetched_at, ctx.timezone);
    let link = d.link.as_deref().unwrap_or("（无链接）");
    let mut judgement =
        if doc.flags.is_empty() { String::new() } else { format!("\n研判提示：{}", describe_zh(&doc.flags)) };
    if let Some(v) = &doc.to_verify {
        judgement.push_str(&format!("\n待核实：可能是谣言，请核实后再定（{v}）"));
    }
    let negativity = doc.negativity.as_ref().map(|n| format!("{:.1}（{}）", n.score, n.drivers.join("、")));
    if let Some(n) = &negativity {
        judgement.push_str(&format!("\n负面程度：{n}"));
    }
    let state = match d.page_state.as_deref() {
        Some("deleted") => "\n原文状态：已被发布者删除（删除本身值得关注）",
        Some("violation") => "\n原文状态：因违规无法查看",
        Some("unavailable") => "\n原文状态：暂时无法查看",
        _ => "",
    };
    let update = ctx.event.filter(|e| !e.new_event);
    let (heading, subject) = match update {
        // "Re:" keeps clients that thread by subject together with In-Reply-To/References.
        Some(e) => (
            match e.previous_grade {
                Some(from) if e.rose() => format!("舆情升级：{} → {}", from.label_zh(), e.grade.label_zh()),
                _ if e.new_source => "舆情更新：同一事件出现新的来源".to_string(),
                _ => "舆情更新：同一事件的又一篇信息".to_string(),
            },
            format!("Re: {}{}", ctx.subject_prefix, truncate(&e.event_title, SUBJECT_TITLE_CHARS)),
        ),
        None => ("舆情提示".to_string(), format!("{}{}", ctx.subject_prefix, truncate(title, SUBJECT_TITLE_CHARS))),
    };
    let details_text: String = ctx.details.iter().map(|(k, v)| format!("\n{k}：{v}")).collect();
    let details_html: String = ctx
        .details
        .iter()
        .map(|(k, v)| format!("<tr><th align=\"left\">{}</th><td>{}</td></tr>", escape(k), escape(v)))
        .collect();
    let event_line = match ctx.event {
        Some(e) if e.new_event => format!("事件编号：#{}（首次发现）", e.event_id),
        Some(e) => {
            format!("事件编号：#{}（{}；目前 {} 个来源、{} 篇信息）", e.event_id, e.event_title, e.sources, e.documents)
        }
        None => String::new(),
    };
    let event_text = if event_line.is_empty() { String::new() } else { format!("\n{event_line}") };

    let (links_text, links_html) = links_block(&ctx.links);
    let body_text = format!(
        "{heading}\n\n标题：{title}{event_text}{details_text}\n信源：{source}\n发布时间：{published}\n发现时间：{fetched}\n命中关键词：{terms}{judgement}{state}\n\n摘要：{summary}\n\n链接：{link}{links_text}\n\n—— 本邮件由 yuqing 舆情监测系统自动发送，请按职责及时研判处置。\n",
        source = ctx.source_name,
        terms = terms.join("、"),
    );

    let highlight_terms: Vec<&str> = doc.terms();
    let body_html = format!(
        concat!(
            "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{subject}</title></head>",
            "<body style=\"font-family:sans-serif;line-height:1.6\">",
            "<h2 style=\"margin:0 0 12px\">{heading}：{title}</h2>",
            "<table cellpadding=\"4\" style=\"border-collapse:collapse\">",
            "{event_row}{details_html}",
            "<tr><th align=\"left\">信源</th><td>{source}</td></tr>",
            "<tr><th align=\"left\">发布时间</th><td>{published}</td></tr>",
            "<tr><th align=\"left\">发现时间</th><td>{fetched}</td></tr>",
            "<tr><th align=\"left\">命中关键词</th><td>{terms}</td></tr>",
            "{judgement_row}",
            "</table>",
            "<p><strong>摘要：</strong>{summary}</p>",
            "<p><strong>链接：</strong>{link}</p>{links_html}",
            "<p style=\"color:#666;font-size:12px\">本邮件由 yuqing 舆情监测系统自动发送，请按职责及时研判处置。</p>",
            "</body></html>"
        ),
        subject = escape(&subject),
        heading = escape(&heading),
        details_html = details_html,
        links_html = links_html,
        event_row = if event_line.is_empty() {
            String::new()
        } else {
            format!("<tr><th align=\"left\">事件</th><td>{}</td></tr>", escape(&event_line))
        },
        title = highlight(title, &highlight_terms),
        source = escape(ctx.source_name),
        published = escape(&published),
        fetched = escape(&fetched),
        terms = terms.iter().map(|t| format!("<mark>{}</mark>", escape(t))).collect::<Vec<_>>().join("、"),
        summary = highlight(&summary, &highlight_terms),
        judgement_row = format!(
            "{}{}{}",
            if doc.flags.is_empty() {
                String::new()
            } else {
                format!("<tr><th align=\"left\">研判提示</th><td>{}</td></tr>", escape(&describe_zh(&doc.flags)))
            },
            doc.to_verify.as_ref().map_or_else(String::new, |v| format!(
                "<tr><th align=\"left\">待核实</th><td>可能是谣言，请核实后再定（{}）</td></tr>",
                escape(v)
            )),
            negativity
                .as_ref()
                .map_or(String::new(), |n| format!("<tr><th align=\"left\">负面程度</th><td>{}</td></tr>", escape(n))),
        ),
        link = d
            .link
            .as_deref()
            .map_or_else(|| "（无链接）".to_string(), |l| format!("<a href=\"{0}\">{0}</a>", escape(l))),
    );

    AlertMessage { channel: "email".into(), recipients: ctx.recipients.clone(), subject, body_text, body_html }
}

/// A rung of the escalation ladder telling one person that an event is still not accepted
/// (催办), threaded to the event's alerts.
pub struct Reminder<'a> {
    pub event_id: i64,
    pub event_title: &'a str,
    pub grade_label: &'a str,
    pub role_label: &'a str,
    pub person_name: &'a str,
    pub person_id: &'a str,
    pub recipient: String,
    pub elapsed: chrono::Duration,
    pub subject_prefix: &'a str,
    /// For a deadline clock: which mark of which clock (督办).
    pub deadline: Option<DeadlineMark<'a>>,
    /// A repeat of a ladder step: the person was told before and has not accepted.
    pub repeat: bool,
    /// One-click links for this person: (label, URL).
    pub links: Vec<(String, String)>,
}

/// A deadline clock's mark, for the 督办 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineMark<'a> {
    /// The clock's name (受理, 回应, …).
    pub name: &'a str,
    /// Its span in minutes.
    pub minutes: u64,
    /// Whether the span counts working time only.
    pub working: bool,
    /// The share of the span gone.
    pub percent: u32,
    /// The accept (受理) clock: met by accepting, not by feedback.
    pub accept: bool,
}

impl DeadlineMark<'_> {
    /// "15 分钟", "48 小时", "2 小时 30 分钟", "4 个工作小时", "工作时间 30 分钟".
    fn span_zh(&self) -> String {
        let (h, m) = (self.minutes / 60, self.minutes % 60);
        let plain = match (h, m) {
            (0, m) => format!("{m} 分钟"),
            (h, 0) => format!("{h} 小时"),
            (h, m) => format!("{h} 小时 {m} 分钟"),
        };
        match (self.working, h, m) {
            (false, ..) => plain,
            (true, h, 0) => format!("{h} 个工作小时"),
            (true, ..) => format!("工作时间 {plain}"),
        }
    }
}

pub fn render_reminder(r: &Reminder<'_>) -> AlertMessage {
    let minutes = r.elapsed.num_minutes().max(0);
    let elapsed = if minutes >= 60 {
        format!("{} 小时 {} 分钟", minutes / 60, minutes % 60)
    } else {
        format!("{minutes} 分钟")
    };
    let subject = format!("Re: {}{}", r.subject_prefix, truncate(r.event_title, SUBJECT_TITLE_CHARS));
    let command = format!("yuqing event accept {} --by {}", r.event_id, r.person_id);
    let event = format!("事件：#{} {}（{}）", r.event_id, r.event_title, r.grade_label);
    let (heading, lines) = match r.deadline {
        None => (
            "舆情催办",
            [
                event,
                if r.repeat {
                    format!("已发现 {elapsed}，{}（{}）尚未受理，再次提醒。", r.person_name, r.role_label)
                } else {
                    format!("已发现 {elapsed}，尚未受理。按逐级提醒规则通知{}：{}。", r.role_label, r.person_name)
                },
                format!("受理后停止催办：{command}"),
            ],
        ),
        Some(mark) => {
            let (name, span, percent) = (mark.name, mark.span_zh(), mark.percent);
            let missing = if mark.accept { "尚未受理" } else { "尚无相应反馈" };
            (
                "舆情督办",
                [
                    event,
                    if percent >= 100 {
                        format!("“{name}”时限（{span}）已到，{missing}。通知{}：{}。", r.role_label, r.person_name)
                    } else {
                        format!(
                            "距“{name}”时限（{span}）已过 {percent}%（已发现 {elapsed}），{missing}。通知{}：{}。",
                            r.role_label, r.person_name
                        )
                    },
                    if mark.accept {
                        format!("受理：{command}")
                    } else {
                        format!(
                            "办理后记录反馈：yuqing event feedback {} --by {} --kind online|expert|press_conference|interview --link …",
                            r.event_id, r.person_id
                        )
                    },
                ],
            )
        }
    };
    let (links_text, links_html) = links_block(&r.links);
    let body_text = format!(
        "{heading}\n\n{}{links_text}\n\n—— 本邮件由 yuqing 舆情监测系统自动发送，请按职责及时受理、处置并反馈。\n",
        lines.join("\n")
    );
    let body_html = format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{}</title></head><body style=\"font-family:sans-serif;line-height:1.6\"><h2>{heading}</h2>{}{links_html}<p style=\"color:#666;font-size:12px\">本邮件由 yuqing 舆情监测系统自动发送，请按职责及时受理、处置并反馈。</p></body></html>",
        escape(&subject),
        lines.iter().map(|l| format!("<p>{}</p>", escape(l))).collect::<String>(),
    );
    AlertMessage { channel: "email".into(), recipients: vec![r.recipient.clone()], subject, body_text, body_html }
}

/// "term（list）" for each distinct (term, list), in order of first appearance.
fn term_labels(doc: &MatchedDocument) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for hit in &doc.hits {
        let label = format!("{}（{}）", hit.term, hit.list);
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    labels
}

fn local_time(t: DateTime<Utc>, tz: Tz) -> String {
    let zone = if tz == chrono_tz::Asia::Shanghai { "北京时间".to_string() } else { tz.name().to_string() };
    format!("{}（{zone}）", t.with_timezone(&tz).format("%Y-%m-%d %H:%M"))
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { format!("{}…", s.chars().take(max).collect::<String>()) }
}

/// Minimal HTML escaping for text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes `text` and wraps every occurrence of the terms (longest first) in `<mark>`.
fn highlight(text: &str, terms: &[&str]) -> String {
    // A handful of terms searched once: the NFA builds much faster than a DFA.
    let built = AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostLongest)
        .ascii_case_insensitive(true)
        .kind(Some(AhoCorasickKind::NoncontiguousNFA))
        .build(terms);
    let Ok(ac) = built else {
        return escape(text);
    };
    let mut out = String::with_capacity(text.len() + 32);
    let mut last = 0;
    for m in ac.find_iter(text) {
        out.push_str(&escape(&text[last..m.start()]));
        out.push_str("<mark>");
        out.push_str(&escape(&text[m.start()..m.end()]));
        out.push_str("</mark>");
        last = m.end();
    }
    out.push_str(&escape(&text[last..]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Document, Hit};

    fn sample() -> MatchedDocument {
        let text = "网民反映<某区>抚恤金迟迟未发放".to_string();
        let start = text.find("抚恤金").unwrap_or_default();
        MatchedDocument {
            document: Document {
                source_id: "forum".into(),
                keys: vec!["k".into()],
                fingerprint: "f".into(),
                link: Some("https://example.gov.cn/a?x=1&y=2".into()),
                guid: None,
                title: "抚恤金发放问题".into(),
                text,
                author: None,
                published_at: DateTime::from_timestamp(1_795_000_000, 0),
                page_state: None,
            },
            hits: vec![
                Hit { field: Field::Title, start: 0, end: 9, list: "preferential".into(), term: "抚恤金".into() },
                Hit {
                    field: Field::Text, start, end: start + 9, list: "preferential".into(), term: "抚恤金".into()
                },
            ],
            flags: vec![],
            negativity: None,
            to_verify: None,
        }
    }

    fn ctx() -> AlertContext<'static> {
        AlertContext {
            source_name: "市民论坛",
            subject_prefix: "【舆情提示】",
            recipients: vec!["gkb@example.gov.cn".into()],
            timezone: chrono_tz::Asia::Shanghai,
            fetched_at: DateTime::from_timestamp(1_795_000_600, 0).unwrap_or_default(),
            event: None,
            details: Vec::new(),
            links: Vec::new(),
        }
    }

    #[test]
    fn subject_and_text_body_carry_the_facts() {
        let m = render_email(&sample(), &ctx());
        assert_eq!(m.subject, "【舆情提示】抚恤金发放问题");
        assert!(m.body_text.contains("信源：市民论坛"));
        assert!(m.body_text.contains("命中关键词：抚恤金（preferential）"));
        assert!(m.body_text.contains("发布时间：2026-11-18 19:06（北京时间）"), "{}", m.body_text);
        assert!(m.body_text.contains("链接：https://example.gov.cn/a?x=1&y=2"));
        assert!(m.body_text.contains("迟迟未发放"));
    }

    #[test]
    fn html_body_escapes_and_highlights() {
        let m = render_email(&sample(), &ctx());
        assert!(m.body_html.contains("&lt;某区&gt;<mark>抚恤金</mark>迟迟"), "{}", m.body_html);
        assert!(m.body_html.contains("href=\"https://example.gov.cn/a?x=1&amp;y=2\""));
        assert!(!m.body_html.contains("<某区>"));
    }

    #[test]
    fn flags_are_explained_in_both_bodies() {
        let mut doc = sample();
        doc.flags = vec![crate::model::Flag { kind: crate::model::FlagKind::Rumour, reasons: vec!["网传".into()] }];
        let m = render_email(&doc, &ctx());
        assert!(m.body_text.contains("研判提示：疑似谣言（线索：网传）"), "{}", m.body_text);
        assert!(m.body_html.contains("<th align=\"left\">研判提示</th><td>疑似谣言（线索：网传）</td>"));
        assert!(!render_email(&sample(), &ctx()).body_text.contains("研判提示"));
        doc.negativity = Some(crate::model::Negativity { score: 4.0, drivers: vec!["严重拖欠".into()] });
        assert!(render_email(&doc, &ctx()).body_text.contains("负面程度：4.0（严重拖欠）"));
    }

    #[test]
    fn the_to_verify_band_is_shown_apart_from_the_flags() {
        let mut doc = sample();
        assert!(!render_email(&doc, &ctx()).body_text.contains("待核实"));
        doc.to_verify = Some("文本分类模型 0.50，待核实（0.40–0.62）".into());
        let m = render_email(&doc, &ctx());
        assert!(
            m.body_text.contains("待核实：可能是谣言，请核实后再定（文本分类模型 0.50，待核实（0.40–0.62））"),
            "{}",
            m.body_text
        );
        assert!(!m.body_text.contains("研判提示"), "no flag raised: {}", m.body_text);
        assert!(m.body_html.contains("<th align=\"left\">待核实</th>"), "{}", m.body_html);
    }

    #[test]
    fn long_titles_are_cut_in_the_subject() {
        let mut doc = sample();
        doc.document.title = "长".repeat(100);
        let m = render_email(&doc, &ctx());
        assert_eq!(m.subject.chars().count(), "【舆情提示】".chars().count() + SUBJECT_TITLE_CHARS + 1);
    }
}
