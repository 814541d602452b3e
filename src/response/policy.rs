//! The risk watch of a major policy before and after it is issued (Art. 8: "重大政策出台前，
//! 要进行舆情风险评估 … 确定风险等级"): which documents are about the policy (its terms, and
//! the groups it affects), and a risk level 高/中/低 for a day's figures against the
//! topic's own baseline, with the reasons in words. Pure: documents and figures come in,
//! levels and reasons go out; the store keeps them and the report shows them.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use chrono::NaiveDate;

use crate::extract::normalize::normalize_text;
use crate::matcher::{Folding, View};
use crate::model::FlagKind;

/// One watched policy (`[[policies]]`).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyWatch {
    pub id: String,
    pub name: String,
    /// The owning section (`[[sections]]` id): told when the level rises.
    pub section: String,
    /// Words that make a document part of the topic (any one of them).
    pub terms: Vec<String>,
    /// The groups it affects: counted in documents of the topic, shown with the terms.
    pub groups: Vec<String>,
    /// The planned (or actual) publication date, local.
    pub publish: NaiveDate,
    /// The watch starts this many days before publication …
    pub before_days: u32,
    /// … and ends this many days after it.
    pub after_days: u32,
    /// The first days of the watch are the topic's baseline (its quiet level).
    pub baseline_days: u32,
    /// The office's response plan (处置预案) as written in the config, if any.
    pub plan: Option<String>,
}

impl PolicyWatch {
    /// The first local day of the watch.
    pub fn first_day(&self) -> NaiveDate {
        self.publish - chrono::Days::new(u64::from(self.before_days))
    }

    /// The last local day of the watch.
    pub fn last_day(&self) -> NaiveDate {
        self.publish + chrono::Days::new(u64::from(self.after_days))
    }

    /// The last local day of the baseline (the baseline never reaches publication).
    pub fn baseline_end(&self) -> NaiveDate {
        let end = self.first_day() + chrono::Days::new(u64::from(self.baseline_days.max(1)) - 1);
        end.min(self.publish.pred_opt().unwrap_or(self.publish))
    }

    /// A fingerprint of what selects documents: when the terms change, the topic is
    /// scanned again from the start.
    pub fn selection_key(&self) -> String {
        let mut words: Vec<&str> = self.terms.iter().chain(&self.groups).map(String::as_str).collect();
        words.sort_unstable();
        format!("{}|{}", self.terms.len(), words.join("\u{1f}"))
    }
}

/// Finds a policy's terms and groups in a document's title and text, on the same
/// normalised (and folded) text the keyword matcher sees.
pub struct TopicMatcher {
    automaton: Option<AhoCorasick>,
    /// The words, terms first, then groups.
    words: Vec<String>,
    terms: usize,
    folding: Option<&'static Folding>,
}

/// What a document says about the topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicHit {
    /// The policy's terms found (at least one, or the document is not in the topic).
    pub terms: Vec<String>,
    /// The affected groups it mentions.
    pub groups: Vec<String>,
}

impl TopicMatcher {
    pub fn new(policy: &PolicyWatch, fold_traditional: bool) -> Result<Self, aho_corasick::BuildError> {
        let folding = fold_traditional.then(Folding::get);
        let prepare = |w: &String| {
            let text = normalize_text(w);
            match folding {
                Some(f) => f.apply(text.into()).into_owned(),
                None => text,
            }
        };
        let mut words: Vec<String> = policy.terms.iter().map(prepare).filter(|w| !w.is_empty()).collect();
        let terms = words.len();
        words.extend(policy.groups.iter().map(prepare).filter(|w| !w.is_empty()));
        let automaton = match words.is_empty() {
            true => None,
            false => Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .ascii_case_insensitive(true)
                    .build(&words)?,
            ),
        };
        Ok(Self { automaton, words, terms, folding })
    }

    /// The topic words in a document; `None` when none of the policy's terms is there.
    pub fn find(&self, title: &str, text: &str) -> Option<TopicHit> {
        let automaton = self.automaton.as_ref()?;
        let mut hit = TopicHit::default();
        for field in [title, text] {
            let view = View::of(field, self.folding);
            for m in automaton.find_iter(view.text()) {
                let i = m.pattern().as_usize();
                let (list, word) = match i < self.terms {
                    true => (&mut hit.terms, &self.words[i]),
                    false => (&mut hit.groups, &self.words[i]),
                };
                if !list.contains(word) {
                    list.push(word.clone());
                }
            }
        }
        (!hit.terms.is_empty()).then_some(hit)
    }
}

/// 高 / 中 / 低.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum RiskLevel {
    #[default]
    Low,
    Medium,
    High,
}

impl RiskLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High].into_iter().find(|l| l.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            RiskLevel::Low => "低",
            RiskLevel::Medium => "中",
            RiskLevel::High => "高",
        }
    }
}

/// Thresholds of one level: a day reaches the level when any one holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelRule {
    /// The day's volume at least this many times the baseline's daily mean.
    pub volume_ratio: f64,
    /// At least this share of the day's documents negative.
    pub negative_share: f64,
    /// At least this many documents with an Art. 7 flag (谣言, 歪曲, 误解, 疑虑).
    pub flagged: u32,
}

/// `[policy_risk]`: how a day's figures become a level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskRules {
    /// Days with fewer documents are 低 on volume and negativity (flags still count).
    pub min_documents: u32,
    /// A document at or above this negativity score counts as negative.
    pub negative_score: f32,
    pub medium: LevelRule,
    pub high: LevelRule,
}

impl Default for RiskRules {
    fn default() -> Self {
        Self {
            min_documents: 5,
            negative_score: 3.0,
            medium: LevelRule { volume_ratio: 2.0, negative_share: 0.3, flagged: 1 },
            high: LevelRule { volume_ratio: 4.0, negative_share: 0.5, flagged: 3 },
        }
    }
}

/// One local day of the topic.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayFigures {
    pub day: Option<NaiveDate>,
    pub documents: u32,
    /// Documents at or above the negative score.
    pub negative: u32,
    /// Mean negativity score of the day's documents.
    pub mean_negativity: f64,
    /// Documents with each Art. 7 flag, in [`FlagKind::ALL`] order.
    pub flags: [u32; 4],
    /// Documents with at least one flag.
    pub flagged: u32,
    /// Reposts + comments + likes of the day's documents (latest counts).
    pub interactions: i64,
}

/// The topic's quiet level: daily means over the baseline days.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Baseline {
    /// How many baseline days have passed (0 before the watch starts).
    pub days: u32,
    pub documents_per_day: f64,
    pub negative_share: f64,
}

impl Baseline {
    pub fn of(days: &[DayFigures]) -> Self {
        let n = days.len() as f64;
        if days.is_empty() {
            return Self::default();
        }
        let documents: u32 = days.iter().map(|d| d.documents).sum();
        let negative: u32 = days.iter().map(|d| d.negative).sum();
        Self {
            days: days.len() as u32,
            documents_per_day: f64::from(documents) / n,
            negative_share: if documents == 0 { 0.0 } else { f64::from(negative) / f64::from(documents) },
        }
    }
}

/// A level with the reasons that raised it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RiskAssessment {
    pub level: RiskLevel,
    pub reasons: Vec<String>,
}

/// The level of one day against the baseline: the highest level any rule reaches, with
/// every rule that reached it as a reason.
pub fn assess_day(day: &DayFigures, baseline: &Baseline, rules: &RiskRules) -> RiskAssessment {
    let label = day.day.map_or_else(String::new, |d| format!("{} ", d.format("%m月%d日")));
    // A quiet baseline of 0.3 documents a day is not a reason for 10× alarm on 3 documents.
    let base = baseline.documents_per_day.max(1.0);
    let ratio = f64::from(day.documents) / base;
    let share = if day.documents == 0 { 0.0 } else { f64::from(day.negative) / f64::from(day.documents) };
    let enough = day.documents >= rules.min_documents;
    let mut out = RiskAssessment::default();
    for (level, rule) in [(RiskLevel::High, &rules.high), (RiskLevel::Medium, &rules.medium)] {
        let mut reasons = Vec::new();
        if enough && ratio >= rule.volume_ratio {
            reasons.push(format!(
                "{label}声量 {} 篇，为基线日均 {:.1} 篇的 {:.1} 倍（{}风险阈值 {} 倍）",
                day.documents,
                baseline.documents_per_day,
                ratio,
                level.label_zh(),
                rule.volume_ratio
            ));
        }
        if enough && share >= rule.negative_share {
            reasons.push(format!(
                "{label}负面信息 {} 篇，占 {:.0}%（基线 {:.0}%，{}风险阈值 {:.0}%）",
                day.negative,
                share * 100.0,
                baseline.negative_share * 100.0,
                level.label_zh(),
                rule.negative_share * 100.0
            ));
        }
        if rule.flagged > 0 && day.flagged >= rule.flagged {
            let kinds: Vec<String> = FlagKind::ALL
                .iter()
                .zip(day.flags)
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| format!("{} {n}", k.label_zh()))
                .collect();
            reasons.push(format!(
                "{label}有谣言、歪曲、误解或疑虑标记的信息 {} 篇：{}（{}风险阈值 {} 篇）",
                day.flagged,
                kinds.join("、"),
                level.label_zh(),
                rule.flagged
            ));
        }
        if !reasons.is_empty() {
            out = RiskAssessment { level, reasons };
            break;
        }
    }
    out
}

/// The current level: the higher of today's and yesterday's (a rise does not vanish at
/// midnight), with that day's reasons; the earlier day wins a tie, so the level and its
/// reasons stay put while a day goes on.
pub fn current(days: &[(DayFigures, RiskAssessment)]) -> RiskAssessment {
    let mut best = RiskAssessment::default();
    for (_, a) in days.iter().rev().take(2).rev() {
        if a.level > best.level {
            best = a.clone();
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PolicyWatch {
        PolicyWatch {
            id: "heating".into(),
            name: "供暖收费调整方案".into(),
            section: "pricing".into(),
            terms: vec!["供暖费".into(), "暖气费".into()],
            groups: vec!["退休职工".into()],
            publish: NaiveDate::from_ymd_opt(2027, 1, 15).unwrap_or_default(),
            before_days: 20,
            after_days: 10,
            baseline_days: 7,
            plan: None,
        }
    }

    #[test]
    fn a_document_is_in_the_topic_by_a_term_not_by_a_group_alone() {
        let m = TopicMatcher::new(&policy(), true).expect("matcher");
        let hit = m.find("暖氣費又漲了", "退休职工怎么办").expect("in topic");
        assert_eq!(hit.terms, ["暖气费"]);
        assert_eq!(hit.groups, ["退休职工"]);
        assert_eq!(m.find("退休职工座谈会", "天气晴"), None);
    }

    #[test]
    fn the_window_and_baseline_days() {
        let p = policy();
        assert_eq!(p.first_day(), NaiveDate::from_ymd_opt(2026, 12, 26).unwrap_or_default());
        assert_eq!(p.last_day(), NaiveDate::from_ymd_opt(2027, 1, 25).unwrap_or_default());
        assert_eq!(p.baseline_end(), NaiveDate::from_ymd_opt(2027, 1, 1).unwrap_or_default());
        let short = PolicyWatch { before_days: 3, baseline_days: 7, ..p };
        assert_eq!(short.baseline_end(), NaiveDate::from_ymd_opt(2027, 1, 14).unwrap_or_default());
    }

    #[test]
    fn levels_rise_with_volume_negativity_and_flags_each_with_its_reason() {
        let rules = RiskRules::default();
        let base = Baseline { days: 7, documents_per_day: 2.0, negative_share: 0.1 };
        let quiet = DayFigures { documents: 3, negative: 0, ..DayFigures::default() };
        assert_eq!(assess_day(&quiet, &base, &rules).level, RiskLevel::Low);
        let busy = DayFigures { documents: 5, negative: 1, ..DayFigures::default() };
        let a = assess_day(&busy, &base, &rules);
        assert_eq!(a.level, RiskLevel::Medium);
        assert_eq!(a.reasons, ["声量 5 篇，为基线日均 2.0 篇的 2.5 倍（中风险阈值 2 倍）"]);
        let angry = DayFigures { documents: 10, negative: 6, flags: [2, 0, 0, 1], flagged: 3, ..DayFigures::default() };
        let a = assess_day(&angry, &base, &rules);
        assert_eq!(a.level, RiskLevel::High);
        assert_eq!(a.reasons.len(), 3, "{:?}", a.reasons);
        assert!(a.reasons[2].contains("疑似谣言 2、疑虑 1"), "{:?}", a.reasons);
        // Few documents: volume and negativity say nothing, a flag still does.
        let few = DayFigures { documents: 2, negative: 2, flags: [1, 0, 0, 0], flagged: 1, ..DayFigures::default() };
        let a = assess_day(&few, &base, &rules);
        assert_eq!(a.level, RiskLevel::Medium);
        assert_eq!(a.reasons.len(), 1);
    }

    #[test]
    fn the_current_level_is_the_higher_of_the_last_two_days() {
        let day = |level| (DayFigures::default(), RiskAssessment { level, reasons: vec![level.as_str().into()] });
        assert_eq!(current(&[]).level, RiskLevel::Low);
        let days = [day(RiskLevel::High), day(RiskLevel::Medium), day(RiskLevel::Low)];
        assert_eq!(current(&days).level, RiskLevel::Medium);
        let days = [day(RiskLevel::Low), day(RiskLevel::High), day(RiskLevel::High)];
        assert_eq!(current(&days).reasons, ["high"]);
    }
}
