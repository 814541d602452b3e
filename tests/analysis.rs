//! `yuqing test match`: hits, flags with reasons, the rumour verdict, negativity, and the
//! event each text joins within the batch — one story rewritten by many sites is one event.

mod support;

use support::{FILE_MAIL, Project};

const STORY: [&str; 6] = [
    "网传临江市烈士陵园将被拆迁改建商业综合体，市退役军人事务局回应：系不实信息，烈士陵园不会拆迁。",
    "【转载】网传临江市烈士陵园将被拆迁改建商业综合体，市退役军人事务局回应：系不实信息，烈士陵园不会拆迁。（来源：临江日报）",
    "网传临江市烈士陵园将被拆迁改建为商业综合体？市退役军人事务局回应称系不实信息，烈士陵园不会拆迁",
    "转发微博：大家别信谣！//网传临江市烈士陵园将被拆迁改建商业综合体，市退役军人事务局回应：系不实信息，烈士陵园不会拆迁。",
    "临江市退役军人事务局回应网传烈士陵园将被拆迁改建商业综合体一事：系不实信息，烈士陵园不会拆迁。",
    "辟谣！网传临江市烈士陵园将被拆迁改建商业综合体，市退役军人事务局回应：系不实信息。",
];

const OTHERS: [&str; 4] = [
    "临江市举办2026年度退役军人专场招聘会，120家企业提供岗位3000余个。",
    "市光荣院开展冬季消防应急演练，提升入住优抚对象安全意识。",
    "关于发放第四季度优抚对象定期抚恤金的公告：资金已于本月底前发放到位。",
    "有网友反映抚恤金迟迟未到账，到底怎么回事？",
];

#[test]
fn a_rewritten_story_is_one_event_and_every_line_is_explained() {
    let p = Project::new("", FILE_MAIL);
    p.write("keywords/flags/rumour.txt", "网传\n");
    p.write("keywords/flags/doubt.txt", "到底\n怎么回事\n");
    p.write("keywords/sentiment/negative.txt", "迟迟未 1\n");
    let mut input = String::new();
    for text in STORY.iter().chain(OTHERS.iter()) {
        input.push_str(&serde_json::json!({ "text": text }).to_string());
        input.push('\n');
    }
    input.push_str("{broken\n");
    p.write("batch.jsonl", &input);
    let run = p.run(&["test", "match", "--jsonl", &p.path().join("batch.jsonl").to_string_lossy()]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("batch.jsonl:11: 不是有效的 JSON"), "{}", run.stderr);
    let out: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(out.len(), STORY.len() + OTHERS.len());
    let events: Vec<u64> = out.iter().map(|v| v["event"].as_u64().expect("event")).collect();
    assert!(events[..STORY.len()].iter().all(|e| *e == events[0]), "{events:?}");
    let others = &events[STORY.len()..];
    assert!(others.iter().all(|e| *e != events[0]), "{events:?}");
    let distinct: std::collections::HashSet<_> = others.iter().collect();
    assert_eq!(distinct.len(), OTHERS.len(), "{events:?}");

    assert_eq!(out[0]["rumour"], true);
    assert_eq!(out[0]["flags"][0]["kind"], "rumour");
    assert_eq!(out[0]["flags"][0]["reasons"][0], "网传");
    assert_eq!(out[0]["lists"], serde_json::json!(["preferential"]), "烈士陵园 is in the test's one list");
    assert_eq!(out[0]["categories"], serde_json::json!(["other"]), "a list without a header is in category other");
    let last = &out[STORY.len() + OTHERS.len() - 1];
    assert_eq!(last["rumour"], false);
    assert_eq!(last["flags"][0]["kind"], "doubt");
    assert_eq!(last["negativity"]["drivers"][0], "迟迟未");
    assert_eq!(last["hits"][0]["term"], "抚恤金");
}

#[test]
fn a_single_text_is_explained_in_chinese() {
    let p = Project::new("", FILE_MAIL);
    p.write("keywords/flags/rumour.txt", "网传\n");
    let run = p.run(&["test", "match", "--title", "网传抚恤金停发", "--text", "抚恤金的事"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("命中：抚恤金（preferential，title）"), "{}", run.stdout);
    assert!(run.stdout.contains("研判：疑似谣言（线索：网传）"), "{}", run.stdout);
    assert!(run.stdout.contains("疑似谣言：是"), "{}", run.stdout);
}

#[test]
fn jsonl_author_and_source_reach_the_rules() {
    let p = Project::new("", FILE_MAIL);
    p.write("keywords/flags/rumour.txt", "紧急通知 !source:bureau-site\n");
    p.write("keywords/preferential.txt", "@category = 社情民意\n@topic = 拥军优抚\n抚恤金\nauthor:老兵 AND 补助\n");
    let lines = [
        serde_json::json!({"text": "紧急通知：抚恤金停发", "source": "forum"}),
        serde_json::json!({"text": "紧急通知：抚恤金停发", "source": "bureau-site"}),
        serde_json::json!({"text": "补助的事", "author": "一位老兵"}),
        serde_json::json!({"text": "補助的事", "author": "路人"}),
    ];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    p.write("batch.jsonl", &input);
    let run = p.run(&["test", "match", "--jsonl", &p.path().join("batch.jsonl").to_string_lossy()]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let out: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(out[0]["rumour"], true, "a non-official account's 紧急通知");
    assert_eq!(out[1]["rumour"], false, "the bureau's own notice is vetoed by !source:");
    assert_eq!(out[0]["categories"], serde_json::json!(["public_sentiment"]));
    assert_eq!(out[0]["topics"], serde_json::json!(["拥军优抚"]));
    let terms = |v: &serde_json::Value| -> Vec<String> {
        v["hits"].as_array().expect("hits").iter().map(|h| h["term"].as_str().unwrap_or_default().to_string()).collect()
    };
    assert_eq!(terms(&out[2]), vec!["补助", "老兵"]);
    assert_eq!(out[2]["hits"][1]["field"], "author");
    assert!(terms(&out[3]).is_empty(), "author: 老兵 is required");
}

#[test]
fn a_single_text_takes_a_source_and_an_author() {
    let p = Project::new(&support::source("bureau-site", "feed.xml"), FILE_MAIL);
    p.write("feed.xml", support::rss(&[]));
    p.write("keywords/flags/rumour.txt", "紧急通知 !source:bureau-site\n");
    p.write("keywords/preferential.txt", "抚恤金\nauthor:老兵 AND 补助\n");
    let run = p.run(&["test", "match", "--text", "紧急通知：补助停发", "--author", "一位老兵"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("命中：补助（preferential，text）、老兵（preferential，author）"), "{}", run.stdout);
    assert!(run.stdout.contains("疑似谣言：是"), "{}", run.stdout);
    let run = p.run(&["test", "match", "--text", "紧急通知：补助停发", "--source", "bureau-site"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("命中：无"), "author: 老兵 is required: {}", run.stdout);
    assert!(run.stdout.contains("疑似谣言：否"), "the bureau's own notice is vetoed by !source: {}", run.stdout);
    let run = p.run(&["test", "match", "--text", "抚恤金", "--source", "bureau-sit"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "未知的信源 \"bureau-sit\"（是不是 \"bureau-site\"？）；可用（sources.toml 中的 id）：bureau-site"
        ),
        "{}",
        run.stderr
    );
}

/// Regression: `yuqing test match … | head -1` used to panic in `println!` ("failed printing
/// to stdout: Broken pipe") once the reader went away.
#[test]
fn a_closed_output_pipe_ends_the_command_quietly() {
    use std::io::{BufRead, BufReader};
    let p = Project::new("", FILE_MAIL);
    let input: String = (0..20_000).map(|i| format!("{{\"text\": \"第{i}条：烈士陵园抚恤金\"}}\n")).collect();
    p.write("many.jsonl", &input);
    let mut child = p
        .command()
        .args(["test", "match", "--jsonl", &p.path().join("many.jsonl").to_string_lossy()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("one line");
    assert!(first.contains("\"hits\""), "{first}");
    // The reader is dropped here: the pipe is closed while output is still coming.
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
}
