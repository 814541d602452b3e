//! An event's trend (issue 15 item 4): copies that come faster in the last two hours add
//! `传播加速：过去 2 小时新增 N 篇` to the grade's reasons — in the store, the alerts and
//! `yuqing event show`, which also prints the hourly trend — and a steady event gets no such
//! reason. Copies are dated relative to the test's own clock ([`support::ago`]), away from
//! the windows' edges, so the suite holds under libfaketime too.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{FILE_MAIL, Project, ago, eml_files, source};

const STORY: &str = "网传临江市烈士陵园将被拆迁改建商业综合体，市退役军人事务局回应：系不实信息，烈士陵园不会拆迁。";

/// A feed of copies of the story, `(guid, minutes before the test started)`.
fn feed(copies: &[(&str, i64)]) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>t</title>\n");
    for (n, (guid, minutes)) in copies.iter().enumerate() {
        out.push_str(&format!(
            "<item><title>烈士陵园要拆？</title><link>https://example.com/{guid}</link><guid>{guid}</guid><description>{}{STORY}</description><pubDate>{}:00</pubDate></item>\n",
            "转".repeat(n),
            ago(*minutes)
        ));
    }
    out + "</channel></rss>\n"
}

fn mails(p: &Project) -> Vec<String> {
    eml_files(&p.path().join("outbox"))
        .iter()
        .map(|f| support::text_part(&std::fs::read_to_string(f).expect("eml")))
        .collect()
}

#[test]
fn copies_coming_faster_are_a_grade_reason_in_the_alert_and_on_the_timeline() {
    let p = Project::new(&source("forum", "forum.xml"), FILE_MAIL);
    // One copy three hours ago and one 100 minutes ago: no acceleration yet.
    let early = [("c0", 180), ("c1", 100)];
    p.write("forum.xml", feed(&early));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let event = p.store().recent_events(5).expect("events");
    assert_eq!(event.len(), 1, "{event:?}");
    assert!(!event[0].grade_reasons.iter().any(|r| r.contains("传播加速")), "{:?}", event[0].grade_reasons);

    // Five more in the last hour: six in the last two hours against one before.
    let mut all = early.to_vec();
    all.extend([("c2", 55), ("c3", 45), ("c4", 35), ("c5", 25), ("c6", 15)]);
    p.write("forum.xml", feed(&all));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let events = p.store().recent_events(5).expect("events");
    assert_eq!((events.len(), events[0].documents), (1, 7), "{events:?}");
    let reason = "传播加速：过去 2 小时新增 6 篇（此前 2 小时 1 篇）";
    assert!(events[0].grade_reasons.iter().any(|r| r == reason), "{:?}", events[0].grade_reasons);
    assert_eq!(events[0].grade, Some(yuqing::response::Grade::IV), "a reason only: the grade is unchanged by default");
    let texts = mails(&p);
    assert!(
        texts.iter().any(|t| t.contains(&format!("分级：Ⅳ级 一般（命中本局关键词，影响零星；{reason}）"))),
        "{texts:#?}"
    );

    let id = events[0].id.to_string();
    let show = p.run(&["event", "show", &id]);
    assert_eq!(show.code, Some(0), "{}", show.stderr);
    assert!(show.stdout.contains(&format!("分级依据：命中本局关键词，影响零星；{reason}")), "{}", show.stdout);
    assert!(show.stdout.contains("传播趋势（近 24 小时）："), "{}", show.stdout);
    assert!(show.stdout.contains(&format!("状态：{reason}")), "{}", show.stdout);
    assert!(show.stdout.contains("起每小时新增篇数，共 7 篇"), "{}", show.stdout);
}

#[test]
fn a_steady_event_has_no_acceleration_reason() {
    let p = Project::new(&source("forum", "forum.xml"), FILE_MAIL);
    // Three copies two to four hours ago, three in the last two hours.
    p.write("forum.xml", feed(&[("c0", 200), ("c1", 180), ("c2", 150), ("c3", 90), ("c4", 60), ("c5", 30)]));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let events = p.store().recent_events(5).expect("events");
    assert_eq!((events.len(), events[0].documents), (1, 6), "{events:?}");
    assert!(!events[0].grade_reasons.iter().any(|r| r.contains("传播加速")), "{:?}", events[0].grade_reasons);
    assert!(mails(&p).iter().all(|t| !t.contains("传播加速")));
    let show = p.run(&["event", "show", &events[0].id.to_string()]);
    assert!(show.stdout.contains("状态：传播平稳：过去 2 小时新增 3 篇（此前 2 小时 3 篇）"), "{}", show.stdout);
    assert!(!show.stdout.contains("传播加速"), "{}", show.stdout);
}

#[test]
fn acceleration_raises_the_grade_one_step_only_when_configured() {
    let p = Project::new(&source("forum", "forum.xml"), FILE_MAIL);
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    p.write("yuqing.toml", format!("{toml}\n[grades.acceleration]\nmin_new = 3\nmin_ratio = 3.0\nraise = true\n"));
    p.write("forum.xml", feed(&[("c0", 200), ("c1", 50), ("c2", 40), ("c3", 30)]));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let events = p.store().recent_events(5).expect("events");
    assert_eq!(events[0].grade, Some(yuqing::response::Grade::III), "{:?}", events[0].grade_reasons);
    assert!(
        events[0].grade_reasons.iter().any(|r| r == "传播加速：过去 2 小时新增 3 篇（此前 2 小时 1 篇），升一级"),
        "{:?}",
        events[0].grade_reasons
    );
    assert!(mails(&p).iter().any(|t| t.contains("舆情升级：Ⅳ级 一般 → Ⅲ级 较大")), "{:#?}", mails(&p));
}
