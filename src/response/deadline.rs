//! Deadline clocks (Art. 4; 国办发〔2016〕61号、80号): per grade, accepting the event (受理:
//! 15 min for I, 30 min for II, 2 h for III, 4 working hours for IV), the first authoritative
//! information (5 h) and a press conference (24 h) for I and II, a response (48 h) for III
//! and IV (`[deadlines.*]` in config may change them). A span is calendar time or working
//! time (counted on the [`WorkCalendar`]). The accept clock runs from when the current owner
//! got the event (its creation or latest transfer) and an accept stops it; the others run
//! from the event's creation, keep running after it is accepted, and feedback of the
//! matching kind stops them. Reminders go out at 50 % and 75 % of a span, and at 100 % the
//! clock escalates one rung up.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::grade::Grade;
use super::route::Role;
use crate::time::calendar::WorkCalendar;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadlineKind {
    /// 首次权威信息发布
    FirstInformation,
    /// 新闻发布会
    PressConference,
    /// 回应
    Response,
    /// 受理 (after the others, so their notification-log steps stay what they were)
    Accept,
}

impl DeadlineKind {
    /// In the order a grade's clocks are listed.
    pub const ALL: [DeadlineKind; 4] =
        [DeadlineKind::Accept, DeadlineKind::FirstInformation, DeadlineKind::PressConference, DeadlineKind::Response];

    pub fn label_zh(self) -> &'static str {
        match self {
            DeadlineKind::FirstInformation => "首次权威信息发布",
            DeadlineKind::PressConference => "新闻发布会",
            DeadlineKind::Response => "回应",
            DeadlineKind::Accept => "受理",
        }
    }

    /// The config name (`accept` in `accept_minutes`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineKind::FirstInformation => "first_information",
            DeadlineKind::PressConference => "press_conference",
            DeadlineKind::Response => "response",
            DeadlineKind::Accept => "accept",
        }
    }

    /// Whether feedback of `kind` (online, expert, press_conference, interview) meets it;
    /// never for the accept clock, which only an accept meets.
    pub fn met_by(self, kind: &str) -> bool {
        match self {
            DeadlineKind::FirstInformation => matches!(kind, "online" | "expert" | "press_conference" | "interview"),
            DeadlineKind::PressConference => kind == "press_conference",
            DeadlineKind::Response => true,
            DeadlineKind::Accept => false,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How long a clock runs: calendar time, or working time on the [`WorkCalendar`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Span {
    Calendar(Duration),
    Working(Duration),
}

impl Span {
    pub fn duration(self) -> Duration {
        match self {
            Span::Calendar(d) | Span::Working(d) => d,
        }
    }

    pub fn is_working(self) -> bool {
        matches!(self, Span::Working(_))
    }

    /// When `percent` of the span has gone by after `start`.
    pub fn mark(self, start: DateTime<Utc>, percent: u32, calendar: &WorkCalendar) -> DateTime<Utc> {
        match self {
            Span::Calendar(d) => {
                let part = chrono::Duration::from_std(d * percent / 100).unwrap_or(chrono::Duration::MAX);
                start.checked_add_signed(part).unwrap_or(DateTime::<Utc>::MAX_UTC)
            }
            Span::Working(d) => calendar.add_working(start, d * percent / 100),
        }
    }
}

/// The clocks of each grade, from `[deadlines.*]` in config or the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Deadlines {
    by_grade: [Vec<(DeadlineKind, Span)>; 4],
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines { by_grade: Grade::ALL.map(default_deadlines) }
    }
}

impl Deadlines {
    pub fn for_grade(&self, grade: Grade) -> &[(DeadlineKind, Span)] {
        &self.by_grade[grade as usize]
    }

    /// Replaces a grade's clocks.
    pub fn set(&mut self, grade: Grade, clocks: Vec<(DeadlineKind, Span)>) {
        self.by_grade[grade as usize] = clocks;
    }
}

/// The default clocks of a grade: (kind, span).
pub fn default_deadlines(grade: Grade) -> Vec<(DeadlineKind, Span)> {
    let m = |n: u64| Span::Calendar(Duration::from_secs(n * 60));
    let h = |n: u64| Span::Calendar(Duration::from_secs(n * 3600));
    use DeadlineKind::*;
    match grade {
        Grade::I => vec![(Accept, m(15)), (FirstInformation, h(5)), (PressConference, h(24))],
        Grade::II => vec![(Accept, m(30)), (FirstInformation, h(5)), (PressConference, h(24))],
        Grade::III => vec![(Accept, h(2)), (Response, h(48))],
        Grade::IV => vec![(Accept, Span::Working(Duration::from_secs(4 * 3600))), (Response, h(48))],
    }
}

/// Who hears at each mark: 50 % the section's liaison and head, 75 % its head and leader in
/// charge, 100 % (overdue) the leader in charge and the principal.
const MARKS: [(u32, &[Role]); 3] = [
    (50, &[Role::Liaison, Role::Head]),
    (75, &[Role::Head, Role::LeaderInCharge]),
    (100, &[Role::LeaderInCharge, Role::Principal]),
];

/// What an event's clocks go by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress<'a> {
    /// The event's creation: the feedback clocks run from here.
    pub created_at: DateTime<Utc>,
    /// When the current owner got the event (its creation or latest transfer): the accept
    /// clock runs from here.
    pub owned_since: DateTime<Utc>,
    /// The first accept by the current owner.
    pub accepted_at: Option<DateTime<Utc>>,
    /// Feedback recorded: (kind, when).
    pub feedback: &'a [(String, DateTime<Utc>)],
    /// The grade's alerts wait for working time (`[delivery] quiet_hours`): nobody is told
    /// before the next working period, so its clocks start there, never before anyone knew.
    pub held: bool,
}

impl Progress<'_> {
    /// When a clock of `kind` starts: the accept clock when the current owner got the event,
    /// the others at its creation — for a held grade, at the next working time after that.
    fn start(&self, kind: DeadlineKind, calendar: &WorkCalendar) -> DateTime<Utc> {
        let from = if kind == DeadlineKind::Accept { self.owned_since } else { self.created_at };
        if self.held { calendar.next_working_start(from) } else { from }
    }
}

/// A reminder that came due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineReminder {
    /// A notification-log step, distinct from the ladder's (100 + 10 × clock + mark).
    pub step: usize,
    pub kind: DeadlineKind,
    pub span: Span,
    pub percent: u32,
    pub roles: Vec<Role>,
    /// When the clock started.
    pub started: DateTime<Utc>,
    /// When the mark came due.
    pub due: DateTime<Utc>,
}

/// The reminders due at `now` for the clocks of an event not met in time: an accept clock by
/// the accept, the others by feedback of a matching kind, at or before each mark.
pub fn due_reminders(
    clocks: &[(DeadlineKind, Span)],
    calendar: &WorkCalendar,
    progress: &Progress<'_>,
    now: DateTime<Utc>,
) -> Vec<DeadlineReminder> {
    let mut out = Vec::new();
    for &(kind, span) in clocks {
        let started = progress.start(kind, calendar);
        for (m, (percent, roles)) in MARKS.iter().enumerate() {
            let due = span.mark(started, *percent, calendar);
            if due > now {
                break;
            }
            let met = match kind {
                DeadlineKind::Accept => progress.accepted_at.is_some_and(|at| at <= due),
                _ => progress.feedback.iter().any(|(k, at)| kind.met_by(k) && *at <= due),
            };
            if !met {
                out.push(DeadlineReminder {
                    step: 100 + 10 * kind.index() + m,
                    kind,
                    span,
                    percent: *percent,
                    roles: roles.to_vec(),
                    started,
                    due,
                });
            }
        }
    }
    out
}

/// Where one clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Met at this time, by its due time.
    Met(DateTime<Utc>),
    /// Met at this time, after its due time.
    Late(DateTime<Utc>),
    /// Past its due time and not met.
    Missed,
    /// Not met, not yet due.
    Running,
}

/// One clock of an event: its due time and how it stands at `now` (for timelines and reports).
pub fn clock_outcome(
    kind: DeadlineKind,
    span: Span,
    calendar: &WorkCalendar,
    progress: &Progress<'_>,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, Outcome) {
    let due = span.mark(progress.start(kind, calendar), 100, calendar);
    let met = match kind {
        DeadlineKind::Accept => progress.accepted_at.filter(|at| *at <= now),
        _ => progress.feedback.iter().filter(|(k, at)| kind.met_by(k) && *at <= now).map(|(_, at)| *at).min(),
    };
    let outcome = match met {
        Some(at) if at <= due => Outcome::Met(at),
        Some(at) => Outcome::Late(at),
        None if now >= due => Outcome::Missed,
        None => Outcome::Running,
    };
    (due, outcome)
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone};

    use super::*;

    fn no_accept() -> Deadlines {
        let mut d = Deadlines::default();
        for grade in Grade::ALL {
            let clocks = d.for_grade(grade).iter().copied().filter(|(k, _)| *k != DeadlineKind::Accept).collect();
            d.set(grade, clocks);
        }
        d
    }

    #[test]
    fn clocks_remind_at_half_three_quarters_and_escalate_when_overdue() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let at = |min: i64| t0 + chrono::Duration::minutes(min);
        let calendar = WorkCalendar::default();
        let deadlines = no_accept();
        let due = |grade, now: i64, feedback: &[(&str, i64)]| -> Vec<(DeadlineKind, u32)> {
            let feedback: Vec<(String, DateTime<Utc>)> =
                feedback.iter().map(|(k, m)| (k.to_string(), at(*m))).collect();
            let progress =
                Progress { created_at: t0, owned_since: t0, accepted_at: None, held: false, feedback: &feedback };
            due_reminders(deadlines.for_grade(grade), &calendar, &progress, at(now))
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
        // Configured clocks replace a grade's defaults.
        let mut configured = Deadlines::default();
        configured.set(Grade::III, vec![(Response, Span::Calendar(Duration::from_secs(24 * 3600)))]);
        let progress = Progress { created_at: t0, owned_since: t0, accepted_at: None, held: false, feedback: &[] };
        let at_12h: Vec<u32> = due_reminders(configured.for_grade(Grade::III), &calendar, &progress, at(12 * 60))
            .iter()
            .map(|r| r.percent)
            .collect();
        assert_eq!(at_12h, vec![50]);
    }

    #[test]
    fn default_clocks_per_grade() {
        let spans = |grade| -> Vec<(DeadlineKind, Span)> { Deadlines::default().for_grade(grade).to_vec() };
        let m = |n: u64| Span::Calendar(Duration::from_secs(n * 60));
        use DeadlineKind::*;
        assert_eq!(spans(Grade::I), vec![(Accept, m(15)), (FirstInformation, m(300)), (PressConference, m(1440))]);
        assert_eq!(spans(Grade::II), vec![(Accept, m(30)), (FirstInformation, m(300)), (PressConference, m(1440))]);
        assert_eq!(spans(Grade::III), vec![(Accept, m(120)), (Response, m(2880))]);
        assert_eq!(spans(Grade::IV), vec![(Accept, Span::Working(Duration::from_secs(4 * 3600))), (Response, m(2880))]);
    }

    #[test]
    fn notification_log_steps_stay_distinct_and_keep_their_old_numbers() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let calendar = WorkCalendar::default();
        let progress = Progress { created_at: t0, owned_since: t0, accepted_at: None, held: false, feedback: &[] };
        let steps = |grade| -> Vec<(DeadlineKind, usize)> {
            let now = t0 + chrono::Duration::days(30);
            due_reminders(Deadlines::default().for_grade(grade), &calendar, &progress, now)
                .iter()
                .map(|r| (r.kind, r.step))
                .collect()
        };
        use DeadlineKind::*;
        // First information 100–102, press conference 110–112 and response 120–122 as before
        // the accept clock existed; accept takes 130–132.
        assert_eq!(
            steps(Grade::II),
            vec![
                (Accept, 130),
                (Accept, 131),
                (Accept, 132),
                (FirstInformation, 100),
                (FirstInformation, 101),
                (FirstInformation, 102),
                (PressConference, 110),
                (PressConference, 111),
                (PressConference, 112)
            ]
        );
        let iv: Vec<usize> = steps(Grade::IV).into_iter().map(|(_, s)| s).collect();
        assert_eq!(iv, vec![130, 131, 132, 120, 121, 122]);
    }

    #[test]
    fn an_accept_stops_the_accept_clock_only() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let at = |min: i64| t0 + chrono::Duration::minutes(min);
        let calendar = WorkCalendar::default();
        let due = |grade, now: i64, accepted: Option<i64>| -> Vec<(DeadlineKind, u32)> {
            let progress =
                Progress { created_at: t0, owned_since: t0, accepted_at: accepted.map(at), held: false, feedback: &[] };
            due_reminders(Deadlines::default().for_grade(grade), &calendar, &progress, at(now))
                .into_iter()
                .map(|r| (r.kind, r.percent))
                .collect()
        };
        use DeadlineKind::*;
        assert_eq!(due(Grade::I, 7, None), vec![]);
        assert_eq!(due(Grade::I, 8, None), vec![(Accept, 50)], "7.5 of 15 minutes");
        assert_eq!(due(Grade::I, 15, None), vec![(Accept, 50), (Accept, 75), (Accept, 100)]);
        // Accepted after 10 minutes: the 50 % mark was missed, the others are met.
        assert_eq!(due(Grade::I, 60, Some(10)), vec![(Accept, 50)]);
        assert_eq!(due(Grade::II, 60, Some(5)), vec![]);
        // Accepting does not stop the other clocks.
        assert_eq!(due(Grade::II, 150, Some(5)), vec![(FirstInformation, 50)]);
        assert_eq!(due(Grade::III, 90, None), vec![(Accept, 50), (Accept, 75)], "1 h and 1.5 h of 2 h");
        // Feedback is no accept.
        let feedback = [("online".to_string(), at(1))];
        let progress =
            Progress { created_at: t0, owned_since: t0, accepted_at: None, held: false, feedback: &feedback };
        let r = due_reminders(Deadlines::default().for_grade(Grade::III), &calendar, &progress, at(61));
        assert_eq!(r.iter().map(|r| (r.kind, r.percent)).collect::<Vec<_>>(), vec![(Accept, 50)]);
    }

    #[test]
    fn the_accept_clock_restarts_with_a_transfer() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let at = |min: i64| t0 + chrono::Duration::minutes(min);
        let calendar = WorkCalendar::default();
        // Transferred after 3 h; the new section has not accepted yet.
        let progress = Progress { created_at: t0, owned_since: at(180), accepted_at: None, held: false, feedback: &[] };
        let due = |now| -> Vec<(DeadlineKind, u32, i64)> {
            due_reminders(Deadlines::default().for_grade(Grade::III), &calendar, &progress, at(now))
                .into_iter()
                .map(|r| (r.kind, r.percent, (r.started - t0).num_minutes()))
                .collect()
        };
        assert_eq!(due(239), vec![]);
        assert_eq!(due(240), vec![(DeadlineKind::Accept, 50, 180)]);
        // The response clock still counts from the creation.
        let r = due(24 * 60);
        assert!(r.contains(&(DeadlineKind::Response, 50, 0)), "{r:?}");
    }

    /// Beijing time "2026-04-03 16:00" as an instant.
    fn bj(s: &str) -> DateTime<Utc> {
        let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_default();
        chrono_tz::Asia::Shanghai
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn show(t: DateTime<Utc>) -> String {
        t.with_timezone(&chrono_tz::Asia::Shanghai).format("%m-%d %H:%M").to_string()
    }

    /// 清明 and the Spring Festival of 2026 (国办发明电〔2025〕7号).
    fn calendar_2026() -> WorkCalendar {
        let days = |from: &str, to: &str| -> Vec<NaiveDate> {
            let parse = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
            parse(from).iter_days().take_while(|d| *d <= parse(to)).collect()
        };
        let mut cal = WorkCalendar::default();
        let holidays = [days("2026-02-15", "2026-02-23"), days("2026-04-04", "2026-04-06")].concat();
        let workdays = [days("2026-02-14", "2026-02-14"), days("2026-02-28", "2026-02-28")].concat();
        assert_eq!(cal.add_year(2026, &holidays, &workdays), Ok(()));
        cal
    }

    #[test]
    fn working_hour_accept_marks_land_on_the_next_working_day() {
        let calendar = calendar_2026();
        // A grade IV event on Friday 3 April 16:00, before the 清明 weekend (Saturday–Monday).
        let created = bj("2026-04-03 16:00");
        let progress =
            Progress { created_at: created, owned_since: created, accepted_at: None, held: false, feedback: &[] };
        let clocks = Deadlines::default();
        let accept_marks = |now| -> Vec<(u32, String)> {
            due_reminders(clocks.for_grade(Grade::IV), &calendar, &progress, now)
                .into_iter()
                .filter(|r| r.kind == DeadlineKind::Accept)
                .map(|r| (r.percent, show(r.due)))
                .collect()
        };
        // 1.5 working hours on Friday, none over the holiday, the rest on Tuesday 7 April.
        assert_eq!(accept_marks(bj("2026-04-06 23:59")), vec![]);
        assert_eq!(accept_marks(bj("2026-04-07 08:59")), vec![]);
        assert_eq!(accept_marks(bj("2026-04-07 09:00")), vec![(50, "04-07 09:00".into())]);
        assert_eq!(
            accept_marks(bj("2026-04-07 11:00")),
            vec![(50, "04-07 09:00".into()), (75, "04-07 10:00".into()), (100, "04-07 11:00".into())]
        );
        // The 48 h response clock is calendar time: it ran out on Sunday.
        let response: Vec<String> =
            due_reminders(clocks.for_grade(Grade::IV), &calendar, &progress, bj("2026-04-06 00:00"))
                .into_iter()
                .filter(|r| r.kind == DeadlineKind::Response)
                .map(|r| show(r.due))
                .collect();
        assert_eq!(response, vec!["04-04 16:00", "04-05 04:00", "04-05 16:00"]);
        // Accepted on Tuesday at 09:30: only the 50 % mark was missed.
        let accepted = Progress { accepted_at: Some(bj("2026-04-07 09:30")), ..progress };
        let r = due_reminders(clocks.for_grade(Grade::IV), &calendar, &accepted, bj("2026-04-08 12:00"));
        let accept: Vec<u32> = r.iter().filter(|r| r.kind == DeadlineKind::Accept).map(|r| r.percent).collect();
        assert_eq!(accept, vec![50]);

        // Friday 13 February 16:00, before the Spring Festival: Saturday the 14th is a make-up
        // workday, so the marks fall on it and not after the nine days off.
        let created = bj("2026-02-13 16:00");
        let progress =
            Progress { created_at: created, owned_since: created, accepted_at: None, held: false, feedback: &[] };
        let marks: Vec<(u32, String)> =
            due_reminders(clocks.for_grade(Grade::IV), &calendar, &progress, bj("2026-02-24 00:00"))
                .into_iter()
                .filter(|r| r.kind == DeadlineKind::Accept)
                .map(|r| (r.percent, show(r.due)))
                .collect();
        assert_eq!(marks, vec![(50, "02-14 09:00".into()), (75, "02-14 10:00".into()), (100, "02-14 11:00".into())]);
    }

    /// Regression: the grade III accept clock (2 h) ran out at 20:50 while the event's only
    /// alert was held by quiet hours until the next morning. A held grade's clocks start when
    /// its alerts go out, at the next working time.
    #[test]
    fn a_held_grades_clocks_start_when_its_alerts_go_out() {
        let calendar = calendar_2026();
        let created = bj("2026-04-02 18:50");
        let told = calendar.next_working_start(created);
        assert_eq!(show(told), "04-03 08:30", "Friday morning");
        let clocks = Deadlines::default();
        let due = |held: bool, kind: DeadlineKind| {
            let progress =
                Progress { created_at: created, owned_since: created, accepted_at: None, held, feedback: &[] };
            let span = clocks.for_grade(Grade::III).iter().find(|(k, _)| *k == kind).map(|(_, s)| *s).expect("clock");
            show(clock_outcome(kind, span, &calendar, &progress, created).0)
        };
        assert_eq!(due(false, DeadlineKind::Accept), "04-02 20:50", "not held: wall-clock from creation");
        assert_eq!(due(true, DeadlineKind::Accept), "04-03 10:30", "held: two hours after it was told");
        assert_eq!(due(true, DeadlineKind::Response), "04-05 08:30");
        // No reminder falls before anyone was told.
        let progress =
            Progress { created_at: created, owned_since: created, accepted_at: None, held: true, feedback: &[] };
        assert!(due_reminders(clocks.for_grade(Grade::III), &calendar, &progress, bj("2026-04-03 08:29")).is_empty());
        // Created in working time: nothing changes.
        let noon = bj("2026-04-03 10:00");
        let progress = Progress { created_at: noon, owned_since: noon, accepted_at: None, held: true, feedback: &[] };
        let accept = clocks.for_grade(Grade::III)[0];
        assert_eq!(show(clock_outcome(accept.0, accept.1, &calendar, &progress, noon).0), "04-03 12:00");
    }

    #[test]
    fn working_spans_use_the_calendar_calendar_spans_do_not() {
        let calendar = WorkCalendar::default();
        let friday = bj("2026-03-06 16:00");
        let four = Duration::from_secs(4 * 3600);
        assert_eq!(show(Span::Working(four).mark(friday, 50, &calendar)), "03-09 09:00", "2 working hours");
        assert_eq!(show(Span::Working(four).mark(friday, 100, &calendar)), "03-09 11:00");
        assert_eq!(show(Span::Calendar(four).mark(friday, 50, &calendar)), "03-06 18:00");
        assert_eq!(show(Span::Calendar(four).mark(friday, 100, &calendar)), "03-06 20:00");
    }
}
