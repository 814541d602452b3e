//! Read-side queries for the CLI: recent hits, each source's status, the outbox's oldest alert.
//! One SQL text for both backends.

use chrono::{DateTime, Utc};

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
    /// Why it is 待核实, when it is.
    pub to_verify: Option<String>,
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

/// A document's flags in kind order (as the detector writes them, `FlagKind`'s order):
/// `flags` has no id and PostgreSQL no `rowid`, so insertion order is not there to read.
const FLAGS_OF_DOCUMENT: &str = "SELECT kind, reasons FROM flags WHERE document_id = ?1
     ORDER BY CASE kind WHEN 'rumour' THEN 0 WHEN 'distortion' THEN 1 WHEN 'misunderstanding' THEN 2 ELSE 3 END";

impl Store {
    /// The most recent documents that have hits, newest first.
    pub fn recent_hits(&self, limit: usize) -> Result<Vec<HitRow>, StoreError> {
        let mut db = self.db();
        let docs = db.exec().rows(
            "SELECT d.id, d.fetched_at, d.published_at, d.source_id, d.title, d.link, d.to_verify
             FROM documents d WHERE EXISTS (SELECT 1 FROM hits h WHERE h.document_id = d.id)
             ORDER BY d.id DESC LIMIT ?1",
            &[&i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok((
                    r.get::<i64>(0)?,
                    r.get::<i64>(1)?,
                    r.get::<Option<i64>>(2)?,
                    r.get::<String>(3)?,
                    r.get::<String>(4)?,
                    r.get::<Option<String>>(5)?,
                    r.get::<Option<String>>(6)?,
                ))
            },
        )?;
        let mut out = Vec::new();
        for (id, fetched, published, source_id, title, link, to_verify) in docs {
            let mut row_terms: Vec<String> = Vec::new();
            let terms = db.exec().rows(
                "SELECT term FROM hits WHERE document_id = ?1 ORDER BY field DESC, start, id",
                &[&id],
                |r| r.get::<String>(0),
            )?;
            for term in terms {
                if !row_terms.contains(&term) {
                    row_terms.push(term);
                }
            }
            let flags =
                db.exec().rows(FLAGS_OF_DOCUMENT, &[&id], |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)))?;
            let mut row_flags = Vec::new();
            for (kind, reasons) in flags {
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
                to_verify,
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
            self.db().exec().one("SELECT min(created_at) FROM alerts WHERE status = 'pending'", &[], |r| r.get(0))?;
        Ok(time(secs))
    }
}
