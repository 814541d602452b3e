//! Measuring rumour verdicts on labelled data: the cue lists alone, the model alone, and
//! the combined verdict (the model's flag, or a cue the model confirms: [`super::settle`]),
//! each as precision, recall, F1, accuracy and AUC.
//!
//! AUC needs a score: the model's probability; for the cues, how many distinct rumour
//! cues fired; for the combined verdict, 1 + probability when a confirmed cue fired, else
//! the probability (confirmed cue hits rank above everything, then by model). An example's `comments`
//! go to the model as in `yuqing test match` (a reaction model judges the posts with
//! enough of them). Pure.

use serde_json::{Value, json};

use super::RumourModel;
use super::data::Example;
use crate::detect::flags::Flagger;
use crate::extract::normalize::html_to_text;
use crate::model::FlagKind;

/// Confusion counts and AUC of one method.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Metrics {
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    pub fn_: usize,
    pub auc: f64,
}

impl Metrics {
    /// From (score, predicted, truth) triples.
    pub fn from_scored(scored: &[(f64, bool, bool)]) -> Self {
        let mut m = Metrics::default();
        for (_, predicted, truth) in scored {
            match (predicted, truth) {
                (true, true) => m.tp += 1,
                (true, false) => m.fp += 1,
                (false, false) => m.tn += 1,
                (false, true) => m.fn_ += 1,
            }
        }
        m.auc = auc(&scored.iter().map(|(s, _, t)| (*s, *t)).collect::<Vec<_>>());
        m
    }

    pub fn count(&self) -> usize {
        self.tp + self.fp + self.tn + self.fn_
    }

    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
    }

    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.count())
    }

    pub fn to_json(&self) -> Value {
        json!({
            "count": self.count(), "tp": self.tp, "fp": self.fp, "tn": self.tn, "fn": self.fn_,
            "precision": round4(self.precision()), "recall": round4(self.recall()), "f1": round4(self.f1()),
            "accuracy": round4(self.accuracy()), "auc": round4(self.auc),
        })
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// `s` followed by spaces up to `width` terminal columns (CJK characters take two).
fn pad(s: &str, width: usize) -> String {
    let used: usize = s.chars().map(|c| if c >= '\u{1100}' { 2 } else { 1 }).sum();
    format!("{s}{}", " ".repeat(width.saturating_sub(used)))
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Area under the ROC curve (Mann–Whitney, ties counted half); 0.5 when one class is absent.
pub fn auc(scored: &[(f64, bool)]) -> f64 {
    let mut sorted: Vec<(f64, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = sorted.iter().filter(|(_, y)| *y).count();
    let negatives = sorted.len() - positives;
    if positives == 0 || negatives == 0 {
        return 0.5;
    }
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1].0 == sorted[i].0 {
            j += 1;
        }
        let mean_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += mean_rank * sorted[i..=j].iter().filter(|(_, y)| *y).count() as f64;
        i = j + 1;
    }
    let p = positives as f64;
    (rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64)
}

/// The three methods' figures on one data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub count: usize,
    pub rumours: usize,
    pub cues: Metrics,
    /// `None` without a model.
    pub model: Option<Metrics>,
    pub combined: Option<Metrics>,
    /// The model from the 待核实 band's edge up (flag or to verify).
    pub review: Option<Metrics>,
    pub threshold: Option<f32>,
    pub review_threshold: Option<f32>,
    /// The reaction model's flag and band thresholds, and from how many comments it judges.
    pub reaction: Option<(f32, f32, usize)>,
    /// Examples with at least one non-empty comment.
    pub with_comments: usize,
    /// Examples the reaction model judged (0 without one).
    pub by_reaction: usize,
}

/// What the cue lists and the model say about one example, read as `yuqing test match`
/// and the daemon read a post (title and text through `html_to_text`).
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// The rumour cues that fired.
    pub cues: Vec<String>,
    pub model: Option<super::ModelVerdict>,
}

pub fn judge(example: &Example, flagger: &Flagger, model: Option<&RumourModel>) -> Judged {
    let (title, text) = (html_to_text(&example.title), html_to_text(&example.text));
    let cues = flagger
        .flags(&crate::matcher::Fields::body(&title, &text))
        .into_iter()
        .find(|f| f.kind == FlagKind::Rumour)
        .map(|f| f.reasons)
        .unwrap_or_default();
    Judged { cues, model: model.map(|m| m.judge_with_comments(&example.title, &example.text, &example.comments)) }
}

/// Scores every example with the rumour cue lists and, when given, the model; `each` sees
/// every example's verdicts (for `yuqing rumour eval --scores`).
pub fn evaluate(
    examples: &[Example],
    flagger: &Flagger,
    model: Option<&RumourModel>,
    mut each: impl FnMut(&Example, &Judged),
) -> Evaluation {
    let mut cues = Vec::with_capacity(examples.len());
    let mut by_model = Vec::with_capacity(examples.len());
    let mut combined = Vec::with_capacity(examples.len());
    let mut review = Vec::with_capacity(examples.len());
    let mut by_reaction = 0;
    for e in examples {
        let judged = judge(e, flagger, model);
        each(e, &judged);
        by_reaction += usize::from(judged.model.as_ref().is_some_and(|v| v.by_reaction));
        let fired = judged.cues.len();
        cues.push((fired as f64, fired > 0, e.rumour));
        if let Some(v) = &judged.model {
            let p = f64::from(v.probability);
            by_model.push((p, v.fired, e.rumour));
            review.push((p, v.fired || v.to_verify(), e.rumour));
            // A cue counts when the model confirms it (`settle`): scored above every post
            // without one.
            let cue = fired > 0 && v.confirms_cue();
            combined.push((if cue { 1.0 + p } else { p }, cue || v.fired, e.rumour));
        }
    }
    Evaluation {
        count: examples.len(),
        rumours: examples.iter().filter(|e| e.rumour).count(),
        cues: Metrics::from_scored(&cues),
        model: model.map(|_| Metrics::from_scored(&by_model)),
        combined: model.map(|_| Metrics::from_scored(&combined)),
        review: model.map(|_| Metrics::from_scored(&review)),
        threshold: model.map(|m| m.threshold),
        review_threshold: model.map(|m| m.review),
        reaction: model.and_then(|m| m.reaction.as_deref().map(|r| (r.threshold, r.review, m.min_comments))),
        with_comments: examples.iter().filter(|e| super::text::reply_count(&e.comments) > 0).count(),
        by_reaction,
    }
}

impl Evaluation {
    /// A table for staff, in Chinese.
    pub fn render_zh(&self) -> String {
        let mut out = format!("样本 {} 条，其中谣言 {} 条", self.count, self.rumours);
        if let Some(t) = self.threshold {
            out.push_str(&format!("；模型阈值 {t:.2}"));
        }
        if let Some(r) = self.review_threshold {
            out.push_str(&format!("；待核实自 {r:.2} 起"));
        }
        if let Some((t, r, n)) = self.reaction {
            out.push_str(&format!("；文本+评论模型（评论 ≥ {n} 条时）阈值 {t:.2}，待核实自 {r:.2} 起"));
        }
        if self.with_comments > 0 || self.by_reaction > 0 {
            out.push_str(&format!("；有评论的 {} 条，由文本+评论模型判断 {} 条", self.with_comments, self.by_reaction));
        }
        out.push('\n');
        out.push_str(&format!("{}样本数  精确率  召回率  F1      准确率  AUC\n", pad("方法", 20)));
        let mut row = |name: &str, m: &Metrics| {
            out.push_str(&format!(
                "{}{:<8}{:<8.3}{:<8.3}{:<8.3}{:<8.3}{:.3}\n",
                pad(name, 20),
                m.count(),
                m.precision(),
                m.recall(),
                m.f1(),
                m.accuracy(),
                m.auc
            ));
        };
        row("线索词表", &self.cues);
        if let (Some(m), Some(c)) = (&self.model, &self.combined) {
            row("文本分类模型", m);
            row("合并（模型，或经模型确认的线索）", c);
        }
        if let Some(r) = &self.review {
            row("模型（含待核实）", r);
        }
        out
    }

    pub fn to_json(&self) -> Value {
        json!({
            "count": self.count,
            "rumours": self.rumours,
            "threshold": self.threshold,
            "cues": self.cues.to_json(),
            "model": self.model.map(|m| m.to_json()),
            "combined": self.combined.map(|m| m.to_json()),
            "review_threshold": self.review_threshold,
            "with_review_band": self.review.map(|m| m.to_json()),
            "reaction": self.reaction.map(|(t, r, n)| json!({"threshold": t, "review_threshold": r, "min_comments": n})),
            "with_comments": self.with_comments,
            "by_reaction_model": self.by_reaction,
        })
    }
}

/// How a model does on an office's held-back cases: how many its 谣言 flag gets right (a
/// confirmed rumour flagged, a refuted one not flagged), and AUC.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaseScore {
    pub right: usize,
    pub total: usize,
    pub auc: f64,
}

pub fn case_score(cases: &[Example], model: &RumourModel) -> CaseScore {
    let scored: Vec<(f64, bool, bool)> = cases
        .iter()
        .map(|c| {
            let v = model.judge_with_comments(&c.title, &c.text, &c.comments);
            (f64::from(v.probability), v.fired, c.rumour)
        })
        .collect();
    CaseScore {
        right: scored.iter().filter(|(_, flagged, truth)| flagged == truth).count(),
        total: cases.len(),
        auc: auc(&scored.iter().map(|(s, _, t)| (*s, *t)).collect::<Vec<_>>()),
    }
}

/// A new model against the live one on the same held-back cases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub old: CaseScore,
    pub new: CaseScore,
}

impl Comparison {
    pub fn of(cases: &[Example], old: &RumourModel, new: &RumourModel) -> Self {
        Comparison { old: case_score(cases, old), new: case_score(cases, new) }
    }

    /// The new model gets at least as many held-back cases right as the old one.
    pub fn new_not_worse(&self) -> bool {
        self.new.right >= self.old.right
    }

    /// Two lines for staff, in Chinese.
    pub fn render_zh(&self) -> String {
        let line = |name: &str, s: &CaseScore| format!("{name}：判对 {} / {} 条，AUC {:.3}\n", s.right, s.total, s.auc);
        format!("{}{}", line("现有模型", &self.old), line("新模型", &self.new))
    }

    pub fn to_json(&self) -> Value {
        let one = |s: &CaseScore| json!({"right": s.right, "total": s.total, "auc": round4(s.auc)});
        json!({"old": one(&self.old), "new": one(&self.new), "new_not_worse": self.new_not_worse()})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_half() {
        assert_eq!(auc(&[(0.9, true), (0.1, false)]), 1.0);
        assert_eq!(auc(&[(0.1, true), (0.9, false)]), 0.0);
        assert_eq!(auc(&[(0.5, true), (0.5, false)]), 0.5);
        assert!((auc(&[(0.9, true), (0.5, true), (0.5, false), (0.1, false)]) - 0.875).abs() < 1e-12);
        assert_eq!(auc(&[(0.9, true)]), 0.5);
    }

    #[test]
    fn precision_recall_f1() {
        let m = Metrics::from_scored(&[(1.0, true, true), (1.0, true, false), (0.0, false, true), (0.0, false, false)]);
        assert_eq!((m.tp, m.fp, m.tn, m.fn_), (1, 1, 1, 1));
        assert_eq!((m.precision(), m.recall(), m.f1(), m.accuracy()), (0.5, 0.5, 0.5, 0.5));
    }
}
