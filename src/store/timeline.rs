//! One event's whole history for `yuqing event show`: its header (grade, owner after
//! transfers, human decisions), every copy on the propagation path, the engagement totals
//! over time, every alert and reminder queued about it with its fate, and every workflow
//! action (the audit trail), and the comments on its documents. Both backends.

use super::{PathStep, Store, StoreError, time};
use crate::detect::viewpoints::CommentInput;
use crate::model::Grade;
use chrono::{DateTime, Utc};

/// An event's header.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDetail {
    pub id: i64,
    pub title: String,
    pub grade: Option<Grade>,
    pub grade_reasons: Vec<String>,
    pub downgraded_from: Option<Grade>,
    /// The owning section now: the latest transfer's target, else the routed owner.
    pub owner: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the first copy was published (its fetch time when it had no date), as on the
    /// propagation path and in `yuqing event list`.
    pub first_seen_at: DateTime<Utc>,
    pub first_source_id: String,
    pub documents: usize,
    pub sources: usize,
}

/// An alert or reminder about the event, with what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEntry {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub channel: String,
    pub recipients: Vec<String>,
    pub subject: String,
    /// pending, sent, dropped or dead.
    pub status: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// The escalation step (notification log) it went out for, when it was a reminder.
    pub step: Option<(String, i64)>,
}

/// A workflow action from the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionEntry {
    pub at: DateTime<Utc>,
    pub action: String,
    pub actor: String,
    pub target: Option<String>,
    pub link: Option<String>,
    pub note: Option<String>,
}

/// Everything that happened to an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub event: EventDetail,
    pub copies: Vec<PathStep>,
    /// (observed at, reposts + comments + likes of all its documents then).
    pub engagement: Vec<(DateTime<Utc>, i64)>,
    pub alerts: Vec<AlertEntry>,
    pub actions: Vec<ActionEntry>,
    /// The comments on its documents (Weibo/WeChat exports), oldest first.
    pub comments: Vec<CommentInput>,
}

/// At most this many engagement points (the latest ones).
const ENGAGEMENT_POINTS: usize = 48;

impl Store {
    /// An event's timeline; `None` when there is no such event.
    pub fn event_timeline(&self, event_id: i64) -> Result<Option<Timeline>, StoreError> {
        // Each read takes the connection for itself: `event_path`, `event_interactions` and
        // `event_comments` take it again (on PostgreSQL a handle held across them panics).
        let event = self.db().exec().first(
            "SELECT e.id, e.title, e.grade, e.grade_reasons, e.downgraded_from,
                    coalesce((SELECT target FROM event_actions a WHERE a.event_id = e.id AND a.action = 'transfer'
                              ORDER BY a.at DESC, a.id DESC LIMIT 1), e.owner),
                    e.created_at, e.first_source_id, e.documents, e.sources, e.first_seen_at
             FROM events e WHERE e.id = ?1",
            &[&event_id],
            |r| {
                Ok(EventDetail {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    grade: r.get::<Option<String>>(2)?.as_deref().and_then(Grade::parse),
                    grade_reasons: r
                        .get::<Option<String>>(3)?
                        .and_then(|j| serde_json::from_str(&j).ok())
                        .unwrap_or_default(),
                    downgraded_from: r.get::<Option<String>>(4)?.as_deref().and_then(Grade::parse),
                    owner: r.get(5)?,
                    created_at: time(r.get(6)?),
                    first_seen_at: time(r.get(10)?),
                    first_source_id: r.get(7)?,
                    documents: usize::try_from(r.get::<i64>(8)?).unwrap_or(0),
                    sources: usize::try_from(r.get::<i64>(9)?).unwrap_or(0),
                })
            },
        )?;
        let Some(event) = event else { return Ok(None) };
        let copies = self.event_path(event_id)?;
        let mut times: Vec<i64> = self.db().exec().rows(
            "SELECT DISTINCT g.observed_at FROM event_documents ed JOIN engagement g ON g.document_id = ed.document_id
             WHERE ed.event_id = ?1 ORDER BY g.observed_at DESC LIMIT ?2",
            &[&event_id, &(ENGAGEMENT_POINTS as i64)],
            |r| r.get(0),
        )?;
        times.reverse();
        let mut engagement = Vec::with_capacity(times.len());
        for t in times {
            engagement.push((time(t), self.event_interactions(event_id, time(t))?));
        }
        let alerts = self.db().exec().rows(
            "SELECT a.id, a.created_at, a.channel, a.recipients, a.subject, a.status, a.sent_at, a.attempts, a.last_error,
                    n.person, n.step
             FROM alerts a LEFT JOIN notifications n ON n.alert_id = a.id AND n.event_id = a.event_id
             WHERE a.event_id = ?1 ORDER BY a.id",
            &[&event_id],
            |r| {
                let person: Option<String> = r.get(9)?;
                let step: Option<i64> = r.get(10)?;
                Ok(AlertEntry {
                    id: r.get(0)?,
                    created_at: time(r.get(1)?),
                    channel: r.get(2)?,
                    recipients: serde_json::from_str(&r.get::<String>(3)?).unwrap_or_default(),
                    subject: r.get(4)?,
                    status: r.get(5)?,
                    sent_at: r.get::<Option<i64>>(6)?.map(time),
                    attempts: r.get(7)?,
                    last_error: r.get(8)?,
                    step: person.zip(step),
                })
            },
        )?;
        let actions = self.db().exec().rows(
            "SELECT at, action, actor, target, link, note FROM event_actions WHERE event_id = ?1 ORDER BY at, id",
            &[&event_id],
            |r| {
                Ok(ActionEntry {
                    at: time(r.get(0)?),
                    action: r.get(1)?,
                    actor: r.get(2)?,
                    target: r.get(3)?,
                    link: r.get(4)?,
                    note: r.get(5)?,
                })
            },
        )?;
        let comments = self.event_comments(event_id, crate::detect::viewpoints::MAX_COMMENTS)?;
        Ok(Some(Timeline { event, copies, engagement, alerts, actions, comments }))
    }
}
