//! Running the pipeline: once over every enabled source (`run --once`), or forever on
//! each source's schedule with bounded concurrency, at most one run per source at a time,
//! an outbox worker delivering alerts, and a clean stop on SIGTERM/SIGINT.
//!
//! Long-lived parts (store, HTTP client, matcher, mailer) are built once in [`Parts`].
//!
//! Under systemd (`Type=notify`) the daemon says READY once the store is open and the
//! schedule armed, keeps a STATUS line, says STOPPING on SIGTERM and feeds the watchdog
//! while its scheduler advances and its database answers ([`systemd`], [`Heartbeat`]).
//! Housekeeping (daily pruning, the low-disk notice) is in [`maintenance`].

mod heartbeat;
pub mod maintenance;
pub mod systemd;

pub use heartbeat::Heartbeat;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::delivery::{Delivery, DeliveryReport};
use crate::distortion::Publications;
use crate::fetch::{FetchError, Fetcher};
use crate::flags::Flagger;
use crate::links::Linker;
use crate::matcher::{Matcher, MatcherError};
use crate::notify::{DeliveryError, Mailer};
use crate::pipeline::{Context, PipelineError, SourceReport, run_source, with_store};
use crate::sentiment::Lexicon;
use crate::store::{OutboxStatus, Store, StoreError};
use crate::web::WebState;

/// The schedule loop makes a turn (and beats the [`Heartbeat`]) at least this often, even
/// when no source is due for hours; shorter when the watchdog interval asks for it.
pub const SCHEDULER_TICK: Duration = Duration::from_secs(5);

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
    #[error("cannot listen on {addr} ([http] listen): {source}")]
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
}

/// The long-lived parts, built once per process.
pub struct Parts {
    pub ctx: Arc<Context>,
    pub mailer: Option<Arc<Mailer>>,
}

impl Parts {
    pub fn build(config: Config) -> Result<Self, DaemonError> {
        let mut store = Store::open(&config.storage_path)
            .map_err(|source| DaemonError::Store { path: config.storage_path.display().to_string(), source })?;
        let events = store
            .event_index(config.detection.event_threshold, config.detection.event_window, chrono::Utc::now())
            .map_err(|source| DaemonError::Store { path: config.storage_path.display().to_string(), source })?;
        let official = config.official_source_ids();
        let publications = store
            .publications(&official, crate::distortion::KEEP)
            .map_err(|source| DaemonError::Store { path: config.storage_path.display().to_string(), source })?;
        let fetcher = Fetcher::new(&config.fetch)?;
        let matcher = Arc::new(Matcher::with_folding(&config.keyword_lists, config.detection.fold_traditional)?);
        let flagger = Arc::new(Flagger::new(&config.cue_lists, config.detection.fold_traditional)?);
        let lexicon = Arc::new(Lexicon::new(&config.lexicon).map_err(MatcherError::from)?);
        let mailer = config.mail.as_ref().map(Mailer::new).transpose()?.map(Arc::new);
        let linker = match &config.http {
            Some(http) => Some(Linker::new(
                &store
                    .link_key()
                    .map_err(|source| DaemonError::Store { path: config.storage_path.display().to_string(), source })?,
                http,
            )),
            None => None,
        };
        let ctx = Context {
            config: Arc::new(config),
            store: Arc::new(Mutex::new(store)),
            fetcher,
            matcher,
            flagger,
            lexicon,
            events: Arc::new(Mutex::new(events)),
            publications: Arc::new(Mutex::new(Publications::new(publications))),
            linker,
        };
        Ok(Self { ctx: Arc::new(ctx), mailer })
    }
}

/// The result of `run --once`.
#[derive(Debug)]
pub struct OnceSummary {
    pub sources: Vec<SourceReport>,
    /// `None` when mail is not configured.
    pub delivery: Option<DeliveryReport>,
    pub outbox: OutboxStatus,
}

/// Runs every enabled source once (bounded concurrency), or only the source `only` (enabled
/// or not), delivering alerts as they are queued.
pub async fn run_once(config: Config, only: Option<&str>) -> Result<OnceSummary, DaemonError> {
    let parts = Parts::build(config)?;
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
    let delivery = parts.mailer.clone().map(|mailer| {
        let (store, wake) = (ctx.store.clone(), wake.clone());
        tokio::spawn(deliver_during_run(store, mailer, wake, done_rx))
    });
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
    let _ = done_tx.send(true);
    let delivery = match delivery {
        Some(task) => Some(task.await.map_err(|e| PipelineError::Task(e.to_string()))??),
        None => None,
    };
    let outbox = with_store(&ctx.store, |s| s.outbox_status()).await?;
    Ok(OnceSummary { sources: reports.into_iter().map(|(_, r)| r).collect(), delivery, outbox })
}

/// `run --once`'s delivery: one session (each alert tried at most once) with a round
/// whenever woken, and a last round after every source has finished.
async fn deliver_during_run(
    store: Arc<Mutex<Store>>,
    mailer: Arc<Mailer>,
    wake: Arc<Notify>,
    mut done: watch::Receiver<bool>,
) -> Result<DeliveryReport, PipelineError> {
    let mut session = Delivery::new(&store, &mailer, true);
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

/// Runs until `shutdown` becomes true: sources on their schedules, alerts as they come.
pub async fn run_forever(config: Config, shutdown: watch::Receiver<bool>) -> Result<(), DaemonError> {
    let parts = Parts::build(config)?;
    let ctx = parts.ctx.clone();
    let wake_outbox = Arc::new(Notify::new());
    let outbox = parts
        .mailer
        .clone()
        .map(|mailer| tokio::spawn(outbox_worker(ctx.store.clone(), mailer, wake_outbox.clone(), shutdown.clone())));
    let ladder = tokio::spawn(escalation_loop(ctx.clone(), wake_outbox.clone(), shutdown.clone()));
    let web = match (&ctx.config.http, &ctx.linker) {
        (Some(http), Some(linker)) => {
            let listener = tokio::net::TcpListener::bind(http.listen)
                .await
                .map_err(|source| DaemonError::Listen { addr: http.listen, source })?;
            tracing::info!(addr = %http.listen, public_url = %http.public_url, "http endpoint listening");
            let state = WebState { config: ctx.config.clone(), store: ctx.store.clone(), key: linker.key.clone() };
            Some(tokio::spawn(crate::web::serve(listener, Arc::new(state), shutdown.clone())))
        }
        _ => None,
    };
    let housekeeping = tokio::spawn(maintenance::run(ctx.clone(), wake_outbox.clone(), shutdown.clone()));
    let mut next_due = initial_due_times(&ctx).await?;
    tracing::info!(sources = next_due.len(), "daemon started");
    let heartbeat = Heartbeat::new();
    heartbeat.beat();
    systemd::ready(&systemd::current_status(&ctx).await.unwrap_or_default());
    let supervisor = tokio::spawn(systemd::supervise(ctx.clone(), heartbeat.clone(), shutdown.clone()));
    let tick = systemd::watchdog_interval().map_or(SCHEDULER_TICK, |w| (w / 4).min(SCHEDULER_TICK));
    let running = schedule_loop(&ctx, &mut next_due, &wake_outbox, &heartbeat, tick, shutdown.clone()).await;
    systemd::stopping();
    finish(running, ctx.config.daemon.shutdown_grace).await;
    for (name, task) in [("systemd supervisor", supervisor), ("housekeeping", housekeeping)] {
        if let Err(e) = task.await {
            tracing::error!(error = %e, task = name, "task ended abnormally");
        }
    }
    if let Some(worker) = outbox {
        wake_outbox.notify_one();
        if let Err(e) = worker.await {
            tracing::error!(error = %e, "outbox worker ended abnormally");
        }
    }
    if let Err(e) = ladder.await {
        tracing::error!(error = %e, "escalation loop ended abnormally");
    }
    if let Some(Err(e)) = match web {
        Some(task) => Some(task.await),
        None => None,
    } {
        tracing::error!(error = %e, "http endpoint ended abnormally");
    }
    tracing::info!("daemon stopped");
    Ok(())
}

/// Every minute, queues the escalation reminders that came due and wakes the outbox.
async fn escalation_loop(ctx: Arc<Context>, wake_outbox: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let config = ctx.config.clone();
        match with_store(&ctx.store, move |s| crate::escalation::escalate(s, &config, Utc::now())).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(reminders = n, "escalation reminders queued");
                wake_outbox.notify_one();
            }
            Err(e) => tracing::error!(error = %e, "escalation round failed"),
        }
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

/// Each enabled source's first due time (see [`crate::schedule::Schedule::first_due`]).
async fn initial_due_times(ctx: &Arc<Context>) -> Result<HashMap<String, DateTime<Utc>>, DaemonError> {
    let now = Utc::now();
    let mut due = HashMap::new();
    for source in ctx.config.enabled_sources() {
        let id = source.id.clone();
        let last = with_store(&ctx.store, move |s| s.last_attempt(&id)).await?;
        due.insert(source.id.clone(), source.schedule.first_due(last, now, ctx.config.timezone));
    }
    Ok(due)
}

/// Launches due sources until shutdown; returns the runs still in flight.
async fn schedule_loop(
    ctx: &Arc<Context>,
    next_due: &mut HashMap<String, DateTime<Utc>>,
    wake_outbox: &Arc<Notify>,
    heartbeat: &Heartbeat,
    tick: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinSet<(String, RunResult)> {
    let semaphore = Arc::new(Semaphore::new(ctx.config.daemon.concurrency));
    let mut running: JoinSet<(String, RunResult)> = JoinSet::new();
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut failures = initial_failures(ctx).await;
    loop {
        heartbeat.beat();
        let now = Utc::now();
        for source in ctx.config.enabled_sources() {
            let Some(due) = next_due.get_mut(&source.id) else { continue };
            if *due > now {
                continue;
            }
            *due = source.schedule.next_after(now, ctx.config.timezone).unwrap_or(now + chrono::Duration::days(1));
            if !in_flight.insert(source.id.clone()) {
                tracing::warn!(source = %source.id, "previous run still in progress; skipping this one");
                continue;
            }
            let (ctx, semaphore, source) = (ctx.clone(), semaphore.clone(), source.clone());
            running.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                let report = run_source(&ctx, &source).await;
                (source.id, RunResult::of(&report))
            });
        }
        let wake_at = next_due.values().min().copied().unwrap_or(now + chrono::Duration::hours(1));
        let sleep = (wake_at - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(tick);
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            Some(done) = running.join_next() => {
                if let Ok((id, result)) = done {
                    in_flight.remove(&id);
                    reschedule(ctx, &id, result, &mut failures, next_due);
                }
                wake_outbox.notify_one();
            }
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    return running;
                }
            }
        }
    }
}

/// How a run ended, as far as scheduling cares.
#[derive(Debug, Clone, Copy)]
enum RunResult {
    Success,
    Failure { retry_after: Option<Duration> },
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

/// After a run: count failures and set the next due time (schedule, backoff, Retry-After).
fn reschedule(
    ctx: &Context,
    id: &str,
    result: RunResult,
    failures: &mut HashMap<String, u32>,
    next_due: &mut HashMap<String, DateTime<Utc>>,
) {
    let Some(source) = ctx.config.source(id) else { return };
    let count = failures.entry(id.to_string()).or_default();
    let retry_after = match result {
        RunResult::Success => {
            *count = 0;
            None
        }
        RunResult::Failure { retry_after } => {
            *count = count.saturating_add(1);
            retry_after
        }
    };
    if let Some(at) = source.schedule.next_run(Utc::now(), ctx.config.timezone, *count, retry_after) {
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

async fn outbox_worker(
    store: Arc<Mutex<Store>>,
    mailer: Arc<Mailer>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let idle = Duration::from_secs(60);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let mut round = Delivery::new(&store, &mailer, false);
        let wait = match round.round(Some(&shutdown)).await.map(|()| round.report) {
            Ok(report) if report.stopped_early => mailer.settings().retry_initial,
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
                mailer.settings().retry_initial
            }
        };
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait.max(Duration::from_millis(200))) => {}
            _ = shutdown.changed() => {}
        }
    }
}
