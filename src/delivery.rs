//! The outbox loop: take due alerts from the store, send each through its channel — the
//! mailer for email, the SMS provider for `sms`, an IM robot for `robot:<id>` — and record
//! success (with the provider's answer) or failure (with exponential backoff; a dead letter
//! after the last attempt). Alerts leave the outbox only after a successful send, so an
//! outage or a crash loses nothing. Quiet hours, the per-person SMS cap and each robot's
//! rate limit hold an alert for later; they never drop it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::watch;

use crate::calendar::WorkCalendar;
use crate::channel::{Channel, ChannelError, Decision, Message, RateLimiter};
use crate::config::{Config, DeliveryPolicy};
use crate::model::OutboxAlert;
use crate::notify::{Mailer, render_dead_letter};
use crate::pipeline::{PipelineError, with_store};
use crate::store::Store;

/// The channels besides email, built once from `[sms]` and `[[robots]]`.
#[derive(Debug, Default)]
pub struct Senders {
    pub sms: Option<Channel>,
    /// By robot id, each with its rate limiter.
    pub robots: HashMap<String, (Channel, Mutex<RateLimiter>)>,
}

impl Senders {
    pub fn build(config: &Config) -> Result<Self, ChannelError> {
        let proxy = config.fetch.proxy.as_ref();
        let sms = config.sms.as_ref().map(|s| Channel::sms(s, proxy)).transpose()?;
        let mut robots = HashMap::new();
        for r in &config.robots {
            let limiter = RateLimiter::for_robot(r.kind, r.rate_per_minute);
            robots.insert(r.id.clone(), (Channel::robot(r, proxy)?, Mutex::new(limiter)));
        }
        Ok(Senders { sms, robots })
    }
}

/// `delay` stretched by 0–20 %, by a fraction fixed per alert: a burst of alerts that failed
/// together (an SMTP outage) does not come back all in the same second.
pub fn jittered(delay: std::time::Duration, alert_id: i64) -> std::time::Duration {
    // Knuth's multiplicative hash spreads consecutive ids over the range.
    let fraction = (alert_id.unsigned_abs().wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0;
    delay.mul_f64(1.0 + 0.2 * fraction)
}

/// What became of one try.
enum Tried {
    Sent(Option<(String, Option<String>)>),
    Failed {
        error: String,
        retryable: bool,
        retry_after: Option<std::time::Duration>,
    },
    /// Not tried now: wait until then (rate limit, SMS cap).
    Wait(chrono::DateTime<Utc>),
}

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
    senders: &'a Senders,
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
    pub fn new(
        store: &'a Arc<Mutex<Store>>,
        mailer: &'a Mailer,
        senders: &'a Senders,
        flush: bool,
        config: &'a Config,
    ) -> Self {
        Self {
            store,
            mailer,
            senders,
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

    /// Sends one alert through its channel.
    async fn send(&self, alert: &OutboxAlert, now: chrono::DateTime<Utc>) -> Result<Tried, PipelineError> {
        let channel = alert.message.channel.as_str();
        let message = || Message {
            out_id: format!("yuqing-{}", alert.id),
            title: alert.message.subject.clone(),
            text: alert.message.body_text.clone(),
            mobiles: alert.message.recipients.clone(),
            ..Message::default()
        };
        let sent = |r: crate::channel::Receipt| Tried::Sent(Some((r.response, r.message_id)));
        let failed = |e: ChannelError| Tried::Failed {
            retryable: e.is_retryable(),
            retry_after: e.retry_after(),
            error: e.to_string(),
        };
        if channel == "email" {
            return Ok(match self.mailer.send(alert).await {
                Ok(()) => Tried::Sent(None),
                Err(e) => Tried::Failed { error: e.to_string(), retryable: true, retry_after: None },
            });
        }
        if channel == "sms" {
            let Some(sms) = &self.senders.sms else {
                return Ok(Tried::Failed { error: "未配置 [sms]".into(), retryable: false, retry_after: None });
            };
            // The per-person hourly cap: wait until the oldest of the hour's messages ages out.
            let cap = self.senders_cap();
            let to = alert.message.recipients.clone();
            let since = now - chrono::Duration::hours(1);
            let recent = with_store(self.store, move |s| s.sms_sent_since(&to, since)).await?;
            if let Some(oldest) = recent.filter(|(n, _)| *n >= cap).map(|(_, oldest)| oldest) {
                return Ok(Tried::Wait(oldest + chrono::Duration::hours(1)));
            }
            return Ok(sms.send(&message()).await.map_or_else(failed, sent));
        }
        if let Some(id) = channel.strip_prefix("robot:") {
            let Some((robot, limiter)) = self.senders.robots.get(id) else {
                let error = format!("[[robots]] 中没有 id 为 \"{id}\" 的机器人");
                return Ok(Tried::Failed { error, retryable: false, retry_after: None });
            };
            let decision = limiter.lock().map(|mut l| l.decide(now)).unwrap_or(Decision::SendNow);
            if let Decision::Digest { at } = decision {
                return Ok(Tried::Wait(at));
            }
            return Ok(robot.send(&message()).await.map_or_else(failed, sent));
        }
        Ok(Tried::Failed { error: format!("未知的通道 \"{channel}\""), retryable: false, retry_after: None })
    }

    fn senders_cap(&self) -> usize {
        usize::try_from(self.policy.sms_per_person_hour).unwrap_or(usize::MAX).max(1)
    }

    /// Sends one alert and records the outcome; `Ok(true)` when it was delivered.
    async fn attempt(&mut self, alert: OutboxAlert) -> Result<bool, PipelineError> {
        let now = Utc::now();
        let tried = self.send(&alert, now).await?;
        let now = Utc::now();
        match tried {
            Tried::Sent(receipt) => {
                with_store(self.store, move |s| {
                    s.mark_sent(alert.id, now, receipt.as_ref().map(|(r, id)| (r.as_str(), id.as_deref())))
                })
                .await?;
                tracing::info!(alert = alert.id, channel = %alert.message.channel, subject = %alert.message.subject,
                    "alert delivered");
                self.report.sent += 1;
                Ok(true)
            }
            Tried::Wait(until) => {
                tracing::info!(alert = alert.id, channel = %alert.message.channel, until = %until,
                    "alert held (rate limit or SMS cap)");
                with_store(self.store, move |s| s.hold(alert.id, until)).await?;
                self.report.held += 1;
                // Not a failure of the channel: the breaker is not moved.
                Ok(true)
            }
            Tried::Failed { error: message, retryable, retry_after } => {
                let settings = self.mailer.settings();
                let attempts = alert.attempts + 1;
                let stored = message.clone();
                if !retryable || attempts >= settings.max_attempts {
                    tracing::error!(alert = alert.id, attempts, error = %message, "alert given up on (dead letter)");
                    let admin: Vec<String> = settings.admin.iter().map(ToString::to_string).collect();
                    // The notice about a dead letter is itself never the cause of another.
                    let notice = (alert.kind != "outbox_dead").then(|| {
                        render_dead_letter(&alert.message.subject, &message, attempts, admin, now, self.timezone)
                    });
                    with_store(self.store, move |s| s.mark_dead(alert.id, &stored, now, notice.as_ref())).await?;
                    self.report.dead += 1;
                } else {
                    let backoff =
                        jittered(settings.retry_delay(attempts), alert.id).max(retry_after.unwrap_or_default());
                    let retry_at = now + backoff;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_spreads_a_burst_within_twenty_percent() {
        let base = std::time::Duration::from_secs(100);
        let delays: Vec<u64> = (1..=50).map(|id| jittered(base, id).as_millis() as u64).collect();
        assert!(delays.iter().all(|d| (100_000..=120_000).contains(d)), "{delays:?}");
        let distinct: std::collections::HashSet<u64> = delays.iter().map(|d| d / 1000).collect();
        assert!(distinct.len() >= 10, "spread over many seconds: {distinct:?}");
        assert_eq!(jittered(base, 7), jittered(base, 7), "fixed per alert");
    }
}
