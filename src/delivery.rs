//! The outbox loop: take due alerts from the store, send each through the mailer, record
//! success or failure (with exponential backoff). Alerts leave the outbox only after a
//! successful send, so an SMTP outage or a crash loses nothing.

use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::watch;

use crate::calendar::WorkCalendar;
use crate::config::{Config, DeliveryPolicy};
use crate::model::OutboxAlert;
use crate::notify::{Mailer, render_dead_letter};
use crate::pipeline::{PipelineError, with_store};
use crate::store::Store;

/// After this many failures in a row a session stops: the server is likely down, and the
/// remaining alerts wait for a later session instead of each waiting for a timeout.
const BREAKER: usize = 3;
const BATCH: usize = 200;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub failed: usize,
    /// Alerts given up on in this session (dead letters).
    pub dead: usize,
    /// Grade III/IV alerts held for working hours, and until when.
    pub held: usize,
    pub held_until: Option<chrono::DateTime<Utc>>,
    pub last_error: Option<String>,
    /// The session stopped after repeated failures, leaving due alerts for later.
    pub stopped_early: bool,
}

/// A delivery session: one or more rounds over the outbox that never try the same alert
/// twice and stop for good once the breaker trips. `run --once` keeps one session for the
/// whole run (delivering while sources are still being fetched); the daemon starts a new
/// one for every round, so backoff decides what is due.
pub struct Delivery<'a> {
    store: &'a Arc<Mutex<Store>>,
    mailer: &'a Mailer,
    /// Ignore backoff: every pending alert is due.
    flush: bool,
    /// Highest alert id tried in this session (ids only grow).
    last_id: i64,
    /// Quiet hours (with the working-hours calendar) and the times in notices.
    policy: &'a DeliveryPolicy,
    calendar: &'a WorkCalendar,
    timezone: chrono_tz::Tz,
    pub report: DeliveryReport,
}

impl<'a> Delivery<'a> {
    pub fn new(store: &'a Arc<Mutex<Store>>, mailer: &'a Mailer, flush: bool, config: &'a Config) -> Self {
        Self {
            store,
            mailer,
            flush,
            last_id: 0,
            policy: &config.delivery,
            calendar: &config.calendar,
            timezone: config.timezone,
            report: DeliveryReport::default(),
        }
    }

    /// Delivers what is due now, until nothing is, the breaker trips, or shutdown.
    pub async fn round(&mut self, shutdown: Option<&watch::Receiver<bool>>) -> Result<(), PipelineError> {
        let mut failures_in_a_row = 0;
        while !self.report.stopped_early {
            let now = Utc::now();
            let flush = self.flush;
            let due = with_store(self.store, move |s| s.due_alerts((!flush).then_some(now), BATCH)).await?;
            let due: Vec<_> = due.into_iter().filter(|a| a.id > self.last_id).collect();
            if due.is_empty() {
                return Ok(());
            }
            for alert in due {
                if shutdown.is_some_and(|rx| *rx.borrow()) {
                    return Ok(());
                }
                self.last_id = alert.id;
                // Quiet hours: a grade III/IV notification waits for the next working period.
                if self.policy.held(alert.grade) && !self.calendar.is_working(now) {
                    let until = self.calendar.next_working_start(now);
                    with_store(self.store, move |s| s.hold(alert.id, until)).await?;
                    self.report.held += 1;
                    self.report.held_until = Some(until);
                    continue;
                }
                if self.attempt(alert).await? {
                    failures_in_a_row = 0;
                } else {
                    failures_in_a_row += 1;
                    if failures_in_a_row >= BREAKER {
                        self.report.stopped_early = true;
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// Sends one alert and records the outcome; `Ok(true)` when it was delivered.
    async fn attempt(&mut self, alert: OutboxAlert) -> Result<bool, PipelineError> {
        let result = self.mailer.send(&alert).await;
        let now = Utc::now();
        match result {
            Ok(()) => {
                with_store(self.store, move |s| s.mark_sent(alert.id, now, None)).await?;
                tracing::info!(alert = alert.id, subject = %alert.message.subject, "alert delivered");
                self.report.sent += 1;
                Ok(true)
            }
            Err(e) => {
                let message = e.to_string();
                let settings = self.mailer.settings();
                let attempts = alert.attempts + 1;
                let stored = message.clone();
                if attempts >= settings.max_attempts {
                    tracing::error!(alert = alert.id, attempts, error = %message, "alert given up on (dead letter)");
                    let admin: Vec<String> = settings.admin.iter().map(ToString::to_string).collect();
                    // The notice about a dead letter is itself never the cause of another.
                    let notice = (alert.kind != "outbox_dead").then(|| {
                        render_dead_letter(&alert.message.subject, &message, attempts, admin, now, self.timezone)
                    });
                    with_store(self.store, move |s| s.mark_dead(alert.id, &stored, now, notice.as_ref())).await?;
                    self.report.dead += 1;
                } else {
                    let retry_at = now + settings.retry_delay(attempts);
                    tracing::warn!(alert = alert.id, attempt = attempts, error = %message, retry_at = %retry_at,
                        "alert delivery failed; will retry");
                    with_store(self.store, move |s| s.mark_failed(alert.id, &stored, retry_at, now)).await?;
                }
                self.report.failed += 1;
                self.report.last_error = Some(message);
                Ok(false)
            }
        }
    }
}
