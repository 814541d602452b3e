//! The daemon on the real clock: one run per source per due time. Regression for the
//! flood where `yuqing run` ran a source back to back for the whole second of its
//! scheduled minute (hundreds of GETs of one URL), which `run --once` could not show.
//!
//! One test, about two and a half minutes of wall time: four sources on a loopback HTTP
//! server — every minute, every second minute, one failing (500: one quick retry, then
//! the five-minute backoff) and one answering 503 with `Retry-After: 90`. Every request
//! the server saw is checked against the minute boundaries that passed, and the daemon's
//! own `yuqing_source_runs_total` must count the same runs.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{Daemon, FILE_MAIL, HttpServer, Project, Route, free_port, http_get, rss};

/// How long after a minute boundary its run may start (scheduler wake-up, the run itself).
const SLACK: f64 = 4.0;

fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).expect("after 1970").as_secs_f64()
}

fn source(id: &str, url: &str, schedule: &str) -> String {
    format!(
        "[[source]]\nid = \"{id}\"\nname = \"信源 {id}\"\nkind = \"feed\"\nurl = \"{url}\"\nschedule = \"{schedule}\"\n\n"
    )
}

/// The sum of `yuqing_source_runs_total` over outcomes for one source.
fn runs_metric(metrics: &str, id: &str) -> f64 {
    let prefix = format!("yuqing_source_runs_total{{source=\"{id}\",");
    metrics.lines().filter(|l| l.starts_with(&prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

#[test]
fn the_daemon_runs_each_source_once_per_due_time_on_the_real_clock() {
    // Start well inside a minute, so the start-up run and the first boundary's run are
    // clearly two runs.
    loop {
        let second = secs(SystemTime::now()) % 60.0;
        if (2.0..45.0).contains(&second) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let server = HttpServer::start();
    let feed = rss(&[("a1", "天气预报", "明天晴")]);
    server.route("/every.xml", Route::ok("application/rss+xml", feed.clone()));
    server.route("/even.xml", Route::ok("application/rss+xml", feed));
    server.route("/failing.xml", Route::status(500));
    let mut busy = Route::status(503);
    busy.headers.push(("Retry-After".into(), "90".into()));
    server.route("/busy.xml", busy);
    let sources = [
        source("every", &server.url("/every.xml"), "* * * * *"),
        source("even", &server.url("/even.xml"), "*/2 * * * *"),
        source("failing", &server.url("/failing.xml"), "* * * * *"),
        source("busy", &server.url("/busy.xml"), "* * * * *"),
    ]
    .concat();
    let p = Project::new(&sources, FILE_MAIL);
    let port = free_port();
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    p.write("yuqing.toml", format!("{toml}\n[http]\nlisten = \"127.0.0.1:{port}\"\n"));

    let start = secs(SystemTime::now());
    let mut daemon = Daemon::start(&p);
    // At least two minutes, ending a few seconds after a boundary so its runs are in.
    let end = ((start + 120.0) / 60.0).ceil() * 60.0 + SLACK + 2.0;
    while secs(SystemTime::now()) < end {
        assert!(daemon.running(), "the daemon exited:\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(500));
    }
    let metrics = http_get(port, "/metrics").1;
    let boundaries: Vec<f64> =
        (1..).map(|k| (start / 60.0).floor() * 60.0 + 60.0 * f64::from(k)).take_while(|b| b + SLACK < end).collect();
    assert!(boundaries.len() >= 2, "{boundaries:?}");
    let times = |path: &str| -> Vec<f64> { server.requests(path).iter().map(|r| secs(r.at)).collect() };
    let describe = |path: &str| -> String {
        let t = times(path);
        format!(
            "{path}: {} requests at {:?} (start {start:.1}, boundaries {boundaries:?})",
            t.len(),
            t.iter().map(|x| x - start).collect::<Vec<_>>()
        )
    };
    // Each request after the first falls just after a boundary of the schedule.
    let on_boundaries = |path: &str, expected: &[f64]| {
        let t = times(path);
        assert!(!t.is_empty() && t[0] - start < 10.0, "a first run at start-up: {}", describe(path));
        assert_eq!(t.len(), 1 + expected.len(), "one run at start-up, then one per due time: {}", describe(path));
        for (seen, due) in t[1..].iter().zip(expected) {
            assert!(*seen >= *due && *seen < due + SLACK, "run for {due} at {seen}: {}", describe(path));
        }
    };

    on_boundaries("/every.xml", &boundaries);
    let even: Vec<f64> = boundaries.iter().copied().filter(|b| (b / 60.0).round() as i64 % 2 == 0).collect();
    on_boundaries("/even.xml", &even);
    // One failure: retried at the next minute; two in a row: five minutes' rest.
    on_boundaries("/failing.xml", &boundaries[..1]);
    // Retry-After: 90 — the first boundary at least 90 s after the first failure, then
    // (two failures) the five-minute backoff.
    let first_busy = times("/busy.xml").first().copied().unwrap_or(start);
    let after_retry: Vec<f64> = boundaries.iter().copied().filter(|b| *b >= first_busy + 90.0).take(1).collect();
    on_boundaries("/busy.xml", &after_retry);

    for (id, path) in
        [("every", "/every.xml"), ("even", "/even.xml"), ("failing", "/failing.xml"), ("busy", "/busy.xml")]
    {
        assert_eq!(runs_metric(&metrics, id), times(path).len() as f64, "{id}: the metric counts each run:\n{metrics}");
    }
    drop(daemon);
}
