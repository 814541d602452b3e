//! LISTEN/NOTIFY: instances on one database wake each other's delivery instead of waiting
//! for their next poll. Every statement that inserts alerts notifies `yuqing_outbox` (a
//! trigger, `pg::migrations` step 5: once per transaction, on commit, whatever instance or
//! command queued them); each daemon keeps one more connection that listens and wakes its
//! outbox worker. A lost connection is reopened with a growing pause; meanwhile the
//! worker's own timer (at most a minute) still runs the outbox, so nothing waits forever.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;

use super::PgUrl;

/// The channel the alerts trigger notifies.
pub const OUTBOX_CHANNEL: &str = "yuqing_outbox";

/// Listens on [`OUTBOX_CHANNEL`] and calls `wake` for each notification until `stop` is
/// set (looked at least every second). Blocking: run it on a thread of its own.
pub fn listen_outbox(url: &PgUrl, stop: &Arc<AtomicBool>, wake: impl Fn()) {
    let mut pause = Duration::from_secs(1);
    while !stop.load(Ordering::Acquire) {
        match listen_once(url, stop, &wake) {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, retry_in_s = pause.as_secs(), "lost the PostgreSQL listener; delivery polls meanwhile");
                // Wake once: what was notified while the connection was down is not lost.
                wake();
                let until = std::time::Instant::now() + pause;
                while std::time::Instant::now() < until && !stop.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(200));
                }
                pause = (pause * 2).min(Duration::from_secs(60));
            }
        }
    }
}

fn listen_once(url: &PgUrl, stop: &Arc<AtomicBool>, wake: &impl Fn()) -> Result<(), super::PgError> {
    let mut client = url.connect()?;
    client.batch_execute(&format!("LISTEN {OUTBOX_CHANNEL}"))?;
    tracing::debug!("listening for queued alerts on PostgreSQL");
    while !stop.load(Ordering::Acquire) {
        // One notification, or a second without one (to look at `stop`).
        let next = client.notifications().timeout_iter(Duration::from_secs(1)).next()?;
        if next.is_some_and(|n| n.channel() == OUTBOX_CHANNEL) {
            wake();
        }
        // A closed connection answers at once with nothing: reopen it.
        if client.is_closed() {
            return Err(super::PgError::Store(crate::store::StoreError::Task(
                "the listening connection was closed".into(),
            )));
        }
    }
    Ok(())
}
