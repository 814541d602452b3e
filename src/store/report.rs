//! The read side of `yuqing report` (Art. 10 定期通报, Art. 15 yearly assessment): the events
//! created in a period, each with the keyword lists, sources and flags of its documents and
//! its workflow actions up to a moment. Plain rows; `crate::report` does the arithmetic.
//!
//! Five queries per report whatever the number of events (no per-event round trips). The
//! events are picked by `created_at`, which has no index: a scan of `events`, cheap at the
//! size a bureau's events table reaches (thousands a year). One SQL text for both backends;
//! the statements built with `format!` are fixed texts (the period fragment), so each is
//! prepared once per connection on PostgreSQL as on SQLite.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};

use super::{Store, StoreError, time};
use crate::model::Grade;

/// One workflow action (受理、转办、反馈、办结) as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRecord {
    /// `accept`, `transfer`, `feedback` or `close`.
    pub action: String,
    pub actor: String,
    /// transfer: the new section; feedback: the kind of response; assess: the trend.
    pub target: Option<String>,
    pub at: DateTime<Utc>,
    /// The note recorded with it (assess: nature, risks and handling).
    pub note: Option<String>,
}

/// An event created in the report's period, with what the report needs about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportEvent {
    pub id: i64,
    pub title: String,
    /// `None` for events stored before grading existed (未分级).
    pub grade: Option<Grade>,
    pub created_at: DateTime<Utc>,
    /// The owner routing chose (`events.owner`); transfers are in `actions`.
    pub owner: Option<String>,
    pub documents: usize,
    pub sources: usize,
    /// Distinct keyword lists hit by its documents, sorted.
    pub lists: BTreeSet<String>,
    /// Distinct sources of its documents, sorted.
    pub source_ids: BTreeSet<String>,
    /// Distinct flag kinds (`rumour`, `distortion`, …) raised on its documents, sorted.
    pub flags: BTreeSet<String>,
    /// Its actions recorded up to the given moment, in the order they were recorded.
    pub actions: Vec<ActionRecord>,
}

/// Which set of a [`ReportEvent`] a query fills.
type SetField = fn(&mut ReportEvent) -> &mut BTreeSet<String>;

fn count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// The events of the period, as an SQL fragment over `e` (events): `?1 <= created_at < ?2`.
const IN_PERIOD: &str = "e.created_at >= ?1 AND e.created_at < ?2";

impl Store {
    /// The events created in `[from, to)` that have comments stored: a report reads the
    /// comments (for viewpoints) of these only, not of every event in the period — most
    /// events come from feeds and pages, which carry none.
    pub fn report_events_with_comments(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<HashSet<i64>, StoreError> {
        let ids = self.db().exec().rows(
            &format!(
                "SELECT DISTINCT ed.event_id FROM comments c
                 JOIN document_keys k ON k.key = c.post_key
                 JOIN event_documents ed ON ed.document_id = k.document_id
                 JOIN events e ON e.id = ed.event_id
                 WHERE {IN_PERIOD}"
            ),
            &[&from.timestamp(), &to.timestamp()],
            |r| r.get::<i64>(0),
        )?;
        Ok(ids.into_iter().collect())
    }

    /// Events created in `[from, to)`, oldest first, with their actions recorded up to
    /// `actions_until` (inclusive): a report describes the workflow as it stood then.
    pub fn report_events(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        actions_until: DateTime<Utc>,
    ) -> Result<Vec<ReportEvent>, StoreError> {
        let (from, to) = (from.timestamp(), to.timestamp());
        let mut db = self.db();
        let rows = db.exec().rows(
            &format!(
                "SELECT e.id, e.title, e.grade, e.created_at, e.owner, e.documents, e.sources
                 FROM events e WHERE {IN_PERIOD} ORDER BY e.created_at, e.id"
            ),
            &[&from, &to],
            |r| {
                Ok(ReportEvent {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    grade: r.get::<Option<String>>(2)?.as_deref().and_then(Grade::parse),
                    created_at: time(r.get(3)?),
                    owner: r.get(4)?,
                    documents: count(r.get(5)?),
                    sources: count(r.get(6)?),
                    lists: BTreeSet::new(),
                    source_ids: BTreeSet::new(),
                    flags: BTreeSet::new(),
                    actions: Vec::new(),
                })
            },
        )?;
        let mut events: BTreeMap<i64, ReportEvent> = rows.into_iter().map(|e| (e.id, e)).collect();
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let sets: [(&str, SetField); 3] = [
            (
                "SELECT DISTINCT ed.event_id, h.list FROM events e
                 JOIN event_documents ed ON ed.event_id = e.id JOIN hits h ON h.document_id = ed.document_id",
                |e| &mut e.lists,
            ),
            (
                "SELECT DISTINCT ed.event_id, ed.source_id FROM events e JOIN event_documents ed ON ed.event_id = e.id",
                |e| &mut e.source_ids,
            ),
            (
                "SELECT DISTINCT ed.event_id, f.kind FROM events e
                 JOIN event_documents ed ON ed.event_id = e.id JOIN flags f ON f.document_id = ed.document_id",
                |e| &mut e.flags,
            ),
        ];
        for (sql, field) in sets {
            db.exec().each(&format!("{sql} WHERE {IN_PERIOD}"), &[&from, &to], &mut |r| {
                let (id, value) = (r.get::<i64>(0)?, r.get::<String>(1)?);
                if let Some(event) = events.get_mut(&id) {
                    field(event).insert(value);
                }
                Ok(())
            })?;
        }
        db.exec().each(
            &format!(
                "SELECT a.event_id, a.action, a.actor, a.target, a.at, a.note FROM events e
                 JOIN event_actions a ON a.event_id = e.id
                 WHERE {IN_PERIOD} AND a.at <= ?3 ORDER BY a.at, a.id"
            ),
            &[&from, &to, &actions_until.timestamp()],
            &mut |r| {
                let action = ActionRecord {
                    action: r.get(1)?,
                    actor: r.get(2)?,
                    target: r.get(3)?,
                    at: time(r.get(4)?),
                    note: r.get(5)?,
                };
                if let Some(event) = events.get_mut(&r.get::<i64>(0)?) {
                    event.actions.push(action);
                }
                Ok(())
            },
        )?;
        drop(db);
        let mut out: Vec<ReportEvent> = events.into_values().collect();
        out.sort_by_key(|e| (e.created_at, e.id));
        Ok(out)
    }
}
