//! 歪曲 by comparison: a claim that contradicts what the bureau published on an `official`
//! source is flagged, and the reason quotes both sides — in alerts and in `test match`.

mod support;

use support::{FILE_MAIL, Project, eml_files, rss, source, text_part};

const NOTICE: &str = "关于烈士陵园改造提升工程的说明：烈士陵园不会拆迁，改造期间正常开放。优抚对象抚恤金标准提高到每月3000元，按时发放。";

#[test]
fn a_claim_contradicting_the_bureau_is_flagged_with_both_sides() {
    let official = format!("{}\nofficial = true\n\n", source("bureau", "bureau.xml").trim_end());
    let p = Project::new(&(official + &source("forum", "forum.xml")), FILE_MAIL);
    p.write("bureau.xml", rss(&[("b1", "烈士陵园改造说明", NOTICE)]));
    p.write("forum.xml", rss(&[]));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);

    p.write(
        "forum.xml",
        rss(&[
            ("f1", "烈士陵园要拆了？", "网传烈士陵园将被拆迁，抚恤金标准降到每月300元"),
            ("f2", "烈士陵园开放时间", "烈士陵园改造期间正常开放，欢迎市民前往"),
        ]),
    );
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let mails: Vec<String> = eml_files(&p.path().join("outbox"))
        .iter()
        .map(|f| text_part(&std::fs::read_to_string(f).expect("eml")))
        .collect();
    let flagged: Vec<&String> = mails.iter().filter(|m| m.contains("疑似歪曲")).collect();
    assert_eq!(flagged.len(), 1, "{mails:#?}");
    let m = flagged[0];
    assert!(m.contains("与本局发布《烈士陵园改造说明》不符：本局称“不会拆迁”，此处称“将被拆迁”"), "{m}");
    assert!(m.contains("数字不符：本局发布为“每月3000元”，此处为“每月300元”"), "{m}");

    let run = p.run(&["test", "match", "--text", "听说烈士陵园抚恤金这个月没有发放"]);
    assert!(
        run.stdout.contains("疑似歪曲（线索：与本局发布《烈士陵园改造说明》不符：本局称“按时发放”，此处称“没有发放”）"),
        "{}",
        run.stdout
    );
}
