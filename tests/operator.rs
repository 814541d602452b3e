//! What a new operator meets walking through the README's commands on a broken setup
//! (issue 16 item 5): every refusal says in Chinese what is wrong and what to do, with the
//! technical cause after, and exits as the README's table says — 1 for invalid
//! configuration or input (a mistyped path or id on the command line), 2 for storage or
//! runtime that cannot be used.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{FILE_MAIL, Project, Run, eml_files, rss, source};

/// `support::ORG`, file mail, one source with one matching item: `run --once` makes event #1.
fn with_event() -> Project {
    let p = Project::with_org(&source("forum", "forum.xml"));
    p.write("keywords/preferential.txt", "@section = preferential\n抚恤金\n");
    p.write("forum.xml", rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账")]));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    p
}

fn refused(run: &Run, code: i32, wants: &[&str]) {
    assert_eq!(run.code, Some(code), "exit code\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    for want in wants {
        assert!(run.stderr.contains(want), "missing {want:?} in:\n{}", run.stderr);
    }
}

#[test]
fn notify_test_twice_in_a_row_writes_two_messages() {
    // The test message's name was its second: with file transport a second test in the
    // same second found the first one's .eml, wrote nothing and still said 已送达.
    let p = Project::new("", FILE_MAIL);
    for to in ["first@example.gov.cn", "second@example.gov.cn"] {
        let run = p.run(&["notify", "test", to]);
        assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
        assert!(run.stdout.contains("服务器应答（原文）：已写入"), "{}", run.stdout);
    }
    let files = eml_files(&p.path().join("outbox"));
    assert_eq!(files.len(), 2, "{files:?}");
    let texts: Vec<String> = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    assert!(texts.iter().any(|t| t.contains("second@example.gov.cn")), "{texts:?}");
}

#[test]
fn an_unwritable_outbox_dir_says_which_setting_to_fix() {
    // A regular file where the outbox directory should be: unwritable for root as well.
    let p = Project::new(&source("forum", "forum.xml"), "");
    p.write("blocked", "not a directory");
    let mail = FILE_MAIL.replace("outbox_dir = \"outbox\"", "outbox_dir = \"blocked/outbox\"");
    p.write("yuqing.toml", format!("[storage]\npath = \"state/yuqing.db\"\n{mail}"));
    p.write("forum.xml", rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账")]));

    let run = p.run(&["notify", "test", "gkb@example.gov.cn"]);
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("结果：发送失败：无法写入"), "in Chinese first:\n{}", run.stdout);
    assert!(run.stdout.contains("请确认 [mail] outbox_dir"), "{}", run.stdout);

    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "a delivery failure is retried, not fatal:\n{}", run.stderr);
    assert!(run.stdout.contains("请确认 [mail] outbox_dir"), "{}", run.stdout);
    let show = p.run(&["outbox", "show", "1"]);
    assert!(
        show.stdout.contains("失败  无法写入") && show.stdout.contains("请确认 [mail] outbox_dir"),
        "{}",
        show.stdout
    );
}

#[test]
fn a_storage_path_below_a_file_names_the_setting() {
    let p = Project::new(&source("forum", "forum.xml"), FILE_MAIL);
    p.write("forum.xml", rss(&[]));
    p.write("state", "a file where the state directory should be");
    for args in [&["run", "--once"][..], &["hits"], &["event", "list"], &["outbox", "list"]] {
        let run = p.run(args);
        refused(&run, 2, &["无法创建数据目录", "路径中有一个同名的文件，不是目录", "[storage] path"]);
    }
}

#[test]
fn a_damaged_database_points_to_db_check_and_the_backup() {
    let p = Project::new(&source("forum", "forum.xml"), FILE_MAIL);
    p.write("forum.xml", rss(&[]));
    p.write("state/yuqing.db", vec![0x5a_u8; 8192]);
    for args in [&["run", "--once"][..], &["hits"], &["status"], &["report"]] {
        let run = p.run(args);
        refused(&run, 2, &["数据库文件已损坏", "yuqing db check", "备份"]);
    }
    // db check itself says it (exit 1, as its README row says).
    let run = p.run(&["db", "check"]);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("已损坏"), "{}", run.stdout);
}

#[test]
fn a_storage_failure_during_a_run_is_explained_not_internal() {
    let p = Project::new(&source("forum", "forum.xml"), FILE_MAIL);
    p.write("forum.xml", rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账")]));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // The documents table made unreadable for the next run's writes: a trigger that fails.
    let db = p.path().join("state/yuqing.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON documents BEGIN SELECT RAISE(FAIL, 'disk image is malformed'); END;",
    )
    .unwrap();
    drop(conn);
    p.write("forum.xml", rss(&[("f2", "抚恤金又没到账", "第二篇抚恤金")]));
    let run = p.run(&["run", "--once"]);
    // The source's line for staff (stderr holds the English log line).
    let line = run.source_line("forum");
    assert!(line.starts_with("[错误]") && line.contains("写入数据库失败：数据库操作失败（SQLite："), "{line}");
    assert!(!run.stdout.contains("内部错误") && !run.stdout.contains("storage failed"), "{}", run.stdout);
}

#[test]
fn a_missing_file_on_the_command_line_is_invalid_input() {
    let p = Project::new("", FILE_MAIL);
    refused(&p.run(&["rumour", "train", "--data", "nope.jsonl"]), 1, &["无法读取", "请检查 --data"]);
    refused(&p.run(&["rumour", "eval", "--data", "nope.jsonl"]), 1, &["请检查 --data"]);
    p.write("one.jsonl", "{\"text\":\"一\",\"label\":1}\n");
    let data = p.path().join("one.jsonl");
    let data = data.to_string_lossy();
    refused(&p.run(&["rumour", "eval", "--data", &data, "--model", "nope.model"]), 1, &["请检查 --model"]);
    refused(&p.run(&["test", "match", "--jsonl", "nope.jsonl"]), 1, &["无法读取", "请检查 --jsonl"]);
    refused(&p.run(&["db", "check", "--file", "nope.db"]), 1, &["nope.db 不存在", "请检查 --file"]);
    // The configured database not made yet: storage not usable, said so.
    refused(&p.run(&["db", "check"]), 2, &["尚未建立", "[storage] path"]);
}

#[test]
fn a_config_dir_that_does_not_exist_is_one_line_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("etc-yuqing");
    for args in [&["check"][..], &["status"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_yuqing"))
            .arg("--config")
            .arg(&missing)
            .args(args)
            .output()
            .unwrap();
        let run = Run::from(out);
        refused(&run, 1, &["配置目录", "不存在", "请用 --config 指向"]);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
}

#[test]
fn an_unknown_section_or_receiver_lists_the_valid_ids() {
    let p = with_event();
    let run = p.run(&["event", "transfer", "1", "--to", "preferentail", "--by", "chen", "--reason", "x"]);
    refused(&run, 1, &["\"preferentail\" 不在 yuqing.toml 的 [[sections]] 中", "是不是 preferential？", "office（"]);
    let run = p.run(&["event", "transfer", "1", "--to", "拥军优抚科", "--by", "chen", "--reason", "x"]);
    refused(&run, 1, &["拥军优抚科 的科室 id 是 preferential"]);
    let run = p.run(&["notify", "test", "wnag"]);
    refused(&run, 1, &["不是 [[receivers]] 接收组", "是不是 \"wang\"", "chen、wang、li、xu"]);
}

#[test]
fn workflow_answers_have_no_stray_space_after_the_person() {
    let p = with_event();
    let run = p.run(&["event", "accept", "1", "--by", "wang"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let run = p.run(&["event", "accept", "1", "--by", "wang"]);
    refused(&run, 1, &["事件 #1 已由 王科员（wang）受理，无需重复受理"]);
    let run = p.run(&["event", "mute", "1", "--by", "chen", "--reason", "观察", "--until", "8h"]);
    assert!(run.stdout.contains("已由 陈局长（chen）静默至"), "{}", run.stdout);
}

#[test]
fn a_report_output_in_a_missing_directory_says_what_to_check() {
    let p = Project::new("", FILE_MAIL);
    let run = p.run(&["report", "--output", &p.path().join("no/such/dir/r.txt").to_string_lossy()]);
    refused(&run, 2, &["无法写入", "请确认 --output 所在的目录存在"]);
}
