//! The `[[policies]]` risk watch (Art. 8 重大政策舆情风险评估) on a real SQLite file and a
//! virtual clock: documents about a policy are stored at chosen times through the store API
//! (quiet during the baseline, louder and angrier after publication), the watch stage runs
//! at chosen moments, and the binary prints the assessment in each format. The fixture
//! window is in March 2025 and every assessment is pinned with `--at` / a fixed `now`, so
//! nothing depends on the day the suite runs.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};
use support::{FILE_MAIL, ORG, Project, source};
use yuqing::config::Config;
use yuqing::model::{Document, Flag, FlagKind, Negativity};
use yuqing::pipeline::policy::watch;
use yuqing::response::policy::RiskLevel;
use yuqing::store::{NewDocument, Store};

/// `hour`:`minute` on a March 2025 day, Beijing time.
fn march(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    let tz = chrono_tz::Asia::Shanghai;
    tz.with_ymd_and_hms(2025, 3, day, hour, minute, 0).single().expect("a Beijing time").with_timezone(&Utc)
}

const POLICY: &str = r#"
[[policies]]
id = "fuxu"
name = "优抚对象抚恤补助标准调整"
section = "preferential"
terms = ["抚恤补助"]
groups = ["烈属", "伤残军人"]
publish = "2025-03-15"
before_days = 10
after_days = 10
baseline_days = 5
plan = """
发布当日在官网同步发布政策解读和问答；
拥军优抚科专人答复留言板咨询。"""
"#;

fn config_text(policy: &str) -> String {
    format!("{ORG}\n[storage]\npath = \"state/yuqing.db\"\n{FILE_MAIL}{policy}")
}

fn project() -> Project {
    let p = Project::new(&source("forum", "forum.xml"), FILE_MAIL);
    p.write("yuqing.toml", config_text(POLICY));
    p.write("forum.xml", support::rss(&[]));
    p
}

fn config(p: &Project) -> Config {
    let loaded = Config::load(p.path());
    loaded.config.unwrap_or_else(|| panic!("config: {:?}", loaded.diagnostics.items))
}

/// One forum post at `at` with a negativity score and flags.
fn post(store: &mut Store, n: usize, title: &str, text: &str, score: f32, flags: &[FlagKind], at: DateTime<Utc>) {
    let document = Document {
        source_id: "forum".into(),
        keys: vec![format!("test:{n}")],
        fingerprint: format!("fp{n}"),
        link: Some(format!("https://bbs.example.cn/t/{n}")),
        guid: None,
        title: title.to_string(),
        text: text.to_string(),
        author: None,
        published_at: Some(at),
        page_state: None,
    };
    let item = NewDocument {
        document,
        hits: vec![],
        flags: flags.iter().map(|k| Flag { kind: *k, reasons: vec!["线索".into()] }).collect(),
        negativity: Some(Negativity { score, drivers: vec![] }),
        to_verify: None,
        event: None,
        alert: None,
        extra: vec![],
    };
    store.commit_run("forum", &[item], 1, &Default::default(), at).expect("commit");
}

/// The fixture: two calm posts a day from 5 to 14 March (and one off-topic post a day),
/// six on publication day (one negative), twelve on the 16th (eight negative, two with 疑虑).
fn fill(store: &mut Store) {
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    for day in 5..=14 {
        for i in 0..2 {
            let at = march(day, 9 + i, 0);
            post(store, next(), "抚恤补助标准将调整", "听说今年的抚恤补助标准要调整，期待政策早日出台。", 0.5, &[], at);
        }
        post(store, next(), "烈士陵园清明祭扫安排", "今年清明祭扫预约开放。", 0.0, &[], march(day, 15, 0));
    }
    for i in 0..6 {
        let score = if i == 0 { 4.0 } else { 0.5 };
        let title = "抚恤补助新标准公布";
        post(store, next(), title, "新的抚恤补助标准今天公布，烈属和伤残军人都有提高。", score, &[], march(15, 10, i));
    }
    for i in 0..12 {
        let (score, flags): (f32, &[FlagKind]) = match i {
            0..2 => (6.0, &[FlagKind::Doubt]),
            2..8 => (5.0, &[]),
            _ => (0.5, &[]),
        };
        let text = "抚恤补助说是提高了，可我们村的伤残军人到现在没拿到，到底怎么算的？太不公平了。";
        post(store, next(), "抚恤补助到底发了没有", text, score, flags, march(16, 9, i));
    }
}

fn run_watch(store: Store, config: &Config, now: DateTime<Utc>) -> (Store, yuqing::pipeline::policy::WatchOutcome) {
    let shared = Mutex::new(store);
    let outcome = watch(&shared, config, now).expect("watch");
    (shared.into_inner().expect("store"), outcome)
}

fn policy_alerts(store: &Store) -> Vec<yuqing::model::OutboxAlert> {
    store.due_alerts(None, 100).expect("outbox").into_iter().filter(|a| a.kind == "policy_risk").collect()
}

#[test]
fn a_rise_in_volume_and_negativity_after_publication_raises_the_level_once_with_its_reasons() {
    let p = project();
    let config = config(&p);
    let mut store = p.store();
    fill(&mut store);

    // The evening before publication: calm, nothing recorded.
    let (store, before) = run_watch(store, &config, march(14, 20, 0));
    assert_eq!(before.found, 20 + 18, "the topic's posts, not the off-topic ones");
    assert!(before.changed.is_empty(), "{before:?}");
    assert!(store.policy_levels("fuxu").expect("levels").is_empty());

    // The evening after: volume 6× and 67% negative on the 16th → 高, told once.
    let (store, after) = run_watch(store, &config, march(16, 20, 0));
    assert_eq!(after.scanned, 0, "nothing new to read");
    assert_eq!(after.changed, vec![("fuxu".to_string(), RiskLevel::High, true)]);
    let levels = store.policy_levels("fuxu").expect("levels");
    assert_eq!(levels.len(), 1);
    assert_eq!(levels[0].level, "high");
    assert_eq!(levels[0].day, "2025-03-16");
    assert!(
        levels[0].reasons.iter().any(|r| r.contains("声量 12 篇") && r.contains("基线日均 2.0 篇")),
        "{:?}",
        levels[0].reasons
    );
    assert!(
        levels[0].reasons.iter().any(|r| r.contains("负面信息 8 篇") && r.contains("67%")),
        "{:?}",
        levels[0].reasons
    );
    let alerts = policy_alerts(&store);
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert.message.recipients, ["李科长 <li@example.gov.cn>", "王科员 <wang@example.gov.cn>"]);
    assert!(alert.message.subject.contains("优抚对象抚恤补助标准调整") && alert.message.subject.contains("升至高"));
    assert!(alert.message.body_text.contains("由低升至高") && alert.message.body_text.contains("声量 12 篇"));
    assert_eq!(levels[0].alert_id, Some(alert.id));

    // Again the same evening, after a restart, and the next morning (the 16th still counts):
    // nothing more.
    let (store, again) = run_watch(store, &config, march(16, 20, 5));
    assert!(again.changed.is_empty(), "{again:?}");
    drop(store);
    let store = p.store();
    let (store, morning) = run_watch(store, &config, march(17, 8, 0));
    assert!(morning.changed.is_empty(), "{morning:?}");
    assert_eq!(store.policy_levels("fuxu").expect("levels").len(), 1);
    assert_eq!(policy_alerts(&store).len(), 1);

    // Two quiet days later the level falls (recorded, nobody told).
    let (store, fall) = run_watch(store, &config, march(18, 20, 0));
    assert_eq!(fall.changed, vec![("fuxu".to_string(), RiskLevel::Low, false)]);
    assert_eq!(policy_alerts(&store).len(), 1);
}

#[test]
fn changed_terms_rescan_from_the_start_and_new_documents_are_read_once() {
    let p = project();
    let mut store = p.store();
    fill(&mut store);
    let (store, first) = run_watch(store, &config(&p), march(14, 20, 0));
    assert_eq!((first.scanned, first.found), (48, 38));
    p.write(
        "yuqing.toml",
        config_text(&POLICY.replace("terms = [\"抚恤补助\"]", "terms = [\"抚恤补助\", \"清明祭扫\"]")),
    );
    let (mut store, second) = run_watch(store, &config(&p), march(14, 20, 0));
    assert_eq!((second.scanned, second.found), (48, 48), "read again, the 祭扫 posts now in the topic");
    assert_eq!(store.policy_document_count("fuxu").expect("count"), 48);
    post(&mut store, 1000, "抚恤补助咨询", "请问抚恤补助怎么申请", 0.0, &[], march(14, 21, 0));
    let (store, third) = run_watch(store, &config(&p), march(14, 22, 0));
    assert_eq!((third.scanned, third.found), (1, 1));
    assert_eq!(store.policy_document_count("fuxu").expect("count"), 49);
}

/// Gives one post of the 16th the most interactions, straight in the engagement table.
fn engage(p: &Project, title_like: &str, interactions: i64) {
    let conn = rusqlite::Connection::open(p.path().join("state/yuqing.db")).expect("open");
    conn.execute(
        "INSERT INTO engagement (document_id, observed_at, reposts, comments, likes)
         SELECT id, fetched_at, ?2, 0, 0 FROM documents WHERE title LIKE ?1 ORDER BY id LIMIT 1",
        rusqlite::params![title_like, interactions],
    )
    .expect("engagement");
}

#[test]
fn the_report_in_text_html_and_csv_holds_baseline_days_level_reasons_documents_and_plan() {
    let p = project();
    let config = config(&p);
    let mut store = p.store();
    fill(&mut store);
    let (store, _) = run_watch(store, &config, march(16, 20, 0));
    drop(store);
    engage(&p, "抚恤补助到底%", 321);
    let at = ["--at", "2025-03-16 20:00"];

    let list = p.run(&["policy", "list", at[0], at[1]]);
    assert_eq!(list.code, Some(0), "{}", list.stderr);
    assert!(
        list.stdout.contains("fuxu") && list.stdout.contains("监测中") && list.stdout.contains("38"),
        "{}",
        list.stdout
    );
    assert!(list.stdout.lines().any(|l| l.contains("fuxu") && l.trim_end().ends_with('高')), "{}", list.stdout);

    let text = p.run(&["policy", "report", "fuxu", at[0], at[1]]);
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    let t = &text.stdout;
    for needle in [
        "政策舆情风险评估：优抚对象抚恤补助标准调整（fuxu）",
        "负责科室：拥军优抚科（preferential）",
        "监测期：2025-03-05 至 2025-03-25",
        "基线期 2025-03-05 至 2025-03-09（已过 5 天）：日均声量 2.0 篇，负面占比 0%",
        "当前风险等级：高（依据 2025-03-16 的数据）",
        "声量 12 篇，为基线日均 2.0 篇的 6.0 倍",
        "六、处置预案",
        "拥军优抚科专人答复留言板咨询",
        "抚恤补助到底发了没有",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in:\n{t}");
    }
    let row = t.lines().find(|l| l.trim_start().starts_with("2025-03-16")).expect("the 16th's row");
    assert!(row.contains("发布后") && row.contains("12") && row.contains("67%") && row.contains("疑虑 2"), "{row}");
    assert!(row.contains("抚恤补助 12") && row.trim_end().ends_with('高'), "{row}");
    let baseline_row = t.lines().find(|l| l.trim_start().starts_with("2025-03-05")).expect("the 5th's row");
    assert!(baseline_row.contains("基线") && baseline_row.trim_end().ends_with('—'), "{baseline_row}");
    assert!(!t.contains("2025-03-17"), "no day after the moment asked for:\n{t}");
    let top = t.lines().position(|l| l.contains("五、互动量最高的信息")).expect("documents section");
    let first = t.lines().nth(top + 2).expect("first document");
    assert!(first.contains("抚恤补助到底发了没有") && first.contains("321"), "{first}");

    let out = p.path().join("评估.html");
    let html =
        p.run(&["policy", "report", "fuxu", "--format", "html", "--output", out.to_str().expect("path"), at[0], at[1]]);
    assert_eq!(html.code, Some(0), "{}", html.stderr);
    assert!(html.stderr.contains("当前等级：高"), "{}", html.stderr);
    let h = std::fs::read_to_string(&out).expect("html");
    assert!(h.starts_with("<!DOCTYPE html>") && h.contains("<svg") && h.contains("class=\"publish\""), "{h}");
    assert_eq!(h.matches("class=\"day\"").count(), 12, "one column per day 5–16 March");
    assert!(h.contains("class=\"baseline\""));
    for needle in
        ["日均声量 2.0 篇", "当前风险等级：高", "负面信息 8 篇，占 67%", "<h2>六、处置预案</h2>", "<td>2025-03-16</td>"]
    {
        assert!(h.contains(needle), "missing {needle:?}");
    }
    let again = p.run(&["policy", "report", "fuxu", "--format", "html", "--output", out.to_str().expect("path")]);
    assert_eq!(again.code, Some(1), "an existing file is not overwritten without --force");

    let csv = p.run(&["policy", "report", "fuxu", "--format", "csv", at[0], at[1]]);
    assert_eq!(csv.code, Some(0), "{}", csv.stderr);
    let c = csv.stdout.trim_start_matches('\u{feff}');
    assert!(csv.stdout.starts_with('\u{feff}'), "BOM for Excel");
    assert!(c.contains("基线日均声量,2.0") && c.contains("当前风险等级,高") && c.contains("处置预案,"), "{c}");
    let day = c.lines().find(|l| l.starts_with("2025-03-16,")).expect("the 16th in CSV");
    assert!(day.starts_with("2025-03-16,发布后,12,8,67%,0,0,0,2,2,"), "{day}");
    assert!(day.contains(",高,"), "{day}");

    let unknown = p.run(&["policy", "report", "nope"]);
    assert_eq!(unknown.code, Some(1));
    assert!(unknown.stderr.contains("已配置的政策：fuxu"), "{}", unknown.stderr);
}

#[test]
fn without_a_plan_the_plan_section_waits_to_be_written() {
    let p = Project::new(&source("forum", "forum.xml"), FILE_MAIL);
    let policy = POLICY.split("plan = ").next().expect("before the plan").to_string();
    p.write("yuqing.toml", config_text(&policy));
    p.write("forum.xml", support::rss(&[]));
    let run = p.run(&["policy", "report", "fuxu", "--at", "2025-03-16 20:00"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("六、处置预案\n  （待填写）"), "{}", run.stdout);
    assert!(run.stdout.contains("窗口内信息：0 篇"), "no database yet: {}", run.stdout);
    assert!(!p.path().join("state/yuqing.db").exists(), "a report creates no database");
    let check = p.run(&["check"]);
    assert_eq!(check.code, Some(0), "{}", check.stdout);
    assert!(check.stdout.contains("政策风险监测：fuxu"), "{}", check.stdout);
}

#[test]
fn check_reports_wrong_policy_keys_dates_and_sections_on_their_lines() {
    let p = Project::new(&source("forum", "forum.xml"), FILE_MAIL);
    let bad = "\n[[policies]]\nid = \"fuxu\"\nsection = \"youfu\"\nterms = [\"抚恤补助\"]\npublish = \"2025-02-30\"\nwindow = 3\n\
               [policy_risk]\nmin_docs = 3\n";
    p.write("yuqing.toml", config_text(bad));
    p.write("forum.xml", support::rss(&[]));
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let text = config_text(bad);
    let line_of = |needle: &str| text.lines().position(|l| l.starts_with(needle)).expect("line") + 1;
    let out = &run.stdout;
    let at = |needle: &str, message: &str| {
        let prefix = format!("yuqing.toml:{}:", line_of(needle));
        assert!(out.lines().any(|l| l.contains(&prefix) && l.contains(message)), "{message} at {prefix} in:\n{out}");
    };
    at("section = \"youfu\"", "政策的 section = \"youfu\" 不在 [[sections]] 中");
    at("publish = ", "publish = \"2025-02-30\" 不是有效日期");
    at("window = ", "未知的键 \"window\"");
    at("min_docs = ", "未知的键 \"min_docs\"");
    assert!(out.contains("min_documents"), "the hint names the key: {out}");
    assert!(out.contains("preferential"), "the hint lists the sections: {out}");
}

#[test]
fn run_once_finds_the_policy_documents_it_stored() {
    let p = project();
    p.write(
        "forum.xml",
        support::rss(&[
            ("a1", "抚恤补助标准调整征求意见", "烈属关心抚恤补助标准"),
            ("a2", "抚恤补助什么时候发", "伤残军人询问"),
            ("a3", "烈士陵园开放时间", "清明祭扫预约"),
        ]),
    );
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let store = p.store();
    assert_eq!(store.policy_document_count("fuxu").expect("count"), 2);
    let scan = store.policy_scan("fuxu").expect("scan").expect("scanned");
    assert_eq!(scan.scanned_to, 3, "every stored document read once");
}

#[test]
fn pruned_documents_leave_the_policy_topic_and_its_recorded_levels_stay() {
    let p = project();
    let config = config(&p);
    let mut store = p.store();
    fill(&mut store);
    let (mut store, _) = run_watch(store, &config, march(16, 20, 0));
    assert_eq!(store.policy_document_count("fuxu").expect("count"), 38);
    let retention = yuqing::store::Retention { documents_days: 30, assessment_days: 730 };
    let later = march(16, 20, 0) + chrono::Duration::days(45);
    let pruned = store.prune(retention, later, None, false).expect("prune with policy rows referring to documents");
    assert_eq!(pruned.documents, 48);
    assert_eq!(store.policy_document_count("fuxu").expect("count"), 0);
    assert_eq!(store.policy_levels("fuxu").expect("levels").len(), 1, "what was told stays on record");
}
