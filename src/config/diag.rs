//! Configuration diagnostics: one problem, where it is (file and line) and what to do.
//!
//! Validation never stops at the first problem; it collects [`Diagnostic`]s so that
//! `yuqing check` can report every one of them. Messages are in Chinese because admins
//! read them; the field names they quote are the English config keys.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    /// 1-based line; 0 when the problem concerns the whole file (e.g. it is missing).
    pub line: usize,
    /// 1-based character column when known (keyword rules), else 0.
    pub column: usize,
    pub message: String,
    /// What the admin should do about it.
    pub hint: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "错误",
            Severity::Warning => "警告",
        };
        if self.line > 0 && self.column > 0 {
            write!(f, "{}:{}:{}: {label}：{}", self.file.display(), self.line, self.column, self.message)?;
        } else if self.line > 0 {
            write!(f, "{}:{}: {label}：{}", self.file.display(), self.line, self.message)?;
        } else {
            write!(f, "{}: {label}：{}", self.file.display(), self.message)?;
        }
        if !self.hint.is_empty() {
            write!(f, "\n    → {}", self.hint)?;
        }
        Ok(())
    }
}

/// Collects diagnostics for one file at a time.
#[derive(Debug, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
    /// Loading for a command that reads no source (`test match`, `rumour eval`): a source
    /// file or export folder that does not exist is a warning, and the source keeps its path.
    pub(super) paths_may_be_missing: bool,
}

impl Diagnostics {
    pub fn error(&mut self, file: &Path, line: usize, message: String, hint: impl Into<String>) {
        self.push(Severity::Error, file, (line, 0), message, hint.into());
    }

    /// An error at a line and 1-based character column.
    pub fn error_at(&mut self, file: &Path, at: (usize, usize), message: String, hint: impl Into<String>) {
        self.push(Severity::Error, file, at, message, hint.into());
    }

    pub fn warning(&mut self, file: &Path, line: usize, message: String, hint: impl Into<String>) {
        self.push(Severity::Warning, file, (line, 0), message, hint.into());
    }

    /// A warning at a line and 1-based character column.
    pub fn warning_at(&mut self, file: &Path, at: (usize, usize), message: String, hint: impl Into<String>) {
        self.push(Severity::Warning, file, at, message, hint.into());
    }

    fn push(&mut self, severity: Severity, file: &Path, (line, column): (usize, usize), message: String, hint: String) {
        self.items.push(Diagnostic { severity, file: file.to_path_buf(), line, column, message, hint });
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Warning)
    }
}

/// 1-based line number of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

pub use crate::util::similar::suggest;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_count_newlines_before_offset() {
        let text = "a = 1\nb = 2\nc = 3\n";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 6), 2);
        assert_eq!(line_of(text, 13), 3);
        assert_eq!(line_of(text, 999), 4);
    }
}
