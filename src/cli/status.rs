//! `yuqing status`: what the daemon is doing now, read from the store (and the disk) while
//! it runs: each source's next due time and failures, open events by grade with overdue
//! deadlines, the outbox, the database's size and the free space beside it. Read-only.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::local;
use crate::config::{Config, SourceConfig};
use crate::report::{DeadlineStatus, Period, Report};
use crate::response::Grade;
use crate::store::{SourceState, Store};

pub fn show(config: &Config) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let tz = config.timezone;
    println!("舆情监测运行状态（{}）", local(now, tz));
    let Some(store) = super::existing_store(config)? else {
        println!("数据库 {} 尚未建立：守护进程还没有运行过。", config.storage_path.display());
        print_disk(config);
        return Ok(ExitCode::SUCCESS);
    };
    print_sources(config, &store.source_states()?, now);
    print_events(config, &store, now)?;
    print_outbox(&store, now, tz)?;
    print_disk(config);
    if store.disk_low_notified()? {
        println!("  已就磁盘空间不足通知管理员（空间恢复后才会再次提醒）");
    }
    let pruned = store.last_prune_at()?.map_or_else(|| "尚未清理".to_string(), |t| local(t, tz));
    println!(
        "数据保留：文档 {} 天，事件与处置记录 {} 天；上次清理：{pruned}",
        config.retention.documents_days, config.retention.assessment_days
    );
    Ok(ExitCode::SUCCESS)
}

fn print_sources(config: &Config, states: &[SourceState], now: DateTime<Utc>) {
    let enabled: Vec<&SourceConfig> = config.enabled_sources().collect();
    let failing =
        enabled.iter().filter(|s| states.iter().any(|st| st.source_id == s.id && st.consecutive_failures > 0)).count();
    println!("信源：启用 {} 个，正常 {} 个，故障 {} 个", enabled.len(), enabled.len() - failing, failing);
    for source in enabled {
        let state = states.iter().find(|s| s.source_id == source.id).cloned().unwrap_or_default();
        println!("  {}（{}）  下次抓取：{}", source.id, source.name, next_due(config, source, &state, now));
        if state.consecutive_failures > 0 {
            let error = state.last_error.as_deref().unwrap_or("未知错误");
            let at = state.last_error_at.map(|t| format!("（{}）", local(t, config.timezone))).unwrap_or_default();
            println!("    故障：连续失败 {} 次，最近错误{at}：{error}", state.consecutive_failures);
        }
    }
}

/// When the source runs next, as the daemon schedules it: after its last attempt, on its
/// schedule, with the failure backoff.
fn next_due(config: &Config, source: &SourceConfig, state: &SourceState, now: DateTime<Utc>) -> String {
    let tz = config.timezone;
    let Some(last) = state.last_attempt_at else {
        return "立即（从未运行）".into();
    };
    match source.schedule.next_run(last, last, tz, state.consecutive_failures, None) {
        Some(at) if at <= now => format!("已到期（{}）", local(at, tz)),
        Some(at) => local(at, tz),
        None => "无（计划中没有以后的时间）".into(),
    }
}

fn print_events(config: &Config, store: &Store, now: DateTime<Utc>) -> anyhow::Result<()> {
    let today = now.with_timezone(&config.timezone).date_naive();
    let from = today.checked_sub_days(chrono::Days::new(u64::from(config.retention.assessment_days))).unwrap_or(today);
    let report = Report::load(store, config, Period::new(from, today, config.timezone)?, now)?;
    let open: Vec<_> = report.open_events().collect();
    let count = |g: Option<Grade>| open.iter().filter(|e| e.grade == g).count();
    let mut by_grade: Vec<String> =
        Grade::ALL.iter().map(|&g| format!("{} {}", g.label_zh(), count(Some(g)))).collect();
    let ungraded = count(None);
    if ungraded > 0 {
        by_grade.push(format!("未分级 {ungraded}"));
    }
    println!("未办结事件：{} 件（{}）", open.len(), by_grade.join("，"));
    let overdue: Vec<(i64, &str)> = open
        .iter()
        .flat_map(|e| {
            e.deadlines
                .iter()
                .filter(|d| d.status == DeadlineStatus::Missed { late_at: None })
                .map(|d| (e.id, d.kind.label_zh()))
        })
        .collect();
    println!("超时未完成的时限：{} 个", overdue.len());
    for (id, kind) in overdue.iter().take(10) {
        println!("  事件 #{id}：{kind}已超时");
    }
    if overdue.len() > 10 {
        println!("  ……另有 {} 个，详见 yuqing report", overdue.len() - 10);
    }
    Ok(())
}

fn print_outbox(store: &Store, now: DateTime<Utc>, tz: Tz) -> anyhow::Result<()> {
    let status = store.outbox_status()?;
    if status.pending == 0 {
        println!("发件箱：没有待发送的提醒");
        return Ok(());
    }
    let oldest =
        store.oldest_pending_alert()?.map(|t| format!("，最早一条已等待 {}", age(now - t))).unwrap_or_default();
    println!("发件箱：{} 条待发送，其中 {} 条发送失败待重试{oldest}", status.pending, status.failing);
    if let Some(e) = &status.last_error {
        println!("  最近错误：{e}");
    }
    if let Some(t) = status.next_attempt_at {
        println!("  下次尝试：{}", local(t, tz));
    }
    Ok(())
}

fn print_disk(config: &Config) {
    use crate::store::disk::human;
    if let Some(url) = &config.storage_url {
        // Its files and their disk are the server's.
        println!("数据库：PostgreSQL {url}（数据库大小与磁盘空间请在数据库服务器上查看）");
        return;
    }
    match crate::store::disk::usage(&config.storage_path) {
        Ok(u) => {
            let low = if u.is_low(config.retention.min_free_mb) {
                format!("  ⚠ 低于下限 {} MiB", config.retention.min_free_mb)
            } else {
                String::new()
            };
            println!(
                "数据库：{}，预写日志 {}；磁盘可用 {} / 共 {}{low}",
                human(u.database),
                human(u.wal),
                human(u.available),
                human(u.total)
            );
        }
        Err(e) => println!("数据库：无法读取磁盘空间：{e}"),
    }
}

/// "3 小时 20 分钟", "2 天 4 小时", "45 秒".
fn age(d: chrono::Duration) -> String {
    let secs = d.num_seconds().max(0);
    match secs {
        0..60 => format!("{secs} 秒"),
        60..3600 => format!("{} 分钟", secs / 60),
        3600..86_400 => format!("{} 小时 {} 分钟", secs / 3600, secs % 3600 / 60),
        _ => format!("{} 天 {} 小时", secs / 86_400, secs % 86_400 / 3600),
    }
}
