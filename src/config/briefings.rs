//! `[[briefings]]` in `yuqing.toml`: periodic digests (Art. 10 定期通报) — id, name, crontab
//! `schedule`, `period` (day | week | since_last), receivers `to` (`[[people]]` ids, section
//! ids, `[[receivers]]` groups — whose IM robots get a summary post —, `gkb`, `principal` or
//! email addresses), `send_empty`, `top` and `open_days`.
//! Every problem names its line and column.

use chrono::{DateTime, Days, Utc};
use chrono_tz::Tz;
use lettre::message::Mailbox;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::{Diagnostics, suggest};
use super::receivers::Receiver;
use super::toml_doc::TomlFile;
use crate::response::Organisation;
use crate::time::schedule::Schedule;

/// `top` when not configured.
pub const DEFAULT_TOP: usize = 5;
/// The most `top` may be.
pub const MAX_TOP: usize = 50;
/// `open_days` when not configured: open events created this many days before the due time
/// are listed (with the period's own).
pub const DEFAULT_OPEN_DAYS: u32 = 30;

/// What a briefing covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BriefingPeriod {
    /// The day before the due time (same local time the day before).
    Day,
    /// The seven days before the due time.
    Week,
    /// Since this briefing's previous logged due time, else its previous scheduled time.
    SinceLast,
}

impl BriefingPeriod {
    pub const ALL: [BriefingPeriod; 3] = [BriefingPeriod::Day, BriefingPeriod::Week, BriefingPeriod::SinceLast];

    pub fn as_str(self) -> &'static str {
        match self {
            BriefingPeriod::Day => "day",
            BriefingPeriod::Week => "week",
            BriefingPeriod::SinceLast => "since_last",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s.trim())
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            BriefingPeriod::Day => "前 24 小时",
            BriefingPeriod::Week => "前 7 天",
            BriefingPeriod::SinceLast => "自上一期简报起",
        }
    }
}

/// One validated `[[briefings]]` entry.
#[derive(Debug, Clone)]
pub struct Briefing {
    pub id: String,
    pub name: String,
    pub schedule: Schedule,
    pub period: BriefingPeriod,
    /// As written: `[[people]]` ids, section ids, `gkb`, `principal` or email addresses.
    pub to: Vec<String>,
    /// The mailboxes they resolve to, without duplicates, in order.
    pub recipients: Vec<String>,
    /// `[[robots]]` ids of the `[[receivers]]` groups in `to`: each gets a summary post.
    pub robots: Vec<String>,
    pub send_empty: bool,
    pub top: usize,
    pub open_days: u32,
}

impl Briefing {
    /// Whether it can go anywhere: by email (with `[mail]`) or to a receiver group's robots.
    pub fn deliverable(&self, has_mail: bool) -> bool {
        (has_mail && !self.recipients.is_empty()) || !self.robots.is_empty()
    }

    /// When the daemon first runs this briefing after starting at `now`: its latest
    /// scheduled time at or before `now` when that one is not logged yet (a missed briefing
    /// is caught up once, never one per missed time), else its next scheduled time.
    /// `logged` says whether a due time is in the briefing log.
    pub fn first_due<E>(
        &self,
        now: DateTime<Utc>,
        tz: Tz,
        logged: impl FnOnce(DateTime<Utc>) -> Result<bool, E>,
    ) -> Result<Option<DateTime<Utc>>, E> {
        if let Some(latest) = self.schedule.latest_at_or_before(now, tz)
            && !logged(latest)?
        {
            return Ok(Some(latest));
        }
        Ok(self.schedule.next_after(now, tz))
    }

    /// The first instant of the period ending at `due`; `last_logged` is the briefing's
    /// latest logged due time before `due` (for `since_last`).
    pub fn period_start(&self, due: DateTime<Utc>, tz: Tz, last_logged: Option<DateTime<Utc>>) -> DateTime<Utc> {
        let days_before = |n: u64| {
            due.with_timezone(&tz)
                .checked_sub_days(Days::new(n))
                .map_or_else(|| due - chrono::Duration::days(n as i64), |t| t.with_timezone(&Utc))
        };
        match self.period {
            BriefingPeriod::Day => days_before(1),
            BriefingPeriod::Week => days_before(7),
            BriefingPeriod::SinceLast => last_logged
                .filter(|t| *t < due)
                .or_else(|| self.schedule.previous_before(due, tz))
                .unwrap_or_else(|| days_before(1)),
        }
    }
}

const BRIEFING_KEYS: &[&str] = &["id", "name", "schedule", "period", "to", "send_empty", "top", "open_days"];
const PERIOD_HINT: &str = "可选值：\"day\"（前 24 小时）、\"week\"（前 7 天）、\"since_last\"（自上一期简报起）";
const TO_HINT: &str = "to 可写 [[people]] 的 id、科室 id、[[receivers]] 接收组 id、\"gkb\"（政务公开办）、\"principal\"（主要领导）或邮件地址，例如 to = [\"gkb\", \"chen\"]";

struct Ctx<'a> {
    file: &'a TomlFile,
    diags: &'a mut Diagnostics,
    org: &'a Organisation,
    receivers: &'a [Receiver],
}

impl Ctx<'_> {
    fn error(&mut self, span: std::ops::Range<usize>, message: String, hint: impl Into<String>) {
        let at = self.file.position(span);
        self.diags.error_at(&self.file.path, at, message, hint);
    }

    fn get<T: serde::de::DeserializeOwned>(
        &mut self,
        t: &DeTable<'_>,
        key: &str,
        expected: &str,
    ) -> Result<Option<Spanned<T>>, ()> {
        self.file.value::<T>(t, key, expected, self.diags)
    }

    /// The mailboxes and IM robots one `to` entry stands for; `None` (reported) when it names
    /// nothing usable.
    fn resolve(&mut self, entry: &Spanned<String>) -> Option<(Vec<String>, Vec<String>)> {
        let name = entry.get_ref().trim();
        if let Some(group) = self.receivers.iter().find(|r| r.id == name) {
            return Some((group.mailboxes(self.org), group.robot_ids().to_vec()));
        }
        self.mailboxes(entry).map(|boxes| (boxes, Vec::new()))
    }

    /// The mailboxes one `to` entry (not a receiver group) stands for.
    fn mailboxes(&mut self, entry: &Spanned<String>) -> Option<Vec<String>> {
        let name = entry.get_ref().trim();
        let org = self.org;
        if let Some(person) = org.person(name) {
            return match &person.email {
                Some(email) => Some(vec![format!("{} <{email}>", person.name)]),
                None => {
                    self.error(
                        entry.span(),
                        format!("收件人 \"{name}\"（{}）没有 email", person.name),
                        "请在 [[people]] 中为此人填写 email，或改写邮件地址",
                    );
                    None
                }
            };
        }
        let section = match name {
            "principal" => {
                let Some(principal) = org.principal.as_deref().and_then(|id| org.person(id)) else {
                    self.error(
                        entry.span(),
                        "收件人 \"principal\"：未配置主要领导".into(),
                        "请在顶层写 principal = \"<[[people]] 中的 id>\"",
                    );
                    return None;
                };
                return match &principal.email {
                    Some(email) => Some(vec![format!("{} <{email}>", principal.name)]),
                    None => {
                        self.error(
                            entry.span(),
                            format!("收件人 \"principal\"（{}）没有 email", principal.name),
                            "请在 [[people]] 中为此人填写 email",
                        );
                        None
                    }
                };
            }
            "gkb" => match org.gkb.as_deref().and_then(|id| org.section(id)) {
                Some(s) => s,
                None => {
                    self.error(
                        entry.span(),
                        "收件人 \"gkb\"：未配置政务公开办".into(),
                        "请在顶层写 gkb = \"<科室 id>\"",
                    );
                    return None;
                }
            },
            _ => match org.section(name) {
                Some(s) => s,
                None if name.contains('@') => {
                    return match name.parse::<Mailbox>() {
                        Ok(m) => Some(vec![m.to_string()]),
                        Err(e) => {
                            self.error(
                                entry.span(),
                                format!("邮件地址 \"{name}\" 无效：{e}"),
                                "格式如 \"name@example.gov.cn\" 或 \"政务公开办 <gkb@example.gov.cn>\"",
                            );
                            None
                        }
                    };
                }
                None => {
                    let mut known: Vec<&str> = org.people.iter().map(|p| p.id.as_str()).collect();
                    known.extend(org.sections.iter().map(|s| s.id.as_str()));
                    known.extend(self.receivers.iter().map(|r| r.id.as_str()));
                    known.extend(["gkb", "principal"]);
                    let hint = match suggest(name, &known) {
                        Some(s) => format!("是不是 \"{s}\"？{TO_HINT}"),
                        None => TO_HINT.to_string(),
                    };
                    self.error(entry.span(), format!("收件人 \"{name}\" 不是已知的人员、科室、接收组或邮件地址"), hint);
                    return None;
                }
            },
        };
        // A section: its head and liaison.
        let out: Vec<String> = [&section.head, &section.liaison]
            .into_iter()
            .flatten()
            .filter_map(|id| org.person(id))
            .filter_map(|p| p.email.as_ref().map(|email| format!("{} <{email}>", p.name)))
            .collect();
        if out.is_empty() {
            self.error(
                entry.span(),
                format!("收件人 \"{name}\"：科室“{}”的负责人和联络人都没有 email", section.name),
                "请为该科室的 head 或 liaison 填写 email，或直接写邮件地址",
            );
            return None;
        }
        Some(out)
    }

    fn briefing(
        &mut self,
        span: std::ops::Range<usize>,
        t: &DeTable<'_>,
        taken: &[(String, usize)],
    ) -> Option<Briefing> {
        let mut ok = true;
        let id = match self.get::<String>(t, "id", "字符串") {
            Ok(Some(id)) => {
                let text = id.get_ref().clone();
                if !valid_id(&text) {
                    self.error(
                        id.span(),
                        format!("简报 id \"{text}\" 不合规"),
                        "id 只能使用小写字母、数字、- 和 _（以字母或数字开头），例如 id = \"daily\"",
                    );
                    ok = false;
                } else if let Some((_, line)) = taken.iter().find(|(t, _)| *t == text) {
                    self.error(
                        id.span(),
                        format!("简报 id \"{text}\" 重复（第 {line} 行已使用）"),
                        "每个简报的 id 只能用一次",
                    );
                    ok = false;
                }
                Some(id)
            }
            Ok(None) => {
                self.error(span.clone(), "[[briefings]] 缺少 id".into(), "例如 id = \"daily\"");
                None
            }
            Err(()) => None,
        };
        let name = self.get::<String>(t, "name", "字符串").ok().flatten();
        let schedule = match self.get::<String>(t, "schedule", "字符串") {
            Ok(Some(expr)) => match Schedule::parse(expr.get_ref()) {
                Ok(s) => Some(s),
                Err(e) => {
                    self.error(expr.span(), format!("schedule \"{}\" 无效：{e}", expr.get_ref()), Schedule::HINT);
                    None
                }
            },
            Ok(None) => {
                self.error(
                    span.clone(),
                    "[[briefings]] 缺少 schedule".into(),
                    "例如 schedule = \"0 8 * * *\"（每天 8:00）",
                );
                None
            }
            Err(()) => None,
        };
        let period = match self.get::<String>(t, "period", "字符串") {
            Ok(Some(p)) => match BriefingPeriod::parse(p.get_ref()) {
                Some(period) => Some(period),
                None => {
                    self.error(p.span(), format!("period \"{}\" 无效", p.get_ref()), PERIOD_HINT);
                    None
                }
            },
            Ok(None) => Some(BriefingPeriod::SinceLast),
            Err(()) => None,
        };
        let mut to = Vec::new();
        let mut recipients: Vec<String> = Vec::new();
        let mut robots: Vec<String> = Vec::new();
        match self.get::<Vec<Spanned<String>>>(t, "to", "字符串数组") {
            Ok(Some(list)) if list.get_ref().is_empty() => {
                self.error(list.span(), "[[briefings]] to 不能为空".into(), TO_HINT);
                ok = false;
            }
            Ok(Some(list)) => {
                for entry in list.get_ref() {
                    match self.resolve(entry) {
                        Some((boxes, group_robots)) => {
                            to.push(entry.get_ref().trim().to_string());
                            for m in boxes {
                                if !recipients.contains(&m) {
                                    recipients.push(m);
                                }
                            }
                            for r in group_robots {
                                if !robots.contains(&r) {
                                    robots.push(r);
                                }
                            }
                        }
                        None => ok = false,
                    }
                }
            }
            Ok(None) => {
                self.error(span.clone(), "[[briefings]] 缺少 to".into(), TO_HINT);
                ok = false;
            }
            Err(()) => ok = false,
        }
        let send_empty = match self.get::<bool>(t, "send_empty", "布尔值 true 或 false") {
            Ok(v) => v.is_some_and(Spanned::into_inner),
            Err(()) => {
                ok = false;
                false
            }
        };
        let top = match self.get::<i64>(t, "top", "整数") {
            Ok(None) => Some(DEFAULT_TOP),
            Ok(Some(n)) => match usize::try_from(*n.get_ref()).ok().filter(|n| *n <= MAX_TOP) {
                Some(n) => Some(n),
                None => {
                    self.error(
                        n.span(),
                        format!("top = {} 不在 0–{MAX_TOP} 之间", n.get_ref()),
                        "列出的重点事件数，例如 top = 5",
                    );
                    None
                }
            },
            Err(()) => None,
        };
        let open_days = match self.get::<i64>(t, "open_days", "整数") {
            Ok(None) => Some(DEFAULT_OPEN_DAYS),
            Ok(Some(n)) => match u32::try_from(*n.get_ref()).ok().filter(|n| (1..=366).contains(n)) {
                Some(n) => Some(n),
                None => {
                    self.error(
                        n.span(),
                        format!("open_days = {} 不在 1–366 之间", n.get_ref()),
                        "列出此前多少天内发现、仍未办结的事件，例如 open_days = 30",
                    );
                    None
                }
            },
            Err(()) => None,
        };
        let id = id?.into_inner();
        let name = name.map_or_else(|| id.clone(), Spanned::into_inner);
        ok.then_some(Briefing {
            id,
            name,
            schedule: schedule?,
            period: period?,
            to,
            recipients,
            robots,
            send_empty,
            top: top?,
            open_days: open_days?,
        })
    }
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok && id.len() <= 64 && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Every valid `[[briefings]]` entry; the invalid ones are reported. `has_mail`: whether
/// `[mail]` is configured (without it briefings cannot go out: a warning).
pub(super) fn load(
    file: &TomlFile,
    root: &DeTable<'_>,
    org: &Organisation,
    receivers: &[Receiver],
    has_mail: bool,
    diags: &mut Diagnostics,
) -> Vec<Briefing> {
    let Some(value) = root.get("briefings") else { return Vec::new() };
    let mut c = Ctx { file, diags, org, receivers };
    let DeValue::Array(entries) = value.get_ref() else {
        c.error(value.span(), "briefings 应写成 [[briefings]] 表数组".into(), "每个简报写一个 [[briefings]] 小节");
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut taken: Vec<(String, usize)> = Vec::new();
    for entry in entries {
        let DeValue::Table(t) = entry.get_ref() else {
            c.error(entry.span(), "[[briefings]] 的每一项都应是表".into(), "请用 [[briefings]] 小节书写");
            continue;
        };
        let t = file.known_keys(t, BRIEFING_KEYS, "[[briefings]] 中", c.diags);
        let briefing = c.briefing(entry.span(), &t, &taken);
        if let Some(id) = t.get("id").and_then(|v| v.get_ref().as_str().map(|s| (s.to_string(), file.line(v.span()))))
            && !taken.iter().any(|(t, _)| *t == id.0)
        {
            taken.push(id);
        }
        out.extend(briefing);
    }
    let stuck: Vec<&str> = out.iter().filter(|b| !b.deliverable(has_mail)).map(|b| b.id.as_str()).collect();
    if !stuck.is_empty() {
        c.diags.warning(
            &file.path,
            file.line(value.span()),
            format!("未配置 [mail]：简报 {} 不会发送", stuck.join("、")),
            "请添加 [mail] 小节，或在 to 中写带群机器人的接收组；yuqing briefing send <id> --dry-run 仍可预览",
        );
    }
    out
}
