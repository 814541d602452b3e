//! A policy's risk assessment (Art. 8 舆情风险评估) as it stands at a moment: its documents
//! per local day of the watch window — volume, negative share, the four Art. 7 flags, the
//! top terms —, the baseline of its first days, each later day's 高/中/低 against it, the
//! current level with its reasons, the most engaged documents, and the levels recorded so far.
//! Built from the store's rows by [`PolicyAssessment::build`] (pure) or [`PolicyAssessment::load`].
//! `yuqing policy report` prints it; the watch stage compares its current level with the last
//! recorded one.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::{Period, ReportError};
use crate::config::Config;
use crate::model::FlagKind;
use crate::response::policy::{
    Baseline, DayFigures, PolicyWatch, RiskAssessment, RiskLevel, RiskRules, assess_day, current,
};
use crate::store::{PolicyDocument, PolicyLevelRow, Store};

/// Terms shown per day.
pub const TOP_TERMS: usize = 3;
/// Documents listed as the most engaged.
pub const TOP_DOCUMENTS: usize = 10;

/// Where the watch stands at the moment of the assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchStatus {
    /// Before its first day.
    NotStarted,
    /// In its baseline days: no level yet.
    Baseline,
    /// Days after the baseline, up to the last day.
    Watching,
    /// After its last day: the figures no longer change the level.
    Over,
}

impl WatchStatus {
    pub fn label_zh(self) -> &'static str {
        match self {
            WatchStatus::NotStarted => "尚未开始",
            WatchStatus::Baseline => "基线期",
            WatchStatus::Watching => "监测中",
            WatchStatus::Over => "已结束",
        }
    }
}

/// One local day of the watch.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDay {
    pub day: NaiveDate,
    pub figures: DayFigures,
    /// The most frequent terms and groups (documents containing each), most first.
    pub top_terms: Vec<(String, u32)>,
    /// A baseline day has no level.
    pub baseline: bool,
    pub assessment: RiskAssessment,
}

impl PolicyDay {
    pub fn negative_share(&self) -> f64 {
        match self.figures.documents {
            0 => 0.0,
            n => f64::from(self.figures.negative) / f64::from(n),
        }
    }

    /// "供暖费 12、退休职工 3".
    pub fn terms_text(&self) -> String {
        self.top_terms.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join("、")
    }

    /// "疑似谣言 2、疑虑 1", empty without flags.
    pub fn flags_text(&self) -> String {
        FlagKind::ALL
            .iter()
            .zip(self.figures.flags)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{} {n}", k.label_zh()))
            .collect::<Vec<_>>()
            .join("、")
    }
}

/// The assessment of one policy at a moment.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyAssessment {
    pub policy: PolicyWatch,
    pub rules: RiskRules,
    pub timezone: Tz,
    pub status: WatchStatus,
    /// The days from the first to today (or the last day), oldest first.
    pub days: Vec<PolicyDay>,
    pub baseline: Baseline,
    /// The higher of the last two assessed days' levels (低 with no reason before any).
    pub current: RiskAssessment,
    /// The documents in the window.
    pub documents: usize,
    /// The most engaged documents of the window (interactions, then negativity).
    pub top_documents: Vec<PolicyDocument>,
    /// Levels recorded so far (each rise told to the section), oldest first.
    pub levels: Vec<PolicyLevelRow>,
    pub generated_at: DateTime<Utc>,
}

impl PolicyAssessment {
    /// The assessment from the store's rows at `now`.
    pub fn load(store: &Store, config: &Config, policy: &PolicyWatch, now: DateTime<Utc>) -> Result<Self, ReportError> {
        let window = Period::new(policy.first_day(), policy.last_day(), config.timezone)?;
        let documents = store.policy_documents(&policy.id, window.start, window.end)?;
        let levels = store.policy_levels(&policy.id)?;
        Ok(Self::build(policy, &config.policy_risk, config.timezone, &documents, levels, now))
    }

    /// The assessment of `documents` (those of the window) at `now`.
    pub fn build(
        policy: &PolicyWatch,
        rules: &RiskRules,
        tz: Tz,
        documents: &[PolicyDocument],
        levels: Vec<PolicyLevelRow>,
        now: DateTime<Utc>,
    ) -> Self {
        let today = now.with_timezone(&tz).date_naive();
        let (first, last, baseline_end) = (policy.first_day(), policy.last_day(), policy.baseline_end());
        let status = match today {
            t if t < first => WatchStatus::NotStarted,
            t if t <= baseline_end => WatchStatus::Baseline,
            t if t <= last => WatchStatus::Watching,
            _ => WatchStatus::Over,
        };
        let until = today.min(last);
        let mut by_day: BTreeMap<NaiveDate, Vec<&PolicyDocument>> = BTreeMap::new();
        for d in documents.iter().filter(|d| d.at <= now) {
            by_day.entry(d.at.with_timezone(&tz).date_naive()).or_default().push(d);
        }
        let mut days: Vec<PolicyDay> = Vec::new();
        let mut day = first;
        while day <= until {
            let docs = by_day.get(&day).map_or(&[][..], Vec::as_slice);
            days.push(PolicyDay {
                day,
                figures: figures(day, docs, rules),
                top_terms: top_terms(docs),
                baseline: day <= baseline_end,
                assessment: RiskAssessment::default(),
            });
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
        let base: Vec<DayFigures> = days.iter().filter(|d| d.baseline).map(|d| d.figures.clone()).collect();
        let baseline = Baseline::of(&base);
        let mut assessed: Vec<(DayFigures, RiskAssessment)> = Vec::new();
        for d in days.iter_mut().filter(|d| !d.baseline) {
            d.assessment = assess_day(&d.figures, &baseline, rules);
            assessed.push((d.figures.clone(), d.assessment.clone()));
        }
        let mut top: Vec<PolicyDocument> = documents.iter().filter(|d| d.at <= now).cloned().collect();
        top.sort_by(|a, b| {
            b.interactions
                .cmp(&a.interactions)
                .then(b.negativity.unwrap_or(0.0).total_cmp(&a.negativity.unwrap_or(0.0)))
                .then(a.id.cmp(&b.id))
        });
        let in_window = top.len();
        top.truncate(TOP_DOCUMENTS);
        Self {
            policy: policy.clone(),
            rules: *rules,
            timezone: tz,
            status,
            days,
            baseline,
            current: current(&assessed),
            documents: in_window,
            top_documents: top,
            levels,
            generated_at: now,
        }
    }

    /// The day whose figures give the current level (the later of the last two when both
    /// are 低).
    pub fn current_day(&self) -> Option<NaiveDate> {
        let assessed: Vec<&PolicyDay> = self.days.iter().filter(|d| !d.baseline).collect();
        let last_two = &assessed[assessed.len().saturating_sub(2)..];
        last_two
            .iter()
            .find(|d| d.assessment.level == self.current.level && d.assessment.reasons == self.current.reasons)
            .or(last_two.last())
            .map(|d| d.day)
    }

    /// The level last recorded (低 before any).
    pub fn recorded_level(&self) -> RiskLevel {
        self.levels.last().and_then(|l| RiskLevel::parse(&l.level)).unwrap_or_default()
    }
}

fn figures(day: NaiveDate, docs: &[&PolicyDocument], rules: &RiskRules) -> DayFigures {
    let mut f = DayFigures { day: Some(day), documents: docs.len() as u32, ..DayFigures::default() };
    let mut negativity = 0.0;
    for d in docs {
        let score = d.negativity.unwrap_or(0.0);
        negativity += score;
        if score >= f64::from(rules.negative_score) {
            f.negative += 1;
        }
        for (i, kind) in FlagKind::ALL.iter().enumerate() {
            if d.flags.contains(kind) {
                f.flags[i] += 1;
            }
        }
        if !d.flags.is_empty() {
            f.flagged += 1;
        }
        f.interactions += d.interactions;
    }
    if !docs.is_empty() {
        f.mean_negativity = negativity / docs.len() as f64;
    }
    f
}

fn top_terms(docs: &[&PolicyDocument]) -> Vec<(String, u32)> {
    let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
    for d in docs {
        for t in d.terms.iter().chain(&d.groups) {
            *counts.entry(t.as_str()).or_default() += 1;
        }
    }
    let mut out: Vec<(String, u32)> = counts.into_iter().map(|(t, n)| (t.to_string(), n)).collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out.truncate(TOP_TERMS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const TZ: Tz = chrono_tz::Asia::Shanghai;

    fn policy() -> PolicyWatch {
        PolicyWatch {
            id: "heating".into(),
            name: "供暖收费调整方案".into(),
            section: "pricing".into(),
            terms: vec!["供暖费".into()],
            groups: vec!["退休职工".into()],
            publish: NaiveDate::from_ymd_opt(2027, 1, 15).unwrap_or_default(),
            before_days: 10,
            after_days: 5,
            baseline_days: 5,
            plan: None,
        }
    }

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        TZ.with_ymd_and_hms(2027, 1, day, hour, 0, 0).single().map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    fn doc(id: i64, t: DateTime<Utc>, negativity: f64) -> PolicyDocument {
        PolicyDocument {
            id,
            source_id: "forum".into(),
            title: format!("帖子{id}"),
            link: None,
            at: t,
            negativity: Some(negativity),
            flags: Vec::new(),
            interactions: id,
            terms: vec!["供暖费".into()],
            groups: Vec::new(),
        }
    }

    #[test]
    fn days_are_local_and_the_level_comes_after_the_baseline() {
        let mut docs = vec![doc(1, at(5, 23), 0.0), doc(2, at(6, 1), 0.0)];
        // 01:00 on the 6th Beijing time is still the 5th in UTC: it counts on the 6th.
        for i in 0..8 {
            docs.push(doc(10 + i, at(15, 23) - chrono::Duration::minutes(i), 5.0));
        }
        let a = PolicyAssessment::build(&policy(), &RiskRules::default(), TZ, &docs, Vec::new(), at(16, 12));
        assert_eq!(a.status, WatchStatus::Watching);
        assert_eq!(a.days.first().map(|d| d.day), NaiveDate::from_ymd_opt(2027, 1, 5));
        assert_eq!(a.days.len(), 12);
        assert_eq!(a.days[0].figures.documents, 1);
        assert_eq!(a.days[1].figures.documents, 1);
        assert!(a.days[4].baseline && !a.days[5].baseline);
        assert_eq!(a.baseline.documents_per_day, 0.4);
        let pub_day = &a.days[10];
        assert_eq!(pub_day.figures.documents, 8);
        assert_eq!(pub_day.assessment.level, RiskLevel::High);
        assert_eq!(a.current.level, RiskLevel::High);
        assert_eq!(a.current_day(), NaiveDate::from_ymd_opt(2027, 1, 15));
        assert_eq!(a.top_documents[0].id, 17, "most interactions first");
        assert_eq!(pub_day.terms_text(), "供暖费 8");
    }
}
