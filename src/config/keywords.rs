//! `keywords/*.txt`: one term per line, `#` starts a comment, blank lines ignored; the
//! file name without `.txt` is the list's name. Terms are normalised the same way as
//! document text, so full-width and half-width spellings match alike.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::diag::Diagnostics;
use crate::extract::normalize::normalize_text;
use crate::matcher::{KeywordList, Term};
use crate::model::FlagKind;
use crate::sentiment::{LexiconLists, Weighted};

pub(super) fn load(dir: &Path, diags: &mut Diagnostics) -> Vec<KeywordList> {
    let files = match list_files(dir) {
        Ok(files) => files,
        Err(e) => {
            diags.error(
                dir,
                0,
                format!("无法读取关键词目录：{e}"),
                "请在配置目录下创建 keywords/ 并放入 *.txt 关键词列表",
            );
            return Vec::new();
        }
    };
    let lists: Vec<KeywordList> = files.iter().filter_map(|f| load_list(f, true, diags)).collect();
    if files.is_empty() {
        diags.error(
            dir,
            0,
            "关键词目录中没有 *.txt 列表".into(),
            "请至少放入一个关键词列表，例如 keywords/preferential.txt",
        );
    }
    lists
}

/// `keywords/flags/<kind>.txt`: the cue lists of the four Art. 7 flags. The folder is
/// optional; a file not named after a kind is an error.
pub(super) fn load_cues(dir: &Path, diags: &mut Diagnostics) -> Vec<KeywordList> {
    if !dir.is_dir() {
        return Vec::new();
    }
    let files = match list_files(dir) {
        Ok(files) => files,
        Err(e) => {
            diags.error(dir, 0, format!("无法读取研判线索目录：{e}"), "请检查 keywords/flags/ 的权限");
            return Vec::new();
        }
    };
    let known = || FlagKind::ALL.iter().map(|k| format!("{}.txt", k.as_str())).collect::<Vec<_>>().join("、");
    let mut lists = Vec::new();
    for f in &files {
        if f.file_stem().and_then(|s| s.to_str()).and_then(FlagKind::from_name).is_none() {
            diags.error(f, 0, "未知的研判线索列表".into(), format!("keywords/flags/ 下只能有：{}", known()));
            continue;
        }
        lists.extend(load_list(f, true, diags));
    }
    lists
}

/// `keywords/sentiment/`: `negative.txt` (word and optional weight), `negation.txt`,
/// `degree.txt` (word and multiplier). The folder and each file are optional.
pub(super) fn load_lexicon(dir: &Path, diags: &mut Diagnostics) -> LexiconLists {
    let mut lists = LexiconLists::default();
    if !dir.is_dir() {
        return lists;
    }
    lists.negative = weighted(&dir.join("negative.txt"), diags);
    lists.negation = weighted(&dir.join("negation.txt"), diags).into_iter().map(|w| w.text).collect();
    lists.degree = weighted(&dir.join("degree.txt"), diags);
    lists
}

/// Lines of `term [weight]`; a missing file is an empty list.
fn weighted(path: &Path, diags: &mut Diagnostics) -> Vec<Weighted> {
    if !path.is_file() {
        return Vec::new();
    }
    // Negation and degree words are often one character (不, 很): no warning for those.
    let Some(list) = load_list(path, false, diags) else { return Vec::new() };
    let mut out = Vec::new();
    for term in list.terms {
        let (text, weight) = match term.text.rsplit_once(' ') {
            Some((word, number)) => match number.parse::<f32>() {
                Ok(w) if w.is_finite() && w >= 0.0 => (word.trim().to_string(), w),
                _ => {
                    diags.error(
                        path,
                        term.line,
                        format!("权重 \"{number}\" 不是非负数"),
                        "写成“词 权重”，例如：拖欠 2",
                    );
                    continue;
                }
            },
            None => (term.text, 1.0),
        };
        out.push(Weighted { text, weight });
    }
    out
}

fn list_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "txt") && !path.is_dir() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads one list; `warn_short` warns about one-character terms (they match too much).
fn load_list(path: &Path, warn_short: bool, diags: &mut Diagnostics) -> Option<KeywordList> {
    let name = path.file_stem()?.to_string_lossy().into_owned();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            diags.error(path, 0, format!("无法读取关键词列表：{e}"), "请检查文件权限（守护进程的用户需要可读）");
            return None;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            diags.error(
                path,
                line,
                "关键词列表不是 UTF-8 编码".into(),
                "请用 UTF-8 编码另存该文件（例如在记事本中选择 UTF-8）",
            );
            return None;
        }
    };
    let terms = parse_terms(path, &text, warn_short, diags);
    if terms.is_empty() {
        diags.error(path, 0, format!("关键词列表 \"{name}\" 是空的"), "请每行写一个关键词，或删除这个文件");
        return None;
    }
    Some(KeywordList { name, path: path.to_path_buf(), terms })
}

fn parse_terms(path: &Path, text: &str, warn_short: bool, diags: &mut Diagnostics) -> Vec<Term> {
    let mut first_line: HashMap<String, usize> = HashMap::new();
    let mut terms = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split('#').next().unwrap_or_default();
        let term = normalize_text(content);
        if term.is_empty() {
            continue;
        }
        if let Some(first) = first_line.get(&term) {
            diags.warning(path, line, format!("关键词 \"{term}\" 重复（第 {first} 行已有）"), "可以删除这一行");
            continue;
        }
        if warn_short && term.chars().count() < 2 {
            diags.warning(
                path,
                line,
                format!("关键词 \"{term}\" 只有一个字，会命中大量无关内容"),
                "建议改用两个字以上的词",
            );
        }
        first_line.insert(term.clone(), line);
        terms.push(Term { text: term, line });
    }
    terms
}
