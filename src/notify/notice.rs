//! Notices to the admin about a source's health (failing, recovered, silent), about the
//! server's disk running low, and about alerts given up on (dead letters); and the notice to a
//! section that a watched policy's risk level rose. One mail per
//! episode (the store's flags see to that), never one per failed poll or check. Pure.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::render::escape;
use crate::model::{AlertMessage, SourceNotice};

/// What a notice says about the source.
pub struct NoticeContext<'a> {
    pub source_id: &'a str,
    pub source_name: &'a str,
    pub location: String,
    pub consecutive_failures: u32,
    pub last_error: Option<&'a str>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_new_at: Option<DateTime<Utc>>,
    pub max_silence: Option<Duration>,
    pub recipients: Vec<String>,
    pub timezone: Tz,
    pub now: DateTime<Utc>,
}

pub fn render_notice(notice: SourceNotice, c: &NoticeContext<'_>) -> AlertMessage {
    let when = |t: Option<DateTime<Utc>>| {
        t.map_or_else(|| "从未".to_string(), |t| t.with_timezone(&c.timezone).format("%Y-%m-%d %H:%M").to_string())
    };
    let (subject, lead) = match notice {
        SourceNotice::Failing => (
            format!("【信源故障】{} 已连续 {} 次抓取失败", c.source_name, c.consecutive_failures),
            format!("信源“{}”已连续 {} 次抓取失败，期间的舆情可能漏报。", c.source_name, c.consecutive_failures),
        ),
        SourceNotice::Recovered => {
            (format!("【信源恢复】{} 已恢复正常", c.source_name), format!("信源“{}”已恢复正常抓取。", c.source_name))
        }
        SourceNotice::Silent => (
            format!("【信源沉寂】{} 长时间没有新内容", c.source_name),
            format!(
                "信源“{}”已超过 {} 小时没有新内容（上限 {} 小时），请确认网站或订阅源是否改版、停更或被屏蔽。",
                c.source_name,
                c.last_new_at.map_or(0, |t| (c.now - t).num_hours()),
                c.max_silence.map_or(0, |d| d.as_secs() / 3600)
            ),
        ),
    };
    let mut lines = vec![
        lead,
        String::new(),
        format!("信源：{}（{}）", c.source_name, c.source_id),
        format!("地址：{}", c.location),
        format!("上次成功：{}", when(c.last_success_at)),
        format!("上次有新内容：{}", when(c.last_new_at)),
    ];
    if notice == SourceNotice::Failing {
        lines.push(format!("最近错误：{}", c.last_error.unwrap_or("未知")));
        lines.push("恢复后会再发一封“信源恢复”通知；在此之前不再重复提醒。".into());
    }
    lines.push(String::new());
    lines.push("可在服务器上运行 yuqing sources 查看各信源状态，yuqing fetch <信源ID> --dry-run 检查抓取结果。".into());
    let body_text = lines.join("\n") + "\n";
    let body_html = format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">{}</body></html>",
        lines.iter().map(|l| format!("<p>{}</p>", escape(l))).collect::<String>()
    );
    AlertMessage { channel: "email".into(), recipients: c.recipients.clone(), subject, body_text, body_html }
}

/// The notice that alerts were given up on after their last attempt (one per episode).
pub fn render_dead_letter(
    subject: &str,
    error: &str,
    attempts: u32,
    recipients: Vec<String>,
    now: DateTime<Utc>,
    tz: Tz,
) -> AlertMessage {
    let lines = [
        format!("一条提醒在 {attempts} 次尝试后仍未送达，已停止重试（死信）。其他提醒同样可能受影响。"),
        String::new(),
        format!("提醒：{subject}"),
        format!("最近错误：{error}"),
        format!("时间：{}", now.with_timezone(&tz).format("%Y-%m-%d %H:%M")),
        String::new(),
        "请检查邮件服务器或短信、群机器人配置，修复后运行 yuqing outbox retry --all-dead 重新发送；".into(),
        "yuqing outbox list --status dead 列出全部死信。在有提醒成功送达之前，不再重复通知。".into(),
    ];
    AlertMessage {
        channel: "email".into(),
        recipients,
        subject: "【提醒投递失败】有提醒已停止重试".into(),
        body_text: format!("{}\n", lines.join("\n")),
        body_html: format!(
            "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">{}</body></html>",
            lines.iter().map(|l| format!("<p>{}</p>", escape(l))).collect::<String>()
        ),
    }
}

/// What the low-disk notice says.
pub struct DiskNotice<'a> {
    pub database: &'a std::path::Path,
    pub usage: crate::model::DiskUsage,
    pub min_free_mb: u64,
    pub recipients: Vec<String>,
}

/// 【磁盘空间不足】: free space on the database's filesystem fell below `[retention] min_free_mb`.
pub fn render_disk_notice(n: &DiskNotice<'_>) -> AlertMessage {
    use crate::util::human;
    let subject = format!("【磁盘空间不足】舆情监测服务器剩余 {}", human(n.usage.available));
    let lines = [
        format!(
            "舆情数据库所在磁盘的可用空间只剩 {}（下限 {} MiB）。空间耗尽后新抓取的信息将无法保存，期间的舆情可能漏报。",
            human(n.usage.available),
            n.min_free_mb
        ),
        String::new(),
        format!("数据库：{}（{}，预写日志 {}）", n.database.display(), human(n.usage.database), human(n.usage.wal)),
        format!("磁盘：共 {}，可用 {}", human(n.usage.total), human(n.usage.available)),
        String::new(),
        "请清理该磁盘上的其他文件或扩容；也可缩短 yuqing.toml 中 [retention] documents_days 后运行 yuqing db prune。"
            .into(),
        "空间恢复到下限以上之前不再重复提醒。可运行 yuqing status 查看当前情况。".into(),
    ];
    let body_text = lines.join("\n") + "\n";
    let body_html = format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">{}</body></html>",
        lines.iter().map(|l| format!("<p>{}</p>", escape(l))).collect::<String>()
    );
    AlertMessage { channel: "email".into(), recipients: n.recipients.clone(), subject, body_text, body_html }
}

/// What the policy risk notice says: a watched policy's level rose (Art. 8).
pub struct PolicyNotice<'a> {
    pub policy_id: &'a str,
    pub policy_name: &'a str,
    /// "价格科（pricing）".
    pub section: String,
    /// 高 / 中, and what it was before (低 when nothing was recorded).
    pub level: &'a str,
    pub previous: &'a str,
    /// The local day whose figures gave the level, YYYY-MM-DD.
    pub day: String,
    pub publish: String,
    pub reasons: &'a [String],
    pub recipients: Vec<String>,
}

/// 【政策舆情风险】: a watched policy's level rose; the section is told once per rise.
pub fn render_policy_notice(n: &PolicyNotice<'_>) -> AlertMessage {
    let subject = format!("【政策舆情风险】{}：风险等级升至{}", n.policy_name, n.level);
    let mut lines = vec![
        format!(
            "重大政策“{}”（计划发布日 {}）的舆情风险等级由{}升至{}（依据 {} 的数据）。",
            n.policy_name, n.publish, n.previous, n.level, n.day
        ),
        String::new(),
        format!("负责科室：{}", n.section),
        "理由：".into(),
    ];
    lines.extend(n.reasons.iter().map(|r| format!("- {r}")));
    lines.push(String::new());
    lines.push(format!(
        "请研判并按处置预案应对。完整评估（基线、逐日情况、互动量最高的信息）：yuqing policy report {} --format html --output 评估.html",
        n.policy_id
    ));
    lines.push("等级再次上升前不再重复提醒。".into());
    let body_text = lines.join("\n") + "\n";
    let body_html = format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">{}</body></html>",
        lines.iter().map(|l| format!("<p>{}</p>", escape(l))).collect::<String>()
    );
    AlertMessage { channel: "email".into(), recipients: n.recipients.clone(), subject, body_text, body_html }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> NoticeContext<'static> {
        NoticeContext {
            source_id: "people",
            source_name: "人民网·时政",
            location: "http://www.people.com.cn/rss/politics.xml".into(),
            consecutive_failures: 3,
            last_error: Some("服务器返回 HTTP 500"),
            last_success_at: None,
            last_new_at: DateTime::from_timestamp(1_795_000_000, 0),
            max_silence: Some(Duration::from_secs(72 * 3600)),
            recipients: vec!["admin@example.gov.cn".into()],
            timezone: chrono_tz::Asia::Shanghai,
            now: DateTime::from_timestamp(1_795_000_000 + 80 * 3600, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn each_notice_says_what_happened_and_what_to_do() {
        let failing = render_notice(SourceNotice::Failing, &ctx());
        assert_eq!(failing.subject, "【信源故障】人民网·时政 已连续 3 次抓取失败");
        assert!(failing.body_text.contains("最近错误：服务器返回 HTTP 500"));
        assert!(failing.body_text.contains("上次成功：从未"));
        assert_eq!(render_notice(SourceNotice::Recovered, &ctx()).subject, "【信源恢复】人民网·时政 已恢复正常");
        let silent = render_notice(SourceNotice::Silent, &ctx());
        assert!(silent.body_text.contains("已超过 80 小时没有新内容（上限 72 小时）"), "{}", silent.body_text);
        assert_eq!(silent.recipients, vec!["admin@example.gov.cn".to_string()]);
    }

    #[test]
    fn disk_notice_names_the_room_left_and_the_way_out() {
        let usage = crate::model::DiskUsage { database: 3 << 30, wal: 0, available: 300 << 20, total: 20 << 30 };
        let notice = render_disk_notice(&DiskNotice {
            database: std::path::Path::new("/var/lib/yuqing/yuqing.db"),
            usage,
            min_free_mb: 500,
            recipients: vec!["it@example.gov.cn".into()],
        });
        assert_eq!(notice.subject, "【磁盘空间不足】舆情监测服务器剩余 300.0 MiB");
        assert!(notice.body_text.contains("（下限 500 MiB）"), "{}", notice.body_text);
        assert!(notice.body_text.contains("yuqing db prune"));
    }
}
