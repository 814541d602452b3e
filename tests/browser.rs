//! The web console in a real browser (headless Chromium, installed by `scripts/test.sh`):
//! sign in, open the dashboard, open the event, accept it and see it accepted — the ladder
//! stops. Screenshots of the dashboard and the event page are written to
//! `target/console-dashboard.png` and `target/console-event.png` for a reviewer. Where no
//! Chromium can be found, or under `scripts/test-clock.sh`'s moved clock, the test says so and
//! passes without running.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions};
use support::{Project, wait_for};

fn chromium() -> Option<PathBuf> {
    std::env::var_os("YUQING_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].map(PathBuf::from))
        .find(|p| p.exists())
}

fn screenshot(tab: &headless_chrome::Tab, name: &str) {
    let png = tab.capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true).expect("screenshot");
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&target).expect("target dir");
    std::fs::write(target.join(name), png).expect("write screenshot");
}

#[test]
fn sign_in_open_the_event_and_accept_it_in_a_browser() {
    let Some(chrome) = chromium() else {
        eprintln!("SKIPPED: no Chromium found (scripts/test.sh installs Debian's chromium; or set YUQING_CHROMIUM)");
        return;
    };
    if std::env::var_os("FAKETIME").is_some() {
        // scripts/test-clock.sh: under libfaketime the browser protocol's waits never end
        // (tried with Chromium itself on the real clock); this test runs in scripts/test.sh.
        eprintln!("SKIPPED under a moved clock (FAKETIME): the browser test runs on the real clock only");
        return;
    }
    let port = support::free_port();
    let p = Project::with_org(&support::source("forum", "forum.xml"));
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    p.write("yuqing.toml", format!("{toml}\n[http]\nlisten = \"127.0.0.1:{port}\"\n"));
    p.write("keywords/preferential.txt", "@section = preferential\n@weight = 2\n抚恤金\n");
    p.write(
        "forum.xml",
        support::rss(&[
            ("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账，多次询问没有答复"),
            ("f2", "优抚对象抚恤金发放情况说明", "关于抚恤金发放的情况说明"),
        ]),
    );
    let mut passwd = p
        .command()
        .args(["user", "passwd", "wang"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    passwd.stdin.take().expect("stdin").write_all(b"wang-secret-1\n").expect("write");
    assert!(passwd.wait().expect("wait").success());
    let daemon = support::Daemon::start_with_an_event(&p);

    let options = LaunchOptions::default_builder()
        .path(Some(chrome))
        .headless(true)
        .sandbox(false)
        .window_size(Some((1280, 900)))
        .idle_browser_timeout(Duration::from_secs(60))
        .build()
        .expect("launch options");
    let browser = Browser::new(options).expect("start chromium");
    let tab = browser.new_tab().expect("tab");
    tab.set_default_timeout(Duration::from_secs(20));
    let base = format!("http://127.0.0.1:{port}");

    // Not signed in: the dashboard leads to the sign-in page.
    tab.navigate_to(&format!("{base}/")).expect("open").wait_until_navigated().expect("navigated");
    assert!(tab.get_url().ends_with("/login"), "{}", tab.get_url());
    tab.find_element("input[name=person]").expect("person field").type_into("wang").expect("type");
    tab.find_element("input[name=password]").expect("password field").type_into("wang-secret-1").expect("type");
    tab.find_element("button[type=submit]").expect("button").click().expect("click");
    tab.wait_until_navigated().expect("signed in");
    wait_for(Duration::from_secs(10), "the dashboard", || tab.get_url() == format!("{base}/"));
    let dashboard = tab.get_content().expect("content");
    assert!(dashboard.contains("工作台") && dashboard.contains("抚恤金迟迟不到账"), "{dashboard}");
    screenshot(&tab, "console-dashboard.png");

    // The event page, then accept it.
    tab.find_element("a[href^='/events/']").expect("event link").click().expect("click");
    wait_for(Duration::from_secs(10), "the event page", || tab.get_url().contains("/events/"));
    tab.wait_until_navigated().expect("event page");
    let event_url = tab.get_url();
    let id: i64 = event_url.rsplit('/').next().and_then(|s| s.parse().ok()).expect("event id");
    assert!(tab.get_content().expect("content").contains("时间线"));
    screenshot(&tab, "console-event.png");
    tab.find_element(&format!("form[action='/events/{id}/accept'] button"))
        .expect("accept button")
        .click()
        .expect("click");
    tab.wait_until_navigated().expect("accepted");
    wait_for(Duration::from_secs(10), "the result", || tab.get_content().is_ok_and(|c| c.contains("已办理：受理")));
    let page = tab.get_content().expect("content");
    assert!(page.contains("已受理"), "{page}");
    let t = p.store().event_timeline(id).expect("timeline").expect("event");
    assert_eq!(
        t.actions.iter().map(|a| (a.action.as_str(), a.actor.as_str())).collect::<Vec<_>>(),
        [("accept", "wang")]
    );

    drop(daemon);
}
