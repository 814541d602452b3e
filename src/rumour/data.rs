//! Labelled JSONL for `yuqing rumour train/eval`: one object per line with `text` and
//! `label`, optionally `title` and `comments` (an array of reply texts, earliest first; read
//! as `yuqing test match --jsonl` reads them). A label is 1/0, true/false, or "rumour"/"rumor" vs "non-rumour"/"non-rumor"
//! (also as strings "1"/"0"/"true"/"false"). Lines with a null or missing label are skipped
//! and counted; a line that is not usable JSON is reported as `file:line` and skipped.

use std::io::BufRead;
use std::path::Path;

use serde_json::Value;

use super::RumourError;

/// One labelled text.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// Empty when the line has none (Weibo posts have no title).
    pub title: String,
    pub text: String,
    pub rumour: bool,
    /// Its weight in training: 1 for a corpus post, more for an office's own case.
    pub weight: f32,
    /// Its replies (comments, reposts' texts), earliest first; empty when the line has none.
    pub comments: Vec<String>,
}

/// What a file held.
#[derive(Debug, Default)]
pub struct Dataset {
    pub examples: Vec<Example>,
    /// Lines whose label was null or missing.
    pub unlabelled: usize,
    /// "file:line: reason" for each line skipped as unusable.
    pub problems: Vec<String>,
}

impl Dataset {
    pub fn rumours(&self) -> usize {
        self.examples.iter().filter(|e| e.rumour).count()
    }
}

/// Reads a labelled JSONL file; only failing to open or read the file is an error.
pub fn read_labelled(path: &Path) -> Result<Dataset, RumourError> {
    let read_err = |source| RumourError::Read { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut data = Dataset::default();
    for (index, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
        let line = line.map_err(read_err)?;
        let at = format!("{}:{}", path.display(), index + 1);
        let Ok(line) = std::str::from_utf8(&line) else {
            data.problems.push(format!("{at}: 不是 UTF-8 文本"));
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                data.problems.push(format!("{at}: 不是有效的 JSON：{e}"));
                continue;
            }
        };
        let label = match parse_label(value.get("label")) {
            Ok(Some(label)) => label,
            Ok(None) => {
                data.unlabelled += 1;
                continue;
            }
            Err(shown) => {
                data.problems
                    .push(format!("{at}: 无法识别的 label：{shown}（应为 1/0、true/false、rumour/non-rumour）"));
                continue;
            }
        };
        let Some(text) = value.get("text").and_then(Value::as_str) else {
            data.problems.push(format!("{at}: 缺少 text 字段"));
            continue;
        };
        let title = value.get("title").and_then(Value::as_str).unwrap_or_default().to_string();
        let comments = match comments_of(&value) {
            Some(c) => c,
            None => {
                data.problems.push(format!("{at}: comments 应为文本数组"));
                continue;
            }
        };
        data.examples.push(Example { title, text: text.to_string(), rumour: label, weight: 1.0, comments });
    }
    Ok(data)
}

/// The `comments` of a JSON line: its strings (other items skipped); none when absent or
/// null; `None` when it is not an array. `yuqing test match --jsonl` reads it the same way.
pub fn comments_of(value: &Value) -> Option<Vec<String>> {
    match value.get("comments") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => Some(items.iter().filter_map(Value::as_str).map(str::to_string).collect()),
        Some(_) => None,
    }
}

/// `Ok(None)` for null or missing; `Err` with the value shown (shortened) when unknown.
fn parse_label(v: Option<&Value>) -> Result<Option<bool>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Number(n)) if n.as_f64() == Some(1.0) => Ok(Some(true)),
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => Ok(Some(false)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "1" | "true" | "rumour" | "rumor" => Ok(Some(true)),
            "0" | "false" | "non-rumour" | "non-rumor" | "nonrumour" | "nonrumor" => Ok(Some(false)),
            _ => Err(s.chars().take(30).collect()),
        },
        Some(other) => Err(other.to_string().chars().take(30).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_in_every_accepted_spelling_and_bad_lines_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d.jsonl");
        let lines = [
            r#"{"text":"甲","label":1}"#,
            r#"{"text":"乙","label":0}"#,
            r#"{"text":"丙","label":true}"#,
            r#"{"text":"丁","label":"rumor"}"#,
            r#"{"text":"戊","label":"non-rumour"}"#,
            r#"{"text":"己","label":"Non_Rumor"}"#,
            r#"{"text":"庚","label":null}"#,
            r#"{"text":"辛"}"#,
            "{broken",
            r#"{"text":"壬","label":"maybe"}"#,
            r#"{"label":1}"#,
            "",
            r#"{"text":"癸","label":"1"}"#,
            r#"{"text":"子","label":0,"comments":["辟谣了",7,"假的"]}"#,
            r#"{"text":"丑","label":0,"comments":"假的"}"#,
        ];
        std::fs::write(&path, lines.join("\n")).expect("write");
        let d = read_labelled(&path).expect("read");
        let labels: Vec<(&str, bool)> = d.examples.iter().map(|e| (e.text.as_str(), e.rumour)).collect();
        assert_eq!(
            labels,
            [
                ("甲", true),
                ("乙", false),
                ("丙", true),
                ("丁", true),
                ("戊", false),
                ("己", false),
                ("癸", true),
                ("子", false)
            ]
        );
        assert!(d.examples[..7].iter().all(|e| e.comments.is_empty()));
        assert_eq!(d.examples[7].comments, ["辟谣了", "假的"], "strings only, in order");
        assert_eq!(d.unlabelled, 2);
        assert_eq!(d.problems.len(), 4, "{:?}", d.problems);
        assert!(d.problems[3].contains("d.jsonl:15: comments 应为文本数组"), "{:?}", d.problems);
        assert!(d.problems[0].contains("d.jsonl:9: 不是有效的 JSON"), "{:?}", d.problems);
        assert!(d.problems[1].contains("d.jsonl:10: 无法识别的 label：maybe"), "{:?}", d.problems);
        assert!(d.problems[2].contains("d.jsonl:11: 缺少 text 字段"));
        assert!(matches!(read_labelled(&dir.path().join("none.jsonl")), Err(RumourError::Read { .. })));
    }
}
