//! Metrics, health and logs of the running daemon: `/metrics` answers with the expected
//! series and plausible values after a run, `/healthz` with 200; `--log-format json` gives
//! one summary line per source run with its fields; no configured secret ever reaches the
//! log, not even at debug level or in the diagnostics of a broken reload.

mod support;

use std::time::Duration;

use support::{Daemon, FILE_MAIL, HttpServer, Project, Route, free_port, http_get, rss, source, wait_for};

const LIMIT: Duration = Duration::from_secs(30);

/// The value of the sample line `series` (name and labels exactly), if present.
fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn metrics_and_health_answer_with_the_expected_series() {
    let server = HttpServer::start();
    let body = rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账"), ("f2", "天气预报", "明天晴")]);
    server.route("/forum.xml", Route::ok("application/rss+xml", body.clone()));
    let port = free_port();
    let p = Project::new(&source("forum", &server.url("/forum.xml")), FILE_MAIL);
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    p.write("yuqing.toml", format!("{toml}\n[http]\nlisten = \"127.0.0.1:{port}\"\n"));
    let daemon = Daemon::start(&p);
    let mut metrics = String::new();
    wait_for(LIMIT, "the run and the delivered alert in /metrics", || {
        metrics = http_get(port, "/metrics").1;
        value(&metrics, "yuqing_alerts{channel=\"email\",status=\"sent\"}") == Some(1.0)
    });
    let m = |series: &str| value(&metrics, series).unwrap_or_else(|| panic!("no {series} in:\n{metrics}"));
    assert_eq!(m("yuqing_source_runs_total{source=\"forum\",outcome=\"ok\"}"), 1.0);
    assert_eq!(m("yuqing_source_run_seconds_count{source=\"forum\"}"), 1.0);
    let took = m("yuqing_source_run_seconds_sum{source=\"forum\"}");
    assert!(took > 0.0 && took < 30.0, "{took}");
    assert_eq!(m("yuqing_source_run_seconds_bucket{source=\"forum\",le=\"+Inf\"}"), 1.0);
    assert_eq!(m("yuqing_fetched_bytes_total{source=\"forum\"}"), body.len() as f64);
    assert_eq!(m("yuqing_documents_total"), 2.0);
    assert!(m("yuqing_hits_total") >= 1.0);
    assert_eq!(m("yuqing_alerts_queued_total"), 1.0);
    assert_eq!(m("yuqing_outbox_pending"), 0.0);
    assert_eq!(m("yuqing_outbox_oldest_pending_seconds"), 0.0);
    assert_eq!(m("yuqing_deadline_breaches"), 0.0);
    assert_eq!(m("yuqing_config_reloads_total{result=\"success\"}"), 1.0);
    assert_eq!(m("yuqing_config_reloads_total{result=\"failure\"}"), 0.0);
    assert_eq!(m("yuqing_config_last_reload_successful"), 1.0);
    let now = chrono::Utc::now().timestamp() as f64;
    let loaded = m("yuqing_config_last_reload_success_timestamp_seconds");
    assert!((now - loaded).abs() < 120.0, "{loaded} vs {now}");
    assert!((now - m("yuqing_scheduler_heartbeat_timestamp_seconds")).abs() < 120.0);
    let events: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("yuqing_events{grade="))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(events, 1.0, "one event, whatever its grade:\n{metrics}");
    for family in ["yuqing_source_runs_total counter", "yuqing_source_run_seconds histogram", "yuqing_events gauge"] {
        assert!(metrics.contains(&format!("# TYPE {family}\n")), "{family}");
    }
    assert!(!metrics.contains("yuqing_source_errors_total{"), "no errors:\n{metrics}");

    let (status, body) = http_get(port, "/healthz");
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    // A failing source counts as an error.
    server.route("/forum.xml", Route::status(500));
    let toml = std::fs::read_to_string(p.path().join("sources.toml")).expect("sources");
    p.write("sources.toml", toml.replace("forum", "forum2"));
    wait_for(LIMIT, "the failed run in /metrics", || {
        metrics = http_get(port, "/metrics").1;
        value(&metrics, "yuqing_source_errors_total{source=\"forum2\"}") == Some(1.0)
    });
    assert_eq!(value(&metrics, "yuqing_source_runs_total{source=\"forum2\",outcome=\"error\"}"), Some(1.0));
    assert_eq!(value(&metrics, "yuqing_config_reloads_total{result=\"success\"}"), Some(2.0));
    drop(daemon);
}

#[test]
fn json_logs_have_one_summary_line_per_run_and_no_secret_is_ever_logged() {
    const SMTP_PASSWORD: &str = "Smtp-Pa55-7c1e9";
    const ROBOT_KEY: &str = "robot-key-5f0aa2d1";
    const DING_SECRET: &str = "SECd41d8cd98f00b204e9800998ecf8427e";
    const INLINE: &str = "inline-pa55-0b9d";
    let server = HttpServer::start();
    server.route(
        "/forum.xml",
        Route::ok("application/rss+xml", rss(&[("f1", "抚恤金迟迟不到账", "抚恤金三个月没到账")])),
    );
    // SMTP to a port nothing listens on: every delivery fails and is logged.
    let smtp = free_port();
    let mail = format!(
        "[mail]\ntransport = \"smtp\"\nhost = \"127.0.0.1\"\nport = {smtp}\ntls = \"none\"\nusername = \"yuqing\"\npassword_file = \"smtp-password\"\nfrom = \"舆情监测 <yuqing@example.gov.cn>\"\nto = [\"gkb@example.gov.cn\"]\ntimeout_secs = 2\nretry_initial_secs = 1\nretry_max_secs = 2\n"
    );
    let robots = "[[robots]]\nid = \"gkb-wecom\"\nkind = \"wecom\"\ntoken_file = \"wecom-webhook\"\n\n[[robots]]\nid = \"gkb-ding\"\nkind = \"dingtalk\"\ntoken_file = \"ding-webhook\"\nsecret_file = \"ding-secret\"\n";
    let p = Project::new(&source("forum", &server.url("/forum.xml")), &format!("{mail}\n{robots}"));
    p.write("smtp-password", SMTP_PASSWORD);
    p.write("wecom-webhook", format!("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={ROBOT_KEY}"));
    p.write("ding-webhook", format!("https://oapi.dingtalk.com/robot/send?access_token={ROBOT_KEY}"));
    p.write("ding-secret", DING_SECRET);
    assert_eq!(p.run(&["check"]).code, Some(0), "{}", p.run(&["check"]).stdout);
    let mut daemon = Daemon::start_with(p.command().env("YUQING_LOG", "debug").args(["--log-format", "json", "run"]));
    daemon.wait_log(LIMIT, "\"source\":\"forum\"", 1);
    daemon.wait_log(LIMIT, "will retry", 1);

    // A broken reload whose diagnostic concerns an inline password.
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    p.write("yuqing.toml", toml.replace("password_file = \"smtp-password\"", &format!("password = \"{INLINE}\"")));
    daemon.wait_log(LIMIT, "configuration reload failed", 1);

    let log = daemon.log();
    for secret in [SMTP_PASSWORD, ROBOT_KEY, DING_SECRET, INLINE] {
        assert!(!log.contains(secret), "secret {secret} in the log:\n{log}");
    }
    // One JSON object per line; exactly one summary line for the one run of the source.
    let lines: Vec<serde_json::Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let runs: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["source"] == "forum" && l["outcome"].is_string() && l["duration_ms"].is_number())
        .collect();
    assert_eq!(runs.len(), 1, "{log}");
    assert_eq!(runs[0]["outcome"], "ok");
    assert_eq!(runs[0]["new"], 1);
    assert!(runs[0]["hits"].as_u64().is_some_and(|h| h >= 1), "{}", runs[0]);
    let reload_error = lines.iter().find(|l| l["line"].is_number() && l["level"] == "ERROR").expect("diagnostic line");
    assert!(reload_error["file"].as_str().is_some_and(|f| f.ends_with("yuqing.toml")), "{reload_error}");
}
