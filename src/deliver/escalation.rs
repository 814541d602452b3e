//! The escalation ladder and the deadline clocks on a clock (受理, Art. 4 and 10): for every
//! graded, owned, open event, the ladder steps that came due before anyone accepted, and the
//! 50/75/100 % marks of its deadlines not met by feedback, reach the people filling their
//! roles — each person once per step (the notification log) — threaded to the event.
//! The daemon calls [`escalate`] every minute; tests call it with any `now`.

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::deliver::fanout::{Short, extra_channels, uses_email};
use crate::notify::{DeadlineMark, Reminder, render_reminder};
use crate::response::deadline::{DeadlineKind, Progress, due_reminders};
use crate::response::route::{Role, person_for};
use crate::store::{Store, StoreError};
use crate::workflow::links::{LinkAction, Linker};

/// Events older than this are no longer escalated (their deadlines have long passed).
const HORIZON_DAYS: i64 = 7;

/// One person's reminder that came due: the notification-log step, the role it reaches, the
/// deadline clock it reports (none for a ladder step), and the time gone.
struct Due<'a> {
    step: usize,
    role: Role,
    deadline: Option<DeadlineMark<'a>>,
    elapsed: chrono::Duration,
    repeat: bool,
}

/// Queues every reminder due at `now`; returns how many were queued.
pub fn escalate(store: &mut Store, config: &Config, now: DateTime<Utc>) -> Result<usize, StoreError> {
    if !config.delivers() {
        return Ok(0);
    }
    let linker = match &config.http {
        Some(http) => Some(Linker::new(&store.link_key()?, &http.public_url, http.link_ttl)),
        None => None,
    };
    let mut queued = 0;
    for event in store.ladder_events(now - chrono::Duration::days(HORIZON_DAYS))? {
        // Ladder steps count from the ladder's start, deadline clocks from the event's creation.
        let org = &config.response.org;
        let fill = |role: Role| person_for(org, &event.owner, role);
        let ladder = config.response.routing.ladders.for_grade(event.grade);
        let mut due: Vec<Due<'_>> = Vec::new();
        for r in ladder.reach(event.since, now, event.transferred, &event.accepts, fill) {
            if event.muted_at(r.due) {
                continue;
            }
            // Each grade has its own notification-log steps (ladder below 100, deadline marks
            // from 100): after a rise, the new grade's go out even where the old grade's did.
            let step = event.grade as usize * 1000 + r.step;
            due.push(Due { step, role: r.role, deadline: None, elapsed: now - event.since, repeat: r.repeat });
        }
        let clocks = config.response.deadlines.for_grade(event.grade);
        let progress = Progress {
            created_at: event.created_at,
            owned_since: event.since,
            // Only an accept since the ladder (re)started meets the accept clock.
            accepted_at: event.accepts.first().map(|(_, at)| *at),
            feedback: &event.feedback,
            held: config.delivery.held(Some(event.grade)),
        };
        for r in due_reminders(clocks, &config.calendar, &progress, now) {
            if event.muted_at(r.due) {
                continue;
            }
            let (name, minutes, working) = (r.kind.label_zh(), r.span.duration().as_secs() / 60, r.span.is_working());
            let accept = r.kind == DeadlineKind::Accept;
            let deadline = Some(DeadlineMark { name, minutes, working, percent: r.percent, accept });
            let elapsed = now - r.started;
            let step = event.grade as usize * 1000 + r.step;
            due.extend(r.roles.into_iter().map(|role| Due { step, role, deadline, elapsed, repeat: false }));
        }
        for Due { step, role, deadline, elapsed, repeat } in due {
            let Some(person) = person_for(org, &event.owner, role).and_then(|id| org.person(&id)) else { continue };
            let links = linker.as_ref().map_or_else(Vec::new, |l| {
                let mut links = vec![("受理".to_string(), l.url(event.id, &person.id, LinkAction::Accept, now))];
                if deadline.is_some_and(|d| !d.accept) {
                    links.push(("记录反馈".to_string(), l.url(event.id, &person.id, LinkAction::Feedback, now)));
                }
                links
            });
            let command = format!("yuqing event accept {} --by {}", event.id, person.id);
            let action = links.first().map_or(command, |(label, url)| format!("{label}：{url}"));
            let heading = if deadline.is_some() { "舆情督办" } else { "舆情催办" };
            let short = Short { heading, event_id: event.id, title: &event.title, grade: event.grade, action: &action };
            let mut alerts = extra_channels(config, person, Some(&event.owner), &short);
            let email = person.email.as_ref().zip(config.mail.as_ref()).filter(|_| uses_email(config, event.grade));
            if let Some((address, mail)) = email {
                alerts.push(render_reminder(&Reminder {
                    event_id: event.id,
                    event_title: &event.title,
                    grade_label: event.grade.label_zh(),
                    role_label: role.label_zh(),
                    person_name: &person.name,
                    person_id: &person.id,
                    recipient: format!("{} <{address}>", person.name),
                    elapsed,
                    subject_prefix: &mail.subject_prefix,
                    deadline,
                    repeat,
                    links,
                }));
            }
            // One row per channel; the notification log keeps each to once per step.
            for alert in &alerts {
                if store.queue_notification(&event, (&person.id, step), alert, now)? {
                    queued += 1;
                }
            }
        }
    }
    Ok(queued)
}
