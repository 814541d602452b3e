//! `yuqing report` (Art. 10 定期通报, Art. 15 考核) on a real SQLite file and a virtual
//! timeline: events created and actions recorded at chosen times through the store API,
//! then the report computed by the library and printed by the binary in each format.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use support::{FILE_MAIL, ORG, Project, source};
use yuqing::detect::events::Assignment;
use yuqing::model::{Document, Field, Flag, FlagKind, Hit};
use yuqing::report::{DeadlineStatus, Period, Report};
use yuqing::response::Grade;
use yuqing::response::deadline::DeadlineKind;
use yuqing::rules::Category;
use yuqing::store::{Action, NewDocument, Store};

const HOSTILE: &str = "<script>alert(\"x\")</script> 抚恤金 & 集体上访";

/// 00:00 on a March 2025 day, Beijing time, plus `minutes`.
fn march(day: u32, minutes: i64) -> DateTime<Utc> {
    let tz = chrono_tz::Asia::Shanghai;
    let midnight = tz.with_ymd_and_hms(2025, 3, day, 0, 0, 0).single().expect("a Beijing midnight");
    midnight.with_timezone(&Utc) + Duration::minutes(minutes)
}

/// One document of an event: its source, the keyword lists it hit, its flags.
struct Doc<'a> {
    source: &'a str,
    lists: &'a [&'a str],
    flags: &'a [FlagKind],
}

fn add_event(
    store: &mut Store,
    id: i64,
    title: &str,
    grade: Grade,
    owner: Option<&str>,
    docs: &[Doc<'_>],
    at: DateTime<Utc>,
) {
    for (n, doc) in docs.iter().enumerate() {
        let document = Document {
            source_id: doc.source.to_string(),
            keys: vec![format!("test:{id}:{n}")],
            fingerprint: format!("fp{id}-{n}"),
            link: None,
            guid: None,
            title: title.to_string(),
            text: title.to_string(),
            author: None,
            published_at: Some(at),
            page_state: None,
        };
        let hits = doc
            .lists
            .iter()
            .map(|list| Hit { field: Field::Title, start: 0, end: 3, list: list.to_string(), term: "词".into() })
            .collect();
        let flags = doc.flags.iter().map(|kind| Flag { kind: *kind, reasons: vec!["线索".into()] }).collect();
        let event = Assignment {
            event_id: id,
            new_event: n == 0,
            new_source: true,
            similarity: 1.0,
            evidence: vec![],
            seen_at: at,
            event_title: title.to_string(),
            sources: n + 1,
            documents: n + 1,
            grade,
            grade_reasons: vec!["测试".into()],
            previous_grade: None,
            owner: owner.map(str::to_string),
        };
        let item = NewDocument {
            document,
            hits,
            flags,
            negativity: None,
            to_verify: None,
            event: Some(event),
            alert: None,
            extra: vec![],
        };
        store.commit_run(doc.source, &[item], 1, &Default::default(), at).expect("commit");
    }
}

fn act(store: &mut Store, id: i64, action: &str, target: Option<&str>, at: DateTime<Utc>) {
    let a = Action { action, actor: "wang", target, link: None, note: None };
    assert!(store.record_action(id, &a, at).expect("record"), "event {id} exists");
}

/// A config with two sections and two categorised lists, and a store holding:
/// - #1 IV 拥军优抚科, accepted after 30 min, answered online after 10 h, closed;
/// - #2 II 拥军优抚科, two sources, rumour, accepted after 90 min, online after 3 h (first
///   information met), no press conference (missed), open, the hostile title;
/// - #3 III transferred to the office after 1 h and accepted there 2 h later, created on the
///   last day so its 48 h response clock runs past the period; feedback after the period;
/// - #4 I with no owner, press conference after 4 h (meets both clocks), closed, distortion;
/// - #5 IV created at the period's first instant, accepted after 6 h, never answered (missed);
/// - #6 one second before the period and #7 at its end (both outside).
fn project() -> (Project, Store) {
    let p = Project::new(&[source("forum", "forum.xml"), source("daily", "daily.xml")].concat(), FILE_MAIL);
    // The feedback clocks only: accept clocks are covered by the unit tests of `report`.
    let clocks = "[deadlines.I]\nfirst_information_hours = 5\npress_conference_hours = 24\n\
                  [deadlines.II]\nfirst_information_hours = 5\npress_conference_hours = 24\n\
                  [deadlines.III]\nresponse_hours = 48\n[deadlines.IV]\nresponse_hours = 48\n";
    p.write("yuqing.toml", format!("{ORG}\n{clocks}[storage]\npath = \"state/yuqing.db\"\n{FILE_MAIL}"));
    p.write("forum.xml", support::rss(&[]));
    p.write("daily.xml", support::rss(&[]));
    p.write("keywords/preferential.txt", "@category = 社情民意\n@section = preferential\n抚恤金\n");
    p.write("keywords/stability.txt", "@category = 安全稳定\n集体上访\n");
    let mut store = p.store();
    let s = &mut store;
    let pref = &["preferential"][..];
    let both = &["preferential", "stability"][..];
    let forum = |lists| Doc { source: "forum", lists, flags: &[] };

    let t1 = march(2, 9 * 60);
    add_event(s, 1, "抚恤金迟迟不到账", Grade::IV, Some("preferential"), &[forum(pref)], t1);
    act(s, 1, "accept", None, t1 + Duration::minutes(30));
    act(s, 1, "feedback", Some("online"), t1 + Duration::hours(10));
    act(s, 1, "close", None, t1 + Duration::hours(12));

    let t2 = march(3, 10 * 60);
    let docs = [
        Doc { source: "forum", lists: both, flags: &[FlagKind::Rumour] },
        Doc { source: "daily", lists: pref, flags: &[] },
    ];
    add_event(s, 2, HOSTILE, Grade::II, Some("preferential"), &docs, t2);
    act(s, 2, "accept", None, t2 + Duration::minutes(90));
    act(s, 2, "feedback", Some("online"), t2 + Duration::hours(3));

    let t3 = march(7, 12 * 60);
    add_event(
        s,
        3,
        "军休所食堂涨价",
        Grade::III,
        Some("preferential"),
        &[Doc { source: "daily", lists: pref, flags: &[] }],
        t3,
    );
    act(s, 3, "transfer", Some("office"), t3 + Duration::hours(1));
    act(s, 3, "accept", None, t3 + Duration::hours(3));
    act(s, 3, "feedback", Some("online"), march(8, 10 * 60));

    let t4 = march(5, 8 * 60);
    let docs = [
        Doc { source: "forum", lists: &["stability"], flags: &[] },
        Doc { source: "daily", lists: &["stability"], flags: &[FlagKind::Distortion] },
    ];
    add_event(s, 4, "烈士陵园门口集体上访", Grade::I, None, &docs, t4);
    act(s, 4, "feedback", Some("press_conference"), t4 + Duration::hours(4));
    act(s, 4, "close", None, t4 + Duration::hours(6));

    let t5 = march(1, 0);
    add_event(s, 5, "优待金标准调整", Grade::IV, Some("preferential"), &[forum(pref)], t5);
    act(s, 5, "accept", None, t5 + Duration::hours(6));

    add_event(s, 6, "二月底的抚恤金帖子", Grade::IV, Some("preferential"), &[forum(pref)], t5 - Duration::seconds(1));
    add_event(s, 7, "三月八日的抚恤金帖子", Grade::IV, Some("preferential"), &[forum(pref)], march(8, 0));
    (p, store)
}

fn period() -> Period {
    let d = |day| NaiveDate::from_ymd_opt(2025, 3, day).expect("date");
    Period::new(d(1), d(7), chrono_tz::Asia::Shanghai).expect("period")
}

#[test]
fn counts_times_and_deadlines_per_grade_category_and_section() {
    let (p, store) = project();
    let config = yuqing::config::Config::load(p.path()).config.expect("valid config");
    let report = Report::load(&store, &config, period(), Utc::now()).expect("report");
    assert_eq!(report.as_of, march(8, 0), "a past period is judged at its end");

    let ids: Vec<i64> = report.events.iter().map(|e| e.id).collect();
    assert_eq!(ids, vec![5, 1, 2, 4, 3], "oldest first; #6 and #7 lie just outside");
    let t = report.totals;
    assert_eq!((t.events, t.accepted, t.transferred, t.closed, t.open), (5, 4, 1, 2, 3));
    assert_eq!((t.deadlines.met, t.deadlines.missed, t.deadlines.running), (4, 2, 1));

    assert_eq!(
        report.by_grade,
        vec![(Some(Grade::I), 1), (Some(Grade::II), 1), (Some(Grade::III), 1), (Some(Grade::IV), 2), (None, 0)]
    );
    let category = |c| report.by_category.iter().find(|(k, _)| *k == Some(c)).map(|(_, n)| *n);
    assert_eq!(category(Category::PublicSentiment), Some(4));
    assert_eq!(category(Category::Stability), Some(2), "#2 counts in both of its categories");
    assert_eq!(category(Category::Foreign), Some(0));
    assert!(report.by_category.iter().all(|(c, _)| c.is_some()), "every event has a category");

    let section = |id: Option<&str>| {
        report.sections.iter().find(|s| s.section.as_deref() == id).unwrap_or_else(|| panic!("{id:?}"))
    };
    let pref = section(Some("preferential"));
    assert_eq!(pref.label, "拥军优抚科");
    assert_eq!((pref.owned, pref.accepted, pref.closed), (3, 3, 1), "#3 moved to the office");
    assert_eq!(pref.median_accept, Some(Duration::minutes(90)), "30, 90 and 360 min");
    assert_eq!(pref.mean_accept, Some(Duration::minutes(160)));
    assert_eq!(pref.median_feedback, Some(Duration::minutes(390)), "10 h and 3 h");
    assert_eq!((pref.deadlines.met, pref.deadlines.missed, pref.deadlines.running), (2, 2, 0));
    assert_eq!(pref.deadlines.on_time_rate(), Some(0.5));
    let office = section(Some("office"));
    assert_eq!((office.owned, office.accepted), (1, 1));
    assert_eq!(office.median_accept, Some(Duration::hours(2)), "from the transfer, not the creation");
    assert_eq!(office.median_feedback, None, "the feedback came after the period");
    assert_eq!((office.deadlines.running, office.deadlines.on_time_rate()), (1, None));
    let nobody = section(None);
    assert_eq!((nobody.label.as_str(), nobody.owned, nobody.deadlines.met), ("未指定科室", 1, 2));
    let order: Vec<Option<&str>> = report.sections.iter().map(|s| s.section.as_deref()).collect();
    assert_eq!(order, vec![Some("office"), Some("preferential"), None], "configured order, no owner last");

    let event = |id| report.events.iter().find(|e| e.id == id).expect("event");
    let outcome = |id, kind| event(id).deadlines.iter().find(|d| d.kind == kind).map(|d| d.status);
    assert_eq!(
        outcome(2, DeadlineKind::FirstInformation),
        Some(DeadlineStatus::Met { at: march(3, 13 * 60) }),
        "online after 3 h of 5 h"
    );
    assert_eq!(outcome(2, DeadlineKind::PressConference), Some(DeadlineStatus::Missed { late_at: None }));
    assert_eq!(outcome(3, DeadlineKind::Response), Some(DeadlineStatus::Running), "due on 9 March");
    assert_eq!(outcome(5, DeadlineKind::Response), Some(DeadlineStatus::Missed { late_at: None }));
    assert_eq!(outcome(4, DeadlineKind::PressConference), Some(DeadlineStatus::Met { at: march(5, 12 * 60) }));
    assert_eq!(event(3).flow.section.as_deref(), Some("office"), "the latest transfer's target");
    let open: Vec<i64> = report.open_events().map(|e| e.id).collect();
    assert_eq!(open, vec![5, 2, 3]);

    let sources: Vec<(&str, usize)> = report.sources.iter().map(|s| (s.id.as_str(), s.events)).collect();
    assert_eq!(sources, vec![("forum", 4), ("daily", 3)]);
    assert_eq!(report.sources[0].name, "测试信源 forum", "the configured name");
    let flags: Vec<(FlagKind, usize)> = report.flags.clone();
    assert_eq!(
        flags,
        vec![(FlagKind::Rumour, 1), (FlagKind::Distortion, 1), (FlagKind::Misunderstanding, 0), (FlagKind::Doubt, 0)]
    );

    // A report made on 4 March sees the workflow as it was then.
    let early = Report::load(&store, &config, period(), march(4, 0)).expect("report");
    assert_eq!(early.as_of, march(4, 0));
    assert_eq!(early.events.len(), 3, "#4 and #3 did not exist yet");
    let d = early.totals.deadlines;
    assert_eq!((d.met, d.missed, d.running), (2, 1, 1), "#2's press conference is still due on 4 March 10:00");
}

#[test]
fn text_csv_and_html_from_the_binary() {
    let (p, _store) = project();
    let run = p.run(&["report", "--from", "2025-03-01", "--to", "2025-03-07"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let text = &run.stdout;
    for want in [
        "统计期间：2025-03-01 至 2025-03-07（Asia/Shanghai）",
        "新增舆情事件 5 件：已受理 4 件，转办 1 件，已办结 2 件，未办结 3 件。",
        "办理时限 7 个：按时 4 个，超时 2 个，计时中 1 个；按时率 66.7%。",
        "Ⅳ级 一般      2 件",
        "社情民意  4 件",
        "五、未办结事件（3 件）",
        "超时：新闻发布会（时限 24 小时，应于 2025-03-04 10:00 前），尚未办理",
        "计时中：回应（时限 48 小时，应于 2025-03-09 12:00 前）",
        "测试信源 forum（forum）  4 件",
        "疑似谣言 1 件；疑似歪曲 1 件",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let pref = text.lines().find(|l| l.trim_start().starts_with("拥军优抚科")).expect("the section's row");
    let cells: Vec<&str> = pref.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(
        cells,
        vec!["拥军优抚科", "3", "3", "1", "1 小时 30 分", "2 小时 40 分", "6 小时 30 分", "2", "2", "0", "50.0%"]
    );
    assert!(!text.contains("二月底") && !text.contains("三月八日"), "outside the period:\n{text}");

    // CSV: a file with a BOM that the csv crate reads back, one row per event.
    let path = p.path().join("report.csv");
    let run = p.run(
        &["report", "--from", "2025-03-01", "--to", "2025-03-07", "--format", "csv", "--output"]
            .into_iter()
            .chain([path.to_str().expect("utf-8 path")])
            .collect::<Vec<_>>(),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "the report went to the file");
    assert!(run.stderr.contains("5 件事件"), "{}", run.stderr);
    let bytes = std::fs::read(&path).expect("csv file");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM for Excel");
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_string).collect();
    assert_eq!(header[..4], ["编号", "标题", "分级", "类别"]);
    let column =
        |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name} in {header:?}"));
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("records");
    assert_eq!(rows.len(), 5);
    let row = rows.iter().find(|r| &r[0] == "2").expect("row of #2");
    assert_eq!(&row[1], HOSTILE, "the title survives quoting");
    assert_eq!(&row[column("分级")], "Ⅱ级 重大");
    assert_eq!(&row[column("类别")], "社情民意、安全稳定");
    assert_eq!(&row[column("受理用时（分钟）")], "90");
    assert_eq!(&row[column("首次权威信息发布时限")], "按时");
    assert_eq!(&row[column("新闻发布会时限")], "超时");
    assert_eq!(&row[column("回应时限")], "", "grade II has no response clock");
    assert_eq!(&row[column("研判标记")], "疑似谣言");
    let row = rows.iter().find(|r| &r[0] == "3").expect("row of #3");
    assert_eq!((&row[column("牵头科室")], &row[column("转办")]), ("office", "是"), "the office has no name");
    assert_eq!(&row[column("回应时限")], "计时中");

    // HTML: one file, charts, hostile text escaped.
    let run = p.run(&["report", "--from", "2025-03-01", "--to", "2025-03-07", "--format", "html"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let html = &run.stdout;
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert_eq!(html.matches("<svg").count(), 4, "grade, category, section and on-time charts");
    assert!(!html.contains("<script"), "no script, and the title's is escaped");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; 抚恤金 &amp; 集体上访"));
    let namespaces = html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
    assert_eq!(html.matches("http").count(), namespaces, "no link out but the SVG namespace");
    assert!(!html.contains("src=") && !html.contains("<link"), "self-contained");
    assert!(html.contains("50.0%（2/4）"), "the section's on-time rate on its bar");
}

#[test]
fn bad_periods_are_refused() {
    let (p, _store) = project();
    let run = p.run(&["report", "--from", "2025-03-08", "--to", "2025-03-01"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("起始日期 2025-03-08 晚于截止日期 2025-03-01"), "{}", run.stderr);
    // A malformed date is invalid input: exit 1 (README), not clap's usage code 2, which
    // here means storage or runtime unusable.
    let run = p.run(&["report", "--from", "2025/03/01"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("YYYY-MM-DD"), "{}", run.stderr);
    let run = p.run(&["report", "--format", "pdf"]);
    assert_eq!(run.code, Some(1), "any bad argument: {}", run.stderr);
    assert_eq!(p.run(&["report", "--help"]).code, Some(0), "help is not an error");
}

#[test]
fn an_existing_output_file_is_overwritten_only_with_force() {
    let (p, _store) = project();
    let out = p.path().join("通报.txt");
    std::fs::write(&out, "上一期的通报").expect("write");
    let path = out.to_string_lossy().to_string();
    let args = ["report", "--from", "2025-03-01", "--to", "2025-03-07", "--output", &path];
    let run = p.run(&args);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("已存在，未覆盖") && run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "上一期的通报", "left as it was");
    let run = p.run(&[&args[..], &["--force"]].concat());
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(std::fs::read_to_string(&out).expect("read").contains("2025-03-01"), "replaced by the report");
    // A new file needs no --force; --force without --output is refused.
    let fresh = p.path().join("new.csv").to_string_lossy().to_string();
    let run = p.run(&["report", "--format", "csv", "--output", &fresh]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(p.run(&["report", "--force"]).code, Some(1));
}

#[test]
fn the_shipped_config_with_no_database_reports_no_events() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = Project::new("", FILE_MAIL);
    for file in ["yuqing.toml", "sources.toml", "calendar.toml"] {
        p.write(file, std::fs::read(root.join(file)).expect("shipped file"));
    }
    copy_tree(&root.join("keywords"), &p, "keywords");
    copy_tree(&root.join("examples"), &p, "examples");
    let run = p.run(&["report"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("政务舆情定期通报\n统计期间："), "{}", run.stdout);
    assert!(run.stdout.contains("本期间没有新增舆情事件。"), "{}", run.stdout);
    assert!(!p.path().join("state/yuqing.db").exists(), "a report creates no database");
    let run = p.run(&["report", "--format", "html"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("本期间没有新增舆情事件。"));
    // An existing empty database reads the same; CSV has its header only.
    drop(p.store());
    let run = p.run(&["report", "--format", "csv"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let text = String::from_utf8(run.stdout.into_bytes()).expect("utf-8");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("\u{feff}编号,标题,分级"), "{text}");
}

fn copy_tree(from: &std::path::Path, p: &Project, to: &str) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let path = entry.expect("entry").path();
        let rel = format!("{to}/{}", path.file_name().expect("name").to_string_lossy());
        if path.is_dir() {
            copy_tree(&path, p, &rel);
        } else {
            p.write(&rel, std::fs::read(&path).expect("read"));
        }
    }
}
