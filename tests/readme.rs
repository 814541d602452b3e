//! The README's commands table and `yuqing --help` never drift apart: every command and
//! subcommand the binary offers has a row (`| \`yuqing …`), and every long option a command
//! takes is named in its rows.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

/// The subcommand names listed under "Commands:" in a help text (without `help`).
fn commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

/// The long options listed under "Options:" (without the ones every command has).
fn options(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Options:"))
        .skip(1)
        .filter(|l| l.trim_start().starts_with('-'))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("--")).map(|w| w.trim_end_matches(',').to_string()))
        .filter(|o| !matches!(o.as_str(), "--help" | "--version" | "--config" | "--log-format"))
        .collect()
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_yuqing")).args(args).arg("--help").output().expect("run yuqing");
    assert!(out.status.success(), "yuqing {args:?} --help failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_command_and_option_is_in_the_readme_table() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md");
    let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `yuqing ")).collect();
    let mut missing = Vec::new();
    for command in commands(&help(&[])) {
        let prefix = format!("| `yuqing {command}");
        let mine: Vec<&str> = rows.iter().copied().filter(|r| r.starts_with(&prefix)).collect();
        if mine.is_empty() {
            missing.push(format!("no row for `yuqing {command}`"));
            continue;
        }
        let subs = commands(&help(&[&command]));
        let leaves: Vec<Vec<String>> = if subs.is_empty() {
            vec![vec![command.clone()]]
        } else {
            subs.iter().map(|s| vec![command.clone(), s.clone()]).collect()
        };
        for leaf in leaves {
            let args: Vec<&str> = leaf.iter().map(String::as_str).collect();
            if let Some(sub) = leaf.get(1)
                && !mine.iter().any(|r| r.split(|c: char| !(c.is_alphanumeric() || c == '-')).any(|w| w == sub))
            {
                missing.push(format!("`yuqing {}` is in no `yuqing {command}` row", args.join(" ")));
            }
            for option in options(&help(&args)) {
                if !mine.iter().any(|r| r.contains(&option)) {
                    missing.push(format!("`yuqing {} {option}` is in no `yuqing {command}` row", args.join(" ")));
                }
            }
        }
    }
    assert!(missing.is_empty(), "README.md's commands table is behind `--help`:\n{}", missing.join("\n"));
}

/// The lines of the README's fenced block that starts with the line `first` (without the fences).
fn block(readme: &str, first: &str) -> Vec<String> {
    let mut lines = readme.lines().skip_while(|l| l.trim_end() != first);
    let mut out: Vec<String> = lines.next().map(str::to_string).into_iter().collect();
    assert!(!out.is_empty(), "README.md has no block starting with {first:?}");
    out.extend(lines.take_while(|l| !l.starts_with("```")).map(str::to_string));
    out
}

/// Whether `line` is `pattern`, where each `…` in the pattern (with the spaces around it)
/// stands for any text.
fn matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let last = parts.len() - 1;
    let Some(mut rest) = line.strip_prefix(parts[0].trim_end()) else { return false };
    for part in &parts[1..last] {
        match rest.find(part.trim()) {
            Some(at) => rest = &rest[at + part.trim().len()..],
            None => return false,
        }
    }
    rest.ends_with(parts[last].trim_start())
}

/// Compares README lines with real output line by line; `…` in the README stands for any text.
fn assert_same(what: &str, readme: &[String], real: &str) {
    let real: Vec<&str> = real.lines().collect();
    let same = readme.len() == real.len() && readme.iter().zip(&real).all(|(r, o)| matches(r, o));
    assert!(
        same,
        "README.md's {what} differs from the real output.\nREADME:\n{}\nreal:\n{}",
        readme.join("\n"),
        real.join("\n")
    );
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn the_matcher_for_readme_blocks_can_fail() {
    assert!(matches("a（… dns error …）", "a（x: dns error: y）"));
    assert!(!matches("a（… dns error …）", "a（x: connection refused）"));
    assert!(!matches("合计：5 个信源", "合计：4 个信源"));
}

#[test]
fn quick_start_run_once_output_is_the_real_one() {
    // The shipped configuration in a fresh directory, as a new operator has it after a
    // checkout. Quiet hours off (the README shows the output in working hours, whatever the
    // hour the suite runs), and the network feed pointed at a name that never resolves
    // (RFC 6761 `.invalid`), as it fails offline — tests stay off the network.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let toml = std::fs::read_to_string(root.join("yuqing.toml")).unwrap();
    assert!(toml.contains("\nquiet_hours = true"), "the shipped yuqing.toml holds III/IV out of hours");
    std::fs::write(dir.path().join("yuqing.toml"), toml.replacen("\nquiet_hours = true", "\nquiet_hours = false", 1))
        .unwrap();
    let sources = std::fs::read_to_string(root.join("sources.toml")).unwrap();
    let feed = "url = \"http://www.people.com.cn/rss/politics.xml\"";
    assert!(sources.contains(feed), "the shipped network source");
    let offline = sources.replacen(feed, "url = \"http://www.people.com.cn.invalid/rss/politics.xml\"", 1);
    std::fs::write(dir.path().join("sources.toml"), offline).unwrap();
    std::fs::copy(root.join("calendar.toml"), dir.path().join("calendar.toml")).unwrap();
    copy_tree(&root.join("keywords"), &dir.path().join("keywords"));
    copy_tree(&root.join("examples"), &dir.path().join("examples"));
    let run = |args: &[&str]| {
        let out =
            Command::new(env!("CARGO_BIN_EXE_yuqing")).arg("--config").arg(dir.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "yuqing {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let first = run(&["run", "--once"]);
    assert_same("Quick start `run --once` block", &block(&readme, "信源运行结果："), &first);
    let eml = std::fs::read_dir(dir.path().join("outbox")).unwrap().count();
    assert!(
        readme.contains(&format!("the samples produce {eml} alerts written as")),
        "README's count of .eml files: {eml}"
    );

    // "Run it again and nothing new is stored or sent".
    let again = run(&["run", "--once"]);
    assert!(again.contains("合计：5 个信源，新文档 0 篇，命中 0 处，新提醒 0 条，出错信源 1 个"), "{again}");
    assert!(again.contains("邮件：本次发送成功 0 封，失败 0 封"), "{again}");
    assert_eq!(std::fs::read_dir(dir.path().join("outbox")).unwrap().count(), eml, "{again}");
}

#[test]
fn test_route_example_output_is_the_real_one() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let command = "$ yuqing test route --category 安全稳定 --grade II --topic 拥军优抚";
    let lines = block(&readme, command);
    let shown: Vec<String> = lines[1..].iter().take_while(|l| !l.starts_with("$ ")).cloned().collect();
    let args: Vec<&str> = command.split_whitespace().skip(2).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_yuqing"))
        .args(["--config", env!("CARGO_MANIFEST_DIR")])
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_same("`test route` example", &shown, &String::from_utf8_lossy(&out.stdout));
}
