//! The escalation ladder on a virtual clock: reminders come due per grade, reach each person
//! once, and stop when someone accepts (`yuqing event accept`). No sleeping: the test calls
//! `escalate` with the times it wants.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
        yuqing::deliver::escalation::escalate(store, &config, start + after).expect("escalate")
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

/// Two sources: a forum (no media tier) and a central medium, each serving its own feed file.
fn forum_and_central() -> support::Project {
    let sources = format!(
        "{}tier = \"central\"\n\n{}",
        support::source("cctv", "cctv.xml"),
        support::source("forum", "forum.xml")
    );
    let p = support::Project::with_org(&sources);
    // Ladders only: the accept clocks (tested with the calendar below) are left out.
    let (org, mail) = (support::ORG, support::FILE_MAIL);
    let clocks = "[deadlines.I]\nfirst_information_hours = 5\npress_conference_hours = 24\n\
                  [deadlines.III]\nresponse_hours = 48\n[deadlines.IV]\nresponse_hours = 48\n";
    p.write("yuqing.toml", format!("{org}\n{clocks}[storage]\npath = \"state/yuqing.db\"\n{mail}"));
    p.write("keywords/preferential.txt", "@section = preferential\n@weight = 2\n抚恤金\n");
    p.write("forum.xml", support::rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账，家属多次反映无果")]));
    p.write("cctv.xml", support::rss(&[]));
    p
}

#[test]
fn a_rise_to_grade_one_drops_pending_reminders_and_repeats_until_each_person_accepts() {
    let p = forum_and_central();
    let start = Utc::now();
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));
    let config = yuqing::config::Config::load(p.path()).config.expect("valid config");
    let mut store = p.store();
    let event = store.recent_events(1).expect("events").remove(0);
    assert_eq!(event.grade, Some(yuqing::response::Grade::IV));
    let escalate = |store: &mut yuqing::store::Store, at: chrono::DateTime<Utc>| {
        yuqing::deliver::escalation::escalate(store, &config, at).expect("escalate")
    };
    assert_eq!(escalate(&mut store, start + Duration::minutes(4 * 60 + 1)), 1, "grade IV: the head after 4 h");

    // The story reaches a central medium: grade I. The head's reminder, still pending, is
    // dropped (the rise alert supersedes it) and the rise goes to everyone at once.
    // Mail is down meanwhile (the outbox folder is not writable), so the reminder is pending.
    std::fs::remove_dir_all(p.path().join("outbox")).expect("rm outbox");
    p.write("outbox", "not a folder");
    p.write("cctv.xml", support::rss(&[("c1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账，家属多次反映无果")]));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let rose_at = Utc::now();
    let timeline = store.event_timeline(event.id).expect("timeline").expect("event");
    assert_eq!(timeline.event.grade, Some(yuqing::response::Grade::I));
    let statuses: Vec<&str> = timeline.alerts.iter().map(|a| a.status.as_str()).collect();
    assert_eq!(statuses, vec!["sent", "dropped", "pending"], "first alert, dropped reminder, rise alert");
    assert!(timeline.alerts[1].last_error.as_deref().is_some_and(|e| e.contains("升为Ⅰ级")));
    let rise = &timeline.alerts[2];
    let pending = store.due_alerts(None, 10).expect("outbox");
    let rise_body = &pending.iter().find(|a| a.id == rise.id).expect("rise alert pending").message.body_text;
    assert!(rise_body.contains("舆情升级：Ⅳ级 一般 → Ⅰ级 特别重大"), "{rise_body}");
    for who in ["王科员", "李科长", "陈局长", "许科员"] {
        assert!(rise.recipients.iter().any(|r| r.contains(who)), "{who} in {:?}", rise.recipients);
    }

    // The grade I ladder starts at the rise: repeats every 15 min to whoever has not accepted.
    assert_eq!(escalate(&mut store, rose_at + Duration::minutes(14)), 0, "everyone had the rise alert");
    assert_eq!(escalate(&mut store, rose_at + Duration::minutes(16)), 4, "all four told again");
    assert_eq!(p.run(&["event", "accept", &event.id.to_string(), "--by", "li"]).code, Some(0));
    assert_eq!(escalate(&mut store, rose_at + Duration::minutes(31)), 3, "not 李科长, who accepted");
    let repeat = store.due_alerts(None, 50).expect("outbox").into_iter().last().expect("a repeat");
    assert!(repeat.message.body_text.contains("尚未受理，再次提醒"), "{}", repeat.message.body_text);
    for who in ["wang", "chen", "xu"] {
        assert_eq!(p.run(&["event", "accept", &event.id.to_string(), "--by", who]).code, Some(0));
    }
    assert_eq!(escalate(&mut store, rose_at + Duration::minutes(46)), 0, "everyone accepted");

    let show = p.run(&["event", "show", &event.id.to_string()]);
    assert_eq!(show.code, Some(0), "{}", show.stderr);
    for needle in [
        "[Ⅰ级 特别重大]",
        "首发  测试信源 forum",
        "转载  测试信源 cctv",
        "已撤回",
        "受理  李科长（li）",
        "首次权威信息发布",
    ] {
        assert!(show.stdout.contains(needle), "{needle} in\n{}", show.stdout);
    }
}

/// Regression: a rise used to be routed by the event's topics again, so after a transfer its
/// alert went to the section the event had been taken from.
#[test]
fn a_rise_after_a_transfer_goes_to_the_section_it_was_transferred_to() {
    let p = forum_and_central();
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));
    let store = p.store();
    let event = store.recent_events(1).expect("events").remove(0);
    let id = event.id.to_string();
    let run = p.run(&["event", "transfer", &id, "--to", "office", "--by", "chen", "--reason", "由办公室统一回应"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);

    p.write("cctv.xml", support::rss(&[("c1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账，家属多次反映无果")]));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let timeline = store.event_timeline(event.id).expect("timeline").expect("event");
    assert_eq!(timeline.event.grade, Some(yuqing::response::Grade::I));
    let rise = timeline.alerts.last().expect("the rise alert");
    assert!(rise.recipients.iter().any(|r| r.contains("许科员")), "the office's liaison: {:?}", rise.recipients);
    for who in ["王科员", "李科长"] {
        assert!(!rise.recipients.iter().any(|r| r.contains(who)), "{who} no longer owns it: {:?}", rise.recipients);
    }
    let mails = support::eml_files(&p.path().join("outbox"));
    let text = support::text_part(&std::fs::read_to_string(mails.last().expect("rise mail")).expect("eml"));
    assert!(text.contains("牵头科室：office"), "{text}");
}

#[test]
fn a_downgrade_holds_against_the_same_facts_and_a_mute_silences_until_its_end() {
    let p = forum_and_central();
    p.write("cctv.xml", support::rss(&[("c1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账，家属多次反映无果")]));
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));
    let config = yuqing::config::Config::load(p.path()).config.expect("valid config");
    let mut store = p.store();
    let event = store.recent_events(1).expect("events").remove(0);
    assert_eq!(event.grade, Some(yuqing::response::Grade::I));
    let id = event.id.to_string();

    let run = p.run(&["event", "downgrade", &id, "--to", "III", "--by", "chen", "--reason", "系误读，已澄清"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("从Ⅰ级 特别重大降为Ⅲ级 较大"), "{}", run.stdout);
    assert_eq!(p.run(&["event", "downgrade", &id, "--to", "II", "--by", "chen", "--reason", "x"]).code, Some(1));
    assert_eq!(p.run(&["event", "downgrade", &id, "--to", "V", "--by", "chen", "--reason", "x"]).code, Some(1));

    // Another central copy: the same facts do not undo the decision, and send nothing.
    let alerts_before = store.event_timeline(event.id).expect("timeline").expect("event").alerts.len();
    p.write(
        "cctv.xml",
        support::rss(&[
            ("c1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账，家属多次反映无果"),
            ("c2", "抚恤金迟迟不到账 家属多次反映", "我父亲的抚恤金三个月没到账，家属多次反映无果"),
        ]),
    );
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));
    let timeline = store.event_timeline(event.id).expect("timeline").expect("event");
    assert_eq!(timeline.event.grade, Some(yuqing::response::Grade::III), "{:?}", timeline.event.grade_reasons);
    assert_eq!(timeline.event.downgraded_from, Some(yuqing::response::Grade::I));
    // The copy from a source already on the path reaches people as an update (no hit is
    // swallowed), and it is no rise.
    assert_eq!(timeline.alerts.len(), alerts_before + 1, "one update for the copy");
    let update = timeline.alerts.last().expect("update");
    assert!(update.subject.starts_with("Re: "), "{}", update.subject);

    // Mute for 3 h: no ladder step due inside it is ever sent; after it the ladder goes on.
    let muted_at = Utc::now();
    let run = p.run(&["event", "mute", &id, "--by", "chen", "--reason", "已电话沟通，观察", "--until", "3h"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("静默至"), "{}", run.stdout);
    assert_eq!(p.run(&["event", "mute", &id, "--by", "chen", "--reason", "x", "--until", "yesterday"]).code, Some(1));
    let escalate = |store: &mut yuqing::store::Store, at: chrono::DateTime<Utc>| {
        yuqing::deliver::escalation::escalate(store, &config, at).expect("escalate")
    };
    // Grade III after the downgrade: head at 30 min and leader at 2 h fall inside the mute.
    assert_eq!(escalate(&mut store, muted_at + Duration::minutes(119)), 0, "muted");
    let late = escalate(&mut store, muted_at + Duration::minutes(200));
    let queued: Vec<String> =
        store.due_alerts(None, 50).expect("outbox").iter().map(|a| a.message.body_text.clone()).collect();
    assert_eq!(late, 0, "steps due in the mute are not sent late: {queued:?}");
    assert!(escalate(&mut store, muted_at + Duration::hours(37)) > 0, "the principal's step at 36 h, after the mute");
    let show = p.run(&["event", "show", &id]);
    for needle in
        ["降级  陈局长（chen） → Ⅲ级 较大：系误读，已澄清", "静默  陈局长（chen）", "人工降级自：Ⅰ级 特别重大"]
    {
        assert!(show.stdout.contains(needle), "{needle} in\n{}", show.stdout);
    }
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
        yuqing::deliver::escalation::escalate(store, &config, bj(at)).expect("escalate")
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
