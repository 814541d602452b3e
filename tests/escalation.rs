//! The escalation ladder on a virtual clock: reminders come due per grade, reach each person
//! once, and stop when someone accepts (`yuqing event accept`). No sleeping: the test calls
//! `escalate` with the times it wants.

mod support;

use chrono::{Duration, Utc};
use support::Project;

#[test]
fn reminders_climb_the_ladder_once_each_and_stop_at_accept() {
    let p = Project::with_org(&support::source("forum", "forum.xml"));
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
