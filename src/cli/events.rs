//! `yuqing events`: recent events (舆情事件) with their sources, copies and engagement, and
//! one event's propagation path (传播路径, Art. 13). Read-only; usable while the daemon runs.

use std::process::ExitCode;

use crate::config::Config;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::response::Grade;
use crate::workflow::{self, Command, WorkflowError};

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
    /// Write the report of an event to an outside department (舆情报送单, Art. 9): source and
    /// time, propagation path, comments and viewpoints, the joint assessment, the handling
    Brief {
        /// The event number (#N in alerts)
        id: i64,
        /// The department: a [[departments]] id, or an Art. 9 default (wangxuan, xinfang,
        /// waixuan, gongan, waishi, yingji)
        #[arg(long)]
        to: String,
        /// Write to this file instead of standard output
        #[arg(long)]
        output: Option<std::path::PathBuf>,
        /// Overwrite an existing --output file
        #[arg(long)]
        force: bool,
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
        /// online | expert | press_conference | interview; or rumour-confirmed (核实为谣言) |
        /// rumour-refuted (核实不是谣言): the event's posts go with that label to
        /// <config>/rumour_cases.jsonl, for `rumour train --cases`
        #[arg(long)]
        kind: String,
        /// Where it was published
        #[arg(long)]
        link: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Record the joint assessment (会商研判, Art. 8/13): the event's nature, trend, risks and proposed handling
    Assess {
        id: i64,
        #[arg(long)]
        by: String,
        /// What kind of event it is (事件性质)
        #[arg(long)]
        nature: String,
        /// up | flat | down (上升、平稳、回落)
        #[arg(long)]
        trend: String,
        /// The risks (风险)
        #[arg(long)]
        risk: String,
        /// The proposed handling (处置建议)
        #[arg(long)]
        plan: String,
    },
    /// Close (办结) an event: nothing more is sent about it
    Close {
        id: i64,
        #[arg(long)]
        by: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Reopen (重新打开) a closed event: its deadlines and ladder apply again
    Reopen {
        id: i64,
        #[arg(long)]
        by: String,
        /// Why (for the audit trail)
        #[arg(long)]
        note: Option<String>,
    },
    /// Split (拆分) a wrongly merged document out of an event: it is judged again and forms
    /// or joins the right event, whose alert goes out; both events record the decision
    Split {
        id: i64,
        /// The document number (文档 #D in `yuqing event show N`)
        #[arg(long)]
        doc: i64,
        #[arg(long)]
        by: String,
        /// Why (for the audit trail)
        #[arg(long)]
        reason: String,
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

pub(super) fn act(config: &Config, action: EventAction) -> anyhow::Result<ExitCode> {
    let now = chrono::Utc::now();
    let refuse = |message: String| {
        eprintln!("{message}");
        Ok(ExitCode::from(1))
    };
    let (id, by, command) = match action {
        EventAction::List { limit } => return show(config, None, limit),
        EventAction::Show { id } => return super::timeline::show(config, id),
        EventAction::Brief { id, to, output, force } => return brief(config, id, &to, output.as_deref(), force),
        EventAction::Accept { id, by, note } => (id, by, Command::Accept { note }),
        EventAction::Transfer { id, to, by, reason } => (id, by, Command::Transfer { to, reason }),
        EventAction::Feedback { id, by, kind, .. } if kind == "rumour-confirmed" || kind == "rumour-refuted" => {
            return rumour_case(config, id, &by, kind == "rumour-confirmed");
        }
        EventAction::Feedback { id, by, kind, link, note } => (id, by, Command::Feedback { kind, link, note }),
        EventAction::Close { id, by, note } => (id, by, Command::Close { note }),
        EventAction::Assess { id, by, nature, trend, risk, plan } => {
            (id, by, Command::Assess { nature, trend, risk, plan })
        }
        EventAction::Reopen { id, by, note } => (id, by, Command::Reopen { note }),
        EventAction::Split { id, doc, by, reason } => return split(config, id, doc, &by, &reason),
        EventAction::Downgrade { id, to, by, reason } => {
            let Some(to) = Grade::parse(&to) else {
                return refuse(format!("无法识别的级别 \"{to}\"；请写 II、III 或 IV"));
            };
            (id, by, Command::Downgrade { to, reason })
        }
        EventAction::Mute { id, by, reason, until } => {
            let Some(end) = parse_until(&until, now, config.timezone).filter(|t| *t > now) else {
                return refuse(format!(
                    "无法识别的结束时间 \"{until}\"；请写将来的时间，如 \"2026-12-01 18:00\"，或时长，如 8h、2d"
                ));
            };
            (id, by, Command::Mute { until: end, reason })
        }
    };
    let mut store = super::open_store(config)?;
    match workflow::apply(&mut store, config, id, &by, &command, now) {
        Ok(done) => {
            println!("{done}");
            Ok(ExitCode::SUCCESS)
        }
        Err(WorkflowError::Store(e)) => Err(e.into()),
        Err(e) => refuse(e.to_string()),
    }
}

/// `yuqing event brief N --to DEPT`: the 报送单 of event N for an outside department.
fn brief(
    config: &Config,
    id: i64,
    to: &str,
    output: Option<&std::path::Path>,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let refuse = |message: String| {
        eprintln!("{message}");
        Ok(ExitCode::from(1))
    };
    let org = &config.response.org;
    if org.department(to).is_none() && crate::response::org::default_department_name(to).is_none() {
        let mut known: Vec<&str> = org.departments.iter().map(|d| d.id.as_str()).collect();
        for (d, _) in crate::response::org::ART9_DEPARTMENTS {
            if !known.contains(&d) {
                known.push(d);
            }
        }
        return refuse(format!(
            "未知的部门 \"{to}\"；可用（[[departments]] 中的 id 及第九条默认部门）：{}",
            known.join("、")
        ));
    }
    let store = super::open_store(config)?;
    let Some(timeline) = store.event_timeline(id)? else {
        return refuse(format!("没有编号为 #{id} 的事件（用 yuqing event list 查看最近的事件）"));
    };
    let now = Utc::now();
    let view = crate::report::timeline::view(config, &timeline, now);
    let department = org.department_name(to);
    let text = crate::report::brief::text(&view, &department, now, config.timezone);
    super::report::emit(output, text.as_bytes(), force, |path| {
        format!("已生成事件 #{id} 报送{department}的舆情报送单：{}", path.display())
    })
}

/// The office's labelled cases, in the config directory.
pub const CASES_FILE: &str = "rumour_cases.jsonl";

/// `yuqing event feedback N --kind rumour-confirmed|rumour-refuted`: each post of event N
/// appended to `<config>/rumour_cases.jsonl` as `{"text", "label", "event", "document",
/// "by"}`, the text read by `rumour::text::post_text` as training reads it, and `comments`
/// (its stored comments of the first [`crate::rumour::EARLY_COMMENTS`], earliest first)
/// when it has any, for `rumour train --comments`.
fn rumour_case(config: &Config, id: i64, by: &str, rumour: bool) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    let org = &config.response.org;
    if !org.people.is_empty() && org.person(by).is_none() {
        eprintln!("{}", WorkflowError::UnknownPerson { given: by.to_string(), hint: org.person_hint(by) });
        return Ok(ExitCode::from(1));
    }
    let store = super::open_store(config)?;
    let steps = store.event_path(id)?;
    if steps.is_empty() {
        eprintln!("{}", WorkflowError::NoEvent(id));
        return Ok(ExitCode::from(1));
    }
    let mut lines = String::new();
    for step in &steps {
        let Some((doc, m)) = store.stored_document(step.document_id)? else { continue };
        let text = crate::rumour::text::post_text(&m.document.title, &m.document.text);
        let mut line =
            serde_json::json!({"text": text, "label": i32::from(rumour), "event": id, "document": doc, "by": by});
        let comments = store.early_comments(doc, m.document.published_at, crate::rumour::EARLY_COMMENTS)?;
        if !comments.is_empty() {
            line["comments"] = serde_json::json!(comments);
        }
        lines.push_str(&format!("{line}\n"));
    }
    let path = config.dir.join(CASES_FILE);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(lines.as_bytes()));
    if let Err(e) = written {
        eprintln!("错误：无法写入 {}：{e}", path.display());
        return Ok(ExitCode::from(2));
    }
    let label = if rumour { "核实为谣言" } else { "核实不是谣言" };
    println!(
        "事件 #{id} 的 {} 篇文档已由 {}记为{label}，写入 {}；重新训练：yuqing rumour train --data 语料.jsonl --cases {}",
        lines.lines().count(),
        org.person_label(by),
        path.display(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `yuqing event split N --doc D`: the document is judged again apart from event N.
fn split(config: &Config, id: i64, doc: i64, by: &str, reason: &str) -> anyhow::Result<ExitCode> {
    let org = &config.response.org;
    if !org.people.is_empty() && org.person(by).is_none() {
        eprintln!("{}", WorkflowError::UnknownPerson { given: by.to_string(), hint: org.person_hint(by) });
        return Ok(ExitCode::from(1));
    }
    let parts = crate::daemon::Parts::build(config.clone())?;
    let who = org.person_label(by);
    match crate::pipeline::split(&parts.ctx, id, doc, (by, reason), chrono::Utc::now()) {
        Ok(done) => {
            let now_in = match (done.event_id, done.new_event) {
                (Some(e), true) => format!("自成新事件 #{e}（{}）", done.event_title),
                (Some(e), false) => format!("并入事件 #{e}（{}）", done.event_title),
                (None, _) => "它已不再命中任何关键词，不属于任何事件".to_string(),
            };
            println!("文档 #{doc} 已由 {who}从事件 #{id} 拆出，{now_in}；已加入发件箱的提醒 {} 条。", done.alerts);
            Ok(ExitCode::SUCCESS)
        }
        Err(crate::pipeline::SplitError::Pipeline(e)) => Err(e.into()),
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(1))
        }
    }
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
    let store = super::open_store(config)?;
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
        let likeness = match n {
            0 => "首发".to_string(),
            _ => format!("相似度 {:.2}{}", step.similarity, crate::report::timeline::evidence_note(&step.evidence)),
        };
        println!(
            "  {}. {}  {}  {title}  [文档 #{}；{likeness}]",
            n + 1,
            local(step.seen_at, tz),
            source_name(&step.source_id),
            step.document_id
        );
        if let Some(link) = &step.link {
            println!("     {link}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
