//! `yuqing rumour train/eval` on a small invented fixture, and `yuqing test match` using
//! the trained model: the combined verdict and its reason.

mod support;

use support::{FILE_MAIL, Project};

const PLACES: [&str; 6] = ["东湖公园", "市第一医院", "光荣院", "烈士陵园", "火车站", "人民广场"];

/// Invented posts: rumours urge sharing and alarm; the others are plain notices.
fn fixture() -> Vec<(String, bool)> {
    let rumours = [
        "紧急扩散！听说{}明天要拆了，赶紧转发告诉家人",
        "震惊！{}出大事了，千万别去，速转",
        "听说{}的水有毒，千万别喝，不转不是中国人",
        "内部消息：{}下周全部关闭，赶紧扩散",
    ];
    let notices = [
        "市退役军人事务局在{}召开冬季工作部署会议",
        "关于{}春节期间开放时间调整的通知",
        "{}开展消防安全应急演练活动",
        "{}改造工程顺利通过竣工验收",
    ];
    let mut out = Vec::new();
    for place in PLACES {
        for (r, n) in rumours.iter().zip(notices) {
            out.push((r.replace("{}", place), true));
            out.push((n.replace("{}", place), false));
        }
    }
    out
}

fn jsonl(rows: &[(String, bool)]) -> String {
    rows.iter().map(|(t, l)| serde_json::json!({"text": t, "label": i32::from(*l)}).to_string() + "\n").collect()
}

#[test]
fn train_then_eval_then_match_uses_the_model() {
    let p = Project::new("", FILE_MAIL);
    p.write("keywords/flags/rumour.txt", "网传\n");
    let mut train = jsonl(&fixture());
    train.push_str("{\"text\":\"没有标签的一条\",\"label\":null}\n{broken\n");
    p.write("train.jsonl", &train);
    let data = p.path().join("train.jsonl").to_string_lossy().into_owned();

    let run = p.run(&["rumour", "eval", "--data", &data]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("模型：无"), "{}", run.stdout);

    let run = p.run(&["rumour", "train", "--data", &data]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("train.jsonl:50: 不是有效的 JSON"), "{}", run.stderr);
    assert!(
        run.stdout.contains("可用样本 48 条（谣言 24 条，非谣言 24 条），无标签跳过 1 条，无效行跳过 1 条"),
        "{}",
        run.stdout
    );
    let model = p.path().join("rumour.model");
    assert!(run.stdout.contains(&format!("模型已写入 {}", model.display())), "{}", run.stdout);
    let text = std::fs::read_to_string(&model).expect("model written");
    assert!(text.starts_with("yuqing-rumour-model 1\n") && text.ends_with("end\n"));

    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);

    let run = p.run(&["rumour", "eval", "--data", &data]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("模型阈值 0.") && run.stdout.contains("文本分类模型"), "{}", run.stdout);
    assert!(run.stdout.contains("合并（线索或模型）"), "{}", run.stdout);
    let run = p.run(&["rumour", "eval", "--data", &data, "--json"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("json");
    assert_eq!(v["count"], 48);
    assert_eq!(v["cues"]["recall"], 0.0, "no fixture text says 网传");
    assert!(v["model"]["f1"].as_f64().expect("f1") > 0.9, "{v}");
    assert!(v["combined"]["auc"].as_f64().expect("auc") > 0.9, "{v}");

    let batch = [
        "紧急扩散！听说人民广场明天要拆了，赶紧转发告诉家人",
        "市退役军人事务局在光荣院召开冬季工作部署会议",
        "网传市政府召开会议",
    ];
    p.write("batch.jsonl", batch.iter().map(|t| serde_json::json!({"text": t}).to_string() + "\n").collect::<String>());
    let run = p.run(&["test", "match", "--jsonl", &p.path().join("batch.jsonl").to_string_lossy()]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let out: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(out[0]["rumour"], true, "{}", out[0]);
    assert_eq!(out[0]["flags"], serde_json::json!([]), "the model alone decided");
    assert_eq!(out[0]["rumour_model"]["fired"], true);
    let reason = out[0]["rumour_model"]["reason"].as_str().expect("reason");
    assert!(reason.starts_with("文本分类模型 0.") && reason.contains(" ≥ "), "{reason}");
    assert_eq!(out[1]["rumour"], false, "{}", out[1]);
    assert!(out[1]["rumour_model"]["reason"].as_str().expect("reason").contains(" < "));
    assert_eq!(out[2]["rumour"], true, "the cue alone is enough: {}", out[2]);

    let run = p.run(&["test", "match", "--text", "震惊！火车站出大事了，千万别去，速转"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("疑似谣言：是（文本分类模型 0."), "{}", run.stdout);
}

#[test]
fn a_damaged_model_is_a_config_error_and_training_replaces_it() {
    let p = Project::new("", FILE_MAIL);
    p.write("rumour.model", "yuqing-rumour-model 1\nbits 20\nngrams 1 3\n");
    let run = p.run(&["test", "match", "--text", "随便一句话"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(run.stderr.contains("rumour.model") && run.stderr.contains("不完整"), "{}", run.stderr);

    p.write("train.jsonl", jsonl(&fixture()));
    let run = p.run(&["rumour", "train", "--data", &p.path().join("train.jsonl").to_string_lossy()]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);

    p.write("few.jsonl", "{\"text\":\"一\",\"label\":1}\n");
    let run = p.run(&["rumour", "train", "--data", &p.path().join("few.jsonl").to_string_lossy(), "--out", "x"]);
    // Too little data is invalid input (README: exit 1), not unusable storage or runtime.
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("样本不足"), "{}", run.stderr);
}

#[test]
fn the_daemon_flags_what_the_model_judges_a_rumour_and_says_why() {
    let p = Project::new(&support::source("forum", "forum.xml"), FILE_MAIL);
    p.write("train.jsonl", jsonl(&fixture()));
    let run = p.run(&["rumour", "train", "--data", &p.path().join("train.jsonl").to_string_lossy()]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    p.write(
        "forum.xml",
        support::rss(&[
            ("r1", "紧急扩散！听说烈士陵园明天要拆了", "赶紧转发告诉家人，千万别信官方"),
            ("r2", "烈士陵园开展祭扫活动", "市退役军人事务局组织干部职工在烈士陵园开展祭扫活动"),
        ]),
    );
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let mails: Vec<String> = support::eml_files(&p.path().join("outbox"))
        .iter()
        .map(|f| support::text_part(&std::fs::read_to_string(f).expect("eml")))
        .collect();
    assert_eq!(mails.len(), 2);
    let flagged: Vec<&String> =
        mails.iter().filter(|m| m.contains("研判提示：疑似谣言（线索：文本分类模型 0.")).collect();
    assert_eq!(flagged.len(), 1, "{mails:?}");
    assert!(flagged[0].contains("紧急扩散"), "{}", flagged[0]);
}
