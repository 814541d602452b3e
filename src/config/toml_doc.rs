//! Reading a TOML file with spans, so that every problem can name its line.
//!
//! Unknown keys are found by walking the span-preserving table against the list of keys a
//! table may hold (all of them are reported, not just the first); each table is then
//! deserialised on its own, so one bad value does not hide the problems in other tables.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::diag::{Diagnostics, line_of, suggest};

/// One TOML file's path and text.
pub struct TomlFile {
    pub path: PathBuf,
    pub text: String,
    /// Byte offset where each line starts, for span → line lookups.
    line_starts: Vec<usize>,
}

impl TomlFile {
    /// Reads the file, reporting a missing or unreadable file as an error.
    pub fn read(path: &Path, what_to_do: &str, diags: &mut Diagnostics) -> Option<Self> {
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
                    Some(Self { path: path.to_path_buf(), text, line_starts })
                }
                Err(e) => {
                    let line = line_of(&String::from_utf8_lossy(e.as_bytes()), e.utf8_error().valid_up_to());
                    diags.error(path, line, "文件不是有效的 UTF-8 编码".into(), "请用 UTF-8 编码保存该文件");
                    None
                }
            },
            Err(e) => {
                diags.error(path, 0, format!("无法读取文件：{e}"), what_to_do);
                None
            }
        }
    }

    /// 1-based line of the start of a span.
    pub fn line(&self, span: std::ops::Range<usize>) -> usize {
        self.line_starts.partition_point(|&start| start <= span.start)
    }

    /// 1-based line and character column of the start of a span.
    pub fn position(&self, span: std::ops::Range<usize>) -> (usize, usize) {
        let line = self.line(span.clone());
        let start = self.line_starts.get(line.saturating_sub(1)).copied().unwrap_or(0);
        let column = self.text.get(start..span.start.min(self.text.len())).map_or(0, |s| s.chars().count());
        (line, column + 1)
    }

    /// Parses the whole document, reporting every syntax error.
    pub fn parse(&self, diags: &mut Diagnostics) -> Option<Spanned<DeTable<'_>>> {
        let (table, errors) = DeTable::parse_recoverable(&self.text);
        for err in &errors {
            let line = err.span().map_or(0, |s| self.line(s));
            diags.error(
                &self.path,
                line,
                format!("TOML 语法错误：{}", err.message()),
                "请对照 README 中的示例修正该行的写法",
            );
        }
        errors.is_empty().then_some(table)
    }

    /// Reports keys of `table` not in `allowed` and returns the table without them.
    pub fn known_keys<'i>(
        &self,
        table: &DeTable<'i>,
        allowed: &[&str],
        context: &str,
        diags: &mut Diagnostics,
    ) -> DeTable<'i> {
        let mut kept = DeTable::new();
        for (key, value) in table {
            if allowed.contains(&key.get_ref().as_ref()) {
                kept.insert(key.clone(), value.clone());
                continue;
            }
            let hint = match suggest(key.get_ref(), allowed) {
                Some(near) => format!("是否想写 \"{near}\"？{context}可用的键：{}", allowed.join(", ")),
                None => format!("请删除该键；{context}可用的键：{}", allowed.join(", ")),
            };
            diags.error(&self.path, self.line(key.span()), format!("未知的键 \"{}\"", key.get_ref()), hint);
        }
        kept
    }

    /// Deserialises one table (already stripped of unknown keys) into `T`.
    pub fn deserialize<T: DeserializeOwned>(
        &self,
        span: std::ops::Range<usize>,
        table: DeTable<'_>,
        context: &str,
        diags: &mut Diagnostics,
    ) -> Option<T> {
        let value = Spanned::new(span.clone(), DeValue::Table(table));
        match T::deserialize(ValueDeserializer::from(value)) {
            Ok(v) => Some(v),
            Err(err) => {
                let line = self.line(err.span().unwrap_or(span));
                diags.error(
                    &self.path,
                    line,
                    format!("{context}的值无效：{}", err.message().trim()),
                    "请按 README 中的说明修正该值的类型或取值",
                );
                None
            }
        }
    }

    /// Reads one key of `table` as `T`, so each wrong value is reported on its own line.
    /// `Ok(None)` when absent; `Err(())` when present but invalid (already reported).
    pub fn value<T: DeserializeOwned>(
        &self,
        table: &DeTable<'_>,
        key: &str,
        expected: &str,
        diags: &mut Diagnostics,
    ) -> Result<Option<Spanned<T>>, ()> {
        let Some(value) = table.get(key) else {
            return Ok(None);
        };
        let span = value.span();
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => Ok(Some(Spanned::new(span, v))),
            Err(_) => {
                diags.error(
                    &self.path,
                    self.line(span),
                    format!("\"{key}\" 的值应为{expected}，实际是 {}", value.get_ref().type_str()),
                    format!("请把 {key} 改成{expected}"),
                );
                Err(())
            }
        }
    }

    /// Looks up a sub-table, reporting a value of the wrong type.
    pub fn sub_table<'a, 'i>(
        &self,
        table: &'a DeTable<'i>,
        key: &str,
        diags: &mut Diagnostics,
    ) -> Option<(std::ops::Range<usize>, &'a DeTable<'i>)> {
        let value = table.get(key)?;
        match value.get_ref() {
            DeValue::Table(t) => Some((value.span(), t)),
            other => {
                diags.error(
                    &self.path,
                    self.line(value.span()),
                    format!("\"{key}\" 应为表（[{key}]），实际是 {}", other.type_str()),
                    format!("请写成 [{key}] 小节"),
                );
                None
            }
        }
    }
}

/// One string or a list of strings (`category = "涉外"` or `category = ["涉外", "安全稳定"]`).
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(super) fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// A TOML file being validated and the diagnostics its problems go to: the helpers that
/// read `[[people]]`, `[[sections]]`, `[[receivers]]` and the routes.
pub(super) struct Ctx<'f, 'd> {
    pub(super) file: &'f TomlFile,
    pub(super) diags: &'d mut Diagnostics,
}

impl Ctx<'_, '_> {
    pub(super) fn get<T: DeserializeOwned>(
        &mut self,
        table: &DeTable<'_>,
        key: &str,
        expected: &str,
    ) -> Option<Spanned<T>> {
        self.file.value::<T>(table, key, expected, self.diags).ok().flatten()
    }

    pub(super) fn text(&mut self, table: &DeTable<'_>, key: &str) -> Option<Spanned<String>> {
        self.get::<String>(table, key, "字符串")
    }

    pub(super) fn list(&mut self, table: &DeTable<'_>, key: &str) -> Option<Spanned<Vec<String>>> {
        let v = self.get::<OneOrMany>(table, key, "字符串或字符串数组")?;
        let span = v.span();
        Some(Spanned::new(span, v.into_inner().into_vec()))
    }

    /// The `id` of one `[[table]]` entry, reporting a missing or already used one.
    pub(super) fn new_id(
        &mut self,
        span: std::ops::Range<usize>,
        t: &DeTable<'_>,
        (table, what, example): (&str, &str, &str),
        taken: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let Some(id) = self.text(t, "id") else {
            self.error(span, format!("[[{table}]] 缺少 id"), format!("例如 id = \"{example}\""));
            return None;
        };
        if taken(id.get_ref()) {
            self.error(id.span(), format!("{what} id \"{}\" 重复", id.get_ref()), format!("每个{what}只写一次"));
            return None;
        }
        Some(id.into_inner())
    }

    pub(super) fn error(&mut self, span: std::ops::Range<usize>, message: String, hint: impl Into<String>) {
        let line = self.file.line(span);
        self.diags.error(&self.file.path, line, message, hint);
    }

    /// Each value parsed by `parse`, reporting the ones it refuses.
    pub(super) fn parsed<T>(
        &mut self,
        v: &Spanned<Vec<String>>,
        what: &str,
        known: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Vec<T> {
        let mut out = Vec::new();
        for s in v.get_ref() {
            match parse(s) {
                Some(x) => out.push(x),
                None => self.error(v.span(), format!("未知的{what} \"{s}\""), format!("可用的{what}：{known}")),
            }
        }
        out
    }

    /// The tables of `[[key]]`, unknown keys reported.
    pub(super) fn array<'i>(
        &mut self,
        root: &DeTable<'i>,
        key: &str,
        allowed: &[&str],
    ) -> Vec<(std::ops::Range<usize>, DeTable<'i>)> {
        let Some(value) = root.get(key) else { return Vec::new() };
        let DeValue::Array(entries) = value.get_ref() else {
            self.error(value.span(), format!("{key} 应写成 [[{key}]] 表数组"), format!("每项写一个 [[{key}]] 小节"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries {
            match entry.get_ref() {
                DeValue::Table(t) => {
                    let kept = self.file.known_keys(t, allowed, &format!("[[{key}]] 中"), self.diags);
                    out.push((entry.span(), kept));
                }
                _ => {
                    self.error(entry.span(), format!("[[{key}]] 的每一项都应是表"), format!("请用 [[{key}]] 小节书写"))
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_lines_agree_with_counting_newlines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.toml");
        let text = "a = 1\n\nb = 2\nc = 3";
        std::fs::write(&path, text).expect("write");
        let file = TomlFile::read(&path, "", &mut Diagnostics::default()).expect("read");
        for offset in 0..=text.len() {
            assert_eq!(file.line(offset..offset), line_of(text, offset), "offset {offset}");
        }
        assert_eq!(file.position(9..9), (3, 3));
        assert_eq!(file.position(0..1), (1, 1));
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.toml");
        let text = "a = 1\n放假 = [\"x\"]\n";
        std::fs::write(&path, text).expect("write");
        let file = TomlFile::read(&path, "", &mut Diagnostics::default()).expect("read");
        assert_eq!(file.position(0..1), (1, 1));
        let quote = text.find('"').expect("quote");
        assert_eq!(file.position(quote..quote + 3), (2, 7));
    }
}
