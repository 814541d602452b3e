//! Periodic briefings (Art. 10 定期通报) and the yearly assessment (Art. 15 考核): a [`Report`]
//! over the events created in a [`Period`] — counts by grade, Art. 9 category, owning section,
//! source and flag; per section the time to accept and to first feedback and the deadlines
//! met, missed and still running; the open events with their overdue deadlines. Rendered as
//! text ([`text`]), CSV ([`csv`]) or one printable HTML file with SVG charts ([`html`]).
//!
//! Pure given the stored rows and `now` ([`Report::build`]); [`Report::load`] reads them.
//! The workflow is taken as it stood at the report's end (`as_of`: the period's end, or
//! now if that is earlier): actions recorded later are not counted, so a report on a past
//! period reads the same whenever it is made. Grades and documents are as stored now.

pub mod brief;
pub mod briefing;
pub mod csv;
pub mod html;
pub mod policy;
pub mod policy_render;
pub mod text;
pub mod timeline;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::Config;
use crate::model::FlagKind;
use crate::response::Grade;
use crate::response::deadline::{DeadlineKind, Outcome, Progress, Span, clock_outcome};
use crate::rules::Category;
use crate::store::{ActionRecord, ReportEvent, Store, StoreError};
use crate::time::calendar::WorkCalendar;

/// `--from`/`--to` omitted: the last seven days, today included.
pub const DEFAULT_DAYS: u64 = 7;
/// How many sources the report lists.
pub const TOP_SOURCES: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the period starts ({from}) after it ends ({to})")]
    BackwardsPeriod { from: NaiveDate, to: NaiveDate },
    #[error("the date {0} does not exist in the configured timezone")]
    NoSuchDate(NaiveDate),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write CSV: {0}")]
    Csv(#[from] ::csv::Error),
}

impl ReportError {
    /// The message for staff.
    pub fn describe_zh(&self) -> String {
        match self {
            ReportError::BackwardsPeriod { from, to } => format!("起始日期 {from} 晚于截止日期 {to}"),
            ReportError::NoSuchDate(date) => format!("日期 {date} 在所配置的时区中不存在"),
            ReportError::Store(e) => format!("读取数据库失败：{}", e.describe_zh()),
            ReportError::Csv(e) => format!("生成 CSV 失败：{e}"),
        }
    }
}

/// Whole days `from..=to` in the configured timezone, as instants `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub timezone: Tz,
    pub start: DateTime<Utc>,
    /// Exclusive: the first instant of the day after `to`.
    pub end: DateTime<Utc>,
}

impl Period {
    /// Days `from` to `to`, both inclusive.
    pub fn new(from: NaiveDate, to: NaiveDate, timezone: Tz) -> Result<Self, ReportError> {
        if from > to {
            return Err(ReportError::BackwardsPeriod { from, to });
        }
        let next = to.succ_opt().ok_or(ReportError::NoSuchDate(to))?;
        Ok(Period { from, to, timezone, start: day_start(from, timezone)?, end: day_start(next, timezone)? })
    }

    /// The instants `[start, end)`, not necessarily whole days (a briefing's period ends at its
    /// due time); `from`/`to` are the local days of its first and last instant.
    pub fn between(start: DateTime<Utc>, end: DateTime<Utc>, timezone: Tz) -> Self {
        let end = end.max(start);
        let last = if end > start { end - chrono::Duration::seconds(1) } else { end };
        Period {
            from: start.with_timezone(&timezone).date_naive(),
            to: last.with_timezone(&timezone).date_naive(),
            timezone,
            start,
            end,
        }
    }

    /// The period the command line asks for: a missing `to` is today, a missing `from` is
    /// [`DEFAULT_DAYS`] days ending at `to`.
    pub fn resolve(
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        now: DateTime<Utc>,
        timezone: Tz,
    ) -> Result<Self, ReportError> {
        let to = to.unwrap_or_else(|| now.with_timezone(&timezone).date_naive());
        let from = match from {
            Some(from) => from,
            None => to.checked_sub_days(chrono::Days::new(DEFAULT_DAYS - 1)).ok_or(ReportError::NoSuchDate(to))?,
        };
        Self::new(from, to, timezone)
    }
}

/// The first instant of a local day (after a gap, when midnight does not exist there).
fn day_start(date: NaiveDate, tz: Tz) -> Result<DateTime<Utc>, ReportError> {
    (0..24)
        .filter_map(|hour| date.and_hms_opt(hour, 0, 0))
        .find_map(|t| tz.from_local_datetime(&t).earliest())
        .map(|t| t.with_timezone(&Utc))
        .ok_or(ReportError::NoSuchDate(date))
}

/// An event's workflow as it stood at the report's end.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    pub created_at: DateTime<Utc>,
    /// The owning section now: the latest transfer's target, else the routed owner.
    pub section: Option<String>,
    /// When that section got the event: its creation, or the latest transfer.
    pub received_at: DateTime<Utc>,
    pub transferred: bool,
    /// The first accept by the owning section (recorded after the latest transfer).
    pub accepted_at: Option<DateTime<Utc>>,
    /// Every accept, in order, whoever made it.
    pub accepts: Vec<DateTime<Utc>>,
    /// Feedback recorded: (kind, when), in order.
    pub feedback: Vec<(String, DateTime<Utc>)>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Joint assessments (会商研判) recorded, in order.
    pub assessments: Vec<DateTime<Utc>>,
    /// The latest of them, with its words.
    pub latest_assessment: Option<Assessment>,
}

/// A joint assessment (会商研判) as recorded: who, when, the trend and the note (nature,
/// risks, handling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub at: DateTime<Utc>,
    pub actor: String,
    /// `up`, `flat` or `down`.
    pub trend: String,
    pub note: String,
}

impl Workflow {
    /// Replays an event's actions (in the order recorded).
    pub fn replay(created_at: DateTime<Utc>, owner: Option<&str>, actions: &[ActionRecord]) -> Self {
        let mut flow = Workflow {
            created_at,
            section: owner.map(str::to_string),
            received_at: created_at,
            transferred: false,
            accepted_at: None,
            accepts: Vec::new(),
            feedback: Vec::new(),
            closed_at: None,
            assessments: Vec::new(),
            latest_assessment: None,
        };
        for a in actions {
            match a.action.as_str() {
                "accept" => {
                    flow.accepts.push(a.at);
                    flow.accepted_at = flow.accepted_at.or(Some(a.at));
                }
                "transfer" => {
                    flow.section = a.target.clone().or(flow.section.take());
                    flow.received_at = a.at;
                    flow.transferred = true;
                    flow.accepted_at = None;
                }
                "feedback" => flow.feedback.push((a.target.clone().unwrap_or_default(), a.at)),
                "close" => flow.closed_at = Some(a.at),
                "reopen" => flow.closed_at = None,
                "assess" => {
                    flow.assessments.push(a.at);
                    flow.latest_assessment = Some(Assessment {
                        at: a.at,
                        actor: a.actor.clone(),
                        trend: a.target.clone().unwrap_or_default(),
                        note: a.note.clone().unwrap_or_default(),
                    });
                }
                _ => {}
            }
        }
        flow
    }

    pub fn first_feedback_at(&self) -> Option<DateTime<Utc>> {
        self.feedback.iter().map(|(_, at)| *at).min()
    }

    pub fn time_to_accept(&self) -> Option<chrono::Duration> {
        self.accepted_at.map(|at| at - self.received_at)
    }

    pub fn time_to_feedback(&self) -> Option<chrono::Duration> {
        self.first_feedback_at().map(|at| at - self.created_at)
    }
}

/// How a deadline stood at the report's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineStatus {
    /// Met by its due time (按时).
    Met { at: DateTime<Utc> },
    /// Due and not met in time (超时); `late_at` when it was met afterwards.
    Missed { late_at: Option<DateTime<Utc>> },
    /// Not due yet and not met (计时中).
    Running,
}

/// One deadline clock of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineOutcome {
    pub kind: DeadlineKind,
    pub span: Span,
    pub due: DateTime<Utc>,
    pub status: DeadlineStatus,
}

/// How one deadline of an event stood at `as_of`, by [`clock_outcome`] — the same rule the
/// escalation and the event timeline use (accept clocks from when the owning section got the
/// event, the others from its creation; working-time spans on the calendar).
pub fn evaluate_deadline(
    kind: DeadlineKind,
    span: Span,
    calendar: &WorkCalendar,
    flow: &Workflow,
    held: bool,
    as_of: DateTime<Utc>,
) -> DeadlineOutcome {
    let progress = Progress {
        created_at: flow.created_at,
        owned_since: flow.received_at,
        accepted_at: flow.accepted_at,
        feedback: &flow.feedback,
        held,
    };
    let (due, outcome) = clock_outcome(kind, span, calendar, &progress, as_of);
    let status = match outcome {
        Outcome::Met(at) => DeadlineStatus::Met { at },
        Outcome::Late(at) => DeadlineStatus::Missed { late_at: Some(at) },
        Outcome::Missed => DeadlineStatus::Missed { late_at: None },
        Outcome::Running => DeadlineStatus::Running,
    };
    DeadlineOutcome { kind, span, due, status }
}

/// One event in the report.
#[derive(Debug, Clone, PartialEq)]
pub struct EventReport {
    pub id: i64,
    pub title: String,
    pub grade: Option<Grade>,
    /// Art. 9 categories of the lists its documents hit (empty: none known).
    pub categories: Vec<Category>,
    pub flow: Workflow,
    pub deadlines: Vec<DeadlineOutcome>,
    pub documents: usize,
    pub sources: usize,
    pub flags: Vec<FlagKind>,
    /// What netizens say in the comments on its documents (empty when none were stored).
    pub viewpoints: crate::detect::viewpoints::Viewpoints,
}

/// A representative comment in a report is cut after this many characters.
pub const VIEWPOINT_CHARS: usize = 40;

/// Where an event's joint assessment (会商研判, Art. 8/13) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssessmentStatus {
    /// Grades III and IV need none (it may still be recorded).
    NotRequired,
    /// Recorded (the first one).
    Done(DateTime<Utc>),
    /// Grade I/II, none yet, its first deadline not passed.
    Due(DateTime<Utc>),
    /// Grade I/II, none by its first deadline: overdue since then.
    Overdue(DateTime<Utc>),
}

impl EventReport {
    pub fn is_open(&self) -> bool {
        self.flow.closed_at.is_none()
    }

    /// The joint assessment at `as_of`: grade I and II events need one by their first
    /// deadline.
    pub fn assessment(&self, as_of: DateTime<Utc>) -> AssessmentStatus {
        if let Some(&at) = self.flow.assessments.first() {
            return AssessmentStatus::Done(at);
        }
        if !matches!(self.grade, Some(Grade::I | Grade::II)) {
            return AssessmentStatus::NotRequired;
        }
        match self.deadlines.iter().map(|d| d.due).min() {
            Some(due) if due <= as_of => AssessmentStatus::Overdue(due),
            Some(due) => AssessmentStatus::Due(due),
            None => AssessmentStatus::NotRequired,
        }
    }

    pub fn missed(&self) -> impl Iterator<Item = &DeadlineOutcome> {
        self.deadlines.iter().filter(|d| matches!(d.status, DeadlineStatus::Missed { .. }))
    }
}

/// Deadlines by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeadlineCounts {
    pub met: usize,
    pub missed: usize,
    pub running: usize,
}

impl DeadlineCounts {
    fn add(&mut self, status: &DeadlineStatus) {
        match status {
            DeadlineStatus::Met { .. } => self.met += 1,
            DeadlineStatus::Missed { .. } => self.missed += 1,
            DeadlineStatus::Running => self.running += 1,
        }
    }

    /// Met over decided (met + missed); `None` when none was decided yet.
    pub fn on_time_rate(&self) -> Option<f64> {
        let decided = self.met + self.missed;
        (decided > 0).then(|| self.met as f64 / decided as f64)
    }
}

/// One owning section's figures (Art. 15: per-科室 ack latency, on-time rate, overdue count).
#[derive(Debug, Clone, PartialEq)]
pub struct SectionReport {
    /// `None`: events with no owner.
    pub section: Option<String>,
    pub label: String,
    pub owned: usize,
    pub accepted: usize,
    pub closed: usize,
    pub median_accept: Option<chrono::Duration>,
    pub mean_accept: Option<chrono::Duration>,
    pub median_feedback: Option<chrono::Duration>,
    pub deadlines: DeadlineCounts,
}

/// A source and the number of the period's events it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCount {
    pub id: String,
    pub name: String,
    pub events: usize,
}

/// Whole-report figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub events: usize,
    pub accepted: usize,
    pub transferred: usize,
    pub closed: usize,
    pub open: usize,
    pub deadlines: DeadlineCounts,
}

/// The report on one period.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub period: Period,
    /// The moment the workflow is judged at: the period's end, or now if earlier.
    pub as_of: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    /// Every event created in the period, oldest first.
    pub events: Vec<EventReport>,
    pub totals: Totals,
    /// I…IV, then 未分级 (`None`); every row, zeros included.
    pub by_grade: Vec<(Option<Grade>, usize)>,
    /// Every Art. 9 category, then 未归类 (`None`) when some event has none. An event with
    /// several categories counts in each.
    pub by_category: Vec<(Option<Category>, usize)>,
    /// Every configured section, then unknown ids, then 未指定 (no owner) when used.
    pub sections: Vec<SectionReport>,
    /// The sources that carried most events, at most [`TOP_SOURCES`].
    pub sources: Vec<SourceCount>,
    /// Events with at least one document flagged, per flag kind.
    pub flags: Vec<(FlagKind, usize)>,
    /// The deadline kinds any grade uses, in configured order (the CSV's columns).
    pub deadline_kinds: Vec<DeadlineKind>,
}

impl Report {
    /// Reads the period's events from the store and builds the report.
    pub fn load(store: &Store, config: &Config, period: Period, now: DateTime<Utc>) -> Result<Self, ReportError> {
        let as_of = period.end.min(now);
        let events = store.report_events(period.start, period.end, as_of)?;
        let mut report = Self::build(config, period, events, now);
        let with_comments = store.report_events_with_comments(period.start, period.end)?;
        for e in report.events.iter_mut().filter(|e| with_comments.contains(&e.id)) {
            let comments = store.event_comments(e.id, crate::detect::viewpoints::MAX_COMMENTS)?;
            e.viewpoints = timeline::event_viewpoints(config, &comments);
        }
        Ok(report)
    }

    /// The report over `events` (those created in the period, with their actions up to
    /// the period's end or `now`).
    pub fn build(config: &Config, period: Period, rows: Vec<ReportEvent>, now: DateTime<Utc>) -> Self {
        let as_of = period.end.min(now);
        let list_categories: HashMap<&str, Category> =
            config.keyword_lists.iter().map(|l| (l.name.as_str(), l.meta.category)).collect();
        let mut events = Vec::with_capacity(rows.len());
        let mut source_events: BTreeMap<String, usize> = BTreeMap::new();
        // Only what existed at `as_of` (a report made during its period).
        for row in rows.into_iter().filter(|r| r.created_at <= as_of) {
            let actions: Vec<ActionRecord> = row.actions.into_iter().filter(|a| a.at <= as_of).collect();
            let flow = Workflow::replay(row.created_at, row.owner.as_deref(), &actions);
            let deadlines = row.grade.map_or_else(Vec::new, |grade| {
                config
                    .response
                    .deadlines
                    .for_grade(grade)
                    .iter()
                    .map(|&(kind, span)| {
                        evaluate_deadline(kind, span, &config.calendar, &flow, config.delivery.held(Some(grade)), as_of)
                    })
                    .collect()
            });
            let mut categories: Vec<Category> =
                row.lists.iter().filter_map(|l| list_categories.get(l.as_str()).copied()).collect();
            categories.sort();
            categories.dedup();
            for source in row.source_ids {
                *source_events.entry(source).or_default() += 1;
            }
            events.push(EventReport {
                id: row.id,
                title: row.title,
                grade: row.grade,
                categories,
                flow,
                deadlines,
                documents: row.documents,
                sources: row.sources,
                flags: row.flags.iter().filter_map(|f| FlagKind::from_name(f)).collect(),
                viewpoints: Default::default(),
            });
        }

        let mut totals = Totals { events: events.len(), ..Totals::default() };
        for e in &events {
            totals.accepted += usize::from(e.flow.accepted_at.is_some());
            totals.transferred += usize::from(e.flow.transferred);
            totals.closed += usize::from(!e.is_open());
            totals.open += usize::from(e.is_open());
            e.deadlines.iter().for_each(|d| totals.deadlines.add(&d.status));
        }
        let grades = Grade::ALL.into_iter().map(Some).chain([None]);
        let by_grade = grades.map(|g| (g, events.iter().filter(|e| e.grade == g).count())).collect();
        let mut by_category: Vec<(Option<Category>, usize)> = Category::ALL
            .into_iter()
            .map(|c| (Some(c), events.iter().filter(|e| e.categories.contains(&c)).count()))
            .collect();
        let uncategorised = events.iter().filter(|e| e.categories.is_empty()).count();
        if uncategorised > 0 {
            by_category.push((None, uncategorised));
        }
        let mut sources: Vec<SourceCount> = source_events
            .into_iter()
            .map(|(id, events)| {
                let name = config.source(&id).map_or_else(|| id.clone(), |s| s.name.clone());
                SourceCount { id, name, events }
            })
            .collect();
        sources.sort_by(|a, b| b.events.cmp(&a.events).then_with(|| a.id.cmp(&b.id)));
        sources.truncate(TOP_SOURCES);
        let flags =
            FlagKind::ALL.into_iter().map(|k| (k, events.iter().filter(|e| e.flags.contains(&k)).count())).collect();
        let mut deadline_kinds: Vec<DeadlineKind> = Vec::new();
        for grade in Grade::ALL {
            for &(kind, _) in config.response.deadlines.for_grade(grade) {
                if !deadline_kinds.contains(&kind) {
                    deadline_kinds.push(kind);
                }
            }
        }
        let sections = section_reports(config, &events);
        Report {
            period,
            as_of,
            generated_at: now,
            events,
            totals,
            by_grade,
            by_category,
            sections,
            sources,
            flags,
            deadline_kinds,
        }
    }

    pub fn open_events(&self) -> impl Iterator<Item = &EventReport> {
        self.events.iter().filter(|e| e.is_open())
    }
}

/// The label of events without an owner.
pub const NO_SECTION: &str = "未指定科室";

fn section_reports(config: &Config, events: &[EventReport]) -> Vec<SectionReport> {
    let org = &config.response.org;
    let mut keys: Vec<Option<String>> = org.sections.iter().map(|s| Some(s.id.clone())).collect();
    for e in events {
        if !keys.contains(&e.flow.section) {
            keys.push(e.flow.section.clone());
        }
    }
    // Unknown ids after the configured sections, no owner last.
    keys.sort_by_key(|k| match k {
        Some(id) => org.sections.iter().position(|s| &s.id == id).unwrap_or(org.sections.len()),
        None => usize::MAX,
    });
    keys.into_iter()
        .map(|key| {
            let owned: Vec<&EventReport> = events.iter().filter(|e| e.flow.section == key).collect();
            let mut accept: Vec<chrono::Duration> = owned.iter().filter_map(|e| e.flow.time_to_accept()).collect();
            let mut feedback: Vec<chrono::Duration> = owned.iter().filter_map(|e| e.flow.time_to_feedback()).collect();
            let mut deadlines = DeadlineCounts::default();
            owned.iter().flat_map(|e| &e.deadlines).for_each(|d| deadlines.add(&d.status));
            SectionReport {
                label: section_label(config, key.as_deref()),
                owned: owned.len(),
                accepted: accept.len(),
                closed: owned.iter().filter(|e| !e.is_open()).count(),
                median_accept: median(&mut accept),
                mean_accept: mean(&accept),
                median_feedback: median(&mut feedback),
                deadlines,
                section: key,
            }
        })
        .collect()
}

/// A section's name from config, its id when unknown, or 未指定科室.
pub fn section_label(config: &Config, section: Option<&str>) -> String {
    match section {
        None => NO_SECTION.to_string(),
        Some(id) => config.response.org.section(id).map_or_else(|| id.to_string(), |s| s.name.clone()),
    }
}

fn median(values: &mut [chrono::Duration]) -> Option<chrono::Duration> {
    values.sort();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2),
    }
}

fn mean(values: &[chrono::Duration]) -> Option<chrono::Duration> {
    let n = i32::try_from(values.len()).ok().filter(|n| *n > 0)?;
    Some(values.iter().fold(chrono::Duration::zero(), |sum, d| sum + *d) / n)
}

// ------------------------------------------------------------------ labels for renderers

/// "Ⅰ级 特别重大" … or 未分级.
pub fn grade_label(grade: Option<Grade>) -> &'static str {
    grade.map_or("未分级", Grade::label_zh)
}

/// "网络舆情" … or 未归类.
pub fn category_label(category: Option<Category>) -> &'static str {
    category.map_or("未归类", Category::label_zh)
}

/// "按时" / "超时" / "计时中".
pub fn status_label(status: &DeadlineStatus) -> &'static str {
    match status {
        DeadlineStatus::Met { .. } => "按时",
        DeadlineStatus::Missed { .. } => "超时",
        DeadlineStatus::Running => "计时中",
    }
}

/// The joint assessment for staff: the latest one in full ("会商研判：已于 … 由 李科长（li）记录，
/// 趋势：上升；性质：…；风险：…；处置建议：…"), "会商研判：超时未会商（应于 … 前）", or
/// "会商研判：待会商（应于 … 前）"; `None` when none is required or recorded. `who` names a
/// person id.
pub fn assessment_line(e: &EventReport, as_of: DateTime<Utc>, tz: Tz, who: impl Fn(&str) -> String) -> Option<String> {
    match e.assessment(as_of) {
        AssessmentStatus::NotRequired => None,
        AssessmentStatus::Done(at) => Some(match &e.flow.latest_assessment {
            Some(a) => {
                let times = match e.flow.assessments.len() {
                    n if n > 1 => format!("（共 {n} 次，首次 {}）", local(at, tz)),
                    _ => String::new(),
                };
                format!(
                    "会商研判：已于 {} 由 {} 记录{times}，趋势：{}；{}",
                    local(a.at, tz),
                    who(&a.actor),
                    crate::workflow::trend_label(&a.trend),
                    a.note
                )
            }
            None => format!("会商研判：已于 {} 记录", local(at, tz)),
        }),
        AssessmentStatus::Due(due) => Some(format!("会商研判：待会商（Ⅰ、Ⅱ级事件应于 {} 前会商）", local(due, tz))),
        AssessmentStatus::Overdue(due) => Some(format!("会商研判：超时未会商（应于 {} 前）", local(due, tz))),
    }
}

/// A time in the report's timezone: "2025-03-01 14:05".
pub fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// A span for staff: "不足 1 分钟", "35 分钟", "5 小时 20 分", "2 天 3 小时".
pub fn duration_zh(d: chrono::Duration) -> String {
    let minutes = d.num_minutes();
    let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    match () {
        _ if d < chrono::Duration::zero() => "0 分钟".to_string(),
        _ if minutes < 1 => "不足 1 分钟".to_string(),
        _ if minutes < 60 => format!("{minutes} 分钟"),
        _ if days == 0 && mins == 0 => format!("{hours} 小时"),
        _ if days == 0 => format!("{hours} 小时 {mins} 分"),
        _ if hours == 0 => format!("{days} 天"),
        _ => format!("{days} 天 {hours} 小时"),
    }
}

/// A span from config: "5 小时", "30 分钟".
pub fn span_zh(span: Span) -> String {
    let minutes = span.duration().as_secs() / 60;
    let plain = match minutes {
        m if m >= 60 && m % 60 == 0 => format!("{} 小时", m / 60),
        m => format!("{m} 分钟"),
    };
    if span.is_working() { format!("{plain}（工作时间）") } else { plain }
}

/// The per-section table (header, rows) shared by the text and HTML reports.
pub fn section_table(report: &Report) -> ([&'static str; 11], Vec<Vec<String>>) {
    let none = || "—".to_string();
    let rows = report
        .sections
        .iter()
        .map(|s| {
            vec![
                s.label.clone(),
                s.owned.to_string(),
                s.accepted.to_string(),
                s.closed.to_string(),
                s.median_accept.map_or_else(none, duration_zh),
                s.mean_accept.map_or_else(none, duration_zh),
                s.median_feedback.map_or_else(none, duration_zh),
                s.deadlines.met.to_string(),
                s.deadlines.missed.to_string(),
                s.deadlines.running.to_string(),
                rate_zh(s.deadlines.on_time_rate()),
            ]
        })
        .collect();
    let header = [
        "科室",
        "牵头",
        "受理",
        "办结",
        "受理用时中位",
        "受理用时平均",
        "首次反馈中位",
        "按时",
        "超时",
        "计时中",
        "按时率",
    ];
    (header, rows)
}

/// "80.0%", or "—" when nothing was decided.
pub fn rate_zh(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_string(), |r| format!("{:.1}%", r * 100.0))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + hours * 3600, 0).unwrap_or_default()
    }

    fn action(action: &str, target: Option<&str>, hours: i64) -> ActionRecord {
        ActionRecord {
            action: action.into(),
            actor: "x".into(),
            target: target.map(str::to_string),
            at: at(hours),
            note: Some(format!("性质：{action}")),
        }
    }

    #[test]
    fn a_deadline_is_met_by_matching_feedback_in_time_missed_after_and_running_before() {
        let h = |n: u64| Span::Calendar(Duration::from_secs(n * 3600));
        let flow = Workflow::replay(at(0), Some("a"), &[action("feedback", Some("online"), 3)]);
        let calendar = WorkCalendar::default();
        let status = |kind, span, as_of| evaluate_deadline(kind, span, &calendar, &flow, false, at(as_of)).status;
        assert_eq!(status(DeadlineKind::FirstInformation, h(5), 10), DeadlineStatus::Met { at: at(3) });
        assert_eq!(status(DeadlineKind::FirstInformation, h(2), 10), DeadlineStatus::Missed { late_at: Some(at(3)) });
        // Online feedback does not meet the press-conference clock.
        assert_eq!(status(DeadlineKind::PressConference, h(24), 10), DeadlineStatus::Running);
        assert_eq!(status(DeadlineKind::PressConference, h(24), 24), DeadlineStatus::Missed { late_at: None });
        assert_eq!(evaluate_deadline(DeadlineKind::Response, h(48), &calendar, &flow, false, at(1)).due, at(48));
        // The accept clock runs from when the section got the event, and is met by its accept.
        let moved =
            Workflow::replay(at(0), Some("a"), &[action("transfer", Some("b"), 10), action("accept", None, 11)]);
        let accept = evaluate_deadline(DeadlineKind::Accept, h(2), &calendar, &moved, false, at(20));
        assert_eq!((accept.due, accept.status), (at(12), DeadlineStatus::Met { at: at(11) }));
    }

    #[test]
    fn grade_i_and_ii_events_need_an_assessment_by_their_first_deadline() {
        let due = |secs| DeadlineOutcome {
            kind: DeadlineKind::Accept,
            span: Span::Calendar(Duration::from_secs(900)),
            due: at(secs),
            status: DeadlineStatus::Running,
        };
        let event = |grade, actions: &[ActionRecord]| EventReport {
            id: 1,
            title: String::new(),
            grade: Some(grade),
            categories: Vec::new(),
            flow: Workflow::replay(at(0), Some("a"), actions),
            deadlines: vec![due(3600), due(900)],
            documents: 1,
            sources: 1,
            flags: Vec::new(),
            viewpoints: Default::default(),
        };
        let none = event(Grade::II, &[]);
        assert_eq!(none.assessment(at(600)), AssessmentStatus::Due(at(900)), "the earliest deadline counts");
        assert_eq!(none.assessment(at(901)), AssessmentStatus::Overdue(at(900)));
        let done = event(Grade::I, &[action("accept", None, 100), action("assess", Some("up"), 2000)]);
        assert_eq!(done.assessment(at(5000)), AssessmentStatus::Done(at(2000)));
        assert_eq!(event(Grade::III, &[]).assessment(at(5000)), AssessmentStatus::NotRequired);
        let tz = chrono_tz::Asia::Shanghai;
        let who = |p: &str| format!("{p}（id）");
        let line = assessment_line(&none, at(901), tz, who).unwrap_or_default();
        assert!(line.starts_with("会商研判：超时未会商"), "{line}");
        // The latest assessment in full, with who and when, and how many there were.
        let mut again = action("assess", Some("down"), 2010);
        again.actor = "li".into();
        again.note = Some("性质：误读；风险：低；处置建议：持续关注".into());
        let twice = event(Grade::I, &[action("assess", Some("up"), 2000), again]);
        let line = assessment_line(&twice, at(5000), tz, who).unwrap_or_default();
        assert_eq!(
            line,
            format!(
                "会商研判：已于 {} 由 li（id） 记录（共 2 次，首次 {}），趋势：回落；性质：误读；风险：低；处置建议：持续关注",
                local(at(2010), tz),
                local(at(2000), tz)
            )
        );
    }

    #[test]
    fn replay_follows_transfers_and_restarts_acceptance() {
        let flow = Workflow::replay(
            at(0),
            Some("a"),
            &[
                action("accept", None, 1),
                action("transfer", Some("b"), 2),
                action("feedback", Some("expert"), 3),
                action("accept", None, 5),
                action("close", None, 9),
            ],
        );
        assert_eq!(flow.section.as_deref(), Some("b"));
        assert!(flow.transferred);
        assert_eq!(flow.accepted_at, Some(at(5)));
        assert_eq!(flow.time_to_accept(), Some(chrono::Duration::hours(3)), "from the transfer");
        assert_eq!(flow.time_to_feedback(), Some(chrono::Duration::hours(3)), "from creation");
        assert_eq!(flow.accepts, vec![at(1), at(5)]);
        assert_eq!(flow.closed_at, Some(at(9)));
    }

    #[test]
    fn medians_means_and_spans_in_words() {
        let m = chrono::Duration::minutes;
        assert_eq!(median(&mut [m(30), m(10), m(20)]), Some(m(20)));
        assert_eq!(median(&mut [m(40), m(10)]), Some(m(25)));
        assert_eq!(median(&mut []), None);
        assert_eq!(mean(&[m(10), m(40)]), Some(m(25)));
        assert_eq!(duration_zh(m(0)), "不足 1 分钟");
        assert_eq!(duration_zh(m(35)), "35 分钟");
        assert_eq!(duration_zh(m(125)), "2 小时 5 分");
        assert_eq!(duration_zh(m(3 * 1440 + 120)), "3 天 2 小时");
        assert_eq!(span_zh(Span::Calendar(Duration::from_secs(5 * 3600))), "5 小时");
        assert_eq!(span_zh(Span::Calendar(Duration::from_secs(15 * 60))), "15 分钟");
        assert_eq!(span_zh(Span::Working(Duration::from_secs(4 * 3600))), "4 小时（工作时间）");
        assert_eq!(rate_zh(Some(0.8)), "80.0%");
        assert_eq!(rate_zh(None), "—");
    }

    #[test]
    fn periods_are_whole_local_days_with_a_seven_day_default() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap_or(Tz::UTC);
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        let p = Period::new(d("2025-03-01"), d("2025-03-31"), tz).expect("period");
        assert_eq!(p.start.to_rfc3339(), "2025-02-28T16:00:00+00:00");
        assert_eq!(p.end.to_rfc3339(), "2025-03-31T16:00:00+00:00");
        let now = p.end + chrono::Duration::hours(3); // 2025-04-01 03:00 in Shanghai
        let default = Period::resolve(None, None, now, tz).expect("default");
        assert_eq!((default.from, default.to), (d("2025-03-26"), d("2025-04-01")));
        assert!(matches!(Period::new(d("2025-03-02"), d("2025-03-01"), tz), Err(ReportError::BackwardsPeriod { .. })));
    }
}
