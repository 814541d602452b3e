//! `keywords/`: the keyword lists (`*.txt`), the Art. 7 cue lists (`flags/*.txt`) and the
//! negativity lexicon (`sentiment/*.txt`).
//!
//! A list file holds an optional `@` header (`@category`, `@topic`, `@section`, `@weight`,
//! `@alias`), then one rule per line (see `crate::rules`); `#` at the start of a line or
//! after a space starts a comment. The file name without `.txt` is the list's name.
//! Aliases are shared by all lists. Every problem is reported with file:line:column.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::diag::{Diagnostics, suggest};
use crate::detect::sentiment::{LexiconLists, Weighted};
use crate::extract::normalize::normalize_text;
use crate::model::FlagKind;
use crate::rules::{Category, KeywordList, ListMeta, Pattern, Rule, Scope, parse_rule};

/// `@alias 名称 = 词 | 词 | 词`, shared by every list.
#[derive(Debug, Clone)]
pub(super) struct AliasDef {
    terms: Vec<String>,
    path: PathBuf,
    line: usize,
}

pub(super) type Aliases = HashMap<String, AliasDef>;

pub(super) fn load(dir: &Path, aliases: &mut Aliases, diags: &mut Diagnostics) -> Vec<KeywordList> {
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
    let lists: Vec<KeywordList> = files.iter().filter_map(|f| load_list(f, aliases, diags)).collect();
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
pub(super) fn load_cues(dir: &Path, aliases: &mut Aliases, diags: &mut Diagnostics) -> Vec<KeywordList> {
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
        lists.extend(load_list(f, aliases, diags));
    }
    lists
}

/// Replaces every `{alias}` leaf by its words; an unknown alias is an error at its column.
pub(super) fn resolve_aliases(lists: &mut [KeywordList], aliases: &Aliases, diags: &mut Diagnostics) {
    let names: Vec<&str> = aliases.keys().map(String::as_str).collect();
    for list in lists {
        for rule in &mut list.rules {
            let line = rule.line;
            for leaf in rule.leaves_mut() {
                let Pattern::Alias(name) = &leaf.pattern else { continue };
                match aliases.get(name) {
                    Some(def) => leaf.pattern = Pattern::Terms { alias: name.clone(), terms: def.terms.clone() },
                    None => {
                        let hint = match suggest(name, &names) {
                            Some(s) => format!("是不是 {{{s}}}？别名用“@alias 名称 = 词 | 词”定义"),
                            None => "先在任一列表中用“@alias 名称 = 词 | 词”定义它".to_string(),
                        };
                        diags.error_at(&list.path, (line, leaf.column), format!("别名 {{{name}}} 没有定义"), hint);
                    }
                }
            }
        }
    }
}

/// A `source:` word must be a source id of `sources.toml` (ASCII case ignored, as when
/// matching): one that is not can never hold — a warning at its column, with the closest id
/// or the list of ids. A warning, not an error, so that removing a source does not stop
/// the configuration from loading.
pub(super) fn check_sources(lists: &[KeywordList], ids: &[&str], diags: &mut Diagnostics) {
    let lower: Vec<String> = ids.iter().map(|id| id.to_ascii_lowercase()).collect();
    for list in lists {
        for rule in &list.rules {
            for leaf in rule.leaves() {
                let (Scope::Source, Pattern::Literal(id)) = (leaf.scope, &leaf.pattern) else { continue };
                if lower.contains(&id.to_ascii_lowercase()) {
                    continue;
                }
                let hint = match (suggest(id, ids), ids.is_empty()) {
                    (Some(s), _) => format!("是不是 source:{s}？source: 后面写 sources.toml 中信源的 id"),
                    (None, true) => "sources.toml 中还没有信源；source: 后面写信源的 id".to_string(),
                    (None, false) => format!("source: 后面写 sources.toml 中信源的 id：{}", ids.join("、")),
                };
                diags.warning_at(
                    &list.path,
                    (rule.line, leaf.column),
                    format!("source:{id} 不是已配置的信源，这个条件永远不会成立"),
                    hint,
                );
            }
        }
    }
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
    let Some(text) = read_utf8(path, diags) else { return Vec::new() };
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = normalize_text(strip_comment(raw));
        if content.is_empty() {
            continue;
        }
        let (word, weight) = match content.rsplit_once(' ') {
            Some((word, number)) => match number.parse::<f32>() {
                Ok(w) if w.is_finite() && w >= 0.0 => (word.trim().to_string(), w),
                _ => {
                    diags.error(path, line, format!("权重 \"{number}\" 不是非负数"), "写成“词 权重”，例如：拖欠 2");
                    continue;
                }
            },
            None => (content, 1.0),
        };
        out.push(Weighted { text: word, weight });
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

fn read_utf8(path: &Path, diags: &mut Diagnostics) -> Option<String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            diags.error(path, 0, format!("无法读取关键词列表：{e}"), "请检查文件权限（守护进程的用户需要可读）");
            return None;
        }
    };
    match String::from_utf8(bytes) {
        Ok(t) => Some(t),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            diags.error(
                path,
                line,
                "关键词列表不是 UTF-8 编码".into(),
                "请用 UTF-8 编码另存该文件（例如在记事本中选择 UTF-8）",
            );
            None
        }
    }
}

/// The line without its comment: `#` at the start or after whitespace.
fn strip_comment(raw: &str) -> &str {
    let mut prev_space = true;
    for (i, c) in raw.char_indices() {
        if c == '#' && prev_space {
            return &raw[..i];
        }
        prev_space = c.is_whitespace();
    }
    raw
}

const HEADER_KEYS: &[&str] = &["category", "topic", "section", "weight", "alias"];

fn load_list(path: &Path, aliases: &mut Aliases, diags: &mut Diagnostics) -> Option<KeywordList> {
    let name = path.file_stem()?.to_string_lossy().into_owned();
    let text = read_utf8(path, diags)?;
    let mut meta = ListMeta::new(&name);
    let mut rules: Vec<Rule> = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = strip_comment(raw);
        let trimmed = content.trim_start();
        if trimmed.trim().is_empty() {
            continue;
        }
        let column = content.chars().count() - trimmed.chars().count() + 1;
        if let Some(header) = trimmed.strip_prefix('@') {
            header_line(path, (line, column), header, &mut meta, aliases, diags);
            continue;
        }
        let rule = match parse_rule(content, line) {
            Ok(rule) => rule,
            Err(e) => {
                diags.error_at(path, (line, e.column), e.message, e.hint);
                continue;
            }
        };
        let key = normalize_text(&rule.source);
        if let Some(first) = first_line.get(&key) {
            diags.warning(path, line, format!("规则 \"{key}\" 重复（第 {first} 行已有）"), "可以删除这一行");
            continue;
        }
        if let Some(term) = rule.as_plain_term()
            && normalize_text(term).chars().count() < 2
        {
            diags.warning(
                path,
                line,
                format!("关键词 \"{term}\" 只有一个字，会命中大量无关内容"),
                "建议改用两个字以上的词，或用 NEAR 与其他词组合",
            );
        }
        first_line.insert(key, line);
        rules.push(rule);
    }
    if !rules.iter().any(|r| r.expr.is_some()) {
        diags.error(
            path,
            0,
            format!("关键词列表 \"{name}\" 没有要命中的规则"),
            "请每行写一个关键词或规则，或删除这个文件",
        );
        return None;
    }
    Some(KeywordList { name, path: path.to_path_buf(), meta, rules })
}

/// One `@key = value` line (`header` is the text after `@`).
fn header_line(
    path: &Path,
    (line, column): (usize, usize),
    header: &str,
    meta: &mut ListMeta,
    aliases: &mut Aliases,
    diags: &mut Diagnostics,
) {
    let key_len = header.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(header.len());
    let key = &header[..key_len];
    let after_key = column + 1 + header[..key_len].chars().count();
    if key == "alias" {
        return alias_line(path, (line, after_key), &header[key_len..], aliases, diags);
    }
    let Some(after_eq) = header[key_len..].trim_start().strip_prefix(['=', ':', '＝', '：']) else {
        if HEADER_KEYS.contains(&key) {
            diags.error_at(path, (line, after_key), format!("@{key} 后面缺少“= 值”"), format!("写成：@{key} = 值"));
        } else {
            unknown_key(path, (line, column), key, diags);
        }
        return;
    };
    let value = after_eq.trim();
    let value_start = header.len() - after_eq.trim_start().len();
    let value_column = column + 1 + header[..value_start].chars().count();
    match key {
        "category" => match Category::parse(value) {
            Some(c) => meta.category = c,
            None => diags.error_at(
                path,
                (line, value_column),
                format!("未知的类别 \"{value}\""),
                format!(
                    "类别为第九条的分类之一：{}",
                    Category::ALL.iter().map(|c| c.label_zh()).collect::<Vec<_>>().join("、")
                ),
            ),
        },
        "topic" if !value.is_empty() => meta.topic = value.to_string(),
        "section" if !value.is_empty() => {
            meta.section = Some(value.to_string());
            meta.section_at = (line, value_column);
        }
        "weight" => match value.parse::<u8>() {
            Ok(w @ 1..=5) => meta.weight = w,
            _ => diags.error_at(
                path,
                (line, value_column),
                format!("严重程度权重 \"{value}\" 不是 1 到 5 的整数"),
                "例如：@weight = 3（1 最轻，5 最重）",
            ),
        },
        "topic" | "section" => {
            diags.error_at(path, (line, value_column), format!("@{key} 的值是空的"), format!("写成：@{key} = 值"))
        }
        _ => unknown_key(path, (line, column), key, diags),
    }
}

fn unknown_key(path: &Path, at: (usize, usize), key: &str, diags: &mut Diagnostics) {
    let hint = match suggest(key, HEADER_KEYS) {
        Some(s) => format!("是不是 @{s}？"),
        None => format!("列表头只能有：{}", HEADER_KEYS.iter().map(|k| format!("@{k}")).collect::<Vec<_>>().join("、")),
    };
    diags.error_at(path, at, format!("未知的列表头 \"@{key}\""), hint);
}

/// `@alias 名称 = 词 | 词`; `rest` follows `@alias`.
fn alias_line(path: &Path, at: (usize, usize), rest: &str, aliases: &mut Aliases, diags: &mut Diagnostics) {
    let hint = "写成：@alias 本局 = 市退役军人事务局 | 退役军人事务局 | 退役军人局";
    let Some((name, terms)) = rest.split_once(['=', '＝']) else {
        diags.error_at(path, at, "@alias 缺少“=”".into(), hint);
        return;
    };
    let name = name.trim();
    let terms: Vec<String> = terms.split(['|', '｜']).map(normalize_text).filter(|t| !t.is_empty()).collect::<Vec<_>>();
    if name.is_empty() || name.contains(['{', '}', ' ']) {
        diags.error_at(path, at, format!("别名的名称 \"{name}\" 无效"), hint);
        return;
    }
    if terms.is_empty() {
        diags.error_at(path, at, format!("别名 {{{name}}} 没有词"), hint);
        return;
    }
    if let Some(first) = aliases.get(name) {
        diags.error_at(
            path,
            at,
            format!("别名 {{{name}}} 重复定义（{}:{} 已定义）", first.path.display(), first.line),
            "别名在所有列表中共用，只需定义一次",
        );
        return;
    }
    aliases.insert(name.to_string(), AliasDef { terms, path: path.to_path_buf(), line: at.0 });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> (Option<KeywordList>, Diagnostics, Aliases) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rights.txt");
        std::fs::write(&path, text).expect("write");
        let (mut diags, mut aliases) = (Diagnostics::default(), Aliases::new());
        let mut list = load_list(&path, &mut aliases, &mut diags);
        if let Some(l) = list.as_mut() {
            resolve_aliases(std::slice::from_mut(l), &aliases, &mut diags);
        }
        (list, diags, aliases)
    }

    #[test]
    fn header_declares_category_topic_section_weight() {
        let (list, diags, _) = load_text(
            "@category = 社情民意\n@topic = 信访维权\n@section = policy\n@weight = 3\n上访 # 注释\n# 注释\n转发#话题#\n",
        );
        assert!(!diags.has_errors(), "{:?}", diags.items);
        let list = list.expect("loads");
        assert_eq!(list.meta.category, Category::PublicSentiment);
        assert_eq!(list.meta.topic, "信访维权");
        assert_eq!(list.meta.section.as_deref(), Some("policy"));
        assert_eq!(list.meta.weight, 3);
        assert_eq!(list.rules.iter().map(|r| r.source.as_str()).collect::<Vec<_>>(), vec!["上访", "转发#话题#"]);
        // Without a header: category other, topic = list name, weight 1.
        let (list, _, _) = load_text("上访\n");
        assert_eq!(list.expect("loads").meta, ListMeta::new("rights"));
    }

    #[test]
    fn errors_carry_line_and_column() {
        let cases: &[(&str, usize, usize, &str)] = &[
            ("上访\n@category = 网宣\n", 2, 13, "未知的类别"),
            ("@weight = 9\n上访\n", 1, 11, "1 到 5"),
            ("@categroy = 涉外\n上访\n", 1, 1, "是不是 @category"),
            ("上访\n  (拆迁 OR 搬迁\n", 2, 3, "右括号"),
            ("上访\n{本局} 不作为\n", 2, 1, "别名 {本局} 没有定义"),
            ("@alias 本局 = \n上访\n", 1, 7, "没有词"),
        ];
        for (text, line, column, fragment) in cases {
            let (_, diags, _) = load_text(text);
            let e = diags.errors().next().unwrap_or_else(|| panic!("{text:?}: no error"));
            let shown = format!("{e}");
            assert_eq!((e.line, e.column), (*line, *column), "{text:?}: {shown}");
            assert!(shown.contains(fragment), "{text:?}: {shown}");
            assert!(shown.contains(&format!("rights.txt:{line}:{column}:")), "{shown}");
        }
    }

    #[test]
    fn aliases_expand_to_their_words() {
        let (list, diags, aliases) = load_text("@alias 本局 = 市退役军人事务局 | 退役军人局\n{本局} AND 不作为\n");
        assert!(!diags.has_errors(), "{:?}", diags.items);
        assert_eq!(aliases["本局"].terms, vec!["市退役军人事务局", "退役军人局"]);
        let list = list.expect("loads");
        let resolved = format!("{:?}", list.rules[0].expr);
        assert!(resolved.contains("退役军人局") && !resolved.contains("Alias("), "{resolved}");
    }

    #[test]
    fn a_list_of_exclusions_only_is_an_error_and_duplicates_warn() {
        let (list, diags, _) = load_text("!演习\n");
        assert!(list.is_none() && diags.has_errors());
        let (_, diags, _) = load_text("上访\n上访\n");
        assert!(diags.warnings().any(|w| w.line == 2 && w.message.contains("重复")));
    }
}
