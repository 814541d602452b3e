//! `yuqing outbox`: the alert outbox for the admin — what is waiting, failing, sent, dropped
//! or given up on (dead letters), each alert's delivery attempts with the provider's answers,
//! and requeueing dead letters once the cause is fixed. Usable while the daemon runs.

use std::process::ExitCode;

use crate::config::Config;
use crate::model::HoldReason;
use crate::store::OutboxFilter;

use super::local;

#[derive(Debug, clap::Subcommand)]
pub enum OutboxCommand {
    /// List alerts, newest first (发件箱列表)
    List {
        /// pending | failing | sent | dead | dropped | all
        #[arg(long, default_value = "all")]
        status: String,
        #[arg(long, default_value_t = 30)]
        limit: usize,
    },
    /// One alert with every delivery attempt and the provider's answers (投递记录)
    Show { id: i64 },
    /// Requeue a dead (or failing) alert now, or every dead one (重新投递)
    Retry {
        /// The alert's number (see `yuqing outbox list`)
        id: Option<i64>,
        /// Every dead letter
        #[arg(long, conflicts_with = "id")]
        all_dead: bool,
    },
}

fn status_zh(status: &str, attempts: i64) -> &'static str {
    match status {
        "pending" if attempts > 0 => "待重试",
        "pending" => "待发送",
        "sent" => "已发送",
        "dropped" => "已撤回",
        "dead" => "死信",
        _ => "未知",
    }
}

pub(super) fn run(config: &Config, command: OutboxCommand) -> anyhow::Result<ExitCode> {
    let tz = config.timezone;
    match command {
        OutboxCommand::List { status, limit } => {
            let filter = match status.as_str() {
                "all" => OutboxFilter::All,
                "pending" => OutboxFilter::Pending,
                "failing" => OutboxFilter::Failing,
                "sent" => OutboxFilter::Sent,
                "dead" => OutboxFilter::Dead,
                "dropped" => OutboxFilter::Dropped,
                other => {
                    eprintln!("未知的状态 \"{other}\"；可用：pending、failing、sent、dead、dropped、all");
                    return Ok(ExitCode::from(1));
                }
            };
            let store = super::open_store(config)?;
            let rows = store.outbox_rows(filter, limit)?;
            if rows.is_empty() {
                println!("发件箱中没有符合条件的提醒。");
            }
            for r in rows {
                let event = r.event_id.map(|e| format!(" 事件#{e}")).unwrap_or_default();
                println!(
                    "#{}  [{}]  {} {}{event}  {}  → {}",
                    r.id,
                    status_zh(&r.status, r.attempts),
                    local(r.created_at, tz),
                    r.channel,
                    r.subject,
                    r.recipients.join("、")
                );
                match r.status.as_str() {
                    "sent" => {
                        let at = r.sent_at.map(|t| local(t, tz)).unwrap_or_default();
                        println!("      已于 {at} 发送（尝试 {} 次）", r.attempts);
                    }
                    "pending" if r.attempts > 0 && r.last_error.is_some() => println!(
                        "      已尝试 {} 次，下次 {}；最近错误：{}",
                        r.attempts,
                        local(r.next_attempt_at, tz),
                        r.last_error.as_deref().unwrap_or("")
                    ),
                    "pending" if r.held.is_some() => println!(
                        "      {}，将于 {} 合并发送",
                        r.held.map_or("", HoldReason::label_zh),
                        local(r.next_attempt_at, tz)
                    ),
                    "dead" | "dropped" => println!("      {}", r.last_error.as_deref().unwrap_or("")),
                    _ => {}
                }
                if r.status == "pending" && !r.delivered_to.is_empty() {
                    println!("      已随汇总送达：{}", r.delivered_to.join("、"));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::Show { id } => {
            let store = super::open_store(config)?;
            let Some(r) = store.outbox_rows(OutboxFilter::All, usize::MAX)?.into_iter().find(|r| r.id == id) else {
                eprintln!("发件箱中没有编号为 #{id} 的提醒（用 yuqing outbox list 查看）");
                return Ok(ExitCode::from(1));
            };
            println!("提醒 #{}  [{}]  {}（{}）", r.id, status_zh(&r.status, r.attempts), r.subject, r.kind);
            println!("  通道：{}  收件人：{}", r.channel, r.recipients.join("、"));
            if let Some(held) = r.held {
                println!("  暂缓原因：{}（到时与同一收件人的其他提醒合并为汇总发送）", held.label_zh());
            }
            println!("  创建：{}", local(r.created_at, tz));
            let attempts = store.alert_attempts(id)?;
            if attempts.is_empty() {
                println!("  尚未尝试投递。");
            }
            for (n, a) in attempts.iter().enumerate() {
                let outcome = if a.ok { "成功" } else { "失败" };
                let id = a.provider_id.as_deref().map(|p| format!("（回执编号 {p}）")).unwrap_or_default();
                println!("  {}. {}  {outcome}{id}  {}", n + 1, local(a.at, tz), a.detail.as_deref().unwrap_or(""));
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::Retry { id, all_dead } => {
            if id.is_none() && !all_dead {
                eprintln!("请写提醒编号，或 --all-dead 重新投递全部死信");
                return Ok(ExitCode::from(1));
            }
            let mut store = super::open_store(config)?;
            let n = store.requeue(id, chrono::Utc::now())?;
            match (id, n) {
                (Some(id), 0) => {
                    eprintln!("提醒 #{id} 不存在，或已发送、已撤回，无需重新投递");
                    Ok(ExitCode::from(1))
                }
                (Some(id), _) => {
                    println!("提醒 #{id} 已重新排队，守护进程将尽快投递。");
                    Ok(ExitCode::SUCCESS)
                }
                (None, n) => {
                    println!("{n} 条死信已重新排队，守护进程将尽快投递。");
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
    }
}
