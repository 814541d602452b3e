//! The command line: parses arguments, loads config, calls the library, prints results in
//! Chinese for staff, and picks the exit code. The only module that prints to stdout.
//!
//! Exit codes: 0 success; 1 invalid configuration or input (a bad argument, an unknown id);
//! 2 storage or runtime unusable.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use chrono_tz::Tz;
use clap::{Parser, Subcommand};
use tokio::sync::watch;

use crate::cli::analysis::Analyser;
use crate::config::{Config, Diagnostic, Location};
use crate::daemon::{self, OnceSummary};
use crate::fetch::Fetcher;
use crate::matcher::{Fields, Matcher};
use crate::model::{Flag, FlagKind};
use crate::pipeline;
use crate::pipeline::SourceReport;
use crate::store::{OutboxStatus, Store};

mod analysis;
mod briefing;
mod db;
mod events;
mod notify;
mod outbox;
mod policy;
mod report;
mod route;
mod rumour;
mod status;
mod timeline;
mod user;
mod viewpoints;

#[derive(Debug, Parser)]
#[command(name = "yuqing", version, about = "政务舆情监测与回应守护进程 (public-opinion monitoring daemon)")]
pub struct Cli {
    /// Config directory holding yuqing.toml, sources.toml and keywords/ (配置目录)
    #[arg(long, global = true, default_value = ".", value_name = "DIR")]
    pub config: PathBuf,
    /// Log format on stderr: readable text, JSON lines, or the systemd journal with
    /// structured fields; `auto` picks the journal when stderr is connected to it
    /// (JOURNAL_STREAM), else text (日志格式)
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Auto,
    Text,
    Json,
    Journald,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and report every problem (检查配置)
    Check,
    /// Run the daemon: every enabled source on its schedule (运行)
    Run {
        /// Run every enabled source once, deliver alerts, print a summary and exit (只运行一次)
        #[arg(long)]
        once: bool,
    },
    /// Run one source now (试抓取); with --dry-run print what it extracts, storing and
    /// sending nothing — the tool for writing [source.html] selectors
    Fetch {
        /// The source's id in sources.toml
        source: String,
        /// Print the extracted entries (title, link, date, charset, matched terms) only
        #[arg(long)]
        dry_run: bool,
    },
    /// Try the matching engines on text (测试): hits, flags, negativity, events
    Test {
        #[command(subcommand)]
        what: TestCommand,
    },
    /// Show recent documents with keyword hits (最近命中)
    Hits {
        /// How many documents to show
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Show each source's status and the alert outbox (信源状态)
    Sources,
    /// What the daemon is doing now: sources due and failing, open events by grade, overdue
    /// deadlines, the outbox, database size and free disk (运行状态)
    Status,
    /// Database maintenance: online backup, integrity check, pruning (数据库维护)
    Db {
        #[command(subcommand)]
        what: db::DbCommand,
    },
    /// Web-console accounts (控制台账号): `user passwd ID` sets a person's password
    User {
        #[command(subcommand)]
        what: user::UserCommand,
    },
    /// Act on an event (受理): `yuqing event accept ID --by PERSON` stops its escalation ladder
    Event {
        #[command(subcommand)]
        action: events::EventAction,
    },
    /// Show recent events (舆情事件), or one event's propagation path (传播路径)
    Events {
        /// An event number (#N in alerts): show how the story spread
        id: Option<i64>,
        /// How many events to list
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Periodic briefing and yearly assessment (舆情通报): events by grade, category and
    /// section, time to accept and to feedback, deadlines met and missed, open events
    Report(report::ReportArgs),
    /// Periodic briefings (舆情简报, [[briefings]]): `briefing send ID --dry-run` previews one
    Briefing {
        #[command(subcommand)]
        what: briefing::BriefingCommand,
    },
    /// Try the notification channels (通道测试): `notify test RECEIVER [--channel email|sms|wecom|dingtalk|feishu]`
    Notify {
        #[command(subcommand)]
        what: NotifyCommand,
    },
    /// The alert outbox: pending, failing, sent, dead letters; attempts; retry (发件箱)
    Outbox {
        #[command(subcommand)]
        what: outbox::OutboxCommand,
    },
    /// The major-policy risk watch (政策舆情风险评估, [[policies]]): `policy list`,
    /// `policy report ID --format text|html|csv`
    Policy {
        #[command(subcommand)]
        what: policy::PolicyCommand,
    },
    /// Train or evaluate the rumour text classifier (谣言文本分类模型：训练、评测)
    Rumour {
        #[command(subcommand)]
        what: RumourCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send one test message and print the provider's answer verbatim (发送测试消息)
    Test(notify::NotifyTestArgs),
}

#[derive(Debug, Subcommand)]
pub enum RumourCommand {
    /// Train on a JSONL file of `text` + `label` and write <config>/rumour.model (训练)
    Train(RumourTrainArgs),
    /// Measure cue lists, model and both on a labelled JSONL file (评测)
    Eval {
        /// JSONL with `text` and `label` (1/0, true/false, rumour/non-rumour) per line
        #[arg(long, value_name = "FILE")]
        data: PathBuf,
        /// Model file [default: <config>/rumour.model]
        #[arg(long, value_name = "PATH")]
        model: Option<PathBuf>,
        /// Print one JSON object for scripts
        #[arg(long)]
        json: bool,
        /// Also write each example's verdict to FILE as JSONL (label, probability, cues)
        #[arg(long, value_name = "FILE")]
        scores: Option<PathBuf>,
        /// Compare with this (older) model on the same data: cases judged right by each
        /// model's flag, and AUC (新旧模型对比)
        #[arg(long, value_name = "OLD_MODEL")]
        compare: Option<PathBuf>,
        /// Only the quarter of --data that `rumour train --cases` holds back (the office's
        /// cases it never trains on)
        #[arg(long)]
        held_back: bool,
        /// With a model trained with --comments: use its reaction model from this many
        /// comments on instead of the number stored in it (0: for every post, those
        /// without comments too)
        #[arg(long, value_name = "N")]
        min_comments: Option<u16>,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct RumourTrainArgs {
    /// JSONL with `text` and `label` (1/0, true/false, rumour/non-rumour) per line; may be
    /// given more than once
    #[arg(long, value_name = "FILE", required = true)]
    pub data: Vec<PathBuf>,
    /// The office's own cases (JSONL written by `event feedback --kind rumour-confirmed|rumour-refuted`):
    /// three quarters are trained on, weighted --case-weight; a quarter is held back to
    /// compare the new model with the one it would replace
    #[arg(long, value_name = "FILE")]
    pub cases: Option<PathBuf>,
    /// Weight of each case against one corpus post
    #[arg(long, default_value_t = 5.0)]
    pub case_weight: f32,
    /// Where to write the model [default: <config>/rumour.model]; an existing model there is
    /// replaced only when the new one judges at least as many held-back cases right
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Replace the existing model even when the new one does worse on the held-back cases
    #[arg(long)]
    pub force: bool,
    /// Advanced: passes over the data
    #[arg(long, default_value_t = crate::rumour::TrainParams::default().epochs)]
    pub epochs: usize,
    /// Advanced: L2 regularisation strength
    #[arg(long, default_value_t = crate::rumour::TrainParams::default().l2)]
    pub l2: f32,
    /// Advanced: 2^bits hash buckets (8–24)
    #[arg(long, default_value_t = crate::rumour::TrainParams::default().bits, value_parser = clap::value_parser!(u8).range(8..=24))]
    pub bits: u8,
    /// Advanced: longest character n-gram (0–5; 0: none)
    #[arg(long, default_value_t = crate::rumour::TrainParams::default().max_n as u8, value_parser = clap::value_parser!(u8).range(0..=5))]
    pub max_ngram: u8,
    /// Advanced: longest word n-gram from the jieba segmenter (0–3; 0: none)
    #[arg(long, default_value_t = crate::rumour::TrainParams::default().words as u8, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub words: u8,
    /// Advanced: value of each style cue (网传, 转发扩散, 感叹号连用, …; 0: none)
    #[arg(long, default_value_t = crate::rumour::TrainParams::default().style)]
    pub style: f32,
    /// Advanced: use an n-gram only when at least this many training texts contain it
    #[arg(long, default_value_t = crate::rumour::TrainParams::default().min_df)]
    pub min_df: u32,
    /// Advanced: AdaGrad learning rate
    #[arg(long, default_value_t = crate::rumour::TrainParams::default().learning_rate)]
    pub learning_rate: f32,
    /// Precision the rumour flag's threshold must reach on the held-out scores (0–1)
    #[arg(long, default_value_t = crate::rumour::TrainParams::default().precision)]
    pub precision: f64,
    /// Advanced: per-n-gram scaling while training: none, nb (NB-SVM log-count ratio) or
    /// idf; folded into the saved weights, so scoring costs the same
    #[arg(long, default_value = "none", value_parser = ["none", "nb", "idf"])]
    pub weighting: String,
    /// Advanced: save the mean of a plain and an NB-weighted model (one weight vector;
    /// --weighting is then ignored)
    #[arg(long)]
    pub ensemble: bool,
    /// Also train a reaction model on each post's `comments` (its early replies, earliest
    /// first), used for posts with at least --min-comments of them; other posts keep the
    /// content model. Without this flag it is trained when at least half the examples
    /// carry that many comments
    #[arg(long, conflicts_with = "no_comments")]
    pub comments: bool,
    /// Advanced: how many fifths of the data are held out in turn to pick the thresholds
    /// (1–5; each scored by a model trained on the rest, the scores pooled)
    #[arg(long, default_value_t = crate::rumour::TrainParams::default().folds as u8, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub folds: u8,
    /// Advanced: read traditional characters as they are (by default they are read as
    /// simplified, as the keyword lists match them; such a model file is version 5)
    #[arg(long)]
    pub no_fold: bool,
    /// Train the content model only, even when the examples carry comments
    #[arg(long)]
    pub no_comments: bool,
    /// The reaction model reads a post's first this many comments
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_comments: u16,
    /// The reaction model judges posts with at least this many comments
    #[arg(long, default_value_t = crate::rumour::TrainParams::default().min_comments as u16)]
    pub min_comments: u16,
}

#[derive(Debug, Subcommand)]
pub enum TestCommand {
    /// Match one text, or a JSONL file of texts, against the keyword lists, flag cues,
    /// negativity lexicon and the batch's events
    Match {
        /// A text to analyse (printed in Chinese)
        #[arg(long, conflicts_with = "jsonl")]
        text: Option<String>,
        /// Its title
        #[arg(long, default_value = "")]
        title: String,
        /// The source id it came from, for `source:` rules (an id of sources.toml)
        #[arg(long, value_name = "ID", conflicts_with = "jsonl")]
        source: Option<String>,
        /// Its author, for `author:` rules
        #[arg(long, value_name = "NAME", default_value = "", conflicts_with = "jsonl")]
        author: String,
        /// A JSONL file with `text` (optional `title`) per line; one JSON line out per line in
        #[arg(long, value_name = "FILE")]
        jsonl: Option<PathBuf>,
    },
    /// Who owns an event, who answers for it, who is told at each escalation step and
    /// which departments receive a report (测试路由)
    Route(route::RouteArgs),
    /// Group the comments of each JSONL line (`{"id", "comments": [...]}`) into viewpoints
    /// (网民观点); one JSON line out per line in, for evaluation
    Viewpoints {
        /// The JSONL file
        #[arg(long, value_name = "FILE")]
        jsonl: PathBuf,
        /// At most this many viewpoints per line
        #[arg(long, default_value_t = crate::detect::viewpoints::MAX_GROUPS)]
        max: usize,
    },
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are answers; a bad argument is invalid input: exit 1, as for
            // an invalid configuration (clap's own exit code, 2, means storage or runtime here).
            return if e.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
    };
    limit_malloc_arenas();
    if !matches!(cli.command, Command::Run { .. }) {
        die_quietly_on_closed_pipe();
    }
    init_logging(cli.log_format);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // Our error types carry their causes in their own messages; a storage error
            // (the usual one here) is explained in Chinese first.
            if let Some(store) = e.downcast_ref::<crate::store::StoreError>() {
                eprintln!("错误：{}", store.describe_zh());
            } else if let Some(daemon) = e.downcast_ref::<crate::daemon::DaemonError>() {
                eprintln!("错误：{}", daemon.describe_zh());
            } else {
                eprintln!("错误：{e}");
            }
            // A damaged database is the one storage error staff cannot fix by a setting.
            if e.chain().any(|c| c.downcast_ref::<crate::store::StoreError>().is_some_and(|s| s.is_corruption())) {
                eprintln!("{CORRUPT_HINT}");
            }
            ExitCode::from(2)
        }
    }
}

/// What to do about a damaged database file (after the error).
const CORRUPT_HINT: &str = "请运行 yuqing db check 查看损坏情况；确认损坏后停止服务，保留损坏的文件，用最近一次通过 db check 的备份替换它（见 README「备份」一节）。";

/// `yuqing hits | head` must end quietly when `head` closes the pipe, as other Unix tools
/// do, instead of panicking in `println!`. Rust ignores SIGPIPE by default; the report
/// commands restore the default action. The daemon (`run`) keeps ignoring it, so a peer
/// closing a socket can never kill it.
fn die_quietly_on_closed_pipe() {
    // SAFETY: called once at start, before any thread is spawned; it only changes the
    // process's disposition of SIGPIPE back to the default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// At most this many glibc malloc arenas (the default is 8 per core). Long-lived
/// allocations made on whichever blocking-pool thread commits a source run pin memory in
/// that thread's arena: the cold benchmark peaks at 53 MB with 16 arenas, 44 MB with 2 and
/// 43 MB with 1, at no measurable cost in time (BENCHMARKS.md; mimalloc and jemalloc measured
/// higher). Set here so that a run started by hand behaves as under the systemd unit; an
/// explicit `MALLOC_ARENA_MAX` still wins.
const MALLOC_ARENAS: i32 = 2;

fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: called once at start, before any thread is spawned; mallopt only changes
        // a tuning parameter of the allocator and reports failure by its return value.
        let _ = unsafe { libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS) };
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("YUQING_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let format = match format {
        LogFormat::Auto if stderr_is_journal() => LogFormat::Journald,
        LogFormat::Auto => LogFormat::Text,
        other => other,
    };
    if format == LogFormat::Journald {
        // Fields keep their names (SOURCE=, OUTCOME=, …): `journalctl -u yuqing SOURCE=gov`.
        match tracing_journald::layer() {
            Ok(layer) => {
                let layer = layer.with_field_prefix(None).with_syslog_identifier("yuqing".into());
                tracing_subscriber::registry().with(filter()).with(layer).init();
                return;
            }
            Err(e) => eprintln!("yuqing: cannot reach the systemd journal ({e}); logging text to stderr"),
        }
    }
    let builder = tracing_subscriber::fmt().with_env_filter(filter()).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).init(),
        _ => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

/// Whether stderr is the journal stream systemd set up (`JOURNAL_STREAM=<dev>:<inode>`
/// names the stream; a redirected stderr no longer matches it).
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else { return false };
    let Some((dev, ino)) = stream.to_str().and_then(|s| s.split_once(':')) else { return false };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else { return false };
    let Ok(meta) = std::fs::File::from(fd).metadata() else { return false };
    dev.parse::<u64>().is_ok_and(|d| d == meta.dev()) && ino.parse::<u64>().is_ok_and(|i| i == meta.ino())
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Absolute paths read better in messages ("./x" says little in a journal).
    let dir = std::fs::canonicalize(&cli.config).unwrap_or_else(|_| cli.config.clone());
    // Training needs no valid config, and must work to replace a damaged model file.
    if let Command::Rumour { what: RumourCommand::Train(args) } = &cli.command {
        return rumour::train(&dir, args);
    }
    if !dir.is_dir() {
        // One clear line instead of one error for each file the directory should hold.
        eprintln!(
            "配置目录 {} 不存在或不是目录：请用 --config 指向放有 yuqing.toml、sources.toml 和 keywords/ 的目录（默认为当前目录）",
            dir.display()
        );
        return Ok(ExitCode::from(1));
    }
    let analysis_only = matches!(
        cli.command,
        Command::Test { what: TestCommand::Match { .. } | TestCommand::Viewpoints { .. } }
            | Command::Rumour { what: RumourCommand::Eval { .. } }
    );
    let loaded = if analysis_only { Config::load_for_analysis(&dir) } else { Config::load(&dir) };
    let diagnostics = &loaded.diagnostics;
    if let Command::Check = cli.command {
        for d in &diagnostics.items {
            println!("{d}");
        }
        return Ok(match &loaded.config {
            Some(config) => {
                println!("{}", summary_line(config));
                ExitCode::SUCCESS
            }
            None => {
                let (errors, warnings) = (diagnostics.errors().count(), diagnostics.warnings().count());
                println!("配置无效：共 {errors} 个错误，{warnings} 个警告。请逐条修改后再运行 yuqing check。");
                ExitCode::from(1)
            }
        });
    }
    let Some(config) = loaded.config else {
        for d in diagnostics.errors() {
            eprintln!("{d}");
        }
        eprintln!("配置无效，未启动。请先运行 yuqing --config {} check 查看并修正。", cli.config.display());
        return Ok(ExitCode::from(1));
    };
    for d in diagnostics.warnings() {
        tracing::warn!("{}", plain(d));
    }
    match cli.command {
        Command::Check => Ok(ExitCode::SUCCESS),
        Command::Run { once: true } => run_once(config, None),
        Command::Fetch { source, dry_run } => fetch(config, &source, dry_run),
        Command::Test { what: TestCommand::Match { text, title, source, author, jsonl } } => {
            let input = MatchInput { text, title, source, author };
            test_match(&config, input, jsonl)
        }
        Command::Test { what: TestCommand::Route(args) } => route::test_route(&config, &args),
        Command::Test { what: TestCommand::Viewpoints { jsonl, max } } => {
            viewpoints::test_viewpoints(&config, &jsonl, max)
        }
        Command::Run { once: false } => run_forever(config),
        Command::Hits { limit } => show_hits(&config, limit),
        Command::Sources => show_sources(&config),
        Command::Status => status::show(&config),
        Command::Db { what } => db::run(&config, &what),
        Command::User { what } => user::run(&config, &what),
        Command::Events { id, limit } => events::show(&config, id, limit),
        Command::Event { action } => events::act(&config, action),
        Command::Report(args) => report::report(&config, &args),
        Command::Briefing { what } => briefing::run(&config, &what),
        Command::Policy { what } => policy::run(&config, &what),
        Command::Notify { what: NotifyCommand::Test(args) } => notify::test(&config, &args),
        Command::Outbox { what } => outbox::run(&config, what),
        Command::Rumour { what: RumourCommand::Train(args) } => rumour::train(&dir, &args),
        Command::Rumour {
            what: RumourCommand::Eval { data, model, json, scores, compare, held_back, min_comments },
        } => {
            let how = rumour::EvalArgs {
                json,
                scores: scores.as_deref(),
                compare: compare.as_deref(),
                held_back,
                min_comments: min_comments.map(usize::from),
            };
            rumour::eval(&config, &data, model.as_deref(), &how)
        }
    }
}

fn plain(d: &Diagnostic) -> String {
    d.to_string().replace('\n', " ")
}

fn summary_line(config: &Config) -> String {
    let enabled = config.enabled_sources().count();
    let rules: usize = config.keyword_lists.iter().map(|l| l.rules.len()).sum();
    let mail = match &config.mail {
        None => "未配置".to_string(),
        Some(m) => match &m.transport {
            crate::notify::MailTransport::Smtp(s) => format!("SMTP {}:{} → {} 个收件人", s.host, s.port, m.to.len()),
            crate::notify::MailTransport::File { outbox_dir } => format!("写入 {}", outbox_dir.display()),
        },
    };
    let mut channels = String::new();
    if let Some(sms) = &config.sms {
        channels.push_str(&format!("；短信：{}", sms.provider.name()));
    }
    if !config.robots.is_empty() {
        let ids: Vec<&str> = config.robots.iter().map(|r| r.id.as_str()).collect();
        channels.push_str(&format!("；机器人：{}", ids.join("、")));
    }
    if !config.response.receivers.is_empty() {
        let ids: Vec<&str> = config.response.receivers.iter().map(|r| r.id.as_str()).collect();
        channels.push_str(&format!("；接收组：{}", ids.join("、")));
    }
    if !config.briefings.is_empty() {
        let ids: Vec<&str> = config.briefings.iter().map(|b| b.id.as_str()).collect();
        channels.push_str(&format!("；简报：{}", ids.join("、")));
    }
    if !config.policies.is_empty() {
        let ids: Vec<&str> = config.policies.iter().map(|p| p.id.as_str()).collect();
        channels.push_str(&format!("；政策风险监测：{}", ids.join("、")));
    }
    format!(
        "配置有效：{} 个信源（{} 个启用），{} 个关键词列表共 {} 条规则；邮件：{}{channels}；数据库：{}",
        config.sources.len(),
        enabled,
        config.keyword_lists.len(),
        rules,
        mail,
        match &config.storage_url {
            Some(url) => format!("PostgreSQL {url}（试验中）"),
            None => config.storage_path.display().to_string(),
        }
    )
}

/// Threads of the blocking pool (tokio's default is 512, and a cold `run --once` started 20
/// of them): store calls (one at a time anyway, behind the store's lock) and parsing, on a
/// machine of a few cores. Each thread's stack and its allocator caches stay resident:
/// 44 → 40 MB peak on the cold benchmark with 8 (BENCHMARKS.md).
const BLOCKING_THREADS: usize = 4;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().max_blocking_threads(BLOCKING_THREADS).enable_all().build()?)
}

/// The store of `[storage]`, for every command that reads or writes it: the SQLite file of
/// `path` (made when missing, its schema migrated), or the PostgreSQL database of `url`
/// (connected and its schema migrated as the daemon does; nothing is made on disk). An
/// unreachable server is an error naming it without its password (exit 2).
pub(super) fn open_store(config: &Config) -> anyhow::Result<Store> {
    match config.storage_url {
        Some(_) => Ok(daemon::open_store(config)?),
        // A damaged file's errors as the store gives them (main adds the recovery hint).
        None => Ok(Store::open(&config.storage_path)?),
    }
}

/// The store when there is one to read, for the commands that work without one: None while
/// the SQLite file has not been made (and none is made); on PostgreSQL the database,
/// connected (a server that cannot be reached is an error, not "no database yet").
pub(super) fn existing_store(config: &Config) -> anyhow::Result<Option<Store>> {
    if config.storage_url.is_none() && !config.storage_path.exists() {
        return Ok(None);
    }
    open_store(config).map(Some)
}

fn run_once(config: Config, only: Option<&str>) -> anyhow::Result<ExitCode> {
    let (tz, has_mail) = (config.timezone, config.mail.is_some());
    let summary = runtime()?.block_on(daemon::run_once(config, only))?;
    print_once_summary(&summary, tz, has_mail);
    Ok(ExitCode::SUCCESS)
}

fn fetch(config: Config, id: &str, dry_run: bool) -> anyhow::Result<ExitCode> {
    let Some(source) = config.source(id).cloned() else {
        let ids: Vec<&str> = config.sources.iter().map(|s| s.id.as_str()).collect();
        eprintln!("没有 id 为 \"{id}\" 的信源。已配置的信源：{}", ids.join("、"));
        return Ok(ExitCode::from(1));
    };
    if !dry_run {
        return run_once(config, Some(id));
    }
    let fetcher = Fetcher::new(&config.fetch)?;
    let matcher = Matcher::with_folding(&config.keyword_lists, config.detection.fold_traditional)?;
    let result = runtime()?.block_on(pipeline::preview(&config, &fetcher, &matcher, &source));
    println!("试抓取：{}（{}）  {}  {}", source.id, source.name, source.kind.as_str(), source.location);
    let preview = match result {
        Ok(p) => p,
        Err(e) => {
            println!("失败：{}", e.describe_zh());
            return Ok(ExitCode::SUCCESS);
        }
    };
    println!(
        "字符集：{}（依据：{}），无法解码的字节 {} 处",
        preview.encoding.name(),
        preview.charset_origin.as_str(),
        preview.malformed
    );
    for (file, until) in &preview.waiting {
        println!(
            "注意：{} 在最近 {} 秒内修改过（settle_secs），可能仍在写入：守护进程要到 {} 之后才读取；试抓取已照常读取",
            file.display(),
            source.settle.as_secs(),
            local(*until, config.timezone)
        );
    }
    println!("共 {} 条：", preview.documents.len());
    if preview.documents.is_empty() && source.html.is_some() {
        println!("  （列表选择器没有匹配到任何条目，请检查 [source.html] 的 item 选择器）");
    }
    for (n, doc) in preview.documents.iter().enumerate() {
        let d = &doc.document;
        let date = d.published_at.map_or_else(|| "无日期".to_string(), |t| local(t, config.timezone));
        println!("  {}. [{date}] {}", n + 1, if d.title.is_empty() { "（无标题）" } else { &d.title });
        if let Some(link) = &d.link {
            println!("     链接：{link}");
        }
        if !d.text.is_empty() {
            println!("     正文：{}", crate::extract::normalize::excerpt(&d.text, None, 60));
        }
        if !doc.hits.is_empty() {
            println!("     命中：{}", doc.terms().join("、"));
        }
    }
    println!("（试运行：未写入数据库，未发送提醒）");
    Ok(ExitCode::SUCCESS)
}

/// `yuqing test match --text …` with its optional title, source id and author.
struct MatchInput {
    text: Option<String>,
    title: String,
    source: Option<String>,
    author: String,
}

fn test_match(config: &Config, input: MatchInput, jsonl: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let MatchInput { text, title, source, author } = input;
    if let Some(id) = &source
        && config.source(id).is_none()
    {
        let ids: Vec<&str> = config.sources.iter().map(|s| s.id.as_str()).collect();
        let known = if ids.is_empty() { "（sources.toml 中还没有信源）".to_string() } else { ids.join("、") };
        eprintln!("未知的信源 \"{id}\"{}；可用（sources.toml 中的 id）：{known}", route::did_you_mean(id, &ids));
        return Ok(ExitCode::from(1));
    }
    let mut analyser = Analyser::new(config)?;
    let store = existing_store(config)?;
    if let Some(store) = &store {
        let official = config.official_source_ids();
        let publications = store.publications(&official, crate::detect::distortion::KEEP)?;
        analyser = analyser.with_publications(crate::detect::distortion::Publications::new(publications));
    }
    if let Some(path) = jsonl {
        return test_match_jsonl(&mut analyser, &path);
    }
    let Some(text) = text else {
        eprintln!("请用 --text \"...\" 给出一段文字，或用 --jsonl 文件");
        return Ok(ExitCode::from(1));
    };
    let source = source.unwrap_or_default();
    let a = analyser.analyse(&Fields { title: &title, text: &text, author: &author, source: &source });
    let hits: Vec<String> = a.hits.iter().map(|h| format!("{}（{}，{}）", h.term, h.list, h.field.as_str())).collect();
    println!("命中：{}", if hits.is_empty() { "无".to_string() } else { hits.join("、") });
    let or_none = |v: Vec<String>| if v.is_empty() { "无".to_string() } else { v.join("、") };
    println!("类别：{}", or_none(a.categories.iter().map(|c| c.label_zh().to_string()).collect()));
    println!("主题：{}", or_none(a.topics.clone()));
    println!(
        "研判：{}",
        if a.flags.is_empty() { "无".to_string() } else { crate::detect::flags::describe_zh(&a.flags) }
    );
    let model_reason = a.rumour_model.as_ref().map(|v| format!("（{}）", v.reason_zh())).unwrap_or_default();
    println!("疑似谣言：{}{model_reason}", if a.rumour { "是" } else { "否" });
    if let Some(why) = &a.to_verify {
        println!("待核实：是（{why}；未达疑似谣言，请人工核实）");
    }
    match &a.negativity {
        Some(n) => println!("负面程度：{:.1}（{}）", n.score, n.drivers.join("、")),
        None => println!("负面程度：0"),
    }
    println!("事件：{}", stored_event(config, store.as_ref(), &a.title, &a.text)?);
    Ok(ExitCode::SUCCESS)
}

/// Which stored, still open event a text would join, in words; the database is only read,
/// and only when it exists.
fn stored_event(config: &Config, store: Option<&Store>, title: &str, text: &str) -> anyhow::Result<String> {
    let Some(store) = store else {
        return Ok("新事件（数据库尚未建立）".into());
    };
    let now = Utc::now();
    let index = store.event_index(config.detection.event_threshold, config.detection.event_window, now)?;
    let document = crate::model::Document {
        source_id: String::new(),
        keys: Vec::new(),
        fingerprint: String::new(),
        link: None,
        guid: None,
        title: title.to_string(),
        text: text.to_string(),
        author: None,
        published_at: None,
        page_state: None,
    };
    Ok(match index.peek(&document, now) {
        Some((id, title, similarity)) => format!("将并入事件 #{id}「{title}」（相似度 {similarity:.2}）"),
        None => "新事件（近期没有相似的事件）".into(),
    })
}

/// One JSON line out per line in; a line that is not a JSON object with `text` is
/// reported on stderr with its number and skipped.
fn test_match_jsonl(analyser: &mut Analyser, path: &std::path::Path) -> anyhow::Result<ExitCode> {
    use std::io::{BufRead, Write};
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("错误：无法读取 {}：请检查 --jsonl 给出的文件路径（{e}）", path.display());
            return Ok(ExitCode::from(1));
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("{}:{}: 不是有效的 JSON：{e}", path.display(), index + 1);
                continue;
            }
        };
        let Some(text) = value.get("text").and_then(serde_json::Value::as_str) else {
            eprintln!("{}:{}: 缺少 text 字段", path.display(), index + 1);
            continue;
        };
        let field = |name: &str| value.get(name).and_then(serde_json::Value::as_str).unwrap_or_default();
        let Some(comments) = crate::rumour::data::comments_of(&value) else {
            eprintln!("{}:{}: comments 应为文本数组", path.display(), index + 1);
            continue;
        };
        let fields = Fields { title: field("title"), text, author: field("author"), source: field("source") };
        let analysis = analyser.analyse_with_comments(&fields, &comments);
        serde_json::to_writer(&mut out, &analysis.to_json())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn print_once_summary(summary: &OnceSummary, tz: Tz, has_mail: bool) {
    println!("信源运行结果：");
    let (mut docs, mut hits, mut alerts, mut failed) = (0, 0, 0, 0);
    for report in &summary.sources {
        println!("  {}", source_line(report));
        if let Ok(o) = &report.outcome {
            docs += o.committed.documents;
            hits += o.committed.hits;
            alerts += o.committed.alerts;
        } else {
            failed += 1;
        }
    }
    println!(
        "合计：{} 个信源，新文档 {docs} 篇，命中 {hits} 处，新提醒 {alerts} 条，出错信源 {failed} 个",
        summary.sources.len()
    );
    match &summary.delivery {
        None if summary.daemon.is_some() => println!(
            "提醒：守护进程（PID {}）正在运行，本次的提醒已写入发件箱，由它发送（避免重复发送）",
            summary.daemon.as_deref().unwrap_or_default()
        ),
        None => println!("提醒：未配置 [mail]、[sms] 或 [[robots]]，未发送提醒"),
        Some(d) if !has_mail => println!("提醒（短信、群机器人）：本次发送成功 {} 条，失败 {} 次", d.sent, d.failed),
        Some(d) => println!("邮件：本次发送成功 {} 封，失败 {} 封", d.sent, d.failed),
    }
    if let Some(d) = &summary.delivery {
        if d.digests > 0 {
            println!("汇总：其中 {} 条提醒合并为 {} 份汇总消息发出（按收件人合并）", d.merged, d.digests);
        }
        if let Some(until) = d.held_until {
            println!(
                "工作时间外：{} 封Ⅲ、Ⅳ级提醒暂缓，将于 {} 发送（[delivery] quiet_hours）",
                d.held,
                local(until, tz)
            );
        }
        if d.dead > 0 {
            println!("死信：{} 封提醒多次投递失败已停止重试（yuqing outbox list --status dead）", d.dead);
        }
        println!("{}", outbox_line(&summary.outbox, tz));
    }
}

fn source_line(report: &SourceReport) -> String {
    let who = format!("{}（{}）", report.source_id, report.source_name);
    match &report.outcome {
        Ok(o) if o.not_modified => format!("[未变化] {who}：服务器返回 304，无新内容"),
        Ok(o) => {
            let mut line = format!(
                "[正常] {who}：条目 {}，新文档 {}，命中 {}，新提醒 {}",
                o.entries, o.committed.documents, o.committed.hits, o.committed.alerts
            );
            if o.malformed_bytes > 0 {
                line.push_str(&format!("（有 {} 处无法解码的字节已替换）", o.malformed_bytes));
            }
            if o.updated_counts > 0 || o.comments > 0 {
                line.push_str(&format!("，互动数更新 {}，新评论 {}", o.updated_counts, o.comments));
            }
            for problem in o.problems.iter().take(5) {
                line.push_str(&format!("\n      跳过：{problem}"));
            }
            if o.problems.len() > 5 {
                line.push_str(&format!("\n      ……另有 {} 处问题，详见日志", o.problems.len() - 5));
            }
            line
        }
        Err(e) => format!("[错误] {who}：{}", e.describe_zh()),
    }
}

fn outbox_line(status: &OutboxStatus, tz: Tz) -> String {
    if status.pending == 0 {
        return "发件箱：没有待发送的提醒".into();
    }
    let mut line = format!("发件箱：{} 条提醒待发送", status.pending);
    if status.failing > 0 {
        line.push_str(&format!("，其中 {} 条发送失败待重试", status.failing));
    }
    if let Some(e) = &status.last_error {
        line.push_str(&format!("；最近错误：{e}"));
    }
    if let Some(t) = status.next_attempt_at {
        line.push_str(&format!("；下次尝试：{}", local(t, tz)));
    }
    line
}

/// A time for staff, to the second, in `tz`.
pub(super) use crate::report::timeline::local;

fn run_forever(config: Config) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    rt.block_on(async {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested; finishing in-flight work");
            let _ = tx.send(true);
        });
        daemon::run_forever(config, rx).await
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the daemon");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn show_hits(config: &Config, limit: usize) -> anyhow::Result<ExitCode> {
    let store = open_store(config)?;
    let rows = store.recent_hits(limit)?;
    if rows.is_empty() {
        println!("暂无命中记录。");
    }
    for row in rows {
        let source = config.source(&row.source_id).map_or(row.source_id.as_str(), |s| s.name.as_str());
        println!("{}  [{}]  {}", local(row.fetched_at, config.timezone), source, row.title);
        println!("    命中：{}", row.terms.join("、"));
        let flags: Vec<Flag> = row
            .flags
            .iter()
            .filter_map(|(kind, reasons)| Some(Flag { kind: FlagKind::from_name(kind)?, reasons: reasons.clone() }))
            .collect();
        if !flags.is_empty() {
            println!("    研判：{}", crate::detect::flags::describe_zh(&flags));
        }
        if let Some(why) = &row.to_verify {
            println!("    待核实：{why}");
        }
        if let Some(link) = &row.link {
            println!("    链接：{link}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show_sources(config: &Config) -> anyhow::Result<ExitCode> {
    let store = open_store(config)?;
    let states = store.source_states()?;
    let tz = config.timezone;
    let never = || "从未".to_string();
    for source in &config.sources {
        let state = states.iter().find(|s| s.source_id == source.id).cloned().unwrap_or_default();
        let status = match (source.enabled, state.consecutive_failures) {
            (false, _) => "已停用",
            (true, 0) if state.last_attempt_at.is_some() => "正常",
            (true, 0) => "未运行",
            (true, _) => "故障",
        };
        println!(
            "[{status}] {}（{}）  {}  计划：{}",
            source.id,
            source.name,
            location_kind(&source.location),
            source.schedule.as_str()
        );
        println!(
            "    上次成功：{}  上次尝试：{}  上次有新内容：{}  连续失败：{} 次  文档：{} 篇",
            state.last_success_at.map_or_else(never, |t| local(t, tz)),
            state.last_attempt_at.map_or_else(never, |t| local(t, tz)),
            state.last_new_at.map_or_else(never, |t| local(t, tz)),
            state.consecutive_failures,
            state.documents
        );
        if state.failing_notified {
            println!("    已就连续失败通知管理员（恢复后会再通知一次）");
        }
        if state.silent_notified {
            println!("    已就长时间没有新内容通知管理员");
        }
        if let (Some(e), Some(at)) = (&state.last_error, state.last_error_at) {
            println!("    最近错误（{}）：{e}", local(at, tz));
        }
    }
    println!("{}", outbox_line(&store.outbox_status()?, tz));
    Ok(ExitCode::SUCCESS)
}

fn location_kind(location: &Location) -> String {
    match location {
        Location::Http(url) => url.to_string(),
        Location::File(path) => format!("文件 {}", path.display()),
    }
}
