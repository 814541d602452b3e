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
                && !mine.iter().any(|r| r.split(|c: char| !c.is_alphanumeric()).any(|w| w == sub))
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
