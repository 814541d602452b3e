//! Search over the documents of events (the web console's 检索): words in the title or text
//! through the trigram FTS5 index (`document_search`, migration 19), narrowed by source,
//! grade, keyword lists (for an Art. 9 category) and a time range, newest first, paged.

use chrono::{DateTime, Utc};
use rusqlite::types::Value;

use super::{Store, StoreError};
use crate::model::Grade;

/// What to look for; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Words, separated by spaces; each must occur (in the title or the text).
    pub words: Vec<String>,
    pub source: Option<String>,
    pub grade: Option<Grade>,
    /// Documents that hit one of these keyword lists (those of a category).
    pub lists: Option<Vec<String>>,
    /// When the document joined its event: from (inclusive) … to (exclusive).
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: usize,
    pub offset: usize,
}

/// One document found.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub document_id: i64,
    pub event_id: i64,
    pub event_title: String,
    pub grade: Option<Grade>,
    pub source_id: String,
    pub seen_at: DateTime<Utc>,
    pub title: String,
    pub text: String,
    pub link: Option<String>,
}

/// `"词组"` for FTS5, quotes doubled.
fn phrase(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

/// `%word%` for LIKE, with its wildcards escaped (`\` is the escape character).
fn like(word: &str) -> String {
    let escaped = word.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

impl Store {
    /// The documents matching `q`, newest first, and how many match in all.
    pub fn search(&self, q: &SearchQuery) -> Result<(Vec<SearchHit>, usize), StoreError> {
        let mut conditions: Vec<String> = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        let mut push = |sql: &str, value: Value, conditions: &mut Vec<String>| {
            values.push(value);
            conditions.push(sql.replace('?', &format!("?{}", values.len())));
        };
        // Words of three characters or more use the index; shorter ones (拆迁) a scan.
        let (indexed, short): (Vec<&String>, Vec<&String>) =
            q.words.iter().filter(|w| !w.is_empty()).partition(|w| w.chars().count() >= 3);
        if !indexed.is_empty() {
            let matched = indexed.iter().map(|w| phrase(w)).collect::<Vec<_>>().join(" AND ");
            push(
                "d.id IN (SELECT rowid FROM document_search WHERE document_search MATCH ?)",
                Value::Text(matched),
                &mut conditions,
            );
        }
        for w in short {
            push("(d.title LIKE ? ESCAPE '\\' OR d.text LIKE ? ESCAPE '\\')", Value::Text(like(w)), &mut conditions);
        }
        if let Some(source) = &q.source {
            push("d.source_id = ?", Value::Text(source.clone()), &mut conditions);
        }
        if let Some(grade) = q.grade {
            push("e.grade = ?", Value::Text(grade.as_str().to_string()), &mut conditions);
        }
        if let Some(lists) = &q.lists {
            let json = serde_json::to_string(lists).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            push(
                "EXISTS (SELECT 1 FROM hits h WHERE h.document_id = d.id AND h.list IN (SELECT value FROM json_each(?)))",
                Value::Text(json),
                &mut conditions,
            );
        }
        if let Some(from) = q.from {
            push("ed.seen_at >= ?", Value::Integer(from.timestamp()), &mut conditions);
        }
        if let Some(to) = q.to {
            push("ed.seen_at < ?", Value::Integer(to.timestamp()), &mut conditions);
        }
        let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        let from =
            "FROM event_documents ed JOIN documents d ON d.id = ed.document_id JOIN events e ON e.id = ed.event_id";
        let total: i64 = self.lite()?.query_row(
            &format!("SELECT count(*) {from} {filter}"),
            rusqlite::params_from_iter(values.iter()),
            |r| r.get(0),
        )?;
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT d.id, ed.event_id, e.title, e.grade, d.source_id, ed.seen_at, d.title, d.text, d.link
             {from} {filter} ORDER BY ed.seen_at DESC, d.id DESC LIMIT {limit} OFFSET {offset}"
        );
        let mut stmt = self.lite()?.prepare(&sql)?;
        let hits = stmt
            .query_map(rusqlite::params_from_iter(values.iter()), |r| {
                Ok(SearchHit {
                    document_id: r.get(0)?,
                    event_id: r.get(1)?,
                    event_title: r.get(2)?,
                    grade: r.get::<_, Option<String>>(3)?.as_deref().and_then(Grade::parse),
                    source_id: r.get(4)?,
                    seen_at: DateTime::from_timestamp(r.get(5)?, 0).unwrap_or_default(),
                    title: r.get(6)?,
                    text: r.get(7)?,
                    link: r.get(8)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok((hits, usize::try_from(total).unwrap_or(0)))
    }
}
