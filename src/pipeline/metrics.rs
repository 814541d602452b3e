//! Process metrics in the Prometheus text exposition format (version 0.0.4), served at
//! `GET /metrics` on the `[http]` endpoint.
//!
//! Counters the daemon updates as it works (source runs, errors, durations, bytes fetched,
//! documents, hits, config reloads) live in [`Metrics`]: one mutex over a few small maps,
//! touched once per source run, so no metrics crate is needed. Gauges that describe the
//! database (events by grade, alerts by channel and status, outbox depth and age, deadline
//! breaches) are read from the store at scrape time ([`crate::store::Gauges`],
//! [`deadline_breaches`]) and passed to [`Metrics::render`].

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::response::deadline::{Outcome, Progress, clock_outcome};
use crate::store::{Gauges, Store, StoreError};

/// Upper bounds (seconds) of the source-run duration histogram.
const BUCKETS: [f64; 9] = [0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// Open events older than this are not looked at for deadline breaches.
const BREACH_HORIZON_DAYS: i64 = 90;

/// How one source run ended, for `yuqing_source_runs_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RunOutcomeLabel {
    Ok,
    NotModified,
    Error,
}

impl RunOutcomeLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcomeLabel::Ok => "ok",
            RunOutcomeLabel::NotModified => "not_modified",
            RunOutcomeLabel::Error => "error",
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Cumulative counts per bucket of [`BUCKETS`].
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, n) in BUCKETS.iter().zip(self.buckets.iter_mut()) {
            if seconds <= *bound {
                *n += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct Inner {
    runs: BTreeMap<(String, RunOutcomeLabel), u64>,
    errors: BTreeMap<String, u64>,
    durations: BTreeMap<String, Histogram>,
    bytes: BTreeMap<String, u64>,
    documents: u64,
    hits: u64,
    alerts_queued: u64,
    reloads_ok: u64,
    reloads_error: u64,
    last_reload_ok: bool,
    last_reload_success: Option<DateTime<Utc>>,
}

/// The daemon's counters; shared by every task (`Arc<Metrics>`).
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// What the daemon knows at scrape time besides the counters.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Read from the store; `None` when the store could not be read.
    pub gauges: Option<Gauges>,
    /// Open events with a missed clock, per clock (`accept`, `response`, …).
    pub breaches: Option<BTreeMap<&'static str, u64>>,
    /// Open events with at least one missed clock.
    pub breached_events: Option<u64>,
    /// When the scheduler last advanced.
    pub scheduler_heartbeat: Option<DateTime<Utc>>,
    /// The database's size and its filesystem's free space.
    pub disk: Option<crate::store::disk::DiskUsage>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Counters stay usable even if a panicking thread held the lock.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One finished source run.
    pub fn record_run(&self, source: &str, outcome: RunOutcomeLabel, documents: usize, hits: usize, took: Duration) {
        let mut m = self.lock();
        *m.runs.entry((source.to_string(), outcome)).or_default() += 1;
        if outcome == RunOutcomeLabel::Error {
            *m.errors.entry(source.to_string()).or_default() += 1;
        }
        m.durations.entry(source.to_string()).or_default().observe(took.as_secs_f64());
        m.documents += documents as u64;
        m.hits += hits as u64;
    }

    /// Alerts queued by a source run.
    pub fn add_alerts(&self, n: usize) {
        self.lock().alerts_queued += n as u64;
    }

    /// Bytes of a response body read for `source` (list pages, further pages, articles, exports).
    pub fn add_bytes(&self, source: &str, n: usize) {
        *self.lock().bytes.entry(source.to_string()).or_default() += n as u64;
    }

    /// A configuration (re)load: the first load at start counts as a success.
    pub fn record_reload(&self, ok: bool, now: DateTime<Utc>) {
        let mut m = self.lock();
        m.last_reload_ok = ok;
        if ok {
            m.reloads_ok += 1;
            m.last_reload_success = Some(now);
        } else {
            m.reloads_error += 1;
        }
    }

    /// `(successful, failed)` reloads so far (tests, status).
    pub fn reloads(&self) -> (u64, u64) {
        let m = self.lock();
        (m.reloads_ok, m.reloads_error)
    }

    /// Everything in the text exposition format.
    pub fn render(&self, snapshot: &Snapshot, now: DateTime<Utc>) -> String {
        let m = self.lock();
        let mut out = String::new();
        family(&mut out, "yuqing_source_runs_total", "counter", "Source runs by source and outcome.");
        for ((source, outcome), n) in &m.runs {
            sample(&mut out, "yuqing_source_runs_total", &[("source", source), ("outcome", outcome.as_str())], *n);
        }
        family(&mut out, "yuqing_source_errors_total", "counter", "Failed source runs.");
        for (source, n) in &m.errors {
            sample(&mut out, "yuqing_source_errors_total", &[("source", source)], *n);
        }
        family(&mut out, "yuqing_source_run_seconds", "histogram", "Duration of source runs.");
        for (source, h) in &m.durations {
            for (bound, n) in BUCKETS.iter().zip(h.buckets.iter()) {
                let le = bound.to_string();
                sample(&mut out, "yuqing_source_run_seconds_bucket", &[("source", source), ("le", &le)], *n);
            }
            sample(&mut out, "yuqing_source_run_seconds_bucket", &[("source", source), ("le", "+Inf")], h.count);
            sample(&mut out, "yuqing_source_run_seconds_sum", &[("source", source)], h.sum);
            sample(&mut out, "yuqing_source_run_seconds_count", &[("source", source)], h.count);
        }
        family(&mut out, "yuqing_fetched_bytes_total", "counter", "Response body bytes read per source.");
        for (source, n) in &m.bytes {
            sample(&mut out, "yuqing_fetched_bytes_total", &[("source", source)], *n);
        }
        family(&mut out, "yuqing_documents_total", "counter", "New documents stored since start.");
        sample(&mut out, "yuqing_documents_total", &[], m.documents);
        family(&mut out, "yuqing_hits_total", "counter", "Keyword hits stored since start.");
        sample(&mut out, "yuqing_hits_total", &[], m.hits);
        family(&mut out, "yuqing_alerts_queued_total", "counter", "Alerts queued by source runs since start.");
        sample(&mut out, "yuqing_alerts_queued_total", &[], m.alerts_queued);
        family(&mut out, "yuqing_config_reloads_total", "counter", "Configuration loads by result.");
        sample(&mut out, "yuqing_config_reloads_total", &[("result", "success")], m.reloads_ok);
        sample(&mut out, "yuqing_config_reloads_total", &[("result", "failure")], m.reloads_error);
        family(
            &mut out,
            "yuqing_config_last_reload_successful",
            "gauge",
            "Whether the last configuration load succeeded.",
        );
        sample(&mut out, "yuqing_config_last_reload_successful", &[], u64::from(m.last_reload_ok));
        family(
            &mut out,
            "yuqing_config_last_reload_success_timestamp_seconds",
            "gauge",
            "When the configuration was last loaded successfully.",
        );
        sample(
            &mut out,
            "yuqing_config_last_reload_success_timestamp_seconds",
            &[],
            m.last_reload_success.map_or(0, |t| t.timestamp()),
        );
        drop(m);
        if let Some(t) = snapshot.scheduler_heartbeat {
            family(
                &mut out,
                "yuqing_scheduler_heartbeat_timestamp_seconds",
                "gauge",
                "When the scheduler last advanced.",
            );
            sample(&mut out, "yuqing_scheduler_heartbeat_timestamp_seconds", &[], t.timestamp());
        }
        if let Some(g) = &snapshot.gauges {
            family(&mut out, "yuqing_events", "gauge", "Stored events by grade (none = not graded).");
            for (grade, n) in &g.events_by_grade {
                sample(&mut out, "yuqing_events", &[("grade", grade)], *n);
            }
            family(&mut out, "yuqing_alerts", "gauge", "Stored notifications by channel and status.");
            for ((channel, status), n) in &g.alerts {
                sample(&mut out, "yuqing_alerts", &[("channel", channel), ("status", status)], *n);
            }
            family(&mut out, "yuqing_outbox_pending", "gauge", "Notifications waiting to be delivered.");
            sample(&mut out, "yuqing_outbox_pending", &[], g.outbox_pending);
            family(
                &mut out,
                "yuqing_outbox_held",
                "gauge",
                "Pending notifications held back until later (quiet hours, a robot's rate limit, the SMS cap); they go out as digests.",
            );
            for reason in ["quiet", "rate", "cap"] {
                let n = g.outbox_held.iter().find(|(r, _)| r == reason).map_or(0, |(_, n)| *n);
                sample(&mut out, "yuqing_outbox_held", &[("reason", reason)], n);
            }
            family(
                &mut out,
                "yuqing_outbox_oldest_pending_seconds",
                "gauge",
                "Age of the oldest notification waiting to be delivered (0 when none).",
            );
            let age = g.oldest_pending_at.map_or(0, |t| (now - t).num_seconds().max(0));
            sample(&mut out, "yuqing_outbox_oldest_pending_seconds", &[], age);
        }
        if let Some(d) = &snapshot.disk {
            family(&mut out, "yuqing_database_bytes", "gauge", "Size of the SQLite database and its write-ahead log.");
            sample(&mut out, "yuqing_database_bytes", &[("file", "db")], d.database);
            sample(&mut out, "yuqing_database_bytes", &[("file", "wal")], d.wal);
            family(&mut out, "yuqing_disk_free_bytes", "gauge", "Free space on the database's filesystem.");
            sample(&mut out, "yuqing_disk_free_bytes", &[], d.available);
        }
        if let Some(n) = snapshot.breached_events {
            family(&mut out, "yuqing_deadline_breaches", "gauge", "Open events with at least one missed deadline.");
            sample(&mut out, "yuqing_deadline_breaches", &[], n);
        }
        if let Some(by_clock) = &snapshot.breaches {
            family(
                &mut out,
                "yuqing_deadline_breaches_by_clock",
                "gauge",
                "Open events that missed a deadline, by clock.",
            );
            for (clock, n) in by_clock {
                sample(&mut out, "yuqing_deadline_breaches_by_clock", &[("clock", clock)], *n);
            }
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_label(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label value as the exposition format wants it: backslash, quote and newline escaped.
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// Open (graded, owned, not closed) events whose deadline clocks stand at
/// [`Outcome::Missed`] at `now` — the same rule as the timeline and the report
/// ([`clock_outcome`]). Returns (events with any missed clock, events per clock).
pub fn deadline_breaches(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<(u64, BTreeMap<&'static str, u64>), StoreError> {
    let mut events = 0;
    let mut by_clock: BTreeMap<&'static str, u64> = BTreeMap::new();
    for event in store.ladder_events(now - chrono::Duration::days(BREACH_HORIZON_DAYS))? {
        let progress = Progress {
            created_at: event.created_at,
            owned_since: event.since,
            accepted_at: event.accepts.first().map(|(_, at)| *at),
            feedback: &event.feedback,
            held: config.delivery.held(Some(event.grade)),
        };
        let mut missed = false;
        for (kind, span) in config.response.deadlines.for_grade(event.grade) {
            if let (_, Outcome::Missed) = clock_outcome(*kind, *span, &config.calendar, &progress, now) {
                *by_clock.entry(kind.as_str()).or_default() += 1;
                missed = true;
            }
        }
        events += u64::from(missed);
    }
    Ok((events, by_clock))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_in_the_exposition_format() {
        let m = Metrics::new();
        m.record_run("gov", RunOutcomeLabel::Ok, 3, 2, Duration::from_millis(700));
        m.record_run("gov", RunOutcomeLabel::Error, 0, 0, Duration::from_secs(3));
        m.record_run("a\"b", RunOutcomeLabel::NotModified, 0, 0, Duration::from_millis(50));
        m.add_bytes("gov", 1000);
        m.add_bytes("gov", 24);
        m.record_reload(true, DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default());
        m.record_reload(false, Utc::now());
        let text = m.render(&Snapshot::default(), Utc::now());
        for line in [
            "# TYPE yuqing_source_runs_total counter",
            "yuqing_source_runs_total{source=\"gov\",outcome=\"ok\"} 1",
            "yuqing_source_runs_total{source=\"gov\",outcome=\"error\"} 1",
            "yuqing_source_runs_total{source=\"a\\\"b\",outcome=\"not_modified\"} 1",
            "yuqing_source_errors_total{source=\"gov\"} 1",
            "yuqing_source_run_seconds_bucket{source=\"gov\",le=\"0.5\"} 0",
            "yuqing_source_run_seconds_bucket{source=\"gov\",le=\"1\"} 1",
            "yuqing_source_run_seconds_bucket{source=\"gov\",le=\"5\"} 2",
            "yuqing_source_run_seconds_bucket{source=\"gov\",le=\"+Inf\"} 2",
            "yuqing_source_run_seconds_sum{source=\"gov\"} 3.7",
            "yuqing_source_run_seconds_count{source=\"gov\"} 2",
            "yuqing_fetched_bytes_total{source=\"gov\"} 1024",
            "yuqing_documents_total 3",
            "yuqing_hits_total 2",
            "yuqing_config_reloads_total{result=\"success\"} 1",
            "yuqing_config_reloads_total{result=\"failure\"} 1",
            "yuqing_config_last_reload_successful 0",
            "yuqing_config_last_reload_success_timestamp_seconds 1800000000",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
        // Every sample line is `name{labels} value` with a numeric value.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let value = l.rsplit(' ').next().unwrap_or_default();
            assert!(value.parse::<f64>().is_ok(), "{l}");
        }
    }

    #[test]
    fn store_gauges_render_with_their_labels() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let gauges = Gauges {
            events_by_grade: vec![("II".into(), 2), ("none".into(), 1)],
            alerts: vec![(("email".into(), "pending".into()), 1), (("email".into(), "sent".into()), 4)],
            outbox_pending: 1,
            outbox_held: vec![("quiet".into(), 19)],
            oldest_pending_at: Some(now - chrono::Duration::seconds(90)),
            last_sent_at: None,
        };
        let snapshot = Snapshot {
            gauges: Some(gauges),
            breaches: Some(BTreeMap::from([("accept", 1)])),
            breached_events: Some(1),
            scheduler_heartbeat: Some(now),
            disk: Some(crate::store::disk::DiskUsage { database: 4096, wal: 0, available: 1 << 30, total: 2 << 30 }),
        };
        let text = Metrics::new().render(&snapshot, now);
        for line in [
            "yuqing_events{grade=\"II\"} 2",
            "yuqing_alerts{channel=\"email\",status=\"sent\"} 4",
            "yuqing_outbox_pending 1",
            "yuqing_outbox_held{reason=\"quiet\"} 19",
            "yuqing_outbox_held{reason=\"cap\"} 0",
            "yuqing_outbox_oldest_pending_seconds 90",
            "yuqing_deadline_breaches 1",
            "yuqing_deadline_breaches_by_clock{clock=\"accept\"} 1",
            "yuqing_scheduler_heartbeat_timestamp_seconds 1800000000",
            "yuqing_database_bytes{file=\"db\"} 4096",
            "yuqing_disk_free_bytes 1073741824",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
    }
}
