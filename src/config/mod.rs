//! Configuration: the directory given by `--config DIR` holds `yuqing.toml` (daemon
//! settings), `sources.toml` (what to watch) and `keywords/*.txt` (what to look for).
//!
//! Loading turns raw TOML into a validated [`Config`] and collects *every* problem as a
//! [`Diagnostic`] naming file and line. Relative paths inside the files resolve against DIR.
//! This module reads files (and secrets) but never opens sockets or the database.

mod briefings;
mod calendar;
mod channels;
mod delivery;
mod diag;
mod http;
mod keywords;
mod org;
mod policies;
mod receivers;
mod settings;
mod sources;
mod toml_doc;

use std::path::{Path, PathBuf};

use chrono_tz::Tz;

pub use briefings::{Briefing, BriefingPeriod, DEFAULT_OPEN_DAYS, DEFAULT_TOP, MAX_TOP};
pub use delivery::{ChannelKind, DeliveryPolicy};
pub use diag::{Diagnostic, Diagnostics, Severity};
pub use http::HttpSettings;
pub use org::Response;
pub use policies::{DEFAULT_BASELINE_DAYS, DEFAULT_WINDOW_DAYS};
pub use receivers::{Receiver, is_mobile};
pub use sources::{HtmlConfig, Location, SourceConfig, SourceKind};

use crate::detect::sentiment::LexiconLists;
use crate::fetch::FetchSettings;
use crate::notify::MailSettings;
use crate::rules::KeywordList;
use crate::time::calendar::WorkCalendar;
use crate::time::schedule::Schedule;

pub const SETTINGS_FILE: &str = "yuqing.toml";
pub const SOURCES_FILE: &str = "sources.toml";
pub const KEYWORDS_DIR: &str = "keywords";

/// The validated configuration the daemon runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub dir: PathBuf,
    pub timezone: Tz,
    pub storage_path: PathBuf,
    /// `[storage] url`: PostgreSQL (experimental; only `check` and `db migrate-to` use it yet).
    pub storage_url: Option<crate::store::pg::PgUrl>,
    /// `[storage] lease_secs`: a source run's lease on PostgreSQL, renewed every third of it
    /// while the run lasts ([`Config::source_lease_secs`]).
    pub storage_lease_secs: Option<i64>,
    pub fetch: FetchSettings,
    pub daemon: DaemonSettings,
    pub detection: DetectionSettings,
    /// `[retention]`: how long data is kept, and the free-space floor.
    pub retention: RetentionSettings,
    /// The organisation, grading rules and routes (Art. 3, 8, 9).
    pub response: Response,
    /// Workdays and working periods (`[calendar]` and its holiday file).
    pub calendar: WorkCalendar,
    /// `None` when `[mail]` is absent: no email; SMS and IM robots (if any) still deliver.
    pub mail: Option<MailSettings>,
    /// `None` when `[http]` is absent: no endpoint, no one-click links.
    pub http: Option<HttpSettings>,
    /// `[sms]`: the SMS provider, when configured.
    pub sms: Option<crate::channel::SmsSettings>,
    /// `[[robots]]`: IM group robots (WeCom, DingTalk, Feishu).
    pub robots: Vec<crate::channel::RobotSettings>,
    /// `[delivery]`: channels per grade, quiet hours, default robot, SMS cap.
    pub delivery: DeliveryPolicy,
    /// `[[briefings]]`: periodic digests (Art. 10 定期通报).
    pub briefings: Vec<Briefing>,
    /// `[[policies]]`: major policies watched before and after publication (Art. 8).
    pub policies: Vec<crate::response::policy::PolicyWatch>,
    /// `[policy_risk]`: how a policy day's figures become 高/中/低.
    pub policy_risk: crate::response::policy::RiskRules,
    pub sources: Vec<SourceConfig>,
    pub keyword_lists: Vec<KeywordList>,
    /// `keywords/flags/<kind>.txt`: cues of the four Art. 7 flags.
    pub cue_lists: Vec<KeywordList>,
    /// `keywords/sentiment/`: the negativity lexicon.
    pub lexicon: LexiconLists,
    /// `rumour.model` when present: the trained rumour classifier (see [`crate::rumour`]).
    pub rumour_model: Option<std::sync::Arc<crate::rumour::RumourModel>>,
}

#[derive(Debug, Clone)]
pub struct DaemonSettings {
    /// How many sources may be fetched at the same time.
    pub concurrency: usize,
    /// Used for sources without their own `schedule`.
    pub default_schedule: Schedule,
    /// How long SIGTERM waits for in-flight source runs before abandoning them.
    pub shutdown_grace: std::time::Duration,
    /// After this many failed runs in a row, the admin gets one notice.
    pub failure_notice_after: u32,
}

/// `[retention]`: data lifecycle and disk space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Documents (with their hits, flags, engagement) older than this are pruned, unless
    /// a kept event or alert refers to them.
    pub documents_days: u32,
    /// Events, alerts, workflow actions and the notification log: the Art. 15 assessment period.
    pub assessment_days: u32,
    /// Below this much free space on the database's filesystem the admin gets one notice.
    pub min_free_mb: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self { documents_days: 180, assessment_days: 730, min_free_mb: 500 }
    }
}

impl RetentionSettings {
    pub fn retention(&self) -> crate::store::Retention {
        crate::store::Retention { documents_days: self.documents_days, assessment_days: self.assessment_days }
    }
}

/// `[detection]`: how text is matched and documents grouped into events.
#[derive(Debug, Clone)]
pub struct DetectionSettings {
    /// Fold traditional characters to simplified before matching.
    pub fold_traditional: bool,
    /// Share of a document's character shingles another must share to join its event.
    pub event_threshold: f64,
    /// How long an event stays open to new copies after its last document.
    pub event_window: std::time::Duration,
    /// `rumour_threshold`: the 谣言 flag's model threshold instead of the model file's, with
    /// its line in yuqing.toml.
    pub rumour_threshold: Option<(f32, usize)>,
    /// `rumour_review_threshold`: the 待核实 band's lower edge instead of the model file's.
    pub rumour_review_threshold: Option<(f32, usize)>,
    /// `rumour_reaction_threshold` / `rumour_reaction_review_threshold`: the same two cuts
    /// for the model's reaction part (posts judged with their replies), when it has one.
    pub rumour_reaction_threshold: Option<(f32, usize)>,
    pub rumour_reaction_review_threshold: Option<(f32, usize)>,
}

impl Default for DetectionSettings {
    fn default() -> Self {
        Self {
            fold_traditional: true,
            event_threshold: 0.5,
            event_window: std::time::Duration::from_secs(72 * 3600),
            rumour_threshold: None,
            rumour_review_threshold: None,
            rumour_reaction_threshold: None,
            rumour_reaction_review_threshold: None,
        }
    }
}

/// The outcome of loading: a config when there were no errors, and all diagnostics.
#[derive(Debug)]
pub struct Loaded {
    pub config: Option<Config>,
    pub diagnostics: Diagnostics,
}

/// The model with `[detection] rumour_threshold` / `rumour_review_threshold` applied, and
/// `rumour_reaction_threshold` / `rumour_reaction_review_threshold` to its reaction part; a
/// band edge above its flag's threshold (one from yuqing.toml, the other from the model
/// file) is an error on the yuqing.toml line, a reaction cut for a model without a reaction
/// part a warning.
fn rumour_thresholds(
    dir: &Path,
    model: std::sync::Arc<crate::rumour::RumourModel>,
    detection: &DetectionSettings,
    diags: &mut Diagnostics,
) -> Option<std::sync::Arc<crate::rumour::RumourModel>> {
    let content = (detection.rumour_threshold, detection.rumour_review_threshold);
    let reaction = (detection.rumour_reaction_threshold, detection.rumour_reaction_review_threshold);
    if content == (None, None) && reaction == (None, None) {
        return Some(model);
    }
    let mut m = (*model).clone();
    let file = dir.join(SETTINGS_FILE);
    if !cut(&mut m, content, ("rumour_threshold", "rumour_review_threshold"), &file, diags) {
        return None;
    }
    match (m.reaction.as_deref_mut(), reaction) {
        (_, (None, None)) => {}
        (Some(r), cuts) => {
            if !cut(r, cuts, ("rumour_reaction_threshold", "rumour_reaction_review_threshold"), &file, diags) {
                return None;
            }
        }
        (None, (flag, review)) => {
            let line = flag.or(review).map_or(0, |(_, line)| line);
            diags.warning(
                &file,
                line,
                "[detection] 设置了 rumour_reaction_* 阈值，但谣言模型没有评论部分，此设置不起作用".into(),
                "用 yuqing rumour train --comments 训练带评论的模型，或删去这两项",
            );
        }
    }
    Some(std::sync::Arc::new(m))
}

/// A flag threshold and a 待核实 edge from yuqing.toml, each with its line.
type Cuts = (Option<(f32, usize)>, Option<(f32, usize)>);

/// One model part's flag threshold and 待核实 edge from yuqing.toml (`names`: their keys);
/// false after an error.
fn cut(
    m: &mut crate::rumour::RumourModel,
    (flag, review): Cuts,
    names: (&str, &str),
    file: &Path,
    diags: &mut Diagnostics,
) -> bool {
    let file_review = m.review;
    if let Some((t, _)) = flag {
        m.threshold = t;
        m.review = file_review.min(t);
    }
    if let Some((r, line)) = review {
        if r > m.threshold {
            diags.error(
                file,
                line,
                format!("[detection] {} = {r} 高于谣言模型的阈值 {:.2}", names.1, m.threshold),
                format!("待核实区间在疑似谣言之下：请调低 {}，或同时设置 {}", names.1, names.0),
            );
            return false;
        }
        m.review = r;
    }
    true
}

impl Config {
    /// Loads and validates everything under `dir`, reporting every problem found.
    pub fn load(dir: &Path) -> Loaded {
        Self::load_with(dir, Diagnostics::default())
    }

    /// Loads for a command that analyses text and reads no source (`yuqing test match`,
    /// `yuqing rumour eval`): what it needs are the keyword lists, the cue lists, the lexicon
    /// and the model, so a source file or export folder that does not exist (yet) is only a
    /// warning.
    pub fn load_for_analysis(dir: &Path) -> Loaded {
        Self::load_with(dir, Diagnostics { paths_may_be_missing: true, ..Diagnostics::default() })
    }

    fn load_with(dir: &Path, mut diags: Diagnostics) -> Loaded {
        let settings = settings::load(dir, &mut diags);
        let default_schedule = settings.as_ref().map(|s| &s.daemon.default_schedule);
        let errors_before = diags.errors().count();
        let sources = sources::load(dir, default_schedule, &mut diags);
        let sources_complete = diags.errors().count() == errors_before;
        let mut aliases = keywords::Aliases::new();
        let mut keyword_lists = keywords::load(&dir.join(KEYWORDS_DIR), &mut aliases, &mut diags);
        let mut cue_lists = keywords::load_cues(&dir.join(KEYWORDS_DIR).join("flags"), &mut aliases, &mut diags);
        keywords::resolve_aliases(&mut keyword_lists, &aliases, &mut diags);
        keywords::resolve_aliases(&mut cue_lists, &aliases, &mut diags);
        if sources_complete {
            let ids: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
            keywords::check_sources(&keyword_lists, &ids, &mut diags);
            keywords::check_sources(&cue_lists, &ids, &mut diags);
        }
        let lexicon = keywords::load_lexicon(&dir.join(KEYWORDS_DIR).join("sentiment"), &mut diags);
        let rumour_model = match crate::rumour::load_from_dir(dir) {
            Ok(model) => model,
            Err((path, message)) => {
                diags.error(
                    &path,
                    0,
                    message,
                    "用 yuqing rumour train --data 文件.jsonl 重新训练，或删除该文件只用线索词表",
                );
                None
            }
        };
        if let Some(s) = &settings {
            check_list_sections(&keyword_lists, &s.response.org, &mut diags);
        }
        let rumour_model = match (rumour_model, &settings) {
            (Some(model), Some(s)) => rumour_thresholds(dir, model, &s.detection, &mut diags),
            (model, _) => model,
        };
        let config = match (settings, diags.has_errors()) {
            (Some(s), false) => Some(Config {
                dir: dir.to_path_buf(),
                timezone: s.timezone,
                storage_path: s.storage_path,
                storage_url: s.storage_url,
                storage_lease_secs: s.storage_lease_secs,
                fetch: s.fetch,
                daemon: s.daemon,
                detection: s.detection,
                retention: s.retention,
                response: s.response,
                calendar: s.calendar,
                mail: s.mail,
                http: s.http,
                sms: s.sms,
                robots: s.robots,
                delivery: s.delivery,
                briefings: s.briefings,
                policies: s.policies,
                policy_risk: s.policy_risk,
                sources,
                keyword_lists,
                cue_lists,
                lexicon,
                rumour_model,
            }),
            _ => None,
        };
        Loaded { config, diagnostics: diags }
    }

    /// How long a source run's lease holds on PostgreSQL: `[storage] lease_secs`, or twice
    /// the fetch timeout plus two minutes ([`crate::store::lease_secs_for`]). The daemon
    /// renews it every third of that while the run lasts.
    pub fn source_lease_secs(&self) -> i64 {
        self.storage_lease_secs.unwrap_or_else(|| crate::store::lease_secs_for(self.fetch.timeout))
    }

    pub fn enabled_sources(&self) -> impl Iterator<Item = &SourceConfig> {
        self.sources.iter().filter(|s| s.enabled)
    }

    /// Whether anything can be delivered: `[mail]`, `[sms]` or an IM robot is configured.
    /// Without any, hits are stored and no notification is queued.
    pub fn delivers(&self) -> bool {
        self.mail.is_some() || self.sms.is_some() || !self.robots.is_empty()
    }

    pub fn receiver(&self, id: &str) -> Option<&Receiver> {
        self.response.receivers.iter().find(|r| r.id == id)
    }

    pub fn briefing(&self, id: &str) -> Option<&Briefing> {
        self.briefings.iter().find(|b| b.id == id)
    }

    pub fn policy(&self, id: &str) -> Option<&crate::response::policy::PolicyWatch> {
        self.policies.iter().find(|p| p.id == id)
    }

    pub fn source(&self, id: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.id == id)
    }

    /// Ids of the bureau's own sources (`official = true`), the reference for 歪曲.
    pub fn official_source_ids(&self) -> Vec<&str> {
        self.sources.iter().filter(|s| s.official).map(|s| s.id.as_str()).collect()
    }

    /// The section owning a topic or keyword list: the list's `@section`, else a
    /// `[[sections]]` entry listing it in `topics`.
    pub fn topic_owner(&self, topic: &str) -> Option<String> {
        let by_list = self
            .keyword_lists
            .iter()
            .find(|l| l.name == topic || l.meta.topic == topic)
            .and_then(|l| l.meta.section.clone());
        by_list.or_else(|| {
            self.response.org.sections.iter().find(|s| s.topics.iter().any(|t| t == topic)).map(|s| s.id.clone())
        })
    }
}

/// A keyword list's `@section` must name a section of `[[sections]]` (an error at its line);
/// without any `[[sections]]` it names nothing (a warning).
fn check_list_sections(lists: &[KeywordList], org: &crate::response::Organisation, diags: &mut Diagnostics) {
    let known: Vec<&str> = org.sections.iter().map(|s| s.id.as_str()).collect();
    for list in lists {
        let Some(section) = &list.meta.section else { continue };
        if known.is_empty() {
            diags.warning_at(
                &list.path,
                list.meta.section_at,
                format!("@section = {section}，但 yuqing.toml 中没有 [[sections]]"),
                format!("在 yuqing.toml 中添加 id = \"{section}\" 的 [[sections]]，或删除这一行"),
            );
        } else if org.section(section).is_none() {
            let hint = match diag::suggest(section, &known) {
                Some(s) => format!("是不是 \"{s}\"？@section 应是 yuqing.toml 中 [[sections]] 的 id"),
                None => format!("@section 应是 yuqing.toml 中 [[sections]] 的 id：{}", known.join("、")),
            };
            diags.error_at(
                &list.path,
                list.meta.section_at,
                format!("@section = {section} 不在 [[sections]] 中"),
                hint,
            );
        }
    }
}

/// Resolves a path from a config file against the config directory.
fn resolve(dir: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() { p.to_path_buf() } else { dir.join(p) }
}

/// Resolves a secret file (`password_file`, `*_file`). A path starting with
/// `$CREDENTIALS_DIRECTORY/` names a systemd credential (`LoadCredential=`): inside the
/// service it is read from the directory systemd passes in that variable; outside it (an
/// admin running `yuqing check` from a shell) from `<config dir>/credentials/`, where the
/// unit's `LoadCredential=` takes it from. One config line works in both places.
fn resolve_secret(dir: &Path, path: &str) -> PathBuf {
    resolve_secret_in(dir, path, std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from))
}

fn resolve_secret_in(dir: &Path, path: &str, credentials: Option<PathBuf>) -> PathBuf {
    let name = path.strip_prefix("$CREDENTIALS_DIRECTORY/").or_else(|| path.strip_prefix("${CREDENTIALS_DIRECTORY}/"));
    match name {
        Some(name) => credentials.unwrap_or_else(|| dir.join("credentials")).join(name),
        None => resolve(dir, path),
    }
}

#[cfg(test)]
mod secret_path_tests {
    use super::*;

    #[test]
    fn credentials_come_from_systemd_inside_the_service_and_from_the_config_dir_outside() {
        let dir = Path::new("/etc/yuqing");
        let run = Some(PathBuf::from("/run/credentials/yuqing.service"));
        assert_eq!(
            resolve_secret_in(dir, "$CREDENTIALS_DIRECTORY/smtp-password", run.clone()),
            PathBuf::from("/run/credentials/yuqing.service/smtp-password")
        );
        assert_eq!(
            resolve_secret_in(dir, "${CREDENTIALS_DIRECTORY}/smtp-password", None),
            PathBuf::from("/etc/yuqing/credentials/smtp-password")
        );
        assert_eq!(resolve_secret_in(dir, "smtp-password", run), PathBuf::from("/etc/yuqing/smtp-password"));
    }
}
