//! `yuqing event show ID`: an event's timeline for staff — its grade and owner, every copy
//! on the propagation path, engagement over time, every alert and reminder with its fate,
//! every workflow action, and where its deadline clocks stand.

use std::process::ExitCode;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::response::deadline::{Outcome, Progress, clock_outcome};
use crate::store::{AlertEntry, Store, Timeline};

use super::local;

pub(super) fn show(config: &Config, id: i64) -> anyhow::Result<ExitCode> {
    let store = Store::open(&config.storage_path)?;
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
    let org = &config.response.org;
    let source_name = |id: &str| config.source(id).map_or(id.to_string(), |s| format!("{}（{id}）", s.name));
    let e = &t.event;
    let mut out = String::new();
    let grade = e.grade.map_or_else(|| "未分级".to_string(), |g| g.label_zh().to_string());
    out.push_str(&format!("事件 #{}  [{grade}]  {}\n", e.id, e.title));
    if !e.grade_reasons.is_empty() {
        out.push_str(&format!("  分级依据：{}\n", e.grade_reasons.join("；")));
    }
    if let Some(from) = e.downgraded_from {
        out.push_str(&format!("  人工降级自：{}（自动研判只会在超过该级别时再升级）\n", from.label_zh()));
    }
    let owner = e.owner.as_deref().map_or_else(|| "未分办".to_string(), |o| org.section_label(o));
    out.push_str(&format!("  牵头科室：{owner}\n  状态：{}\n", state(t, now, tz)));
    out.push_str(&format!(
        "  首发：{} {}；共 {} 个来源、{} 篇信息\n",
        local(e.first_seen_at, tz),
        source_name(&e.first_source_id),
        e.sources,
        e.documents
    ));

    // One chronological list; entries at the same second keep this order.
    let mut entries: Vec<(DateTime<Utc>, usize, String)> = Vec::new();
    for (n, c) in t.copies.iter().enumerate() {
        let title = if c.title.is_empty() { "（无标题）" } else { c.title.as_str() };
        let (kind, likeness) = if n == 0 {
            ("首发", String::new())
        } else {
            ("转载", format!("  相似度 {:.2}{}", c.similarity, evidence_note(&c.evidence)))
        };
        let link = c.link.as_deref().map(|l| format!("\n{:23}{l}", "")).unwrap_or_default();
        let doc = c.document_id;
        entries.push((
            c.seen_at,
            0,
            format!("{kind}  {}  {title}  文档 #{doc}{likeness}{link}", source_name(&c.source_id)),
        ));
    }
    let mut last = None;
    for (at, total) in &t.engagement {
        let change = last.map(|l: i64| format!("（{:+}）", total - l)).unwrap_or_default();
        entries.push((*at, 1, format!("互动  转发+评论+点赞 合计 {total}{change}")));
        last = Some(*total);
    }
    for a in &t.alerts {
        entries.push((a.created_at, 2, alert_line(config, a)));
    }
    for a in &t.actions {
        let who = org.person_label(&a.actor);
        let text = match a.action.as_str() {
            "accept" => format!("受理  {who}"),
            "transfer" => {
                format!("转办  {who} → {}", a.target.as_deref().map_or_else(String::new, |s| org.section_label(s)))
            }
            "feedback" => {
                let label = crate::workflow::feedback_label(a.target.as_deref().unwrap_or(""));
                format!("反馈  {who}（{label}）{}", a.link.as_deref().map(|l| format!("  {l}")).unwrap_or_default())
            }
            "close" => format!("办结  {who}"),
            "reopen" => format!("重新打开  {who}"),
            "split" => match a.target.as_deref().and_then(|t| t.strip_prefix("from:")) {
                Some(from) => format!("拆分  {who}：从事件 #{from} 拆入"),
                None => format!("拆分  {who}：文档 #{} 拆出", a.target.as_deref().unwrap_or("?")),
            },
            "downgrade" => {
                let to = a.target.as_deref().and_then(crate::response::Grade::parse);
                format!("降级  {who} → {}", to.map_or("?", |g| g.label_zh()))
            }
            "mute" => {
                let until = a
                    .target
                    .as_deref()
                    .and_then(|s| s.parse::<i64>().ok())
                    .and_then(|s| DateTime::from_timestamp(s, 0));
                format!("静默  {who}，至 {}", until.map_or_else(|| "?".to_string(), |u| local(u, tz)))
            }
            other => format!("{other}  {who}"),
        };
        let note = a.note.as_deref().map(|n| format!("：{n}")).unwrap_or_default();
        entries.push((a.at, 3, format!("{text}{note}")));
    }
    entries.sort_by_key(|(at, order, _)| (*at, *order));
    out.push_str("\n时间线：\n");
    for (at, _, line) in &entries {
        out.push_str(&format!("  {}  {line}\n", local(*at, tz)));
    }

    if let Some(grade) = e.grade {
        out.push_str("\n办理时限：\n");
        let feedback: Vec<(String, DateTime<Utc>)> = t
            .actions
            .iter()
            .filter(|a| a.action == "feedback")
            .map(|a| (a.target.clone().unwrap_or_default(), a.at))
            .collect();
        // The owner's accept clock runs from its latest transfer.
        let transfer = t.actions.iter().rposition(|a| a.action == "transfer");
        let owned_since = transfer.map_or(e.created_at, |i| t.actions[i].at);
        let accepted_at =
            t.actions.iter().skip(transfer.map_or(0, |i| i + 1)).find(|a| a.action == "accept").map(|a| a.at);
        let held = config.delivery.held(Some(grade));
        let progress = Progress { created_at: e.created_at, owned_since, accepted_at, feedback: &feedback, held };
        for &(kind, span) in config.response.deadlines.for_grade(grade) {
            let (due, outcome) = clock_outcome(kind, span, &config.calendar, &progress, now);
            let outcome = match outcome {
                Outcome::Met(at) => format!("已按时完成（{}）", local(at, tz)),
                Outcome::Late(at) => format!("已完成，但超时（{}）", local(at, tz)),
                Outcome::Missed => "已超时".to_string(),
                Outcome::Running => "计时中".to_string(),
            };
            let minutes = span.duration().as_secs() / 60;
            let span = match (span.is_working(), minutes % 60) {
                (false, 0) => format!("{} 小时", minutes / 60),
                (false, m) if minutes < 60 => format!("{m} 分钟"),
                (false, _) => format!("{minutes} 分钟"),
                (true, _) => format!("{:.1} 个工作小时", minutes as f64 / 60.0),
            };
            out.push_str(&format!("  {}（{span}）  截止 {}  {outcome}\n", kind.label_zh(), local(due, tz)));
        }
    }
    out
}

/// Open, accepted, muted or closed, from the audit trail.
fn state(t: &Timeline, now: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    let last = |action: &str| t.actions.iter().rev().find(|a| a.action == action);
    if let Some(c) = t.actions.iter().rev().find(|a| a.action == "close" || a.action == "reopen")
        && c.action == "close"
    {
        return format!("已办结（{}）", local(c.at, tz));
    }
    let mut parts = Vec::new();
    match last("accept") {
        Some(a) => parts.push(format!("已受理（{}）", local(a.at, tz))),
        None => parts.push("待受理".to_string()),
    }
    if t.actions.iter().any(|a| a.action == "feedback") {
        parts.push("已反馈".to_string());
    }
    let muted = last("mute")
        .and_then(|m| m.target.as_deref()?.parse::<i64>().ok())
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .filter(|until| *until > now);
    if let Some(until) = muted {
        parts.push(format!("静默至 {}", local(until, tz)));
    }
    parts.join("，")
}

fn alert_line(config: &Config, a: &AlertEntry) -> String {
    let tz = config.timezone;
    let kind = match &a.step {
        Some((_, step)) if *step >= 100 => "督办",
        Some(_) => "催办",
        None => "通知",
    };
    let fate = match a.status.as_str() {
        "sent" => format!("已发送{}", a.sent_at.map(|t| format!(" {}", local(t, tz))).unwrap_or_default()),
        "dropped" => format!("已撤回（{}）", a.last_error.as_deref().unwrap_or("")),
        "dead" => format!("投递失败，已放弃（{}）", a.last_error.as_deref().unwrap_or("")),
        _ if a.attempts > 0 => format!("待重试，已尝试 {} 次（{}）", a.attempts, a.last_error.as_deref().unwrap_or("")),
        _ => "待发送".to_string(),
    };
    format!("{kind}  {} → {}  {}  [{fate}]", a.channel, a.recipients.join("、"), a.subject)
}

/// Why a copy was judged one story with the earlier one, for staff: "；共同内容：「…」「…」".
pub(super) fn evidence_note(evidence: &[String]) -> String {
    match evidence {
        [] => String::new(),
        _ => format!("；共同内容：{}", evidence.iter().map(|e| format!("「{e}」")).collect::<String>()),
    }
}
