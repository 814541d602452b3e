//! The ingest path, written once for both backends (issue 19's third shared slice): what a
//! source run writes — its new documents with their keys, hits, flags and negativity, the
//! event each joined or started (`events::record`, with the grade's rise and inhibition),
//! the alerts and SMS/IM extras queued with them (`outbox::enqueue_for`), and the source's
//! state after a successful run — and the key lookup a run makes before it analyses
//! anything ([`unseen`]).
//!
//! The functions run on any [`Exec`]. On SQLite `Store::commit_run` and
//! `Store::commit_documents` run them on the connection `Store::in_run` hands out (a
//! savepoint of the daemon's open group of runs, or a transaction of its own), so group
//! commit and a failed run's rollback are unchanged; on PostgreSQL `Store::commit_run`
//! and `Store::commit_documents` run them in one transaction each (no grouping).
//!
//! A document is new when none of its keys is stored. On PostgreSQL two daemons may store
//! the same document from two sources at once: the second one's key insert then waits for
//! the first's commit and inserts nothing, and the second takes its document row back in the
//! same transaction, so the document is stored once (on SQLite one writer holds the file
//! and this never happens).

use std::collections::HashSet;

use super::outbox;
use super::sql::{Dialect, Exec};
use super::{Committed, NewDocument, StoreError, events};
use crate::model::{Document, Flag, Hit, Negativity, Validators};

/// Keeps only documents none of whose keys has been stored (the caller chooses the
/// transaction, if any, the lookups share). SQLite looks each key up with one cached
/// statement; PostgreSQL asks for the whole batch's keys in one statement (one round trip).
pub(super) fn unseen(db: &mut dyn Exec, documents: Vec<Document>) -> Result<Vec<Document>, StoreError> {
    if db.dialect() == Dialect::Postgres {
        let keys: Vec<&str> = documents.iter().flat_map(|d| d.keys.iter().map(String::as_str)).collect();
        let stored = stored_keys(db, &keys)?;
        return Ok(documents.into_iter().filter(|d| !d.keys.iter().any(|k| stored.contains(k))).collect());
    }
    let mut out = Vec::with_capacity(documents.len());
    for doc in documents {
        if !known(db, &doc)? {
            out.push(doc);
        }
    }
    Ok(out)
}

/// Whether any of the document's keys is stored.
fn known(db: &mut dyn Exec, doc: &Document) -> Result<bool, StoreError> {
    if db.dialect() == Dialect::Postgres {
        let keys: Vec<&str> = doc.keys.iter().map(String::as_str).collect();
        return Ok(!stored_keys(db, &keys)?.is_empty());
    }
    for key in &doc.keys {
        if db.first("SELECT 1 FROM document_keys WHERE key = ?1", &[key], |_| Ok(()))?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Which of `keys` are stored, in one PostgreSQL statement (the keys go as one JSON text).
/// `= ANY(ARRAY(…))` is an index scan in every plan; `IN (SELECT …)` got a generic plan with
/// a sequential scan once the statement was cached while the table was small, and 20,000
/// documents took 20-29 s instead of 2 s.
fn stored_keys(db: &mut dyn Exec, keys: &[&str]) -> Result<HashSet<String>, StoreError> {
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let wanted = serde_json::to_string(keys).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let stored: Vec<String> = db.rows(
        "SELECT key FROM document_keys
         WHERE key = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST(CAST(?1 AS TEXT) AS jsonb))))",
        &[&wanted],
        |r| r.get(0),
    )?;
    Ok(stored.into_iter().collect())
}

/// A successful run's writes: documents not stored before (checked again here), their
/// keys, hits, events and alerts, and the source's state with its new validators and entry
/// count. The caller runs it in one transaction.
pub(super) fn run(
    tx: &mut dyn Exec,
    source_id: &str,
    batch: &[NewDocument],
    entries: usize,
    validators: &Validators,
    now: i64,
) -> Result<Committed, StoreError> {
    let mut counts = Committed::default();
    for item in batch {
        insert_new(tx, item, now, &mut counts)?;
    }
    tx.execute(
        "INSERT INTO source_state (source_id, last_attempt_at, last_success_at, consecutive_failures, etag, last_modified, last_entries)
         VALUES (?1, ?2, ?2, 0, ?3, ?4, ?5)
         ON CONFLICT(source_id) DO UPDATE SET last_attempt_at = ?2, last_success_at = ?2,
             consecutive_failures = 0, etag = ?3, last_modified = ?4, last_entries = ?5",
        &[&source_id, &now, &validators.etag, &validators.last_modified, &i64::try_from(entries).unwrap_or(i64::MAX)],
    )?;
    if counts.documents > 0 {
        tx.execute("UPDATE source_state SET last_new_at = ?2 WHERE source_id = ?1", &[&source_id, &now])?;
    }
    Ok(counts)
}

/// One batch of a run's new documents (checked again here) with their keys, hits, events
/// and alerts, but not the source's state (a long run's last batch goes through [`run`]);
/// the source's `last_new_at` moves when any was new. The caller runs it in one transaction.
pub(super) fn documents(
    tx: &mut dyn Exec,
    source_id: &str,
    batch: &[NewDocument],
    now: i64,
) -> Result<Committed, StoreError> {
    let mut counts = Committed::default();
    for item in batch {
        insert_new(tx, item, now, &mut counts)?;
    }
    if counts.documents > 0 {
        tx.execute(
            "INSERT INTO source_state (source_id, last_new_at) VALUES (?1, ?2)
             ON CONFLICT(source_id) DO UPDATE SET last_new_at = ?2",
            &[&source_id, &now],
        )?;
    }
    Ok(counts)
}

/// A new document with everything that came out of it: hits, flags, negativity, its
/// event and its alerts. Nothing when one of its keys is already stored.
pub(super) fn insert_new(
    tx: &mut dyn Exec,
    item: &NewDocument,
    now: i64,
    counts: &mut Committed,
) -> Result<(), StoreError> {
    let Some(doc_id) = insert_document(tx, &item.document, item.to_verify.as_deref(), now)? else { return Ok(()) };
    counts.documents += 1;
    counts.hits += insert_hits(tx, doc_id, &item.hits)?;
    insert_flags(tx, doc_id, &item.flags)?;
    set_negativity(tx, doc_id, item.negativity.as_ref())?;
    if let Some(event) = &item.event {
        events::record(tx, event, doc_id, &item.document.source_id, now)?;
    }
    for alert in item.alert.iter().chain(&item.extra) {
        outbox::enqueue_for(tx, doc_id, item.event.as_ref(), alert, now)?;
        counts.alerts += 1;
    }
    Ok(())
}

/// Inserts a document (with why it is 待核实, when it is) and its keys; `None` when one of its keys is already stored (or, on
/// PostgreSQL, was stored by another transaction while this one inserted it: the row is
/// taken back, see the module doc).
fn insert_document(
    tx: &mut dyn Exec,
    doc: &Document,
    to_verify: Option<&str>,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    if known(tx, doc)? {
        return Ok(None);
    }
    let id: i64 = tx.one(
        "INSERT INTO documents (source_id, fingerprint, link, guid, title, text, author, published_at, fetched_at, page_state,
                                to_verify)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         RETURNING id",
        &[
            &doc.source_id,
            &doc.fingerprint,
            &doc.link,
            &doc.guid,
            &doc.title,
            &doc.text,
            &doc.author,
            &doc.published_at.map(|t| t.timestamp()),
            &now,
            &doc.page_state,
            &to_verify,
        ],
        |r| r.get(0),
    )?;
    for (i, key) in doc.keys.iter().enumerate() {
        let added =
            tx.execute("INSERT OR IGNORE INTO document_keys (key, document_id) VALUES (?1, ?2)", &[key, &id])?;
        // A key the document lists twice is ignored the second time; any other key that is
        // not added was committed by a concurrent transaction (PostgreSQL only).
        if added == 0 && !doc.keys[..i].contains(key) && tx.dialect() == Dialect::Postgres {
            tx.execute("DELETE FROM document_keys WHERE document_id = ?1", &[&id])?;
            tx.execute("DELETE FROM documents WHERE id = ?1", &[&id])?;
            return Ok(None);
        }
    }
    Ok(Some(id))
}

pub(super) fn set_negativity(
    tx: &mut dyn Exec,
    doc_id: i64,
    negativity: Option<&Negativity>,
) -> Result<(), StoreError> {
    let Some(n) = negativity else { return Ok(()) };
    let drivers = serde_json::to_string(&n.drivers).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.execute(
        "UPDATE documents SET negativity = ?2, negativity_drivers = ?3 WHERE id = ?1",
        &[&doc_id, &f64::from(n.score), &drivers],
    )?;
    Ok(())
}

pub(super) fn insert_flags(tx: &mut dyn Exec, doc_id: i64, flags: &[Flag]) -> Result<(), StoreError> {
    for flag in flags {
        let reasons = serde_json::to_string(&flag.reasons).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.execute(
            "INSERT INTO flags (document_id, kind, reasons) VALUES (?1, ?2, ?3)",
            &[&doc_id, &flag.kind.as_str(), &reasons],
        )?;
    }
    Ok(())
}

fn insert_hits(tx: &mut dyn Exec, doc_id: i64, hits: &[Hit]) -> Result<usize, StoreError> {
    for hit in hits {
        // "end" is a reserved word in PostgreSQL; SQLite takes the quoted name too.
        tx.execute(
            "INSERT INTO hits (document_id, list, term, field, start, \"end\") VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            &[
                &doc_id,
                &hit.list,
                &hit.term,
                &hit.field.as_str(),
                &i64::try_from(hit.start).unwrap_or(i64::MAX),
                &i64::try_from(hit.end).unwrap_or(i64::MAX),
            ],
        )?;
    }
    Ok(hits.len())
}
