//! One event's timeline as staff read it, shared by `yuqing event show` (text) and the web
//! console's event page (HTML): the facts (grade and its reasons, owner, state, first
//! source), one chronological list of copies, engagement, alerts and reminders with their
//! fate and workflow actions, the hourly trend of the last 24 hours (is it still growing?),
//! what netizens say (the comments' viewpoints and hourly volume) and where each deadline
//! clock stands at `now`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::config::Config;
use crate::detect::sentiment::Lexicon;
use crate::detect::viewpoints::{CommentInput, MAX_GROUPS, Viewpoints, viewpoints};
use crate::response::deadline::{Outcome, Progress, clock_outcome};
use crate::response::trend::{Trend, trend};
use crate::store::{AlertEntry, Timeline};

/// The timeline, worded.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// `事件 #12  [Ⅲ级 较大]  …`.
    pub heading: String,
    /// `(label, text)`: 分级依据, 人工降级自, 牵头科室, 状态, 首发 — in that order, when known.
    pub facts: Vec<(&'static str, String)>,
    /// Oldest first; entries at the same second keep the order copies, engagement, alerts,
    /// actions.
    pub entries: Vec<Entry>,
    /// The engagement series (observed at, reposts + comments + likes).
    pub engagement: Vec<(DateTime<Utc>, i64)>,
    /// Every deadline clock of the event's grade (none when ungraded).
    pub clocks: Vec<Clock>,
    /// Copies and engagement per hour over the last [`TREND_HOURS`] hours, and the state.
    pub trend: Trend,
    /// What netizens say: the comments grouped into viewpoints, and their hourly volume.
    pub viewpoints: Viewpoints,
}

/// The hours of the trend shown on the timeline.
pub const TREND_HOURS: usize = 24;

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub at: DateTime<Utc>,
    /// 首发, 转载, 互动, 通知, 催办, 督办, 受理, 转办, 反馈, 办结, …
    pub kind: &'static str,
    /// The line after the kind.
    pub text: String,
    /// A copy's link, shown under it.
    pub link: Option<String>,
    /// A copy's document number.
    pub document: Option<i64>,
}

/// One deadline clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    /// 受理时限, 首次回应时限, …
    pub kind: &'static str,
    /// `2 小时`, `8.0 个工作小时`.
    pub span: String,
    pub due: DateTime<Utc>,
    pub outcome: Outcome,
}

impl Clock {
    /// `已按时完成（…）`, `已完成，但超时（…）`, `已超时`, `计时中`.
    pub fn outcome_zh(&self, tz: Tz) -> String {
        match self.outcome {
            Outcome::Met(at) => format!("已按时完成（{}）", local(at, tz)),
            Outcome::Late(at) => format!("已完成，但超时（{}）", local(at, tz)),
            Outcome::Missed => "已超时".to_string(),
            Outcome::Running => "计时中".to_string(),
        }
    }
}

/// Seconds precision, in `tz`.
pub fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The timeline with its clocks evaluated at `now`.
pub fn view(config: &Config, t: &Timeline, now: DateTime<Utc>) -> View {
    let tz = config.timezone;
    let org = &config.response.org;
    let source_name = |id: &str| config.source(id).map_or(id.to_string(), |s| format!("{}（{id}）", s.name));
    let e = &t.event;
    let grade = e.grade.map_or_else(|| "未分级".to_string(), |g| g.label_zh().to_string());
    let heading = format!("事件 #{}  [{grade}]  {}", e.id, e.title);
    let mut facts = Vec::new();
    if !e.grade_reasons.is_empty() {
        facts.push(("分级依据", e.grade_reasons.join("；")));
    }
    if let Some(from) = e.downgraded_from {
        facts.push(("人工降级自", format!("{}（自动研判只会在超过该级别时再升级）", from.label_zh())));
    }
    facts.push(("牵头科室", e.owner.as_deref().map_or_else(|| "未分办".to_string(), |o| org.section_label(o))));
    facts.push(("状态", state(t, now, tz)));
    facts.push((
        "首发",
        format!(
            "{} {}；共 {} 个来源、{} 篇信息",
            local(e.first_seen_at, tz),
            source_name(&e.first_source_id),
            e.sources,
            e.documents
        ),
    ));

    let trend = event_trend(t, now, tz);

    let mut entries: Vec<(usize, Entry)> = Vec::new();
    for (n, c) in t.copies.iter().enumerate() {
        let title = if c.title.is_empty() { "（无标题）" } else { c.title.as_str() };
        let (kind, likeness) = if n == 0 {
            ("首发", String::new())
        } else {
            ("转载", format!("  相似度 {:.2}{}", c.similarity, evidence_note(&c.evidence)))
        };
        let text = format!("{}  {title}  文档 #{}{likeness}", source_name(&c.source_id), c.document_id);
        let entry = Entry { at: c.seen_at, kind, text, link: c.link.clone(), document: Some(c.document_id) };
        entries.push((0, entry));
    }
    let mut last = None;
    for (at, total) in &t.engagement {
        let change = last.map(|l: i64| format!("（{:+}）", total - l)).unwrap_or_default();
        entries.push((
            1,
            Entry {
                at: *at,
                kind: "互动",
                text: format!("转发+评论+点赞 合计 {total}{change}"),
                link: None,
                document: None,
            },
        ));
        last = Some(*total);
    }
    for a in &t.alerts {
        let (kind, text) = alert_line(a, tz);
        entries.push((2, Entry { at: a.created_at, kind, text, link: None, document: None }));
    }
    for a in &t.actions {
        let who = org.person_label(&a.actor);
        let (kind, text) = match a.action.as_str() {
            "accept" => ("受理", who),
            "transfer" => {
                ("转办", format!("{who} → {}", a.target.as_deref().map_or_else(String::new, |s| org.section_label(s))))
            }
            "feedback" => {
                let label = crate::workflow::feedback_label(a.target.as_deref().unwrap_or(""));
                ("反馈", format!("{who}（{label}）{}", a.link.as_deref().map(|l| format!("  {l}")).unwrap_or_default()))
            }
            "close" => ("办结", who),
            "assess" => {
                let trend = crate::workflow::trend_label(a.target.as_deref().unwrap_or(""));
                ("会商研判", format!("{who}（趋势：{trend}）"))
            }
            "reopen" => ("重新打开", who),
            "split" => match a.target.as_deref().and_then(|t| t.strip_prefix("from:")) {
                Some(from) => ("拆分", format!("{who}：从事件 #{from} 拆入")),
                None => ("拆分", format!("{who}：文档 #{} 拆出", a.target.as_deref().unwrap_or("?"))),
            },
            "downgrade" => {
                let to = a.target.as_deref().and_then(crate::model::Grade::parse);
                ("降级", format!("{who} → {}", to.map_or("?", |g| g.label_zh())))
            }
            "mute" => {
                let until = a
                    .target
                    .as_deref()
                    .and_then(|s| s.parse::<i64>().ok())
                    .and_then(|s| DateTime::from_timestamp(s, 0));
                ("静默", format!("{who}，至 {}", until.map_or_else(|| "?".to_string(), |u| local(u, tz))))
            }
            _ => ("操作", format!("{}  {who}", a.action)),
        };
        let note = a.note.as_deref().map(|n| format!("：{n}")).unwrap_or_default();
        entries.push((3, Entry { at: a.at, kind, text: format!("{text}{note}"), link: None, document: None }));
    }
    entries.sort_by_key(|(order, e)| (e.at, *order));
    let entries = entries.into_iter().map(|(_, e)| e).collect();
    let viewpoints = event_viewpoints(config, &t.comments);
    View {
        heading,
        facts,
        entries,
        engagement: t.engagement.clone(),
        clocks: clocks(config, t, now),
        trend,
        viewpoints,
    }
}

/// An event's comments grouped into at most [`MAX_GROUPS`] viewpoints with the configured
/// negativity lexicon (an unusable lexicon scores nothing).
pub fn event_viewpoints(config: &Config, comments: &[CommentInput]) -> Viewpoints {
    if comments.is_empty() {
        return Viewpoints::default();
    }
    let lexicon =
        Lexicon::new(&config.lexicon).or_else(|_| Lexicon::new(&crate::detect::sentiment::LexiconLists::default()));
    match lexicon {
        Ok(lexicon) => viewpoints(comments, &lexicon, MAX_GROUPS, config.timezone),
        Err(_) => Viewpoints::default(),
    }
}

/// The event's trend at `now` over the last [`TREND_HOURS`] hours.
pub fn event_trend(t: &Timeline, now: DateTime<Utc>, tz: Tz) -> Trend {
    let copies: Vec<DateTime<Utc>> = t.copies.iter().map(|c| c.seen_at).collect();
    trend(&copies, &t.engagement, now, tz, TREND_HOURS)
}

/// The hourly trend as text lines: the sparkline of the hours with the total, then one line
/// per hour that had copies or engagement growth (`11-27 14时  3 篇  互动 +240`).
pub fn trend_lines(trend: &Trend, tz: Tz) -> Vec<String> {
    let Some(first) = trend.hourly.first() else { return Vec::new() };
    let total: u32 = trend.hourly.iter().map(|b| b.documents).sum();
    let busiest = trend.hourly.iter().max_by_key(|b| (b.documents, std::cmp::Reverse(b.start)));
    let mut out = vec![format!(
        "{}  {} 起每小时新增篇数，共 {total} 篇{}",
        trend.sparkline(),
        hour_label(first.start, tz),
        busiest
            .filter(|b| b.documents > 0)
            .map(|b| format!("，最多 {} 篇（{}）", b.documents, hour_label(b.start, tz)))
            .unwrap_or_default()
    )];
    out.push(format!("状态：{}", trend.summary_zh()));
    for b in trend.hourly.iter().filter(|b| b.documents > 0 || b.added != 0) {
        let engagement = match (b.added, b.interactions) {
            (0, _) => String::new(),
            (added, Some(total)) => format!("  互动 {added:+}（合计 {total}）"),
            (added, None) => format!("  互动 {added:+}"),
        };
        out.push(format!("{}  {} 篇{engagement}", hour_label(b.start, tz), b.documents));
    }
    out
}

/// `11-27 14时`.
pub fn hour_label(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%m-%d %H时").to_string()
}

fn clocks(config: &Config, t: &Timeline, now: DateTime<Utc>) -> Vec<Clock> {
    let e = &t.event;
    let Some(grade) = e.grade else { return Vec::new() };
    let feedback: Vec<(String, DateTime<Utc>)> = t
        .actions
        .iter()
        .filter(|a| a.action == "feedback")
        .map(|a| (a.target.clone().unwrap_or_default(), a.at))
        .collect();
    // The owner's accept clock runs from its latest transfer.
    let transfer = t.actions.iter().rposition(|a| a.action == "transfer");
    let owned_since = transfer.map_or(e.created_at, |i| t.actions[i].at);
    let accepted_at = t.actions.iter().skip(transfer.map_or(0, |i| i + 1)).find(|a| a.action == "accept").map(|a| a.at);
    let held = config.delivery.held(Some(grade));
    let progress = Progress { created_at: e.created_at, owned_since, accepted_at, feedback: &feedback, held };
    config
        .response
        .deadlines
        .for_grade(grade)
        .iter()
        .map(|&(kind, span)| {
            let (due, outcome) = clock_outcome(kind, span, &config.calendar, &progress, now);
            let minutes = span.duration().as_secs() / 60;
            let span = match (span.is_working(), minutes % 60) {
                (false, 0) => format!("{} 小时", minutes / 60),
                (false, m) if minutes < 60 => format!("{m} 分钟"),
                (false, _) => format!("{minutes} 分钟"),
                (true, _) => format!("{:.1} 个工作小时", minutes as f64 / 60.0),
            };
            Clock { kind: kind.label_zh(), span, due, outcome }
        })
        .collect()
}

/// Open, accepted, muted or closed, from the audit trail.
fn state(t: &Timeline, now: DateTime<Utc>, tz: Tz) -> String {
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

fn alert_line(a: &AlertEntry, tz: Tz) -> (&'static str, String) {
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
    (kind, format!("{} → {}  {}  [{fate}]", a.channel, a.recipients.join("、"), a.subject))
}

/// Why a copy was judged one story with the earlier one, for staff: "；共同内容：「…」「…」".
pub fn evidence_note(evidence: &[String]) -> String {
    match evidence {
        [] => String::new(),
        _ => format!("；共同内容：{}", evidence.iter().map(|e| format!("「{e}」")).collect::<String>()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventDetail, PathStep};

    fn timeline(copies_minutes_ago: &[i64], now: DateTime<Utc>) -> Timeline {
        let copies = copies_minutes_ago
            .iter()
            .enumerate()
            .map(|(n, m)| PathStep {
                document_id: n as i64 + 1,
                source_id: "s".into(),
                seen_at: now - chrono::Duration::minutes(*m),
                title: String::new(),
                link: None,
                similarity: 1.0,
                evidence: Vec::new(),
            })
            .collect();
        Timeline {
            event: EventDetail {
                id: 1,
                title: String::new(),
                grade: None,
                grade_reasons: Vec::new(),
                downgraded_from: None,
                owner: None,
                created_at: now,
                first_seen_at: now,
                first_source_id: "s".into(),
                documents: copies_minutes_ago.len(),
                sources: 1,
            },
            copies,
            engagement: vec![(now - chrono::Duration::minutes(180), 10), (now - chrono::Duration::minutes(10), 250)],
            alerts: Vec::new(),
            actions: Vec::new(),
            comments: Vec::new(),
        }
    }

    #[test]
    fn the_spread_compares_the_last_two_hours_with_the_two_before() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let spread = |minutes: &[i64]| event_trend(&timeline(minutes, now), now, chrono_tz::UTC).summary_zh();
        assert_eq!(spread(&[200, 90, 30, 10]), "传播加速：过去 2 小时新增 3 篇（此前 2 小时 1 篇）；互动 +240");
        let slowing = spread(&[200, 150, 30]);
        assert!(slowing.starts_with("传播趋缓：过去 2 小时新增 1 篇（此前 2 小时 2 篇）"), "{slowing}");
        assert!(spread(&[600, 300]).starts_with("传播平息：4 小时内无新增"), "quiet for four hours");
    }

    #[test]
    fn the_hourly_trend_reads_as_a_sparkline_a_state_and_the_busy_hours() {
        // 2027-01-15 16:00 Beijing time.
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let tz = chrono_tz::Asia::Shanghai;
        let t = timeline(&[200, 90, 30, 10], now);
        let lines = trend_lines(&event_trend(&t, now, tz), tz);
        assert_eq!(
            lines,
            [
                "▄·▄█·  01-15 12时 起每小时新增篇数，共 4 篇，最多 2 篇（01-15 15时）",
                "状态：传播加速：过去 2 小时新增 3 篇（此前 2 小时 1 篇）；互动 +240",
                "01-15 12时  1 篇",
                "01-15 14时  1 篇",
                "01-15 15时  2 篇  互动 +240（合计 250）",
            ]
        );
        assert_eq!(trend_lines(&event_trend(&timeline(&[], now), now, tz), tz), Vec::<String>::new());
    }
}
