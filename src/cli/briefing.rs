//! `yuqing briefing send ID [--at TIME] [--dry-run]`: build a `[[briefings]]` digest now — print
//! it (dry run: nothing stored, nothing sent, a database that does not exist is not created)
//! or queue it in the outbox like the daemon does (once per due time).

use std::process::ExitCode;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::Config;
use crate::report::briefing::{Digest, Sent};

#[derive(Debug, clap::Subcommand)]
pub enum BriefingCommand {
    /// Build one briefing now: print it (--dry-run) or queue it for sending (生成并发送简报)
    Send(SendArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct SendArgs {
    /// The briefing's id in [[briefings]]
    pub id: String,
    /// The due time the period ends at, "YYYY-MM-DD HH:MM" in the configured timezone or
    /// RFC 3339 [default: now]
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Print the subject, receivers and text instead of queueing it (预览)
    #[arg(long)]
    pub dry_run: bool,
}

/// "2026-11-27 08:00" (local), "2026-11-27T08:00" (local) or RFC 3339.
pub(super) fn parse_time(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .and_then(|t| tz.from_local_datetime(&t).earliest())
        .map(|t| t.with_timezone(&Utc))
}

pub(super) fn run(config: &Config, command: &BriefingCommand) -> anyhow::Result<ExitCode> {
    let BriefingCommand::Send(args) = command;
    let Some(briefing) = config.briefing(&args.id) else {
        let ids: Vec<&str> = config.briefings.iter().map(|b| b.id.as_str()).collect();
        let known = if ids.is_empty() { "（未配置 [[briefings]]）".to_string() } else { ids.join("、") };
        eprintln!("没有 id 为 \"{}\" 的简报。已配置的简报：{known}", args.id);
        return Ok(ExitCode::from(1));
    };
    let tz = config.timezone;
    let now = Utc::now();
    let due = match &args.at {
        None => DateTime::from_timestamp(now.timestamp() - now.timestamp().rem_euclid(60), 0).unwrap_or(now),
        Some(text) => match parse_time(text, tz) {
            Some(t) => t,
            None => {
                eprintln!("--at 的时间无效：{text}（应写成 \"2026-11-27 08:00\"，按配置的时区）");
                return Ok(ExitCode::from(1));
            }
        },
    };
    if args.dry_run {
        let store = super::existing_store(config)?;
        let digest =
            Digest::load(store.as_ref(), config, briefing, due, now).map_err(|e| anyhow::anyhow!(e.describe_zh()))?;
        let message = crate::report::briefing::render(&digest, config, &briefing.recipients);
        println!("主题：{}", message.subject);
        println!("收件人：{}", message.recipients.join("，"));
        println!();
        print!("{}", message.body_text);
        println!();
        if digest.is_empty() && !briefing.send_empty {
            println!("（本期没有新增事件，也没有未办结事件：按配置 send_empty = false，到时不会发送）");
        }
        println!("（试运行：未写入数据库，未发送）");
        return Ok(ExitCode::SUCCESS);
    }
    if !briefing.deliverable(config.mail.is_some()) {
        eprintln!("未配置 [mail]，且简报的接收组没有群机器人，无法发送简报。可用 --dry-run 预览。");
        return Ok(ExitCode::from(1));
    }
    let mut store = super::open_store(config)?;
    let sent = crate::report::briefing::send(&mut store, config, briefing, due, now)
        .map_err(|e| anyhow::anyhow!(e.describe_zh()))?;
    let when = super::local(due, tz);
    match sent {
        Sent::Queued { alert_id, digest } => {
            println!(
                "已将{}（截至 {when}）加入发件箱：提醒 #{alert_id}，新增事件 {} 件，未办结 {} 件；收件人：{}",
                briefing.name,
                digest.report.totals.events,
                digest.open.len(),
                briefing.recipients.join("，")
            );
            println!("运行中的守护进程会在一分钟内发送。");
        }
        Sent::Empty => println!("{}（截至 {when}）没有可报告的内容，按配置 send_empty = false 未发送。", briefing.name),
        Sent::AlreadyDone => println!("{}（截至 {when}）已经生成过，未重复发送。", briefing.name),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_local_unless_they_carry_an_offset() {
        let tz = chrono_tz::Asia::Shanghai;
        let expected = DateTime::parse_from_rfc3339("2026-11-27T00:00:00Z").map(|t| t.with_timezone(&Utc)).ok();
        assert_eq!(parse_time("2026-11-27 08:00", tz), expected);
        assert_eq!(parse_time("2026-11-27T08:00:00+08:00", tz), expected);
        assert_eq!(parse_time("昨天", tz), None);
    }
}
