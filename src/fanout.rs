//! Fan-out of one notification to a person over the channels their event's grade uses
//! (`[delivery]`): besides the email, a short SMS to their mobile (with `[sms]`) and a post
//! to the owning section's IM robot mentioning them (with `[[robots]]`). Each is an outbox
//! row of its own — channel `sms` or `robot:<id>` — so each is delivered, retried and logged
//! on its own. A `[[receivers]]` group named by a route's `notify` gets its SMS and IM the
//! same way. Pure: builds messages, sends nothing.

use crate::config::{ChannelKind, Config, Receiver};
use crate::model::AlertMessage;
use crate::response::{Grade, Person};

/// What the short messages say.
#[derive(Debug, Clone, Copy)]
pub struct Short<'a> {
    /// `舆情提示`, `舆情催办`, `舆情督办`, `舆情升级`.
    pub heading: &'a str,
    pub event_id: i64,
    pub title: &'a str,
    pub grade: Grade,
    /// What to do (one line), e.g. the accept command or a link.
    pub action: &'a str,
}

/// The SMS and IM messages for `person` about an event of `grade` owned by `owner`, per
/// `[delivery]`; empty when the grade uses email only, or the channel is not configured,
/// or the person has no mobile.
pub fn extra_channels(config: &Config, person: &Person, owner: Option<&str>, short: &Short<'_>) -> Vec<AlertMessage> {
    let mut out = Vec::new();
    let title: String = short.title.chars().take(30).collect();
    for channel in config.delivery.channels(short.grade) {
        match channel {
            ChannelKind::Email => {}
            ChannelKind::Sms => {
                let (Some(_), Some(mobile)) = (&config.sms, &person.mobile) else { continue };
                let text = format!(
                    "【{}】{}：{title}（事件#{}）。{}",
                    short.heading,
                    short.grade.label_zh(),
                    short.event_id,
                    short.action
                );
                out.push(AlertMessage {
                    channel: "sms".into(),
                    recipients: vec![mobile.clone()],
                    subject: title.clone(),
                    body_text: text,
                    body_html: String::new(),
                });
            }
            ChannelKind::Im => {
                let section_robot = owner.and_then(|o| config.response.org.section(o)).and_then(|s| s.robot.clone());
                let Some(robot) = section_robot.or_else(|| config.delivery.robot.clone()) else { continue };
                let mention = person.mobile.clone().unwrap_or_default();
                let text = format!(
                    "**【{}】{}**\n> {}\n事件 #{} · {}（{}）\n{}",
                    short.heading,
                    short.grade.label_zh(),
                    short.title,
                    short.event_id,
                    person.name,
                    person.id,
                    short.action
                );
                out.push(AlertMessage {
                    channel: format!("robot:{robot}"),
                    recipients: if mention.is_empty() { Vec::new() } else { vec![mention] },
                    subject: title.clone(),
                    body_text: text,
                    body_html: String::new(),
                });
            }
        }
    }
    out
}

/// The SMS and IM messages for a `[[receivers]]` group told of an event of `grade` (a
/// route's `notify`), per `[delivery]` and the channels the group takes: one SMS to each of
/// its mobiles, one post in each of its robots' groups (none already in `taken`, the robot
/// channels the event's people are told in). Its email goes with the event's alert.
pub fn receiver_channels(
    config: &Config,
    receiver: &Receiver,
    short: &Short<'_>,
    taken: &[String],
) -> Vec<AlertMessage> {
    let mut out = Vec::new();
    let title: String = short.title.chars().take(30).collect();
    let org = &config.response.org;
    for channel in config.delivery.channels(short.grade) {
        match channel {
            ChannelKind::Email => {}
            ChannelKind::Sms if config.sms.is_some() => {
                for mobile in receiver.mobile_numbers(org) {
                    let text = format!(
                        "【{}】{}：{title}（事件#{}）。{}",
                        short.heading,
                        short.grade.label_zh(),
                        short.event_id,
                        short.action
                    );
                    out.push(AlertMessage {
                        channel: "sms".into(),
                        recipients: vec![mobile],
                        subject: title.clone(),
                        body_text: text,
                        body_html: String::new(),
                    });
                }
            }
            ChannelKind::Sms => {}
            ChannelKind::Im => {
                for robot in receiver.robot_ids() {
                    let channel = format!("robot:{robot}");
                    if taken.contains(&channel) {
                        continue;
                    }
                    let text = format!(
                        "**【{}】{}**\n> {}\n事件 #{} · 告知：{}\n{}",
                        short.heading,
                        short.grade.label_zh(),
                        short.title,
                        short.event_id,
                        receiver.name,
                        short.action
                    );
                    out.push(AlertMessage {
                        channel,
                        recipients: Vec::new(),
                        subject: title.clone(),
                        body_text: text,
                        body_html: String::new(),
                    });
                }
            }
        }
    }
    out
}

/// Whether the grade's notifications include email.
pub fn uses_email(config: &Config, grade: Grade) -> bool {
    config.delivery.channels(grade).contains(&ChannelKind::Email)
}
