//! Events in the database: the upsert that records a document joining an event (so
//! concurrent runs agree on ids chosen by `crate::detect::events`), the seeds that rebuild the
//! in-memory index, the read side (`yuqing events`, the propagation path), and the
//! bureau's own publications for the 歪曲 comparison.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::sql::{Dialect, Exec};
use super::{Store, StoreError, time};
use crate::detect::distortion::Publication;
use crate::detect::events::{Assignment, EventIndex, Seed};
use crate::model::Grade;
use crate::model::{AlertMessage, Document, Field, Flag, FlagKind, Hit, MatchedDocument};
use crate::response::trend::Spread;

/// Records that document `doc_id` belongs to `event`, creating the event row when this is
/// its first document and keeping first/last times, counts and the first source right.
/// Written once for both backends (`store::ingest`).
pub(super) fn record(
    tx: &mut dyn Exec,
    event: &Assignment,
    doc_id: i64,
    source_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    let seen = event.seen_at.timestamp();
    // Two-argument min()/max() are SQLite's; PostgreSQL's are LEAST/GREATEST. The old row's
    // columns are named with the table (PostgreSQL: unqualified they are ambiguous here).
    macro_rules! upsert {
        ($min:literal, $max:literal) => {
            concat!(
                "INSERT INTO events (id, title, first_document_id, first_source_id, first_seen_at, last_seen_at, documents, sources, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0, 0, ?6)
                 ON CONFLICT(id) DO UPDATE SET
                     first_document_id = CASE WHEN ?5 < events.first_seen_at THEN ?3 ELSE events.first_document_id END,
                     first_source_id = CASE WHEN ?5 < events.first_seen_at THEN ?4 ELSE events.first_source_id END,
                     first_seen_at = ",
                $min,
                "(events.first_seen_at, ?5),
                     last_seen_at = ",
                $max,
                "(events.last_seen_at, ?5)"
            )
        };
    }
    let sql = match tx.dialect() {
        Dialect::Sqlite => upsert!("min", "max"),
        Dialect::Postgres => upsert!("LEAST", "GREATEST"),
    };
    tx.execute(sql, &[&event.event_id, &event.event_title, &doc_id, &source_id, &seen, &now])?;
    raise_grade(tx, event, now)?;
    if let Some(owner) = &event.owner {
        tx.execute("UPDATE events SET owner = coalesce(owner, ?2) WHERE id = ?1", &[&event.event_id, owner])?;
    }
    tx.execute(
        "INSERT INTO event_documents (document_id, event_id, source_id, seen_at, similarity, evidence)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            &doc_id,
            &event.event_id,
            &source_id,
            &seen,
            &event.similarity,
            &(!event.evidence.is_empty()).then(|| event.evidence.join("、")),
        ],
    )?;
    tx.execute(
        "UPDATE events SET
             documents = (SELECT count(*) FROM event_documents WHERE event_id = ?1),
             sources = (SELECT count(DISTINCT source_id) FROM event_documents WHERE event_id = ?1)
         WHERE id = ?1",
        &[&event.event_id],
    )?;
    Ok(())
}

/// Stores an event's automatic grade. Grades only rise on their own ("I" < "II" < "III" <
/// "IV" as text, too), and after a human downgrade only above the grade it was downgraded
/// from. When the event rises to I or II, its alerts still pending — written for the lower
/// grade — are dropped (inhibition); the caller queues the rise alert after this.
pub(super) fn raise_grade(tx: &mut dyn Exec, event: &Assignment, now: i64) -> Result<(), StoreError> {
    let before: Option<String> = tx
        .first("SELECT grade FROM events WHERE id = ?1", &[&event.event_id], |r| r.get::<Option<String>>(0))?
        .flatten();
    let reasons = serde_json::to_string(&event.grade_reasons).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let changed = tx.execute(
        "UPDATE events SET grade = ?2, grade_reasons = ?3
         WHERE id = ?1 AND (grade IS NULL OR ?2 <= grade) AND (downgraded_from IS NULL OR ?2 < downgraded_from)",
        &[&event.event_id, &event.grade.as_str(), &reasons],
    )?;
    let rose = changed > 0 && before.as_deref().and_then(Grade::parse).is_some_and(|b| event.grade < b);
    if rose {
        tx.execute("UPDATE events SET graded_at = ?2 WHERE id = ?1", &[&event.event_id, &now])?;
    }
    if rose && event.grade <= Grade::II {
        tx.execute(
            "UPDATE alerts SET status = 'dropped', last_error = ?2, sent_at = ?3 WHERE event_id = ?1 AND status = 'pending'",
            &[&event.event_id, &format!("事件已升为{}，改发升级通知", event.grade.label_zh()), &now],
        )?;
    }
    Ok(())
}

/// One event as listed for staff.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSummary {
    pub id: i64,
    pub title: String,
    pub first_source_id: String,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub documents: usize,
    pub sources: usize,
    pub grade: Option<Grade>,
    pub grade_reasons: Vec<String>,
    /// Latest reposts + comments + likes summed over the event's documents that have counts.
    pub engagement: i64,
}

/// One step of an event's propagation path.
#[derive(Debug, Clone, PartialEq)]
pub struct PathStep {
    pub document_id: i64,
    pub source_id: String,
    pub seen_at: DateTime<Utc>,
    pub title: String,
    pub link: Option<String>,
    pub similarity: f64,
    /// The wording it shares with the earlier copy that made it one (empty for the first).
    pub evidence: Vec<String>,
}

/// The column that orders rows by insertion in the tables without an id (`engagement`,
/// `flags`), to pick the latest of two points observed in the same second: SQLite's
/// `rowid`. PostgreSQL has no rowid (and its schema mirrors SQLite's, column for column),
/// so there it is `ctid`, the row's place in the table: rows here are only inserted (and
/// deleted with their old documents), so it follows insertion except where a new row reuses
/// space a prune freed — two points of one document in one second may then be taken in the
/// other order. Per dialect because neither has the other's.
pub(super) fn row_order(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "rowid",
        Dialect::Postgres => "ctid",
    }
}

/// Reposts + comments + likes of the event's documents, each at its latest count observed
/// at or before `at` (Unix seconds), and how many documents have one.
fn interactions(db: &mut dyn Exec, event_id: i64, at: i64) -> Result<(i64, i64), StoreError> {
    let row = row_order(db.dialect());
    let sql = format!(
        "SELECT count(*), CAST(coalesce(sum(coalesce(g.reposts, 0) + coalesce(g.comments, 0) + coalesce(g.likes, 0)), 0) AS BIGINT)
         FROM event_documents ed JOIN engagement g ON g.document_id = ed.document_id
         WHERE ed.event_id = ?1 AND g.{row} = (SELECT {row} FROM engagement WHERE document_id = ed.document_id
             AND observed_at <= ?2 ORDER BY observed_at DESC, {row} DESC LIMIT 1)"
    );
    db.one(&sql, &[&event_id, &at], |r| Ok((r.get(0)?, r.get(1)?)))
}

impl Store {
    /// The newest `limit` documents of the given (official) sources, oldest first: what
    /// the bureau itself published, for the 歪曲 comparison.
    pub fn publications(&self, source_ids: &[&str], limit: usize) -> Result<Vec<Publication>, StoreError> {
        let mut db = self.db();
        let db = db.exec();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows: Vec<(i64, Publication)> = Vec::new();
        for id in source_ids {
            let found = db.rows(
                "SELECT title, text FROM documents WHERE source_id = ?1 ORDER BY id DESC LIMIT ?2",
                &[id, &limit],
                |r| Ok(Publication { title: r.get(0)?, text: r.get(1)? }),
            )?;
            for (n, p) in found.into_iter().enumerate() {
                rows.push((-(n as i64), p));
            }
        }
        // Newest of each source last; interleaving sources by age is close enough.
        rows.sort_by_key(|(age, _)| *age);
        Ok(rows.into_iter().map(|(_, p)| p).collect())
    }

    /// The in-memory event index, rebuilt from the documents of events seen within the
    /// window.
    pub fn event_index(&self, threshold: f64, window: Duration, now: DateTime<Utc>) -> Result<EventIndex, StoreError> {
        let since = EventIndex::seeds_since(window, now).timestamp();
        let mut db = self.db();
        let db = db.exec();
        let seeds = db.rows(
            "SELECT ed.event_id, ed.source_id, d.title, d.text, ed.seen_at, e.grade
             FROM event_documents ed JOIN events e ON e.id = ed.event_id JOIN documents d ON d.id = ed.document_id
             WHERE e.last_seen_at >= ?1 ORDER BY ed.seen_at, ed.document_id",
            &[&since],
            |r| {
                Ok(Seed {
                    event_id: r.get(0)?,
                    source_id: r.get(1)?,
                    title: r.get(2)?,
                    text: r.get(3)?,
                    seen_at: time(r.get(4)?),
                    grade: r.get::<Option<String>>(5)?.as_deref().and_then(Grade::parse),
                })
            },
        )?;
        let max_id: i64 = db.one("SELECT coalesce(max(id), 0) FROM events", &[], |r| r.get(0))?;
        Ok(EventIndex::new(threshold, window, seeds, max_id, now))
    }

    /// Reposts + comments + likes of the event's documents, each at its latest count
    /// observed at or before `at`.
    pub fn event_interactions(&self, event_id: i64, at: DateTime<Utc>) -> Result<i64, StoreError> {
        Ok(interactions(self.db().exec(), event_id, at.timestamp())?.1)
    }

    /// Reposts + comments + likes of the event's documents at their latest counts; `None`
    /// when none of them has any count recorded (the dashboard shows "—").
    pub fn latest_interactions(&self, event_id: i64) -> Result<Option<i64>, StoreError> {
        let (points, sum) = interactions(self.db().exec(), event_id, i64::MAX)?;
        Ok((points > 0).then_some(sum))
    }

    /// An event's copies in the two hours before `now` and in the two hours before those
    /// (by their time on the propagation path; [`crate::response::trend`]).
    pub fn event_spread(&self, event_id: i64, now: DateTime<Utc>) -> Result<Spread, StoreError> {
        let (now, two, four) = (now.timestamp(), now.timestamp() - 7200, now.timestamp() - 14400);
        // count() of a CASE without ELSE counts the rows it holds for (a sum of a comparison
        // is SQLite's only: PostgreSQL's comparisons are booleans).
        let (recent, previous): (i64, i64) = self.db().exec().one(
            "SELECT count(CASE WHEN seen_at > ?2 AND seen_at <= ?1 THEN 1 END),
                    count(CASE WHEN seen_at > ?3 AND seen_at <= ?2 THEN 1 END)
             FROM event_documents WHERE event_id = ?4",
            &[&now, &two, &four, &event_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Spread { last_2h: u32::try_from(recent).unwrap_or(0), prev_2h: u32::try_from(previous).unwrap_or(0) })
    }

    /// The event a document belongs to.
    pub fn event_of_document(&self, document_id: i64) -> Result<Option<i64>, StoreError> {
        self.db()
            .exec()
            .first("SELECT event_id FROM event_documents WHERE document_id = ?1", &[&document_id], |r| r.get(0))
    }

    /// An event's first document with its hits and flags, to write an alert about the
    /// event when no new document arrived (its grade rose on counts alone).
    pub fn event_head(&self, event_id: i64) -> Result<Option<(i64, MatchedDocument)>, StoreError> {
        // The handle is dropped before `stored_document` takes its own.
        let first: Option<i64> =
            self.db().exec().first("SELECT first_document_id FROM events WHERE id = ?1", &[&event_id], |r| r.get(0))?;
        match first {
            Some(doc) => self.stored_document(doc),
            None => Ok(None),
        }
    }

    /// A stored document with its hits and flags (its keys are not read back).
    pub fn stored_document(&self, document_id: i64) -> Result<Option<(i64, MatchedDocument)>, StoreError> {
        let mut db = self.db();
        let db = db.exec();
        let row = db.first(
            "SELECT d.id, d.source_id, d.fingerprint, d.link, d.guid, d.title, d.text, d.author, d.published_at, d.page_state,
                    d.to_verify
             FROM documents d WHERE d.id = ?1",
            &[&document_id],
            |r| {
                Ok((
                    r.get::<i64>(0)?,
                    Document {
                        source_id: r.get(1)?,
                        keys: Vec::new(),
                        fingerprint: r.get(2)?,
                        link: r.get(3)?,
                        guid: r.get(4)?,
                        title: r.get(5)?,
                        text: r.get(6)?,
                        author: r.get(7)?,
                        published_at: r.get::<Option<i64>>(8)?.and_then(|t| DateTime::from_timestamp(t, 0)),
                        page_state: r.get(9)?,
                    },
                    r.get::<Option<String>>(10)?,
                ))
            },
        )?;
        let Some((doc_id, document, to_verify)) = row else { return Ok(None) };
        let hits = db.rows(
            "SELECT field, start, \"end\", list, term FROM hits WHERE document_id = ?1 ORDER BY field DESC, start, id",
            &[&doc_id],
            |r| {
                let field = match r.get::<String>(0)?.as_str() {
                    "title" => Field::Title,
                    "author" => Field::Author,
                    _ => Field::Text,
                };
                let n = |v: i64| usize::try_from(v).unwrap_or(0);
                Ok(Hit { field, start: n(r.get(1)?), end: n(r.get(2)?), list: r.get(3)?, term: r.get(4)? })
            },
        )?;
        let sql =
            format!("SELECT kind, reasons FROM flags WHERE document_id = ?1 ORDER BY {}", row_order(db.dialect()));
        let flags = db
            .rows(&sql, &[&doc_id], |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)))?
            .into_iter()
            .filter_map(|(kind, reasons)| {
                Some(Flag { kind: FlagKind::from_name(&kind)?, reasons: serde_json::from_str(&reasons).ok()? })
            })
            .collect();
        Ok(Some((doc_id, MatchedDocument { document, hits, flags, negativity: None, to_verify })))
    }

    /// Takes document `doc_id` out of event `from` (a person's decision, in the audit trail
    /// of both events) and records where it now belongs (`into`: its new or other event and
    /// that event's alerts), in one transaction. `from` keeps its grade (grades only rise on
    /// their own; a person may downgrade it); its counts and first copy are recomputed.
    pub fn split_document(
        &mut self,
        from: i64,
        doc_id: i64,
        into: &super::NewDocument,
        (actor, reason): (&str, &str),
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = now.timestamp();
        self.write(|tx| {
            let removed = tx.execute(
                "DELETE FROM event_documents WHERE event_id = ?1 AND document_id = ?2",
                &[&from, &doc_id],
            )?;
            if removed == 0 {
                return Err(StoreError::Corrupt(format!("document {doc_id} is not in event {from}")));
            }
            tx.execute(
                "UPDATE events SET
                     documents = (SELECT count(*) FROM event_documents WHERE event_id = ?1),
                     sources = (SELECT count(DISTINCT source_id) FROM event_documents WHERE event_id = ?1),
                     first_document_id = coalesce((SELECT document_id FROM event_documents WHERE event_id = ?1
                                                   ORDER BY seen_at, document_id LIMIT 1), first_document_id),
                     first_source_id = coalesce((SELECT source_id FROM event_documents WHERE event_id = ?1
                                                 ORDER BY seen_at, document_id LIMIT 1), first_source_id),
                     first_seen_at = coalesce((SELECT min(seen_at) FROM event_documents WHERE event_id = ?1), first_seen_at),
                     last_seen_at = coalesce((SELECT max(seen_at) FROM event_documents WHERE event_id = ?1), last_seen_at)
                 WHERE id = ?1",
                &[&from],
            )?;
            let action =
                "INSERT INTO event_actions (event_id, action, actor, target, note, at) VALUES (?1, 'split', ?2, ?3, ?4, ?5)";
            tx.execute(action, &[&from, &actor, &doc_id.to_string(), &reason, &at])?;
            if let Some(event) = &into.event {
                record(tx, event, doc_id, &into.document.source_id, at)?;
                tx.execute(action, &[&event.event_id, &actor, &format!("from:{from}"), &reason, &at])?;
            }
            for alert in into.alert.iter().chain(&into.extra) {
                super::outbox::enqueue_for(tx, doc_id, into.event.as_ref(), alert, at)?;
            }
            Ok(())
        })
    }

    /// Records an event's new grade and the alerts about it (email, SMS, IM) in one
    /// transaction.
    pub fn record_regrade(
        &mut self,
        event: &Assignment,
        head_document: i64,
        alerts: &[AlertMessage],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = now.timestamp();
        self.write(|tx| {
            raise_grade(tx, event, now)?;
            for alert in alerts {
                super::outbox::enqueue(tx, head_document, Some(event.event_id), alert, now)?;
            }
            Ok(())
        })
    }

    /// The most recently active events, newest first.
    pub fn recent_events(&self, limit: usize) -> Result<Vec<EventSummary>, StoreError> {
        self.db().exec().rows(
            "SELECT e.id, e.title, e.first_source_id, e.first_seen_at, e.last_seen_at, e.documents, e.sources,
                    CAST(coalesce((SELECT sum(coalesce(g.reposts, 0) + coalesce(g.comments, 0) + coalesce(g.likes, 0))
                              FROM event_documents ed JOIN engagement g ON g.document_id = ed.document_id
                              WHERE ed.event_id = e.id AND g.observed_at =
                                  (SELECT max(observed_at) FROM engagement WHERE document_id = ed.document_id)), 0) AS BIGINT),
                    e.grade, e.grade_reasons
             FROM events e ORDER BY e.last_seen_at DESC, e.id DESC LIMIT ?1",
            &[&i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok(EventSummary {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    first_source_id: r.get(2)?,
                    first_seen_at: time(r.get(3)?),
                    last_seen_at: time(r.get(4)?),
                    documents: usize::try_from(r.get::<i64>(5)?).unwrap_or(0),
                    sources: usize::try_from(r.get::<i64>(6)?).unwrap_or(0),
                    engagement: r.get(7)?,
                    grade: r.get::<Option<String>>(8)?.as_deref().and_then(Grade::parse),
                    grade_reasons: r
                        .get::<Option<String>>(9)?
                        .and_then(|j| serde_json::from_str(&j).ok())
                        .unwrap_or_default(),
                })
            },
        )
    }

    /// The source and time of an event's latest copy (the last step of [`Store::event_path`]),
    /// read from the index alone: the dashboard shows it for up to 200 events.
    pub fn latest_copy(&self, event_id: i64) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        self.db().exec().first(
            "SELECT source_id, seen_at FROM event_documents WHERE event_id = ?1
             ORDER BY seen_at DESC, document_id DESC LIMIT 1",
            &[&event_id],
            |r| Ok((r.get::<String>(0)?, time(r.get(1)?))),
        )
    }

    /// How a story spread: every document of the event in time order.
    pub fn event_path(&self, event_id: i64) -> Result<Vec<PathStep>, StoreError> {
        self.db().exec().rows(
            "SELECT ed.document_id, ed.source_id, ed.seen_at, d.title, d.link, ed.similarity, ed.evidence
             FROM event_documents ed JOIN documents d ON d.id = ed.document_id
             WHERE ed.event_id = ?1 ORDER BY ed.seen_at, ed.document_id",
            &[&event_id],
            |r| {
                Ok(PathStep {
                    document_id: r.get(0)?,
                    source_id: r.get(1)?,
                    seen_at: time(r.get(2)?),
                    title: r.get(3)?,
                    link: r.get(4)?,
                    similarity: r.get(5)?,
                    evidence: r
                        .get::<Option<String>>(6)?
                        .map(|e| e.split('、').map(str::to_string).collect())
                        .unwrap_or_default(),
                })
            },
        )
    }
}
