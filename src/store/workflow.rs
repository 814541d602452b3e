//! The response workflow in the database, written once for both backends (issue 19's third
//! shared slice): actions on events (accept, transfer, feedback, close, reopen, assess — the
//! audit trail, each with actor and time), what they withdraw from the outbox in the same
//! transaction (close, mute), downgrades and mutes, the delivery's guard that withdraws
//! alerts a close or mute silenced after they were written, and the two reads the rest of
//! the daemon takes decisions on: an event's human state ([`EventState`]) and the events the
//! escalation ladder looks at ([`LadderEvent`]). The ladder's notifications themselves are
//! queued through the outbox (`Outbox::queue_notification`), keyed on (event, person, step,
//! channel), in the same transaction as the alert they send, so a step reaches each person
//! once across restarts.
//!
//! [`Workflow`] is the handle: `Store::workflow()` on either backend (SQLite or
//! PostgreSQL); `Store`'s own methods of the same names call it, so the daemon, the CLI, the
//! console and the escalation are unchanged.
//!
//! Durability and the group commit (`store::group`) on SQLite: a workflow action (staff
//! click 受理 in the console) must be durable when it returns, so `Store::workflow()`
//! commits the daemon's open group of source runs first (as `Store::outbox()` does) and its
//! transactions are then ordinary ones. Which `Store` methods go which way:
//! - writes, through `Store::workflow()` (commit the open group first): `record_action`,
//!   `record_withdrawing`, `withdraw_silenced`, `downgrade`, `mute`; `queue_notification`
//!   goes through `Store::outbox()`, which commits the group too;
//! - reads, through a handle that does not commit the group (the ingest path asks
//!   `event_state` for every matched document while its group is open, and sees the group's
//!   uncommitted rows): `event_state`, `ladder_events`.
//!
//! Portable SQL (see `store::sql`): booleans computed in a query are
//! `CAST(CASE … THEN 1 ELSE 0 END AS BIGINT)`, the ladder's start is a `CASE` (no
//! two-argument `max()`), a mute's end (TEXT) is read as `CAST(target AS BIGINT)`. Per
//! dialect: a downgrade locks the event's row on PostgreSQL (`FOR UPDATE`), so two daemons
//! or a concurrent regrade cannot both read the old grade.

use chrono::{DateTime, Utc};

use super::pg::conn::PgConn;
use super::sql::{Db, Dialect, Exec, Sqlite, in_tx};
use super::{Conn, Store, StoreError, time};
use crate::model::AlertMessage;
use crate::model::Grade;

/// Who accepted an event (`?1`) since its ladder last started, and when: after the latest
/// transfer (by action order: both may fall in one second) and not before the latest grade
/// change. Shared by the ladder and the workflow's state.
const ACCEPTS_SINCE_LADDER: &str = "SELECT actor, at FROM event_actions
     WHERE event_id = ?1 AND action = 'accept'
       AND id > (SELECT coalesce(max(id), 0) FROM event_actions WHERE event_id = ?1 AND action = 'transfer')
       AND at >= (SELECT coalesce(graded_at, 0) FROM events WHERE id = ?1)
     ORDER BY at, id";

/// An event the escalation ladder looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct LadderEvent {
    pub id: i64,
    pub title: String,
    pub grade: Grade,
    pub owner: String,
    /// When the ladder started: the event's creation, its latest transfer, or the latest
    /// change of its grade, whichever came last.
    pub since: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    /// Every accept since the ladder started: (person, when), in time order.
    pub accepts: Vec<(String, DateTime<Utc>)>,
    pub first_document_id: i64,
    /// Transferred (转办): the ladder restarts for the new section from its first step.
    pub transferred: bool,
    /// When the event was created: its deadline clocks run from here, whatever happens.
    pub created_at: DateTime<Utc>,
    /// Feedback recorded: (kind, when).
    pub feedback: Vec<(String, DateTime<Utc>)>,
    /// Mutes: (from, until). Reminders due inside one are never sent.
    pub mutes: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl LadderEvent {
    /// Whether a mute covers `t`.
    pub fn muted_at(&self, t: DateTime<Utc>) -> bool {
        self.mutes.iter().any(|(from, until)| *from <= t && t < *until)
    }
}

/// One action on an event, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action<'a> {
    pub action: &'a str,
    pub actor: &'a str,
    pub target: Option<&'a str>,
    pub link: Option<&'a str>,
    pub note: Option<&'a str>,
}

/// The response workflow of one store, on either backend.
pub struct Workflow<'a> {
    db: Handle<'a>,
}

enum Handle<'a> {
    Sqlite(Sqlite<'a>),
    Postgres(std::cell::RefMut<'a, PgConn>),
}

impl Store {
    /// The workflow operations on this (SQLite) store. An open group of source runs is
    /// committed first: an action must be durable when it returns, and its transaction
    /// cannot start inside the group's. (Reads that run inside the ingest path do not come
    /// here: see the module doc.)
    pub fn workflow(&self) -> Workflow<'_> {
        self.flush_or_log();
        self.workflow_reads()
    }

    /// The workflow handle without committing the open group, for reads only: they see the
    /// group's rows, as the ingest path that calls them needs.
    fn workflow_reads(&self) -> Workflow<'_> {
        match &self.conn {
            Conn::Sqlite(c) => Workflow { db: Handle::Sqlite(Sqlite(c)) },
            Conn::Postgres { conn, .. } => Workflow { db: Handle::Postgres(conn.borrow_mut()) },
        }
    }

    /// [`Workflow::ladder_events`] (a read: the open group stays open).
    pub fn ladder_events(&self, since: DateTime<Utc>) -> Result<Vec<LadderEvent>, StoreError> {
        self.workflow_reads().ladder_events(since)
    }

    /// Queues a ladder notification and logs it, in one transaction; nothing when it was
    /// logged before ([`super::Outbox::queue_notification`]).
    pub fn queue_notification(
        &mut self,
        event: &LadderEvent,
        (person, step): (&str, usize),
        alert: &AlertMessage,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.outbox().queue_notification(event, (person, step), alert, now)
    }

    /// [`Workflow::record_action`], durable when it returns.
    pub fn record_action(&mut self, event_id: i64, a: &Action<'_>, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.workflow().record_action(event_id, a, now)
    }

    /// [`Workflow::record_withdrawing`], durable when it returns.
    pub fn record_withdrawing(
        &mut self,
        event_id: i64,
        a: &Action<'_>,
        withdraw: Option<&Withdraw<'_>>,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, StoreError> {
        self.workflow().record_withdrawing(event_id, a, withdraw, now)
    }

    /// [`Workflow::withdraw_silenced`] (the delivery's guard before each round).
    pub fn withdraw_silenced(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.workflow().withdraw_silenced(now)
    }

    /// [`Workflow::event_state`] (a read: the open group stays open).
    pub fn event_state(&self, event_id: i64) -> Result<Option<EventState>, StoreError> {
        self.workflow_reads().event_state(event_id)
    }

    /// [`Workflow::downgrade`], durable when it returns.
    pub fn downgrade(
        &mut self,
        event_id: i64,
        to: Grade,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Downgraded, StoreError> {
        self.workflow().downgrade(event_id, to, actor, reason, now)
    }

    /// [`Workflow::mute`], durable when it returns.
    pub fn mute(
        &mut self,
        event_id: i64,
        actor: &str,
        reason: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, StoreError> {
        self.workflow().mute(event_id, actor, reason, until, now)
    }
}

/// The ladder's events: graded, owned, created since `?1`, not closed. The ladder runs from
/// the latest transfer (to its section), grade change or the event's creation, whichever
/// came last; only an accept recorded after a transfer (by action order) stops it.
const LADDER_EVENTS: &str = "WITH t AS (
         SELECT e.id, e.title, e.grade, e.first_document_id, e.created_at, e.graded_at,
                (SELECT target FROM event_actions a WHERE a.event_id = e.id AND a.action = 'transfer'
                 ORDER BY a.at DESC, a.id DESC LIMIT 1) AS moved_to,
                (SELECT max(a.at) FROM event_actions a WHERE a.event_id = e.id AND a.action = 'transfer') AS moved_at,
                (SELECT max(a.id) FROM event_actions a WHERE a.event_id = e.id AND a.action = 'transfer') AS moved_id,
                e.owner
         FROM events e
         WHERE e.grade IS NOT NULL AND e.created_at >= ?1
           AND coalesce((SELECT a.action FROM event_actions a WHERE a.event_id = e.id
                         AND a.action IN ('close', 'reopen') ORDER BY a.id DESC LIMIT 1), '') <> 'close')
     SELECT id, title, grade, coalesce(moved_to, owner),
            CASE WHEN coalesce(moved_at, created_at) >= coalesce(graded_at, 0)
                 THEN coalesce(moved_at, created_at) ELSE coalesce(graded_at, 0) END,
            first_document_id,
            (SELECT min(a.at) FROM event_actions a WHERE a.event_id = t.id AND a.action = 'accept'
               AND a.id > coalesce(t.moved_id, 0)),
            CAST(CASE WHEN moved_at IS NOT NULL AND moved_at >= coalesce(graded_at, 0) THEN 1 ELSE 0 END AS BIGINT),
            created_at
     FROM t WHERE coalesce(moved_to, owner) IS NOT NULL ORDER BY id";

/// An event's human state (`?1`): grade, the grade a person downgraded it from, the latest
/// mute's end, closed (the latest close is later than the latest reopen), the latest
/// transfer's section, the routed owner.
const EVENT_STATE: &str = "SELECT grade, downgraded_from,
        (SELECT a.target FROM event_actions a WHERE a.event_id = e.id AND a.action = 'mute'
         ORDER BY a.id DESC LIMIT 1),
        CAST(CASE WHEN coalesce((SELECT a.action FROM event_actions a WHERE a.event_id = e.id
                                 AND a.action IN ('close', 'reopen') ORDER BY a.id DESC LIMIT 1), '') = 'close'
             THEN 1 ELSE 0 END AS BIGINT),
        (SELECT a.target FROM event_actions a WHERE a.event_id = e.id AND a.action = 'transfer'
         ORDER BY a.id DESC LIMIT 1),
        e.owner
     FROM events e WHERE e.id = ?1";

impl<'a> Workflow<'a> {
    fn db(&mut self) -> &mut dyn Db {
        match &mut self.db {
            Handle::Sqlite(s) => s,
            Handle::Postgres(c) => &mut **c,
        }
    }

    fn exec(&mut self) -> &mut dyn Exec {
        self.db()
    }

    pub fn dialect(&self) -> Dialect {
        match self.db {
            Handle::Sqlite(_) => Dialect::Sqlite,
            Handle::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Graded, owned events created since `since` and not closed, by id.
    pub fn ladder_events(&mut self, since: DateTime<Utc>) -> Result<Vec<LadderEvent>, StoreError> {
        let db = self.exec();
        let rows = db.rows(LADDER_EVENTS, &[&since.timestamp()], |r| {
            Ok((
                r.get::<i64>(0)?,
                r.get::<String>(1)?,
                r.get::<String>(2)?,
                r.get::<String>(3)?,
                r.get::<i64>(4)?,
                r.get::<i64>(5)?,
                r.get::<Option<i64>>(6)?,
                r.get::<i64>(7)?,
                r.get::<i64>(8)?,
            ))
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, title, grade, owner, since, first, accepted, transferred, created) in rows {
            let Some(grade) = Grade::parse(&grade) else { continue };
            out.push(LadderEvent {
                id,
                title,
                grade,
                owner,
                since: time(since),
                accepted_at: accepted.map(time),
                accepts: Vec::new(),
                mutes: Vec::new(),
                first_document_id: first,
                transferred: transferred == 1,
                created_at: time(created),
                feedback: Vec::new(),
            });
        }
        for event in &mut out {
            let mutes: Vec<(i64, Option<String>)> = db.rows(
                "SELECT at, target FROM event_actions WHERE event_id = ?1 AND action = 'mute' ORDER BY at, id",
                &[&event.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            event.mutes = mutes
                .into_iter()
                .filter_map(|(at, until)| until?.parse::<i64>().ok().map(|u| (time(at), time(u))))
                .collect();
            event.feedback = db.rows(
                "SELECT coalesce(target, ''), at FROM event_actions WHERE event_id = ?1 AND action = 'feedback' ORDER BY at, id",
                &[&event.id],
                |r| Ok((r.get::<String>(0)?, time(r.get(1)?))),
            )?;
            event.accepts =
                db.rows(ACCEPTS_SINCE_LADDER, &[&event.id], |r| Ok((r.get::<String>(0)?, time(r.get(1)?))))?;
        }
        Ok(out)
    }

    /// Records an action on an event (the audit trail); `false` when the event does not exist.
    pub fn record_action(&mut self, event_id: i64, a: &Action<'_>, now: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(self.record_withdrawing(event_id, a, None, now)?.is_some())
    }

    /// Records an action and, in the same transaction, withdraws what it stops: the event's
    /// alerts still pending (held for quiet hours or a digest included) that `withdraw` covers
    /// are marked `dropped` with its reason. Returns how many were withdrawn, `None` when the
    /// event does not exist.
    pub fn record_withdrawing(
        &mut self,
        event_id: i64,
        a: &Action<'_>,
        withdraw: Option<&Withdraw<'_>>,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, StoreError> {
        in_tx(self.db(), |tx| {
            if tx.first("SELECT id FROM events WHERE id = ?1", &[&event_id], |r| r.get::<i64>(0))?.is_none() {
                return Ok(None);
            }
            tx.execute(
                "INSERT INTO event_actions (event_id, action, actor, target, link, note, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                &[&event_id, &a.action, &a.actor, &a.target, &a.link, &a.note, &now.timestamp()],
            )?;
            let withdrawn = match withdraw {
                None => 0,
                Some(w) => tx.execute(
                    "UPDATE alerts SET status = 'dropped', last_error = ?2, sent_at = ?3
                     WHERE event_id = ?1 AND status = 'pending' AND next_attempt_at < ?4",
                    &[&event_id, &w.reason, &now.timestamp(), &w.due_before.map_or(i64::MAX, |t| t.timestamp())],
                )?,
            };
            Ok(Some(withdrawn))
        })
    }

    /// Withdraws alerts queued for events that were closed or muted after the alert was
    /// written (a run that read the event's state just before the action, and committed just
    /// after it): the delivery's guard, run before each round, so that a closed event sends
    /// nothing more and a muted one nothing due inside its mute. Alerts written after the
    /// action (a rise to I/II breaking through) are left alone. Returns how many.
    pub fn withdraw_silenced(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        in_tx(self.db(), |tx| {
            let closed = tx.execute(
                "UPDATE alerts SET status = 'dropped', last_error = '事件已办结，撤回未发提醒', sent_at = ?1
                 WHERE status = 'pending' AND event_id IS NOT NULL AND EXISTS (
                     SELECT 1 FROM event_actions a WHERE a.event_id = alerts.event_id AND a.action = 'close'
                       AND a.at > alerts.created_at
                       AND a.id = (SELECT max(b.id) FROM event_actions b
                                   WHERE b.event_id = alerts.event_id AND b.action IN ('close', 'reopen')))",
                &[&now.timestamp()],
            )?;
            let muted = tx.execute(
                "UPDATE alerts SET status = 'dropped', last_error = '事件静默中，撤回静默期内到期的提醒', sent_at = ?1
                 WHERE status = 'pending' AND event_id IS NOT NULL AND EXISTS (
                     SELECT 1 FROM event_actions a WHERE a.event_id = alerts.event_id AND a.action = 'mute'
                       AND a.at > alerts.created_at AND CAST(a.target AS BIGINT) > ?1
                       AND alerts.next_attempt_at < CAST(a.target AS BIGINT))",
                &[&now.timestamp()],
            )?;
            Ok(closed + muted)
        })
    }

    /// The human decisions about an event; `None` when it does not exist.
    pub fn event_state(&mut self, event_id: i64) -> Result<Option<EventState>, StoreError> {
        let db = self.exec();
        let row = db.first(EVENT_STATE, &[&event_id], |r| {
            Ok((
                r.get::<Option<String>>(0)?,
                r.get::<Option<String>>(1)?,
                r.get::<Option<String>>(2)?,
                r.get::<i64>(3)?,
                r.get::<Option<String>>(4)?,
                r.get::<Option<String>>(5)?,
            ))
        })?;
        let Some((grade, from, muted, closed, transferred_to, owner)) = row else { return Ok(None) };
        // As the ladder counts them.
        let accepted_by = db.rows(ACCEPTS_SINCE_LADDER, &[&event_id], |r| r.get::<String>(0))?;
        Ok(Some(EventState {
            grade: grade.as_deref().and_then(Grade::parse),
            downgraded_from: from.as_deref().and_then(Grade::parse),
            muted_until: muted.and_then(|t| t.parse::<i64>().ok()).map(time),
            closed: closed == 1,
            owner: transferred_to.clone().or(owner),
            transferred_to,
            accepted_by,
        }))
    }

    /// Downgrades an event (a recorded human decision with a reason): its grade and
    /// reasons change, the decision joins the audit trail, and automatic grading may raise
    /// it again only above the grade it had.
    pub fn downgrade(
        &mut self,
        event_id: i64,
        to: Grade,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Downgraded, StoreError> {
        let read = match self.dialect() {
            Dialect::Sqlite => "SELECT grade FROM events WHERE id = ?1",
            // The row stays locked until the commit: a concurrent downgrade or regrade waits.
            Dialect::Postgres => "SELECT grade FROM events WHERE id = ?1 FOR UPDATE",
        };
        in_tx(self.db(), |tx| {
            let Some(grade) = tx.first(read, &[&event_id], |r| r.get::<Option<String>>(0))? else {
                return Ok(Downgraded::NoEvent);
            };
            let from = grade.as_deref().and_then(Grade::parse);
            let Some(from) = from.filter(|g| *g < to) else { return Ok(Downgraded::NotLower(from)) };
            let reasons = serde_json::to_string(&[format!(
                "人工降级：由{}降为{}（{actor}：{reason}）",
                from.label_zh(),
                to.label_zh()
            )])
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            tx.execute(
                "UPDATE events SET grade = ?2, grade_reasons = ?3, downgraded_from = ?4, graded_at = ?5 WHERE id = ?1",
                &[&event_id, &to.as_str(), &reasons, &from.as_str(), &now.timestamp()],
            )?;
            tx.execute(
                "INSERT INTO event_actions (event_id, action, actor, target, note, at)
                 VALUES (?1, 'downgrade', ?2, ?3, ?4, ?5)",
                &[&event_id, &actor, &to.as_str(), &reason, &now.timestamp()],
            )?;
            Ok(Downgraded::From(from))
        })
    }

    /// Mutes an event until `until` (author, reason and end time in the audit trail).
    /// Its alerts still pending that would come due inside the mute are withdrawn in the
    /// same transaction (a held alert due after the mute's end is kept); returns how many,
    /// `None` when the event does not exist.
    pub fn mute(
        &mut self,
        event_id: i64,
        actor: &str,
        reason: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, StoreError> {
        let end = until.timestamp().to_string();
        let a = Action { action: "mute", actor, target: Some(&end), link: None, note: Some(reason) };
        let withdraw =
            Withdraw { reason: "事件已静默，撤回静默期内到期的提醒", due_before: Some(until) };
        self.record_withdrawing(event_id, &a, Some(&withdraw), now)
    }
}

/// What an action withdraws from the outbox: the event's pending alerts due before
/// `due_before` (all of them when `None`), marked dropped with `reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdraw<'a> {
    pub reason: &'a str,
    pub due_before: Option<DateTime<Utc>>,
}

/// What human decisions say about an event now: its stored grade, the grade a person
/// downgraded it from (automatic grading may rise above that only), a mute's end, and
/// whether it is closed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventState {
    pub grade: Option<Grade>,
    pub downgraded_from: Option<Grade>,
    /// The latest mute's end time (it may have passed).
    pub muted_until: Option<DateTime<Utc>>,
    /// Closed (办结): the latest close is later than the latest reopen.
    pub closed: bool,
    /// The section of the latest transfer (转办), if any: it owns the event from then on.
    pub transferred_to: Option<String>,
    /// The section that owns the event now: the latest transfer's, else the routed owner.
    pub owner: Option<String>,
    /// Who accepted (受理) since the ladder last started (the latest transfer or change of
    /// grade), in order.
    pub accepted_by: Vec<String>,
}

impl EventState {
    /// Whether notifications about the event are held back at `now` (muted or closed).
    pub fn quiet_at(&self, now: DateTime<Utc>) -> bool {
        self.closed || self.muted_until.is_some_and(|t| now < t)
    }
}

/// What became of a downgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Downgraded {
    /// Recorded: the grade it had before.
    From(Grade),
    /// The event is not graded above the grade asked for.
    NotLower(Option<Grade>),
    NoEvent,
}
