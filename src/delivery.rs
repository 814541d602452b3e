//! The outbox loop: take due alerts from the store, send each through the mailer, record
//! success or failure (with exponential backoff). Alerts leave the outbox only after a
//! successful send, so an SMTP outage or a crash loses nothing.

use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::watch;

use crate::notify::Mailer;
use crate::pipeline::{PipelineError, with_store};
use crate::store::Store;

/// After this many failures in a row, a round stops: the server is likely down, and the
/// remaining alerts wait for the next round instead of each waiting for a timeout.
const BREAKER: usize = 3;
const BATCH: usize = 200;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub failed: usize,
    pub last_error: Option<String>,
    /// The round stopped after repeated failures, leaving due alerts for later.
    pub stopped_early: bool,
}

/// Delivers due alerts until none is due, the breaker trips, or shutdown is signalled.
/// `flush` ignores backoff and tries every pending alert once (`yuqing run --once`).
pub async fn deliver_due(
    store: &Arc<Mutex<Store>>,
    mailer: &Mailer,
    flush: bool,
    shutdown: Option<&watch::Receiver<bool>>,
) -> Result<DeliveryReport, PipelineError> {
    let mut report = DeliveryReport::default();
    let mut failures_in_a_row = 0;
    let mut last_id = 0;
    loop {
        let now = Utc::now();
        let due = with_store(store, move |s| s.due_alerts((!flush).then_some(now), BATCH)).await?;
        // In flush mode failed alerts stay due; never try one twice in a round.
        let due: Vec<_> = due.into_iter().filter(|a| a.id > last_id).collect();
        if due.is_empty() {
            return Ok(report);
        }
        for alert in due {
            if shutdown.is_some_and(|rx| *rx.borrow()) {
                return Ok(report);
            }
            last_id = alert.id;
            let result = mailer.send(&alert).await;
            let now = Utc::now();
            match result {
                Ok(()) => {
                    with_store(store, move |s| s.mark_sent(alert.id, now)).await?;
                    tracing::info!(alert = alert.id, subject = %alert.message.subject, "alert delivered");
                    report.sent += 1;
                    failures_in_a_row = 0;
                }
                Err(e) => {
                    let message = e.to_string();
                    let retry_at = now + mailer.settings().retry_delay(alert.attempts + 1);
                    tracing::warn!(alert = alert.id, attempt = alert.attempts + 1, error = %message, retry_at = %retry_at,
                        "alert delivery failed; will retry");
                    let stored = message.clone();
                    with_store(store, move |s| s.mark_failed(alert.id, &stored, retry_at)).await?;
                    report.failed += 1;
                    report.last_error = Some(message);
                    failures_in_a_row += 1;
                    if failures_in_a_row >= BREAKER {
                        report.stopped_early = true;
                        return Ok(report);
                    }
                }
            }
        }
    }
}
