//! The policy risk watch's tables (`[[policies]]`, Art. 8): how far each policy's documents
//! were read and with which selection, the documents found about it (with the terms and
//! groups found), and each change of its risk level with the reasons — a rise recorded in
//! the same transaction as the `policy_risk` alert that tells the owner section, so a rise is
//! told once whatever happens between runs. Plain rows; `crate::report::policy` computes.
//! Both backends (issue 19); the only per-dialect piece is the lock that makes recording a
//! level a claim on PostgreSQL ([`Store::record_policy_level`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::sql::Dialect;
use super::{Store, StoreError, time};
use crate::model::{AlertMessage, FlagKind};

/// How far a policy's documents were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyScan {
    /// The selection key (terms and groups) the documents were found with.
    pub selection: String,
    /// The highest document id read.
    pub scanned_to: i64,
}

/// A stored document as the topic matcher reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedDocument {
    pub id: i64,
    pub title: String,
    pub text: String,
}

/// A document found about a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyMatch {
    pub document_id: i64,
    pub terms: Vec<String>,
    pub groups: Vec<String>,
}

/// A document about a policy, with what the assessment counts.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    pub id: i64,
    pub source_id: String,
    pub title: String,
    pub link: Option<String>,
    /// When it was published (when it was fetched, if the source gave no time).
    pub at: DateTime<Utc>,
    pub negativity: Option<f64>,
    pub flags: Vec<FlagKind>,
    /// Reposts + comments + likes at the latest observation (0 without any).
    pub interactions: i64,
    pub terms: Vec<String>,
    pub groups: Vec<String>,
}

/// One recorded level of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLevelRow {
    pub id: i64,
    /// `low`, `medium` or `high`.
    pub level: String,
    pub reasons: Vec<String>,
    /// The local day (YYYY-MM-DD) whose figures gave the level.
    pub day: String,
    /// The `policy_risk` alert that told the section, when one was queued.
    pub alert_id: Option<i64>,
    pub at: DateTime<Utc>,
}

/// A level to record.
#[derive(Debug, Clone, Copy)]
pub struct NewPolicyLevel<'a> {
    /// `low`, `medium` or `high`.
    pub level: &'a str,
    pub reasons: &'a [String],
    /// The local day (YYYY-MM-DD) whose figures gave it.
    pub day: &'a str,
}

fn json(list: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(list).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn list(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("a stored JSON list: {e}")))
}

impl Store {
    /// How far the policy's documents were read; `None` before its first scan.
    pub fn policy_scan(&self, policy_id: &str) -> Result<Option<PolicyScan>, StoreError> {
        self.db().exec().first(
            "SELECT selection, scanned_to FROM policy_scans WHERE policy_id = ?1",
            &[&policy_id],
            |r| Ok(PolicyScan { selection: r.get(0)?, scanned_to: r.get(1)? }),
        )
    }

    /// Starts the policy's scan over with a new selection: the documents found with the old
    /// one are forgotten (its recorded levels stay: they were told).
    pub fn restart_policy_scan(&mut self, policy_id: &str, selection: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute("DELETE FROM policy_documents WHERE policy_id = ?1", &[&policy_id])?;
            tx.execute(
                "INSERT INTO policy_scans (policy_id, selection, scanned_to) VALUES (?1, ?2, 0)
                 ON CONFLICT(policy_id) DO UPDATE SET selection = ?2, scanned_to = 0",
                &[&policy_id, &selection],
            )?;
            Ok(())
        })
    }

    /// Up to `limit` stored documents with an id above `after`, in id order.
    pub fn documents_after(&self, after: i64, limit: usize) -> Result<Vec<ScannedDocument>, StoreError> {
        self.db().exec().rows(
            "SELECT id, title, text FROM documents WHERE id > ?1 ORDER BY id LIMIT ?2",
            &[&after, &i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| Ok(ScannedDocument { id: r.get(0)?, title: r.get(1)?, text: r.get(2)? }),
        )
    }

    /// Records the documents found in one batch and how far the batch read, together. A
    /// document found again replaces its terms and groups; the scan only moves forward.
    pub fn record_policy_scan(
        &mut self,
        policy_id: &str,
        scanned_to: i64,
        matches: &[PolicyMatch],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            for m in matches {
                tx.execute(
                    "INSERT INTO policy_documents (policy_id, document_id, terms, groups) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(policy_id, document_id) DO UPDATE SET terms = excluded.terms, groups = excluded.groups",
                    &[&policy_id, &m.document_id, &json(&m.terms)?, &json(&m.groups)?],
                )?;
            }
            // `max(scanned_to, ?2)` without SQLite's two-argument max.
            tx.execute(
                "UPDATE policy_scans SET scanned_to = ?2 WHERE policy_id = ?1 AND scanned_to < ?2",
                &[&policy_id, &scanned_to],
            )?;
            Ok(())
        })
    }

    /// How many documents were found about the policy.
    pub fn policy_document_count(&self, policy_id: &str) -> Result<usize, StoreError> {
        let n: i64 =
            self.db()
                .exec()
                .one("SELECT count(*) FROM policy_documents WHERE policy_id = ?1", &[&policy_id], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The policy's documents published (else fetched) in `[from, to)`, oldest first, with
    /// their flags and latest engagement: three queries whatever their number.
    pub fn policy_documents(
        &self,
        policy_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PolicyDocument>, StoreError> {
        const IN_WINDOW: &str = "p.policy_id = ?1 AND coalesce(d.published_at, d.fetched_at) >= ?2
                                 AND coalesce(d.published_at, d.fetched_at) < ?3";
        let (from, to) = (from.timestamp(), to.timestamp());
        let mut db = self.db();
        let exec = db.exec();
        let mut docs: Vec<PolicyDocument> = exec.rows(
            &format!(
                "SELECT d.id, d.source_id, d.title, d.link, coalesce(d.published_at, d.fetched_at), d.negativity, p.terms, p.groups
                 FROM policy_documents p JOIN documents d ON d.id = p.document_id
                 WHERE {IN_WINDOW} ORDER BY coalesce(d.published_at, d.fetched_at), d.id"
            ),
            &[&policy_id, &from, &to],
            |r| {
                Ok(PolicyDocument {
                    id: r.get(0)?,
                    source_id: r.get(1)?,
                    title: r.get(2)?,
                    link: r.get(3)?,
                    at: time(r.get(4)?),
                    negativity: r.get(5)?,
                    flags: Vec::new(),
                    interactions: 0,
                    terms: list(&r.get::<String>(6)?)?,
                    groups: list(&r.get::<String>(7)?)?,
                })
            },
        )?;
        let index: HashMap<i64, usize> = docs.iter().enumerate().map(|(i, d)| (d.id, i)).collect();
        let flags: Vec<(i64, String)> = exec.rows(
            &format!(
                "SELECT DISTINCT f.document_id, f.kind FROM policy_documents p JOIN documents d ON d.id = p.document_id
                 JOIN flags f ON f.document_id = p.document_id WHERE {IN_WINDOW}"
            ),
            &[&policy_id, &from, &to],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        for (id, kind) in flags {
            if let (Some(&i), Some(kind)) = (index.get(&id), FlagKind::from_name(&kind)) {
                docs[i].flags.push(kind);
            }
        }
        for d in &mut docs {
            d.flags.sort_unstable();
        }
        let engaged: Vec<(i64, i64)> = exec.rows(
            &format!(
                "SELECT e.document_id, coalesce(e.reposts, 0) + coalesce(e.comments, 0) + coalesce(e.likes, 0)
                 FROM policy_documents p JOIN documents d ON d.id = p.document_id
                 JOIN engagement e ON e.document_id = p.document_id
                 WHERE {IN_WINDOW}
                   AND e.observed_at = (SELECT max(observed_at) FROM engagement x WHERE x.document_id = e.document_id)"
            ),
            &[&policy_id, &from, &to],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        for (id, n) in engaged {
            if let Some(&i) = index.get(&id) {
                docs[i].interactions = docs[i].interactions.max(n);
            }
        }
        Ok(docs)
    }

    /// The policy's recorded levels, oldest first.
    pub fn policy_levels(&self, policy_id: &str) -> Result<Vec<PolicyLevelRow>, StoreError> {
        self.db().exec().rows(
            "SELECT id, level, reasons, day, alert_id, at FROM policy_levels WHERE policy_id = ?1 ORDER BY id",
            &[&policy_id],
            |r| {
                Ok(PolicyLevelRow {
                    id: r.get(0)?,
                    level: r.get(1)?,
                    reasons: list(&r.get::<String>(2)?)?,
                    day: r.get(3)?,
                    alert_id: r.get(4)?,
                    at: time(r.get(5)?),
                })
            },
        )
    }

    /// Records a new level of the policy — with `alert`, the `policy_risk` alert telling its
    /// section, in the same transaction — unless the policy's latest recorded level is no
    /// longer `after` (the id of the row the caller compared with; `None`: no row yet), so
    /// that two runs never record (and tell) the same change twice. `true` when recorded.
    ///
    /// A claim on either backend: SQLite has one writer; on PostgreSQL the transaction
    /// first takes a lock on the policy (`pg_advisory_xact_lock`, held to its end), so a
    /// second daemon recording the same change waits, then reads the first's row as the
    /// latest and records nothing.
    pub fn record_policy_level(
        &mut self,
        policy_id: &str,
        after: Option<i64>,
        level: &NewPolicyLevel<'_>,
        alert: Option<&AlertMessage>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            // Per dialect: PostgreSQL's READ COMMITTED lets two transactions read the same
            // latest level, and the policy may have no row to lock yet, so a lock keyed by
            // the policy id (two keys: 21, the schema step of these tables, and the id's
            // hash — apart from the one-key migration lock). SQLite needs none.
            if tx.dialect() == Dialect::Postgres {
                tx.execute("SELECT pg_advisory_xact_lock(21, hashtext(?1))", &[&policy_id])?;
            }
            let latest: Option<i64> =
                tx.one("SELECT max(id) FROM policy_levels WHERE policy_id = ?1", &[&policy_id], |r| r.get(0))?;
            if latest != after {
                return Ok(false);
            }
            let alert_id = match alert {
                Some(message) => {
                    Some(super::outbox::enqueue_notice(tx, None, "policy_risk", message, now.timestamp())?)
                }
                None => None,
            };
            tx.execute(
                "INSERT INTO policy_levels (policy_id, level, reasons, day, alert_id, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &[&policy_id, &level.level, &json(level.reasons)?, &level.day, &alert_id, &now.timestamp()],
            )?;
            Ok(true)
        })
    }
}
