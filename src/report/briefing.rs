//! Periodic briefings (Art. 10 定期通报): daily and weekly digests on a crontab schedule to
//! configured receivers (`[[briefings]]` in `yuqing.toml`).
//!
//! A [`Digest`] covers the period ending at a briefing's due time: the events created in it,
//! counted by grade, category and section by [`crate::report`] (the same arithmetic as
//! `yuqing report`); the events still open at the due time (the period's and those of the
//! preceding `open_days`) with their overdue deadlines; and the top events by grade, then
//! interactions, sources and documents, each with its propagation path. [`render`] turns it
//! into a Chinese email (text and HTML parts); [`send`] queues it in the outbox as an alert of
//! kind `briefing` and logs the due time in the same transaction, so each briefing goes out
//! once per due time across restarts. Nothing is queued when there is nothing to report,
//! unless `send_empty`.
//!
//! Pure apart from [`Digest::load`] and [`send`], which read and write the store; every
//! function takes the due time and `now` from the caller.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::config::Config;
use crate::model::AlertMessage;
use crate::notify::escape;
use crate::report::text::{one_line, table};
use crate::report::{
    DeadlineOutcome, DeadlineStatus, EventReport, Period, Report, ReportError, category_label, grade_label, local,
    section_label, span_zh,
};
use crate::store::{BriefingLogged, BriefingRecord, PathStep, Store, StoreError};

/// The subject's tag: `【舆情简报】每日舆情简报 2026-11-27`.
pub const SUBJECT_TAG: &str = "【舆情简报】";
/// Copies of a top event listed on its propagation path; the rest are counted.
pub const PATH_STEPS: usize = 8;

pub use crate::config::{Briefing, BriefingPeriod};

#[derive(Debug, thiserror::Error)]
pub enum BriefingError {
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BriefingError {
    /// The message for staff.
    pub fn describe_zh(&self) -> String {
        match self {
            BriefingError::Report(e) => e.describe_zh(),
            BriefingError::Store(e) => format!("读取或写入数据库失败：{}", e.describe_zh()),
        }
    }
}

/// A top event with how far it spread.
#[derive(Debug, Clone, PartialEq)]
pub struct TopEvent {
    pub event: EventReport,
    /// Reposts + comments + likes of its documents at the due time.
    pub interactions: i64,
    /// Its first copies up to the due time (at most [`PATH_STEPS`]), oldest first.
    pub path: Vec<PathStep>,
    /// How many copies it had by the due time.
    pub copies: usize,
}

/// One briefing's content for one due time.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    pub briefing_id: String,
    pub name: String,
    /// `[start, due)`.
    pub start: DateTime<Utc>,
    pub due: DateTime<Utc>,
    /// The events created in the period, counted by [`crate::report`].
    pub report: Report,
    /// Events open at the due time: created in the period or in the `open_days` before it,
    /// oldest first.
    pub open: Vec<EventReport>,
    pub open_days: u32,
    pub top: Vec<TopEvent>,
}

impl Digest {
    /// Reads what the briefing due at `due` reports; `None` for a database that does not
    /// exist yet (an empty digest).
    pub fn load(
        store: Option<&Store>,
        config: &Config,
        briefing: &Briefing,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Self, BriefingError> {
        let tz = config.timezone;
        let last = match store {
            Some(s) => s.last_briefing_before(&briefing.id, due)?,
            None => None,
        };
        let start = briefing.period_start(due, tz, last);
        let period = Period::between(start, due, tz);
        let as_of = due.min(now);
        let lookback = start.min(due - chrono::Duration::days(i64::from(briefing.open_days)));
        let backlog_period = Period::between(lookback, due, tz);
        let Some(store) = store else {
            let report = Report::build(config, period, Vec::new(), now);
            return Ok(Self::assemble(briefing, report, Vec::new(), Vec::new()));
        };
        let report = Report::load(store, config, period, now)?;
        let backlog = Report::load(store, config, backlog_period, now)?;
        let open: Vec<EventReport> = backlog.events.into_iter().filter(EventReport::is_open).collect();
        let mut ranked = Vec::with_capacity(report.events.len());
        for event in &report.events {
            ranked.push((event, store.event_interactions(event.id, as_of)?));
        }
        ranked.sort_by(|(a, ia), (b, ib)| {
            (a.grade.is_none(), a.grade)
                .cmp(&(b.grade.is_none(), b.grade))
                .then(ib.cmp(ia))
                .then(b.sources.cmp(&a.sources))
                .then(b.documents.cmp(&a.documents))
                .then(a.id.cmp(&b.id))
        });
        let mut top = Vec::new();
        for (event, interactions) in ranked.into_iter().take(briefing.top) {
            let mut path: Vec<PathStep> =
                store.event_path(event.id)?.into_iter().filter(|s| s.seen_at <= as_of).collect();
            let copies = path.len();
            path.truncate(PATH_STEPS);
            top.push(TopEvent { event: event.clone(), interactions, path, copies });
        }
        Ok(Self::assemble(briefing, report, open, top))
    }

    fn assemble(briefing: &Briefing, report: Report, open: Vec<EventReport>, top: Vec<TopEvent>) -> Self {
        Digest {
            briefing_id: briefing.id.clone(),
            name: briefing.name.clone(),
            start: report.period.start,
            due: report.period.end,
            report,
            open,
            open_days: briefing.open_days,
            top,
        }
    }

    /// Nothing happened in the period and nothing is open.
    pub fn is_empty(&self) -> bool {
        self.report.totals.events == 0 && self.open.is_empty()
    }

    /// Deadlines of open events that passed without being met (超时未办).
    pub fn overdue(&self) -> impl Iterator<Item = (&EventReport, &DeadlineOutcome)> {
        self.open.iter().flat_map(|e| {
            e.deadlines
                .iter()
                .filter(|d| matches!(d.status, DeadlineStatus::Missed { late_at: None }))
                .map(move |d| (e, d))
        })
    }
}

/// What [`send`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// Queued in the outbox as this alert.
    Queued { alert_id: i64, digest: Box<Digest> },
    /// Nothing to report and `send_empty = false`: logged, nothing queued.
    Empty,
    /// The briefing was already logged for this due time: nothing done.
    AlreadyDone,
}

/// Builds the briefing due at `due` and queues it (once per due time; see the module doc).
pub fn send(
    store: &mut Store,
    config: &Config,
    briefing: &Briefing,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Sent, BriefingError> {
    if store.briefing_done(&briefing.id, due)? {
        return Ok(Sent::AlreadyDone);
    }
    let digest = Digest::load(Some(store), config, briefing, due, now)?;
    let mut messages = Vec::new();
    if !digest.is_empty() || briefing.send_empty {
        if config.mail.is_some() && !briefing.recipients.is_empty() {
            messages.push(render(&digest, config, &briefing.recipients));
        }
        messages.extend(briefing.robots.iter().map(|robot| render_post(&digest, config, robot)));
    }
    let record = BriefingRecord {
        briefing_id: &briefing.id,
        due_at: due,
        period_start: digest.start,
        events: digest.report.totals.events,
        open: digest.open.len(),
    };
    Ok(match store.record_briefing(&record, &messages, now)? {
        BriefingLogged::Queued(alert_id) => Sent::Queued { alert_id, digest: Box::new(digest) },
        BriefingLogged::Skipped => Sent::Empty,
        BriefingLogged::AlreadyDone => Sent::AlreadyDone,
    })
}

// ------------------------------------------------------------------------------ rendering

/// The subject: `【舆情简报】<name> <due date>`.
pub fn subject(digest: &Digest, tz: Tz) -> String {
    format!("{SUBJECT_TAG}{} {}", digest.name, digest.due.with_timezone(&tz).format("%Y-%m-%d"))
}

/// The email: subject, plain text and HTML parts.
pub fn render(digest: &Digest, config: &Config, recipients: &[String]) -> AlertMessage {
    AlertMessage {
        channel: "email".into(),
        recipients: recipients.to_vec(),
        subject: subject(digest, config.timezone),
        body_text: render_text(digest, config),
        body_html: render_html(digest, config),
    }
}

/// The post for an IM group (`robot:<id>`): the totals, what is open and overdue, and the
/// top events in one line each — short enough for any platform; the email has the rest.
pub fn render_post(digest: &Digest, config: &Config, robot: &str) -> AlertMessage {
    let tz = config.timezone;
    let t = &digest.report.totals;
    let mut text = format!("统计期间：{} 至 {}\n", local(digest.start, tz), local(digest.due, tz));
    if t.events == 0 {
        text.push_str("本期没有新增舆情事件。\n");
    } else {
        let grades: Vec<String> = digest
            .report
            .by_grade
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(g, n)| format!("{} {n} 件", grade_label(*g)))
            .collect();
        text.push_str(&format!("新增舆情事件 **{}** 件（{}），未办结 {} 件。\n", t.events, grades.join("，"), t.open));
    }
    text.push_str(&format!(
        "截至目前未办结 {} 件，超时未办的时限 {} 项。\n",
        digest.open.len(),
        digest.overdue().count()
    ));
    for (n, top) in digest.top.iter().take(POST_TOP).enumerate() {
        let e = &top.event;
        text.push_str(&format!("{}. #{} [{}] {}\n", n + 1, e.id, grade_label(e.grade), one_line(&e.title)));
    }
    text.push_str("详见邮件简报，或运行 yuqing report。");
    AlertMessage {
        channel: format!("robot:{robot}"),
        recipients: Vec::new(),
        subject: subject(digest, tz),
        body_text: text,
        body_html: String::new(),
    }
}

/// Top events listed in an IM post.
const POST_TOP: usize = 5;

fn source_name(config: &Config, id: &str) -> String {
    config.source(id).map_or_else(|| id.to_string(), |s| s.name.clone())
}

/// "（Ⅱ级 重大）牵头：拥军优抚科；来源 2 个，信息 3 篇，互动 1200".
fn event_facts(config: &Config, top: &TopEvent) -> String {
    let e = &top.event;
    let categories: Vec<&str> = e.categories.iter().map(|c| c.label_zh()).collect();
    let categories =
        if categories.is_empty() { String::new() } else { format!("；类别：{}", categories.join("、")) };
    format!(
        "牵头：{}{categories}；来源 {} 个，信息 {} 篇，互动 {}；{}",
        section_label(config, e.flow.section.as_deref()),
        e.sources,
        e.documents,
        top.interactions,
        if e.is_open() { "未办结" } else { "已办结" }
    )
}

/// The event's joint assessment (会商研判) at the due time, in full when recorded.
fn assessment(config: &Config, digest: &Digest, e: &EventReport) -> Option<String> {
    crate::report::assessment_line(e, digest.due, config.timezone, |p| config.response.org.person_label(p))
}

fn deadline_line(d: &DeadlineOutcome, tz: Tz) -> String {
    format!("{}（时限 {}，应于 {} 前）", d.kind.label_zh(), span_zh(d.span), local(d.due, tz))
}

/// Sections that own any of the period's events, with their figures.
fn section_rows(digest: &Digest) -> Vec<Vec<String>> {
    digest
        .report
        .sections
        .iter()
        .filter(|s| s.owned > 0)
        .map(|s| {
            vec![
                s.label.clone(),
                s.owned.to_string(),
                s.accepted.to_string(),
                s.closed.to_string(),
                s.deadlines.missed.to_string(),
            ]
        })
        .collect()
}

const SECTION_HEADER: [&str; 5] = ["科室", "牵头", "受理", "办结", "超时"];

/// The digest as plain text.
pub fn render_text(digest: &Digest, config: &Config) -> String {
    let tz = config.timezone;
    let r = &digest.report;
    let t = &r.totals;
    let mut out = String::new();
    let _ = writeln!(out, "{}", digest.name);
    let _ = writeln!(out, "统计期间：{} 至 {}（{}）", local(digest.start, tz), local(digest.due, tz), tz.name());
    let _ = writeln!(out, "生成时间：{}", local(r.generated_at, tz));
    let overdue: Vec<(&EventReport, &DeadlineOutcome)> = digest.overdue().collect();

    let _ = writeln!(out, "\n一、总体情况");
    if t.events == 0 {
        let _ = writeln!(out, "  本期没有新增舆情事件。");
    } else {
        let _ = writeln!(
            out,
            "  新增舆情事件 {} 件：已受理 {} 件，转办 {} 件，已办结 {} 件，未办结 {} 件。",
            t.events, t.accepted, t.transferred, t.closed, t.open
        );
    }
    let _ = writeln!(
        out,
        "  截至 {}，未办结事件共 {} 件（含此前 {} 天内发现的），超时未办的时限 {} 项。",
        local(digest.due, tz),
        digest.open.len(),
        digest.open_days,
        overdue.len()
    );

    if t.events > 0 {
        let _ = writeln!(out, "\n二、按分级");
        let rows: Vec<Vec<String>> =
            r.by_grade.iter().map(|(g, n)| vec![grade_label(*g).to_string(), format!("{n} 件")]).collect();
        out.push_str(&table(&[], &rows));
        let _ = writeln!(out, "\n三、按类别（一件事件可属多个类别）");
        let rows: Vec<Vec<String>> = r
            .by_category
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| vec![category_label(*c).to_string(), format!("{n} 件")])
            .collect();
        out.push_str(&table(&[], &rows));
        let _ = writeln!(out, "\n四、按科室（按当前牵头科室）");
        out.push_str(&table(&SECTION_HEADER, &section_rows(digest)));

        let _ = writeln!(out, "\n五、重点事件及传播路径（前 {} 件）", digest.top.len());
        for (n, top) in digest.top.iter().enumerate() {
            let e = &top.event;
            let _ = writeln!(out, "  {}. #{} [{}] {}", n + 1, e.id, grade_label(e.grade), one_line(&e.title));
            let _ = writeln!(out, "     {}", event_facts(config, top));
            if let Some(line) = assessment(config, digest, e) {
                let _ = writeln!(out, "     {line}");
            }
            let _ = writeln!(out, "     传播路径：");
            for step in &top.path {
                let _ = writeln!(
                    out,
                    "       {}  {}  {}",
                    local(step.seen_at, tz),
                    source_name(config, &step.source_id),
                    one_line(&step.title)
                );
                if let Some(link) = &step.link {
                    let _ = writeln!(out, "         {}", one_line(link));
                }
            }
            if top.copies > top.path.len() {
                let _ = writeln!(out, "       ……另有 {} 篇", top.copies - top.path.len());
            }
        }
    }

    let _ = writeln!(out, "\n{}、未办结事件（{} 件）", if t.events > 0 { "六" } else { "二" }, digest.open.len());
    if digest.open.is_empty() {
        let _ = writeln!(out, "  无。");
    }
    for e in &digest.open {
        let accepted = e.flow.accepted_at.map_or_else(|| "未受理".to_string(), |at| local(at, tz));
        let _ = writeln!(out, "  #{} [{}] {}", e.id, grade_label(e.grade), one_line(&e.title));
        let _ = writeln!(
            out,
            "      牵头：{}；发现：{}；受理：{accepted}",
            section_label(config, e.flow.section.as_deref()),
            local(e.flow.created_at, tz)
        );
    }

    let _ = writeln!(out, "\n{}、超时未办（{} 项）", if t.events > 0 { "七" } else { "三" }, overdue.len());
    if overdue.is_empty() {
        let _ = writeln!(out, "  无。");
    }
    for (e, d) in &overdue {
        let _ = writeln!(
            out,
            "  #{} {}：{}，牵头：{}",
            e.id,
            one_line(&e.title),
            deadline_line(d, tz),
            section_label(config, e.flow.section.as_deref())
        );
    }
    let _ = writeln!(out, "\n详细统计可在服务器上运行 yuqing report 查看；单个事件运行 yuqing events <编号>。");
    out
}

const CSS: &str = "body{font-family:sans-serif;color:#222;max-width:60em}h1{font-size:1.3em}h2{font-size:1.1em;\
border-bottom:1px solid #ccc;padding-bottom:2px}table{border-collapse:collapse}td,th{border:1px solid #ccc;\
padding:2px 8px;text-align:left}td.n{text-align:right}.muted{color:#666}.late{color:#b00}";

/// The digest as one HTML page (inline CSS, no script); every stored text is escaped.
pub fn render_html(digest: &Digest, config: &Config) -> String {
    let tz = config.timezone;
    let r = &digest.report;
    let t = &r.totals;
    let overdue: Vec<(&EventReport, &DeadlineOutcome)> = digest.overdue().collect();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>",
        escape(&subject(digest, tz))
    );
    let _ = write!(h, "<h1>{}</h1>", escape(&digest.name));
    let _ = write!(
        h,
        "<p class=\"muted\">统计期间：{} 至 {}（{}）；生成时间：{}</p>",
        local(digest.start, tz),
        local(digest.due, tz),
        escape(tz.name()),
        local(r.generated_at, tz)
    );
    h.push_str("<h2>总体情况</h2>");
    if t.events == 0 {
        h.push_str("<p>本期没有新增舆情事件。</p>");
    } else {
        let _ = write!(
            h,
            "<p>新增舆情事件 <strong>{}</strong> 件：已受理 {} 件，转办 {} 件，已办结 {} 件，未办结 {} 件。</p>",
            t.events, t.accepted, t.transferred, t.closed, t.open
        );
    }
    let _ = write!(
        h,
        "<p>截至 {}，未办结事件共 <strong>{}</strong> 件（含此前 {} 天内发现的），超时未办的时限 <strong class=\"late\">{}</strong> 项。</p>",
        local(digest.due, tz),
        digest.open.len(),
        digest.open_days,
        overdue.len()
    );
    if t.events > 0 {
        h.push_str("<h2>按分级</h2>");
        let rows: Vec<Vec<String>> =
            r.by_grade.iter().map(|(g, n)| vec![grade_label(*g).to_string(), n.to_string()]).collect();
        h.push_str(&crate::report::html::table(&["级别", "件数"], &rows));
        h.push_str("<h2>按类别</h2>");
        let rows: Vec<Vec<String>> = r
            .by_category
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| vec![category_label(*c).to_string(), n.to_string()])
            .collect();
        h.push_str(&crate::report::html::table(&["类别", "件数"], &rows));
        h.push_str("<h2>按科室</h2>");
        h.push_str(&crate::report::html::table(&SECTION_HEADER, &section_rows(digest)));
        let _ = write!(h, "<h2>重点事件及传播路径（前 {} 件）</h2><ol>", digest.top.len());
        for top in &digest.top {
            let e = &top.event;
            let _ = write!(
                h,
                "<li><p><strong>#{} [{}] {}</strong><br><span class=\"muted\">{}</span>{}</p><table>",
                e.id,
                escape(grade_label(e.grade)),
                escape(&one_line(&e.title)),
                escape(&event_facts(config, top)),
                assessment(config, digest, e).map(|l| format!("<br>{}", escape(&l))).unwrap_or_default()
            );
            for step in &top.path {
                let title = escape(&one_line(&step.title));
                let title = match &step.link {
                    Some(link) if link.starts_with("http://") || link.starts_with("https://") => {
                        format!("<a href=\"{}\">{title}</a>", escape(link))
                    }
                    _ => title,
                };
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{title}</td></tr>",
                    local(step.seen_at, tz),
                    escape(&source_name(config, &step.source_id))
                );
            }
            if top.copies > top.path.len() {
                let _ = write!(h, "<tr><td colspan=\"3\">……另有 {} 篇</td></tr>", top.copies - top.path.len());
            }
            h.push_str("</table></li>");
        }
        h.push_str("</ol>");
    }
    let _ = write!(h, "<h2>未办结事件（{} 件）</h2>", digest.open.len());
    if digest.open.is_empty() {
        h.push_str("<p>无。</p>");
    } else {
        let rows: Vec<Vec<String>> = digest
            .open
            .iter()
            .map(|e| {
                vec![
                    format!("#{}", e.id),
                    grade_label(e.grade).to_string(),
                    one_line(&e.title),
                    section_label(config, e.flow.section.as_deref()),
                    local(e.flow.created_at, tz),
                    e.flow.accepted_at.map_or_else(|| "未受理".to_string(), |at| local(at, tz)),
                ]
            })
            .collect();
        h.push_str(&crate::report::html::table(&["编号", "级别", "标题", "牵头科室", "发现时间", "受理"], &rows));
    }
    let _ = write!(h, "<h2>超时未办（{} 项）</h2>", overdue.len());
    if overdue.is_empty() {
        h.push_str("<p>无。</p>");
    } else {
        let rows: Vec<Vec<String>> = overdue
            .iter()
            .map(|(e, d)| {
                vec![
                    format!("#{}", e.id),
                    one_line(&e.title),
                    deadline_line(d, tz),
                    section_label(config, e.flow.section.as_deref()),
                ]
            })
            .collect();
        h.push_str(&crate::report::html::table(&["编号", "标题", "时限", "牵头科室"], &rows));
    }
    h.push_str(
        "<p class=\"muted\">详细统计可在服务器上运行 yuqing report 查看；单个事件运行 yuqing events &lt;编号&gt;。</p>",
    );
    h.push_str("</body></html>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DEFAULT_OPEN_DAYS, DEFAULT_TOP};
    use crate::time::schedule::Schedule;

    const TZ: Tz = chrono_tz::Asia::Shanghai;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    fn briefing(schedule: &str, period: BriefingPeriod) -> Briefing {
        Briefing {
            id: "daily".into(),
            name: "每日舆情简报".into(),
            schedule: Schedule::parse(schedule).unwrap_or_default(),
            period,
            to: vec![],
            recipients: vec![],
            robots: vec![],
            send_empty: false,
            top: DEFAULT_TOP,
            open_days: DEFAULT_OPEN_DAYS,
        }
    }

    #[test]
    fn periods_end_at_the_due_time() {
        let due = at("2026-11-27T08:00:00+08:00");
        let day = briefing("0 8 * * *", BriefingPeriod::Day);
        assert_eq!(day.period_start(due, TZ, None), at("2026-11-26T08:00:00+08:00"));
        let week = briefing("30 8 * * 1", BriefingPeriod::Week);
        assert_eq!(week.period_start(due, TZ, None), at("2026-11-20T08:00:00+08:00"));
        // since_last: the last logged due time, else the previous scheduled time.
        let since = briefing("0 8,17 * * *", BriefingPeriod::SinceLast);
        assert_eq!(since.period_start(due, TZ, None), at("2026-11-26T17:00:00+08:00"));
        let logged = at("2026-11-25T17:00:00+08:00");
        assert_eq!(since.period_start(due, TZ, Some(logged)), logged, "a missed briefing's period is covered");
        assert_eq!(since.period_start(due, TZ, Some(due)), at("2026-11-26T17:00:00+08:00"), "not itself");
    }

    #[test]
    fn a_missed_briefing_is_caught_up_once_at_start() {
        let b = briefing("0 8 * * *", BriefingPeriod::Day);
        let now = at("2026-11-27T10:00:00+08:00");
        let missed = b.first_due(now, TZ, |_| Ok::<_, ()>(false));
        assert_eq!(missed, Ok(Some(at("2026-11-27T08:00:00+08:00"))), "today's 08:00 was not sent");
        let sent = b.first_due(now, TZ, |t| Ok::<_, ()>(t == at("2026-11-27T08:00:00+08:00")));
        assert_eq!(sent, Ok(Some(at("2026-11-28T08:00:00+08:00"))), "already sent: tomorrow");
    }

    #[test]
    fn period_names_parse() {
        assert_eq!(BriefingPeriod::parse("week"), Some(BriefingPeriod::Week));
        assert_eq!(BriefingPeriod::parse("since_last"), Some(BriefingPeriod::SinceLast));
        assert_eq!(BriefingPeriod::parse("month"), None);
    }
}
