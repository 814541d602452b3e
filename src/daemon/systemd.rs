//! systemd integration (`Type=notify`): the readiness, reload, stopping and status messages
//! of the sd_notify protocol, and the watchdog.
//!
//! Every message is a no-op when `NOTIFY_SOCKET` is unset (not started by systemd), and a
//! failure to send is logged, never fatal: the daemon's job does not depend on systemd.
//!
//! The watchdog ping (`WATCHDOG=1`, every half `WatchdogSec=`) is sent only when the
//! scheduler's [`Heartbeat`] is fresh (its loop made a turn recently) **and** the database
//! answers a query within half the watchdog interval. A daemon whose scheduler hangs or whose
//! database stops answering misses its pings and systemd restarts it.
//!
//! Reloading (added with hot reload): call [`reloading`] before swapping the config and
//! [`ready`] after, with the new status line.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sd_notify::NotifyState;
use tokio::sync::watch;

use super::Heartbeat;
use crate::pipeline::{Context, with_store};

/// How often the STATUS line is refreshed (sent only when it changed), and the watchdog fed
/// when `WatchdogSec=` asks for more often.
const STATUS_EVERY: Duration = Duration::from_secs(30);

/// `READY=1` with the current status: the store is open and the schedule armed.
pub fn ready(status_line: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status_line)]);
}

/// `RELOADING=1` (with the monotonic time systemd wants for `Type=notify-reload`); follow
/// it with [`ready`] once the new config is in place, or the old one is kept.
pub fn reloading() {
    let mut states = vec![NotifyState::Reloading];
    if let Ok(now) = NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    states.push(NotifyState::Status("正在重新加载配置"));
    send(&states);
}

/// `STOPPING=1`: shutdown has begun.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("正在停止：等待进行中的抓取和发送完成")]);
}

/// `STATUS=…`: one line for `systemctl status`.
pub fn status(line: &str) {
    send(&[NotifyState::Status(line)]);
}

/// The watchdog interval systemd asked for (`WatchdogSec=`), if any, for this process.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().filter(|d| !d.is_zero())
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot send a notification to systemd");
    }
}

/// "3/5 个信源正常，上次抓取 10:02，待发提醒 0".
pub fn status_line(
    enabled: usize,
    healthy: usize,
    last_fetch: Option<DateTime<Utc>>,
    pending: usize,
    tz: Tz,
) -> String {
    let last = last_fetch.map_or_else(|| "尚未抓取".to_string(), |t| format!("上次抓取 {}", local_time(t, tz)));
    format!("{healthy}/{enabled} 个信源正常，{last}，待发提醒 {pending}")
}

/// HH:MM today, else MM-DD HH:MM.
fn local_time(t: DateTime<Utc>, tz: Tz) -> String {
    let local = t.with_timezone(&tz);
    if local.date_naive() == Utc::now().with_timezone(&tz).date_naive() {
        local.format("%H:%M").to_string()
    } else {
        local.format("%m-%d %H:%M").to_string()
    }
}

/// The daemon's status line, read from the store.
pub async fn current_status(ctx: &Arc<Context>) -> Option<String> {
    let enabled: Vec<String> = ctx.config.enabled_sources().map(|s| s.id.clone()).collect();
    let tz = ctx.config.timezone;
    let read = with_store(&ctx.store, move |s| Ok((s.source_states()?, s.outbox_status()?.pending))).await;
    match read {
        Ok((states, pending)) => {
            let of_enabled = states.iter().filter(|s| enabled.contains(&s.source_id));
            let failing = of_enabled.clone().filter(|s| s.consecutive_failures > 0).count();
            let last = of_enabled.filter_map(|s| s.last_attempt_at).max();
            Some(status_line(enabled.len(), enabled.len().saturating_sub(failing), last, pending, tz))
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the status for systemd");
            None
        }
    }
}

/// Whether to ping the watchdog: the scheduler advanced within the interval (it beats at
/// least every [`super::BEAT_EVERY`]) and the database answered.
pub fn should_ping(heartbeat: &Heartbeat, watchdog: Duration, database_answers: bool, now: DateTime<Utc>) -> bool {
    database_answers && advancing(heartbeat, watchdog, now)
}

fn advancing(heartbeat: &Heartbeat, watchdog: Duration, now: DateTime<Utc>) -> bool {
    let bound = watchdog.max(super::BEAT_EVERY * 2);
    (now - heartbeat.last()).to_std().map_or(true, |age| age <= bound)
}

/// Pings the watchdog and keeps the STATUS line current until shutdown. Returns at once
/// when the daemon was not started by systemd.
pub async fn supervise(ctx: Arc<Context>, heartbeat: Arc<Heartbeat>, mut shutdown: watch::Receiver<bool>) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    let watchdog = watchdog_interval();
    let period = watchdog.map_or(STATUS_EVERY, |w| (w / 2).min(STATUS_EVERY));
    let mut shown = String::new();
    loop {
        if let Some(w) = watchdog {
            let answers = database_answers(&ctx, w / 2).await;
            if should_ping(&heartbeat, w, answers, Utc::now()) {
                send(&[NotifyState::Watchdog]);
            } else {
                tracing::error!(
                    scheduler_advancing = advancing(&heartbeat, w, Utc::now()),
                    database_answers = answers,
                    "withholding the watchdog ping; systemd will restart the daemon if this persists"
                );
            }
        }
        if let Some(line) = current_status(&ctx).await.filter(|l| *l != shown) {
            status(&line);
            shown = line;
        }
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    return;
                }
            }
        }
    }
}

/// A `SELECT 1` through the daemon's own connection (behind its mutex), within `limit`.
async fn database_answers(ctx: &Arc<Context>, limit: Duration) -> bool {
    let ping = with_store(&ctx.store, |s| s.ping());
    matches!(tokio::time::timeout(limit, ping).await, Ok(Ok(())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_counts_sources_and_pending_alerts() {
        let tz = chrono_tz::Asia::Shanghai;
        let last = Utc::now();
        let line = status_line(5, 3, Some(last), 0, tz);
        let hhmm = last.with_timezone(&tz).format("%H:%M").to_string();
        assert_eq!(line, format!("3/5 个信源正常，上次抓取 {hhmm}，待发提醒 0"));
        assert_eq!(status_line(2, 2, None, 4, tz), "2/2 个信源正常，尚未抓取，待发提醒 4");
    }

    #[test]
    fn the_watchdog_is_fed_only_while_the_scheduler_advances_and_the_database_answers() {
        let now = Utc::now();
        let hb = Heartbeat::new(now);
        let w = Duration::from_secs(60);
        assert!(should_ping(&hb, w, true, now));
        assert!(!should_ping(&hb, w, false, now), "database silent");
        assert!(should_ping(&hb, w, true, now + chrono::Duration::seconds(59)));
        assert!(!should_ping(&hb, w, true, now + chrono::Duration::seconds(61)), "scheduler stalled");
        hb.beat(now + chrono::Duration::seconds(61));
        assert!(should_ping(&hb, w, true, now + chrono::Duration::seconds(62)), "advancing again");
    }
}
