//! One-click links end to end: the running daemon mails an alert with a signed link for
//! each person on the first rung; opening it changes nothing, confirming it accepts once,
//! and a second click, a tampered, expired or unknown-person link are refused with a page.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{Project, wait_for};
use yuqing::workflow::links::{Claim, LinkAction, LinkKey, sign};

/// `(status, body)` of one HTTP/1.1 request to the daemon.
fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[test]
fn links_accept_once_and_refuse_tampered_expired_and_unknown_people() {
    let port = support::free_port();
    let p = Project::with_org(&support::source("forum", "forum.xml"));
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    p.write(
        "yuqing.toml",
        format!("{toml}\n[http]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}/\"\n"),
    );
    p.write("keywords/preferential.txt", "@section = preferential\n@weight = 2\n抚恤金\n");
    p.write("forum.xml", support::rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账")]));
    let mut daemon = p.spawn_daemon();
    let outbox = p.path().join("outbox");
    wait_for(Duration::from_secs(30), "the alert mailed", || !support::eml_files(&outbox).is_empty());
    let mail = std::fs::read_to_string(&support::eml_files(&outbox)[0]).expect("eml");
    let text = support::text_part(&mail);
    let line = text.lines().find(|l| l.contains("王科员受理：")).unwrap_or_else(|| panic!("no link in:\n{text}"));
    let url = line.split_once('：').map(|(_, u)| u.trim().to_string()).expect("url");
    let prefix = format!("http://127.0.0.1:{port}/a/");
    assert!(url.starts_with(&prefix), "{url}");
    let path = &url[prefix.len() - 3..];
    let event = p.store().recent_events(1).expect("events").remove(0).id;
    let accepts = || {
        let t = p.store().event_timeline(event).expect("timeline").expect("event");
        t.actions.iter().filter(|a| a.action == "accept").map(|a| a.actor.clone()).collect::<Vec<_>>()
    };

    // Opening the link (as a mail scanner would) only shows what it will do.
    let (status, page) = http(port, "GET", path, "");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("确认受理") && page.contains("王科员（wang）"), "{page}");
    assert!(accepts().is_empty(), "a GET changed nothing");

    // Confirming accepts, once; a second click says so and records nothing more.
    let (status, page) = http(port, "POST", path, "note=%E5%B7%B2%E8%81%94%E7%B3%BB");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("已办理") && page.contains("受理"), "{page}");
    assert_eq!(accepts(), vec!["wang".to_string()]);
    let (status, page) = http(port, "POST", path, "");
    assert_eq!(status, 200);
    assert!(page.contains("该链接已使用过"), "{page}");
    assert_eq!(accepts(), vec!["wang".to_string()], "no second accept");

    // Tampered: one character of the token changed.
    let mut tampered = path.to_string().into_bytes();
    let i = tampered.len() - 5;
    tampered[i] = if tampered[i] == b'x' { b'y' } else { b'x' };
    let (status, page) = http(port, "POST", &String::from_utf8(tampered).expect("ascii"), "");
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("链接无效"), "{page}");

    // Expired, and for someone not (or no longer) in the organisation: signed with the real key.
    let key = LinkKey::new(&p.store().link_key().expect("key"));
    let claim =
        |person: &str, expires| Claim { event_id: event, person: person.into(), action: LinkAction::Accept, expires };
    let expired = sign(&key, &claim("li", chrono::Utc::now() - chrono::Duration::minutes(1)));
    let (status, page) = http(port, "POST", &format!("/a/{expired}"), "");
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("链接已过期"), "{page}");
    let ghost = sign(&key, &claim("ghost", chrono::Utc::now() + chrono::Duration::hours(1)));
    let (status, page) = http(port, "POST", &format!("/a/{ghost}"), "");
    assert_eq!(status, 403, "{page}");
    // The wrong person: a link forged for the principal under another key.
    let forged =
        sign(&LinkKey::new(b"not the daemon's key"), &claim("chen", chrono::Utc::now() + chrono::Duration::hours(1)));
    let (status, _) = http(port, "POST", &format!("/a/{forged}"), "");
    assert_eq!(status, 400);
    assert_eq!(accepts(), vec!["wang".to_string()], "refused links changed nothing");

    let (status, body) = http(port, "GET", "/healthz", "");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    assert_eq!(http(port, "GET", "/nothing", "").0, 404);
    let _ = daemon.kill();
    let _ = daemon.wait();
}
