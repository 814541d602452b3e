//! The scheduler's heartbeat: the schedule loop beats on every turn (it turns at least every
//! [`super::SCHEDULER_TICK`]), and whoever needs to know whether the daemon is still making
//! progress — the systemd watchdog, a health endpoint, metrics — reads how long ago the last
//! beat was. Cheap to clone and share; lock-free.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Shared "the scheduler advanced at T" marker.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The process-local origin of the monotonic clock readings below.
    origin: Instant,
    /// Milliseconds after `origin` of the last beat, plus one; 0 = never.
    last: AtomicU64,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self::new()
    }
}

impl Heartbeat {
    pub fn new() -> Self {
        Self { inner: Arc::new(Inner { origin: Instant::now(), last: AtomicU64::new(0) }) }
    }

    /// The scheduler made a turn now.
    pub fn beat(&self) {
        self.beat_at(Instant::now());
    }

    fn beat_at(&self, at: Instant) {
        let millis = u64::try_from(at.saturating_duration_since(self.inner.origin).as_millis()).unwrap_or(u64::MAX);
        self.inner.last.fetch_max(millis.saturating_add(1), Ordering::Relaxed);
    }

    /// When the scheduler last made a turn; `None` before its first.
    pub fn last(&self) -> Option<Instant> {
        match self.inner.last.load(Ordering::Relaxed) {
            0 => None,
            n => Some(self.inner.origin + Duration::from_millis(n - 1)),
        }
    }

    /// Whether the scheduler made a turn within `max_age` before `now`.
    pub fn fresh(&self, max_age: Duration, now: Instant) -> bool {
        self.last().is_some_and(|t| now.saturating_duration_since(t) <= max_age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_only_after_a_recent_beat() {
        let hb = Heartbeat::new();
        let t0 = Instant::now();
        assert_eq!(hb.last(), None);
        assert!(!hb.fresh(Duration::from_secs(60), t0));
        hb.beat_at(t0);
        let shared = hb.clone();
        // (Beats are kept to the millisecond.)
        assert!(shared.fresh(Duration::from_secs(10), t0 + Duration::from_millis(9_990)));
        assert!(!shared.fresh(Duration::from_secs(10), t0 + Duration::from_secs(11)), "a stalled scheduler is stale");
        // A late reading of an older instant never moves the beat back.
        shared.beat_at(t0 + Duration::from_secs(20));
        hb.beat_at(t0 + Duration::from_secs(5));
        assert!(hb.fresh(Duration::from_secs(1), t0 + Duration::from_millis(20_500)));
    }
}
