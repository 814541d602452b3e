//! The policy risk watch stage (`[[policies]]`, Art. 8): for each watched policy, find its
//! documents among those stored since the last pass (all of them again when its terms or
//! groups changed), assess it, and when its level is higher than the one last recorded,
//! record the new level and queue one `policy_risk` notice to its section's head and liaison
//! (the admin when neither has an email) in one transaction. A fall is recorded too (without
//! a notice), so a later rise is told again; the same level is never recorded twice, so
//! passes after a restart tell nothing already told.
//!
//! Documents are read in batches of [`SCAN_BATCH`], the store's lock taken per batch: the
//! daemon's source runs and the watchdog never wait long behind a first scan.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::notify::{PolicyNotice, render_policy_notice};
use crate::report::ReportError;
use crate::report::policy::{PolicyAssessment, WatchStatus};
use crate::response::policy::{PolicyWatch, RiskLevel, TopicMatcher};
use crate::store::{NewPolicyLevel, PolicyMatch, Store, StoreError};

/// Documents read per batch (and per transaction).
pub const SCAN_BATCH: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("cannot build the topic matcher of policy {0}: {1}")]
    Matcher(String, aho_corasick::BuildError),
}

impl WatchError {
    pub fn describe_zh(&self) -> String {
        match self {
            WatchError::Store(e) => format!("读写数据库失败：{}", e.describe_zh()),
            WatchError::Report(e) => e.describe_zh(),
            WatchError::Matcher(id, e) => format!("政策 {id} 的话题词无法使用：{e}"),
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchOutcome {
    /// Documents read.
    pub scanned: usize,
    /// Documents found about a policy.
    pub found: usize,
    /// Policies whose level changed, with the new level and whether a notice was queued.
    pub changed: Vec<(String, RiskLevel, bool)>,
}

impl WatchOutcome {
    /// Notices queued.
    pub fn notices(&self) -> usize {
        self.changed.iter().filter(|(_, _, told)| *told).count()
    }
}

fn lock(store: &Mutex<Store>) -> Result<std::sync::MutexGuard<'_, Store>, StoreError> {
    store.lock().map_err(|_| StoreError::Poisoned)
}

/// One pass over every configured policy at `now`.
pub fn watch(store: &Mutex<Store>, config: &Config, now: DateTime<Utc>) -> Result<WatchOutcome, WatchError> {
    let mut out = WatchOutcome::default();
    for policy in &config.policies {
        let matcher = TopicMatcher::new(policy, config.detection.fold_traditional)
            .map_err(|e| WatchError::Matcher(policy.id.clone(), e))?;
        let (scanned, found) = scan(store, policy, &matcher)?;
        out.scanned += scanned;
        out.found += found;
        if let Some((level, told)) = assess(&mut *lock(store)?, config, policy, now)? {
            out.changed.push((policy.id.clone(), level, told));
        }
    }
    Ok(out)
}

/// Reads the documents stored since the policy's last scan, batch by batch.
fn scan(store: &Mutex<Store>, policy: &PolicyWatch, matcher: &TopicMatcher) -> Result<(usize, usize), StoreError> {
    let selection = policy.selection_key();
    let mut from = {
        let mut s = lock(store)?;
        match s.policy_scan(&policy.id)? {
            Some(scan) if scan.selection == selection => scan.scanned_to,
            _ => {
                s.restart_policy_scan(&policy.id, &selection)?;
                0
            }
        }
    };
    let (mut scanned, mut found) = (0, 0);
    loop {
        let mut s = lock(store)?;
        let batch = s.documents_after(from, SCAN_BATCH)?;
        let Some(last) = batch.last().map(|d| d.id) else { break };
        let matches: Vec<PolicyMatch> = batch
            .iter()
            .filter_map(|d| {
                matcher.find(&d.title, &d.text).map(|hit| PolicyMatch {
                    document_id: d.id,
                    terms: hit.terms,
                    groups: hit.groups,
                })
            })
            .collect();
        s.record_policy_scan(&policy.id, last, &matches)?;
        scanned += batch.len();
        found += matches.len();
        from = last;
        if batch.len() < SCAN_BATCH {
            break;
        }
    }
    Ok((scanned, found))
}

/// The mailboxes told of a rise: the section's head and liaison, else the admin; none
/// without `[mail]`.
fn recipients(config: &Config, section: &str) -> Vec<String> {
    let Some(mail) = &config.mail else { return Vec::new() };
    let org = &config.response.org;
    let people = org.section(section).into_iter().flat_map(|s| [&s.head, &s.liaison]).flatten();
    let mut out: Vec<String> = Vec::new();
    for p in people.filter_map(|id| org.person(id)) {
        if let Some(email) = &p.email {
            let mailbox = format!("{} <{email}>", p.name);
            if !out.contains(&mailbox) {
                out.push(mailbox);
            }
        }
    }
    if out.is_empty() {
        out = mail.admin.iter().map(ToString::to_string).collect();
    }
    out
}

/// Assesses the policy and records a changed level (a rise with its notice). `None` when
/// the level is the one last recorded, or the watch is not in its assessed days.
fn assess(
    store: &mut Store,
    config: &Config,
    policy: &PolicyWatch,
    now: DateTime<Utc>,
) -> Result<Option<(RiskLevel, bool)>, WatchError> {
    let a = PolicyAssessment::load(store, config, policy, now)?;
    if a.status != WatchStatus::Watching {
        return Ok(None);
    }
    let previous = a.recorded_level();
    let level = a.current.level;
    if level == previous {
        return Ok(None);
    }
    let day = a.current_day().map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
    let reasons = match a.current.reasons.is_empty() {
        true => vec![format!("最近两日各项指标均未达到{}风险阈值，等级回落为低", previous.label_zh())],
        false => a.current.reasons.clone(),
    };
    let recipients = recipients(config, &policy.section);
    let notice = (level > previous && !recipients.is_empty()).then(|| {
        render_policy_notice(&PolicyNotice {
            policy_id: &policy.id,
            policy_name: &policy.name,
            section: config.response.org.section_label(&policy.section),
            level: level.label_zh(),
            previous: previous.label_zh(),
            day: day.clone(),
            publish: policy.publish.format("%Y-%m-%d").to_string(),
            reasons: &reasons,
            recipients,
        })
    });
    let after = a.levels.last().map(|l| l.id);
    let new = NewPolicyLevel { level: level.as_str(), reasons: &reasons, day: &day };
    let recorded = store.record_policy_level(&policy.id, after, &new, notice.as_ref(), now)?;
    Ok(recorded.then_some((level, notice.is_some())))
}
