//! The response workflow's commands (Art. 10, 13): accept (受理), transfer (转办), feedback
//! (反馈), close (办结), reopen (重新打开), downgrade (降级) and mute (静默), checked against the
//! organisation and the event's state, and recorded in the audit trail. One place for the
//! rules, so `yuqing event …` and the one-click links in alert emails behave the same; every
//! message is for staff, in Chinese.
//!
//! The workflow is a state machine ([`allowed`]): an open event (待受理 or 已受理, muted or
//! not) takes every action but reopen; a closed one only reopen. Accept is refused when the
//! person already accepted since the ladder last started, and — unless the grade's ladder
//! asks each person to accept — when someone else did. Close and mute withdraw the event's
//! queued alerts in the same transaction as the action.
//!
//! [`links`] signs the one-click links in alert emails that lead here.

pub mod links;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::response::Grade;
use crate::store::{Action, Downgraded, EventState, Store, StoreError, Withdraw};

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
    Accept {
        note: Option<String>,
    },
    Transfer {
        to: String,
        reason: String,
    },
    Feedback {
        kind: String,
        link: Option<String>,
        note: Option<String>,
    },
    Close {
        note: Option<String>,
    },
    Reopen {
        note: Option<String>,
    },
    Downgrade {
        to: Grade,
        reason: String,
    },
    Mute {
        until: DateTime<Utc>,
        reason: String,
    },
    /// The joint assessment (会商研判, Art. 8/13): the event's nature, its trend (`up`,
    /// `flat`, `down`), the risks and the proposed handling.
    Assess {
        nature: String,
        trend: String,
        risk: String,
        plan: String,
    },
}

/// The trends an assessment may name, with their Chinese names.
pub const TRENDS: [(&str, &str); 3] = [("up", "上升"), ("flat", "平稳"), ("down", "回落")];

/// The Chinese name of a trend, or the trend itself.
pub fn trend_label(trend: &str) -> &str {
    TRENDS.iter().find(|(k, _)| *k == trend).map_or(trend, |(_, l)| l)
}

/// An assessment's words as stored in the audit trail's note.
pub fn assessment_note(nature: &str, risk: &str, plan: &str) -> String {
    format!("性质：{nature}；风险：{risk}；处置建议：{plan}")
}

impl Command {
    /// The action's name in the audit trail and in signed links.
    pub fn name(&self) -> &'static str {
        self.names().0
    }

    /// The action's Chinese name, for refusals.
    fn label_zh(&self) -> &'static str {
        self.names().1
    }

    fn names(&self) -> (&'static str, &'static str) {
        match self {
            Command::Accept { .. } => ("accept", "受理"),
            Command::Transfer { .. } => ("transfer", "转办"),
            Command::Feedback { .. } => ("feedback", "反馈"),
            Command::Close { .. } => ("close", "办结"),
            Command::Reopen { .. } => ("reopen", "重新打开"),
            Command::Downgrade { .. } => ("downgrade", "降级"),
            Command::Mute { .. } => ("mute", "静默"),
            Command::Assess { .. } => ("assess", "会商研判"),
        }
    }
}

/// Why a command was refused; `Display` is the message for staff.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("\"{given}\" 不在 yuqing.toml 的 [[people]] 中；{hint}")]
    UnknownPerson { given: String, hint: String },
    #[error("\"{given}\" 不在 yuqing.toml 的 [[sections]] 中；{hint}")]
    UnknownSection { given: String, hint: String },
    #[error("未知的反馈方式 \"{0}\"；可用：online、expert、press_conference、interview")]
    UnknownFeedback(String),
    #[error("没有编号为 #{0} 的事件（用 yuqing event list 查看最近的事件）")]
    NoEvent(i64),
    #[error("事件 #{id} 目前为{current}，{asked}不低于现有级别；降级只能降到更低的级别")]
    NotLower { id: i64, current: &'static str, asked: &'static str },
    #[error("静默的结束时间须在将来")]
    MutePast,
    #[error("事件 #{id} 已办结，不能{action}；如需继续办理，先重新打开：yuqing event reopen {id} --by 人员id")]
    Closed { id: i64, action: &'static str },
    #[error("事件 #{0} 未办结，无需重新打开")]
    NotClosed(i64),
    #[error("事件 #{id} 已由 {by}受理，无需重复受理")]
    AlreadyAccepted { id: i64, by: String },
    #[error("事件 #{id} 已由 {section} 负责，不能转办给同一科室")]
    SameSection { id: i64, section: String },
    #[error("无法识别的趋势 \"{0}\"；请写 up（上升）、flat（平稳）或 down（回落）")]
    UnknownTrend(String),
    #[error("会商研判要写明性质（--nature）、风险（--risk）和处置建议（--plan）")]
    IncompleteAssessment,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether `command` by person `by` may be applied to event `id` in `state` (the state
/// machine; `each_person`: the grade's ladder wants every person's own accept). Pure.
pub fn allowed(
    id: i64,
    state: &EventState,
    by: &str,
    command: &Command,
    each_person: bool,
    label: impl Fn(&str) -> String,
) -> Result<(), WorkflowError> {
    match command {
        Command::Reopen { .. } if !state.closed => Err(WorkflowError::NotClosed(id)),
        Command::Reopen { .. } => Ok(()),
        _ if state.closed => Err(WorkflowError::Closed { id, action: command.label_zh() }),
        Command::Accept { .. } => {
            let mine = state.accepted_by.iter().find(|p| p.as_str() == by);
            let other = state.accepted_by.first().filter(|_| !each_person);
            match mine.or(other) {
                Some(p) => Err(WorkflowError::AlreadyAccepted { id, by: label(p) }),
                None => Ok(()),
            }
        }
        Command::Transfer { to, .. } if state.owner.as_deref() == Some(to.as_str()) => {
            Err(WorkflowError::SameSection { id, section: to.clone() })
        }
        _ => Ok(()),
    }
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
    let state = store.event_state(id)?.ok_or(WorkflowError::NoEvent(id))?;
    let each_person = state.grade.is_some_and(|g| config.response.routing.ladders.for_grade(g).each_person);
    allowed(id, &state, by, command, each_person, |p| org.person_label(p).trim_end().to_string())?;
    let who = org.person_label(by);
    let record = |store: &mut Store, action: Action<'_>, withdraw: Option<Withdraw<'_>>| match store
        .record_withdrawing(id, &action, withdraw.as_ref(), now)?
    {
        Some(n) => Ok(n),
        None => Err(WorkflowError::NoEvent(id)),
    };
    let action = |name, target, link, note| Action { action: name, actor: by, target, link, note };
    let withdrawn = |n: usize| if n > 0 { format!("已撤回 {n} 条未发提醒。") } else { String::new() };
    Ok(match command {
        Command::Accept { note } => {
            record(store, action("accept", None, None, note.as_deref()), None)?;
            format!("事件 #{id} 已由 {who}受理；逐级催办停止，办理时限继续计时。")
        }
        Command::Transfer { to, reason } => {
            if org.section(to).is_none() {
                return Err(WorkflowError::UnknownSection { given: to.clone(), hint: org.section_hint(to) });
            }
            record(store, action("transfer", Some(to), None, Some(reason)), None)?;
            format!("事件 #{id} 已由 {who}转办至 {}；该科室的逐级提醒从联络人重新开始。", org.section_label(to))
        }
        Command::Feedback { kind, link, note } => {
            if !FEEDBACK_KINDS.iter().any(|(k, _)| k == kind) {
                return Err(WorkflowError::UnknownFeedback(kind.clone()));
            }
            record(store, action("feedback", Some(kind), link.as_deref(), note.as_deref()), None)?;
            format!("事件 #{id} 已由 {who}反馈（{}）。", feedback_label(kind))
        }
        Command::Close { note } => {
            let withdraw = Withdraw { reason: "事件已办结，撤回未发提醒", due_before: None };
            let n = record(store, action("close", None, None, note.as_deref()), Some(withdraw))?;
            format!("事件 #{id} 已由 {who}办结；不再催办。{}", withdrawn(n))
        }
        Command::Reopen { note } => {
            record(store, action("reopen", None, None, note.as_deref()), None)?;
            format!("事件 #{id} 已由 {who}重新打开；办理时限与逐级提醒照常。")
        }
        Command::Downgrade { to, reason } => match store.downgrade(id, *to, by, reason, now)? {
            Downgraded::From(from) => format!(
                "事件 #{id} 已由 {who}从{}降为{}。此后自动研判只会在超过{}时再升级。",
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
        Command::Assess { nature, trend, risk, plan } => {
            if !TRENDS.iter().any(|(k, _)| k == trend) {
                return Err(WorkflowError::UnknownTrend(trend.clone()));
            }
            if [nature, risk, plan].iter().any(|s| s.trim().is_empty()) {
                return Err(WorkflowError::IncompleteAssessment);
            }
            let note = assessment_note(nature.trim(), risk.trim(), plan.trim());
            record(store, action("assess", Some(trend), None, Some(&note)), None)?;
            format!("事件 #{id} 的会商研判已由 {who}记录（趋势：{}）。", trend_label(trend))
        }
        Command::Mute { until, reason } => {
            if *until <= now {
                return Err(WorkflowError::MutePast);
            }
            let Some(n) = store.mute(id, by, reason, *until, now)? else {
                return Err(WorkflowError::NoEvent(id));
            };
            let end = until.with_timezone(&config.timezone).format("%Y-%m-%d %H:%M");
            format!("事件 #{id} 已由 {who}静默至 {end}；其间不发提醒，升为Ⅰ级或Ⅱ级时除外。{}", withdrawn(n))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn until() -> DateTime<Utc> {
        DateTime::from_timestamp(2_000_000_000, 0).unwrap_or_default()
    }

    /// Every command once, by person "wang".
    fn commands() -> Vec<Command> {
        vec![
            Command::Accept { note: None },
            Command::Transfer { to: "office".into(), reason: "r".into() },
            Command::Feedback { kind: "online".into(), link: None, note: None },
            Command::Close { note: None },
            Command::Reopen { note: None },
            Command::Downgrade { to: Grade::IV, reason: "r".into() },
            Command::Mute { until: until(), reason: "r".into() },
            Command::Assess { nature: "n".into(), trend: "up".into(), risk: "r".into(), plan: "p".into() },
        ]
    }

    /// The states an event can be in, by name.
    fn states() -> Vec<(&'static str, EventState)> {
        let open = EventState { grade: Some(Grade::III), owner: Some("preferential".into()), ..EventState::default() };
        vec![
            ("待受理", open.clone()),
            ("已由本人受理", EventState { accepted_by: vec!["wang".into()], ..open.clone() }),
            ("已由他人受理", EventState { accepted_by: vec!["li".into()], ..open.clone() }),
            ("静默中", EventState { muted_until: Some(until()), ..open.clone() }),
            ("已办结", EventState { closed: true, ..open.clone() }),
            ("已办结且受理过", EventState { closed: true, accepted_by: vec!["wang".into()], ..open }),
        ]
    }

    /// The whole table: state × command → allowed, with and without each-person accepts.
    #[test]
    fn every_state_and_command() {
        //            accept transfer feedback close reopen downgrade mute assess
        let table: [(&str, [bool; 8], [bool; 8]); 6] = [
            (
                "待受理",
                [true, true, true, true, false, true, true, true],
                [true, true, true, true, false, true, true, true],
            ),
            (
                "已由本人受理",
                [false, true, true, true, false, true, true, true],
                [false, true, true, true, false, true, true, true],
            ),
            (
                "已由他人受理",
                [false, true, true, true, false, true, true, true],
                [true, true, true, true, false, true, true, true],
            ),
            (
                "静默中",
                [true, true, true, true, false, true, true, true],
                [true, true, true, true, false, true, true, true],
            ),
            (
                "已办结",
                [false, false, false, false, true, false, false, false],
                [false, false, false, false, true, false, false, false],
            ),
            (
                "已办结且受理过",
                [false, false, false, false, true, false, false, false],
                [false, false, false, false, true, false, false, false],
            ),
        ];
        for ((name, state), (row, one, each)) in states().into_iter().zip(table) {
            assert_eq!(name, row);
            for (command, (want_one, want_each)) in commands().iter().zip(one.into_iter().zip(each)) {
                let got = allowed(1, &state, "wang", command, false, str::to_string).is_ok();
                assert_eq!(got, want_one, "{name} × {}", command.name());
                let got = allowed(1, &state, "wang", command, true, str::to_string).is_ok();
                assert_eq!(got, want_each, "{name} × {} (each person accepts)", command.name());
            }
        }
    }

    #[test]
    fn refusals_say_why_in_chinese() {
        let states: std::collections::HashMap<_, _> = states().into_iter().collect();
        let closed = &states["已办结"];
        let refusal = allowed(7, closed, "wang", &Command::Accept { note: None }, false, str::to_string);
        let text = refusal.map_err(|e| e.to_string()).err().unwrap_or_default();
        assert!(text.contains("#7 已办结，不能受理") && text.contains("yuqing event reopen 7"), "{text}");
        let again = allowed(7, &states["已由他人受理"], "wang", &Command::Accept { note: None }, false, |p| {
            format!("{p}科长")
        });
        assert_eq!(again.map_err(|e| e.to_string()).err().as_deref(), Some("事件 #7 已由 li科长受理，无需重复受理"));
        let same = Command::Transfer { to: "preferential".into(), reason: "r".into() };
        assert!(matches!(
            allowed(7, &states["待受理"], "wang", &same, false, str::to_string),
            Err(WorkflowError::SameSection { .. })
        ));
        let reopen = allowed(7, &states["待受理"], "wang", &Command::Reopen { note: None }, false, str::to_string);
        assert!(matches!(reopen, Err(WorkflowError::NotClosed(7))));
    }
}
