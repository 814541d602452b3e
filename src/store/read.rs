//! Read-side queries for the CLI: recent hits, each source's status, the outbox's oldest alert.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Store, StoreError};

/// One document with hits, for `yuqing hits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitRow {
    pub fetched_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub source_id: String,
    pub title: String,
    pub link: Option<String>,
    /// Distinct matched terms, in order of first match.
    pub terms: Vec<String>,
    /// Art. 7 flags: (kind, cues).
    pub flags: Vec<(String, Vec<String>)>,
}

/// A source's fetch status, for `yuqing sources`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceState {
    pub source_id: String,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub documents: u64,
    /// When a run last stored new documents.
    pub last_new_at: Option<DateTime<Utc>>,
    /// A failing / silence notice went out and the episode is not over.
    pub failing_notified: bool,
    pub silent_notified: bool,
}

pub(super) fn time(secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.and_then(|s| DateTime::from_timestamp(s, 0))
}

impl Store {
    /// The most recent documents that have hits, newest first.
    pub fn recent_hits(&self, limit: usize) -> Result<Vec<HitRow>, StoreError> {
        let mut stmt = self.lite()?.prepare(
            "SELECT d.id, d.fetched_at, d.published_at, d.source_id, d.title, d.link
             FROM documents d WHERE EXISTS (SELECT 1 FROM hits h WHERE h.document_id = d.id)
             ORDER BY d.id DESC LIMIT ?1",
        )?;
        let mut terms =
            self.lite()?.prepare("SELECT term FROM hits WHERE document_id = ?1 ORDER BY field DESC, start, id")?;
        let mut flags =
            self.lite()?.prepare("SELECT kind, reasons FROM flags WHERE document_id = ?1 ORDER BY rowid")?;
        let docs = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })?;
        let mut out = Vec::new();
        for doc in docs {
            let (id, fetched, published, source_id, title, link) = doc?;
            let mut row_terms: Vec<String> = Vec::new();
            for term in terms.query_map(params![id], |r| r.get::<_, String>(0))? {
                let term = term?;
                if !row_terms.contains(&term) {
                    row_terms.push(term);
                }
            }
            let mut row_flags = Vec::new();
            for flag in flags.query_map(params![id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
                let (kind, reasons) = flag?;
                let reasons: Vec<String> =
                    serde_json::from_str(&reasons).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                row_flags.push((kind, reasons));
            }
            out.push(HitRow {
                fetched_at: time(Some(fetched)).unwrap_or_default(),
                published_at: time(published),
                source_id,
                title,
                link,
                terms: row_terms,
                flags: row_flags,
            });
        }
        Ok(out)
    }

    /// The recorded state of every source that has run at least once.
    pub fn source_states(&self) -> Result<Vec<SourceState>, StoreError> {
        self.sources().states()
    }
}

impl Store {
    /// When the oldest alert still waiting to be sent was queued.
    pub fn oldest_pending_alert(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let secs: Option<i64> =
            self.lite()?.query_row("SELECT min(created_at) FROM alerts WHERE status = 'pending'", [], |r| r.get(0))?;
        Ok(time(secs))
    }
}
