//! The response workflow's commands (Art. 10, 13): accept (受理), transfer (转办), feedback
//! (反馈), close (办结), downgrade (降级) and mute (静默), checked against the organisation
//! and recorded in the audit trail. One place for the rules, so `yuqing event …` and the
//! one-click links in alert emails behave the same; every message is for staff, in Chinese.

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::response::Grade;
use crate::store::{Action, Downgraded, Store, StoreError};

/// The kinds of response feedback records (Art. 4), with their Chinese names.
pub const FEEDBACK_KINDS: [(&str, &str); 4] =
    [("online", "网上发布"), ("expert", "专家解读"), ("press_conference", "新闻发布会"), ("interview", "媒体采访")];

/// The Chinese name of a feedback kind, or the kind itself.
pub fn feedback_label(kind: &str) -> &str {
    FEEDBACK_KINDS.iter().find(|(k, _)| *k == kind).map_or(kind, |(_, l)| l)
}

/// A workflow command on an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Accept { note: Option<String> },
    Transfer { to: String, reason: String },
    Feedback { kind: String, link: Option<String>, note: Option<String> },
    Close { note: Option<String> },
    Downgrade { to: Grade, reason: String },
    Mute { until: DateTime<Utc>, reason: String },
}

impl Command {
    /// The action's name in the audit trail and in signed links.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Accept { .. } => "accept",
            Command::Transfer { .. } => "transfer",
            Command::Feedback { .. } => "feedback",
            Command::Close { .. } => "close",
            Command::Downgrade { .. } => "downgrade",
            Command::Mute { .. } => "mute",
        }
    }
}

/// Why a command was refused; `Display` is the message for staff.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("\"{given}\" 不在 yuqing.toml 的 [[people]] 中；{hint}")]
    UnknownPerson { given: String, hint: String },
    #[error("\"{0}\" 不在 yuqing.toml 的 [[sections]] 中；请写科室 id")]
    UnknownSection(String),
    #[error("未知的反馈方式 \"{0}\"；可用：online、expert、press_conference、interview")]
    UnknownFeedback(String),
    #[error("没有编号为 #{0} 的事件（用 yuqing event list 查看最近的事件）")]
    NoEvent(i64),
    #[error("事件 #{id} 目前为{current}，{asked}不低于现有级别；降级只能降到更低的级别")]
    NotLower { id: i64, current: &'static str, asked: &'static str },
    #[error("静默的结束时间须在将来")]
    MutePast,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks and records `command` on event `id` by person `by` at `now`; returns what was
/// done, as a sentence for staff.
pub fn apply(
    store: &mut Store,
    config: &Config,
    id: i64,
    by: &str,
    command: &Command,
    now: DateTime<Utc>,
) -> Result<String, WorkflowError> {
    let org = &config.response.org;
    if !org.people.is_empty() && org.person(by).is_none() {
        return Err(WorkflowError::UnknownPerson { given: by.to_string(), hint: org.person_hint(by) });
    }
    let who = org.person_label(by);
    let record = |store: &mut Store, action: Action<'_>| -> Result<(), WorkflowError> {
        match store.record_action(id, &action, now)? {
            true => Ok(()),
            false => Err(WorkflowError::NoEvent(id)),
        }
    };
    let action = |name, target, link, note| Action { action: name, actor: by, target, link, note };
    Ok(match command {
        Command::Accept { note } => {
            record(store, action("accept", None, None, note.as_deref()))?;
            format!("事件 #{id} 已由 {who}受理；逐级催办停止，办理时限继续计时。")
        }
        Command::Transfer { to, reason } => {
            if org.section(to).is_none() {
                return Err(WorkflowError::UnknownSection(to.clone()));
            }
            record(store, action("transfer", Some(to), None, Some(reason)))?;
            format!("事件 #{id} 已由 {who}转办至 {}；该科室的逐级提醒从联络人重新开始。", org.section_label(to))
        }
        Command::Feedback { kind, link, note } => {
            if !FEEDBACK_KINDS.iter().any(|(k, _)| k == kind) {
                return Err(WorkflowError::UnknownFeedback(kind.clone()));
            }
            record(store, action("feedback", Some(kind), link.as_deref(), note.as_deref()))?;
            format!("事件 #{id} 已由 {who}反馈（{}）。", feedback_label(kind))
        }
        Command::Close { note } => {
            record(store, action("close", None, None, note.as_deref()))?;
            format!("事件 #{id} 已由 {who}办结；不再催办。")
        }
        Command::Downgrade { to, reason } => match store.downgrade(id, *to, by, reason, now)? {
            Downgraded::From(from) => format!(
                "事件 #{id} 已由 {who} 从{}降为{}。此后自动研判只会在超过{}时再升级。",
                from.label_zh(),
                to.label_zh(),
                from.label_zh()
            ),
            Downgraded::NotLower(current) => {
                let current = current.map_or("未分级", |g| g.label_zh());
                return Err(WorkflowError::NotLower { id, current, asked: to.label_zh() });
            }
            Downgraded::NoEvent => return Err(WorkflowError::NoEvent(id)),
        },
        Command::Mute { until, reason } => {
            if *until <= now {
                return Err(WorkflowError::MutePast);
            }
            if !store.mute(id, by, reason, *until, now)? {
                return Err(WorkflowError::NoEvent(id));
            }
            let end = until.with_timezone(&config.timezone).format("%Y-%m-%d %H:%M");
            format!("事件 #{id} 已由 {who} 静默至 {end}；其间不发提醒，升为Ⅰ级或Ⅱ级时除外。")
        }
    })
}
