//! Export files: which were processed, engagement time series, comments (per post and
//! per event, for the viewpoints of [`crate::detect::viewpoints`]). Both backends.

use super::events::row_order;
use super::ingest::insert_new;
use super::sql::{Exec, Row};
use super::{Committed, NewDocument, Store, StoreError};
use crate::detect::events::Assignment;
use crate::detect::viewpoints::CommentInput;
use crate::extract::export::{Engagement, ExportComment};
use crate::model::{AlertMessage, Flag};
use chrono::{DateTime, Utc};

/// One processed export file and what came out of it.
pub struct ExportBatch<'a> {
    pub sha256: &'a str,
    pub path: &'a str,
    pub documents: &'a [NewDocument],
    /// Counts for every post in the file (new or known), by the post's identity keys.
    pub engagement: &'a [(Vec<String>, Engagement)],
    pub comments: &'a [ExportComment],
    pub bad_rows: usize,
}

/// What a committed export file added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportCommitted {
    pub committed: Committed,
    /// Known posts whose counts changed (a new point in their time series).
    pub updated_counts: usize,
    /// Their document ids, for regrading their events.
    pub updated_documents: Vec<i64>,
    pub comments: usize,
}

impl Store {
    /// Whether a file with this content was already processed for the source.
    pub fn export_seen(&self, source_id: &str, sha256: &str) -> Result<bool, StoreError> {
        let found: Option<String> = self.db().exec().first(
            "SELECT sha256 FROM export_files WHERE source_id = ?1 AND sha256 = ?2",
            &[&source_id, &sha256],
            |r| r.get(0),
        )?;
        Ok(found.is_some())
    }

    /// Stores one export file in one transaction: new posts with hits and alerts, a new
    /// engagement point for every post whose counts changed, comments, the file's record.
    pub fn commit_export(
        &mut self,
        source_id: &str,
        batch: &ExportBatch<'_>,
        now: DateTime<Utc>,
    ) -> Result<ExportCommitted, StoreError> {
        let now_s = now.timestamp();
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.write(|tx| {
            let mut out = ExportCommitted::default();
            for item in batch.documents {
                insert_new(tx, item, now_s, &mut out.committed)?;
            }
            for (keys, counts) in batch.engagement.iter().filter(|(_, c)| !c.is_empty()) {
                if let Some(doc_id) = record_engagement(tx, keys, counts, now_s)? {
                    out.updated_counts += 1;
                    out.updated_documents.push(doc_id);
                }
            }
            for c in batch.comments {
                let post_key = format!("guid:{source_id}:{}", c.post_id);
                out.comments += tx.execute(
                    "INSERT OR IGNORE INTO comments (source_id, comment_id, post_key, author, text, published_at, likes)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    &[
                        &source_id,
                        &c.id,
                        &post_key,
                        &c.author,
                        &c.text,
                        &c.published_at.map(|t| t.timestamp()),
                        &c.likes.and_then(|n| i64::try_from(n).ok()),
                    ],
                )?;
            }
            tx.execute(
                "INSERT OR IGNORE INTO export_files (source_id, sha256, path, processed_at, posts, comments, bad_rows)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                &[
                    &source_id,
                    &batch.sha256,
                    &batch.path,
                    &now_s,
                    &count(batch.engagement.len()),
                    &count(batch.comments.len()),
                    &count(batch.bad_rows),
                ],
            )?;
            mark_success(tx, source_id, now_s, out.committed.documents > 0)?;
            Ok(out)
        })
    }

    /// The engagement time series of a document, oldest first.
    pub fn engagement_history(&self, document_id: i64) -> Result<Vec<(DateTime<Utc>, Engagement)>, StoreError> {
        let mut db = self.db();
        let db = db.exec();
        let sql = format!(
            "SELECT observed_at, reposts, comments, likes, reads, shares FROM engagement WHERE document_id = ?1
             ORDER BY observed_at, {}",
            row_order(db.dialect())
        );
        db.rows(&sql, &[&document_id], |r| {
            Ok((DateTime::from_timestamp(r.get(0)?, 0).unwrap_or_default(), engagement_at(r, 1)?))
        })
    }

    /// The document a key belongs to.
    pub fn document_by_key(&self, key: &str) -> Result<Option<i64>, StoreError> {
        document_of(self.db().exec(), key)
    }

    /// The comments on an event's documents (joined through their keys), oldest first, at
    /// most `limit` (the latest when more).
    pub fn event_comments(&self, event_id: i64, limit: usize) -> Result<Vec<CommentInput>, StoreError> {
        // NULLs explicitly where SQLite puts them (smallest), which PostgreSQL does not (its
        // NULLs are largest): comments without a time are the oldest here.
        self.db().exec().rows(
            "SELECT text, published_at, likes FROM (
                 SELECT DISTINCT c.source_id, c.comment_id, c.text, c.published_at, c.likes
                 FROM event_documents ed
                 JOIN document_keys k ON k.document_id = ed.document_id
                 JOIN comments c ON c.post_key = k.key
                 WHERE ed.event_id = ?1
                 ORDER BY c.published_at DESC NULLS LAST, c.comment_id DESC LIMIT ?2) AS latest
             ORDER BY published_at NULLS FIRST, comment_id",
            &[&event_id, &i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok(CommentInput {
                    text: r.get(0)?,
                    at: r.get::<Option<i64>>(1)?.and_then(|t| DateTime::from_timestamp(t, 0)),
                    likes: r.get::<Option<i64>>(2)?.and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                })
            },
        )
    }

    /// The texts of a stored document's comments written within `within` after
    /// `published` (all, when either time is unknown), earliest first (those without a time
    /// last): what a rumour model trained with `--comments` reads (`event feedback` cases).
    pub fn early_comments(
        &self,
        document_id: i64,
        published: Option<DateTime<Utc>>,
        within: chrono::Duration,
    ) -> Result<Vec<String>, StoreError> {
        // NULLS LAST, not `ORDER BY published_at IS NULL`: PostgreSQL orders a SELECT
        // DISTINCT only by what it selects (and both backends know NULLS LAST).
        let rows = self.db().exec().rows(
            "SELECT DISTINCT c.source_id, c.comment_id, c.text, c.published_at
             FROM document_keys k JOIN comments c ON c.post_key = k.key
             WHERE k.document_id = ?1
             ORDER BY c.published_at NULLS LAST, c.comment_id",
            &[&document_id],
            |r| Ok((r.get::<String>(2)?, r.get::<Option<i64>>(3)?)),
        )?;
        let until = published.map(|p| (p + within).timestamp());
        let mut out = Vec::new();
        for (text, at) in rows {
            let early = match (until, at) {
                (Some(until), Some(at)) => at <= until,
                _ => true,
            };
            if early && !text.trim().is_empty() {
                out.push(text);
            }
        }
        Ok(out)
    }

    /// A stored post judged a rumour again on its comments (`pipeline::export`): its flag,
    /// the event's grade when it rose, and the alerts about it, in one transaction.
    pub fn record_rejudged(
        &mut self,
        document_id: i64,
        flag: &Flag,
        event: Option<&Assignment>,
        alerts: &[AlertMessage],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = now.timestamp();
        self.write(|tx| {
            super::ingest::insert_flags(tx, document_id, std::slice::from_ref(flag))?;
            // Flagged now: no longer merely to be verified.
            tx.execute("UPDATE documents SET to_verify = NULL WHERE id = ?1", &[&document_id])?;
            if let Some(event) = event {
                super::events::raise_grade(tx, event, now)?;
            }
            for alert in alerts {
                super::outbox::enqueue(tx, document_id, event.map(|e| e.event_id), alert, now)?;
            }
            Ok(())
        })
    }

    /// The document a key (`guid:<source>:<post id>` for an export post) belongs to.
    pub fn document_of_key(&self, key: &str) -> Result<Option<i64>, StoreError> {
        document_of(self.db().exec(), key)
    }

    /// Comments stored for a post key, oldest first: (author, text).
    pub fn comments_for(&self, post_key: &str) -> Result<Vec<(Option<String>, String)>, StoreError> {
        self.db().exec().rows(
            // Comments without a time first, as SQLite orders NULLs (PostgreSQL: last).
            "SELECT author, text FROM comments WHERE post_key = ?1 ORDER BY published_at NULLS FIRST, comment_id",
            &[&post_key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }
}

/// The document a key belongs to.
fn document_of(db: &mut dyn Exec, key: &str) -> Result<Option<i64>, StoreError> {
    db.first("SELECT document_id FROM document_keys WHERE key = ?1", &[&key], |r| r.get(0))
}

/// Adds an engagement point when the counts differ from the document's latest point.
/// Records a post's counts when they changed; the post's document id when it was already
/// known with other counts (an update, not a first point).
fn record_engagement(
    tx: &mut dyn Exec,
    keys: &[String],
    counts: &Engagement,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let mut doc_id = None;
    for key in keys {
        doc_id = document_of(tx, key)?;
        if doc_id.is_some() {
            break;
        }
    }
    let Some(doc_id) = doc_id else { return Ok(None) };
    let sql = format!(
        "SELECT reposts, comments, likes, reads, shares FROM engagement WHERE document_id = ?1
         ORDER BY observed_at DESC, {} DESC LIMIT 1",
        row_order(tx.dialect())
    );
    let latest: Option<Engagement> = tx.first(&sql, &[&doc_id], |r| engagement_at(r, 0))?;
    if latest.as_ref() == Some(counts) {
        return Ok(None);
    }
    let n = |v: Option<u64>| v.and_then(|n| i64::try_from(n).ok());
    tx.execute(
        "INSERT INTO engagement (document_id, observed_at, reposts, comments, likes, reads, shares) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[&doc_id, &now, &n(counts.reposts), &n(counts.comments), &n(counts.likes), &n(counts.reads), &n(counts.shares)],
    )?;
    Ok(latest.is_some().then_some(doc_id))
}

/// Five engagement columns starting at `first` (integers are i64 on both backends).
fn engagement_at(r: &Row<'_, '_>, first: usize) -> Result<Engagement, StoreError> {
    let n = |i: usize| -> Result<Option<u64>, StoreError> {
        Ok(r.get::<Option<i64>>(first + i)?.and_then(|v| u64::try_from(v).ok()))
    };
    Ok(Engagement { reposts: n(0)?, comments: n(1)?, likes: n(2)?, reads: n(3)?, shares: n(4)? })
}

/// A successful run of an export source (no validators, no entry count).
fn mark_success(tx: &mut dyn Exec, source_id: &str, now: i64, new_documents: bool) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO source_state (source_id, last_attempt_at, last_success_at, consecutive_failures) VALUES (?1, ?2, ?2, 0)
         ON CONFLICT(source_id) DO UPDATE SET last_attempt_at = ?2, last_success_at = ?2, consecutive_failures = 0",
        &[&source_id, &now],
    )?;
    if new_documents {
        tx.execute("UPDATE source_state SET last_new_at = ?2 WHERE source_id = ?1", &[&source_id, &now])?;
    }
    Ok(())
}
