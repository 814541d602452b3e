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

impl Short<'_> {
    /// The title as SMS and IM subjects carry it (30 characters).
    fn subject(&self) -> String {
        self.title.chars().take(30).collect()
    }

    /// The SMS to `mobile`.
    fn sms(&self, mobile: String) -> AlertMessage {
        let text = format!(
            "【{}】{}：{}（事件#{}）。{}",
            self.heading,
            self.grade.label_zh(),
            self.subject(),
            self.event_id,
            self.action
        );
        AlertMessage {
            channel: "sms".into(),
            recipients: vec![mobile],
            subject: self.subject(),
            body_text: text,
            body_html: String::new(),
        }
    }

    /// The post in `robot`'s group, saying whom it is for (`who`), mentioning `mention`.
    fn post(&self, robot: &str, who: &str, mention: Vec<String>) -> AlertMessage {
        let text = format!(
            "**【{}】{}**\n> {}\n事件 #{} · {who}\n{}",
            self.heading,
            self.grade.label_zh(),
            self.title,
            self.event_id,
            self.action
        );
        AlertMessage {
            channel: format!("robot:{robot}"),
            recipients: mention,
            subject: self.subject(),
            body_text: text,
            body_html: String::new(),
        }
    }
}

/// The SMS and IM messages for `person` about an event of `grade` owned by `owner`, per
/// `[delivery]`; empty when the grade uses email only, or the channel is not configured,
/// or the person has no mobile.
pub fn extra_channels(config: &Config, person: &Person, owner: Option<&str>, short: &Short<'_>) -> Vec<AlertMessage> {
    let mut out = Vec::new();
    for channel in config.delivery.channels(short.grade) {
        match channel {
            ChannelKind::Email => {}
            ChannelKind::Sms => {
                if let (Some(_), Some(mobile)) = (&config.sms, &person.mobile) {
                    out.push(short.sms(mobile.clone()));
                }
            }
            ChannelKind::Im => {
                let section_robot = owner.and_then(|o| config.response.org.section(o)).and_then(|s| s.robot.clone());
                let Some(robot) = section_robot.or_else(|| config.delivery.robot.clone()) else { continue };
                let mention = person.mobile.iter().filter(|m| !m.is_empty()).cloned().collect();
                out.push(short.post(&robot, &format!("{}（{}）", person.name, person.id), mention));
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
    for channel in config.delivery.channels(short.grade) {
        match channel {
            ChannelKind::Email => {}
            ChannelKind::Sms if config.sms.is_some() => {
                out.extend(receiver.mobile_numbers(&config.response.org).into_iter().map(|m| short.sms(m)));
            }
            ChannelKind::Sms => {}
            ChannelKind::Im => {
                for robot in receiver.robot_ids() {
                    if !taken.contains(&format!("robot:{robot}")) {
                        out.push(short.post(robot, &format!("告知：{}", receiver.name), Vec::new()));
                    }
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
