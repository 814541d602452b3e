//! Concurrent email delivery over a pool of SMTP connections (`[mail] connections`), against
//! a real SMTP server (aiosmtpd) that refuses some transactions: every alert arrives exactly
//! once, the pool never opens more transactions at once than it has connections, and the
//! refused ones are retried.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;

use support::{HttpServer, Project, Route, SmtpServer, free_port, header, rss, smtp_mail, source};

/// `n` matching items, each a story of its own (no two share enough wording to be one
/// event), so that each queues one alert due now.
fn distinct_stories(n: usize) -> String {
    const HAN: &str = "东南西北春夏秋冬山水林田湖草金木火土日月星辰江河湖海风雨雷电松竹梅兰桃李杏梨";
    let han: Vec<char> = HAN.chars().collect();
    let items: Vec<(String, String, String)> = (0..n)
        .map(|i| {
            let word: String = (0..6).map(|k| han[(i * 7 + k * 13 + k * k * i) % han.len()]).collect();
            (format!("s{i}"), format!("{word}抚恤金第{i}号"), format!("{word}{i}反映"))
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = items.iter().map(|(g, t, d)| (g.as_str(), t.as_str(), d.as_str())).collect();
    rss(&refs)
}

/// Runs `run --once` until the outbox is empty (at most `runs` times); returns the runs made.
fn deliver_all(p: &Project, runs: usize) -> usize {
    for run in 1..=runs {
        let out = p.run(&["run", "--once"]);
        assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
        if p.store().outbox_status().expect("status").pending == 0 {
            return run;
        }
    }
    panic!("alerts still pending after {runs} runs: {:?}", p.store().outbox_status());
}

fn received_ids(smtp: &SmtpServer) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    for m in smtp.messages() {
        *ids.entry(header(&m, "Message-ID").expect("Message-ID")).or_insert(0) += 1;
    }
    ids
}

fn project(stories: usize, port: u16, connections: usize) -> (HttpServer, Project) {
    let server = HttpServer::start();
    server.route("/rss.xml", Route::ok("application/rss+xml", distinct_stories(stories)));
    let mail = format!("{}connections = {connections}\n", smtp_mail(port));
    let p = Project::new(&source("news", &server.url("/rss.xml")), &mail);
    (server, p)
}

#[test]
fn a_pool_of_four_delivers_every_alert_exactly_once_while_the_server_refuses_every_fifth() {
    let port = free_port();
    let maildir = tempfile::tempdir().expect("maildir");
    let smtp = SmtpServer::start_flaky(port, maildir.path(), 5);
    let (_server, p) = project(40, port, 4);

    let runs = deliver_all(&p, 8);
    assert!(runs >= 2, "refused transactions are retried in a later run");

    let ids = received_ids(&smtp);
    assert_eq!(ids.len(), 40, "one message per alert: {ids:?}");
    assert!(ids.values().all(|&n| n == 1), "no alert twice: {ids:?}");
    let (most, seen) = smtp.stats();
    assert!((2..=4).contains(&most), "transactions open at once: {most}");
    assert!(seen > 40, "the refused ones were tried again: {seen}");

    // Every alert is recorded sent, with one failed attempt for each refusal.
    let store = p.store();
    let rows = store.outbox_rows(yuqing::store::OutboxFilter::All, 100).expect("outbox");
    assert_eq!(rows.len(), 40);
    assert!(rows.iter().all(|r| r.status == "sent"), "{rows:?}");
    let attempts: usize = rows.iter().map(|r| store.alert_attempts(r.id).expect("attempts").len()).sum();
    assert_eq!(attempts, seen, "one recorded attempt per transaction the server saw");
}

#[test]
fn one_connection_sends_one_message_at_a_time_and_still_delivers_everything_once() {
    let port = free_port();
    let maildir = tempfile::tempdir().expect("maildir");
    let smtp = SmtpServer::start_flaky(port, maildir.path(), 7);
    let (_server, p) = project(15, port, 1);

    deliver_all(&p, 8);
    let ids = received_ids(&smtp);
    assert_eq!(ids.len(), 15, "{ids:?}");
    assert!(ids.values().all(|&n| n == 1), "{ids:?}");
    assert_eq!(smtp.stats().0, 1, "never two transactions at once over one connection");
}

#[test]
fn connections_out_of_range_is_a_config_error_in_chinese() {
    for bad in ["0", "33", "-1"] {
        let p = Project::new(
            &source("news", "http://127.0.0.1:9/rss.xml"),
            &format!("{}connections = {bad}\n", smtp_mail(25)),
        );
        let out = p.run(&["check"]);
        assert_ne!(out.code, Some(0), "connections = {bad}: {}", out.stdout);
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(all.contains("[mail] connections 应为 1 到 32 之间的整数"), "connections = {bad}: {all}");
        assert!(all.contains("yuqing.toml:"), "with the file and line: {all}");
    }
}
