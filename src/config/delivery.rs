//! `[delivery]` in `yuqing.toml`: which channels each grade uses (defaults: I and II → SMS,
//! IM and email at any hour; III → IM and email; IV → email), whether grade III/IV
//! notifications wait for working hours (quiet hours hold delivery, never checking), the IM
//! robot used when a section names none, and the per-person hourly SMS cap.

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeTable;

use super::diag::Diagnostics;
use super::toml_doc::TomlFile;
use crate::response::Grade;

pub(super) const DELIVERY_KEYS: &[&str] = &["I", "II", "III", "IV", "quiet_hours", "robot", "sms_per_person_hour"];

/// A notification channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    Email,
    Sms,
    /// The IM group robot of the owning section (or the default robot).
    Im,
}

impl ChannelKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(ChannelKind::Email),
            "sms" => Some(ChannelKind::Sms),
            "im" => Some(ChannelKind::Im),
            _ => None,
        }
    }
}

/// How notifications are delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPolicy {
    by_grade: [Vec<ChannelKind>; 4],
    /// Hold grade III/IV notifications outside working hours (the `[calendar]`) until the
    /// next working period; I and II always go at once.
    pub quiet_hours: bool,
    /// The `[[robots]]` id for IM when the owning section names no `robot`.
    pub robot: Option<String>,
    /// At most this many SMS to one person in an hour; the rest wait.
    pub sms_per_person_hour: u32,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        use ChannelKind::*;
        DeliveryPolicy {
            by_grade: [vec![Sms, Im, Email], vec![Sms, Im, Email], vec![Im, Email], vec![Email]],
            quiet_hours: false,
            robot: None,
            sms_per_person_hour: 6,
        }
    }
}

impl DeliveryPolicy {
    pub fn channels(&self, grade: Grade) -> &[ChannelKind] {
        &self.by_grade[grade as usize]
    }

    /// Whether a notification about an event of `grade` waits for working hours.
    pub fn held(&self, grade: Option<Grade>) -> bool {
        self.quiet_hours && grade.is_some_and(|g| g >= Grade::III)
    }
}

#[derive(Deserialize, Default)]
struct RawDelivery {
    #[serde(rename = "I")]
    one: Option<Spanned<Vec<String>>>,
    #[serde(rename = "II")]
    two: Option<Spanned<Vec<String>>>,
    #[serde(rename = "III")]
    three: Option<Spanned<Vec<String>>>,
    #[serde(rename = "IV")]
    four: Option<Spanned<Vec<String>>>,
    quiet_hours: Option<bool>,
    robot: Option<Spanned<String>>,
    sms_per_person_hour: Option<u32>,
}

/// `[delivery]`; the defaults without it; `None` when it is invalid (reported).
pub(super) fn load(
    file: &TomlFile,
    root: &DeTable<'_>,
    robot_ids: &[String],
    diags: &mut Diagnostics,
) -> Option<DeliveryPolicy> {
    let mut policy = DeliveryPolicy::default();
    if !root.contains_key("delivery") {
        return Some(policy);
    }
    let (span, table) = file.sub_table(root, "delivery", diags)?;
    let table = file.known_keys(table, DELIVERY_KEYS, "[delivery] 中", diags);
    let raw: RawDelivery = file.deserialize(span, table, "[delivery] ", diags)?;
    let mut ok = true;
    for (grade, list) in [(Grade::I, raw.one), (Grade::II, raw.two), (Grade::III, raw.three), (Grade::IV, raw.four)] {
        let Some(list) = list else { continue };
        let mut channels = Vec::new();
        for name in list.get_ref() {
            match ChannelKind::parse(name) {
                Some(c) if !channels.contains(&c) => channels.push(c),
                Some(_) => {}
                None => {
                    diags.error(
                        &file.path,
                        file.line(list.span()),
                        format!("[delivery] {} 中的通道 \"{name}\" 无法识别", grade.as_str()),
                        "可用：email、sms、im",
                    );
                    ok = false;
                }
            }
        }
        if channels.is_empty() && ok {
            // The grade's deadline clocks run all the same (Art. 4): nobody would know.
            diags.warning(
                &file.path,
                file.line(list.span()),
                format!(
                    "[delivery] {} 没有任何通道：{}事件不会告知任何人，但其办理时限照常计时",
                    grade.as_str(),
                    grade.label_zh()
                ),
                "至少写一个通道，如 [\"email\"]；不想收到某级提醒时用 yuqing event mute，而不是清空通道",
            );
        }
        policy.by_grade[grade as usize] = channels;
    }
    policy.quiet_hours = raw.quiet_hours.unwrap_or(false);
    policy.sms_per_person_hour = raw.sms_per_person_hour.unwrap_or(policy.sms_per_person_hour);
    if let Some(robot) = raw.robot {
        if robot_ids.iter().any(|r| r == robot.get_ref()) {
            policy.robot = Some(robot.into_inner());
        } else {
            diags.error(
                &file.path,
                file.line(robot.span()),
                format!("[delivery] robot \"{}\" 不在 [[robots]] 中", robot.get_ref()),
                "写 [[robots]] 中某个机器人的 id",
            );
            ok = false;
        }
    }
    ok.then_some(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_grades_and_quiet_hours_hold_only_three_and_four() {
        let mut p = DeliveryPolicy::default();
        assert_eq!(p.channels(Grade::I), &[ChannelKind::Sms, ChannelKind::Im, ChannelKind::Email]);
        assert_eq!(p.channels(Grade::IV), &[ChannelKind::Email]);
        assert!(!p.held(Some(Grade::IV)), "off unless configured");
        p.quiet_hours = true;
        let held: Vec<bool> = [Some(Grade::I), Some(Grade::II), Some(Grade::III), Some(Grade::IV), None]
            .into_iter()
            .map(|g| p.held(g))
            .collect();
        assert_eq!(held, vec![false, false, true, true, false], "notices and briefings are never held");
    }
}
