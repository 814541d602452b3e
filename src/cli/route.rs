//! `yuqing test route`: the routing decision for a described event, in Chinese or as one
//! JSON object — owner, accountable leader, each escalation step with its time and people,
//! and the outside departments that receive a report.

use std::process::ExitCode;

use serde_json::json;

use crate::config::Config;
use crate::model::FlagKind;
use crate::response::{EventKey, Grade};
use crate::rules::Category;

#[derive(Debug, Clone, clap::Args)]
pub struct RouteArgs {
    /// Art. 9 category: 网络舆情 社情民意 对外宣传 安全稳定 涉外 应急管理 其他 (or its id)
    #[arg(long)]
    category: String,
    /// Grade: I, II, III or IV (特别重大 重大 较大 一般)
    #[arg(long)]
    grade: String,
    /// Topic or keyword list name (repeatable)
    #[arg(long)]
    topic: Vec<String>,
    /// Source id (repeatable)
    #[arg(long)]
    source: Vec<String>,
    /// Flag: rumour, distortion, misunderstanding, doubt (repeatable)
    #[arg(long)]
    flag: Vec<String>,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

/// `（是不是 "x"？）` when one of `known` is close to `wrong`, else nothing.
pub(super) fn did_you_mean(wrong: &str, known: &[&str]) -> String {
    crate::util::similar::suggest(wrong, known).map(|s| format!("（是不是 \"{s}\"？）")).unwrap_or_default()
}

fn duration_zh(d: std::time::Duration) -> String {
    let m = d.as_secs() / 60;
    match m {
        0 => "立即".into(),
        m if m % 60 == 0 => format!("{} 小时后", m / 60),
        m => format!("{m} 分钟后"),
    }
}

pub(super) fn test_route(config: &Config, args: &RouteArgs) -> anyhow::Result<ExitCode> {
    let Some(category) = Category::parse(&args.category) else {
        let known: Vec<&str> = Category::ALL.iter().map(|c| c.label_zh()).collect();
        eprintln!("未知的类别 \"{}\"；可用：{}", args.category, known.join("、"));
        return Ok(ExitCode::from(1));
    };
    let Some(grade) = Grade::parse(&args.grade) else {
        eprintln!("未知的级别 \"{}\"；可用：I、II、III、IV", args.grade);
        return Ok(ExitCode::from(1));
    };
    let mut flags = Vec::new();
    for f in &args.flag {
        match FlagKind::from_name(f) {
            Some(k) => flags.push(k),
            None => {
                eprintln!("未知的研判标记 \"{f}\"；可用：rumour、distortion、misunderstanding、doubt");
                return Ok(ExitCode::from(1));
            }
        }
    }
    // An event's topics are its lists' names and `@topic`s; its sources are source ids.
    let mut topics: Vec<&str> = Vec::new();
    for list in &config.keyword_lists {
        for t in [list.name.as_str(), list.meta.topic.as_str()] {
            if !topics.contains(&t) {
                topics.push(t);
            }
        }
    }
    if let Some(t) = args.topic.iter().find(|t| !topics.contains(&t.as_str())) {
        eprintln!(
            "未知的主题 \"{t}\"{}；可用（关键词列表名或其 @topic）：{}",
            did_you_mean(t, &topics),
            topics.join("、")
        );
        return Ok(ExitCode::from(1));
    }
    let sources: Vec<&str> = config.sources.iter().map(|s| s.id.as_str()).collect();
    if let Some(s) = args.source.iter().find(|s| !sources.contains(&s.as_str())) {
        let known =
            if sources.is_empty() { "（sources.toml 中还没有信源）".to_string() } else { sources.join("、") };
        eprintln!("未知的信源 \"{s}\"{}；可用（sources.toml 中的 id）：{known}", did_you_mean(s, &sources));
        return Ok(ExitCode::from(1));
    }
    let key = EventKey {
        categories: vec![category],
        topics: args.topic.clone(),
        grade: Some(grade),
        sources: args.source.clone(),
        flags,
        transferred_to: None,
    };
    let r = &config.response;
    let org = &r.org;
    let d = r.routing.decide(org, &key, |t| config.topic_owner(t));
    let department = |id: &str| org.department_name(id);
    if args.json {
        let out = json!({
            "category": category.as_str(),
            "grade": grade.as_str(),
            "owner": { "section": d.owner, "name": org.section(&d.owner).map(|s| s.name.clone()), "reason": d.owner_reason },
            "accountable": { "person": d.accountable, "name": d.accountable.as_deref().and_then(|p| org.person(p)).map(|p| p.name.clone()), "reason": d.accountable_reason },
            "steps": d.steps.iter().map(|(after, people)| json!({
                "after_minutes": after.as_secs() / 60,
                "notify": people.iter().map(|(role, p)| json!({
                    "role": role.as_str(), "person": p,
                    "name": org.person(p).map(|x| x.name.clone()),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "repeat": d.repeat.map(|r| json!({
                "every_minutes": r.every.as_secs() / 60, "times": r.times, "each_person": r.each_person,
            })),
            "report_to": d.report_to.iter().map(|id| json!({"department": id, "name": department(id)})).collect::<Vec<_>>(),
            "receivers": d.notify.iter().map(|id| json!({
                "receiver": id, "name": config.receiver(id).map(|r| r.name.clone()),
            })).collect::<Vec<_>>(),
        });
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("事件：{}，{}", category.label_zh(), grade.label_zh());
    println!("牵头科室：{}（{}）", org.section_label(&d.owner), d.owner_reason);
    let accountable = d.accountable.as_deref().map_or_else(|| "未配置".to_string(), |p| org.person_label(p));
    println!("责任领导：{accountable}（{}）", d.accountable_reason);
    println!("逐级提醒（未受理时）：");
    for (after, people) in &d.steps {
        let who: Vec<String> =
            people.iter().map(|(role, p)| format!("{} {}", role.label_zh(), org.person_label(p))).collect();
        let who = if who.is_empty() { "（该岗位未配置人员）".to_string() } else { who.join("、") };
        println!("  {}：{who}", duration_zh(*after));
    }
    if let Some(r) = d.repeat {
        let until = if r.each_person { "直至每人各自受理" } else { "直至有人受理" };
        println!("  此后每 {} 分钟再提醒一次，{until}，最多 {} 次", r.every.as_secs() / 60, r.times);
    }
    let report: Vec<String> = d.report_to.iter().map(|id| department(id)).collect();
    println!("报送：{}", if report.is_empty() { "无需报送外部门".to_string() } else { report.join("、") });
    if !d.notify.is_empty() {
        let groups: Vec<String> = d
            .notify
            .iter()
            .map(|id| config.receiver(id).map_or_else(|| id.clone(), |r| format!("{}（{id}）", r.name)))
            .collect();
        println!("同时告知接收组：{}", groups.join("、"));
    }
    Ok(ExitCode::SUCCESS)
}
