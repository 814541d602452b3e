//! The escalation ladder on a virtual clock: reminders come due per grade, reach each person
//! once, and stop when someone accepts (`yuqing event accept`). No sleeping: the test calls
//! `escalate` with the times it wants.

mod support;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use support::Project;

#[test]
fn reminders_climb_the_ladder_once_each_and_stop_at_accept() {
    let p = Project::with_org(&support::source("forum", "forum.xml"));
    // The ladder on the wall clock: without the working-hours accept clock, whose marks
    // would depend on the hour the test runs (it has its own test below).
    let (org, mail) = (support::ORG, support::FILE_MAIL);
    p.write(
        "yuqing.toml",
        format!("{org}\n[deadlines.IV]\nresponse_hours = 48\n[storage]\npath = \"state/yuqing.db\"\n{mail}"),
    );
    p.write("keywords/preferential.txt", "@section = preferential\n@weight = 2\n抚恤金\n");
    p.write("forum.xml", support::rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账")]));
    let start = Utc::now();
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let config = yuqing::config::Config::load(p.path()).config.expect("valid config");
    let mut store = p.store();
    let event = store.recent_events(1).expect("events").remove(0);
    assert_eq!(event.grade, Some(yuqing::response::Grade::IV));

    let escalate = |store: &mut yuqing::store::Store, after: Duration| {
        yuqing::escalation::escalate(store, &config, start + after).expect("escalate")
    };
    assert_eq!(escalate(&mut store, Duration::hours(3)), 0, "grade IV: the head only after 4 h");
    assert_eq!(escalate(&mut store, Duration::minutes(4 * 60 + 1)), 1, "the head, 李科长");
    assert_eq!(escalate(&mut store, Duration::minutes(4 * 60 + 2)), 0, "once per person and step");
    let pending = store.due_alerts(None, 10).expect("outbox");
    let reminder = pending.iter().find(|a| a.message.body_text.starts_with("舆情催办")).expect("a reminder");
    assert_eq!(reminder.message.recipients, vec!["李科长 <li@example.gov.cn>".to_string()]);
    assert!(reminder.message.subject.starts_with("Re: 【舆情提示】"), "{}", reminder.message.subject);
    assert!(reminder.message.body_text.contains(&format!("yuqing event accept {} --by li", event.id)));
    assert!(reminder.thread.is_some(), "threaded to the event's first alert");

    let run = p.run(&["event", "accept", &event.id.to_string(), "--by", "li", "--note", "已联系家属"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("已由 李科长（li）受理"), "{}", run.stdout);
    // Accepting stops the ladder (the leader's step at 24 h is not sent), not the clocks: the
    // 48 h response clock is half gone at 24 h, which reaches the liaison and the head.
    assert_eq!(escalate(&mut store, Duration::hours(30)), 2, "the response clock's 50 % mark");
    let pending = store.due_alerts(None, 20).expect("outbox");
    let supervision: Vec<_> = pending.iter().filter(|a| a.message.body_text.starts_with("舆情督办")).collect();
    assert_eq!(supervision.len(), 2);
    assert!(
        supervision[0].message.body_text.contains("距“回应”时限（48 小时）已过 50%"),
        "{}",
        supervision[0].message.body_text
    );
    assert!(!pending.iter().any(|a| a.message.recipients == vec!["陈局长 <chen@example.gov.cn>".to_string()]));

    assert_eq!(p.run(&["event", "accept", "999", "--by", "li"]).code, Some(1));
    assert_eq!(p.run(&["event", "accept", &event.id.to_string(), "--by", "nobody"]).code, Some(1));

    // Transfer (转办): the ladder restarts in the new section, from its liaison.
    let id = event.id.to_string();
    let run = p.run(&["event", "transfer", &id, "--to", "office", "--by", "chen", "--reason", "涉及多个科室"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("转办至 office"), "{}", run.stdout);
    assert_eq!(p.run(&["event", "transfer", &id, "--to", "nowhere", "--by", "chen", "--reason", "x"]).code, Some(1));
    let later = Utc::now() - start + Duration::minutes(1);
    assert_eq!(escalate(&mut store, later), 1, "the office's liaison at once");
    let pending = store.due_alerts(None, 10).expect("outbox");
    assert!(pending.iter().any(|a| a.message.recipients == vec!["许科员 <xu@example.gov.cn>".to_string()]));

    // Feedback and close: nothing more is sent.
    let run =
        p.run(&["event", "feedback", &id, "--by", "xu", "--kind", "online", "--link", "https://example.gov.cn/a"]);
    assert!(run.stdout.contains("反馈（网上发布）"), "{}", run.stdout);
    assert_eq!(p.run(&["event", "feedback", &id, "--by", "xu", "--kind", "tweet"]).code, Some(1));
    assert_eq!(p.run(&["event", "close", &id, "--by", "chen"]).code, Some(0));
    assert_eq!(escalate(&mut store, Duration::hours(60)), 0, "closed");
}

/// Beijing time "2026-02-13 16:00" as an instant.
fn bj(s: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time");
    chrono_tz::Asia::Shanghai.from_local_datetime(&naive).single().expect("no DST in China").with_timezone(&Utc)
}

#[test]
fn accept_marks_count_working_hours_and_reach_the_owners_people() {
    let p = Project::with_org(&support::source("forum", "forum.xml"));
    let (org, mail) = (support::ORG, support::FILE_MAIL);
    let calendar = "[calendar]\nfile = \"calendar.toml\"\n";
    p.write("yuqing.toml", format!("{org}\n{calendar}[storage]\npath = \"state/yuqing.db\"\n{mail}"));
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("calendar.toml");
    p.write("calendar.toml", std::fs::read_to_string(shipped).expect("the shipped calendar"));
    p.write("keywords/preferential.txt", "@section = preferential\n@weight = 2\n抚恤金\n");
    p.write("forum.xml", support::rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账")]));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let config = yuqing::config::Config::load(p.path()).config.expect("valid config");
    let mut store = p.store();
    let event = store.recent_events(1).expect("events").remove(0);
    assert_eq!(event.grade, Some(yuqing::response::Grade::IV));
    // Move the event to Friday 13 February 2026, 16:00: the eve of the Spring Festival, whose
    // nine days off start on Sunday the 15th after a make-up workday on Saturday the 14th.
    let created = bj("2026-02-13 16:00");
    let db = rusqlite::Connection::open(p.path().join("state/yuqing.db")).expect("db");
    db.execute("UPDATE events SET created_at = ?1 WHERE id = ?2", (created.timestamp(), event.id)).expect("move");
    drop(db);

    let escalate = |store: &mut yuqing::store::Store, at: &str| {
        yuqing::escalation::escalate(store, &config, bj(at)).expect("escalate")
    };
    let sent_to = |store: &yuqing::store::Store, needle: &str| -> Vec<String> {
        let mut to: Vec<String> = store
            .due_alerts(None, 50)
            .expect("outbox")
            .into_iter()
            .filter(|a| a.message.body_text.contains(needle))
            .flat_map(|a| a.message.recipients)
            .collect();
        to.sort();
        to
    };
    // 4 working hours: 1.5 on Friday, then from 08:30 on the make-up Saturday (50 % at
    // 09:00, 75 % at 10:00, 100 % at 11:00) — not after the festival.
    assert_eq!(escalate(&mut store, "2026-02-13 17:29"), 0);
    assert_eq!(escalate(&mut store, "2026-02-14 08:59"), 1, "only the ladder's head at 4 calendar hours");
    assert!(sent_to(&store, "“受理”时限").is_empty());
    assert_eq!(escalate(&mut store, "2026-02-14 09:00"), 2, "the accept clock's 50 %: liaison and head");
    let half = "距“受理”时限（4 个工作小时）已过 50%（已发现 17 小时 0 分钟），尚未受理";
    assert_eq!(sent_to(&store, half), vec!["李科长 <li@example.gov.cn>", "王科员 <wang@example.gov.cn>"]);
    assert_eq!(sent_to(&store, &format!("受理：yuqing event accept {} --by wang", event.id)).len(), 1);
    assert_eq!(escalate(&mut store, "2026-02-14 10:00"), 2, "75 %: the head and the leader in charge");
    let three_quarters = "距“受理”时限（4 个工作小时）已过 75%";
    assert_eq!(sent_to(&store, three_quarters), vec!["李科长 <li@example.gov.cn>", "陈局长 <chen@example.gov.cn>"]);

    // Accepted at 10:30: the 100 % mark at 11:00 is met and not sent.
    let accept = yuqing::store::Action { action: "accept", actor: "li", target: None, link: None, note: None };
    assert!(store.record_action(event.id, &accept, bj("2026-02-14 10:30")).expect("accept"));
    assert_eq!(escalate(&mut store, "2026-02-14 11:00"), 0);
    assert!(sent_to(&store, "“受理”时限（4 个工作小时）已到").is_empty());
    // The response clock (48 calendar hours) keeps running: half gone at Saturday 16:00.
    assert_eq!(escalate(&mut store, "2026-02-14 16:00"), 2);
    assert_eq!(sent_to(&store, "距“回应”时限（48 小时）已过 50%").len(), 2);
}
