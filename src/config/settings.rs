//! `yuqing.toml`: timezone, storage, fetch limits, daemon knobs, the `[mail]` channel and the
//! `[calendar]` of working time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use lettre::message::Mailbox;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::DeTable;

use super::diag::Diagnostics;
use super::toml_doc::TomlFile;
use super::{DaemonSettings, DetectionSettings, RetentionSettings, SETTINGS_FILE, resolve};
use crate::fetch::FetchSettings;
use crate::notify::{MailSettings, MailTransport, Secret, SmtpSettings, TlsMode};
use crate::time::schedule::Schedule;

const ROOT_KEYS: &[&str] = &[
    "timezone",
    "storage",
    "fetch",
    "daemon",
    "detection",
    "mail",
    "sms",
    "robots",
    "principal",
    "gkb",
    "people",
    "sections",
    "departments",
    "grades",
    "routes",
    "deadlines",
    "ladder",
    "http",
    "calendar",
    "delivery",
    "briefings",
    "receivers",
    "retention",
    "policies",
    "policy_risk",
];
const DETECTION_KEYS: &[&str] = &[
    "fold_traditional",
    "event_threshold",
    "event_window_hours",
    "rumour_threshold",
    "rumour_review_threshold",
    "rumour_reaction_threshold",
    "rumour_reaction_review_threshold",
];
const STORAGE_KEYS: &[&str] = &["path", "url", "lease_secs"];
const RETENTION_KEYS: &[&str] = &["documents_days", "assessment_days", "min_free_mb"];
const FETCH_KEYS: &[&str] = &[
    "timeout_secs",
    "connect_timeout_secs",
    "max_body_bytes",
    "max_redirects",
    "user_agent",
    "per_host_concurrency",
    "per_host_delay_ms",
    "proxy",
];
const DAEMON_KEYS: &[&str] = &["concurrency", "default_schedule", "shutdown_grace_secs", "failure_notice_after"];
const MAIL_KEYS: &[&str] = &[
    "transport",
    "host",
    "port",
    "tls",
    "username",
    "password_file",
    "password_env",
    "from",
    "to",
    "outbox_dir",
    "hello_name",
    "timeout_secs",
    "retry_initial_secs",
    "retry_max_secs",
    "max_attempts",
    "connections",
    "subject_prefix",
    "ca_file",
    "admin",
];

pub(super) struct Settings {
    pub timezone: Tz,
    pub storage_path: PathBuf,
    pub storage_url: Option<crate::store::pg::PgUrl>,
    pub storage_lease_secs: Option<i64>,
    pub fetch: FetchSettings,
    pub daemon: DaemonSettings,
    pub detection: DetectionSettings,
    pub retention: RetentionSettings,
    pub mail: Option<MailSettings>,
    pub http: Option<super::http::HttpSettings>,
    pub sms: Option<crate::channel::SmsSettings>,
    pub robots: Vec<crate::channel::RobotSettings>,
    pub delivery: super::delivery::DeliveryPolicy,
    pub response: super::org::Response,
    pub calendar: crate::time::calendar::WorkCalendar,
    pub briefings: Vec<super::Briefing>,
    pub policies: Vec<crate::response::policy::PolicyWatch>,
    pub policy_risk: crate::response::policy::RiskRules,
}

#[derive(Deserialize, Default)]
struct RawDetection {
    fold_traditional: Option<bool>,
    event_threshold: Option<Spanned<f64>>,
    event_window_hours: Option<Spanned<u64>>,
    rumour_threshold: Option<Spanned<f64>>,
    rumour_review_threshold: Option<Spanned<f64>>,
    rumour_reaction_threshold: Option<Spanned<f64>>,
    rumour_reaction_review_threshold: Option<Spanned<f64>>,
}

#[derive(Deserialize, Default)]
struct RawRetention {
    documents_days: Option<Spanned<u32>>,
    assessment_days: Option<Spanned<u32>>,
    min_free_mb: Option<u64>,
}

#[derive(Deserialize, Default)]
struct RawStorage {
    path: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    lease_secs: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
struct RawFetch {
    timeout_secs: Option<u64>,
    connect_timeout_secs: Option<u64>,
    max_body_bytes: Option<u64>,
    max_redirects: Option<usize>,
    user_agent: Option<String>,
    per_host_concurrency: Option<usize>,
    per_host_delay_ms: Option<u64>,
    proxy: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
struct RawDaemon {
    concurrency: Option<usize>,
    default_schedule: Option<Spanned<String>>,
    shutdown_grace_secs: Option<u64>,
    failure_notice_after: Option<u32>,
}

#[derive(Deserialize)]
struct RawMail {
    transport: Option<Spanned<String>>,
    host: Option<String>,
    port: Option<u16>,
    tls: Option<Spanned<String>>,
    username: Option<String>,
    password_file: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
    from: Spanned<String>,
    to: Spanned<Vec<Spanned<String>>>,
    outbox_dir: Option<String>,
    hello_name: Option<String>,
    timeout_secs: Option<u64>,
    retry_initial_secs: Option<u64>,
    retry_max_secs: Option<u64>,
    max_attempts: Option<Spanned<u32>>,
    connections: Option<Spanned<i64>>,
    subject_prefix: Option<String>,
    ca_file: Option<Spanned<String>>,
    admin: Option<Vec<Spanned<String>>>,
}

pub(super) fn load(dir: &Path, diags: &mut Diagnostics) -> Option<Settings> {
    let path = dir.join(SETTINGS_FILE);
    let file = TomlFile::read(&path, "请在配置目录中放置 yuqing.toml（可复制仓库自带的示例）", diags)?;
    let doc = file.parse(diags)?;
    let root = file.known_keys(doc.get_ref(), ROOT_KEYS, "顶层", diags);

    let timezone = timezone(&file, &root, diags);
    let storage: Option<RawStorage> = section(&file, &root, "storage", STORAGE_KEYS, diags);
    let fetch: Option<RawFetch> = section(&file, &root, "fetch", FETCH_KEYS, diags);
    let daemon = section(&file, &root, "daemon", DAEMON_KEYS, diags).and_then(|d| daemon_settings(&file, d, diags));
    let detection =
        section(&file, &root, "detection", DETECTION_KEYS, diags).and_then(|d| detection_settings(&file, d, diags));
    let retention =
        section(&file, &root, "retention", RETENTION_KEYS, diags).and_then(|r| retention_settings(&file, r, diags));
    let mail = mail_section(dir, &file, &root, diags);
    let http = super::http::load(&file, &root, diags);
    let sms = super::channels::load_sms(dir, &file, &root, diags);
    let robots = super::channels::load_robots(dir, &file, &root, diags);
    let robot_ids: Vec<String> = robots.iter().flatten().map(|r| r.id.clone()).collect();
    let delivery = super::delivery::load(&file, &root, &robot_ids, diags);
    if matches!(mail, Some(None)) {
        let (message, hint) = match (&sms, robot_ids.is_empty()) {
            (Some(None), true) => (
                "未配置 [mail]、[sms] 或 [[robots]]：命中会被保存，但不会发送任何提醒",
                "请添加 [mail] 小节（或 [sms]、[[robots]]）",
            ),
            _ => ("未配置 [mail]：不发送提醒邮件，短信和群机器人照常；死信不会通知管理员", "请添加 [mail] 小节"),
        };
        diags.warning(&file.path, 0, message.into(), hint);
    }
    let response = super::org::load(&file, &root, &robot_ids, diags);
    if let Some(robots) = &robots {
        for section in &response.org.sections {
            if let Some(robot) = section.robot.as_ref().filter(|r| !robots.iter().any(|x| &x.id == *r)) {
                diags.error(
                    &file.path,
                    0,
                    format!("科室 {} 的 robot \"{robot}\" 不在 [[robots]] 中", section.id),
                    "写 [[robots]] 中某个机器人的 id，或删去该科室的 robot",
                );
            }
        }
    }
    let has_mail = matches!(mail, Some(Some(_)));
    let briefings = super::briefings::load(&file, &root, &response.org, &response.receivers, has_mail, diags);
    let policies = super::policies::load(&file, &root, &response.org, diags);
    let policy_risk = super::policies::load_rules(&file, &root, diags);
    let tz = timezone.unwrap_or(chrono_tz::Asia::Shanghai);
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let calendar = super::calendar::load(dir, &file, &root, tz, today, diags);

    let storage = storage?;
    let storage_lease_secs = lease_setting(&file, storage.lease_secs.as_ref(), storage.url.is_some(), diags)?;
    let (storage_path, storage_url) = storage_settings(&file, storage, diags)?;
    Some(Settings {
        timezone: timezone?,
        storage_path: resolve(dir, &storage_path),
        storage_url,
        storage_lease_secs,
        fetch: fetch_settings(&file, fetch?, diags)?,
        daemon: daemon?,
        detection: detection?,
        retention: retention?,
        mail: mail?,
        http: http?,
        sms: sms?,
        robots: robots?,
        delivery: delivery?,
        response,
        calendar,
        briefings,
        policies,
        policy_risk,
    })
}

/// The shortest and longest `[storage] lease_secs`: a lease is renewed every third of it, and
/// a dead instance's sources wait for it.
const LEASE_SECS: std::ops::RangeInclusive<i64> = 6..=3600;

/// `[storage] lease_secs`: how long a source run's lease holds on PostgreSQL between
/// renewals (`None`: from the fetch timeout, `store::lease_secs_for`). With `path` it has no
/// effect, which is said.
fn lease_setting(
    file: &TomlFile,
    raw: Option<&Spanned<i64>>,
    postgres: bool,
    diags: &mut Diagnostics,
) -> Option<Option<i64>> {
    let Some(v) = raw else { return Some(None) };
    let secs = *v.get_ref();
    if !LEASE_SECS.contains(&secs) {
        diags.error(
            &file.path,
            file.line(v.span()),
            format!("[storage] lease_secs = {secs} 超出范围（{}–{} 秒）", LEASE_SECS.start(), LEASE_SECS.end()),
            "多个实例共用 PostgreSQL 时，信源租约的时长：实例每隔三分之一续约一次，实例宕机后其信源在这段时间后由其他实例接手；不写则为 2 × 抓取超时 + 120 秒",
        );
        return None;
    }
    if !postgres {
        diags.warning(
            &file.path,
            file.line(v.span()),
            format!("[storage] lease_secs = {secs} 只对 PostgreSQL（url）有效，SQLite 文件不需要租约"),
            "删去这一行，或改用 url = \"postgres://…\"",
        );
    }
    Some(Some(secs))
}

/// `[storage]`: `path` (SQLite, the default) or `url` (PostgreSQL, experimental), not both.
/// The URL's password never appears in a message.
fn storage_settings(
    file: &TomlFile,
    raw: RawStorage,
    diags: &mut Diagnostics,
) -> Option<(String, Option<crate::store::pg::PgUrl>)> {
    match (raw.path, raw.url) {
        (Some(_), Some(url)) => {
            diags.error(
                &file.path,
                file.line(url.span()),
                "[storage] 中 path 和 url 只能写一个".into(),
                "SQLite（默认）写 path = \"state/yuqing.db\"；PostgreSQL 写 url = \"postgres://用户@主机/数据库\"",
            );
            None
        }
        (path, None) => Some((path.map(|p| p.into_inner()).unwrap_or_else(|| "state/yuqing.db".into()), None)),
        (None, Some(url)) => match crate::store::pg::PgUrl::parse(url.get_ref()) {
            Ok(parsed) => {
                diags.warning(
                    &file.path,
                    file.line(url.span()),
                    format!("[storage] url = {parsed}：PostgreSQL 存储尚在试验中；守护进程和查询、处置命令都使用它，db backup 和 db check 只用于 SQLite（PostgreSQL 请用 pg_dump）"),
                    "可用 yuqing db migrate-to 把现有 SQLite 数据复制过去；正式运行建议仍用 [storage] path",
                );
                Some(("state/yuqing.db".into(), Some(parsed)))
            }
            Err(e) => {
                diags.error(
                    &file.path,
                    file.line(url.span()),
                    format!("[storage] url {} 无效：{}", crate::store::pg::redact(url.get_ref()), e.describe_zh()),
                    "例如 url = \"postgres://yuqing@127.0.0.1:5432/yuqing\"（密码可写在 URL 中，不会显示在任何消息里）",
                );
                None
            }
        },
    }
}

fn timezone(file: &TomlFile, root: &DeTable<'_>, diags: &mut Diagnostics) -> Option<Tz> {
    let Some(value) = root.get("timezone") else {
        return Some(chrono_tz::Asia::Shanghai);
    };
    let parsed = value.get_ref().as_str().and_then(|s| s.parse::<Tz>().ok());
    if parsed.is_none() {
        diags.error(
            &file.path,
            file.line(value.span()),
            "timezone 不是有效的 IANA 时区名".into(),
            "例如 timezone = \"Asia/Shanghai\"",
        );
    }
    parsed
}

/// Deserialises an optional `[key]` section; absent means all defaults.
fn section<T: DeserializeOwned + Default>(
    file: &TomlFile,
    root: &DeTable<'_>,
    key: &str,
    allowed: &[&str],
    diags: &mut Diagnostics,
) -> Option<T> {
    if !root.contains_key(key) {
        return Some(T::default());
    }
    let (span, table) = file.sub_table(root, key, diags)?;
    let table = file.known_keys(table, allowed, &format!("[{key}] 中"), diags);
    file.deserialize(span, table, &format!("[{key}] "), diags)
}

fn fetch_settings(file: &TomlFile, raw: RawFetch, diags: &mut Diagnostics) -> Option<FetchSettings> {
    let d = FetchSettings::default();
    let proxy = match &raw.proxy {
        None => None,
        Some(p) => match url::Url::parse(p.get_ref()) {
            Ok(url) if matches!(url.scheme(), "http" | "https" | "socks5") => Some(url),
            _ => {
                diags.error(
                    &file.path,
                    file.line(p.span()),
                    format!("proxy \"{}\" 不是有效的代理地址", p.get_ref()),
                    "例如 proxy = \"http://10.0.0.1:3128\"",
                );
                return None;
            }
        },
    };
    Some(FetchSettings {
        timeout: raw.timeout_secs.map_or(d.timeout, Duration::from_secs),
        connect_timeout: raw.connect_timeout_secs.map_or(d.connect_timeout, Duration::from_secs),
        max_body_bytes: raw.max_body_bytes.unwrap_or(d.max_body_bytes),
        max_redirects: raw.max_redirects.unwrap_or(d.max_redirects),
        user_agent: raw.user_agent.unwrap_or(d.user_agent),
        per_host_concurrency: raw.per_host_concurrency.unwrap_or(d.per_host_concurrency).max(1),
        per_host_delay: raw.per_host_delay_ms.map_or(d.per_host_delay, Duration::from_millis),
        proxy,
    })
}

fn daemon_settings(file: &TomlFile, raw: RawDaemon, diags: &mut Diagnostics) -> Option<DaemonSettings> {
    let default_schedule = match raw.default_schedule {
        None => Schedule::default(),
        Some(expr) => match Schedule::parse(expr.get_ref()) {
            Ok(s) => s,
            Err(e) => {
                diags.error(&file.path, file.line(expr.span()), format!("default_schedule 无效：{e}"), Schedule::HINT);
                return None;
            }
        },
    };
    let concurrency = raw.concurrency.unwrap_or(8);
    if concurrency == 0 {
        diags.error(&file.path, 0, "[daemon] concurrency 不能为 0".into(), "请设为 1 或更大的整数");
        return None;
    }
    Some(DaemonSettings {
        concurrency,
        default_schedule,
        shutdown_grace: Duration::from_secs(raw.shutdown_grace_secs.unwrap_or(30)),
        failure_notice_after: raw.failure_notice_after.unwrap_or(3).max(1),
    })
}

fn detection_settings(file: &TomlFile, raw: RawDetection, diags: &mut Diagnostics) -> Option<DetectionSettings> {
    let d = DetectionSettings::default();
    let mut ok = true;
    if let Some(t) = &raw.event_threshold
        && !(*t.get_ref() > 0.0 && *t.get_ref() <= 1.0)
    {
        diags.error(
            &file.path,
            file.line(t.span()),
            format!("[detection] event_threshold = {} 不在 (0, 1] 之内", t.get_ref()),
            "相似度阈值，例如 0.5：两篇信息的字符片段重合一半以上即归为同一事件",
        );
        ok = false;
    }
    if let Some(h) = &raw.event_window_hours
        && *h.get_ref() == 0
    {
        diags.error(
            &file.path,
            file.line(h.span()),
            "[detection] event_window_hours 不能为 0".into(),
            "例如 72（三天）",
        );
        ok = false;
    }
    for (key, value) in [
        ("rumour_threshold", &raw.rumour_threshold),
        ("rumour_review_threshold", &raw.rumour_review_threshold),
        ("rumour_reaction_threshold", &raw.rumour_reaction_threshold),
        ("rumour_reaction_review_threshold", &raw.rumour_reaction_review_threshold),
    ] {
        if let Some(t) = value
            && !(*t.get_ref() > 0.0 && *t.get_ref() <= 1.0)
        {
            diags.error(
                &file.path,
                file.line(t.span()),
                format!("[detection] {key} = {} 不在 (0, 1] 之内", t.get_ref()),
                "谣言模型的概率阈值，例如 rumour_threshold = 0.8（疑似谣言）、rumour_review_threshold = 0.5（待核实）",
            );
            ok = false;
        }
    }
    for (flag, review, names) in [
        (&raw.rumour_threshold, &raw.rumour_review_threshold, ("rumour_threshold", "rumour_review_threshold")),
        (
            &raw.rumour_reaction_threshold,
            &raw.rumour_reaction_review_threshold,
            ("rumour_reaction_threshold", "rumour_reaction_review_threshold"),
        ),
    ] {
        if let (Some(flag), Some(review)) = (flag, review)
            && review.get_ref() > flag.get_ref()
        {
            diags.error(
                &file.path,
                file.line(review.span()),
                format!("[detection] {} = {} 高于 {} = {}", names.1, review.get_ref(), names.0, flag.get_ref()),
                format!("待核实区间在疑似谣言之下：{} 应不大于 {}", names.1, names.0),
            );
            ok = false;
        }
    }
    let at = |t: &Option<Spanned<f64>>| t.as_ref().map(|t| (*t.get_ref() as f32, file.line(t.span())));
    ok.then(|| DetectionSettings {
        rumour_threshold: at(&raw.rumour_threshold),
        rumour_review_threshold: at(&raw.rumour_review_threshold),
        rumour_reaction_threshold: at(&raw.rumour_reaction_threshold),
        rumour_reaction_review_threshold: at(&raw.rumour_reaction_review_threshold),
        fold_traditional: raw.fold_traditional.unwrap_or(d.fold_traditional),
        event_threshold: raw.event_threshold.map_or(d.event_threshold, |t| *t.get_ref()),
        event_window: raw.event_window_hours.map_or(d.event_window, |h| Duration::from_secs(h.get_ref() * 3600)),
    })
}

fn retention_settings(file: &TomlFile, raw: RawRetention, diags: &mut Diagnostics) -> Option<RetentionSettings> {
    let d = RetentionSettings::default();
    let mut ok = true;
    for (key, value) in [("documents_days", &raw.documents_days), ("assessment_days", &raw.assessment_days)] {
        if let Some(v) = value
            && *v.get_ref() == 0
        {
            diags.error(
                &file.path,
                file.line(v.span()),
                format!("[retention] {key} 不能为 0"),
                "保留天数，例如 documents_days = 180，assessment_days = 730（两年考核期）",
            );
            ok = false;
        }
    }
    let documents_days = raw.documents_days.as_ref().map_or(d.documents_days, |v| *v.get_ref());
    let assessment_days = raw.assessment_days.as_ref().map_or(d.assessment_days, |v| *v.get_ref());
    if let Some(v) = &raw.assessment_days
        && ok
        && assessment_days < 365
    {
        diags.warning(
            &file.path,
            file.line(v.span()),
            format!(
                "[retention] assessment_days = {assessment_days} 短于一年：年度考核所需的事件和处置记录可能被提前删除"
            ),
            "建议不少于 730（两年）",
        );
    }
    ok.then_some(RetentionSettings {
        documents_days,
        assessment_days,
        min_free_mb: raw.min_free_mb.unwrap_or(d.min_free_mb),
    })
}

/// `Some(None)` when there is no `[mail]`, `None` when `[mail]` is invalid.
fn mail_section(
    dir: &Path,
    file: &TomlFile,
    root: &DeTable<'_>,
    diags: &mut Diagnostics,
) -> Option<Option<MailSettings>> {
    if !root.contains_key("mail") {
        return Some(None);
    }
    let (span, table) = file.sub_table(root, "mail", diags)?;
    let mut table = table.clone();
    if let Some((key, _)) = table.remove_entry("password") {
        diags.error(
            &file.path,
            file.line(key.span()),
            "不允许在配置文件中直接写密码".into(),
            "请改用 password_file = \"文件路径\"（文件只含密码）或 password_env = \"环境变量名\"",
        );
    }
    let table = file.known_keys(&table, MAIL_KEYS, "[mail] 中", diags);
    let raw: RawMail = file.deserialize(span.clone(), table, "[mail] ", diags)?;
    mail_settings(dir, file, file.line(span), raw, diags).map(Some)
}

fn mail_settings(
    dir: &Path,
    file: &TomlFile,
    line: usize,
    raw: RawMail,
    diags: &mut Diagnostics,
) -> Option<MailSettings> {
    let errors_before = diags.errors().count();
    let from = mailbox(file, &raw.from, diags);
    let to: Vec<Mailbox> = raw.to.get_ref().iter().filter_map(|m| mailbox(file, m, diags)).collect();
    let admin: Vec<Mailbox> = match &raw.admin {
        Some(list) => list.iter().filter_map(|m| mailbox(file, m, diags)).collect(),
        None => to.clone(),
    };
    if raw.to.get_ref().is_empty() {
        diags.error(&file.path, file.line(raw.to.span()), "[mail] to 不能为空".into(), "请至少填写一个收件地址");
    }
    let transport_name = raw.transport.as_ref().map_or("smtp", |t| t.get_ref().as_str());
    let transport = match transport_name {
        "smtp" => smtp_settings(dir, file, line, &raw, diags).map(MailTransport::Smtp),
        "file" => Some(MailTransport::File { outbox_dir: resolve(dir, raw.outbox_dir.as_deref().unwrap_or("outbox")) }),
        other => {
            let line = raw.transport.as_ref().map_or(line, |t| file.line(t.span()));
            diags.error(&file.path, line, format!("不支持的 transport \"{other}\""), "可选值：\"smtp\" 或 \"file\"");
            None
        }
    };
    let defaults = MailSettings::DEFAULT_RETRY;
    let settings = MailSettings {
        transport: transport?,
        from: from?,
        to,
        admin,
        subject_prefix: raw.subject_prefix.unwrap_or_else(|| "【舆情提示】".into()),
        timeout: Duration::from_secs(raw.timeout_secs.unwrap_or(30)),
        retry_initial: raw.retry_initial_secs.map_or(defaults.0, Duration::from_secs),
        retry_max: raw.retry_max_secs.map_or(defaults.1, Duration::from_secs),
        max_attempts: match &raw.max_attempts {
            Some(n) if *n.get_ref() == 0 => {
                diags.error(&file.path, file.line(n.span()), "[mail] max_attempts 不能为 0".into(), "例如 12（默认）");
                MailSettings::DEFAULT_MAX_ATTEMPTS
            }
            Some(n) => *n.get_ref(),
            None => MailSettings::DEFAULT_MAX_ATTEMPTS,
        },
        connections: match &raw.connections {
            Some(n) if !(1..=MailSettings::MAX_CONNECTIONS as i64).contains(n.get_ref()) => {
                diags.error(
                    &file.path,
                    file.line(n.span()),
                    format!(
                        "[mail] connections 应为 1 到 {} 之间的整数（现为 {}）",
                        MailSettings::MAX_CONNECTIONS,
                        n.get_ref()
                    ),
                    format!(
                        "同时打开的 SMTP 连接数，默认 {}；服务器限制连接数时写 connections = 1",
                        MailSettings::DEFAULT_CONNECTIONS
                    ),
                );
                MailSettings::DEFAULT_CONNECTIONS
            }
            Some(n) => usize::try_from(*n.get_ref()).unwrap_or(MailSettings::DEFAULT_CONNECTIONS),
            None => MailSettings::DEFAULT_CONNECTIONS,
        },
    };
    (diags.errors().count() == errors_before).then_some(settings)
}

fn mailbox(file: &TomlFile, value: &Spanned<String>, diags: &mut Diagnostics) -> Option<Mailbox> {
    match value.get_ref().parse::<Mailbox>() {
        Ok(m) => Some(m),
        Err(e) => {
            diags.error(
                &file.path,
                file.line(value.span()),
                format!("邮件地址 \"{}\" 无效：{e}", value.get_ref()),
                "格式如 \"name@example.gov.cn\" 或 \"舆情监测 <name@example.gov.cn>\"",
            );
            None
        }
    }
}

fn smtp_settings(
    dir: &Path,
    file: &TomlFile,
    line: usize,
    raw: &RawMail,
    diags: &mut Diagnostics,
) -> Option<SmtpSettings> {
    let tls = match raw.tls.as_ref().map_or("starttls", |t| t.get_ref().as_str()) {
        "none" => TlsMode::None,
        "starttls" => TlsMode::StartTls,
        "tls" => TlsMode::Tls,
        other => {
            let line = raw.tls.as_ref().map_or(line, |t| file.line(t.span()));
            diags.error(
                &file.path,
                line,
                format!("不支持的 tls \"{other}\""),
                "可选值：\"none\"、\"starttls\" 或 \"tls\"",
            );
            return None;
        }
    };
    let Some(host) = raw.host.clone() else {
        diags.error(
            &file.path,
            line,
            "transport = \"smtp\" 需要 host".into(),
            "请填写 SMTP 服务器地址，例如 host = \"smtp.example.gov.cn\"",
        );
        return None;
    };
    let password = password(dir, file, raw, diags)?;
    if raw.username.is_some() != password.is_some() {
        diags.error(
            &file.path,
            line,
            "username 与密码必须同时配置".into(),
            "需要登录时同时写 username 和 password_file / password_env；匿名发送时两者都不写",
        );
        return None;
    }
    Some(SmtpSettings {
        host,
        port: raw.port.unwrap_or(tls.default_port()),
        tls,
        username: raw.username.clone(),
        password,
        hello_name: raw.hello_name.clone(),
        ca_file: ca_file(dir, file, raw, diags)?,
    })
}

/// `Some(None)` when no password is configured; `None` when the configured one is unusable.
fn password(dir: &Path, file: &TomlFile, raw: &RawMail, diags: &mut Diagnostics) -> Option<Option<Secret>> {
    match (&raw.password_file, &raw.password_env) {
        (None, None) => Some(None),
        (Some(_), Some(env)) => {
            diags.error(
                &file.path,
                file.line(env.span()),
                "password_file 与 password_env 只能二选一".into(),
                "请删除其中一个",
            );
            None
        }
        (Some(path), None) => {
            let full = super::resolve_secret(dir, path.get_ref());
            match std::fs::read_to_string(&full) {
                Ok(s) if !s.trim().is_empty() => Some(Some(Secret::new(s.trim_end_matches(['\r', '\n']).to_string()))),
                Ok(_) => {
                    diags.error(
                        &file.path,
                        file.line(path.span()),
                        format!("密码文件 {} 是空的", full.display()),
                        "请在该文件中写入 SMTP 密码",
                    );
                    None
                }
                Err(e) => {
                    diags.error(
                        &file.path,
                        file.line(path.span()),
                        format!("无法读取密码文件 {}：{e}", full.display()),
                        "请创建该文件（权限 600）并写入 SMTP 密码，或检查路径",
                    );
                    None
                }
            }
        }
        (None, Some(var)) => match std::env::var(var.get_ref()) {
            Ok(v) if !v.is_empty() => Some(Some(Secret::new(v))),
            _ => {
                diags.error(
                    &file.path,
                    file.line(var.span()),
                    format!("环境变量 {} 未设置或为空", var.get_ref()),
                    "请在启动前设置该环境变量（systemd 中用 Environment= 或 EnvironmentFile=）",
                );
                None
            }
        },
    }
}

/// `Some(None)` without `ca_file`; `None` when the file is unreadable or holds no certificate.
fn ca_file(dir: &Path, file: &TomlFile, raw: &RawMail, diags: &mut Diagnostics) -> Option<Option<PathBuf>> {
    let Some(value) = &raw.ca_file else {
        return Some(None);
    };
    let path = resolve(dir, value.get_ref());
    let ok = std::fs::read_to_string(&path).map(|pem| pem.contains("-----BEGIN CERTIFICATE-----"));
    match ok {
        Ok(true) => Some(Some(path)),
        Ok(false) => {
            diags.error(
                &file.path,
                file.line(value.span()),
                format!("{} 中没有 PEM 证书", path.display()),
                "ca_file 应为 PEM 格式的 CA 证书（以 -----BEGIN CERTIFICATE----- 开头）",
            );
            None
        }
        Err(e) => {
            diags.error(
                &file.path,
                file.line(value.span()),
                format!("无法读取 ca_file {}：{e}", path.display()),
                "请检查路径和权限",
            );
            None
        }
    }
}
