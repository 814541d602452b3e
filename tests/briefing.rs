//! Periodic briefings (Art. 10 定期通报) on a real SQLite file and virtual times: events
//! stored in and out of a briefing's period, then the digest's counts, open items, top events
//! and propagation paths; nothing queued for an empty period unless `send_empty`; once per due
//! time across restarts; the binary's `briefing send --dry-run`; config errors with lines.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use support::{FILE_MAIL, ORG, Project, source};
use yuqing::config::Config;
use yuqing::detect::events::Assignment;
use yuqing::extract::export::Engagement;
use yuqing::model::{Document, Field, Hit};
use yuqing::report::briefing::{Digest, Sent, send};
use yuqing::response::Grade;
use yuqing::response::deadline::DeadlineKind;
use yuqing::rules::Category;
use yuqing::store::{Action, ExportBatch, NewDocument, Store};

const HOSTILE: &str = "<script>alert(\"x\")</script> 抚恤金 & 集体上访";

/// A November 2026 day at `hour:minute`, Beijing time.
fn nov(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    let tz = chrono_tz::Asia::Shanghai;
    tz.with_ymd_and_hms(2026, 11, day, hour, minute, 0).single().expect("a Beijing time").with_timezone(&Utc)
}

/// Stores an event with one document per source (in order, a minute apart), all hitting `list`.
fn add_event(store: &mut Store, id: i64, title: &str, grade: Grade, sources: &[&str], list: &str, at: DateTime<Utc>) {
    for (n, source) in sources.iter().enumerate() {
        let seen = at + Duration::minutes(n as i64);
        let document = Document {
            source_id: source.to_string(),
            keys: vec![format!("test:{id}:{n}")],
            fingerprint: format!("fp{id}-{n}"),
            link: Some(format!("https://example.com/{id}/{n}?a=1&b=2")),
            guid: None,
            title: format!("{title}（{source}）"),
            text: title.to_string(),
            author: None,
            published_at: Some(seen),
            page_state: None,
        };
        let hits = vec![Hit { field: Field::Title, start: 0, end: 3, list: list.into(), term: "词".into() }];
        let event = Assignment {
            event_id: id,
            new_event: n == 0,
            new_source: true,
            similarity: 1.0,
            evidence: vec![],
            seen_at: seen,
            event_title: title.to_string(),
            sources: n + 1,
            documents: n + 1,
            grade,
            grade_reasons: vec!["测试".into()],
            previous_grade: None,
            owner: Some("preferential".into()),
        };
        let item = NewDocument {
            document,
            hits,
            flags: vec![],
            negativity: None,
            to_verify: None,
            event: Some(event),
            alert: None,
            extra: vec![],
        };
        store.commit_run(source, &[item], 1, &Default::default(), seen).expect("commit");
    }
}

fn act(store: &mut Store, id: i64, action: &str, target: Option<&str>, at: DateTime<Utc>) {
    let a = Action { action, actor: "wang", target, link: None, note: None };
    assert!(store.record_action(id, &a, at).expect("record"), "event {id} exists");
}

/// Reposts for the first document of event `id`, observed at `at`.
fn engage(store: &mut Store, id: i64, reposts: u64, at: DateTime<Utc>) {
    let counts = Engagement { reposts: Some(reposts), ..Engagement::default() };
    let engagement = [(vec![format!("test:{id}:0")], counts)];
    let sha = format!("sha-{id}-{reposts}");
    let batch = ExportBatch {
        sha256: &sha,
        path: "x.csv",
        documents: &[],
        engagement: &engagement,
        comments: &[],
        bad_rows: 0,
    };
    store.commit_export("forum", &batch, at).expect("engagement");
}

const BRIEFINGS: &str = r#"
[[briefings]]
id = "daily"
name = "每日舆情简报"
schedule = "0 8 * * *"
period = "day"
to = ["gkb", "chen", "备用 <spare@example.gov.cn>"]
top = 2
[[briefings]]
id = "quiet"
name = "安静简报"
schedule = "0 9 * * *"
period = "day"
to = ["wang"]
open_days = 1
[[briefings]]
id = "always"
name = "照发简报"
schedule = "0 9 * * *"
period = "since_last"
to = ["chen"]
send_empty = true
open_days = 1
"#;

fn project() -> (Project, Config) {
    let p = Project::new(&[source("forum", "forum.xml"), source("daily", "daily.xml")].concat(), FILE_MAIL);
    let clocks = "[deadlines.II]\naccept_minutes = 30\npress_conference_hours = 24\n\
                  [deadlines.IV]\nresponse_hours = 48\n";
    p.write("yuqing.toml", format!("{ORG}\n{clocks}{BRIEFINGS}[storage]\npath = \"state/yuqing.db\"\n{FILE_MAIL}"));
    p.write("forum.xml", support::rss(&[]));
    p.write("daily.xml", support::rss(&[]));
    p.write("keywords/preferential.txt", "@category = 社情民意\n@section = preferential\n抚恤金\n");
    p.write("keywords/stability.txt", "@category = 安全稳定\n集体上访\n");
    let loaded = Config::load(p.path());
    let config = loaded.config.unwrap_or_else(|| panic!("config: {:?}", loaded.diagnostics.items));
    (p, config)
}

/// The daily briefing due 27 Nov 08:00 covers [26 Nov 08:00, 27 Nov 08:00). Stored:
/// - #1 IV two days before, open and unanswered: an open item from before the period, its
///   48 h response clock overdue at the due time;
/// - #2 IV in the period, one source, 5000 reposts; closed;
/// - #3 II in the period, two sources, accepted late, no press conference yet (running);
///   the hostile title;
/// - #4 IV in the period, three sources, no engagement, open;
/// - #5 II at the due time itself (outside: the next period).
fn scripted(store: &mut Store) {
    add_event(store, 1, "抚恤金两天前的旧事", Grade::IV, &["forum"], "preferential", nov(25, 7, 0));
    add_event(store, 2, "优抚对象补贴发放", Grade::IV, &["forum"], "preferential", nov(26, 9, 0));
    engage(store, 2, 5000, nov(26, 12, 0));
    act(store, 2, "close", None, nov(26, 18, 0));
    add_event(store, 3, HOSTILE, Grade::II, &["forum", "daily"], "stability", nov(26, 10, 0));
    act(store, 3, "accept", None, nov(26, 11, 0));
    add_event(store, 4, "抚恤金标准调整", Grade::IV, &["forum", "daily", "forum"], "preferential", nov(26, 20, 0));
    add_event(store, 5, "到点才出现的事件", Grade::II, &["daily"], "stability", nov(27, 8, 0));
}

#[test]
fn the_digest_counts_the_period_lists_open_items_and_ranks_top_events_with_their_paths() {
    let (p, config) = project();
    let mut store = p.store();
    scripted(&mut store);
    let daily = config.briefing("daily").expect("daily");
    // The joint assessment of #3 (会商研判): the briefing carries its words (issue 15 item 2).
    let note = "性质：误读；风险：可能聚集；处置建议：当日发布说明";
    let assess = Action { action: "assess", actor: "wang", target: Some("up"), link: None, note: Some(note) };
    assert!(store.record_action(3, &assess, nov(26, 12, 0)).expect("record"));
    let due = nov(27, 8, 0);
    let digest = Digest::load(Some(&store), &config, daily, due, due + Duration::hours(1)).expect("digest");
    assert_eq!((digest.start, digest.due), (nov(26, 8, 0), due));
    let ids: Vec<i64> = digest.report.events.iter().map(|e| e.id).collect();
    assert_eq!(ids, vec![2, 3, 4], "#1 before and #5 at the due time are outside");
    let grades: Vec<(Option<Grade>, usize)> = digest.report.by_grade.clone();
    assert!(grades.contains(&(Some(Grade::II), 1)) && grades.contains(&(Some(Grade::IV), 2)), "{grades:?}");
    let categories = &digest.report.by_category;
    assert!(categories.contains(&(Some(Category::PublicSentiment), 2)), "{categories:?}");
    assert!(categories.contains(&(Some(Category::Stability), 1)), "{categories:?}");
    let section = digest.report.sections.iter().find(|s| s.section.as_deref() == Some("preferential")).expect("sec");
    assert_eq!((section.owned, section.closed), (3, 1));

    // Open at the due time: #1 (from before the period), #3 and #4; #2 was closed.
    let open: Vec<i64> = digest.open.iter().map(|e| e.id).collect();
    assert_eq!(open, vec![1, 3, 4]);
    let overdue: Vec<(i64, DeadlineKind)> = digest.overdue().map(|(e, d)| (e.id, d.kind)).collect();
    // #3's accept clock was missed but met late (accepted after 60 min): not overdue now.
    assert_eq!(overdue, vec![(1, DeadlineKind::Response)]);

    // Top 2: the II first; then among the IVs #2 (5000 interactions) before #4 (three sources).
    let top: Vec<(i64, i64)> = digest.top.iter().map(|t| (t.event.id, t.interactions)).collect();
    assert_eq!(top, vec![(3, 0), (2, 5000)]);
    let path: Vec<(&str, DateTime<Utc>)> =
        digest.top[0].path.iter().map(|s| (s.source_id.as_str(), s.seen_at)).collect();
    assert_eq!(path, vec![("forum", nov(26, 10, 0)), ("daily", nov(26, 10, 1))]);
    assert!(!digest.is_empty());

    let message = yuqing::report::briefing::render(&digest, &config, &daily.recipients);
    assert_eq!(message.subject, "【舆情简报】每日舆情简报 2026-11-27");
    assert_eq!(
        message.recipients,
        vec!["陈局长 <chen@example.gov.cn>", "许科员 <xu@example.gov.cn>", "备用 <spare@example.gov.cn>"],
        "gkb is the office's head (chen) and liaison (xu); chen once"
    );
    let text = &message.body_text;
    for expected in [
        "统计期间：2026-11-26 08:00 至 2026-11-27 08:00（Asia/Shanghai）",
        "新增舆情事件 3 件",
        "未办结事件共 3 件",
        "超时未办的时限 1 项",
        "Ⅱ级 重大",
        "社情民意",
        "拥军优抚科",
        "1. #3 [Ⅱ级 重大]",
        "2. #2 [Ⅳ级 一般] 优抚对象补贴发放",
        "互动 5000",
        "2026-11-26 10:01  测试信源 daily  ",
        "#1 抚恤金两天前的旧事：回应（时限 48 小时，应于 2026-11-27 07:00 前）",
        "会商研判：已于 2026-11-26 12:00 由 王科员（wang） 记录，趋势：上升；性质：误读；风险：可能聚集；处置建议：当日发布说明",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let html = &message.body_html;
    assert!(!html.contains("<script>"), "titles are escaped");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"), "{html}");
    assert!(html.contains("href=\"https://example.com/3/0?a=1&amp;b=2\""), "{html}");
    assert!(html.contains("趋势：上升；性质：误读；风险：可能聚集；处置建议：当日发布说明"), "{html}");
}

#[test]
fn an_empty_period_queues_nothing_unless_send_empty_and_each_due_time_goes_out_once() {
    let (p, config) = project();
    let mut store = p.store();
    scripted(&mut store);
    let (quiet, always) = (config.briefing("quiet").expect("quiet"), config.briefing("always").expect("always"));
    // 10 Dec: nothing in the last day, nothing open created in the day before.
    let due = Utc.with_ymd_and_hms(2026, 12, 10, 1, 0, 0).single().expect("time");
    let now = due + Duration::minutes(1);
    assert_eq!(send(&mut store, &config, quiet, due, now).expect("quiet"), Sent::Empty);
    assert_eq!(store.outbox_status().expect("outbox").pending, 0);
    assert!(store.briefing_done("quiet", due).expect("log"), "logged, so a restart does not redo it");

    let Sent::Queued { alert_id, digest } = send(&mut store, &config, always, due, now).expect("always") else {
        panic!("send_empty = true queues an empty briefing");
    };
    assert!(digest.is_empty());
    assert_eq!(store.outbox_status().expect("outbox").pending, 1);
    let queued = store.due_alerts(None, 10).expect("due");
    assert_eq!(queued.iter().map(|a| a.id).collect::<Vec<_>>(), vec![alert_id]);
    assert_eq!(queued[0].message.subject, "【舆情简报】照发简报 2026-12-10");
    assert!(queued[0].message.body_text.contains("本期没有新增舆情事件"), "{}", queued[0].message.body_text);

    // A restart: the same due time again, from a fresh connection.
    drop(store);
    let mut store = p.store();
    assert_eq!(send(&mut store, &config, always, due, now + Duration::hours(1)).expect("again"), Sent::AlreadyDone);
    assert_eq!(store.outbox_status().expect("outbox").pending, 1, "still one");
    // The next due time covers since the last one (since_last) and goes out on its own.
    let next = due + Duration::days(1);
    let Sent::Queued { digest, .. } = send(&mut store, &config, always, next, next).expect("next") else {
        panic!("queued");
    };
    assert_eq!(digest.start, due, "since the last logged due time");
    assert_eq!(store.outbox_status().expect("outbox").pending, 2);

    // The daily briefing with events queues one alert of kind briefing, once.
    let daily = config.briefing("daily").expect("daily");
    assert!(matches!(send(&mut store, &config, daily, nov(27, 8, 0), next).expect("daily"), Sent::Queued { .. }));
    assert_eq!(send(&mut store, &config, daily, nov(27, 8, 0), next).expect("daily again"), Sent::AlreadyDone);
    assert_eq!(store.outbox_status().expect("outbox").pending, 3);
}

#[test]
fn dry_run_on_the_shipped_config_with_no_database_prints_a_chinese_digest() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The shipped config in a fresh directory: yuqing.toml copied, the rest linked, so its
    // relative database path points at nothing.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(root.join("yuqing.toml"), dir.path().join("yuqing.toml")).expect("copy");
    for entry in ["sources.toml", "calendar.toml", "keywords", "examples", "rumour.model"] {
        if root.join(entry).exists() {
            std::os::unix::fs::symlink(root.join(entry), dir.path().join(entry)).expect("link");
        }
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_yuqing"))
        .arg("--config")
        .arg(dir.path())
        .args(["briefing", "send", "daily", "--dry-run", "--at", "2026-11-27 08:00"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for expected in [
        "主题：【舆情简报】每日舆情简报 2026-11-27",
        "收件人：何主任 <he@example.gov.cn>，许科员 <gkb@example.gov.cn>，陈局长 <chen@example.gov.cn>",
        "统计期间：2026-11-26 08:00 至 2026-11-27 08:00（Asia/Shanghai）",
        "本期没有新增舆情事件。",
        "未办结事件共 0 件",
        "send_empty = false，到时不会发送",
        "（试运行：未写入数据库，未发送）",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
    assert!(!dir.path().join("state").exists(), "a dry run creates no database");
    let unknown = std::process::Command::new(env!("CARGO_BIN_EXE_yuqing"))
        .arg("--config")
        .arg(dir.path())
        .args(["briefing", "send", "monthly", "--dry-run"])
        .output()
        .expect("run");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("已配置的简报：daily、weekly"));
}

const BAD_BRIEFINGS: &str = r#"[[briefings]]
id = "daily"
schedule = "0 8 * *"
to = ["gkb", "zhang"]
[[briefings]]
id = "daily"
schedule = "0 8 * * *"
period = "month"
to = ["chen", "not-an-address@"]
top = 99
sned_empty = true
[[briefings]]
name = "无 id"
to = []
"#;

#[test]
fn briefing_config_errors_name_line_and_column_with_advice() {
    let p = Project::new(&source("a", "feed.xml"), FILE_MAIL);
    p.write("feed.xml", support::rss(&[]));
    p.write("yuqing.toml", format!("{ORG}{BAD_BRIEFINGS}[storage]\npath = \"state/yuqing.db\"\n{FILE_MAIL}"));
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let out = &run.stdout;
    // ORG is 28 lines; [[briefings]] starts on line 29.
    let expect = [
        ("yuqing.toml:31:12:", "schedule \"0 8 * *\" 无效：需要 5 个字段"),
        ("yuqing.toml:32:14:", "收件人 \"zhang\" 不是已知的人员、科室、接收组或邮件地址"),
        ("yuqing.toml:34:6:", "简报 id \"daily\" 重复（第 30 行已使用）"),
        ("yuqing.toml:36:10:", "period \"month\" 无效"),
        ("yuqing.toml:37:15:", "邮件地址 \"not-an-address@\" 无效"),
        ("yuqing.toml:38:7:", "top = 99 不在 0–50 之间"),
        ("yuqing.toml:39:", "未知的键 \"sned_empty\""),
        ("yuqing.toml:40:1:", "[[briefings]] 缺少 id"),
        ("yuqing.toml:42:6:", "[[briefings]] to 不能为空"),
    ];
    for (place, message) in expect {
        let line = out.lines().find(|l| l.contains(place) && l.contains(message));
        assert!(line.is_some(), "missing {place} {message} in:\n{out}");
    }
    assert!(out.contains("→ 是不是 \"wang\"？") || out.contains("→ to 可写"), "{out}");
    assert!(out.contains("→ 可选值：\"day\""), "{out}");
    let errors = out.lines().filter(|l| l.contains("错误：")).count();
    let advice = out.lines().filter(|l| l.trim_start().starts_with("→ ")).count();
    assert!(errors >= expect.len() && advice >= errors, "{out}");
}
