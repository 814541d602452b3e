//! Events (Art. 13): one story copied by several sources is one event with one alert and
//! threaded updates per new source — across runs and restarts — not one alert per copy.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{FILE_MAIL, Project, decode_words, eml_files, header, source};

const STORY: &str = "网传临江市烈士陵园将被拆迁改建商业综合体，市退役军人事务局回应：系不实信息，烈士陵园不会拆迁。";

/// An RSS feed whose items `(guid, title, description)` were published an hour ago, so
/// that the event window (72 h by default) holds whenever the test runs.
fn feed(items: &[(&str, &str, &str)]) -> String {
    support::feed_linked("https://example.com/", items)
}

#[test]
fn a_story_from_three_sources_is_one_event_with_threaded_updates() {
    let sources = [source("forum", "forum.xml"), source("daily", "daily.xml"), source("wechat", "wechat.xml")].concat();
    let p = Project::new(&sources, FILE_MAIL);
    p.write(
        "forum.xml",
        feed(&[("f1", "烈士陵园要拆？", STORY), ("f2", "第四季度抚恤金发放通知", "抚恤金月底发放到位。")]),
    );
    p.write("daily.xml", feed(&[]));
    p.write("wechat.xml", feed(&[]));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let outbox = p.path().join("outbox");
    assert_eq!(eml_files(&outbox).len(), 2, "the story and the unrelated notice");

    // A second process (the index is rebuilt from the database): the story reaches two
    // more sources and is copied again by the first one.
    p.write(
        "forum.xml",
        feed(&[
            ("f1", "烈士陵园要拆？", STORY),
            ("f2", "第四季度抚恤金发放通知", "抚恤金月底发放到位。"),
            ("f3", "转发：烈士陵园要拆？", &format!("转发微博 //{STORY}")),
        ]),
    );
    p.write(
        "daily.xml",
        feed(&[("d1", "市退役军人事务局：烈士陵园不会拆迁", &format!("【转载】{STORY}（来源：临江日报）"))]),
    );
    p.write("wechat.xml", feed(&[("w1", "", STORY)]));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);

    let mails: Vec<String> = eml_files(&outbox).iter().map(|f| std::fs::read_to_string(f).expect("read eml")).collect();
    assert_eq!(mails.len(), 5, "three updates: two new sources, and the first source's second copy");
    let subject = |m: &str| decode_words(&header(m, "Subject").unwrap_or_default());
    let subjects: Vec<String> = mails.iter().map(|m| subject(m)).collect();
    let first = mails.iter().zip(&subjects).find(|(_, s)| s.contains("烈士陵园要拆？") && !s.starts_with("Re:"));
    let (first, _) = first.unwrap_or_else(|| panic!("no first alert in {subjects:?}"));
    let root = header(first, "Message-ID").expect("message id");
    let updates: Vec<&String> = mails.iter().filter(|m| subject(m).starts_with("Re:")).collect();
    assert_eq!(updates.len(), 3, "{subjects:?}");
    for u in &updates {
        assert_eq!(subject(u), "Re: 【舆情提示】烈士陵园要拆？");
        assert_eq!(header(u, "In-Reply-To").as_deref(), Some(root.as_str()));
        assert_eq!(header(u, "References").as_deref(), Some(root.as_str()));
    }
    let headings: Vec<bool> =
        updates.iter().map(|u| support::text_part(u).contains("舆情更新：同一事件出现新的来源")).collect();
    assert_eq!(headings.iter().filter(|new_source| **new_source).count(), 2, "{headings:?}");
    // No hit is swallowed: the first source's second copy is delivered too, by its link.
    assert!(
        updates.iter().any(|u| {
            let text = support::text_part(u);
            text.contains("舆情更新：同一事件的又一篇信息") && text.contains("https://example.com/f3")
        }),
        "no update names the first source's second copy"
    );

    let store = p.store();
    let events = store.recent_events(10).expect("events");
    assert_eq!(events.len(), 2, "{events:?}");
    let story = events.iter().find(|e| e.title == "烈士陵园要拆？").expect("story event");
    assert_eq!((story.documents, story.sources, story.first_source_id.as_str()), (4, 3, "forum"));
    let path = store.event_path(story.id).expect("path");
    assert_eq!(path.len(), 4);
    let mut sources: Vec<&str> = path.iter().map(|s| s.source_id.as_str()).collect();
    sources.dedup();
    assert_eq!(sources[0], "forum");
    // The dashboard's "latest copy" column reads the index alone; it is the path's last step.
    let last = path.last().map(|s| (s.source_id.clone(), s.seen_at));
    assert_eq!(store.latest_copy(story.id).expect("latest copy"), last);
    assert_eq!(store.latest_copy(story.id + 1000).expect("no such event"), None);

    // The read side for staff.
    let run = p.run(&["events"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains(&format!("#{}  [Ⅳ级 一般]  烈士陵园要拆？", story.id)), "{}", run.stdout);
    assert!(run.stdout.contains("3 个来源、4 篇信息"), "{}", run.stdout);
    let run = p.run(&["events", &story.id.to_string()]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("传播路径") && run.stdout.contains("；首发]"), "{}", run.stdout);
    assert_eq!(run.stdout.lines().filter(|l| l.contains("测试信源")).count(), 4, "{}", run.stdout);
    // Each copy says why it is one story with an earlier one: the wording they share.
    let copies: Vec<&str> = run.stdout.lines().filter(|l| l.contains("相似度")).collect();
    assert_eq!(copies.len(), 3, "{}", run.stdout);
    assert!(copies.iter().all(|l| l.contains("共同内容：「") && l.contains("烈士陵园")), "{}", run.stdout);
    let show = p.run(&["event", "show", &story.id.to_string()]);
    assert_eq!(show.stdout.matches("共同内容：「").count(), 3, "{}", show.stdout);
    assert_eq!(p.run(&["events", "999"]).code, Some(1));
    // `test match` says which stored event a text would join.
    let run = p.run(&["test", "match", "--text", &format!("又一个转载：{STORY}")]);
    assert!(run.stdout.contains(&format!("事件：将并入事件 #{}「烈士陵园要拆？」", story.id)), "{}", run.stdout);
    let run = p.run(&["test", "match", "--text", "市光荣院开展冬季消防应急演练"]);
    assert!(run.stdout.contains("事件：新事件"), "{}", run.stdout);
}

#[test]
fn a_story_reaching_five_sources_rises_to_grade_three_with_one_threaded_alert() {
    let ids = ["s1", "s2", "s3", "s4", "s5"];
    let sources: String = ids.iter().map(|id| source(id, &format!("{id}.xml"))).collect();
    let p = Project::new(&sources, FILE_MAIL);
    for (n, id) in ids.iter().enumerate() {
        p.write(&format!("{id}.xml"), feed(&[(id, "烈士陵园要拆？", &format!("{}{STORY}", "转".repeat(n)))]));
    }
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let mails: Vec<String> =
        eml_files(&p.path().join("outbox")).iter().map(|f| std::fs::read_to_string(f).expect("read eml")).collect();
    assert_eq!(mails.len(), 5, "one alert and four updates, one per new source");
    let texts: Vec<String> = mails.iter().map(|m| support::text_part(m)).collect();
    let risen: Vec<&String> = texts.iter().filter(|t| t.contains("舆情升级：Ⅳ级 一般 → Ⅲ级 较大")).collect();
    assert_eq!(risen.len(), 1, "{texts:#?}");
    assert!(
        risen[0]
            .contains("分级：Ⅲ级 较大（传播范围：5 个来源 ≥ 5；传播加速：过去 2 小时新增 5 篇（此前 2 小时 0 篇））"),
        "{}",
        risen[0]
    );
    let first = texts.iter().find(|t| t.starts_with("舆情提示")).expect("first alert");
    assert!(first.contains("分级：Ⅳ级 一般"), "{first}");
    assert!(first.contains("牵头科室：") && first.contains("报送："), "{first}");
    let events = p.store().recent_events(5).expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].grade, Some(yuqing::response::Grade::III));
}

/// One event in a config with [[people]]: its first copy published 90 minutes ago (on the
/// minute); returns that time as shown in the configured timezone.
fn one_event_published_before_it_was_fetched() -> (Project, String) {
    let p = Project::with_org(&source("forum", "forum.xml"));
    let minute = chrono::Utc::now().timestamp() / 60 * 60;
    let published = chrono::DateTime::from_timestamp(minute - 5400, 0).expect("time");
    let item = format!(
        "<item><title>抚恤金迟迟不到账</title><link>https://example.com/f1</link><guid>f1</guid><description>我父亲的抚恤金三个月没到账</description><pubDate>{}</pubDate></item>",
        published.to_rfc2822()
    );
    p.write("forum.xml", format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>t</title>{item}</channel></rss>\n"));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    (p, published.with_timezone(&chrono_tz::Asia::Shanghai).format("%Y-%m-%d %H:%M:%S").to_string())
}

/// A display name given to `--by` is refused with the person's id and the valid ids.
#[test]
fn by_takes_a_person_id_and_a_display_name_is_answered_with_it() {
    let (p, _) = one_event_published_before_it_was_fetched();
    let run = p.run(&["event", "accept", "1", "--by", "王科员"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(run.stderr.contains("\"王科员\" 不在 yuqing.toml 的 [[people]] 中"), "{}", run.stderr);
    assert!(run.stderr.contains("王科员 的人员 id 是 wang；"), "{}", run.stderr);
    assert!(run.stderr.contains("请写人员 id：chen（陈局长）、"), "the valid ids are listed: {}", run.stderr);
    let run = p.run(&["event", "accept", "1", "--by", "wnag"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(run.stderr.contains("是不是 wang？"), "{}", run.stderr);
    assert_eq!(p.run(&["event", "accept", "1", "--by", "wang"]).code, Some(0));
}

/// `event show`'s header gives the first copy's publication time, as its propagation path
/// and `yuqing events` do — not the time the event was stored (here 90 minutes later).
#[test]
fn the_timeline_header_shows_when_the_first_copy_was_published() {
    let (p, published) = one_event_published_before_it_was_fetched();
    let first = format!("首发：{published} 测试信源 forum（forum）");
    let show = p.run(&["event", "show", "1"]);
    assert_eq!(show.code, Some(0), "{}", show.stderr);
    assert!(show.stdout.contains(&first), "{first}\n{}", show.stdout);
    let events = p.run(&["events"]);
    assert!(events.stdout.contains(&first), "{first}\n{}", events.stdout);
}
