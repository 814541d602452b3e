//! Running the pipeline: once over every enabled source (`run --once`), or forever on
//! each source's schedule with bounded concurrency, at most one run per source at a time,
//! an outbox worker delivering alerts, hot reload of the configuration, and a clean stop
//! on SIGTERM/SIGINT.
//!
//! The parts that depend on the configuration (config, HTTP client, matcher, flagger,
//! lexicon, mailer) form one generation, [`Parts`], published on a `watch` channel. A
//! reload (SIGHUP, or a change in the config directory; see [`crate::daemon::reload`]) builds a
//! new generation around the same store, event index and publications and swaps it in at
//! once; a source run in flight keeps its `Arc` to the generation it started with and
//! finishes on it. A broken configuration is never swapped in.
//!
//! Under systemd (`Type=notify`) the daemon says READY once the store is open and the
//! schedule armed, keeps a STATUS line, RELOADING/READY around reloads, STOPPING on SIGTERM,
//! and feeds the watchdog while its scheduler advances and its database answers
//! ([`systemd`], [`Heartbeat`]). Housekeeping (daily pruning, the low-disk notice) is in
//! [`maintenance`].

pub mod console;
pub mod lock;
pub mod maintenance;
pub mod page;
pub mod reload;
pub mod systemd;
pub mod web;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::daemon::web::WebState;
use crate::deliver::{Delivery, DeliveryReport, Senders};
use crate::detect::distortion::Publications;
use crate::detect::events::EventIndex;
use crate::detect::flags::Flagger;
use crate::detect::sentiment::Lexicon;
use crate::fetch::{FetchError, Fetcher};
use crate::matcher::{Matcher, MatcherError};
use crate::notify::{DeliveryError, Mailer};
use crate::pipeline::metrics::Metrics;
use crate::pipeline::{Context, PipelineError, SourceReport, run_source, with_store};
use crate::report::briefing::Sent;
use crate::store::{OutboxStatus, Store, StoreError};
use crate::workflow::links::Linker;

/// Problems that make the daemon itself unusable (as opposed to one source failing).
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot open the database {path}: {source}")]
    Store { path: String, source: StoreError },
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] FetchError),
    #[error(transparent)]
    Matcher(#[from] MatcherError),
    #[error("cannot set up mail delivery: {0}")]
    Mail(#[from] DeliveryError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("cannot set up SMS or IM delivery: {0}")]
    Channel(#[from] crate::channel::ChannelError),
    #[error("cannot listen on {addr} ([http] listen): {source}")]
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Locked(#[from] lock::LockError),
    #[error("cannot use the PostgreSQL store: {0}")]
    Postgres(#[from] crate::store::pg::PgError),
}

impl DaemonError {
    /// The message for staff: what stops the daemon in Chinese, the technical cause after.
    pub fn describe_zh(&self) -> String {
        match self {
            DaemonError::Store { path, source } => format!("无法打开数据库 {path}：{}", source.describe_zh()),
            DaemonError::Http(e) => format!("无法建立抓取用的 HTTP 客户端（检查 [fetch] 的 proxy 等设置）（{e}）"),
            DaemonError::Matcher(e) => format!("关键词表无法编译（{e}）"),
            DaemonError::Mail(e) => format!("无法准备邮件发送（检查 [mail]）（{e}）"),
            DaemonError::Pipeline(e) => e.describe_zh(),
            DaemonError::Channel(e) => format!("无法准备短信或群机器人发送（检查 [sms] 和 [[robots]]）（{e}）"),
            DaemonError::Listen { addr, source } => {
                let why = match source.kind() {
                    std::io::ErrorKind::AddrInUse => "地址已被占用：另一个程序（可能是另一个 yuqing）正在使用这个端口",
                    std::io::ErrorKind::PermissionDenied => "没有权限监听这个端口（1024 以下的端口需要特权）",
                    std::io::ErrorKind::AddrNotAvailable => "本机没有这个地址",
                    _ => "无法监听",
                };
                format!("无法在 {addr} 上提供 HTTP 服务（[http] listen）：{why}（{source}）")
            }
            DaemonError::Locked(e) => e.to_string(),
            DaemonError::Postgres(e) => e.describe_zh(),
        }
    }
}

/// How long a claimed outbox row stays this instance's on PostgreSQL: longer than a batch
/// of a delivery round takes to send (a batch of emails over the mailer's connections, or
/// SMS and robot posts one by one under their timeouts); an instance that dies holding
/// rows leaves them to the others after this.
const OUTBOX_LEASE_SECS: i64 = 300;

/// The daemon's store: the SQLite file of `[storage] path`, or the PostgreSQL database of
/// `[storage] url`, claiming under a lease named for this process.
pub fn open_store(config: &Config) -> Result<Store, DaemonError> {
    match &config.storage_url {
        Some(url) => {
            let lease = crate::store::Lease { owner: instance_name(), secs: OUTBOX_LEASE_SECS };
            let store = Store::connect_postgres(url, lease)?;
            release_dead_holders(&store);
            Ok(store)
        }
        None => Store::open(&config.storage_path)
            .map_err(|source| DaemonError::Store { path: storage_name(config), source }),
    }
}

/// The database as messages name it: the SQLite path, or the PostgreSQL URL without its
/// password.
pub fn storage_name(config: &Config) -> String {
    match &config.storage_url {
        Some(url) => url.to_string(),
        None => config.storage_path.display().to_string(),
    }
}

/// On PostgreSQL: frees what instances of this host that died (killed, crashed) still
/// hold, so their sources and alerts go on now rather than when the leases run out.
fn release_dead_holders(store: &Store) {
    let name = instance_name();
    let host = name.split(':').next().unwrap_or_default().to_string();
    let alive = |pid: u32| std::path::Path::new(&format!("/proc/{pid}")).exists();
    match store.release_dead_holders(&host, &name, alive) {
        Ok(released) if released.is_empty() => {}
        Ok(released) => tracing::info!(holders = %released.join(", "), "released the leases of instances that died"),
        Err(e) => tracing::warn!(error = %e, "cannot release the leases of dead instances; they run out by themselves"),
    }
}

/// This process among the instances sharing a database: host, PID and start time, so a
/// restarted daemon with the same PID is not taken for the old one.
pub fn instance_name() -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let host = match host.trim() {
            "" => "localhost",
            h => h,
        };
        format!("{host}:{}:{}", std::process::id(), Utc::now().timestamp())
    })
    .clone()
}

/// One generation of the configuration-dependent parts. The first is built at start; each
/// successful reload builds the next with [`Parts::rebuild`].
pub struct Parts {
    pub ctx: Arc<Context>,
    pub mailer: Option<Arc<Mailer>>,
    /// SMS and IM robots.
    pub senders: Arc<Senders>,
}

impl Parts {
    pub fn build(config: Config) -> Result<Self, DaemonError> {
        Self::build_with(config, Arc::new(Metrics::new()))
    }

    /// Builds the first generation, counting into `metrics`.
    pub fn build_with(config: Config, metrics: Arc<Metrics>) -> Result<Self, DaemonError> {
        let store_error = |source| DaemonError::Store { path: storage_name(&config), source };
        let mut store = open_store(&config)?;
        let grouped = store.group_commits(crate::store::GroupPolicy::DAEMON);
        // Built from the store on first use: a run that matches nothing never needs it.
        let events = EventIndex::unbuilt(config.detection.event_threshold, config.detection.event_window, Utc::now());
        let publications =
            store.publications(&config.official_source_ids(), crate::detect::distortion::KEEP).map_err(store_error)?;
        let shared = Shared {
            store: Arc::new(Mutex::new(store)),
            events: Arc::new(Mutex::new(events)),
            publications: Arc::new(Mutex::new(Publications::new(publications))),
            metrics,
            unchanged: Arc::default(),
            grouped,
        };
        Self::assemble(config, shared)
    }

    /// The next generation for `config` (already checked by [`crate::daemon::reload::keep_restart_only`]):
    /// new HTTP client, matcher, flagger, lexicon, mailer, SMS/IM senders and link settings around the same
    /// store, event index and publications. The event index is rebuilt from the store (on
    /// its next use) when the detection settings changed, the publications when the official
    /// sources did.
    /// Blocking (builds automata, reads the store): call it on the blocking pool.
    pub fn rebuild(&self, config: Config) -> Result<Self, DaemonError> {
        let old = &self.ctx;
        let store_error = |source| DaemonError::Store { path: storage_name(&config), source };
        {
            let store = old.store.lock().map_err(|_| PipelineError::Poisoned)?;
            let (d, o) = (&config.detection, &old.config.detection);
            if d.event_threshold != o.event_threshold || d.event_window != o.event_window {
                let index = EventIndex::unbuilt(d.event_threshold, d.event_window, Utc::now());
                *old.events.lock().map_err(|_| PipelineError::Poisoned)? = index;
            }
            let official = config.official_source_ids();
            if official != old.config.official_source_ids() {
                let recent = store.publications(&official, crate::detect::distortion::KEEP).map_err(store_error)?;
                *old.publications.lock().map_err(|_| PipelineError::Poisoned)? = Publications::new(recent);
            }
        }
        let shared = Shared {
            store: old.store.clone(),
            events: old.events.clone(),
            publications: old.publications.clone(),
            metrics: old.metrics.clone(),
            unchanged: old.unchanged.clone(),
            grouped: old.grouped.clone(),
        };
        Self::assemble(config, shared)
    }

    /// The configuration-dependent parts for `config` around the long-lived `shared` ones.
    fn assemble(config: Config, shared: Shared) -> Result<Self, DaemonError> {
        let fetcher = Fetcher::new(&config.fetch)?;
        let matcher = Arc::new(Matcher::with_folding(&config.keyword_lists, config.detection.fold_traditional)?);
        let flagger = Arc::new(Flagger::new(&config.cue_lists, config.detection.fold_traditional)?);
        let lexicon = Arc::new(Lexicon::new(&config.lexicon).map_err(MatcherError::from)?);
        let mailer = config.mail.as_ref().map(Mailer::new).transpose()?.map(Arc::new);
        let senders = Arc::new(Senders::build(&config)?);
        let linker = match &config.http {
            Some(http) => {
                let mut store = shared.store.lock().map_err(|_| PipelineError::Poisoned)?;
                let key =
                    store.link_key().map_err(|source| DaemonError::Store { path: storage_name(&config), source })?;
                Some(Linker::new(&key, &http.public_url, http.link_ttl))
            }
            None => None,
        };
        let ctx = Context {
            config: Arc::new(config),
            store: shared.store,
            fetcher,
            matcher,
            flagger,
            lexicon,
            events: shared.events,
            publications: shared.publications,
            linker,
            metrics: shared.metrics,
            unchanged: shared.unchanged,
            grouped: shared.grouped,
        };
        Ok(Self { ctx: Arc::new(ctx), mailer, senders })
    }
}

/// What every generation shares: the store, the event index, the publications, the metrics.
struct Shared {
    store: Arc<Mutex<Store>>,
    events: Arc<Mutex<EventIndex>>,
    publications: Arc<Mutex<Publications>>,
    metrics: Arc<Metrics>,
    unchanged: Arc<crate::pipeline::Unchanged>,
    grouped: Arc<std::sync::atomic::AtomicBool>,
}

/// Called when a configuration reload starts: `RELOADING=1` for systemd. (Formerly the place for the
/// systemd notification (`RELOADING=1` with `MONOTONIC_USEC`, for `Type=notify-reload`).
pub fn on_reload_start() {
    systemd::reloading();
}

/// Called when a configuration reload has ended, `ok` when the new configuration was
/// applied: `READY=1` with a STATUS line saying which.
pub fn on_reload_done(ok: bool) {
    systemd::ready(if ok { "配置已重新加载" } else { "新配置有误，仍按原配置运行" });
}

/// When a loop last showed it was alive. The schedule loop beats at least every
/// [`BEAT_EVERY`], whether or not a source was due; `/healthz` reports the scheduler stuck
/// when the last beat is older than [`crate::daemon::web::SCHEDULER_STALE`]. (The systemd watchdog
/// can feed on the same beat.)
#[derive(Debug)]
pub struct Heartbeat {
    /// Unix seconds of the last beat.
    last: AtomicI64,
}

/// The schedule loop's longest sleep between beats.
pub const BEAT_EVERY: Duration = Duration::from_secs(30);

impl Heartbeat {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self { last: AtomicI64::new(now.timestamp()) }
    }

    pub fn beat(&self, now: DateTime<Utc>) {
        self.last.store(now.timestamp(), Ordering::Relaxed);
    }

    pub fn last(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.last.load(Ordering::Relaxed), 0).unwrap_or_default()
    }
}

/// The result of `run --once`.
#[derive(Debug)]
pub struct OnceSummary {
    pub sources: Vec<SourceReport>,
    /// `None` when mail is not configured.
    pub delivery: Option<DeliveryReport>,
    pub outbox: OutboxStatus,
    /// The PID of a daemon on the same database, which delivers instead of this run.
    pub daemon: Option<String>,
}

/// Runs every enabled source once (bounded concurrency), or only the source `only` (enabled
/// or not), delivering alerts as they are queued.
pub async fn run_once(config: Config, only: Option<&str>) -> Result<OnceSummary, DaemonError> {
    // Building reads the store, which blocks (PostgreSQL's client runs its own runtime).
    let parts = tokio::task::block_in_place(|| Parts::build(config))?;
    let ctx = parts.ctx.clone();
    let wanted: Vec<usize> = ctx
        .config
        .sources
        .iter()
        .enumerate()
        .filter(|(_, s)| only.map_or(s.enabled, |id| s.id == id))
        .map(|(index, _)| index)
        .collect();
    // Alerts go out while the remaining sources are still being fetched: a delivery
    // session runs beside the sources, woken whenever a source queued alerts.
    let wake = Arc::new(Notify::new());
    let (done_tx, done_rx) = watch::channel(false);
    // A daemon on the same database delivers what this run queues: two senders could
    // both pick the same alert.
    // (On PostgreSQL the outbox is claimed row by row: every instance may deliver.)
    let daemon = match ctx.config.storage_url {
        Some(_) => None,
        None => lock::DaemonLock::holder(&ctx.config.storage_path),
    };
    let delivery = (ctx.config.delivers() && daemon.is_none()).then(|| {
        let (store, wake, mailer) = (ctx.store.clone(), wake.clone(), parts.mailer.clone());
        tokio::spawn(deliver_during_run(store, mailer, parts.senders.clone(), ctx.config.clone(), wake, done_rx))
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let flusher = tokio::spawn(flush_groups(ctx.clone(), stop_rx));
    // At most `concurrency` runs are in flight, and a run's task is only created when a
    // slot is free: memory holds `concurrency` run futures, not one per source.
    let mut pending = wanted.into_iter();
    let mut tasks = JoinSet::new();
    let mut reports: Vec<(usize, SourceReport)> = Vec::new();
    loop {
        while tasks.len() < ctx.config.daemon.concurrency {
            let Some(index) = pending.next() else { break };
            let ctx = ctx.clone();
            tasks.spawn(async move { (index, run_source(&ctx, &ctx.config.sources[index]).await) });
        }
        let Some(joined) = tasks.join_next().await else { break };
        match joined {
            Ok(done) => {
                if done.1.outcome.as_ref().is_ok_and(|o| o.committed.alerts > 0) {
                    wake.notify_one();
                }
                reports.push(done);
            }
            Err(e) => tracing::error!(error = %e, "a source task panicked"),
        }
    }
    reports.sort_by_key(|(index, _)| *index);
    let _ = stop_tx.send(true);
    let _ = flusher.await;
    crate::pipeline::flush_unchanged(&ctx).await.map_err(PipelineError::from)?;
    // The policy risk watch reads what this run stored; a rise goes out in the last round.
    match maintenance::watch_policies(&ctx, Utc::now()).await {
        Ok(0) => {}
        Ok(_) => wake.notify_one(),
        Err(e) => tracing::error!(error = %e, "the policy risk watch failed"),
    }
    let _ = done_tx.send(true);
    let delivery = match delivery {
        Some(task) => Some(task.await.map_err(|e| PipelineError::Task(e.to_string()))??),
        None => None,
    };
    let outbox = with_store(&ctx.store, |s| s.outbox_status()).await.map_err(PipelineError::from)?;
    Ok(OnceSummary { sources: reports.into_iter().map(|(_, r)| r).collect(), delivery, outbox, daemon })
}

/// Commits the store's open group of source runs once it is [`crate::store::GroupPolicy`]'s
/// age, when no other store work came to commit it (the last runs of a tick), until `stop`;
/// then commits what is left.
async fn flush_groups(ctx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(FLUSH_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.changed() => true,
        } || *stop.borrow();
        if stopping || ctx.grouped.load(std::sync::atomic::Ordering::Acquire) {
            let store = ctx.store.clone();
            let flushed = tokio::task::spawn_blocking(move || {
                let s = store.lock().map_err(|_| crate::store::StoreError::Poisoned)?;
                if stopping { s.flush() } else { s.flush_due() }
            })
            .await;
            match flushed {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "cannot commit the last source runs; they are fetched again"),
                Err(e) => tracing::error!(error = %e, "the group flusher panicked"),
            }
        }
        if stopping {
            return;
        }
    }
}

/// How often [`flush_groups`] looks for a group past its age.
const FLUSH_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// `run --once`'s delivery: one session (each alert tried at most once) with a round
/// whenever woken, and a last round after every source has finished.
async fn deliver_during_run(
    store: Arc<Mutex<Store>>,
    mailer: Option<Arc<Mailer>>,
    senders: Arc<Senders>,
    config: Arc<Config>,
    wake: Arc<Notify>,
    mut done: watch::Receiver<bool>,
) -> Result<DeliveryReport, PipelineError> {
    let mut session = Delivery::new(&store, mailer.clone(), &senders, true, &config);
    loop {
        let finished = *done.borrow();
        session.round(None).await?;
        if finished {
            return Ok(session.report);
        }
        tokio::select! {
            () = wake.notified() => {}
            _ = done.changed() => {}
        }
    }
}

/// The current generation, as every long-running task sees it.
pub type Live = watch::Receiver<Arc<Parts>>;

/// Runs until `shutdown` becomes true: sources on their schedules, alerts as they come,
/// the configuration reloaded on SIGHUP and when its files change.
pub async fn run_forever(config: Config, shutdown: watch::Receiver<bool>) -> Result<(), DaemonError> {
    // Before anything else: SIGHUP's default action would end the process.
    let hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; only file changes reload the configuration");
            None
        }
    };
    // One daemon per SQLite file, held until the process ends; on PostgreSQL several
    // instances share the database (source leases, outbox claims).
    let _lock = match config.storage_url {
        Some(_) => None,
        None => Some(lock::DaemonLock::acquire(&config.storage_path)?),
    };
    let metrics = Arc::new(Metrics::new());
    let dir = config.dir.clone();
    let parts = Arc::new(tokio::task::block_in_place(|| Parts::build_with(config, metrics.clone()))?);
    metrics.record_reload(true, Utc::now());
    let ctx = parts.ctx.clone();
    let (live_tx, live) = watch::channel(parts);
    let (config_tx, config_rx) = watch::channel(ctx.config.clone());
    let heartbeat = Arc::new(Heartbeat::new(Utc::now()));
    let wake_outbox = Arc::new(Notify::new());
    // Several instances on PostgreSQL: alerts any of them queues wake this one's delivery.
    let listener = ctx.config.storage_url.clone().map(|url| {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (wake, until) = (wake_outbox.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("pg-listen".into())
            .spawn(move || crate::store::pg::listen::listen_outbox(&url, &until, || wake.notify_one()));
        (stop, thread)
    });
    let flusher = tokio::spawn(flush_groups(ctx.clone(), shutdown.clone()));
    let outbox = tokio::spawn(outbox_worker(live.clone(), wake_outbox.clone(), shutdown.clone()));
    let ladder = tokio::spawn(escalation_loop(live.clone(), wake_outbox.clone(), shutdown.clone()));
    let briefings = tokio::spawn(briefings_forever(live.clone(), wake_outbox.clone(), shutdown.clone()));
    let web = match (&ctx.config.http, &ctx.linker) {
        (Some(http), Some(linker)) => {
            let listener = tokio::net::TcpListener::bind(http.listen)
                .await
                .map_err(|source| DaemonError::Listen { addr: http.listen, source })?;
            tracing::info!(addr = %http.listen, public_url = %http.public_url, "http endpoint listening");
            let state = WebState {
                config: config_rx,
                store: ctx.store.clone(),
                key: linker.key.clone(),
                metrics: metrics.clone(),
                heartbeat: heartbeat.clone(),
                console: Default::default(),
                parts: Some(live.clone()),
            };
            Some(tokio::spawn(crate::daemon::web::serve(listener, Arc::new(state), shutdown.clone())))
        }
        _ => None,
    };
    let reloader =
        Reloader { dir, live: live_tx, config: config_tx, metrics, wake_outbox: wake_outbox.clone(), notified: false };
    let reload = tokio::spawn(reloader.run(hangup, shutdown.clone()));
    let housekeeping = tokio::spawn(maintenance::run(live.clone(), wake_outbox.clone(), shutdown.clone()));
    let mut next_due = initial_due_times(&ctx).await?;
    tracing::info!(sources = next_due.len(), "daemon started");
    systemd::ready(&systemd::current_status(&ctx).await.unwrap_or_default());
    let supervisor = tokio::spawn(systemd::supervise(ctx.clone(), heartbeat.clone(), shutdown.clone()));
    drop(ctx);
    let (running, last) = schedule_loop(live, &mut next_due, &wake_outbox, &heartbeat, shutdown.clone()).await;
    systemd::stopping();
    finish(running, last.ctx.config.daemon.shutdown_grace).await;
    if let Err(e) = crate::pipeline::flush_unchanged(&last.ctx).await {
        tracing::error!(error = %e, "cannot record the sources that answered 304");
    }
    // The runs that finished during the grace period, and those 304s, are committed now,
    // not whenever the store is dropped.
    if let Err(e) = with_store(&last.ctx.store, |s| s.flush()).await {
        tracing::error!(error = %e, "cannot commit the last source runs; they are fetched again");
    }
    wake_outbox.notify_one();
    for (name, task) in [
        ("group flusher", flusher),
        ("outbox worker", outbox),
        ("escalation loop", ladder),
        ("briefing loop", briefings),
        ("reloader", reload),
        ("systemd supervisor", supervisor),
        ("housekeeping", housekeeping),
    ] {
        if let Err(e) = task.await {
            tracing::error!(error = %e, "{name} ended abnormally");
        }
    }
    if let Some(Err(e)) = match web {
        Some(task) => Some(task.await),
        None => None,
    } {
        tracing::error!(error = %e, "http endpoint ended abnormally");
    }
    if let Some((stop, thread)) = listener {
        stop.store(true, std::sync::atomic::Ordering::Release);
        match thread {
            Ok(thread) => {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
            Err(e) => tracing::warn!(error = %e, "could not start the PostgreSQL listener; delivery polled"),
        }
    }
    tracing::info!("daemon stopped");
    Ok(())
}

/// Reloads the configuration on SIGHUP and on changes in its directory, one at a time.
struct Reloader {
    dir: PathBuf,
    live: watch::Sender<Arc<Parts>>,
    config: watch::Sender<Arc<Config>>,
    metrics: Arc<Metrics>,
    wake_outbox: Arc<Notify>,
    /// The admin has been told about the current broken configuration: one notice per
    /// broken episode, however often it is retried; cleared by a successful reload.
    notified: bool,
}

impl Reloader {
    async fn run(mut self, mut hangup: Option<tokio::signal::unix::Signal>, mut shutdown: watch::Receiver<bool>) {
        let mut watcher = match crate::daemon::reload::ConfigWatcher::new(&self.dir) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "config directory not watched; reload with SIGHUP (systemctl reload yuqing)");
                None
            }
        };
        loop {
            let hup = async {
                match hangup.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            let changed = async {
                match watcher.as_mut() {
                    Some(w) => w.changed().await,
                    None => std::future::pending().await,
                }
            };
            let files = tokio::select! {
                Some(()) = hup => {
                    tracing::info!("SIGHUP received; reloading the configuration");
                    None
                }
                Some(files) = changed => Some(files),
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        return;
                    }
                    continue;
                }
            };
            if let Some(files) = files {
                let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                tracing::info!(files = %names.join(", "), "configuration files changed; reloading");
            }
            on_reload_start();
            let ok = self.reload().await;
            on_reload_done(ok);
        }
    }

    /// Loads, checks and applies the configuration; `false` when it was not applied.
    async fn reload(&mut self) -> bool {
        let dir = self.dir.clone();
        let loaded = match tokio::task::spawn_blocking(move || Config::load(&dir)).await {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::error!(error = %e, "configuration reload task failed; keeping the running configuration");
                self.metrics.record_reload(false, Utc::now());
                return false;
            }
        };
        let current = self.live.borrow().clone();
        let Some(config) = loaded.config else {
            let errors: Vec<&crate::config::Diagnostic> = loaded.diagnostics.errors().collect();
            for d in &errors {
                tracing::error!(file = %d.file.display(), line = d.line, "{}", crate::daemon::reload::one_line(d));
            }
            tracing::error!(
                errors = errors.len(),
                "configuration reload failed; still running on the previous configuration"
            );
            self.metrics.record_reload(false, Utc::now());
            self.notify_admin(&current, &errors).await;
            return false;
        };
        for d in loaded.diagnostics.warnings() {
            tracing::warn!(file = %d.file.display(), line = d.line, "{}", crate::daemon::reload::one_line(d));
        }
        let (config, restart) = crate::daemon::reload::keep_restart_only(&current.ctx.config, config);
        for r in &restart {
            tracing::warn!(setting = r.setting, "{}", r.describe());
        }
        let changes = describe_changes(&current.ctx.config, &config);
        let built = tokio::task::spawn_blocking(move || current.rebuild(config)).await;
        let parts = match built {
            Ok(Ok(parts)) => Arc::new(parts),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot apply the new configuration; still running on the previous one");
                self.metrics.record_reload(false, Utc::now());
                return false;
            }
            Err(e) => {
                tracing::error!(error = %e, "configuration reload task failed; keeping the running configuration");
                self.metrics.record_reload(false, Utc::now());
                return false;
            }
        };
        self.config.send_replace(parts.ctx.config.clone());
        self.live.send_replace(parts);
        self.metrics.record_reload(true, Utc::now());
        self.notified = false;
        tracing::info!(changes = %changes, needs_restart = restart.len(), "configuration reloaded");
        true
    }

    /// Queues the one notice of this broken episode to the `[mail] admin` addresses.
    async fn notify_admin(&mut self, current: &Parts, errors: &[&crate::config::Diagnostic]) {
        let config = &current.ctx.config;
        let Some(mail) = &config.mail else { return };
        if self.notified {
            return;
        }
        let recipients = mail.admin.iter().map(ToString::to_string).collect();
        let now = Utc::now();
        let message = crate::daemon::reload::render_config_notice(errors, recipients, &self.dir, config.timezone, now);
        match with_store(&current.ctx.store, move |s| s.queue_admin_notice("config_invalid", &message, now)).await {
            Ok(()) => {
                self.notified = true;
                self.wake_outbox.notify_one();
                tracing::info!("configuration error notice queued for the admin");
            }
            Err(e) => tracing::error!(error = %e, "cannot queue the configuration error notice"),
        }
    }
}

/// What a reload changes, in a few words for the log: sources added, removed, changed;
/// keyword lists.
fn describe_changes(old: &Config, new: &Config) -> String {
    let ids = |c: &Config| c.sources.iter().map(|s| s.id.clone()).collect::<HashSet<_>>();
    let (before, after) = (ids(old), ids(new));
    let mut added: Vec<&String> = after.difference(&before).collect();
    let mut removed: Vec<&String> = before.difference(&after).collect();
    added.sort();
    removed.sort();
    let changed =
        new.sources.iter().filter(|s| old.source(&s.id).is_some_and(|o| format!("{o:?}") != format!("{s:?}"))).count();
    let rules = |c: &Config| c.keyword_lists.iter().map(|l| l.rules.len()).sum::<usize>();
    format!(
        "sources +{} -{} ~{} (now {}, {} enabled); keyword rules {} -> {}{}{}",
        added.len(),
        removed.len(),
        changed,
        new.sources.len(),
        new.enabled_sources().count(),
        rules(old),
        rules(new),
        if added.is_empty() { String::new() } else { format!("; added {}", join(&added)) },
        if removed.is_empty() { String::new() } else { format!("; removed {}", join(&removed)) },
    )
}

fn join(ids: &[&String]) -> String {
    ids.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

/// Every minute, queues the escalation reminders that came due and wakes the outbox.
async fn escalation_loop(live: Live, wake_outbox: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let ctx = live.borrow().ctx.clone();
        let config = ctx.config.clone();
        match with_store(&ctx.store, move |s| crate::deliver::escalation::escalate(s, &config, Utc::now())).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(reminders = n, "escalation reminders queued");
                wake_outbox.notify_one();
            }
            Err(e) => tracing::error!(error = %e, "escalation round failed"),
        }
        drop(ctx);
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    return;
                }
            }
        }
    }
}

/// The longest the briefing loop sleeps before looking at the clock again (a suspended or
/// re-set system clock must not delay a briefing by more than this).
const BRIEFING_RECHECK: Duration = Duration::from_secs(60);

/// Queues each `[[briefings]]` entry at its scheduled times and wakes the outbox. At start a
/// briefing whose latest scheduled time passed unlogged (the daemon was down) is caught up
/// once; the log in the store makes each due time go out once across restarts.
/// The briefing loop of the current generation, started again after each reload (its next
/// due times come from the briefing log, so nothing is sent twice).
async fn briefings_forever(mut live: Live, wake_outbox: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let ctx = live.borrow_and_update().ctx.clone();
        let stopped = |s: &watch::Receiver<bool>| *s.borrow();
        tokio::select! {
            () = briefing_loop(ctx, wake_outbox.clone(), shutdown.clone()) => {
                // Nothing to do in this generation (no briefings or no mail): wait for the next.
                if stopped(&shutdown) {
                    return;
                }
                tokio::select! {
                    changed = live.changed() => if changed.is_err() { return },
                    _ = shutdown.changed() => if stopped(&shutdown) { return },
                }
            }
            changed = live.changed() => if changed.is_err() { return },
            _ = shutdown.changed() => if stopped(&shutdown) { return },
        }
    }
}

async fn briefing_loop(ctx: Arc<Context>, wake_outbox: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
    if ctx.config.briefings.is_empty() {
        return;
    }
    let has_mail = ctx.config.mail.is_some();
    if !ctx.config.briefings.iter().any(|b| b.deliverable(has_mail)) {
        tracing::warn!("[[briefings]] configured without [mail] or receiver robots: no briefing will be queued");
        return;
    }
    let tz = ctx.config.timezone;
    let mut next: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(ctx.config.briefings.len());
    for briefing in &ctx.config.briefings {
        if !briefing.deliverable(has_mail) {
            // Without [mail], only briefings to a receiver group's robots go out.
            next.push(None);
            continue;
        }
        let (b, now) = (briefing.clone(), Utc::now());
        let due = with_store(&ctx.store, move |s| b.first_due(now, tz, |t| s.briefing_done(&b.id, t))).await;
        next.push(due.unwrap_or_else(|e| {
            tracing::error!(briefing = %briefing.id, error = %e, "cannot read the briefing log; waiting for the next time");
            briefing.schedule.next_after(Utc::now(), tz)
        }));
    }
    // A failed attempt (say, the database busy) is retried a minute later, for the same due time.
    let mut retry_at: Vec<Option<DateTime<Utc>>> = vec![None; next.len()];
    loop {
        for (index, briefing) in ctx.config.briefings.iter().enumerate() {
            let now = Utc::now();
            let Some(due) = next[index].filter(|due| *due <= now) else { continue };
            if retry_at[index].is_some_and(|t| t > now) {
                continue;
            }
            let (config, b) = (ctx.config.clone(), briefing.clone());
            let sent =
                with_store(&ctx.store, move |s| Ok(crate::report::briefing::send(s, &config, &b, due, Utc::now())))
                    .await;
            let failed = match sent {
                Ok(Ok(Sent::Queued { alert_id, .. })) => {
                    tracing::info!(briefing = %briefing.id, due = %due, alert_id, "briefing queued");
                    wake_outbox.notify_one();
                    None
                }
                Ok(Ok(Sent::Empty)) => {
                    tracing::info!(briefing = %briefing.id, due = %due, "nothing to report; briefing not sent");
                    None
                }
                Ok(Ok(Sent::AlreadyDone)) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            if let Some(error) = failed {
                tracing::error!(briefing = %briefing.id, due = %due, error = %error, "briefing failed; retrying in a minute");
                retry_at[index] = Some(Utc::now() + chrono::Duration::seconds(60));
                continue;
            }
            retry_at[index] = None;
            // Times missed in between are not sent one by one: the next one after now.
            next[index] = briefing.schedule.next_after(due.max(Utc::now()), tz);
        }
        let wake_at =
            next.iter().zip(&retry_at).filter_map(|(due, retry)| due.map(|d| retry.map_or(d, |r| r.max(d)))).min();
        let sleep = wake_at
            .map_or(BRIEFING_RECHECK, |t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .min(BRIEFING_RECHECK);
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    return;
                }
            }
        }
    }
}

/// Each enabled source's first due time (see [`crate::time::schedule::Schedule::first_due`]).
async fn initial_due_times(ctx: &Arc<Context>) -> Result<HashMap<String, DateTime<Utc>>, DaemonError> {
    let mut due = HashMap::new();
    for source in ctx.config.enabled_sources() {
        due.insert(source.id.clone(), first_due(ctx, source).await?);
    }
    Ok(due)
}

async fn first_due(ctx: &Context, source: &crate::config::SourceConfig) -> Result<DateTime<Utc>, PipelineError> {
    let id = source.id.clone();
    let last = with_store(&ctx.store, move |s| s.last_attempt(&id)).await?;
    Ok(source.schedule.first_due(last, Utc::now(), ctx.config.timezone))
}

/// After a reload: sources no longer enabled leave the schedule, new (or newly enabled)
/// ones join it as at start, and those whose schedule (or the timezone) changed get a new
/// due time; the others keep theirs.
async fn apply_schedule(old: &Config, ctx: &Context, next_due: &mut HashMap<String, DateTime<Utc>>) {
    let enabled: HashSet<&str> = ctx.config.enabled_sources().map(|s| s.id.as_str()).collect();
    next_due.retain(|id, _| enabled.contains(id.as_str()));
    for source in ctx.config.enabled_sources() {
        let same = old.source(&source.id).is_some_and(|o| {
            o.enabled && o.schedule.as_str() == source.schedule.as_str() && old.timezone == ctx.config.timezone
        });
        if same && next_due.contains_key(&source.id) {
            continue;
        }
        match first_due(ctx, source).await {
            Ok(at) => {
                tracing::info!(source = %source.id, next = %at, "source scheduled");
                next_due.insert(source.id.clone(), at);
            }
            Err(e) => tracing::error!(source = %source.id, error = %e, "cannot schedule the source"),
        }
    }
}

/// Launches due sources until shutdown, following reloads; returns the runs still in
/// flight and the generation in force at the end.
async fn schedule_loop(
    mut live: Live,
    next_due: &mut HashMap<String, DateTime<Utc>>,
    wake_outbox: &Arc<Notify>,
    heartbeat: &Heartbeat,
    mut shutdown: watch::Receiver<bool>,
) -> (JoinSet<(String, RunResult)>, Arc<Parts>) {
    let mut parts = live.borrow_and_update().clone();
    let mut semaphore = Arc::new(Semaphore::new(parts.ctx.config.daemon.concurrency));
    let mut running: JoinSet<(String, RunResult)> = JoinSet::new();
    // Each running source and the scheduled time (slot) its run is for.
    let mut in_flight: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut failures = initial_failures(&parts.ctx).await;
    let mut launcher = Launcher::default();
    loop {
        let ctx = parts.ctx.clone();
        let now = Utc::now();
        heartbeat.beat(now);
        let mut newly_due = Vec::new();
        let mut still_busy: Vec<&str> = Vec::new();
        for source in ctx.config.enabled_sources() {
            let Some(due) = next_due.get_mut(&source.id) else { continue };
            if *due > now {
                continue;
            }
            let slot = *due;
            // Provisional, until the run ends and `reschedule` counts from its slot: the next
            // scheduled time after both the slot and now, so a run still going at its next
            // slot skips that slot instead of spinning on it.
            *due = source
                .schedule
                .next_after(slot.max(now), ctx.config.timezone)
                .unwrap_or(now + chrono::Duration::days(1));
            if in_flight.contains_key(&source.id) {
                tracing::debug!(source = %source.id, "previous run still in progress; skipping this one");
                still_busy.push(source.id.as_str());
                continue;
            }
            in_flight.insert(source.id.clone(), slot);
            newly_due.push((source.id.clone(), slot));
        }
        // One line per tick, not one per source (a slow cold start leaves thousands waiting).
        if !still_busy.is_empty() {
            tracing::warn!(sources = still_busy.len(), first = %still_busy.iter().take(5).copied().collect::<Vec<_>>().join(", "),
                "{} sources still running or waiting from an earlier time; this time is skipped for them", still_busy.len());
        }
        // Instances sharing a database start their claims at different places in the list,
        // so they seldom contend for the same rows.
        if ctx.config.storage_url.is_some() && !newly_due.is_empty() {
            let at = instance_offset(newly_due.len());
            newly_due.rotate_left(at);
        }
        launcher.waiting.extend(newly_due);
        launcher.launch(&ctx, &semaphore, &mut in_flight, &mut running).await;
        let wake_at = next_due.values().min().copied().unwrap_or(now + chrono::Duration::hours(1));
        let sleep = (wake_at - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(BEAT_EVERY);
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            Some(done) = running.join_next() => {
                if let Ok((id, result)) = done
                    && let Some(slot) = in_flight.remove(&id)
                {
                    reschedule(&ctx, &id, slot, result, &mut failures, next_due);
                }
                // No run left in flight: the 304s queued meanwhile go to the store together.
                if running.is_empty() && launcher.is_empty()
                    && let Err(e) = crate::pipeline::flush_unchanged(&ctx).await
                {
                    tracing::error!(error = %e, "cannot record the sources that answered 304");
                }
                wake_outbox.notify_one();
            }
            Ok(()) = live.changed() => {
                let next = live.borrow_and_update().clone();
                apply_schedule(&parts.ctx.config, &next.ctx, next_due).await;
                if next.ctx.config.daemon.concurrency != parts.ctx.config.daemon.concurrency {
                    // Runs in flight keep their permits of the old semaphore.
                    semaphore = Arc::new(Semaphore::new(next.ctx.config.daemon.concurrency));
                }
                parts = next;
                // A new mailer, or [mail] added: let the outbox look again.
                wake_outbox.notify_one();
            }
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    launcher.release_ready(&parts.ctx).await;
                    return (running, parts);
                }
            }
        }
    }
}

/// At most this many due sources wait leased for a permit (PostgreSQL).
const CLAIM_CHUNK: usize = 64;

/// Due sources on their way to a run, oldest first, all of them in `in_flight` (so a slot
/// that comes round meanwhile is skipped as for a running source): `waiting` for their
/// lease, `ready` leased (PostgreSQL; at once on SQLite) and waiting for a permit. The ready
/// queue is refilled when it runs down to half its target (the concurrency, at most
/// [`CLAIM_CHUNK`]), so one claim statement covers many sources while no lease waits longer
/// than about one run for its permit.
#[derive(Default)]
struct Launcher {
    waiting: VecDeque<(String, DateTime<Utc>)>,
    ready: VecDeque<(String, std::time::Instant)>,
}

impl Launcher {
    fn is_empty(&self) -> bool {
        self.waiting.is_empty() && self.ready.is_empty()
    }

    /// Starts ready sources while permits are free, claiming more as the ready queue runs low.
    async fn launch(
        &mut self,
        ctx: &Arc<Context>,
        semaphore: &Arc<Semaphore>,
        in_flight: &mut HashMap<String, DateTime<Utc>>,
        running: &mut JoinSet<(String, RunResult)>,
    ) {
        let target = ctx.config.daemon.concurrency.clamp(1, CLAIM_CHUNK);
        loop {
            while !self.ready.is_empty()
                && let Ok(permit) = semaphore.clone().try_acquire_owned()
                && let Some((id, claimed)) = self.ready.pop_front()
            {
                start(ctx, permit, &id, claimed, in_flight, running).await;
            }
            let free = semaphore.available_permits();
            if self.waiting.is_empty() || (free == 0 && self.ready.len() > target / 2) {
                return;
            }
            let n = (free + target).saturating_sub(self.ready.len()).clamp(1, self.waiting.len());
            let chunk: Vec<(String, DateTime<Utc>)> = self.waiting.drain(..n).collect();
            // Removed or disabled by a reload while it waited: not claimed.
            let (chunk, gone): (Vec<_>, Vec<_>) =
                chunk.into_iter().partition(|(id, _)| ctx.config.source(id).is_some_and(|s| s.enabled));
            for (id, _) in gone {
                in_flight.remove(&id);
            }
            let granted = claim_slots(ctx, &chunk).await;
            let claimed = std::time::Instant::now();
            for (id, _) in chunk {
                if granted.contains(&id) {
                    self.ready.push_back((id, claimed));
                } else {
                    // Another instance runs this slot: its provisional next due time stands.
                    in_flight.remove(&id);
                }
            }
        }
    }

    /// At shutdown: the leases of sources that never started go back at once.
    async fn release_ready(&mut self, ctx: &Context) {
        for (id, _) in self.ready.drain(..) {
            release_slot(ctx, &id).await;
        }
    }
}

/// Starts the run of a leased source on `permit`. A lease that waited more than a third of
/// its length for the permit is renewed first (PostgreSQL); if it is gone, another instance
/// has the source and nothing starts.
async fn start(
    ctx: &Arc<Context>,
    permit: tokio::sync::OwnedSemaphorePermit,
    id: &str,
    claimed: std::time::Instant,
    in_flight: &mut HashMap<String, DateTime<Utc>>,
    running: &mut JoinSet<(String, RunResult)>,
) {
    let Some(source) = ctx.config.source(id).filter(|s| s.enabled) else {
        in_flight.remove(id);
        release_slot(ctx, id).await;
        return;
    };
    let third = u64::try_from(ctx.config.source_lease_secs() / 3).unwrap_or(0);
    if ctx.config.storage_url.is_some() && claimed.elapsed().as_secs() > third && !renew_slot(ctx, id).await {
        in_flight.remove(id);
        return;
    }
    // The run keeps this generation (its config, matcher, client) until it ends.
    let (ctx, source) = (ctx.clone(), source.clone());
    running.spawn(async move {
        let _permit = permit;
        let Some(report) = run_leased(&ctx, &source).await else {
            return (source.id, RunResult::LeaseLost);
        };
        release_slot(&ctx, &source.id).await;
        (source.id, RunResult::of(&report))
    });
}

/// Extends this instance's lease of `source_id` (PostgreSQL) by `[storage] lease_secs`
/// from now. False only when the lease is gone (it ran out and another instance took the
/// source over); a store error is logged and counts as held, the next renewal tries again.
async fn renew_slot(ctx: &Context, source_id: &str) -> bool {
    let (id, lease_secs) = (source_id.to_string(), ctx.config.source_lease_secs());
    match with_store(&ctx.store, move |s| s.sources().renew(&id, Utc::now(), lease_secs)).await {
        Ok(true) => true,
        Ok(false) => {
            tracing::warn!(source = %source_id, "the source's lease ran out and another instance took it over");
            false
        }
        Err(e) => {
            tracing::warn!(source = %source_id, error = %e, "cannot renew the source's lease; trying again later");
            true
        }
    }
}

/// Runs a leased source. On PostgreSQL the lease is renewed every third of its length while
/// the run lasts (a long page source outlasts any fixed lease); when a renewal finds the
/// lease gone (it ran out and another instance took the source over) the run is dropped at
/// its next await: what it committed stays (each commit is one transaction), nothing more is
/// stored by it, and `None` is returned. A renewal that fails on a store error is retried at
/// the next third.
async fn run_leased(ctx: &Arc<Context>, source: &crate::config::SourceConfig) -> Option<SourceReport> {
    let run = run_source(ctx, source);
    if ctx.config.storage_url.is_none() {
        return Some(run.await);
    }
    let lease_secs = ctx.config.source_lease_secs();
    let every = Duration::from_secs(u64::try_from(lease_secs / 3).unwrap_or(1).max(1));
    let mut renewals = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    renewals.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(run);
    loop {
        tokio::select! {
            report = &mut run => return Some(report),
            _ = renewals.tick() => {
                if !renew_slot(ctx, &source.id).await {
                    tracing::warn!(source = %source.id, "this run stops: another instance has the source");
                    return None;
                }
            }
        }
    }
}

/// Where this instance starts in a list of `len` due sources: a hash of its name.
fn instance_offset(len: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    instance_name().hash(&mut h);
    usize::try_from(h.finish() % (len.max(1) as u64)).unwrap_or(0)
}

/// Leases the runs of `due` (source, slot) on PostgreSQL, where several instances share the
/// sources: the ids granted. All of them on SQLite. A store error grants none: the slots are
/// left to the other instances, or to the next slot.
async fn claim_slots(ctx: &Context, due: &[(String, DateTime<Utc>)]) -> HashSet<String> {
    if ctx.config.storage_url.is_none() {
        return due.iter().map(|(id, _)| id.clone()).collect();
    }
    let lease_secs = ctx.config.source_lease_secs();
    let asked: Vec<crate::store::DueSource> = due
        .iter()
        .map(|(id, slot)| crate::store::DueSource { source_id: id.clone(), slot: *slot, lease_secs })
        .collect();
    let n = asked.len();
    match with_store(&ctx.store, move |s| s.sources().claim(&asked, Utc::now())).await {
        Ok(granted) => {
            if granted.len() < n {
                tracing::debug!(asked = n, granted = granted.len(), "other instances run the rest of these slots");
            }
            granted.into_iter().collect()
        }
        Err(e) => {
            tracing::error!(sources = n, error = %e, "cannot lease the sources' runs; skipping these slots");
            HashSet::new()
        }
    }
}

/// Ends this instance's lease of `source_id` after its run (PostgreSQL): the next slot is
/// free at once for any instance, this one for none.
async fn release_slot(ctx: &Context, source_id: &str) {
    if ctx.config.storage_url.is_none() {
        return;
    }
    let id = source_id.to_string();
    match with_store(&ctx.store, move |s| s.sources().release(&id)).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(source = %source_id, "the source's lease ran out during its run; another instance may have run it too")
        }
        Err(e) => {
            tracing::error!(source = %source_id, error = %e, "cannot release the source's lease; it runs out by itself")
        }
    }
}

/// How a run ended, as far as scheduling cares.
#[derive(Debug, Clone, Copy)]
enum RunResult {
    Success,
    Failure {
        retry_after: Option<Duration>,
    },
    /// The lease ran out during the run and another instance took the source over: the
    /// provisional next due time stands.
    LeaseLost,
}

impl RunResult {
    fn of(report: &SourceReport) -> Self {
        match &report.outcome {
            Ok(_) => RunResult::Success,
            Err(PipelineError::Fetch(FetchError::Status { retry_after, .. })) => {
                RunResult::Failure { retry_after: *retry_after }
            }
            Err(_) => RunResult::Failure { retry_after: None },
        }
    }
}

/// Each source's consecutive failures as stored (so backoff survives a restart).
async fn initial_failures(ctx: &Arc<Context>) -> HashMap<String, u32> {
    match with_store(&ctx.store, |s| s.source_states()).await {
        Ok(states) => states.into_iter().map(|s| (s.source_id, s.consecutive_failures)).collect(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read source states; starting without backoff");
            HashMap::new()
        }
    }
}

/// After the run for `slot`: count failures and set the next due time (schedule, backoff,
/// Retry-After), counted from the slot so that each due time gets one run.
fn reschedule(
    ctx: &Context,
    id: &str,
    slot: DateTime<Utc>,
    result: RunResult,
    failures: &mut HashMap<String, u32>,
    next_due: &mut HashMap<String, DateTime<Utc>>,
) {
    // Removed or disabled by a reload while it ran: it is no longer scheduled.
    let Some(source) = ctx.config.source(id).filter(|s| s.enabled) else { return };
    let count = failures.entry(id.to_string()).or_default();
    let retry_after = match result {
        RunResult::LeaseLost => return,
        RunResult::Success => {
            *count = 0;
            None
        }
        RunResult::Failure { retry_after } => {
            *count = count.saturating_add(1);
            retry_after
        }
    };
    if let Some(at) = source.schedule.next_run(slot, Utc::now(), ctx.config.timezone, *count, retry_after) {
        if *count >= 2 || retry_after.is_some() {
            tracing::info!(source = %id, consecutive_failures = *count, next = %at, "source backing off");
        }
        next_due.insert(id.to_string(), at);
    }
}

/// Waits for in-flight runs up to `grace`, then abandons them. Their writes are single
/// transactions, so an abandoned run leaves nothing half-stored.
async fn finish(mut running: JoinSet<(String, RunResult)>, grace: Duration) {
    if running.is_empty() {
        return;
    }
    tracing::info!(in_flight = running.len(), "waiting for running sources to finish");
    let drained = tokio::time::timeout(grace, async { while running.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(abandoned = running.len(), "grace period over; abandoning unfinished source runs");
        running.abort_all();
        while running.join_next().await.is_some() {}
    }
}

/// Delivers the outbox with the current generation's mailer; waits for a reload while
/// `[mail]` is not configured.
async fn outbox_worker(mut live: Live, wake: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
    let idle = Duration::from_secs(60);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let parts = live.borrow_and_update().clone();
        let (store, config, senders) = (parts.ctx.store.clone(), parts.ctx.config.clone(), parts.senders.clone());
        let mailer = parts.mailer.clone();
        drop(parts);
        if !config.delivers() {
            tokio::select! {
                Ok(()) = live.changed() => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        let retry = config.mail.as_ref().map(|m| m.retry_policy()).unwrap_or_default().initial;
        let mut round = Delivery::new(&store, mailer.clone(), &senders, false, &config);
        let wait = match round.round(Some(&shutdown)).await.map(|()| round.report) {
            Ok(report) if report.stopped_early => retry,
            Ok(_) => match with_store(&store, |s| s.outbox_status()).await {
                Ok(status) => status
                    .next_attempt_at
                    .map_or(idle, |t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(idle)),
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the outbox");
                    idle
                }
            },
            Err(e) => {
                tracing::error!(error = %e, "outbox delivery round failed");
                retry
            }
        };
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait.max(Duration::from_millis(200))) => {}
            _ = shutdown.changed() => {}
        }
    }
}
