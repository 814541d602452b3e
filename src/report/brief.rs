//! The report of one event to an outside department (报送单, Art. 9), with the analysis of
//! Art. 13 — where it came from and when (出处、发布时间), how it spread (传播路径), the
//! comments and what netizens say (跟帖情况、网民观点) — the joint assessment (会商研判,
//! Art. 8/13) and what has been done so far. Pure: worded from the event's [`View`].

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::local;
use super::timeline::View;

/// A representative comment is cut after this many characters.
const COMMENT_CHARS: usize = 80;

/// The kinds of timeline entry that are the office's handling of the event.
const HANDLING: [&str; 8] = ["受理", "转办", "反馈", "办结", "重新打开", "拆分", "降级", "静默"];

/// The 报送单 as plain text, addressed to `department` (its name), written at `now`.
pub fn text(view: &View, department: &str, now: DateTime<Utc>, tz: Tz) -> String {
    let mut out = format!("舆情报送单\n\n报送单位：{department}\n报送时间：{}\n{}\n", local(now, tz), view.heading);
    for (label, fact) in &view.facts {
        out.push_str(&format!("  {label}：{fact}\n"));
    }

    out.push_str("\n一、出处与传播路径\n");
    let copies: Vec<_> = view.entries.iter().filter(|e| e.kind == "首发" || e.kind == "转载").collect();
    for e in &copies {
        out.push_str(&format!("  {}  {}  {}\n", local(e.at, tz), e.kind, e.text.trim()));
        if let Some(link) = &e.link {
            out.push_str(&format!("      {link}\n"));
        }
    }
    if copies.is_empty() {
        out.push_str("  （无）\n");
    }

    out.push_str("\n二、跟帖情况与网民观点\n");
    let views = view.viewpoints.lines_zh(COMMENT_CHARS);
    if views.is_empty() {
        out.push_str("  暂无收集到的评论\n");
    }
    for line in views {
        out.push_str(&format!("  {line}\n"));
    }
    if let Some(volume) = view.viewpoints.trend_lines_zh(tz).into_iter().next() {
        out.push_str(&format!("  评论量：{volume}\n"));
    }

    out.push_str("\n三、会商研判\n");
    let assessments: Vec<_> = view.entries.iter().filter(|e| e.kind == "会商研判").collect();
    match assessments.last() {
        Some(e) => {
            out.push_str(&format!("  {}  {}\n", local(e.at, tz), e.text));
            if assessments.len() > 1 {
                out.push_str(&format!("  （共会商 {} 次，以上为最近一次）\n", assessments.len()));
            }
        }
        None => out.push_str("  尚未会商研判\n"),
    }

    out.push_str("\n四、处置情况\n");
    let handled: Vec<_> = view.entries.iter().filter(|e| HANDLING.contains(&e.kind)).collect();
    for e in &handled {
        out.push_str(&format!("  {}  {}  {}\n", local(e.at, tz), e.kind, e.text));
    }
    if handled.is_empty() {
        out.push_str("  尚无处置记录\n");
    }
    for c in &view.clocks {
        out.push_str(&format!("  {}（{}，至 {}）：{}\n", c.kind, c.span, local(c.due, tz), c.outcome_zh(tz)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::timeline::Entry;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).single().unwrap_or_default()
    }

    fn entry(h: u32, kind: &'static str, text: &str) -> Entry {
        Entry { at: at(h), kind, text: text.to_string(), link: None, document: None }
    }

    #[test]
    fn the_report_has_the_path_the_comments_the_latest_assessment_and_the_handling() {
        let view = View {
            heading: "事件 #7  [Ⅱ级 重大]  烈士陵园要拆了".to_string(),
            facts: vec![("牵头科室", "褒扬纪念科（bayang）".to_string())],
            entries: vec![
                Entry {
                    link: Some("https://example.gov.cn/a".into()),
                    ..entry(1, "首发", "论坛  烈士陵园要拆了  文档 #3")
                },
                entry(2, "转载", "微博  烈士陵园要拆了？  文档 #4  相似度 0.91"),
                entry(3, "通知", "邮件 → 张科长"),
                entry(4, "会商研判", "王主任（趋势：上升）：性质：谣言；风险：聚集；处置：发布澄清"),
                entry(5, "受理", "张科长"),
                entry(6, "会商研判", "王主任（趋势：回落）：性质：谣言；风险：低；处置：持续关注"),
            ],
            engagement: Vec::new(),
            clocks: Vec::new(),
            trend: crate::response::trend::trend(&[], &[], at(8), chrono_tz::Asia::Shanghai, 24),
            viewpoints: Default::default(),
        };
        let t = text(&view, "公安部门", at(8), chrono_tz::Asia::Shanghai);
        assert!(t.starts_with("舆情报送单\n\n报送单位：公安部门\n报送时间：2026-03-02 16:00"), "{t}");
        assert!(t.contains("09:00  首发  论坛  烈士陵园要拆了  文档 #3\n      https://example.gov.cn/a"), "{t}");
        assert!(t.contains("转载  微博"), "{t}");
        assert!(!t.contains("邮件 → 张科长"), "alerts are internal, not part of the report: {t}");
        assert!(t.contains("二、跟帖情况与网民观点\n  暂无收集到的评论"), "{t}");
        assert!(
            t.contains("趋势：回落）：性质：谣言；风险：低；处置：持续关注\n  （共会商 2 次，以上为最近一次）"),
            "{t}"
        );
        assert!(!t.contains("持续关注\n  14:00"), "{t}");
        assert!(t.contains("四、处置情况\n  2026-03-02 13:00  受理  张科长"), "{t}");
    }
}
