//! `[[receivers]]` in `yuqing.toml`: named groups that take notifications together — the
//! leadership team, a duty desk, an outside office — combining people (their `email` and
//! `mobile`), further addresses and mobile numbers, and IM robots, optionally limited to some
//! channels. A route names them with `notify = [...]` (they are told of every event it
//! matches, on the channels the event's grade uses), a briefing with `to = [...]`, and
//! `yuqing notify test` takes their id. Every reference is checked where it is written.

use lettre::message::Mailbox;
use toml::Spanned;
use toml::de::DeTable;

use super::delivery::ChannelKind;
use super::toml_doc::Ctx;
use crate::response::Organisation;

pub(super) const RECEIVER_KEYS: &[&str] = &["id", "name", "people", "email", "mobiles", "robots", "channels"];

/// One `[[receivers]]` group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receiver {
    pub id: String,
    pub name: String,
    /// `[[people]]` ids: each brings their email and mobile.
    pub people: Vec<String>,
    /// Further mailboxes (`name <address>` or a bare address).
    pub email: Vec<String>,
    /// Further mobile numbers.
    pub mobiles: Vec<String>,
    /// `[[robots]]` ids: the group is told in these IM groups.
    pub robots: Vec<String>,
    /// The channels it takes; every channel it has an address for when empty.
    pub channels: Vec<ChannelKind>,
}

impl Receiver {
    pub fn takes(&self, kind: ChannelKind) -> bool {
        self.channels.is_empty() || self.channels.contains(&kind)
    }

    /// Its mailboxes (people first), without repeats; empty when it takes no email.
    pub fn mailboxes(&self, org: &Organisation) -> Vec<String> {
        if !self.takes(ChannelKind::Email) {
            return Vec::new();
        }
        let people = self.people.iter().filter_map(|id| org.person(id));
        let from_people = people.filter_map(|p| p.email.as_ref().map(|e| format!("{} <{e}>", p.name)));
        distinct(from_people.chain(self.email.iter().cloned()))
    }

    /// Its mobile numbers (people first), without repeats; empty when it takes no SMS.
    pub fn mobile_numbers(&self, org: &Organisation) -> Vec<String> {
        if !self.takes(ChannelKind::Sms) {
            return Vec::new();
        }
        let people = self.people.iter().filter_map(|id| org.person(id)).filter_map(|p| p.mobile.clone());
        distinct(people.chain(self.mobiles.iter().cloned()))
    }

    /// Its robots; empty when it takes no IM.
    pub fn robot_ids(&self) -> &[String] {
        if self.takes(ChannelKind::Im) { &self.robots } else { &[] }
    }
}

fn distinct(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Whether `s` looks like a mobile number: digits, optionally `+`, spaces or dashes.
pub fn is_mobile(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c)) && s.chars().filter(char::is_ascii_digit).count() >= 5
}

/// The values of list `key` that `ok` accepts (trimmed); each refused one is reported with
/// the hint `ok` gives.
fn checked(
    c: &mut Ctx<'_, '_>,
    t: &DeTable<'_>,
    id: &str,
    key: &str,
    ok: &dyn Fn(&str) -> Result<(), String>,
) -> Vec<String> {
    let Some(v) = c.list(t, key) else { return Vec::new() };
    let mut kept = Vec::new();
    for item in v.get_ref() {
        let item = item.trim();
        match ok(item) {
            Ok(()) => kept.push(item.to_string()),
            Err(hint) => c.error(v.span(), format!("接收组 {id} 的 {key} 中 \"{item}\" 无效"), hint),
        }
    }
    kept
}

/// Every `[[receivers]]` entry; a bad reference is reported and left out of its group.
pub(super) fn load(c: &mut Ctx<'_, '_>, root: &DeTable<'_>, org: &Organisation, robot_ids: &[String]) -> Vec<Receiver> {
    let mut out: Vec<Receiver> = Vec::new();
    for (span, t) in c.array(root, "receivers", RECEIVER_KEYS) {
        let taken = |id: &str| out.iter().any(|r| r.id == id) || org.person(id).is_some();
        let Some(id) = c.new_id(span.clone(), &t, ("receivers", "接收组", "leaders"), taken) else { continue };
        let name = c.text(&t, "name").map_or_else(|| id.clone(), Spanned::into_inner);
        let mut r = Receiver { id, name, ..Receiver::default() };
        r.people = checked(c, &t, &r.id, "people", &|id| match org.person(id) {
            Some(_) => Ok(()),
            None => Err("people 写 [[people]] 中的 id".into()),
        });
        r.email = checked(c, &t, &r.id, "email", &|m| {
            m.parse::<Mailbox>().map(|_| ()).map_err(|e| format!("{e}；格式如 \"值班室 <duty@example.gov.cn>\""))
        });
        r.mobiles = checked(c, &t, &r.id, "mobiles", &|m| match is_mobile(m) {
            true => Ok(()),
            false => Err("mobiles 写手机号，例如 \"+8613800000000\"".into()),
        });
        r.robots = checked(c, &t, &r.id, "robots", &|id| match robot_ids.iter().any(|x| x == id) {
            true => Ok(()),
            false => Err(format!("robots 写 [[robots]] 中的 id（已有：{}）", robot_ids.join("、"))),
        });
        if let Some(v) = c.list(&t, "channels") {
            r.channels = c.parsed(&v, "通道", "email、sms、im", ChannelKind::parse);
        }
        let has = [
            (ChannelKind::Email, !r.mailboxes(org).is_empty()),
            (ChannelKind::Sms, !r.mobile_numbers(org).is_empty()),
            (ChannelKind::Im, !r.robot_ids().is_empty()),
        ];
        if !has.iter().any(|(_, some)| *some) {
            c.error(
                span,
                format!("接收组 {} 没有可用的收件地址", r.id),
                "写 people（有 email 或 mobile 的人员）、email、mobiles 或 robots 中至少一项，并与 channels 相符",
            );
            continue;
        }
        out.push(r);
    }
    out
}
