//! `yuqing events`: recent events (舆情事件) with their sources, copies and engagement, and
//! one event's propagation path (传播路径, Art. 13). Read-only; usable while the daemon runs.

use std::process::ExitCode;

use crate::config::Config;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::response::Grade;
use crate::store::{Action, Downgraded, Store};

use super::local;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum EventAction {
    /// List recent events with grade, owner and state (事件列表)
    List {
        /// How many events to list
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Show an event's timeline: first source, every copy, engagement, alerts, workflow (事件详情)
    Show {
        /// The event number (#N in alerts)
        id: i64,
    },
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
    /// Downgrade (降级) an event: a recorded decision; automatic grading may later raise it
    /// only above the grade it had
    Downgrade {
        id: i64,
        /// The new grade: II, III or IV (below the current one)
        #[arg(long)]
        to: String,
        #[arg(long)]
        by: String,
        /// Why (required for the audit trail)
        #[arg(long)]
        reason: String,
    },
    /// Mute (静默) an event until a time: no alerts or reminders about it until then,
    /// unless it rises to grade I or II
    Mute {
        id: i64,
        #[arg(long)]
        by: String,
        #[arg(long)]
        reason: String,
        /// When the mute ends: "YYYY-MM-DD HH:MM" (local time) or a span such as 8h, 2d
        #[arg(long)]
        until: String,
    },
}

pub(super) const FEEDBACK_KINDS: [(&str, &str); 4] =
    [("online", "网上发布"), ("expert", "专家解读"), ("press_conference", "新闻发布会"), ("interview", "媒体采访")];

pub(super) fn act(config: &Config, action: EventAction) -> anyhow::Result<ExitCode> {
    let org = &config.response.org;
    let (id, by) = match &action {
        EventAction::List { limit } => return show(config, None, *limit),
        EventAction::Show { id } => return super::timeline::show(config, *id),
        EventAction::Accept { id, by, .. }
        | EventAction::Transfer { id, by, .. }
        | EventAction::Feedback { id, by, .. }
        | EventAction::Close { id, by, .. }
        | EventAction::Downgrade { id, by, .. }
        | EventAction::Mute { id, by, .. } => (*id, by.clone()),
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
        EventAction::Downgrade { to, reason, .. } => return downgrade(config, id, &by, to, reason),
        EventAction::Mute { reason, until, .. } => return mute(config, id, &by, reason, until),
        EventAction::List { .. } | EventAction::Show { .. } => return Ok(ExitCode::SUCCESS),
    };
    let mut store = Store::open(&config.storage_path)?;
    if !store.record_action(id, &record, chrono::Utc::now())? {
        eprintln!("没有编号为 #{id} 的事件（用 yuqing events 查看最近的事件）");
        return Ok(ExitCode::from(1));
    }
    println!("事件 #{id} 已由 {}{done}。", org.person_label(&by));
    Ok(ExitCode::SUCCESS)
}

fn downgrade(config: &Config, id: i64, by: &str, to: &str, reason: &str) -> anyhow::Result<ExitCode> {
    let Some(grade) = Grade::parse(to) else {
        eprintln!("无法识别的级别 \"{to}\"；请写 II、III 或 IV");
        return Ok(ExitCode::from(1));
    };
    let mut store = Store::open(&config.storage_path)?;
    match store.downgrade(id, grade, by, reason, chrono::Utc::now())? {
        Downgraded::From(from) => {
            println!(
                "事件 #{id} 已由 {} 从{}降为{}。此后自动研判只会在超过{}时再升级。",
                config.response.org.person_label(by),
                from.label_zh(),
                grade.label_zh(),
                from.label_zh()
            );
            Ok(ExitCode::SUCCESS)
        }
        Downgraded::NotLower(current) => {
            let current = current.map_or("未分级", |g| g.label_zh());
            eprintln!("事件 #{id} 目前为{current}，{} 不低于现有级别；降级只能降到更低的级别", grade.label_zh());
            Ok(ExitCode::from(1))
        }
        Downgraded::NoEvent => {
            eprintln!("没有编号为 #{id} 的事件（用 yuqing events 查看最近的事件）");
            Ok(ExitCode::from(1))
        }
    }
}

fn mute(config: &Config, id: i64, by: &str, reason: &str, until: &str) -> anyhow::Result<ExitCode> {
    let now = chrono::Utc::now();
    let Some(end) = parse_until(until, now, config.timezone).filter(|t| *t > now) else {
        eprintln!("无法识别的结束时间 \"{until}\"；请写将来的时间，如 \"2026-12-01 18:00\"，或时长，如 8h、2d");
        return Ok(ExitCode::from(1));
    };
    let mut store = Store::open(&config.storage_path)?;
    if !store.mute(id, by, reason, end, now)? {
        eprintln!("没有编号为 #{id} 的事件（用 yuqing events 查看最近的事件）");
        return Ok(ExitCode::from(1));
    }
    println!(
        "事件 #{id} 已由 {} 静默至 {}；其间不发提醒，升为Ⅰ级或Ⅱ级时除外。",
        config.response.org.person_label(by),
        local(end, config.timezone)
    );
    Ok(ExitCode::SUCCESS)
}

/// "2026-12-01 18:00" (local), "2026-12-01", or a span: "90m", "8h", "2d".
fn parse_until(text: &str, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Some((n, unit)) = text.char_indices().last().map(|(i, c)| (&text[..i], c))
        && let Ok(n) = n.parse::<i64>()
    {
        let span = match unit {
            'm' => chrono::Duration::try_minutes(n)?,
            'h' => chrono::Duration::try_hours(n)?,
            'd' => chrono::Duration::try_days(n)?,
            _ => return None,
        };
        return now.checked_add_signed(span);
    }
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .ok()
        .or_else(|| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))?;
    naive.and_local_timezone(tz).earliest().map(|t| t.with_timezone(&Utc))
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
