//! An event is one story, and no keyword hit is swallowed (issue 13), through the real
//! binary: stories written from one template by many bureaus stay separate events and are
//! not graded on a spread they do not have; every matched document — copies included —
//! reaches a person in some delivered message, even when `run --once` is killed midway.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use support::{FILE_MAIL, Project, eml_files, source, text_part};

/// Template sentences bureaus publish (our own text, after the shape of real ones).
const BOILERPLATE: &str = "活动现场，工作人员向群众详细解读了相关政策，发放宣传资料200余份。下一步，将持续推进相关工作提质增效，切实增强人民群众的获得感、幸福感、安全感。";

/// An RSS feed of `(guid, title, text)` items of `site`, each with its own link.
fn feed(site: &str, items: &[(String, String, String)]) -> String {
    support::feed_linked(&format!("https://{site}.example.cn/"), items)
}

/// The two false merges and their kin: six bureaus' sites, each publishing its
/// city's stories from the same template sentences.
#[test]
fn template_stories_of_many_sites_stay_separate_and_are_not_graded_on_spread() {
    let cities = ["洛阳市", "南充市", "无锡市", "运城市", "昆明市", "临江市"];
    let sources: String = (0..cities.len()).map(|i| source(&format!("site{i}"), &format!("site{i}.xml"))).collect();
    let p = Project::new(&sources, FILE_MAIL);
    p.write("keywords/preferential.txt", "优抚金\n慰问金\n双拥\n定期定量补助\n");
    for (i, city) in cities.iter().enumerate() {
        let items = vec![
            (
                format!("a{i}"),
                format!("{city}民政局印发双拥工作方案"),
                format!("{city}民政局近日印发双拥工作方案。{BOILERPLATE}"),
            ),
            (
                format!("b{i}"),
                format!("{city}通报一起骗取优抚金典型案例"),
                format!("{city}通报一起骗取优抚金典型案例，涉案金额{}万元。{BOILERPLATE}", i + 3),
            ),
            (
                format!("c{i}"),
                format!("媒体关注：{city}烈属慰问金发放到位"),
                format!("{city}烈属慰问金已全部发放到位。{BOILERPLATE}"),
            ),
            (
                format!("d{i}"),
                format!("媒体关注：{city}网传定期定量补助停发"),
                format!("{city}网传定期定量补助停发，民政局回应系误读。{BOILERPLATE}"),
            ),
        ];
        p.write(&format!("site{i}.xml"), feed(&format!("site{i}"), &items));
    }
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let events = p.store().recent_events(100).expect("events");
    assert_eq!(
        events.len(),
        cities.len() * 4,
        "one event per story: {:#?}",
        events.iter().map(|e| (&e.title, e.documents)).collect::<Vec<_>>()
    );
    for e in &events {
        assert_eq!((e.documents, e.sources), (1, 1), "{} merged other stories", e.title);
        assert!(
            !e.grade_reasons.iter().any(|r| r.contains("传播范围")),
            "{}: graded on spread {:?}",
            e.title,
            e.grade_reasons
        );
        assert_ne!(e.grade, Some(yuqing::response::Grade::III), "{}: {:?}", e.title, e.grade_reasons);
    }
}

/// Every matched document's link is in some delivered message: a story copied many times
/// by the same sites (updates merged into digests), with `run --once` killed at several
/// moments before it is let finish.
#[test]
fn every_matched_copy_reaches_a_person_even_when_runs_are_killed() {
    let sites = ["forum", "daily", "wechat"];
    let sources: String = sites.iter().map(|s| source(s, &format!("{s}.xml"))).collect();
    let p = Project::new(&sources, FILE_MAIL);
    p.write("keywords/preferential.txt", "抚恤金\n烈士陵园\n");
    let story = "网传临江市烈士陵园将被拆迁改建商业综合体，市退役军人事务局回应：系不实信息，烈士陵园不会拆迁。";
    for (n, site) in sites.iter().enumerate() {
        let mut items: Vec<(String, String, String)> = (0..6)
            .map(|k| (format!("{site}-copy{k}"), "烈士陵园要拆？".to_string(), format!("转发第{k}次：{story}")))
            .collect();
        items.push((
            format!("{site}-other"),
            format!("{}号抚恤金发放通知", n + 1),
            format!("第{}批抚恤金月底发放到位。", n + 1),
        ));
        p.write(&format!("{site}.xml"), feed(site, &items));
    }
    // Killed at a few moments, then run to completion.
    for delay in [30u64, 120, 250] {
        let mut child = p
            .command()
            .args(["run", "--once"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
    }
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let delivered: String = eml_files(&p.path().join("outbox"))
        .iter()
        .map(|f| text_part(&std::fs::read_to_string(f).expect("eml")))
        .collect::<Vec<_>>()
        .join("\n");
    let matched = p.store().recent_hits(1000).expect("hits");
    assert_eq!(matched.len(), sites.len() * 7, "every item matches");
    let links: HashSet<String> = matched.iter().filter_map(|h| h.link.clone()).collect();
    let missing: Vec<&String> = links.iter().filter(|l| !delivered.contains(l.as_str())).collect();
    assert!(missing.is_empty(), "matched documents no delivered message names: {missing:?}");
    let pending = p.store().outbox_rows(yuqing::store::OutboxFilter::Pending, 100).expect("outbox");
    assert!(pending.is_empty(), "nothing left behind: {pending:?}");
}

/// A wrongly merged document is split out by a person: it forms its own event (never the
/// one it left), whose alert goes out; both events record the decision; refusals say why.
#[test]
fn a_wrongly_merged_document_is_split_out_and_its_alert_goes_out() {
    let p = Project::with_org(&source("forum", "forum.xml"));
    p.write("keywords/preferential.txt", "@section = preferential\n烈士陵园\n");
    let story = "网传临江市烈士陵园将被拆迁改建商业综合体，市退役军人事务局回应：系不实信息，烈士陵园不会拆迁。";
    let items = [
        ("f1".to_string(), "烈士陵园要拆？".to_string(), story.to_string()),
        ("f2".to_string(), "烈士陵园要拆？".to_string(), format!("转发：{story}")),
    ];
    p.write("forum.xml", feed("forum", &items));
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));
    let store = p.store();
    let events = store.recent_events(10).expect("events");
    assert_eq!(events.len(), 1, "one event of two copies");
    let id = events[0].id;
    let path = store.event_path(id).expect("path");
    let (first, second) = (path[0].document_id, path[1].document_id);
    let mails_before = eml_files(&p.path().join("outbox")).len();

    let (n, d) = (id.to_string(), second.to_string());
    let nosuch = p.run(&["event", "split", &n, "--doc", "999", "--by", "chen", "--reason", "误判"]);
    assert_eq!(nosuch.code, Some(1));
    assert!(
        nosuch.stderr.contains(&format!("文档 #999 不在事件 #{id} 中；它的文档有：#{first}、#{second}")),
        "{}",
        nosuch.stderr
    );
    assert_eq!(p.run(&["event", "split", &n, "--doc", &d, "--by", "王科员", "--reason", "误判"]).code, Some(1));

    let split = p.run(&["event", "split", &n, "--doc", &d, "--by", "chen", "--reason", "两件不同的事"]);
    assert_eq!(split.code, Some(0), "{}\n{}", split.stdout, split.stderr);
    assert!(
        split.stdout.contains(&format!("文档 #{second} 已由 陈局长")) && split.stdout.contains("自成新事件"),
        "{}",
        split.stdout
    );
    let events = store.recent_events(10).expect("events");
    assert_eq!(events.len(), 2);
    let old = events.iter().find(|e| e.id == id).expect("old event");
    assert_eq!(old.documents, 1);
    let new = events.iter().find(|e| e.id != id).expect("new event");
    assert_eq!(store.event_path(new.id).expect("path").iter().map(|s| s.document_id).collect::<Vec<_>>(), vec![second]);
    let show = p.run(&["event", "show", &n]);
    assert!(
        show.stdout.contains(&format!("文档 #{second} 拆出")) && show.stdout.contains("两件不同的事"),
        "{}",
        show.stdout
    );
    let show = p.run(&["event", "show", &new.id.to_string()]);
    assert!(show.stdout.contains(&format!("从事件 #{id} 拆入")), "{}", show.stdout);
    // Its own alert goes out: a first alert, not an update of the old event.
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));
    let mails = eml_files(&p.path().join("outbox"));
    assert_eq!(mails.len(), mails_before + 1);
    let newest = std::fs::read_to_string(mails.last().expect("mail")).expect("eml");
    let subject = support::decode_words(&support::header(&newest, "Subject").unwrap_or_default());
    assert!(!subject.starts_with("Re:"), "{subject}");
    assert!(text_part(&newest).contains(&format!("事件编号：#{}（首次发现）", new.id)), "{}", text_part(&newest));
    // The only document left is not split.
    let only = p.run(&["event", "split", &n, "--doc", &first.to_string(), "--by", "chen", "--reason", "x"]);
    assert_eq!(only.code, Some(1));
    assert!(only.stderr.contains("只有这一篇文档"), "{}", only.stderr);
}
