//! `yuqing test route` on the shipped config, and every organisation/routing reference
//! checked by `yuqing check` with its line.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{FILE_MAIL, Project};

fn route(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--config", env!("CARGO_MANIFEST_DIR"), "test", "route", "--json"];
    all.extend_from_slice(args);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_yuqing")).args(&all).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn every_category_and_grade_on_the_shipped_config() {
    let table = [
        ("网络舆情", "市委网信办（网宣部门）"),
        ("社情民意", "市信访局（信访部门）"),
        ("对外宣传", "市委外宣办（外宣部门）"),
        ("安全稳定", "市公安局（公安部门）"),
        ("涉外", "市外办（外事部门）"),
        ("应急管理", "市应急管理局（应急部门）"),
    ];
    for (category, department) in table {
        for grade in ["I", "II", "III", "IV"] {
            let v = route(&["--category", category, "--grade", grade, "--topic", "拥军优抚"]);
            assert_eq!(v["grade"], grade);
            let names: Vec<&str> =
                v["report_to"].as_array().expect("array").iter().filter_map(|d| d["name"].as_str()).collect();
            assert_eq!(names, vec![department], "{category} {grade}");
            let accountable = if grade == "I" {
                "chen"
            } else if category == "安全稳定" {
                "sun"
            } else {
                "zhao"
            };
            assert_eq!(v["accountable"]["person"], accountable, "{category} {grade}: {v}");
            let owner = if category == "安全稳定" { "policy" } else { "preferential" };
            assert_eq!(v["owner"]["section"], owner, "{category} {grade}");
        }
    }
    // Unmatched: the openness office owns it; nothing is reported outside.
    let v = route(&["--category", "其他", "--grade", "IV"]);
    assert_eq!(v["owner"]["section"], "office");
    assert_eq!(v["report_to"], serde_json::json!([]));
    // Grade I tells all five at once; grade III climbs the ladder.
    let v = route(&["--category", "网络舆情", "--grade", "I", "--topic", "拥军优抚"]);
    assert_eq!(v["steps"].as_array().expect("steps").len(), 1);
    assert_eq!(v["steps"][0]["notify"].as_array().expect("notify").len(), 5);
    let v = route(&["--category", "网络舆情", "--grade", "III", "--topic", "拥军优抚"]);
    let minutes: Vec<u64> =
        v["steps"].as_array().expect("steps").iter().filter_map(|s| s["after_minutes"].as_u64()).collect();
    assert_eq!(minutes, vec![0, 30, 120, 2160, 2880]);
    assert_eq!(v["steps"][0]["notify"][0]["name"], "王科员");
    assert_eq!(v["steps"][2]["notify"][0]["role"], "leader_in_charge");
    // A grade-II rumour also goes to public security.
    let v = route(&["--category", "网络舆情", "--grade", "II", "--flag", "rumour"]);
    assert_eq!(v["report_to"].as_array().expect("array").len(), 2, "{v}");
}

#[test]
fn chinese_output_and_bad_arguments() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_yuqing"))
        .args(["--config", env!("CARGO_MANIFEST_DIR"), "test", "route", "--category", "涉外", "--grade", "重大"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("事件：涉外，Ⅱ级 重大") && stdout.contains("报送：市外办（外事部门）"), "{stdout}");
    assert!(stdout.contains("30 分钟后：主要领导 陈局长（chen）"), "{stdout}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_yuqing"))
        .args(["--config", env!("CARGO_MANIFEST_DIR"), "test", "route", "--category", "网宣", "--grade", "I"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("未知的类别 \"网宣\""));
}

#[test]
fn unknown_topics_and_sources_are_refused_with_the_valid_ones() {
    let run = |args: &[&str]| {
        let mut all =
            vec!["--config", env!("CARGO_MANIFEST_DIR"), "test", "route", "--category", "涉外", "--grade", "I"];
        all.extend_from_slice(args);
        std::process::Command::new(env!("CARGO_BIN_EXE_yuqing")).args(&all).output().expect("run")
    };
    let out = run(&["--topic", "拥军有抚"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("未知的主题 \"拥军有抚\"（是不是 \"拥军优抚\"？）"), "{stderr}");
    assert!(stderr.contains("preferential、拥军优抚"), "lists and their topics are listed: {stderr}");
    assert!(out.stdout.is_empty(), "no routing is printed for a typo");
    let out = run(&["--topic", "拥军优抚", "--source", "bureau-sit"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("未知的信源 \"bureau-sit\"（是不是 \"bureau-site\"？）"), "{stderr}");
    assert!(stderr.contains("bureau-news、city-forum、bureau-site"), "{stderr}");
    // A list's name and its topic are both accepted, as are configured source ids.
    for topic in ["preferential", "拥军优抚"] {
        assert_eq!(run(&["--topic", topic, "--source", "bureau-site"]).status.code(), Some(0), "{topic}");
    }
}

const BAD_ORG: &str = r#"principal = "chenn"
gkb = "nowhere"

[[people]]
id = "chen"
name = "陈局长"

[[people]]
id = "chen"

[[sections]]
id = "preferential"
head = "lee"
leader_in_charge = "chen"

[[departments]]
id = "gongan"

[[routes]]
category = "网宣"
owner = "finance"
report_to = ["gongan", "police"]

[grades.I]
media_tiers = ["national"]

[grades.V]
min_sources = 1

[deadlines.III]
response_hours = -1

[grades.acceleration]
min_ratio = 0.5
min_nwe = 3
"#;

#[test]
fn organisation_references_are_checked_with_their_lines() {
    let p = Project::new("", FILE_MAIL);
    p.write("yuqing.toml", format!("{BAD_ORG}\n{FILE_MAIL}"));
    p.write("keywords/x.txt", "@section = finanse\n抚恤金\n");
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let expect = [
        ("yuqing.toml:1:", "主要领导 principal \"chenn\" 不在 [[people]] 中", "是不是 \"chen\""),
        ("yuqing.toml:2:", "gkb \"nowhere\" 不在 [[sections]] 中", ""),
        ("yuqing.toml:9:", "人员 id \"chen\" 重复", ""),
        ("yuqing.toml:13:", "负责人 head \"lee\" 不在 [[people]] 中", ""),
        ("yuqing.toml:20:", "未知的类别 \"网宣\"", ""),
        ("yuqing.toml:21:", "owner \"finance\" 不在 [[sections]] 中", ""),
        ("yuqing.toml:22:", "report_to \"police\" 不是已知的部门", ""),
        ("yuqing.toml:25:", "未知的媒体层级 \"national\"", ""),
        ("yuqing.toml:27:", "未知的键 \"V\"", ""),
        ("yuqing.toml:31:", "response_hours = -1 不是正的小时数", ""),
        ("yuqing.toml:34:", "min_ratio = 0.5 小于 1", "应不小于 1（默认 2.0）"),
        ("yuqing.toml:35:", "未知的键 \"min_nwe\"", "min_new"),
        ("x.txt:1:12:", "@section = finanse 不在 [[sections]] 中", "[[sections]] 的 id：preferential"),
    ];
    for (place, message, hint) in expect {
        let found = run.stdout.lines().any(|l| l.contains(place) && l.contains(message));
        assert!(found, "missing {place} {message} in:\n{}", run.stdout);
        assert!(run.stdout.contains(hint), "{hint}");
    }
}

#[test]
fn the_alert_reaches_the_first_rung_and_names_owner_and_report() {
    let p = Project::with_org(&support::source("forum", "forum.xml"));
    p.write("keywords/preferential.txt", "@category = 社情民意\n@section = preferential\n@weight = 2\n抚恤金\n");
    p.write("forum.xml", support::rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账")]));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let files = support::eml_files(&p.path().join("outbox"));
    assert_eq!(files.len(), 1);
    let mail = std::fs::read_to_string(&files[0]).expect("eml");
    let to = support::header(&mail, "To").expect("To");
    assert!(to.contains("gkb@example.gov.cn") && to.contains("wang@example.gov.cn"), "{to}");
    assert!(!to.contains("li@example.gov.cn"), "the head is the next rung, not the first: {to}");
    let text = support::text_part(&mail);
    assert!(text.contains("牵头科室：拥军优抚科（preferential）"), "{text}");
    assert!(text.contains("责任领导：陈局长（chen）"), "{text}");
    assert!(text.contains("报送：信访部门"), "{text}");
}

#[test]
fn ladders_come_from_config_and_are_checked() {
    let p = Project::new("", FILE_MAIL);
    let org = support::ORG;
    p.write(
        "yuqing.toml",
        format!(
            "{org}\n[ladder.III]\nliaison_minutes = 0\nhead_minutes = 10\nprincipal_minutes = 60\nrepeat_every_minutes = 20\nrepeats = 2\n{FILE_MAIL}"
        ),
    );
    let run =
        p.run(&["test", "route", "--category", "网络舆情", "--grade", "III", "--topic", "preferential", "--json"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    let after: Vec<u64> =
        v["steps"].as_array().expect("steps").iter().filter_map(|s| s["after_minutes"].as_u64()).collect();
    assert_eq!(after, vec![0, 10, 60]);
    assert_eq!(v["repeat"]["every_minutes"], 20);
    assert_eq!(v["repeat"]["times"], 2);
    assert_eq!(v["repeat"]["each_person"], false);
    let text = p.run(&["test", "route", "--category", "网络舆情", "--grade", "III"]);
    assert!(text.stdout.contains("此后每 20 分钟再提醒一次，直至有人受理，最多 2 次"), "{}", text.stdout);

    p.write(
        "yuqing.toml",
        format!("{org}\n[ladder.II]\nhead_minute = 5\n[ladder.III]\nliaison_minutes = -1\nrepeats = 12\n{FILE_MAIL}"),
    );
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    for message in ["未知的键 \"head_minute\"", "[ladder.II] 没有任何角色", "非负的分钟数", "repeats = 12 太多"]
    {
        assert!(run.stdout.contains(message), "{message} in\n{}", run.stdout);
    }
}

#[test]
fn the_shipped_ladders_write_out_the_defaults() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = yuqing::config::Config::load(root).config.expect("the shipped config is valid");
    assert_eq!(config.response.routing.ladders, yuqing::response::Ladders::default());
}
