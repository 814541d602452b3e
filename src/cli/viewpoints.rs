//! `yuqing test viewpoints --jsonl FILE`: the viewpoint grouping of
//! [`crate::detect::viewpoints`] on comments from a file, for evaluation
//! (bench/viewpoints_eval.py). Each input line is `{"id": …, "comments": [...]}` where a
//! comment is a string or `{"text", "time" (unix seconds), "likes"}`; each output line has
//! the groups (with their members' positions) and every comment's leaning (`null`: noise).

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::config::Config;
use crate::detect::sentiment::Lexicon;
use crate::detect::viewpoints::{CommentInput, assess, viewpoints};

pub(super) fn test_viewpoints(config: &Config, jsonl: &Path, max: usize) -> anyhow::Result<ExitCode> {
    let lexicon = Lexicon::new(&config.lexicon)?;
    let file = std::fs::File::open(jsonl).map_err(|e| anyhow::anyhow!("无法读取 {}：{e}", jsonl.display()))?;
    let mut out = std::io::stdout().lock();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let Ok(value) = serde_json::from_str::<Value>(&line) else {
            eprintln!("第 {} 行不是有效的 JSON，已跳过", n + 1);
            continue;
        };
        let comments: Vec<CommentInput> = value
            .get("comments")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|c| match c {
                        Value::String(text) => CommentInput { text: text.clone(), at: None, likes: 0 },
                        _ => CommentInput {
                            text: c.get("text").and_then(Value::as_str).unwrap_or_default().to_string(),
                            at: c
                                .get("time")
                                .and_then(Value::as_i64)
                                .and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
                            likes: c.get("likes").and_then(Value::as_u64).unwrap_or(0),
                        },
                    })
                    .collect()
            })
            .unwrap_or_default();
        let v = viewpoints(&comments, &lexicon, max, config.timezone);
        let leanings: Vec<Value> = comments
            .iter()
            .map(|c| assess(&c.text, &lexicon).map_or(Value::Null, |(_, lean, _)| json!(lean)))
            .collect();
        let groups: Vec<Value> = v
            .groups
            .iter()
            .map(|g| {
                json!({
                    "size": g.size, "share": g.share, "negativity": g.negativity, "lean": g.lean,
                    "leaning": g.leaning.label_zh(), "terms": g.terms, "members": g.members,
                    "representative": g.representative,
                })
            })
            .collect();
        let row = json!({
            "id": value.get("id").cloned().unwrap_or(Value::Null),
            "total": v.total, "noise": v.noise, "other": v.other,
            "groups": groups, "leanings": leanings,
            "hours": v.hourly.len(),
        });
        writeln!(out, "{row}")?;
    }
    Ok(ExitCode::SUCCESS)
}
