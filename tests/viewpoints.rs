//! What netizens say (网民观点): the comments of a Weibo export, stored with their post, are
//! grouped into viewpoints shown by `yuqing event show`, in `yuqing report` and in the
//! event's update alert.

mod support;

use support::{FILE_MAIL, Project, eml_files};

fn export_source(id: &str) -> String {
    format!(
        "[[source]]\nid = \"{id}\"\nname = \"导出 {id}\"\nkind = \"weibo_export\"\nurl = \"exports/{id}\"\nsettle_secs = 0\n\n"
    )
}

/// Unix seconds `minutes` after three hours before the test's clock.
fn at(minutes: i64) -> i64 {
    (chrono::Utc::now() - chrono::Duration::hours(3)).timestamp() + minutes * 60
}

const SUPPORT: &[&str] = &[
    "支持烈士陵园改造，早该修缮了",
    "支持改造，这是好事",
    "支持！修缮以后环境更好",
    "陵园改造是好事，点赞",
    "支持政府修缮烈士陵园",
    "回复@某网友:支持，早就该修缮了",
];
const OPPOSE: &[&str] = &[
    "反对拆迁烈士陵园，英烈不能打扰",
    "坚决反对，这是强拆",
    "反对拆迁，让人寒心",
    "凭什么拆烈士陵园，反对",
    "反对这样拆迁陵园",
    "反对！英烈安息之地不能拆",
];
const NOISE: &[&str] = &["哈哈", "[doge][doge]"];

/// MediaCrawler JSONL: the post, then its comments.
fn export() -> String {
    let mut lines = vec![format!(
        "{{\"note_id\": \"P1\", \"content\": \"网传烈士陵园要拆迁改造\", \"create_time\": \"{}\", \"liked_count\": \"5\", \"comments_count\": \"14\", \"nickname\": \"网友甲\", \"note_url\": \"https://m.weibo.cn/detail/P1\"}}",
        at(-10)
    )];
    let texts = SUPPORT.iter().zip(OPPOSE).flat_map(|(s, o)| [*s, *o]).chain(NOISE.iter().copied());
    for (n, text) in texts.enumerate() {
        lines.push(format!(
            "{{\"comment_id\": \"C{n}\", \"note_id\": \"P1\", \"content\": \"{text}\", \"create_time\": \"{}\", \"comment_like_count\": \"{}\"}}",
            at(n as i64 * 5),
            n % 3
        ));
    }
    lines.join("\n") + "\n"
}

#[test]
fn comments_of_two_opposing_opinions_form_two_viewpoints_shown_everywhere() {
    let p = Project::new(&format!("{}{}", export_source("wb"), export_source("wb2")), FILE_MAIL);
    p.write("keywords/sentiment/negative.txt", "强拆 2\n寒心 1.5\n");
    p.write("exports/wb/notes.jsonl", export());
    std::fs::create_dir_all(p.path().join("exports/wb2")).unwrap_or_default();
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.source_line("wb").contains("新评论 14"), "{}", run.stdout);

    let show = p.run(&["event", "show", "1"]);
    assert_eq!(show.code, Some(0), "{}\n{}", show.stdout, show.stderr);
    let out = &show.stdout;
    assert!(out.contains("网民观点：\n  共 14 条评论，12 条参与归类（2 条过短或仅表情未计）"), "{out}");
    // Two viewpoints of six, one each way; no third.
    let views: Vec<&str> = out.lines().filter(|l| l.trim_start().starts_with("观点")).collect();
    assert_eq!(views.len(), 2, "{out}");
    assert!(views.iter().all(|l| l.contains("：6 条（50%）")), "{views:#?}");
    let positive = views.iter().position(|l| l.contains("倾向 正面（负面度 0.0）")).expect("a supporting viewpoint");
    let negative = views.iter().position(|l| l.contains("倾向 负面")).expect("an opposing viewpoint");
    assert!(!views[negative].contains("负面度 0.0"), "the lexicon scores the opposing side: {}", views[negative]);
    let representatives: Vec<&str> = out.lines().filter(|l| l.contains("代表评论：")).collect();
    assert_eq!(representatives.len(), 2, "{out}");
    let quoted = |i: usize| representatives[i].split('「').nth(1).unwrap_or_default().trim_end_matches('」');
    assert!(SUPPORT.iter().any(|s| s.contains(quoted(positive))), "{}", representatives[positive]);
    assert!(OPPOSE.iter().any(|s| s.contains(quoted(negative))), "{}", representatives[negative]);
    assert!(out.contains("评论量趋势：") && out.contains("起每小时评论数，共 14 条"), "{out}");

    let report = p.run(&["report"]);
    assert_eq!(report.code, Some(0), "{}\n{}", report.stdout, report.stderr);
    assert!(report.stdout.contains("九、网民观点（有评论的事件 1 件）"), "{}", report.stdout);
    assert!(report.stdout.contains("观点1：6 条（50%）"), "{}", report.stdout);
    let html = p.run(&["report", "--format", "html"]);
    assert!(html.stdout.contains("<h2>九、网民观点（有评论的事件 1 件）</h2>"), "{}", html.stdout);

    // A copy from another source is an update alert carrying what netizens say.
    p.write(
        "exports/wb2/notes.jsonl",
        format!(
            "{{\"note_id\": \"Q1\", \"content\": \"网传烈士陵园要拆迁改造\", \"create_time\": \"{}\", \"nickname\": \"网友乙\"}}\n",
            at(100)
        ),
    );
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let texts: Vec<String> = eml_files(&p.path().join("outbox"))
        .iter()
        .map(|f| support::text_part(&std::fs::read_to_string(f).unwrap_or_default()))
        .collect();
    assert_eq!(texts.len(), 2, "{texts:#?}");
    let first = texts.iter().find(|t| t.starts_with("舆情提示")).expect("the first alert");
    assert!(!first.contains("网民观点"), "the first alert came before the comments were stored: {first}");
    let update = texts.iter().find(|t| t.starts_with("舆情更新")).expect("the update");
    let line = update.lines().find(|l| l.starts_with("网民观点：")).unwrap_or_default();
    assert!(line.starts_with("网民观点：评论 14 条；"), "{update}");
    assert!(line.contains("正面 50%「") && line.contains("负面 50%「"), "{line}");
}

/// The report to an outside department (报送单, Art. 9) carries the Art. 13 analysis — the
/// path, the comments' viewpoints — and the joint assessment once it is recorded.
#[test]
fn the_report_to_a_department_carries_the_viewpoints_and_the_assessment() {
    let p = Project::new(&export_source("wb"), FILE_MAIL);
    p.write("keywords/sentiment/negative.txt", "强拆 2\n寒心 1.5\n");
    p.write("exports/wb/notes.jsonl", export());
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);

    let brief = p.run(&["event", "brief", "1", "--to", "gongan"]);
    assert_eq!(brief.code, Some(0), "{}\n{}", brief.stdout, brief.stderr);
    let out = &brief.stdout;
    assert!(out.starts_with("舆情报送单\n\n报送单位：公安部门\n"), "{out}");
    assert!(out.contains("一、出处与传播路径\n") && out.contains("  首发  "), "{out}");
    assert!(out.contains("二、跟帖情况与网民观点\n  共 14 条评论，12 条参与归类"), "{out}");
    assert_eq!(out.matches("代表评论：").count(), 2, "{out}");
    assert!(out.contains("三、会商研判\n  尚未会商研判"), "{out}");

    let assess = p.run(&[
        "event",
        "assess",
        "1",
        "--by",
        "tester",
        "--nature",
        "拆迁误读",
        "--trend",
        "up",
        "--risk",
        "聚集上访",
        "--plan",
        "发布权威解读",
    ]);
    assert_eq!(assess.code, Some(0), "{}\n{}", assess.stdout, assess.stderr);
    let file = p.path().join("brief.txt");
    let brief = p.run(&["event", "brief", "1", "--to", "gongan", "--output", &file.to_string_lossy()]);
    assert_eq!(brief.code, Some(0), "{}\n{}", brief.stdout, brief.stderr);
    let out = std::fs::read_to_string(&file).unwrap_or_default();
    let section = out.split("三、会商研判\n").nth(1).unwrap_or_default();
    assert!(section.contains("拆迁误读") && section.contains("聚集上访") && section.contains("发布权威解读"), "{out}");
    assert!(!section.starts_with("  尚未会商研判"), "{out}");
    let again = p.run(&["event", "brief", "1", "--to", "gongan", "--output", &file.to_string_lossy()]);
    assert_eq!(again.code, Some(1), "an existing file is not overwritten without --force");

    let unknown = p.run(&["event", "brief", "1", "--to", "police"]);
    assert_eq!(unknown.code, Some(1));
    assert!(
        unknown.stderr.contains("未知的部门 \"police\"") && unknown.stderr.contains("gongan"),
        "{}",
        unknown.stderr
    );
}
