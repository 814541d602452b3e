//! The daemon's housekeeping: once a day, prune what `[retention]` no longer keeps; every few
//! minutes, measure the disk and give the admin one notice when free space falls below
//! `[retention] min_free_mb` (once per episode: the flag clears when space is back), and pass
//! over the `[[policies]]` risk watch (a rise of a policy's level is told to its section).
//!
//! Pruning goes in small batches through the daemon's one connection, so the watchdog's
//! database ping and the source runs never wait long behind it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};

use crate::notify::{DiskNotice, render_disk_notice};
use crate::pipeline::{Context, PipelineError, with_store};
use crate::store::PruneReport;
use crate::store::disk::DiskUsage;

/// How often the disk is measured, the policies watched and the prune clock looked at.
const CHECK_EVERY: Duration = Duration::from_secs(600);
/// Documents removed per transaction.
const PRUNE_BATCH: usize = 2000;
/// Time between prunes.
const PRUNE_EVERY: chrono::Duration = chrono::Duration::hours(24);

/// Runs housekeeping until shutdown, each pass on the latest configuration (a reload changes
/// the policies watched and the retention); wakes the outbox when a notice was queued.
pub async fn run(
    live: watch::Receiver<Arc<super::Parts>>,
    wake_outbox: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let ctx = live.borrow().ctx.clone();
        let now = Utc::now();
        match check_disk(&ctx, now).await {
            Ok(true) => wake_outbox.notify_one(),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "disk check failed"),
        }
        match watch_policies(&ctx, now).await {
            Ok(0) => {}
            Ok(_) => wake_outbox.notify_one(),
            Err(e) => tracing::error!(error = %e, "the policy risk watch failed; will try again later"),
        }
        if let Err(e) = prune_if_due(&ctx, now, &shutdown).await {
            tracing::error!(error = %e, "pruning old data failed; will try again later");
        }
        tokio::select! {
            () = tokio::time::sleep(CHECK_EVERY) => {}
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    return;
                }
            }
        }
    }
}

/// Measures the disk; queues the low-disk notice when due. `true` when a notice was queued.
pub async fn check_disk(ctx: &Arc<Context>, now: DateTime<Utc>) -> Result<bool, PipelineError> {
    // The PostgreSQL server's disk is its own administrators' to watch (and not on this host).
    if ctx.config.storage_url.is_some() {
        return Ok(false);
    }
    let path = ctx.config.storage_path.clone();
    let usage: DiskUsage = match tokio::task::spawn_blocking(move || crate::store::disk::usage(&path)).await {
        Ok(Ok(usage)) => usage,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot measure free disk space");
            return Ok(false);
        }
        Err(e) => return Err(PipelineError::Task(e.to_string())),
    };
    let min_free_mb = ctx.config.retention.min_free_mb;
    if !usage.is_low(min_free_mb) {
        if with_store(&ctx.store, |s| s.clear_disk_low()).await? {
            tracing::info!(available = usage.available, "free disk space is above the threshold again");
        }
        return Ok(false);
    }
    tracing::warn!(available = usage.available, min_free_mb, "free disk space is below the threshold");
    let Some(mail) = &ctx.config.mail else { return Ok(false) };
    let database = ctx.config.storage_path.clone();
    let message = render_disk_notice(&DiskNotice {
        database: &database,
        usage,
        min_free_mb,
        recipients: mail.admin.iter().map(ToString::to_string).collect(),
    });
    let queued = with_store(&ctx.store, move |s| s.notify_disk_low(&message, now)).await?;
    if queued {
        tracing::info!("low disk space notice queued");
    }
    Ok(queued)
}

/// One pass of the policy risk watch on the blocking pool (the store locked per batch);
/// the number of notices queued.
pub async fn watch_policies(ctx: &Arc<Context>, now: DateTime<Utc>) -> Result<usize, PipelineError> {
    if ctx.config.policies.is_empty() {
        return Ok(0);
    }
    let (store, config) = (ctx.store.clone(), ctx.config.clone());
    let outcome = tokio::task::spawn_blocking(move || crate::pipeline::policy::watch(&store, &config, now))
        .await
        .map_err(|e| PipelineError::Task(e.to_string()))?
        .map_err(|e| PipelineError::Task(e.describe_zh()))?;
    for (policy, level, told) in &outcome.changed {
        tracing::info!(policy = %policy, level = level.as_str(), notice = told, "policy risk level changed");
    }
    Ok(outcome.notices())
}

/// Prunes in batches when the last prune is a day old (or never ran).
async fn prune_if_due(
    ctx: &Arc<Context>,
    now: DateTime<Utc>,
    shutdown: &watch::Receiver<bool>,
) -> Result<(), PipelineError> {
    let last = with_store(&ctx.store, |s| s.last_prune_at()).await?;
    if last.is_some_and(|t| now - t < PRUNE_EVERY) {
        return Ok(());
    }
    let retention = ctx.config.retention.retention();
    let mut total = PruneReport::default();
    loop {
        let batch = with_store(&ctx.store, move |s| s.prune(retention, now, Some(PRUNE_BATCH), false)).await?;
        add(&mut total, &batch);
        if batch.documents < PRUNE_BATCH || *shutdown.borrow() {
            break;
        }
        tokio::task::yield_now().await;
    }
    tracing::info!(
        documents = total.documents,
        events = total.events,
        alerts = total.alerts,
        keys_kept = total.keys_kept,
        "pruned data past its retention"
    );
    Ok(())
}

fn add(total: &mut PruneReport, batch: &PruneReport) {
    total.documents += batch.documents;
    total.hits += batch.hits;
    total.events += batch.events;
    total.actions += batch.actions;
    total.alerts += batch.alerts;
    total.comments += batch.comments;
    total.keys_kept += batch.keys_kept;
}
