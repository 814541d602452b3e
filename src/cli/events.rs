//! `yuqing events`: recent events (舆情事件) with their sources, copies and engagement, and
//! one event's propagation path (传播路径, Art. 13). Read-only; usable while the daemon runs.

use std::process::ExitCode;

use crate::config::Config;
use crate::store::{Action, Store};

use super::local;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum EventAction {
    /// Accept (受理) an event: its escalation ladder stops; deadlines keep running
    Accept {
        /// The event number (#N in alerts)
        id: i64,
        /// Who: a [[people]] id
        #[arg(long)]
        by: String,
        /// A note for the audit trail
        #[arg(long)]
        note: Option<String>,
    },
    /// Transfer (转办) an event to another section: the ladder restarts there
    Transfer {
        id: i64,
        /// The new owner: a [[sections]] id
        #[arg(long)]
        to: String,
        #[arg(long)]
        by: String,
        /// Why (required for the audit trail)
        #[arg(long)]
        reason: String,
    },
    /// Record the response made (反馈): online release, expert interpretation, press conference, interview
    Feedback {
        id: i64,
        #[arg(long)]
        by: String,
        /// online | expert | press_conference | interview
        #[arg(long)]
        kind: String,
        /// Where it was published
        #[arg(long)]
        link: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Close (办结) an event: nothing more is sent about it
    Close {
        id: i64,
        #[arg(long)]
        by: String,
        #[arg(long)]
        note: Option<String>,
    },
}

const FEEDBACK_KINDS: [(&str, &str); 4] =
    [("online", "网上发布"), ("expert", "专家解读"), ("press_conference", "新闻发布会"), ("interview", "媒体采访")];

pub(super) fn act(config: &Config, action: EventAction) -> anyhow::Result<ExitCode> {
    let org = &config.response.org;
    let (id, by) = match &action {
        EventAction::Accept { id, by, .. }
        | EventAction::Transfer { id, by, .. }
        | EventAction::Feedback { id, by, .. }
        | EventAction::Close { id, by, .. } => (*id, by.clone()),
    };
    if !org.people.is_empty() && org.person(&by).is_none() {
        eprintln!("\"{by}\" 不在 yuqing.toml 的 [[people]] 中；--by 请写人员 id");
        return Ok(ExitCode::from(1));
    }
    let (record, done) = match &action {
        EventAction::Accept { note, .. } => (
            Action { action: "accept", actor: &by, target: None, link: None, note: note.as_deref() },
            "受理；逐级催办停止，办理时限继续计时".to_string(),
        ),
        EventAction::Transfer { to, reason, .. } => {
            if org.section(to).is_none() {
                eprintln!("\"{to}\" 不在 yuqing.toml 的 [[sections]] 中；--to 请写科室 id");
                return Ok(ExitCode::from(1));
            }
            (
                Action { action: "transfer", actor: &by, target: Some(to), link: None, note: Some(reason) },
                format!("转办至 {}；该科室的逐级提醒从联络人重新开始", org.section_label(to)),
            )
        }
        EventAction::Feedback { kind, link, note, .. } => {
            let Some((_, label)) = FEEDBACK_KINDS.iter().find(|(k, _)| k == kind) else {
                let known: Vec<&str> = FEEDBACK_KINDS.iter().map(|(k, _)| *k).collect();
                eprintln!("未知的反馈方式 \"{kind}\"；可用：{}", known.join("、"));
                return Ok(ExitCode::from(1));
            };
            (
                Action {
                    action: "feedback",
                    actor: &by,
                    target: Some(kind),
                    link: link.as_deref(),
                    note: note.as_deref(),
                },
                format!("反馈（{label}）"),
            )
        }
        EventAction::Close { note, .. } => (
            Action { action: "close", actor: &by, target: None, link: None, note: note.as_deref() },
            "办结；不再催办".to_string(),
        ),
    };
    let mut store = Store::open(&config.storage_path)?;
    if !store.record_action(id, &record, chrono::Utc::now())? {
        eprintln!("没有编号为 #{id} 的事件（用 yuqing events 查看最近的事件）");
        return Ok(ExitCode::from(1));
    }
    println!("事件 #{id} 已由 {}{done}。", org.person_label(&by));
    Ok(ExitCode::SUCCESS)
}

pub(super) fn show(config: &Config, id: Option<i64>, limit: usize) -> anyhow::Result<ExitCode> {
    let store = Store::open(&config.storage_path)?;
    let tz = config.timezone;
    let source_name = |id: &str| config.source(id).map_or(id.to_string(), |s| format!("{}（{id}）", s.name));
    let Some(id) = id else {
        let events = store.recent_events(limit)?;
        if events.is_empty() {
            println!("暂无舆情事件。");
        }
        for e in events {
            let grade = e.grade.map_or_else(|| "未分级".to_string(), |g| g.label_zh().to_string());
            println!("#{}  [{grade}]  {}", e.id, e.title);
            if !e.grade_reasons.is_empty() {
                println!("    分级依据：{}", e.grade_reasons.join("；"));
            }
            println!(
                "    首发：{} {}；最近：{}；{} 个来源、{} 篇信息{}",
                local(e.first_seen_at, tz),
                source_name(&e.first_source_id),
                local(e.last_seen_at, tz),
                e.sources,
                e.documents,
                if e.engagement > 0 { format!("；互动 {}", e.engagement) } else { String::new() },
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    let path = store.event_path(id)?;
    if path.is_empty() {
        eprintln!("没有编号为 #{id} 的事件（用 yuqing events 查看最近的事件）");
        return Ok(ExitCode::from(1));
    }
    println!("事件 #{id} 的传播路径（按时间）：");
    for (n, step) in path.iter().enumerate() {
        let title = if step.title.is_empty() { "（无标题）" } else { step.title.as_str() };
        let likeness = if n == 0 { "首发".to_string() } else { format!("相似度 {:.2}", step.similarity) };
        println!("  {}. {}  {}  {title}  [{likeness}]", n + 1, local(step.seen_at, tz), source_name(&step.source_id));
        if let Some(link) = &step.link {
            println!("     {link}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
