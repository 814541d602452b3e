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
    assert!(!run.stdout.contains("--comments"), "no replies, no hint: {}", run.stdout);
    assert!(run.stderr.contains("train.jsonl:50: 不是有效的 JSON"), "{}", run.stderr);
    assert!(
        run.stdout.contains("可用样本 48 条（谣言 24 条，非谣言 24 条），无标签跳过 1 条，无效行跳过 1 条"),
        "{}",
        run.stdout
    );
    let model = p.path().join("rumour.model");
    assert!(run.stdout.contains(&format!("模型已写入 {}", model.display())), "{}", run.stdout);
    let text = std::fs::read_to_string(&model).expect("model written");
    assert!(text.starts_with("yuqing-rumour-model 5\n") && text.ends_with("end\n"));
    assert!(!text.contains("\nreaction "), "no replies, no reaction part");
    // The weighted and ensemble variants write ordinary files, other weights.
    for (option, says) in [("--weighting=nb", "特征加权：nb"), ("--ensemble", "普通模型与 NB 加权模型的平均")]
    {
        let out = p.path().join("variant.model");
        let run = p.run(&["rumour", "train", "--data", &data, "--out", &out.to_string_lossy(), option]);
        assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
        assert!(run.stdout.contains(says), "{}", run.stdout);
        let variant = std::fs::read_to_string(&out).expect("variant written");
        assert!(variant.starts_with("yuqing-rumour-model 5\n") && variant != text, "{option}");
    }

    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);

    let run = p.run(&["rumour", "eval", "--data", &data]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("模型阈值 0.") && run.stdout.contains("文本分类模型"), "{}", run.stdout);
    assert!(run.stdout.contains("合并（模型，或经模型确认的线索）"), "{}", run.stdout);
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
    assert_eq!(out[0]["rumour_model"]["fired"], true);
    let reason = out[0]["rumour_model"]["reason"].as_str().expect("reason");
    // The model alone decided; its reason is the flag's, as in the daemon's alert.
    assert_eq!(out[0]["flags"], serde_json::json!([{"kind": "rumour", "reasons": [reason]}]));
    assert!(reason.starts_with("文本分类模型 0.") && reason.contains(" ≥ "), "{reason}");
    assert_eq!(out[1]["rumour"], false, "{}", out[1]);
    assert!(out[1]["rumour_model"]["reason"].as_str().expect("reason").contains(" < "));
    // A cue the model does not confirm (a notice with 网传 in it) is no 谣言 flag: the post is
    // 待核实, naming the cue and the model's score.
    assert_eq!(out[2]["rumour"], false, "{}", out[2]);
    assert_eq!(out[2]["flags"], serde_json::json!([]), "{}", out[2]);
    assert_eq!(out[2]["to_verify"], true, "{}", out[2]);
    let why = out[2]["to_verify_reason"].as_str().expect("reason");
    assert!(why.starts_with("谣言线索：网传；文本分类模型 0.") && why.contains(" < "), "{why}");
    // A cue on a post the model scores in its band or above stands, with the model's reason.
    let run = p.run(&["test", "match", "--text", "网传人民广场明天要拆了，赶紧转发告诉家人"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("研判：疑似谣言（线索：网传、文本分类模型 0."), "{}", run.stdout);

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

/// The alert texts of one `run --once` over a forum feed of `posts` (guid, title, text),
/// with a model trained on the fixture and `cues` as the 谣言 cue list (None: the shipped one).
fn forum_alerts_with_model(cues: Option<&str>, posts: &[(&str, &str, &str)]) -> (Project, Vec<String>) {
    let p = Project::new(&support::source("forum", "forum.xml"), FILE_MAIL);
    if let Some(cues) = cues {
        p.write("keywords/flags/rumour.txt", cues);
    }
    p.write("train.jsonl", jsonl(&fixture()));
    let run = p.run(&["rumour", "train", "--data", &p.path().join("train.jsonl").to_string_lossy()]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    p.write("forum.xml", support::rss(posts));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let mails = outbox_texts(&p);
    (p, mails)
}

#[test]
fn the_daemon_flags_what_the_model_judges_a_rumour_and_says_why() {
    let (_, mails) = forum_alerts_with_model(
        None,
        &[
            ("r1", "紧急扩散！听说烈士陵园明天要拆了", "赶紧转发告诉家人，千万别信官方"),
            ("r2", "烈士陵园开展祭扫活动", "市退役军人事务局组织干部职工在烈士陵园开展祭扫活动"),
        ],
    );
    assert_eq!(mails.len(), 2);
    let flagged: Vec<&String> =
        mails.iter().filter(|m| m.contains("研判提示：疑似谣言（线索：文本分类模型 0.")).collect();
    assert_eq!(flagged.len(), 1, "{mails:?}");
    assert!(flagged[0].contains("紧急扩散"), "{}", flagged[0]);
}

/// A 谣言 cue on a post the model scores below its band is no flag in the alert but a 待核实
/// line naming the cue, and the post still reaches its people (its keyword hit alerts).
#[test]
fn a_cue_the_model_does_not_confirm_is_sent_as_to_verify_not_as_a_rumour() {
    let (p, mails) = forum_alerts_with_model(
        Some("网传\n"),
        &[
            ("n1", "网传烈士陵园开展祭扫活动", "市退役军人事务局组织干部职工在烈士陵园开展祭扫活动"),
            ("r1", "网传烈士陵园明天要拆了", "紧急扩散！听说烈士陵园明天要拆了，赶紧转发告诉家人，千万别信官方"),
        ],
    );
    assert_eq!(mails.len(), 2, "both posts reach their people: {mails:?}");
    let notice = mails.iter().find(|m| m.contains("开展祭扫活动")).expect("the notice's alert");
    assert!(!notice.contains("疑似谣言（"), "{notice}");
    assert!(notice.contains("待核实：") && notice.contains("谣言线索：网传；文本分类模型 0."), "{notice}");
    let rumour = mails.iter().find(|m| m.contains("明天要拆了")).expect("the rumour's alert");
    assert!(rumour.contains("研判提示：疑似谣言（线索：网传、文本分类模型 0."), "{rumour}");
    // Nothing is lost: the stored record keeps why the notice is to be verified.
    let hits = p.run(&["hits"]);
    assert!(hits.stdout.contains("    待核实：谣言线索：网传；文本分类模型 0."), "{}", hits.stdout);
    assert_eq!(hits.stdout.matches("待核实：").count(), 1, "{}", hits.stdout);
}

/// The fixture with every rumour written as markup (`<p>`, `&nbsp;`, `<br/>`), as posts
/// copied from web pages are: a model that learnt from the raw text would learn the markup.
fn marked_up_fixture() -> Vec<(String, bool)> {
    fixture()
        .into_iter()
        .map(
            |(t, rumour)| {
                if rumour {
                    (format!("<p>{}&nbsp;<br/></p>", t.replacen('，', "</p><p>", 1)), true)
                } else {
                    (t, false)
                }
            },
        )
        .collect()
}

#[test]
fn train_eval_test_match_and_the_daemon_read_a_post_the_same_way() {
    let p = Project::new(&support::source("forum", "forum.xml"), FILE_MAIL);
    p.write("train.jsonl", jsonl(&marked_up_fixture()));
    let run = p.run(&["rumour", "train", "--data", &p.path().join("train.jsonl").to_string_lossy()]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let model = std::fs::read_to_string(p.path().join("rumour.model")).expect("model");

    let (title, text) = (
        "<b>烈士陵园</b>要拆了",
        "<p>紧急扩散！听说&nbsp;烈士陵园明天要拆了</p><p>赶紧转发告诉家人，千万别去，速转，不转不是中国人</p>",
    );
    // rumour eval, one example with a title.
    p.write("one.jsonl", serde_json::json!({"title": title, "text": text, "label": 1}).to_string() + "\n");
    let scores = p.path().join("scores.jsonl");
    let run = p.run(&[
        "rumour",
        "eval",
        "--data",
        &p.path().join("one.jsonl").to_string_lossy(),
        "--scores",
        &scores.to_string_lossy(),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let scored: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&scores).expect("scores").trim()).expect("json");
    let by_eval = scored["probability"].as_f64().expect("probability");

    // test match --jsonl, the same raw title and text.
    p.write("batch.jsonl", serde_json::json!({"title": title, "text": text}).to_string() + "\n");
    let run = p.run(&["test", "match", "--jsonl", &p.path().join("batch.jsonl").to_string_lossy()]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let matched: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("json");
    let by_match = matched["rumour_model"]["probability"].as_f64().expect("probability");
    assert_eq!(by_eval, by_match, "rumour eval and test match score the same post alike");
    assert_eq!(matched["rumour_model"]["fired"], true, "{matched}");

    // The daemon, the same post as a feed item (escaped inside the XML, as feeds carry HTML).
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    p.write("forum.xml", support::rss(&[("r1", &escape(title), &escape(text))]));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let mails = outbox_texts(&p);
    assert_eq!(mails.len(), 1, "{mails:?}");
    let reason = format!("文本分类模型 {by_match:.2} ≥");
    assert!(mails[0].contains(&reason), "want {reason} in {}", mails[0]);

    // The markup never reached the model: no feature of "<p>" or "nbsp" carries weight, so
    // the same words without markup score exactly the same.
    let plain = serde_json::json!({
        "title": "烈士陵园要拆了",
        "text": "紧急扩散！听说 烈士陵园明天要拆了 赶紧转发告诉家人，千万别去，速转，不转不是中国人",
    });
    p.write("plain.jsonl", plain.to_string() + "\n");
    let run = p.run(&["test", "match", "--jsonl", &p.path().join("plain.jsonl").to_string_lossy()]);
    let plain: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("json");
    assert_eq!(plain["rumour_model"]["probability"].as_f64(), Some(by_match), "{model:.0}");

    // Below the flag but inside the 待核实 band (the flag's cut moved to the top, the band's
    // to the bottom): the daemon's alert says so on its own line and raises no flag.
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    p.write("yuqing.toml", format!("{toml}\n[detection]\nrumour_threshold = 1.0\nrumour_review_threshold = 0.001\n"));
    let mild = "烈士陵园今日照常开放，欢迎市民前往祭扫";
    p.write("forum.xml", support::rss(&[("r2", "烈士陵园开放时间", mild)]));
    let before = support::eml_files(&p.path().join("outbox")).len();
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let files = support::eml_files(&p.path().join("outbox"));
    assert_eq!(files.len(), before + 1, "one new alert");
    let mail = files
        .iter()
        .map(|f| support::text_part(&std::fs::read_to_string(f).expect("eml")))
        .find(|m| m.contains("烈士陵园开放时间"))
        .expect("the new alert");
    assert!(mail.contains("待核实：可能是谣言，请核实后再定（文本分类模型"), "{mail}");
    assert!(!mail.contains("疑似谣言"), "{mail}");
}

#[test]
fn eval_and_test_match_need_no_runnable_sources() {
    let sources =
        "[[source]]\nid = \"weibo\"\nname = \"微博导出\"\nkind = \"weibo_export\"\nurl = \"exports/not-yet\"\n";
    let p = Project::new(sources, FILE_MAIL);
    p.write("train.jsonl", jsonl(&fixture()));
    let data = p.path().join("train.jsonl").to_string_lossy().into_owned();
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1), "the daemon still refuses: {}", run.stdout);
    assert!(run.stdout.contains("导出文件夹不存在"), "{}", run.stdout);

    let run = p.run(&["rumour", "train", "--data", &data]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let run = p.run(&["rumour", "eval", "--data", &data, "--json"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("json");
    assert_eq!(v["count"], 48);
    let run = p.run(&["test", "match", "--text", "震惊！火车站出大事了，千万别去，速转"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("疑似谣言：是（文本分类模型"), "{}", run.stdout);
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
}

#[test]
fn thresholds_per_use_come_from_yuqing_toml_and_are_checked() {
    let p = Project::new("", FILE_MAIL);
    p.write("train.jsonl", jsonl(&fixture()));
    let run = p.run(&["rumour", "train", "--data", &p.path().join("train.jsonl").to_string_lossy()]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("待核实："), "{}", run.stdout);
    let settings = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("settings");
    let with = |detection: &str| p.write("yuqing.toml", format!("{settings}\n[detection]\n{detection}\n"));
    let post = "紧急扩散！听说人民广场明天要拆了，赶紧转发告诉家人";
    let judged = |p: &Project| -> serde_json::Value {
        p.write("batch.jsonl", serde_json::json!({"text": post}).to_string() + "\n");
        let run = p.run(&["test", "match", "--jsonl", &p.path().join("batch.jsonl").to_string_lossy()]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        serde_json::from_str(run.stdout.trim()).expect("json")
    };
    let probability = judged(&p)["rumour_model"]["probability"].as_f64().expect("probability");
    assert!(probability > 0.1 && probability + 0.005 <= 1.0, "{probability}");

    // The flag set above the post, the band below it: to verify, not flagged.
    with(&format!(
        "rumour_threshold = {:.3}\nrumour_review_threshold = {:.3}",
        probability + 0.005,
        probability - 0.05
    ));
    let v = judged(&p);
    assert_eq!((v["rumour"].as_bool(), v["to_verify"].as_bool()), (Some(false), Some(true)), "{v}");
    assert!(v["rumour_model"]["reason"].as_str().expect("reason").contains("待核实"), "{v}");
    let run = p.run(&["test", "match", "--text", post]);
    assert!(run.stdout.contains("疑似谣言：否") && run.stdout.contains("待核实：是"), "{}", run.stdout);

    // The flag below the post: a rumour, not "to verify".
    with(&format!("rumour_threshold = {:.3}", probability - 0.005));
    let v = judged(&p);
    assert_eq!((v["rumour"].as_bool(), v["to_verify"].as_bool()), (Some(true), Some(false)), "{v}");

    // Checked like every key, in Chinese, naming the line.
    with("rumour_threshold = 1.5");
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("rumour_threshold = 1.5 不在 (0, 1] 之内"), "{}", run.stdout);
    with("rumour_threshold = 0.5\nrumour_review_threshold = 0.7");
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("rumour_review_threshold = 0.7 高于 rumour_threshold = 0.5"), "{}", run.stdout);
    with("rumour_review_threshold = 1.0");
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("高于谣言模型的阈值"), "{}", run.stdout);
}

/// Words only the rumours, or only the notices, of the cases test contain.
const RUMOUR_MARKS: [&str; 3] = ["紧急扩散", "震惊", "内部消息"];
const NOTICE_MARKS: [&str; 2] = ["开放时间调整", "应急演练"];

/// The office's own verdicts (`event feedback --kind rumour-confirmed|rumour-refuted`) become
/// training cases; a retrained model that judges the held-back cases worse than the live one
/// is refused (the live file untouched, the new one left beside it) unless `--force`.
#[test]
fn the_offices_cases_feed_training_and_a_worse_model_is_refused() {
    let p = Project::new(&support::source("forum", "forum.xml"), FILE_MAIL);
    p.write("train.jsonl", jsonl(&fixture()));
    let data = p.path().join("train.jsonl").to_string_lossy().into_owned();
    let run = p.run(&["rumour", "train", "--data", &data]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);

    // Posts about the cemetery (a keyword), rumours and notices, each with markup.
    let rumours = [
        "紧急扩散！听说烈士陵园{}明天要拆了",
        "震惊！烈士陵园{}出大事了，千万别去",
        "内部消息：烈士陵园{}下周全部关闭",
    ];
    let notices = ["关于烈士陵园{}春节期间开放时间调整的通知", "烈士陵园{}开展消防安全应急演练活动"];
    let parts = ["东区", "西区", "南门", "北门", "纪念馆"];
    let mut items = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        for (j, t) in rumours.iter().enumerate() {
            items.push((
                format!("r{i}{j}"),
                t.replace("{}", part),
                "赶紧转发告诉家人，&lt;b&gt;速转&lt;/b&gt;".to_string(),
            ));
        }
        for (j, t) in notices.iter().enumerate() {
            items.push((format!("n{i}{j}"), t.replace("{}", part), "市退役军人事务局发布".to_string()));
        }
    }
    let refs: Vec<(&str, &str, &str)> = items.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
    p.write("forum.xml", support::rss(&refs));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);

    // Label every event by what its posts are.
    let mut labelled = 0;
    for id in 1.. {
        let show = p.run(&["event", "show", &id.to_string()]);
        if show.code != Some(0) {
            break;
        }
        let rumour = RUMOUR_MARKS.iter().any(|m| show.stdout.contains(m));
        let notice = NOTICE_MARKS.iter().any(|m| show.stdout.contains(m));
        assert!(rumour != notice, "event #{id} mixes rumours and notices:\n{}", show.stdout);
        let kind = if rumour { "rumour-confirmed" } else { "rumour-refuted" };
        let run = p.run(&["event", "feedback", &id.to_string(), "--by", "tester", "--kind", kind]);
        assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
        assert!(run.stdout.contains("rumour_cases.jsonl"), "{}", run.stdout);
        labelled += 1;
    }
    assert!(labelled >= 2, "rumours and notices form events of their own");
    let cases_path = p.path().join("rumour_cases.jsonl");
    let cases: Vec<serde_json::Value> = std::fs::read_to_string(&cases_path)
        .expect("cases file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(cases.len(), items.len(), "every post of every labelled event is a case");
    for case in &cases {
        let text = case["text"].as_str().expect("text");
        assert!(!text.contains('<') && !text.contains("&lt;"), "cases hold the text the daemon reads: {text}");
        let rumour = RUMOUR_MARKS.iter().any(|m| text.contains(m));
        assert_eq!(case["label"], i32::from(rumour), "{case}");
    }
    let cases_arg = cases_path.to_string_lossy().into_owned();

    // Training on labels turned upside down gives a model that judges the held-back cases
    // worse: refused, and the live model stays.
    let live = std::fs::read(p.path().join("rumour.model")).expect("model");
    let flipped: Vec<(String, bool)> = fixture().into_iter().map(|(t, l)| (t, !l)).collect();
    p.write("flipped.jsonl", jsonl(&flipped));
    let flipped_arg = p.path().join("flipped.jsonl").to_string_lossy().into_owned();
    let args = ["rumour", "train", "--data", &flipped_arg, "--cases", &cases_arg, "--case-weight", "0.01"];
    let run = p.run(&args);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("条留出"), "{}", run.stdout);
    assert!(run.stderr.contains("未替换"), "{}", run.stderr);
    assert_eq!(std::fs::read(p.path().join("rumour.model")).expect("model"), live, "the live model is untouched");
    assert!(p.path().join("rumour.model.new").exists(), "the refused model is kept for inspection");

    // The right labels and the cases: at least as good, so it replaces the live model.
    let run = p.run(&["rumour", "train", "--data", &data, "--cases", &cases_arg]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("模型已写入"), "{}", run.stdout);
    let improved = std::fs::read(p.path().join("rumour.model")).expect("model");
    assert_ne!(improved, live, "trained with the cases, the model changed");

    // --force replaces even a worse one.
    let mut forced = args.to_vec();
    forced.push("--force");
    let run = p.run(&forced);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("因 --force 仍替换现有模型"), "{}", run.stdout);
    assert_ne!(std::fs::read(p.path().join("rumour.model")).expect("model"), improved);
}

const DOUBTING: [&str; 3] = ["官方已经辟谣了，这是假的", "别信，谣言", "真的假的？求证一下"];
const THANKING: [&str; 3] = ["谢谢通知", "辛苦了，已收到", "收到，已转告家人"];

/// Invented posts that read alike in both classes: only their replies tell a rumour (the
/// public doubts it) from a notice (the public thanks for it).
fn reaction_fixture() -> String {
    let templates = ["{}抚恤金发放的消息，大家看看", "{}优抚对象补贴调整的说法", "关于{}的最新消息", "{}那边的情况"];
    let (doubting, thanking) = (DOUBTING, THANKING);
    let mut out = String::new();
    for place in PLACES {
        for t in templates {
            let text = t.replace("{}", place);
            for (label, comments) in [(1, doubting), (0, thanking)] {
                out.push_str(
                    &(serde_json::json!({"text": text, "label": label, "comments": comments}).to_string() + "\n"),
                );
            }
        }
    }
    out
}

#[test]
fn training_data_that_mostly_carry_comments_get_a_reaction_model_unless_declined() {
    let p = Project::new("", FILE_MAIL);
    let reaction_part = |p: &Project, name: &str| {
        let model = std::fs::read_to_string(p.path().join(name)).expect("model written");
        model.contains("\nreaction ")
    };
    let out = |name: &str| p.path().join(name).to_string_lossy().into_owned();
    // Every line carries replies: the reaction part is trained without being asked for.
    p.write("train.jsonl", reaction_fixture());
    let data = p.path().join("train.jsonl").to_string_lossy().into_owned();
    let run = p.run(&["rumour", "train", "--data", &data, "--out", &out("auto.model")]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("48 / 48 条样本有至少 1 条评论（comments 字段），过半"), "{}", run.stdout);
    assert!(run.stdout.contains("文本+评论模型阈值："), "{}", run.stdout);
    assert!(reaction_part(&p, "auto.model"));
    // --no-comments declines it; --comments with it is refused by the parser.
    let run = p.run(&["rumour", "train", "--data", &data, "--out", &out("plain.model"), "--no-comments"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("评论"), "{}", run.stdout);
    assert!(!reaction_part(&p, "plain.model"));
    let run = p.run(&["rumour", "train", "--data", &data, "--comments", "--no-comments"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("'--comments' cannot be used with '--no-comments'"), "{}", run.stderr);

    // Fewer than half carry replies: content only, and a hint how to get both.
    let mut mixed: String = reaction_fixture().lines().take(10).map(|l| format!("{l}\n")).collect();
    mixed.push_str(&jsonl(&fixture()));
    p.write("mixed.jsonl", &mixed);
    let mixed = p.path().join("mixed.jsonl").to_string_lossy().into_owned();
    let run = p.run(&["rumour", "train", "--data", &mixed, "--out", &out("mixed.model")]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("只有 10 / 58 条样本有至少 1 条评论，不足一半，只训练文本模型"), "{}", run.stdout);
    assert!(!reaction_part(&p, "mixed.model"));
    let run = p.run(&["rumour", "train", "--data", &mixed, "--out", &out("asked.model"), "--comments"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(reaction_part(&p, "asked.model"));
}

#[test]
fn a_model_trained_with_comments_judges_posts_by_their_replies_and_says_so() {
    let p = Project::new("", FILE_MAIL);
    p.write("train.jsonl", reaction_fixture());
    let data = p.path().join("train.jsonl").to_string_lossy().into_owned();
    let run = p.run(&["rumour", "train", "--data", &data, "--comments", "--min-comments", "2"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("48 条样本有至少 2 条评论"), "{}", run.stdout);
    assert!(run.stdout.contains("文本+评论模型阈值："), "{}", run.stdout);
    let model = std::fs::read_to_string(p.path().join("rumour.model")).expect("model written");
    assert!(model.starts_with("yuqing-rumour-model 5\n") && model.contains("\nreaction 2 50\n"), "{model:.200}");
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);

    let run = p.run(&["rumour", "eval", "--data", &data, "--json"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("json");
    assert_eq!(
        (v["count"].as_u64(), v["with_comments"].as_u64(), v["by_reaction_model"].as_u64()),
        (Some(48), Some(48), Some(48))
    );
    assert_eq!(v["reaction"]["min_comments"], 2);
    assert!(v["model"]["auc"].as_f64().expect("auc") > 0.95, "{v}");
    let run = p.run(&["rumour", "eval", "--data", &data]);
    assert!(run.stdout.contains("有评论的 48 条，由文本+评论模型判断 48 条"), "{}", run.stdout);

    // The same posts without their replies: the content model judges them, and it cannot
    // tell the two classes apart; --min-comments 0 forces the reaction model on them.
    let bare: String = reaction_fixture()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("json");
            v.as_object_mut().map(|o| o.remove("comments"));
            v.to_string() + "\n"
        })
        .collect();
    p.write("bare.jsonl", bare);
    let bare_path = p.path().join("bare.jsonl").to_string_lossy().into_owned();
    let run = p.run(&["rumour", "eval", "--data", &bare_path, "--json"]);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("json");
    assert_eq!((v["with_comments"].as_u64(), v["by_reaction_model"].as_u64()), (Some(0), Some(0)));
    assert!(v["model"]["auc"].as_f64().expect("auc") < 0.7, "{v}");
    let run = p.run(&["rumour", "eval", "--data", &bare_path, "--json", "--min-comments", "0"]);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("json");
    assert_eq!((v["with_comments"].as_u64(), v["by_reaction_model"].as_u64()), (Some(0), Some(48)), "{v}");

    let batch = [
        serde_json::json!({"text": "火车站抚恤金发放的消息，大家看看", "comments": DOUBTING}),
        serde_json::json!({"text": "火车站抚恤金发放的消息，大家看看", "comments": &THANKING[..2]}),
        serde_json::json!({"text": "火车站抚恤金发放的消息，大家看看", "comments": ["假的"]}),
        serde_json::json!({"text": "火车站抚恤金发放的消息，大家看看"}),
        serde_json::json!({"text": "火车站抚恤金发放的消息", "comments": "假的"}),
    ];
    p.write("batch.jsonl", batch.iter().map(|v| v.to_string() + "\n").collect::<String>());
    let run = p.run(&["test", "match", "--jsonl", &p.path().join("batch.jsonl").to_string_lossy()]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("batch.jsonl:5: comments 应为文本数组"), "{}", run.stderr);
    let out: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(out.len(), 4);
    let verdict = &out[0]["rumour_model"];
    assert_eq!((verdict["fired"].as_bool(), verdict["replies"].as_u64()), (Some(true), Some(3)), "{verdict}");
    let reason = verdict["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("文本+评论模型（3 条评论）") && reason.contains("依据：评论质疑真假 100%、评论“"),
        "{reason}"
    );
    assert_eq!(out[0]["rumour"], true);
    assert_eq!(out[1]["rumour_model"]["fired"], false, "{}", out[1]);
    assert_eq!(out[1]["rumour_model"]["replies"], 2);
    for (i, line) in out.iter().enumerate().skip(2) {
        assert_eq!(line["rumour_model"]["by_reaction_model"], false, "fewer than 2 replies: the content model ({i})");
        assert!(line["rumour_model"]["reason"].as_str().expect("reason").starts_with("文本分类模型 0."), "{line}");
    }

    // The reaction model's cuts come from yuqing.toml too, checked like the content model's.
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    p.write("yuqing.toml", format!("{toml}\n[detection]\nrumour_reaction_threshold = 1.0\n"));
    let run = p.run(&["test", "match", "--jsonl", &p.path().join("batch.jsonl").to_string_lossy()]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let first: serde_json::Value = serde_json::from_str(run.stdout.lines().next().expect("a line")).expect("json");
    assert_eq!(first["rumour_model"]["replies"], 3, "{first}");
    assert_eq!(first["rumour_model"]["fired"], false, "a cut of 1.0 flags nothing: {first}");
    p.write(
        "yuqing.toml",
        format!("{toml}\n[detection]\nrumour_reaction_threshold = 0.6\nrumour_reaction_review_threshold = 0.7\n"),
    );
    let check = p.run(&["check"]);
    assert_ne!(check.code, Some(0));
    assert!(
        check.stdout.contains("rumour_reaction_review_threshold = 0.7 高于 rumour_reaction_threshold = 0.6"),
        "{}",
        check.stdout
    );

    p.write("yuqing.toml", &toml);

    // A content model has no reaction part to force, nor reaction cuts to take.
    let plain = p.path().join("plain.model").to_string_lossy().into_owned();
    let run = p.run(&["rumour", "train", "--data", &data, "--out", &plain, "--no-comments"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!run.stdout.contains("文本+评论模型"), "--no-comments: content only: {}", run.stdout);
    let run = p.run(&["rumour", "eval", "--data", &data, "--model", &plain, "--min-comments", "0"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("--min-comments 需要用 rumour train --comments 训练的模型"), "{}", run.stderr);
    let run = p.run(&["rumour", "train", "--data", &data, "--force", "--no-comments"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    p.write("yuqing.toml", format!("{toml}\n[detection]\nrumour_reaction_threshold = 0.9\n"));
    let check = p.run(&["check"]);
    assert!(check.stdout.contains("谣言模型没有评论部分，此设置不起作用"), "{}", check.stdout);
}

/// A project reading the Weibo export folder `exports/mc` (files settle at once), with a
/// model trained with `--comments` on the reply fixture (its reaction part from 2 replies).
fn export_project_with_reaction_model() -> Project {
    let p = Project::new(
        "[[source]]\nid = \"mc\"\nname = \"导出 mc\"\nkind = \"weibo_export\"\nurl = \"exports/mc\"\nsettle_secs = 0\n",
        FILE_MAIL,
    );
    p.write("train.jsonl", reaction_fixture());
    let data = p.path().join("train.jsonl").to_string_lossy().into_owned();
    let run = p.run(&["rumour", "train", "--data", &data, "--comments", "--min-comments", "2"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    p
}

#[test]
fn the_daemon_judges_an_export_post_with_its_early_comments() {
    let p = export_project_with_reaction_model();
    // Two posts alike; one doubted in its first hour, the other thanked, then doubted two
    // days later (after the 24 hours the model reads).
    let post = |id: &str| {
        serde_json::json!({"note_id": id, "content": "火车站抚恤金发放的消息，大家看看", "create_time": "1795740000",
            "nickname": "网友A", "note_url": format!("https://m.weibo.cn/detail/{id}")})
    };
    let comment = |id: &str, post: &str, text: &str, at: i64| serde_json::json!({"comment_id": id, "note_id": post, "content": text, "create_time": at.to_string()});
    let lines = [
        post("N1"),
        post("N2"),
        comment("C1", "N1", DOUBTING[0], 1_795_740_600),
        comment("C2", "N1", DOUBTING[1], 1_795_740_700),
        comment("C3", "N1", DOUBTING[2], 1_795_740_800),
        comment("C4", "N2", THANKING[0], 1_795_740_600),
        comment("C5", "N2", THANKING[1], 1_795_740_700),
        comment("C6", "N2", DOUBTING[0], 1_795_740_000 + 2 * 86_400),
        comment("C7", "N2", DOUBTING[1], 1_795_740_000 + 2 * 86_400),
        comment("C8", "N2", DOUBTING[2], 1_795_740_000 + 2 * 86_400),
    ];
    p.write("exports/mc/notes.jsonl", lines.iter().map(|v| v.to_string() + "\n").collect::<String>());
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let mails = outbox_texts(&p);
    let flagged: Vec<&String> = mails.iter().filter(|m| m.contains("文本+评论模型（3 条评论）")).collect();
    assert_eq!(flagged.len(), 1, "{mails:?}");
    assert!(flagged[0].contains("疑似谣言") && flagged[0].contains("评论“"), "{}", flagged[0]);
    assert!(!mails.iter().any(|m| m.contains("文本+评论模型（5 条评论）")), "late comments are not read: {mails:?}");
    // One text path for replies too: test match on the post and its early comments gives the
    // daemon's very reason.
    let line = serde_json::json!({"text": "火车站抚恤金发放的消息，大家看看", "comments": DOUBTING});
    p.write("one.jsonl", line.to_string() + "\n");
    let run = p.run(&["test", "match", "--jsonl", &p.path().join("one.jsonl").to_string_lossy()]);
    let out: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("json");
    let reason = out["rumour_model"]["reason"].as_str().expect("reason");
    assert!(flagged[0].contains(reason), "{reason}\n{}", flagged[0]);

    // The office's verdict on the event records each post with its early comments, for
    // `rumour train --comments --cases`.
    let run = p.run(&["event", "feedback", "1", "--by", "tester", "--kind", "rumour-confirmed"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let cases = std::fs::read_to_string(p.path().join("rumour_cases.jsonl")).expect("cases");
    let cases: Vec<serde_json::Value> = cases.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let mut recorded: Vec<serde_json::Value> = cases.iter().map(|c| c["comments"].clone()).collect();
    recorded.sort_by_key(|c| c.to_string());
    assert_eq!(recorded, [serde_json::json!(DOUBTING), serde_json::json!(&THANKING[..2])], "{cases:?}");
}

#[test]
fn a_stored_post_is_judged_again_when_its_comments_come_in_a_later_file() {
    let p = export_project_with_reaction_model();
    // The fixture's posts read alike either way: the content model is not to flag alone.
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    p.write("yuqing.toml", format!("{toml}\n[detection]\nrumour_threshold = 0.95\n"));
    // MediaCrawler's way: the posts in one file, their comments later in another.
    let (posted, first) = export_post_an_hour_ago(&p, "火车站抚恤金发放的消息，大家看看");
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(!first[0].contains("疑似谣言"), "no replies yet, the content model alone: {}", first[0]);

    p.write("exports/mc/comments-1.jsonl", doubting_comments("C", posted + 600));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let second = outbox_texts(&p);
    assert_eq!(second.len(), 2, "the doubted post is told again: {second:?}\n{}\n{}", run.stdout, run.stderr);
    let new = second.iter().find(|m| !first.contains(m)).expect("the new alert");
    assert!(new.contains("疑似谣言") && new.contains(&format!("文本+评论模型（{} 条评论）", DOUBTING.len())), "{new}");
    let hits = p.run(&["hits"]);
    assert!(hits.stdout.contains("文本+评论模型"), "the flag is stored with the post: {}", hits.stdout);

    // Flagged once: more doubting replies tell nobody again.
    p.write("exports/mc/comments-2.jsonl", doubting_comments("D", posted + 1200));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(outbox_texts(&p).len(), 2);
}

/// A 谣言 cue the content model did not confirm (the post went out as 待核实) is confirmed
/// by the replies when they come: the reaction model puts the post in its band, so the cue
/// stands as the flag, as it would have with the replies at hand (`rumour::settle`).
#[test]
fn replies_arriving_later_can_confirm_a_cue_the_content_model_did_not() {
    let p = export_project_with_reaction_model();
    p.write("keywords/flags/rumour.txt", "网传\n");
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    // Neither model flags on its own; the reaction model's band starts low.
    p.write(
        "yuqing.toml",
        format!(
            "{toml}\n[detection]\nrumour_threshold = 0.999\nrumour_review_threshold = 0.998\nrumour_reaction_threshold = 0.9999\nrumour_reaction_review_threshold = 0.05\n"
        ),
    );
    let (posted, first) = export_post_an_hour_ago(&p, "网传火车站抚恤金发放的消息，大家看看");
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(!first[0].contains("疑似谣言（") && first[0].contains("谣言线索：网传"), "{}", first[0]);

    p.write("exports/mc/comments-1.jsonl", doubting_comments("C", posted + 600));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let second = outbox_texts(&p);
    assert_eq!(second.len(), 2, "{second:?}");
    let new = second.iter().find(|m| !first.contains(m)).expect("the new alert");
    assert!(new.contains("疑似谣言（线索：网传、文本+评论模型（3 条评论）"), "{new}");
    assert!(new.contains("待核实（0.05–"), "the reaction model's band confirmed it: {new}");
    assert!(!new.contains("待核实："), "flagged now, no longer a 待核实 line: {new}");
    let hits = p.run(&["hits"]);
    assert!(
        hits.stdout.contains("研判：疑似谣言（线索：网传、文本+评论模型") && !hits.stdout.contains("待核实："),
        "{}",
        hits.stdout
    );
}

/// Writes export post N1 saying `content`, an hour old (so its event is open), runs the
/// daemon once, and returns the post's time and the alerts so far.
fn export_post_an_hour_ago(p: &Project, content: &str) -> (i64, Vec<String>) {
    let posted = chrono::Utc::now().timestamp() - 3600;
    let post = serde_json::json!({"note_id": "N1", "content": content, "create_time": posted.to_string(),
        "nickname": "网友A", "note_url": "https://m.weibo.cn/detail/N1"});
    p.write("exports/mc/notes.jsonl", post.to_string() + "\n");
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    (posted, outbox_texts(p))
}

/// The doubting replies to post N1 as MediaCrawler comment lines, ids `{prefix}0`…, one a
/// second from `from`.
fn doubting_comments(prefix: &str, from: i64) -> String {
    DOUBTING
        .iter()
        .enumerate()
        .map(|(i, t)| {
            serde_json::json!({"comment_id": format!("{prefix}{i}"), "note_id": "N1", "content": t,
                "create_time": (from + i as i64).to_string()})
            .to_string()
                + "\n"
        })
        .collect()
}

/// The text part of every alert email in the project's outbox, in file order.
#[allow(clippy::expect_used)] // a test helper: an unreadable mail fails the test
fn outbox_texts(p: &Project) -> Vec<String> {
    support::eml_files(&p.path().join("outbox"))
        .iter()
        .map(|f| support::text_part(&std::fs::read_to_string(f).expect("eml")))
        .collect()
}
