//! The outbox loop: take due alerts from the store, send each through its channel — the
//! mailer for email, the SMS provider for `sms`, an IM robot for `robot:<id>` — and record
//! success (with the provider's answer) or failure (with exponential backoff; a dead letter
//! after the last attempt). Alerts leave the outbox only after a successful send, so an
//! outage or a crash loses nothing. Quiet hours, the per-person SMS cap and each robot's
//! rate limit hold an alert for later; they never drop it.
//!
//! The stages after the store, in order: [`fanout`] (one notification → a row per channel of
//! the person or group), [`escalation`] (the ladder and the deadline marks on a clock),
//! [`digest`] (which due alerts go alone and which merge) and this module's [`Delivery`]
//! session, which reads top to bottom: due alerts → quiet-hours hold → plan → send → record.

pub mod digest;
pub mod escalation;
pub mod fanout;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::channel::{Channel, ChannelError, Decision, Message, RateLimiter};
use crate::config::{Config, DeliveryPolicy};
use crate::model::{AlertMessage, HoldReason, OutboxAlert};
use crate::notify::{DeliveryError, Mailer, RetryPolicy, render_dead_letter};
use crate::store::with_store;
use crate::store::{Store, StoreError};
use crate::time::calendar::WorkCalendar;
use digest::{Digest, Work};

/// The channels besides email, built once from `[sms]` and `[[robots]]`.
#[derive(Debug, Default)]
pub struct Senders {
    pub sms: Option<Channel>,
    /// By robot id.
    pub robots: HashMap<String, Robot>,
}

/// An IM robot with its send budget.
#[derive(Debug)]
pub struct Robot {
    pub channel: Channel,
    pub limiter: Mutex<RateLimiter>,
    /// The most text one digest post carries ([`crate::channel::RobotKind::digest_bytes`]).
    pub digest_bytes: usize,
}

impl Senders {
    pub fn build(config: &Config) -> Result<Self, ChannelError> {
        let proxy = config.fetch.proxy.as_ref();
        let sms = config.sms.as_ref().map(|s| Channel::sms(s, proxy)).transpose()?;
        let mut robots = HashMap::new();
        for r in &config.robots {
            let robot = Robot {
                channel: Channel::robot(r, proxy)?,
                limiter: Mutex::new(RateLimiter::for_robot(r.kind, r.rate_per_minute)),
                digest_bytes: r.kind.digest_bytes(),
            };
            robots.insert(r.id.clone(), robot);
        }
        Ok(Senders { sms, robots })
    }

    /// How many posts the robot behind `channel` (`robot:<id>`) may send now.
    fn robot_budget(&self, channel: &str, now: chrono::DateTime<Utc>) -> Option<usize> {
        let robot = self.robots.get(channel.strip_prefix("robot:")?)?;
        robot.limiter.lock().ok().map(|mut l| l.available(now))
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
    /// Not tried now: wait until then (rate limit, SMS cap), and merge with what else waits.
    Wait(chrono::DateTime<Utc>, HoldReason),
}

impl Tried {
    fn sent(r: crate::channel::Receipt) -> Self {
        Tried::Sent(Some((r.response, r.message_id)))
    }

    fn failed(e: ChannelError) -> Self {
        Tried::Failed { retryable: e.is_retryable(), retry_after: e.retry_after(), error: e.describe_zh() }
    }

    fn refused(error: String) -> Self {
        Tried::Failed { error, retryable: false, retry_after: None }
    }
}

/// What an email is: an alert as it is (threaded to its event), or a digest by its key.
enum Mail<'a> {
    Alert(&'a OutboxAlert),
    Digest(&'a str),
}

/// After this many failures in a row a session stops: the server is likely down, and the
/// remaining alerts wait for a later session instead of each waiting for a timeout.
const BREAKER: usize = 3;
const BATCH: usize = 200;

/// Whether a round goes on to the next batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub failed: usize,
    /// Alerts given up on in this session (dead letters).
    pub dead: usize,
    /// Grade III/IV alerts held for working hours, and until when.
    pub held: usize,
    pub held_until: Option<chrono::DateTime<Utc>>,
    /// Digest messages sent, and how many of the `sent` alerts went out in them.
    pub digests: usize,
    pub merged: usize,
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
    /// `None` without `[mail]`: SMS and robot alerts are still delivered.
    mailer: Option<Arc<Mailer>>,
    /// `[mail]`'s retry settings, or the defaults.
    retry: RetryPolicy,
    /// Who is told of dead letters (`[mail] admin`; nobody without `[mail]`).
    admin: Vec<String>,
    senders: &'a Senders,
    /// Ignore backoff: every pending alert is due.
    flush: bool,
    /// Alerts this session has claimed and tried (or left behind): never tried twice.
    tried: std::collections::HashSet<i64>,
    /// Alerts whose failure this session already recorded: an alert in several per-recipient
    /// digests that all fail counts one failed attempt, not one per digest.
    failed: std::collections::HashSet<i64>,
    /// Quiet hours (with the working-hours calendar) and the times in notices.
    policy: &'a DeliveryPolicy,
    calendar: &'a WorkCalendar,
    timezone: chrono_tz::Tz,
    pub report: DeliveryReport,
}

impl<'a> Delivery<'a> {
    pub fn new(
        store: &'a Arc<Mutex<Store>>,
        mailer: Option<Arc<Mailer>>,
        senders: &'a Senders,
        flush: bool,
        config: &'a Config,
    ) -> Self {
        let mail = config.mail.as_ref();
        Self {
            store,
            mailer,
            retry: mail.map(|m| m.retry_policy()).unwrap_or_default(),
            admin: mail.map(|m| m.admin.iter().map(ToString::to_string).collect()).unwrap_or_default(),
            senders,
            flush,
            tried: std::collections::HashSet::new(),
            failed: std::collections::HashSet::new(),
            policy: &config.delivery,
            calendar: &config.calendar,
            timezone: config.timezone,
            report: DeliveryReport::default(),
        }
    }

    /// Delivers what is due now, until nothing is, the breaker trips, or shutdown. Held
    /// alerts that come due together, and a robot's alerts beyond its budget, go out as
    /// digests ([`crate::deliver::digest`]).
    pub async fn round(&mut self, shutdown: Option<&watch::Receiver<bool>>) -> Result<(), StoreError> {
        let mut failures_in_a_row = 0;
        // A run that read an event's state just before it was closed or muted may have
        // queued alerts just after: they are withdrawn before anything is sent.
        let withdrawn = with_store(self.store, |s| s.withdraw_silenced(Utc::now())).await?;
        if withdrawn > 0 {
            tracing::info!(withdrawn, "alerts of closed or muted events withdrawn");
        }
        while !self.report.stopped_early {
            let now = Utc::now();
            let flush = self.flush;
            let due = with_store(self.store, move |s| s.due_alerts((!flush).then_some(now), BATCH)).await?;
            // Never the same alert twice in a session. Ids are not a watermark: on
            // PostgreSQL a lower id can commit after a higher one was claimed.
            let (due, tried): (Vec<_>, Vec<_>) = due.into_iter().partition(|a| !self.tried.contains(&a.id));
            let batch: Vec<i64> = due.iter().map(|a| a.id).collect();
            self.tried.extend(batch.iter().copied());
            let outcome = if due.is_empty() {
                Ok(Flow::Stop)
            } else {
                self.deliver_batch(due, now, shutdown, &mut failures_in_a_row).await
            };
            // What this session claimed and did not finish (already tried, or left behind
            // by a shutdown, the breaker or an error) goes back to every claimer now rather
            // than when its lease runs out.
            let unfinished: Vec<i64> = tried.iter().map(|a| a.id).chain(batch).collect();
            let released = with_store(self.store, move |s| s.release_claims(&unfinished)).await;
            if let Err(e) = &released {
                tracing::warn!(error = %e, "could not release outbox claims; they return when their lease ends");
            }
            if outcome? == Flow::Stop {
                return Ok(());
            }
        }
        Ok(())
    }

    /// One claimed batch: quiet-hour holds, digests, then the sends.
    async fn deliver_batch(
        &mut self,
        due: Vec<OutboxAlert>,
        now: DateTime<Utc>,
        shutdown: Option<&watch::Receiver<bool>>,
        failures_in_a_row: &mut usize,
    ) -> Result<Flow, StoreError> {
        // Quiet hours: a grade III/IV notification waits for the next working period.
        let quiet = !self.calendar.is_working(now);
        let (quieted, ready): (Vec<_>, Vec<_>) =
            due.into_iter().partition(|alert| quiet && self.policy.held(alert.grade));
        if !quieted.is_empty() {
            let until = self.calendar.next_working_start(now);
            let ids: Vec<i64> = quieted.iter().map(|a| a.id).collect();
            with_store(self.store, move |s| s.hold_many(&ids, until, HoldReason::Quiet)).await?;
            self.report.held += quieted.len();
            self.report.held_until = Some(until);
        }
        // A robot with more alerts due than its budget allows posts them as digests.
        let mut per_robot: HashMap<&str, usize> = HashMap::new();
        for a in ready.iter().filter(|a| a.message.channel.starts_with("robot:")) {
            *per_robot.entry(a.message.channel.as_str()).or_default() += 1;
        }
        let bursts: Vec<String> = per_robot
            .into_iter()
            .filter(|(channel, n)| self.senders.robot_budget(channel, now).is_some_and(|budget| *n > budget))
            .map(|(channel, _)| channel.to_string())
            .collect();
        let work = digest::plan(ready, |a| a.held.is_some() || bursts.contains(&a.message.channel));
        // Emails going alone go out over the mailer's connections at once; digests, SMS
        // and robot posts one by one after them (their caps and budgets count each send).
        let (mail, work): (Vec<_>, Vec<_>) =
            work.into_iter().partition(|w| matches!(w, Work::Single(a) if a.message.channel == "email"));
        let mail = mail.into_iter().filter_map(|w| if let Work::Single(a) = w { Some(a) } else { None }).collect();
        self.send_mail(mail, shutdown, failures_in_a_row).await?;
        if self.report.stopped_early {
            return Ok(Flow::Stop);
        }
        for item in work {
            if shutdown.is_some_and(|rx| *rx.borrow()) {
                return Ok(Flow::Stop);
            }
            let delivered = match item {
                Work::Single(alert) => self.attempt(alert).await?,
                Work::Digest(d) => self.attempt_digest(d).await?,
            };
            if delivered {
                *failures_in_a_row = 0;
            } else {
                *failures_in_a_row += 1;
                if *failures_in_a_row >= BREAKER {
                    self.report.stopped_early = true;
                    return Ok(Flow::Stop);
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// Sends email alerts, each alone, as many at once as the mailer has connections (one at
    /// a time until the first success of the session and after each failure), and
    /// records every outcome as it arrives (the deliveries that finish together in one
    /// transaction). Once the breaker trips or shutdown is asked for, no new send starts;
    /// those in flight finish and are recorded, so nothing the server accepted is sent again.
    async fn send_mail(
        &mut self,
        alerts: Vec<OutboxAlert>,
        shutdown: Option<&watch::Receiver<bool>>,
        failures_in_a_row: &mut usize,
    ) -> Result<(), StoreError> {
        let Some(mailer) = self.mailer.clone() else {
            for alert in alerts {
                self.attempt(alert).await?;
            }
            return Ok(());
        };
        let lanes = mailer.connections().max(1);
        let mut queue = alerts.into_iter();
        let mut in_flight: JoinSet<(OutboxAlert, Result<String, DeliveryError>)> = JoinSet::new();
        loop {
            let stopping = self.report.stopped_early || shutdown.is_some_and(|rx| *rx.borrow());
            // One at a time until a send succeeds, and again after a failure: a server that
            // is down costs the breaker's three tries, as over one connection, not one per
            // connection more.
            let open = if self.report.sent > 0 && *failures_in_a_row == 0 { lanes } else { 1 };
            while !stopping && in_flight.len() < open {
                let Some(alert) = queue.next() else { break };
                let mailer = mailer.clone();
                in_flight.spawn(async move {
                    let answer = mailer.send(&alert).await;
                    (alert, answer)
                });
            }
            let Some(first) = in_flight.join_next().await else { return Ok(()) };
            let mut finished = vec![first];
            while let Some(more) = in_flight.try_join_next() {
                finished.push(more);
            }
            let mut sent = Vec::with_capacity(finished.len());
            for joined in finished {
                match joined {
                    Ok((alert, Ok(answer))) => {
                        *failures_in_a_row = 0;
                        tracing::info!(alert = alert.id, channel = %alert.message.channel,
                            subject = %alert.message.subject, "alert delivered");
                        sent.push((alert.id, answer));
                    }
                    Ok((alert, Err(e))) => {
                        let error = e.describe_zh();
                        self.record_failure(&alert, &error, true, None).await?;
                        self.report.failed += 1;
                        self.report.last_error = Some(error);
                        *failures_in_a_row += 1;
                        if *failures_in_a_row >= BREAKER {
                            self.report.stopped_early = true;
                        }
                    }
                    // The alert stays pending and is tried in a later session.
                    Err(e) => tracing::error!(error = %e, "an email send task failed"),
                }
            }
            if !sent.is_empty() {
                self.report.sent += sent.len();
                let now = Utc::now();
                with_store(self.store, move |s| s.mark_sent_many(&sent, now)).await?;
            }
        }
    }

    /// Sends one message through `channel`: the mailer for email, the SMS provider, or a
    /// robot. `out_id` is the alert (or the digest's first alert) the provider is told of.
    async fn send(
        &self,
        channel: &str,
        message: &AlertMessage,
        out_id: i64,
        mail: Mail<'_>,
        now: chrono::DateTime<Utc>,
    ) -> Result<Tried, StoreError> {
        let outgoing = || Message {
            out_id: format!("yuqing-{out_id}"),
            title: message.subject.clone(),
            text: message.body_text.clone(),
            mobiles: message.recipients.clone(),
            ..Message::default()
        };
        if channel == "email" {
            let Some(mailer) = &self.mailer else {
                return Ok(Tried::refused("未配置 [mail]".into()));
            };
            let sent = match mail {
                Mail::Alert(alert) => mailer.send(alert).await,
                Mail::Digest(key) => mailer.send_standalone(key, message).await,
            };
            return Ok(match sent {
                Ok(answer) => Tried::Sent(Some((answer, None))),
                Err(e) => Tried::Failed { error: e.describe_zh(), retryable: true, retry_after: None },
            });
        }
        if channel == "sms" {
            let Some(sms) = &self.senders.sms else {
                return Ok(Tried::refused("未配置 [sms]".into()));
            };
            // The per-person hourly cap: wait until the oldest of the hour's messages ages out.
            let cap = self.senders_cap();
            let to = message.recipients.clone();
            let since = now - chrono::Duration::hours(1);
            let recent = with_store(self.store, move |s| s.sms_sent_since(&to, since)).await?;
            if let Some(oldest) = recent.filter(|(n, _)| *n >= cap).map(|(_, oldest)| oldest) {
                return Ok(Tried::Wait(oldest + chrono::Duration::hours(1), HoldReason::Cap));
            }
            return Ok(sms.send(&outgoing()).await.map_or_else(Tried::failed, Tried::sent));
        }
        if let Some(id) = channel.strip_prefix("robot:") {
            let Some(robot) = self.senders.robots.get(id) else {
                return Ok(Tried::refused(format!("[[robots]] 中没有 id 为 \"{id}\" 的机器人")));
            };
            let decision = robot.limiter.lock().map(|mut l| l.decide(now)).unwrap_or(Decision::SendNow);
            if let Decision::Digest { at } = decision {
                return Ok(Tried::Wait(at, HoldReason::Rate));
            }
            return Ok(robot.channel.send(&outgoing()).await.map_or_else(Tried::failed, Tried::sent));
        }
        Ok(Tried::refused(format!("未知的通道 \"{channel}\"")))
    }

    fn senders_cap(&self) -> usize {
        usize::try_from(self.policy.sms_per_person_hour).unwrap_or(usize::MAX).max(1)
    }

    /// Sends one alert and records the outcome; `Ok(true)` when it was delivered (or held).
    async fn attempt(&mut self, alert: OutboxAlert) -> Result<bool, StoreError> {
        let tried =
            self.send(&alert.message.channel, &alert.message, alert.id, Mail::Alert(&alert), Utc::now()).await?;
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
            Tried::Wait(until, reason) => {
                self.hold(&[alert], until, reason).await?;
                Ok(true)
            }
            Tried::Failed { error, retryable, retry_after } => {
                self.record_failure(&alert, &error, retryable, retry_after).await?;
                self.report.failed += 1;
                self.report.last_error = Some(error);
                Ok(false)
            }
        }
    }

    /// Sends a digest — a robot's in posts that fit the platform, each within the budget —
    /// and records the outcome on every alert it carries; `Ok(true)` when it was delivered
    /// (or held for later).
    async fn attempt_digest(&mut self, digest: Digest) -> Result<bool, StoreError> {
        let parts = match self.senders.robots.get(digest.channel.strip_prefix("robot:").unwrap_or_default()) {
            Some(robot) => digest.chunks(robot.digest_bytes),
            None => vec![digest],
        };
        let mut parts = parts.into_iter();
        while let Some(part) = parts.next() {
            let message = part.message();
            let key = part.key();
            let tried = self.send(&part.channel, &message, part.first_id(), Mail::Digest(&key), Utc::now()).await?;
            let now = Utc::now();
            match tried {
                Tried::Sent(receipt) => {
                    let ids = part.ids();
                    let recipient = part.recipient.clone();
                    let (answer, provider_id) = receipt.unwrap_or_default();
                    let finished = with_store(self.store, move |s| {
                        s.mark_digest_sent(&ids, recipient.as_deref(), now, (&answer, provider_id.as_deref()))
                    })
                    .await?;
                    tracing::info!(channel = %part.channel, alerts = ?part.ids(), "digest delivered");
                    // An alert to several people counts once, when its last digest went.
                    self.report.sent += finished;
                    self.report.digests += 1;
                    self.report.merged += finished;
                }
                Tried::Wait(until, reason) => {
                    // This part and every one after it wait, and merge again then.
                    let waiting: Vec<OutboxAlert> = std::iter::once(part).chain(parts).flat_map(|p| p.alerts).collect();
                    self.hold(&waiting, until, reason).await?;
                    return Ok(true);
                }
                Tried::Failed { error, retryable, retry_after } => {
                    for alert in &part.alerts {
                        if self.failed.insert(alert.id) {
                            self.record_failure(alert, &error, retryable, retry_after).await?;
                        }
                    }
                    // The parts not tried wait for the retry too.
                    for alert in parts.flat_map(|p| p.alerts) {
                        let at = now + jittered(self.retry.delay(alert.attempts + 1), alert.id);
                        with_store(self.store, move |s| s.hold(alert.id, at, HoldReason::Rate)).await?;
                    }
                    self.report.failed += 1;
                    self.report.last_error = Some(error);
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Holds alerts until `until`; they merge with whatever else waits then.
    async fn hold(
        &mut self,
        alerts: &[OutboxAlert],
        until: chrono::DateTime<Utc>,
        reason: HoldReason,
    ) -> Result<(), StoreError> {
        let ids: Vec<i64> = alerts.iter().map(|a| a.id).collect();
        tracing::info!(alerts = ?ids, until = %until, reason = reason.as_str(), "alerts held (rate limit or SMS cap)");
        with_store(self.store, move |s| s.hold_many(&ids, until, reason)).await?;
        self.report.held += alerts.len();
        // Not a failure of the channel: the breaker is not moved.
        Ok(())
    }

    /// Records a failed attempt on `alert`: a retry after the backoff (or the provider's
    /// `Retry-After`), or a dead letter after the last attempt or a permanent refusal.
    async fn record_failure(
        &mut self,
        alert: &OutboxAlert,
        error: &str,
        retryable: bool,
        retry_after: Option<std::time::Duration>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let attempts = alert.attempts + 1;
        let (id, stored) = (alert.id, error.to_string());
        if !retryable || attempts >= self.retry.max_attempts {
            tracing::error!(alert = id, attempts, error = %error, "alert given up on (dead letter)");
            // The notice about a dead letter is itself never the cause of another; without
            // `[mail]` there is no one to email (the error log and `yuqing outbox` remain).
            let notice = (alert.kind != "outbox_dead" && !self.admin.is_empty()).then(|| {
                render_dead_letter(&alert.message.subject, error, attempts, self.admin.clone(), now, self.timezone)
            });
            with_store(self.store, move |s| s.mark_dead(id, &stored, now, notice.as_ref())).await?;
            self.report.dead += 1;
        } else {
            let backoff = jittered(self.retry.delay(attempts), id).max(retry_after.unwrap_or_default());
            let retry_at = now + backoff;
            tracing::warn!(alert = id, attempt = attempts, error = %error, retry_at = %retry_at,
                "alert delivery failed; will retry");
            with_store(self.store, move |s| s.mark_failed(id, &stored, retry_at, now)).await?;
        }
        Ok(())
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
