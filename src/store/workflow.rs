//! The response workflow in the database: actions on events (accept, transfer, feedback,
//! close — the audit trail, each with actor and time) and the notification log keyed on
//! (event, person, step, channel), written in the same transaction as the alert it sends,
//! so a ladder step reaches each person once across restarts.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, time};
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

impl Store {
    /// Graded, owned events created since `since` and not closed.
    pub fn ladder_events(&self, since: DateTime<Utc>) -> Result<Vec<LadderEvent>, StoreError> {
        // The ladder runs from the latest transfer (to its section), grade change or the
        // event's creation; only an accept recorded after a transfer (by action order) stops it.
        let mut stmt = self.conn.prepare_cached(
            "WITH t AS (
                 SELECT e.id, e.title, e.grade, e.first_document_id, e.created_at, e.graded_at,
                        (SELECT target FROM event_actions a WHERE a.event_id = e.id AND a.action = 'transfer'
                         ORDER BY at DESC, a.id DESC LIMIT 1) AS moved_to,
                        (SELECT max(at) FROM event_actions a WHERE a.event_id = e.id AND a.action = 'transfer') AS moved_at,
                        (SELECT max(a.id) FROM event_actions a WHERE a.event_id = e.id AND a.action = 'transfer') AS moved_id,
                        e.owner
                 FROM events e
                 WHERE e.grade IS NOT NULL AND e.created_at >= ?1
                   AND coalesce((SELECT a.action FROM event_actions a WHERE a.event_id = e.id
                                 AND a.action IN ('close', 'reopen') ORDER BY a.id DESC LIMIT 1), '') <> 'close')
             SELECT id, title, grade, coalesce(moved_to, owner),
                    max(coalesce(moved_at, created_at), coalesce(graded_at, 0)), first_document_id,
                    (SELECT min(at) FROM event_actions a WHERE a.event_id = t.id AND a.action = 'accept'
                       AND a.id > coalesce(t.moved_id, 0)),
                    moved_at IS NOT NULL AND moved_at >= coalesce(graded_at, 0), created_at
             FROM t WHERE coalesce(moved_to, owner) IS NOT NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([since.timestamp()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, bool>(7)?,
                r.get::<_, i64>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, title, grade, owner, since, first, accepted, transferred, created) = row?;
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
                transferred,
                created_at: time(created),
                feedback: Vec::new(),
            });
        }
        drop(stmt);
        let mut feedback = self.conn.prepare_cached(
            "SELECT coalesce(target, ''), at FROM event_actions WHERE event_id = ?1 AND action = 'feedback' ORDER BY at",
        )?;
        let mut accepts = self.conn.prepare_cached(ACCEPTS_SINCE_LADDER)?;
        let mut mutes = self.conn.prepare_cached(
            "SELECT at, target FROM event_actions WHERE event_id = ?1 AND action = 'mute' ORDER BY at, id",
        )?;
        for event in &mut out {
            event.mutes = mutes
                .query_map([event.id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
                .filter_map(|row| match row {
                    Ok((at, until)) => until.parse::<i64>().ok().map(|u| Ok((time(at), time(u)))),
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<_, _>>()?;
            event.feedback = feedback
                .query_map([event.id], |r| Ok((r.get::<_, String>(0)?, time(r.get(1)?))))?
                .collect::<Result<_, _>>()?;
            event.accepts = accepts
                .query_map([event.id], |r| Ok((r.get::<_, String>(0)?, time(r.get(1)?))))?
                .collect::<Result<_, _>>()?;
        }
        Ok(out)
    }

    /// Queues a ladder notification and logs it, in one transaction; nothing when it was
    /// logged before.
    pub fn queue_notification(
        &mut self,
        event: &LadderEvent,
        (person, step): (&str, usize),
        alert: &AlertMessage,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.outbox().queue_notification(event, (person, step), alert, now)
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
        let tx = self.begin()?;
        let exists: Option<i64> =
            tx.query_row("SELECT id FROM events WHERE id = ?1", [event_id], |r| r.get(0)).optional()?;
        if exists.is_none() {
            return Ok(None);
        }
        tx.execute(
            "INSERT INTO event_actions (event_id, action, actor, target, link, note, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![event_id, a.action, a.actor, a.target, a.link, a.note, now.timestamp()],
        )?;
        let withdrawn = match withdraw {
            None => 0,
            Some(w) => tx.execute(
                "UPDATE alerts SET status = 'dropped', last_error = ?2, sent_at = ?3
                 WHERE event_id = ?1 AND status = 'pending' AND next_attempt_at < ?4",
                params![event_id, w.reason, now.timestamp(), w.due_before.map_or(i64::MAX, |t| t.timestamp())],
            )?,
        };
        tx.commit()?;
        Ok(Some(withdrawn))
    }

    /// Withdraws alerts queued for events that were closed or muted after the alert was
    /// written (a run that read the event's state just before the action, and committed just
    /// after it): the delivery's guard, run before each round, so that a closed event sends
    /// nothing more and a muted one nothing due inside its mute. Alerts written after the
    /// action (a rise to I/II breaking through) are left alone. Returns how many.
    pub fn withdraw_silenced(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let tx = self.begin()?;
        let closed = tx.execute(
            "UPDATE alerts SET status = 'dropped', last_error = '事件已办结，撤回未发提醒', sent_at = ?1
             WHERE status = 'pending' AND event_id IS NOT NULL AND EXISTS (
                 SELECT 1 FROM event_actions a WHERE a.event_id = alerts.event_id AND a.action = 'close'
                   AND a.at > alerts.created_at
                   AND a.id = (SELECT max(b.id) FROM event_actions b
                               WHERE b.event_id = alerts.event_id AND b.action IN ('close', 'reopen')))",
            [now.timestamp()],
        )?;
        let muted = tx.execute(
            "UPDATE alerts SET status = 'dropped', last_error = '事件静默中，撤回静默期内到期的提醒', sent_at = ?1
             WHERE status = 'pending' AND event_id IS NOT NULL AND EXISTS (
                 SELECT 1 FROM event_actions a WHERE a.event_id = alerts.event_id AND a.action = 'mute'
                   AND a.at > alerts.created_at AND CAST(a.target AS INTEGER) > ?1
                   AND alerts.next_attempt_at < CAST(a.target AS INTEGER))",
            [now.timestamp()],
        )?;
        tx.commit()?;
        Ok(closed + muted)
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

impl Store {
    /// The human decisions about an event; `None` when it does not exist.
    pub fn event_state(&self, event_id: i64) -> Result<Option<EventState>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT grade, downgraded_from,
                        (SELECT target FROM event_actions a WHERE a.event_id = e.id AND a.action = 'mute'
                         ORDER BY a.id DESC LIMIT 1),
                        coalesce((SELECT a.action FROM event_actions a WHERE a.event_id = e.id
                                  AND a.action IN ('close', 'reopen') ORDER BY a.id DESC LIMIT 1), '') = 'close',
                        (SELECT target FROM event_actions a WHERE a.event_id = e.id AND a.action = 'transfer'
                         ORDER BY a.id DESC LIMIT 1),
                        owner
                 FROM events e WHERE id = ?1",
            )?
            .query_row([event_id], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .optional()?;
        let Some((grade, from, muted, closed, transferred_to, owner)) = row else { return Ok(None) };
        // As the ladder counts them.
        let accepted_by = self
            .conn
            .prepare_cached(ACCEPTS_SINCE_LADDER)?
            .query_map([event_id], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(EventState {
            grade: grade.as_deref().and_then(Grade::parse),
            downgraded_from: from.as_deref().and_then(Grade::parse),
            muted_until: muted.and_then(|t| t.parse::<i64>().ok()).map(time),
            closed,
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
        let tx = self.begin()?;
        let grade: Option<Option<String>> =
            tx.query_row("SELECT grade FROM events WHERE id = ?1", [event_id], |r| r.get(0)).optional()?;
        let Some(grade) = grade else { return Ok(Downgraded::NoEvent) };
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
            params![event_id, to.as_str(), reasons, from.as_str(), now.timestamp()],
        )?;
        tx.execute(
            "INSERT INTO event_actions (event_id, action, actor, target, note, at) VALUES (?1, 'downgrade', ?2, ?3, ?4, ?5)",
            params![event_id, actor, to.as_str(), reason, now.timestamp()],
        )?;
        tx.commit()?;
        Ok(Downgraded::From(from))
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
