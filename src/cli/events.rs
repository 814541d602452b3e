//! `yuqing events`: recent events (舆情事件) with their sources, copies and engagement, and
//! one event's propagation path (传播路径, Art. 13). Read-only; usable while the daemon runs.

use std::process::ExitCode;

use crate::config::Config;
use crate::store::Store;

use super::local;

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
