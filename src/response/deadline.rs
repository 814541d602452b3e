//! Deadline clocks (Art. 4; 国办发〔2016〕61号、80号): per grade, the first authoritative
//! information (5 h) and a press conference (24 h) for I and II, a response (48 h) for III and
//! IV (`[deadlines.*]` in config may change them). Clocks run from the event's creation and keep running after it is accepted; feedback
//! of the matching kind stops a clock. Reminders go out at 50 % and 75 % of a span, and at
//! 100 % the clock escalates one rung up. Calendar hours (working hours come with the
//! holiday calendar).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::grade::Grade;
use super::route::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadlineKind {
    /// 首次权威信息发布
    FirstInformation,
    /// 新闻发布会
    PressConference,
    /// 回应
    Response,
}

impl DeadlineKind {
    pub fn label_zh(self) -> &'static str {
        match self {
            DeadlineKind::FirstInformation => "首次权威信息发布",
            DeadlineKind::PressConference => "新闻发布会",
            DeadlineKind::Response => "回应",
        }
    }

    /// Whether feedback of `kind` (online, expert, press_conference, interview) meets it.
    pub fn met_by(self, kind: &str) -> bool {
        match self {
            DeadlineKind::FirstInformation => matches!(kind, "online" | "expert" | "press_conference" | "interview"),
            DeadlineKind::PressConference => kind == "press_conference",
            DeadlineKind::Response => true,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The clocks of each grade, from `[deadlines.*]` in config or the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Deadlines {
    by_grade: [Vec<(DeadlineKind, Duration)>; 4],
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines { by_grade: Grade::ALL.map(default_deadlines) }
    }
}

impl Deadlines {
    pub fn for_grade(&self, grade: Grade) -> &[(DeadlineKind, Duration)] {
        &self.by_grade[grade as usize]
    }

    /// Replaces a grade's clocks.
    pub fn set(&mut self, grade: Grade, clocks: Vec<(DeadlineKind, Duration)>) {
        self.by_grade[grade as usize] = clocks;
    }
}

/// The default clocks of a grade: (kind, span).
pub fn default_deadlines(grade: Grade) -> Vec<(DeadlineKind, Duration)> {
    let h = |n: u64| Duration::from_secs(n * 3600);
    match grade {
        Grade::I | Grade::II => {
            vec![(DeadlineKind::FirstInformation, h(5)), (DeadlineKind::PressConference, h(24))]
        }
        Grade::III | Grade::IV => vec![(DeadlineKind::Response, h(48))],
    }
}

/// Who hears at each mark: 50 % the section's liaison and head, 75 % its head and leader in
/// charge, 100 % (overdue) the leader in charge and the principal.
const MARKS: [(u32, &[Role]); 3] = [
    (50, &[Role::Liaison, Role::Head]),
    (75, &[Role::Head, Role::LeaderInCharge]),
    (100, &[Role::LeaderInCharge, Role::Principal]),
];

/// A reminder that came due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineReminder {
    /// A notification-log step, distinct from the ladder's (100 + 10 × clock + mark).
    pub step: usize,
    pub kind: DeadlineKind,
    pub span: Duration,
    pub percent: u32,
    pub roles: Vec<Role>,
}

/// The reminders due at `now` for clocks started at `since` and not met by the feedback
/// recorded (`feedback`: the kinds given, with when).
pub fn due_reminders(
    clocks: &[(DeadlineKind, Duration)],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    feedback: &[(String, DateTime<Utc>)],
) -> Vec<DeadlineReminder> {
    let mut out = Vec::new();
    for &(kind, span) in clocks {
        for (m, (percent, roles)) in MARKS.iter().enumerate() {
            let Ok(offset) = chrono::Duration::from_std(span * *percent / 100) else { continue };
            let due = since + offset;
            let met = feedback.iter().any(|(k, at)| kind.met_by(k) && *at <= due);
            if due <= now && !met {
                out.push(DeadlineReminder {
                    step: 100 + 10 * kind.index() + m,
                    kind,
                    span,
                    percent: *percent,
                    roles: roles.to_vec(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_remind_at_half_three_quarters_and_escalate_when_overdue() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let at = |min: i64| t0 + chrono::Duration::minutes(min);
        let due = |grade, now: i64, feedback: &[(&str, i64)]| -> Vec<(DeadlineKind, u32)> {
            let feedback: Vec<(String, DateTime<Utc>)> =
                feedback.iter().map(|(k, m)| (k.to_string(), at(*m))).collect();
            due_reminders(Deadlines::default().for_grade(grade), t0, at(now), &feedback)
                .into_iter()
                .map(|r| (r.kind, r.percent))
                .collect()
        };
        use DeadlineKind::*;
        assert_eq!(due(Grade::II, 149, &[]), vec![]);
        assert_eq!(due(Grade::II, 150, &[]), vec![(FirstInformation, 50)], "2.5 h of 5 h");
        assert_eq!(
            due(Grade::II, 300, &[]),
            vec![(FirstInformation, 50), (FirstInformation, 75), (FirstInformation, 100)]
        );
        // Published online after 3 h: the 5 h clock stops; the press conference clock runs on.
        assert_eq!(due(Grade::II, 12 * 60, &[("online", 180)]), vec![(FirstInformation, 50), (PressConference, 50)]);
        assert_eq!(due(Grade::I, 24 * 60, &[("press_conference", 120)]), vec![]);
        assert_eq!(due(Grade::IV, 48 * 60, &[("interview", 30 * 60)]), vec![(Response, 50)]);
        assert_eq!(due(Grade::III, 36 * 60, &[]), vec![(Response, 50), (Response, 75)]);
        let steps: Vec<usize> = due_reminders(Deadlines::default().for_grade(Grade::II), t0, at(24 * 60), &[])
            .iter()
            .map(|r| r.step)
            .collect();
        assert_eq!(steps, vec![100, 101, 102, 110, 111, 112], "distinct notification-log steps");
        // Configured clocks replace a grade's defaults.
        let mut configured = Deadlines::default();
        configured.set(Grade::III, vec![(Response, Duration::from_secs(24 * 3600))]);
        let at_12h: Vec<u32> =
            due_reminders(configured.for_grade(Grade::III), t0, at(12 * 60), &[]).iter().map(|r| r.percent).collect();
        assert_eq!(at_12h, vec![50]);
    }
}
