//! Search over the documents of events (the web console's 检索): words in the title or text,
//! narrowed by source, grade, keyword lists (for an Art. 9 category) and a time range, newest
//! first, paged. Both backends; the word conditions and the unpacking of the lists are
//! written per dialect, the rest (filters, count, order, paging) once.
//!
//! - SQLite: the trigram FTS5 index (`document_search`, migration 19) for words of three
//!   characters or more (`MATCH` of quoted phrases, ANDed), `LIKE '%…%'` over `documents` for
//!   shorter ones (拆迁); the lists through `json_each`.
//! - PostgreSQL: `document_search` is a plain table (`document_id`, `title`, `text`) kept by
//!   triggers on `event_documents` (`pg::migrations`), every word `ILIKE '%…%'` over it, served
//!   by pg_trgm's GIN indexes where the extension was available at migration (words of three
//!   characters or more; a scan otherwise); the lists through `json_array_elements_text`.
//!
//! Both find a word as a substring of the title or the text, `%`, `_` and `\` in it taken
//! literally, and neither ranks: the order is `seen_at DESC, document id DESC` on both (FTS5
//! could rank by bm25 and pg_trgm by similarity; the console shows newest first). Case:
//! FTS5's trigram tokenizer and `ILIKE` fold letter case (Unicode), SQLite's `LIKE` for the
//! short words ASCII letters only, so a one- or two-letter non-ASCII word (Ä) is
//! case-sensitive on SQLite alone; Chinese has no case. On PostgreSQL each distinct shape of
//! query (number of words, which filters) is one prepared statement of the connection;
//! limit and offset are parameters, so paging adds none.

use chrono::{DateTime, Utc};

use super::sql::{Dialect, Param};
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

/// `%word%` for LIKE / ILIKE, with its wildcards escaped (`\` is the escape character).
fn like(word: &str) -> String {
    let escaped = word.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// A parameter of the built query.
enum Value {
    Int(i64),
    Text(String),
}

impl Value {
    fn param(&self) -> &dyn Param {
        match self {
            Value::Int(n) => n,
            Value::Text(s) => s,
        }
    }
}

impl Store {
    /// The documents matching `q`, newest first, and how many match in all.
    pub fn search(&self, q: &SearchQuery) -> Result<(Vec<SearchHit>, usize), StoreError> {
        let dialect = self.dialect();
        let mut conditions: Vec<String> = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        // `?` in `sql` becomes this value's `?N` (every `?` of it the same value).
        let mut push = |sql: &str, value: Value, conditions: &mut Vec<String>| {
            values.push(value);
            conditions.push(sql.replace('?', &format!("?{}", values.len())));
        };
        let words: Vec<&String> = q.words.iter().filter(|w| !w.is_empty()).collect();
        match dialect {
            Dialect::Sqlite => {
                // Words of three characters or more use the trigram index; shorter ones
                // (拆迁) a scan.
                let (indexed, short): (Vec<&String>, Vec<&String>) =
                    words.into_iter().partition(|w| w.chars().count() >= 3);
                if !indexed.is_empty() {
                    let matched = indexed.iter().map(|w| phrase(w)).collect::<Vec<_>>().join(" AND ");
                    push(
                        "d.id IN (SELECT rowid FROM document_search WHERE document_search MATCH ?)",
                        Value::Text(matched),
                        &mut conditions,
                    );
                }
                for w in short {
                    push(
                        "(d.title LIKE ? ESCAPE '\\' OR d.text LIKE ? ESCAPE '\\')",
                        Value::Text(like(w)),
                        &mut conditions,
                    );
                }
            }
            Dialect::Postgres => {
                // `document_search` is a plain table there: each word a case-insensitive
                // substring of the title or the text (pg_trgm's GIN indexes serve ILIKE for
                // words of three characters or more, when the extension is installed).
                for w in words {
                    push(
                        "d.id IN (SELECT document_id FROM document_search
                                  WHERE title ILIKE ? ESCAPE '\\' OR text ILIKE ? ESCAPE '\\')",
                        Value::Text(like(w)),
                        &mut conditions,
                    );
                }
            }
        }
        if let Some(source) = &q.source {
            push("d.source_id = ?", Value::Text(source.clone()), &mut conditions);
        }
        if let Some(grade) = q.grade {
            push("e.grade = ?", Value::Text(grade.as_str().to_string()), &mut conditions);
        }
        if let Some(lists) = &q.lists {
            // The lists as one JSON parameter (one statement text whatever their number);
            // the function that unpacks it is each backend's own.
            let json = serde_json::to_string(lists).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let unpack = match dialect {
                Dialect::Sqlite => "SELECT value FROM json_each(?)",
                Dialect::Postgres => "SELECT json_array_elements_text(CAST(CAST(? AS TEXT) AS json))",
            };
            push(
                &format!("EXISTS (SELECT 1 FROM hits h WHERE h.document_id = d.id AND h.list IN ({unpack}))"),
                Value::Text(json),
                &mut conditions,
            );
        }
        if let Some(from) = q.from {
            push("ed.seen_at >= ?", Value::Int(from.timestamp()), &mut conditions);
        }
        if let Some(to) = q.to {
            push("ed.seen_at < ?", Value::Int(to.timestamp()), &mut conditions);
        }
        let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        let from =
            "FROM event_documents ed JOIN documents d ON d.id = ed.document_id JOIN events e ON e.id = ed.event_id";
        let mut db = self.db();
        let params: Vec<&dyn Param> = values.iter().map(Value::param).collect();
        let total: i64 = db.exec().one(&format!("SELECT count(*) {from} {filter}"), &params, |r| r.get(0))?;
        // Limit and offset are parameters: paging reuses one prepared statement.
        let (limit, offset) = (i64::try_from(q.limit).unwrap_or(i64::MAX), i64::try_from(q.offset).unwrap_or(i64::MAX));
        let n = values.len();
        let sql = format!(
            "SELECT d.id, ed.event_id, e.title, e.grade, d.source_id, ed.seen_at, d.title, d.text, d.link
             {from} {filter} ORDER BY ed.seen_at DESC, d.id DESC LIMIT ?{} OFFSET ?{}",
            n + 1,
            n + 2
        );
        let mut params = params;
        params.push(&limit);
        params.push(&offset);
        let hits = db.exec().rows(&sql, &params, |r| {
            Ok(SearchHit {
                document_id: r.get(0)?,
                event_id: r.get(1)?,
                event_title: r.get(2)?,
                grade: r.get::<Option<String>>(3)?.as_deref().and_then(Grade::parse),
                source_id: r.get(4)?,
                seen_at: DateTime::from_timestamp(r.get(5)?, 0).unwrap_or_default(),
                title: r.get(6)?,
                text: r.get(7)?,
                link: r.get(8)?,
            })
        })?;
        Ok((hits, usize::try_from(total).unwrap_or(0)))
    }
}
