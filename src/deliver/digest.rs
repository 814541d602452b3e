//! Digests: alerts that were held back (quiet hours, a robot's spent budget, the SMS cap)
//! and bursts over a robot's budget are merged into one message per recipient and channel:
//! at the start of a working period a person gets one email listing everything held for
//! them overnight, and a robot group one post instead of thirty. This module plans which
//! alerts go alone and which merge, and renders the merged messages. Pure: it sends nothing
//! (the outbox loop in `delivery` does) and drops nothing (every alert ends in one plan item).

use std::collections::HashMap;

use sha2::{Digest as _, Sha256};

use crate::model::{AlertMessage, HoldReason, OutboxAlert};
use crate::notify::escape;

/// Alerts merged into one message to one recipient on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub channel: String,
    /// The one address or mobile it goes to; `None` for a robot, whose group is the
    /// recipient (the people to mention are those of every alert).
    pub recipient: Option<String>,
    /// Oldest first; never empty.
    pub alerts: Vec<OutboxAlert>,
}

/// One thing to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// An alert sent as it is, to all its recipients.
    Single(OutboxAlert),
    Digest(Digest),
}

impl Work {
    fn first_id(&self) -> i64 {
        match self {
            Work::Single(a) => a.id,
            Work::Digest(d) => d.alerts.first().map_or(i64::MAX, |a| a.id),
        }
    }
}

/// (channel, recipient): what one digest goes through and to.
type GroupKey = (String, Option<String>);

fn is_robot(channel: &str) -> bool {
    channel.starts_with("robot:")
}

/// Splits due alerts into work, oldest first. Alerts for which `merge` holds are grouped
/// per (channel, recipient) — per robot for `robot:<id>` channels — and each group becomes
/// one digest; an alert whose every group holds only itself is sent alone, as it is.
/// The others are sent alone.
pub fn plan(due: Vec<OutboxAlert>, merge: impl Fn(&OutboxAlert) -> bool) -> Vec<Work> {
    let mut work = Vec::new();
    // Groups in order of first appearance, each with indexes into `merging`.
    let mut groups: Vec<(GroupKey, Vec<usize>)> = Vec::new();
    let mut position: HashMap<GroupKey, usize> = HashMap::new();
    let mut merging: Vec<OutboxAlert> = Vec::new();
    for alert in due {
        let channel = alert.message.channel.clone();
        let keys: Vec<Option<String>> =
            if is_robot(&channel) { vec![None] } else { alert.message.recipients.iter().cloned().map(Some).collect() };
        if !merge(&alert) || keys.is_empty() {
            work.push(Work::Single(alert));
            continue;
        }
        let index = merging.len();
        for recipient in keys {
            let key = (channel.clone(), recipient);
            let at = *position.entry(key.clone()).or_insert_with(|| {
                groups.push((key, Vec::new()));
                groups.len() - 1
            });
            groups[at].1.push(index);
        }
        merging.push(alert);
    }
    // An alert alone in each of its groups goes as it is (to all its recipients at once).
    let mut alone = vec![true; merging.len()];
    for (_, members) in &groups {
        if members.len() > 1 {
            members.iter().for_each(|&i| alone[i] = false);
        }
    }
    let mut singled = vec![false; merging.len()];
    for ((channel, recipient), members) in groups {
        if members.iter().all(|&i| alone[i]) {
            for i in members {
                if !singled[i] {
                    singled[i] = true;
                    work.push(Work::Single(merging[i].clone()));
                }
            }
            continue;
        }
        let alerts = members.iter().map(|&i| merging[i].clone()).collect();
        work.push(Work::Digest(Digest { channel, recipient, alerts }));
    }
    work.sort_by_key(Work::first_id);
    work
}

impl Digest {
    /// The id of the first alert: names the digest (SMS out-id, audit trail).
    pub fn first_id(&self) -> i64 {
        self.alerts.first().map_or(0, |a| a.id)
    }

    pub fn ids(&self) -> Vec<i64> {
        self.alerts.iter().map(|a| a.id).collect()
    }

    /// A stable name for this digest, for its Message-ID and file name: the first alert's
    /// id and a short hash of the recipient, so per-recipient digests of the same alerts
    /// differ and a resend after a crash has the same name.
    pub fn key(&self) -> String {
        let hash = Sha256::digest(self.recipient.as_deref().unwrap_or(&self.channel).as_bytes());
        format!("digest-{:06}-{}", self.first_id(), crate::util::hex(&hash[..4]))
    }

    /// Splits a robot digest into digests whose text fits `max_bytes` (a single alert
    /// larger than that stays alone and is cut by the channel).
    pub fn chunks(self, max_bytes: usize) -> Vec<Digest> {
        let mut out: Vec<Digest> = Vec::new();
        let mut size = 0;
        for alert in self.alerts {
            let cost = alert.message.body_text.len() + SEPARATOR.len();
            match out.last_mut() {
                Some(last) if size + cost <= max_bytes => {
                    size += cost;
                    last.alerts.push(alert);
                }
                _ => {
                    size = HEADER_BYTES + cost;
                    out.push(Digest {
                        channel: self.channel.clone(),
                        recipient: self.recipient.clone(),
                        alerts: vec![alert],
                    });
                }
            }
        }
        out
    }

    /// Why these alerts were merged, in one sentence for the reader.
    fn intro(&self) -> String {
        let n = self.alerts.len();
        match self.alerts.iter().find_map(|a| a.held) {
            Some(HoldReason::Quiet) => {
                format!("以下 {n} 条Ⅲ、Ⅳ级提醒产生于工作时间外，按规定暂缓至本工作时段开始时合并发送。")
            }
            Some(HoldReason::Cap) => format!("已达每小时短信条数上限，以下 {n} 条提醒合并为一条发送。"),
            Some(HoldReason::Rate) | None if self.channel == "email" => {
                format!("同一事件短时间内出现多篇信息，以下 {n} 条更新合并为一封发送。")
            }
            Some(HoldReason::Rate) | None => format!("群机器人发送频率超过平台限制，以下 {n} 条提醒合并为一条发送。"),
        }
    }

    /// The message to send. A digest of one alert (split off for one of its recipients) is
    /// that alert's own message to that recipient.
    pub fn message(&self) -> AlertMessage {
        let recipients = match &self.recipient {
            Some(r) => vec![r.clone()],
            None => {
                let mut mentions: Vec<String> = Vec::new();
                for r in self.alerts.iter().flat_map(|a| &a.message.recipients) {
                    if !mentions.contains(r) {
                        mentions.push(r.clone());
                    }
                }
                mentions
            }
        };
        if let [only] = self.alerts.as_slice() {
            return AlertMessage { recipients, ..only.message.clone() };
        }
        let n = self.alerts.len();
        let first: String = self.alerts[0].message.subject.chars().take(40).collect();
        let subject = format!("【舆情汇总】{n} 条提醒：{first}等");
        let intro = self.intro();
        let body_text = if self.channel == "sms" {
            sms_text(&self.alerts, &intro)
        } else if is_robot(&self.channel) {
            let items: Vec<&str> = self.alerts.iter().map(|a| a.message.body_text.as_str()).collect();
            format!("**【舆情汇总】{n} 条提醒**\n{intro}\n\n{}", items.join(SEPARATOR))
        } else {
            let items: Vec<String> = self
                .alerts
                .iter()
                .enumerate()
                .map(|(i, a)| format!("【{}/{n}】{}\n\n{}", i + 1, a.message.subject, a.message.body_text))
                .collect();
            format!("{intro}\n\n{}", items.join("\n\n──────────\n\n"))
        };
        let body_html = if self.channel == "email" { html(&self.alerts, &subject, &intro) } else { String::new() };
        AlertMessage { channel: self.channel.clone(), recipients, subject, body_text, body_html }
    }
}

/// Between robot digest items.
const SEPARATOR: &str = "\n\n---\n\n";
/// Room for a robot digest's heading and intro.
const HEADER_BYTES: usize = 256;
/// An SMS digest lists whole items up to this many characters, then counts the rest.
const SMS_CHARS: usize = 480;

fn sms_text(alerts: &[OutboxAlert], intro: &str) -> String {
    let mut text = format!("【舆情汇总】{intro}");
    let mut listed = 0;
    for a in alerts {
        let item = format!("\n{}", a.message.body_text);
        if listed > 0 && text.chars().count() + item.chars().count() > SMS_CHARS {
            break;
        }
        text.push_str(&item);
        listed += 1;
    }
    if listed < alerts.len() {
        text.push_str(&format!("\n另有 {} 条，详见邮件或 yuqing event list。", alerts.len() - listed));
    }
    text
}

/// The inside of an HTML body (the whole text when it has no `<body>`).
fn inner_body(html: &str) -> &str {
    let Some(open) = html.find("<body") else { return html };
    let Some(start) = html[open..].find('>').map(|i| open + i + 1) else { return html };
    let end = html.rfind("</body>").filter(|&e| e >= start).unwrap_or(html.len());
    &html[start..end]
}

fn html(alerts: &[OutboxAlert], subject: &str, intro: &str) -> String {
    let n = alerts.len();
    let mut h = format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"font-family:sans-serif;line-height:1.6\"><p>{}</p>",
        escape(subject),
        escape(intro)
    );
    for (i, a) in alerts.iter().enumerate() {
        h.push_str(&format!("<hr><h2>{}/{n}　{}</h2>", i + 1, escape(&a.message.subject)));
        if a.message.body_html.is_empty() {
            h.push_str(&format!("<pre style=\"white-space:pre-wrap\">{}</pre>", escape(&a.message.body_text)));
        } else {
            h.push_str(inner_body(&a.message.body_html));
        }
    }
    h.push_str("</body></html>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: i64, channel: &str, to: &[&str], held: Option<HoldReason>) -> OutboxAlert {
        OutboxAlert {
            id,
            kind: "document".into(),
            grade: None,
            message: AlertMessage {
                channel: channel.into(),
                recipients: to.iter().map(ToString::to_string).collect(),
                subject: format!("主题{id}"),
                body_text: format!("正文{id}"),
                body_html: format!("<!DOCTYPE html><html><body style=\"x\"><p>网页{id}</p></body></html>"),
            },
            attempts: 0,
            created_at: chrono::DateTime::default(),
            thread: None,
            held,
        }
    }

    fn shape(work: &[Work]) -> Vec<(Option<String>, Vec<i64>)> {
        work.iter()
            .map(|w| match w {
                Work::Single(a) => (None, vec![a.id]),
                Work::Digest(d) => (Some(d.recipient.clone().unwrap_or_else(|| d.channel.clone())), d.ids()),
            })
            .collect()
    }

    #[test]
    fn held_alerts_merge_per_recipient_and_the_rest_go_alone() {
        let q = Some(HoldReason::Quiet);
        let due = vec![
            alert(1, "email", &["a@x", "b@x"], q),
            alert(2, "email", &["a@x"], q),
            alert(3, "email", &["c@x"], None),
            alert(4, "email", &["d@x"], q),
            alert(5, "robot:g", &["138"], q),
            alert(6, "robot:g", &[], q),
        ];
        let work = plan(due, |a| a.held.is_some());
        assert_eq!(
            shape(&work),
            vec![
                (Some("a@x".into()), vec![1, 2]),
                // b has only alert 1, which is merged for a: b gets it alone, as it was.
                (Some("b@x".into()), vec![1]),
                (None, vec![3]),
                (None, vec![4]),
                (Some("robot:g".into()), vec![5, 6]),
            ]
        );
        let Work::Digest(b) = &work[1] else { panic!("digest") };
        let m = b.message();
        assert_eq!((m.subject.as_str(), m.recipients.clone()), ("主题1", vec!["b@x".to_string()]));
        let Work::Digest(g) = &work[4] else { panic!("digest") };
        assert_eq!(g.message().recipients, vec!["138".to_string()], "mentions are the union");
    }

    #[test]
    fn an_email_digest_lists_every_alert_with_its_html_inside_one_body() {
        let q = Some(HoldReason::Quiet);
        let d = Digest {
            channel: "email".into(),
            recipient: Some("a@x".into()),
            alerts: vec![alert(7, "email", &["a@x"], q), alert(9, "email", &["a@x", "b@x"], q)],
        };
        let m = d.message();
        assert_eq!(m.subject, "【舆情汇总】2 条提醒：主题7等");
        assert!(m.body_text.starts_with("以下 2 条Ⅲ、Ⅳ级提醒产生于工作时间外"), "{}", m.body_text);
        assert!(m.body_text.contains("【1/2】主题7\n\n正文7") && m.body_text.contains("【2/2】主题9"));
        assert_eq!(m.body_html.matches("<body").count(), 1, "{}", m.body_html);
        assert!(m.body_html.contains("<p>网页7</p>") && m.body_html.contains("<p>网页9</p>"));
        assert_ne!(d.key(), Digest { recipient: Some("b@x".into()), ..d.clone() }.key());
        assert!(d.key().starts_with("digest-000007-"));
    }

    #[test]
    fn a_robot_burst_is_cut_into_digests_that_fit_the_platform() {
        let alerts: Vec<OutboxAlert> = (1..=30)
            .map(|i| {
                let mut a = alert(i, "robot:g", &[], None);
                a.message.body_text = "舆".repeat(100); // 300 bytes
                a
            })
            .collect();
        let d = Digest { channel: "robot:g".into(), recipient: None, alerts };
        let chunks = d.chunks(2000);
        assert!(chunks.len() > 1);
        assert_eq!(chunks.iter().map(|c| c.alerts.len()).sum::<usize>(), 30, "nothing dropped");
        for c in &chunks {
            assert!(c.message().body_text.len() <= 2000, "{}", c.message().body_text.len());
        }
        assert!(chunks[0].message().body_text.starts_with("**【舆情汇总】"));
        assert!(chunks[0].message().body_text.contains("群机器人发送频率超过平台限制"));
    }

    #[test]
    fn an_sms_digest_counts_what_does_not_fit() {
        let alerts: Vec<OutboxAlert> = (1..=20)
            .map(|i| {
                let mut a = alert(i, "sms", &["138"], Some(HoldReason::Cap));
                a.message.body_text =
                    format!("【舆情提示】Ⅲ级：某某事件标题第{i}号（事件#{i}）。受理：http://x/a/token");
                a
            })
            .collect();
        let m = Digest { channel: "sms".into(), recipient: Some("138".into()), alerts }.message();
        assert!(m.body_text.contains("已达每小时短信条数上限，以下 20 条"));
        assert!(m.body_text.chars().count() <= SMS_CHARS + 40, "{}", m.body_text);
        assert!(m.body_text.contains("另有") && m.body_text.ends_with("详见邮件或 yuqing event list。"));
    }
}
