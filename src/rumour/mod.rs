//! The trainable rumour (谣言) classifier: logistic regression over hashed character
//! 1–3-grams, trained by `yuqing rumour train` on a bureau's own record of confirmed
//! rumours and used — when `<config>/rumour.model` exists — next to the cue lists of
//! `keywords/flags/rumour.txt`. With a model the 谣言 flag is raised by the model's flag, or
//! by a cue the model puts at least in its 待核实 band; a cue the model scores below the band
//! makes the post 待核实 instead ([`settle`]). The model's part is always explained
//! ("文本分类模型 0.87 ≥ 0.62").
//!
//! Public reaction (issue 18): a model trained with `rumour train --comments` carries a
//! second weight vector, a reaction model over the post *and* its first replies (their
//! n-grams in namespaces of their own, and the share of replies that doubt it). It judges
//! a post that has at least the model's `min_comments` replies; every other post is judged
//! by the content model exactly as before. Its verdicts say so ("文本+评论模型（12 条评论）…")
//! and name reply features (评论“辟谣”) beside post features.
//!
//! Why not a crate: linfa-logistic, smartcore and friends fit on a dense `ndarray` design
//! matrix. With 2^20 hashed n-gram features and 10^4 posts that matrix would need 40 GB;
//! the data are >99.9 % zeros. A sparse AdaGrad trainer is ~100 lines ([`train`]), keeps
//! only the weights it touches, and is deterministic by construction (fixed seed, fixed
//! epoch count, one thread, no clock).
//!
//! Parts: [`text`] normalises a post and turns it into features (the same code at training,
//! evaluation and run time); [`train`] fits a model and picks its thresholds on held-out
//! scores of the training data (each fifth scored by a model trained on the rest); [`file`] saves and loads the versioned model file; [`data`]
//! reads labelled JSONL; [`eval`] measures cues, model and both together. Pure except
//! [`file`] and [`data`], which read and write the files they are given.

pub mod data;
pub mod eval;
pub mod file;
pub mod text;
pub mod train;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use file::RumourModel;
pub use train::{TrainParams, Weighting};

use crate::detect::flags::add_reason;
use crate::model::{Flag, FlagKind};

/// What the model's verdict does to a post's flags (the daemon, `test match` and `rumour
/// eval` alike), returning the 待核实 reason when the post is to be verified:
/// - the model's flag raises 谣言, with its reason beside any cues;
/// - a 谣言 cue stands when the model puts the post at least in its 待核实 band (the
///   model's reason is added);
/// - a 谣言 cue the model scores below the band is taken back: the post becomes 待核实,
///   naming the cues and the model's score. Cue lists alone flag with precision 0.13–0.65
///   on the public sets; with this rule the flag's precision stays near the model's
///   (EVALUATION.md, "Cues and the model");
/// - otherwise a post in the band is 待核实.
pub fn settle(flags: &mut Vec<Flag>, verdict: &ModelVerdict) -> Option<String> {
    let cue = flags.iter().position(|f| f.kind == FlagKind::Rumour);
    if verdict.fired || (cue.is_some() && verdict.confirms_cue()) {
        add_reason(flags, FlagKind::Rumour, verdict.reason_zh());
        return None;
    }
    if let Some(i) = cue {
        let taken = flags.remove(i);
        return Some(format!("谣言线索：{}；{}", taken.reasons.join("、"), verdict.reason_zh()));
    }
    verdict.to_verify().then(|| verdict.reason_zh())
}

/// How long after a post its replies count for a reaction model outside training files:
/// the daemon's export posts and `event feedback` cases. The window of
/// `bench/rumour_data.py prepare`'s default, and the office's 24 hours: later replies often
/// repeat the eventual refutation, which the office does not have when it judges.
pub const EARLY_COMMENTS: chrono::Duration = chrono::Duration::hours(24);

/// The model's file name inside the config directory.
pub const MODEL_FILE: &str = "rumour.model";

/// Errors of reading data and model files; each names its file.
#[derive(Debug, thiserror::Error)]
pub enum RumourError {
    #[error("无法读取 {}：{source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("无法写入 {}：{source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{} 不是谣言模型文件（第 1 行应为 \"{}\"）", path.display(), file::MAGIC)]
    NotAModel { path: PathBuf },
    #[error("模型文件 {} 的格式版本 {found} 不受支持（本程序读取版本 1–{}），请用 yuqing rumour train 重新训练", path.display(), file::VERSION)]
    Version { path: PathBuf, found: String },
    #[error("模型文件 {} 第 {line} 行损坏：{reason}，请用 yuqing rumour train 重新训练", path.display())]
    Corrupt { path: PathBuf, line: usize, reason: String },
    #[error("模型文件 {} 不完整（缺少结尾的 end 行，只有 {lines} 行），请用 yuqing rumour train 重新训练", path.display())]
    Truncated { path: PathBuf, lines: usize },
    #[error("{} 中可用于训练的样本不足：需要谣言和非谣言各至少 {min} 条，实有谣言 {rumours} 条、非谣言 {others} 条", path.display())]
    TooFewExamples { path: PathBuf, min: usize, rumours: usize, others: usize },
}

/// The path of the model file in a config directory.
pub fn model_path(config_dir: &Path) -> PathBuf {
    config_dir.join(MODEL_FILE)
}

/// Loads `<config>/rumour.model` when it exists (`Ok(None)` when it does not). A file that
/// cannot be loaded is an error for the caller to report: silently ignoring it would
/// silently change the rumour verdicts.
pub fn load_from_dir(config_dir: &Path) -> Result<Option<Arc<RumourModel>>, (PathBuf, String)> {
    let path = model_path(config_dir);
    if !path.exists() {
        return Ok(None);
    }
    match RumourModel::load(&path) {
        Ok(model) => Ok(Some(Arc::new(model))),
        Err(e) => Err((path, e.to_string())),
    }
}

/// What the model says about one text, with the reason shown to staff.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVerdict {
    pub probability: f32,
    /// The 谣言 flag's threshold.
    pub threshold: f32,
    /// The lower edge of the 待核实 (to verify) band, at most `threshold`.
    pub review: f32,
    /// `probability >= threshold`: the rumour flag.
    pub fired: bool,
    /// The features that raised the score most (n-grams, words, style cues, reply
    /// features), when the flag fired or the post is in the band; empty otherwise.
    pub cues: Vec<String>,
    /// Judged by the reaction model (a model trained with `--comments`, the post having
    /// enough replies), which read `replies` replies.
    pub by_reaction: bool,
    pub replies: usize,
}

impl ModelVerdict {
    pub fn new(probability: f32, threshold: f32, review: f32) -> Self {
        let review = review.min(threshold);
        ModelVerdict {
            probability,
            threshold,
            review,
            fired: probability >= threshold,
            cues: Vec::new(),
            by_reaction: false,
            replies: 0,
        }
    }

    /// The same verdict, made by the reaction model from `replies` replies.
    pub fn with_replies(self, replies: usize) -> Self {
        ModelVerdict { by_reaction: true, replies, ..self }
    }

    /// The same verdict explained by `cues`.
    pub fn with_cues(self, cues: Vec<String>) -> Self {
        ModelVerdict { cues, ..self }
    }

    /// In the 待核实 band: below the flag's threshold, at or above the band's edge.
    pub fn to_verify(&self) -> bool {
        !self.fired && self.probability >= self.review
    }

    /// Whether a 谣言 cue that fired on the post stands as the flag: the model puts the post
    /// at least in its 待核实 band.
    pub fn confirms_cue(&self) -> bool {
        self.probability >= self.review
    }

    /// "文本分类模型 0.87 ≥ 0.62，依据：网传、转发 扩散", "文本分类模型 0.50，待核实（0.40–0.62），
    /// 依据：…" or "文本分类模型 0.12 < 0.40" (no explanation below the band); a reaction
    /// model's "文本+评论模型（12 条评论）0.91 ≥ 0.70，依据：评论“辟谣”、…".
    pub fn reason_zh(&self) -> String {
        let (p, t, r) = (self.probability, self.threshold, self.review);
        let why = if self.cues.is_empty() { String::new() } else { format!("，依据：{}", self.cues.join("、")) };
        let name = if self.by_reaction {
            format!("文本+评论模型（{} 条评论）", self.replies)
        } else {
            "文本分类模型 ".to_string()
        };
        if self.fired {
            format!("{name}{p:.2} ≥ {t:.2}{why}")
        } else if self.to_verify() {
            format!("{name}{p:.2}，待核实（{r:.2}–{t:.2}）{why}")
        } else {
            format!("{name}{p:.2} < {r:.2}")
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "probability": self.probability,
            "threshold": self.threshold,
            "review_threshold": self.review,
            "fired": self.fired,
            "to_verify": self.to_verify(),
            "cues": self.cues,
            "by_reaction_model": self.by_reaction,
            "replies": self.replies,
            "reason": self.reason_zh(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ModelVerdict;

    #[test]
    fn flag_band_and_below_each_say_why() {
        let v = |p| ModelVerdict::new(p, 0.8, 0.4);
        assert!(v(0.8).fired && !v(0.8).to_verify());
        assert_eq!(v(0.91).reason_zh(), "文本分类模型 0.91 ≥ 0.80");
        assert!(!v(0.5).fired && v(0.5).to_verify());
        assert_eq!(v(0.5).reason_zh(), "文本分类模型 0.50，待核实（0.40–0.80）");
        assert!(!v(0.39).to_verify());
        assert_eq!(v(0.12).reason_zh(), "文本分类模型 0.12 < 0.40");
        let no_band = ModelVerdict::new(0.5, 0.6, 0.9);
        assert_eq!((no_band.review, no_band.to_verify()), (0.6, false), "the band never reaches above the flag");
        assert_eq!(no_band.reason_zh(), "文本分类模型 0.50 < 0.60");
        let why = || vec!["网传".to_string(), "转发 扩散".to_string()];
        assert_eq!(v(0.91).with_cues(why()).reason_zh(), "文本分类模型 0.91 ≥ 0.80，依据：网传、转发 扩散");
        assert_eq!(
            v(0.5).with_cues(why()).reason_zh(),
            "文本分类模型 0.50，待核实（0.40–0.80），依据：网传、转发 扩散"
        );
    }
}
