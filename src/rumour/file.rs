//! The model file `rumour.model`: a small, versioned text file holding only non-zero
//! weights. Loading checks every line and names the file in any error.
//!
//! ```text
//! yuqing-rumour-model 3      ← magic and format version
//! bits 20                    ← 2^bits hash buckets
//! ngrams 1 3                 ← character n-gram range
//! words 2                    ← word n-grams 1..=2 from jieba, 0 for none (version 3)
//! style 0.5                  ← the value of each style cue, 0 for none (version 3)
//! fold 1                     ← traditional characters read as simplified (version 5)
//! threshold 0.62             ← the 谣言 flag's threshold, chosen on held-out training data
//! review 0.41                ← the 待核实 band's lower edge (version 2; version 1 files have
//!                              none and load with review = threshold, i.e. no band)
//! bias -0.31
//! weights 81234              ← how many lines follow
//! 17 0.0123                  ← bucket and weight, buckets ascending
//! …
//! reaction 3 50              ← version 4 and 5: a reaction model, used for posts with at
//! threshold 0.7                 least 3 replies, reading the first 50 (post and replies,
//! review 0.45                   [`super::text::reaction_features`]), with its own
//! bias -0.2                     thresholds and weights
//! weights 90210
//! …
//! end
//! ```
//!
//! Floats are written in Rust's shortest round-trip form, so load(save(m)) == m exactly.
//! Versions 1 and 2 (character n-grams only), 3 and 4 still load. A model that folds
//! traditional characters (every model trained since version 5) is saved as version 5;
//! one that does not, as version 3 without a reaction part and 4 with one (what releases
//! before them read).

use std::fmt::Write as _;
use std::path::Path;

use super::text::{
    FeatureSpec, feature_labels, feature_labels_where, features_of, model_input, model_input_of_plain,
    reaction_features, replies_input, reply_count, reply_labels_where,
};
use super::{ModelVerdict, RumourError};

pub const MAGIC: &str = "yuqing-rumour-model";
/// The newest format read (and written for a model that folds traditional characters).
pub const VERSION: u32 = 5;
/// The format written for a model with a reaction part that does not fold.
const REACTION_VERSION: u32 = 4;
/// The format written for a content model that does not fold.
const CONTENT_VERSION: u32 = 3;

/// How many features an explanation names at most.
pub const EXPLAINED: usize = 3;
/// How many of the strongest features [`RumourModel::explain`] labels first.
const EXPLAIN_FIRST: usize = 16;

/// The labels of `contributions` (strongest first) as [`RumourModel::explain`] shows them:
/// each bucket's first label, trimmed, none empty or contained in another, at most
/// [`EXPLAINED`].
fn pick_labels(labels: &[(u32, String)], contributions: &[(f32, u32)]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, b) in contributions {
        let Some((_, label)) = labels.iter().find(|(k, _)| k == b) else { continue };
        let label = label.trim();
        // A reply's n-gram (评论“辟谣”) is another feature than the post's (辟谣); among
        // replies' n-grams, 评论“怒]” is contained in 评论“[怒]”.
        let reply = |l: &str| l.starts_with("评论");
        let inner = |l: &'_ str| -> String {
            l.strip_prefix("评论“").and_then(|x| x.strip_suffix('”')).unwrap_or(l).to_string()
        };
        let contains = |a: &str, b: &str| inner(a).contains(inner(b).as_str());
        if label.is_empty()
            || out.iter().any(|o| reply(o) == reply(label) && (contains(o, label) || contains(label, o)))
        {
            continue;
        }
        out.push(label.to_string());
        if out.len() == EXPLAINED {
            break;
        }
    }
    out
}

/// A trained model: sparse weights over hashed feature buckets and its thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct RumourModel {
    /// Which features it reads.
    pub spec: FeatureSpec,
    /// The 谣言 flag: probability at or above.
    pub threshold: f32,
    /// The 待核实 band: probability at or above this and below `threshold`.
    pub review: f32,
    pub bias: f32,
    /// Non-zero weights, ascending by bucket (what the file holds).
    weights: Vec<(u32, f32)>,
    /// Every bucket's weight, for a lookup per feature without a search (4 MB at the
    /// default 20 bits); empty above [`DENSE_BITS`], where the sparse list is searched.
    dense: Vec<f32>,
    /// The reaction model (its `spec.comments` > 0), for posts with at least
    /// `min_comments` replies; `None` for a content model (and in the reaction model itself).
    pub reaction: Option<Box<RumourModel>>,
    pub min_comments: usize,
}

/// Up to 2^22 buckets (16 MB) the weights are also kept as one array.
const DENSE_BITS: u8 = 22;

impl RumourModel {
    /// A model from its parts; `weights` ascending by bucket, each below `2^bits`.
    pub fn new(spec: FeatureSpec, bias: f32, weights: Vec<(u32, f32)>) -> Self {
        let mut dense = Vec::new();
        if spec.bits <= DENSE_BITS {
            dense = vec![0.0; 1usize << spec.bits];
            for (b, w) in &weights {
                if let Some(slot) = dense.get_mut(*b as usize) {
                    *slot = *w;
                }
            }
        }
        RumourModel { spec, threshold: 0.5, review: 0.5, bias, weights, dense, reaction: None, min_comments: 0 }
    }

    /// This content model with `reaction` used for posts with at least `min_comments` replies.
    pub fn with_reaction(self, reaction: RumourModel, min_comments: usize) -> Self {
        RumourModel { reaction: Some(Box::new(reaction)), min_comments, ..self }
    }

    /// The model that judges a post with `replies` replies: the reaction model when there
    /// is one and the post has at least `min_comments`, else this content model.
    fn for_replies(&self, replies: usize) -> Option<&RumourModel> {
        self.reaction.as_deref().filter(|_| replies >= self.min_comments)
    }

    /// The non-zero weights, ascending by bucket.
    pub fn weights(&self) -> &[(u32, f32)] {
        &self.weights
    }

    /// Probability that a post is a rumour, from its raw title and text (markup allowed;
    /// [`model_input`] reads them as every other path does).
    pub fn probability(&self, title: &str, text: &str) -> f32 {
        let f = features_of(&model_input(title, text), &self.spec);
        sigmoid(self.bias + self.dot(&f))
    }

    /// Probability, whether it reaches the flag or the 待核实 band, and — when it reaches
    /// either — the features that pushed it up most ([`Self::explain`]).
    pub fn judge(&self, title: &str, text: &str) -> ModelVerdict {
        self.judge_input(model_input(title, text))
    }

    /// [`Self::judge`] of a title and text already through `html_to_text` (`yuqing test
    /// match` has them): the same verdict without normalising them again.
    pub fn judge_plain(&self, title: &str, text: &str) -> ModelVerdict {
        self.judge_input(model_input_of_plain(title, text))
    }

    fn judge_input(&self, input: String) -> ModelVerdict {
        let f = features_of(&input, &self.spec);
        let verdict = ModelVerdict::new(sigmoid(self.bias + self.dot(&f)), self.threshold, self.review);
        if verdict.fired || verdict.to_verify() { verdict.with_cues(self.explain(&input, &f)) } else { verdict }
    }

    /// [`Self::judge`] of a post with its replies (comments, reposts' texts; raw, earliest
    /// first): judged by the reaction model when the post has at least `min_comments`, else
    /// exactly as [`Self::judge`]. Replies that are empty count for nothing.
    pub fn judge_with_comments<S: AsRef<str>>(&self, title: &str, text: &str, comments: &[S]) -> ModelVerdict {
        match self.for_replies(reply_count(comments)) {
            Some(reaction) => reaction.judge_reaction(model_input(title, text), comments),
            None => self.judge(title, text),
        }
    }

    /// [`Self::judge_with_comments`] of a title and text already through `html_to_text`.
    pub fn judge_plain_with_comments<S: AsRef<str>>(&self, title: &str, text: &str, comments: &[S]) -> ModelVerdict {
        match self.for_replies(reply_count(comments)) {
            Some(reaction) => reaction.judge_reaction(model_input_of_plain(title, text), comments),
            None => self.judge_plain(title, text),
        }
    }

    /// [`Self::probability`] of a post with its replies, as [`Self::judge_with_comments`].
    pub fn probability_with_comments<S: AsRef<str>>(&self, title: &str, text: &str, comments: &[S]) -> f32 {
        match self.for_replies(reply_count(comments)) {
            Some(r) => {
                let f = reaction_features(&model_input(title, text), &replies_input(comments, &r.spec), &r.spec);
                sigmoid(r.bias + r.dot(&f))
            }
            None => self.probability(title, text),
        }
    }

    /// The same model using its reaction part from `min_comments` replies on (0: for every
    /// post, those without replies too): `rumour eval --min-comments`.
    pub fn using_reaction_from(&self, min_comments: usize) -> Self {
        RumourModel { min_comments, ..self.clone() }
    }

    fn judge_reaction<S: AsRef<str>>(&self, input: String, comments: &[S]) -> ModelVerdict {
        let replies = replies_input(comments, &self.spec);
        let f = reaction_features(&input, &replies, &self.spec);
        let verdict = ModelVerdict::new(sigmoid(self.bias + self.dot(&f)), self.threshold, self.review)
            .with_replies(replies.len());
        if verdict.fired || verdict.to_verify() {
            verdict.with_cues(self.explain_reaction(&input, &replies, &f))
        } else {
            verdict
        }
    }

    /// [`Self::explain`] for a reaction model: post and reply features alike, a reply's
    /// shown as 评论“辟谣” (or the doubt share, 评论质疑真假 40%).
    pub fn explain_reaction(&self, input: &str, replies: &[String], f: &[(u32, f32)]) -> Vec<String> {
        let mut contributions: Vec<(f32, u32)> =
            f.iter().map(|(b, v)| (self.weight(*b) * v, *b)).filter(|(c, _)| *c > 0.0).collect();
        contributions.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let labels_of = |take: usize| {
            let mut top: Vec<u32> = contributions.iter().take(take).map(|(_, b)| *b).collect();
            top.sort_unstable();
            let keep = |b: u32| top.binary_search(&b).is_ok();
            let mut labels = feature_labels_where(input, &self.spec, keep);
            labels.extend(reply_labels_where(replies, &self.spec, keep));
            labels
        };
        let first = contributions.len().min(EXPLAIN_FIRST);
        let out = pick_labels(&labels_of(first), &contributions[..first]);
        if out.len() == EXPLAINED || contributions.len() <= EXPLAIN_FIRST {
            return out;
        }
        pick_labels(&labels_of(contributions.len()), &contributions)
    }

    /// The features of normalised text `input` (its features `f`) that raise the score
    /// most, as text staff can read: the n-gram, word n-gram or style cue, at most
    /// [`EXPLAINED`], strongest first. A feature contained in one already named (网传 in
    /// 网传市区) is skipped, so the words say different things.
    pub fn explain(&self, input: &str, f: &[(u32, f32)]) -> Vec<String> {
        let mut contributions: Vec<(f32, u32)> =
            f.iter().map(|(b, v)| (self.weight(*b) * v, *b)).filter(|(c, _)| *c > 0.0).collect();
        contributions.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        // The labels of the strongest few are usually enough (building all costs an
        // allocation per n-gram); when they are not, the walk starts over with all. The
        // first label of a bucket is the same either way, so is the outcome.
        let mut top: Vec<u32> = contributions.iter().take(EXPLAIN_FIRST).map(|(_, b)| *b).collect();
        top.sort_unstable();
        let labels = feature_labels_where(input, &self.spec, |b| top.binary_search(&b).is_ok());
        let out = pick_labels(&labels, &contributions[..contributions.len().min(EXPLAIN_FIRST)]);
        if out.len() == EXPLAINED || contributions.len() <= EXPLAIN_FIRST {
            return out;
        }
        pick_labels(&feature_labels(input, &self.spec), &contributions)
    }

    fn weight(&self, b: u32) -> f32 {
        match self.dense.get(b as usize) {
            Some(w) => *w,
            None => self.weights.binary_search_by_key(&b, |(k, _)| *k).map_or(0.0, |i| self.weights[i].1),
        }
    }

    pub(super) fn dot(&self, f: &[(u32, f32)]) -> f32 {
        if !self.dense.is_empty() {
            return f.iter().map(|(b, v)| self.dense.get(*b as usize).map_or(0.0, |w| w * v)).sum();
        }
        f.iter()
            .filter_map(|(b, v)| self.weights.binary_search_by_key(b, |(k, _)| *k).ok().map(|i| self.weights[i].1 * v))
            .sum()
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(32 + self.weights.len() * 18);
        let version = match (self.spec.fold, self.reaction.is_some()) {
            (true, _) => VERSION,
            (false, true) => REACTION_VERSION,
            (false, false) => CONTENT_VERSION,
        };
        let _ = writeln!(s, "{MAGIC} {version}");
        let _ = writeln!(s, "bits {}", self.spec.bits);
        let _ = writeln!(s, "ngrams {} {}", self.spec.min_n, self.spec.max_n);
        let _ = writeln!(s, "words {}", self.spec.words);
        let _ = writeln!(s, "style {}", self.spec.style);
        if self.spec.fold {
            let _ = writeln!(s, "fold 1");
        }
        let _ = writeln!(s, "threshold {}", self.threshold);
        let _ = writeln!(s, "review {}", self.review);
        let _ = writeln!(s, "bias {}", self.bias);
        let _ = writeln!(s, "weights {}", self.weights.len());
        for (b, w) in &self.weights {
            let _ = writeln!(s, "{b} {w}");
        }
        if let Some(r) = &self.reaction {
            let _ = writeln!(s, "reaction {} {}", self.min_comments, r.spec.comments);
            let _ = writeln!(s, "threshold {}", r.threshold);
            let _ = writeln!(s, "review {}", r.review);
            let _ = writeln!(s, "bias {}", r.bias);
            let _ = writeln!(s, "weights {}", r.weights.len());
            for (b, w) in &r.weights {
                let _ = writeln!(s, "{b} {w}");
            }
        }
        s.push_str("end\n");
        s
    }

    /// Writes the file (via a temporary file and rename, so a reader never sees half).
    pub fn save(&self, path: &Path) -> Result<(), RumourError> {
        let write_err = |source| RumourError::Write { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write_err)?;
        }
        let tmp = path.with_extension("model.tmp");
        std::fs::write(&tmp, self.to_text()).map_err(write_err)?;
        std::fs::rename(&tmp, path).map_err(write_err)
    }

    pub fn load(path: &Path) -> Result<Self, RumourError> {
        let bytes = std::fs::read(path).map_err(|source| RumourError::Read { path: path.to_path_buf(), source })?;
        Self::parse(path, &bytes)
    }

    /// Parses a model file's bytes; `path` is only for messages.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, RumourError> {
        let corrupt =
            |line: usize, reason: &str| RumourError::Corrupt { path: path.to_path_buf(), line, reason: reason.into() };
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Err(RumourError::NotAModel { path: path.to_path_buf() });
        };
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let head = lines.next().map(|(_, l)| l).unwrap_or_default();
        let Some(version) = head.strip_prefix(MAGIC).and_then(|v| v.strip_prefix(' ')) else {
            return Err(RumourError::NotAModel { path: path.to_path_buf() });
        };
        let version: u32 = match version.trim() {
            v @ ("1" | "2" | "3" | "4" | "5") => v.parse().unwrap_or(1),
            other => return Err(RumourError::Version { path: path.to_path_buf(), found: other.to_string() }),
        };
        if !text.lines().any(|l| l == "end") {
            return Err(RumourError::Truncated { path: path.to_path_buf(), lines: text.lines().count() });
        }
        let field =
            |lines: &mut dyn Iterator<Item = (usize, &str)>, key: &str| -> Result<(usize, Vec<String>), RumourError> {
                match lines.next() {
                    Some((n, l)) => match l.split_once(' ') {
                        Some((k, v)) if k == key => Ok((n, v.split(' ').map(str::to_string).collect())),
                        _ => Err(corrupt(n, &format!("应为 \"{key} …\""))),
                    },
                    None => Err(corrupt(0, &format!("缺少 \"{key} …\" 行"))),
                }
            };
        let one = |(n, v): (usize, Vec<String>)| -> Result<(usize, String), RumourError> {
            match <[String; 1]>::try_from(v) {
                Ok([x]) => Ok((n, x)),
                Err(_) => Err(corrupt(n, "应只有一个值")),
            }
        };
        let (n, bits) = one(field(&mut lines, "bits")?)?;
        let bits: u8 =
            bits.parse().ok().filter(|b| (1..=28).contains(b)).ok_or_else(|| corrupt(n, "bits 应为 1–28"))?;
        let (n, ngrams) = field(&mut lines, "ngrams")?;
        let (min_n, max_n) = match ngrams.as_slice() {
            [a, b] => match (a.parse::<usize>(), b.parse::<usize>()) {
                // "1 0": no character n-grams (a version 3 model of words only).
                (Ok(a), Ok(b)) if 1 <= a && b <= 8 && (a <= b || (b == 0 && version >= 3)) => (a, b),
                _ => return Err(corrupt(n, "ngrams 应为两个 0–8 的整数")),
            },
            _ => return Err(corrupt(n, "ngrams 应为两个整数")),
        };
        let (mut words, mut style) = (0, 0.0);
        if version >= 3 {
            let (n, w) = one(field(&mut lines, "words")?)?;
            words = w.parse().ok().filter(|w| *w <= 3).ok_or_else(|| corrupt(n, "words 应为 0–3"))?;
            let (n, st) = one(field(&mut lines, "style")?)?;
            style = finite(&st).filter(|s| *s >= 0.0).ok_or_else(|| corrupt(n, "style 应为非负数"))?;
        }
        let mut fold = false;
        if version >= 5 {
            let (n, f) = one(field(&mut lines, "fold")?)?;
            fold = match f.as_str() {
                "1" => true,
                "0" => false,
                _ => return Err(corrupt(n, "fold 应为 0 或 1")),
            };
        }
        let spec = FeatureSpec { bits, min_n, max_n, words, style, comments: 0, fold };
        // Thresholds, bias and weights: the content model's, then the reaction model's.
        let part = |lines: &mut dyn Iterator<Item = (usize, &str)>,
                    spec: FeatureSpec,
                    with_review: bool|
         -> Result<(RumourModel, Option<(usize, String)>), RumourError> {
            let (n, threshold) = one(field(lines, "threshold")?)?;
            let threshold =
                finite(&threshold).filter(|t| (0.0..=1.0).contains(t)).ok_or_else(|| corrupt(n, "阈值应在 0–1"))?;
            let mut review = threshold;
            if with_review {
                let (n, r) = one(field(lines, "review")?)?;
                review = finite(&r)
                    .filter(|r| (0.0..=threshold).contains(r))
                    .ok_or_else(|| corrupt(n, "待核实阈值应在 0 与阈值之间"))?;
            }
            let (n, bias) = one(field(lines, "bias")?)?;
            let bias = finite(&bias).ok_or_else(|| corrupt(n, "bias 不是数"))?;
            let (n, count) = one(field(lines, "weights")?)?;
            let expected: usize = count.parse().map_err(|_| corrupt(n, "权重个数不是整数"))?;
            let mut weights: Vec<(u32, f32)> = Vec::with_capacity(expected.min(1 << bits));
            let limit = 1u64 << bits;
            let (mut end_line, mut next) = (0, None);
            for (n, l) in &mut *lines {
                if l == "end" || (version >= 4 && l.starts_with("reaction ")) {
                    end_line = n;
                    next = (l != "end").then(|| (n, l.to_string()));
                    break;
                }
                let Some((b, w)) = l.split_once(' ') else { return Err(corrupt(n, "应为 \"桶号 权重\"")) };
                let b: u32 =
                    b.parse().ok().filter(|b| u64::from(*b) < limit).ok_or_else(|| corrupt(n, "桶号无效或超出范围"))?;
                let w = finite(w).ok_or_else(|| corrupt(n, "权重不是数"))?;
                if weights.last().is_some_and(|(last, _)| *last >= b) {
                    return Err(corrupt(n, "桶号应严格递增"));
                }
                weights.push((b, w));
            }
            if weights.len() != expected {
                return Err(corrupt(end_line, &format!("应有 {expected} 个权重，实有 {}", weights.len())));
            }
            Ok((RumourModel { threshold, review, ..RumourModel::new(spec, bias, weights) }, next))
        };
        let (mut model, next) = part(&mut lines, spec, version != 1)?;
        if let Some((n, line)) = next {
            let counts: Vec<usize> = line.split(' ').skip(1).filter_map(|v| v.parse().ok()).collect();
            let [min_comments, comments] = counts[..] else {
                return Err(corrupt(n, "reaction 应为两个整数（最少评论数、读取评论数）"));
            };
            if comments == 0 {
                return Err(corrupt(n, "reaction 的读取评论数应大于 0"));
            }
            let (reaction, after) = part(&mut lines, FeatureSpec { comments, ..spec }, true)?;
            if let Some((n, _)) = after {
                return Err(corrupt(n, "只能有一个 reaction 部分"));
            }
            model = model.with_reaction(reaction, min_comments);
        }
        if let Some((n, _)) = lines.find(|(_, l)| !l.is_empty()) {
            return Err(corrupt(n, "end 之后还有内容"));
        }
        Ok(model)
    }
}

fn finite(s: &str) -> Option<f32> {
    s.parse::<f32>().ok().filter(|v| v.is_finite())
}

pub(crate) fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FeatureSpec {
        FeatureSpec { bits: 20, min_n: 1, max_n: 3, words: 2, style: 0.5, comments: 0, fold: false }
    }

    fn model() -> RumourModel {
        RumourModel {
            threshold: 0.617_283_9,
            review: 0.301,
            ..RumourModel::new(spec(), -0.1, vec![(3, 0.1), (17, -1.234_567_9e-7), (1_048_575, 3.0)])
        }
    }

    #[test]
    fn the_dense_and_the_sparse_lookup_agree() {
        let dense = model();
        let sparse = RumourModel { dense: Vec::new(), ..model() };
        let f = [(2, 1.0), (3, 0.5), (17, 0.25), (1_048_575, 0.125)];
        assert_eq!(dense.dot(&f), sparse.dot(&f));
        assert_eq!(dense.dot(&f), 0.05 + -1.234_567_9e-7 * 0.25 + 0.375);
        let wide = RumourModel::new(FeatureSpec::chars(24, 1, 3), 0.0, vec![(16_000_000, 2.0)]);
        assert!(wide.dense.is_empty());
        assert_eq!(wide.dot(&[(16_000_000, 0.5), (5, 1.0)]), 1.0);
    }

    /// `explain` labels only the strongest features first; it must name what labelling
    /// every feature names.
    #[test]
    fn explanations_are_those_of_all_labels() {
        use super::super::text::normalize_for_model;
        let spec = FeatureSpec::chars(20, 1, 3);
        for text in [
            "网传烈士陵园要拆迁了！！大家转发扩散 http://t.cn/abc 2012年",
            "哈哈哈哈哈哈哈哈哈哈 哈哈 哈",
            "烈士陵园开放时间调整的通知，请市民周知",
        ] {
            let input = normalize_for_model(text);
            let f = features_of(&input, &spec);
            // Positive weights of varied size on most buckets, one contained label strongest.
            let weights: Vec<(u32, f32)> =
                f.iter().map(|(b, _)| (*b, if b % 5 == 0 { -1.0 } else { 1.0 + (b % 13) as f32 })).collect();
            let m = RumourModel::new(spec, 0.0, weights);
            let mut contributions: Vec<(f32, u32)> =
                f.iter().map(|(b, v)| (m.weight(*b) * v, *b)).filter(|(c, _)| *c > 0.0).collect();
            contributions.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let all = pick_labels(&feature_labels(&input, &spec), &contributions);
            assert!(!all.is_empty(), "{text}");
            assert_eq!(m.explain(&input, &f), all, "{text}");
        }
    }

    #[test]
    fn reply_labels_are_told_apart_from_post_labels_but_not_repeated() {
        let labels: Vec<(u32, String)> =
            [(1, "评论“[怒]”"), (2, "评论“怒]”"), (3, "怒"), (4, "评论质疑真假 40%"), (5, "[怒]")]
                .iter()
                .map(|(b, l)| (*b, l.to_string()))
                .collect();
        let contributions = [(5.0, 1), (4.0, 2), (3.0, 3), (2.0, 4), (1.0, 5)];
        assert_eq!(pick_labels(&labels, &contributions), ["评论“[怒]”", "怒", "评论质疑真假 40%"]);
    }

    #[test]
    fn the_file_round_trips_exactly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/rumour.model");
        let m = model();
        m.save(&path).expect("save");
        let loaded = RumourModel::load(&path).expect("load");
        assert_eq!(loaded, m);
        assert_eq!(loaded.to_text(), m.to_text());
    }

    #[test]
    fn a_reaction_part_round_trips_and_damage_is_reported() {
        let reaction = RumourModel {
            threshold: 0.7,
            review: 0.45,
            ..RumourModel::new(FeatureSpec { comments: 50, ..spec() }, -0.2, vec![(5, 0.5), (9, -0.25)])
        };
        let m = model().with_reaction(reaction, 3);
        let text = m.to_text();
        assert!(text.starts_with("yuqing-rumour-model 4\n"), "{text}");
        assert!(
            text.contains("\nreaction 3 50\nthreshold 0.7\nreview 0.45\nbias -0.2\nweights 2\n5 0.5\n9 -0.25\nend\n")
        );
        let loaded = RumourModel::parse(Path::new("r.model"), text.as_bytes()).expect("loads");
        assert_eq!(loaded, m);
        assert_eq!(model().to_text().lines().next(), Some("yuqing-rumour-model 3"), "no reaction part: format 3");
        let v3 = model().to_text().replace("model 3", "model 4");
        assert_eq!(RumourModel::parse(Path::new("x"), v3.as_bytes()).expect("v4 without reaction"), model());
        assert!(matches!(parse_err(&text.replace("reaction 3 50", "reaction 3")), RumourError::Corrupt { .. }));
        assert!(matches!(parse_err(&text.replace("reaction 3 50", "reaction 3 0")), RumourError::Corrupt { .. }));
        assert!(matches!(parse_err(&text.replace("weights 2\n", "weights 3\n")), RumourError::Corrupt { .. }));
        assert!(matches!(parse_err(&text.replace("model 4", "model 3")), RumourError::Corrupt { .. }), "v3 has none");
        let twice =
            text.replace("9 -0.25\nend", "9 -0.25\nreaction 1 2\nthreshold 1\nreview 1\nbias 0\nweights 0\nend");
        assert!(matches!(parse_err(&twice), RumourError::Corrupt { .. }));
    }

    fn parse_err(text: &str) -> RumourError {
        RumourModel::parse(Path::new("/cfg/rumour.model"), text.as_bytes()).expect_err("must fail")
    }

    #[test]
    fn a_version_1_file_still_loads_with_no_review_band() {
        let v1 =
            "yuqing-rumour-model 1\nbits 20\nngrams 1 3\nthreshold 0.4\nbias -0.5\nweights 2\n3 0.25\n17 -1\nend\n";
        let m = RumourModel::parse(Path::new("old.model"), v1.as_bytes()).expect("version 1 loads");
        assert_eq!((m.threshold, m.review, m.bias, m.weights()), (0.4, 0.4, -0.5, &[(3, 0.25), (17, -1.0)][..]));
        assert_eq!(m.spec, FeatureSpec::chars(20, 1, 3), "characters only");
        assert!(m.to_text().starts_with("yuqing-rumour-model 3\n"), "saved again as version 3");
        let v2 = v1.replace("model 1", "model 2").replace("threshold 0.4\n", "threshold 0.4\nreview 0.25\n");
        let m = RumourModel::parse(Path::new("v2.model"), v2.as_bytes()).expect("version 2 loads");
        assert_eq!((m.spec, m.threshold, m.review), (FeatureSpec::chars(20, 1, 3), 0.4, 0.25));
        let v = |text: &str| m.probability("", text);
        let same = RumourModel { spec: FeatureSpec::chars(20, 1, 3), ..m.clone() };
        assert_eq!(v("网传停水"), same.probability("", "网传停水"));
    }

    #[test]
    fn damaged_files_give_typed_errors_naming_the_file() {
        let good = model().to_text();
        let truncated = &good[..good.len() - 12];
        assert!(matches!(parse_err(truncated), RumourError::Truncated { lines: 12, .. }), "{truncated}");
        let cut_at_line = &good[..good.find("1048575").expect("last weight")];
        assert!(matches!(parse_err(cut_at_line), RumourError::Truncated { .. }));
        let one_missing = good.replace("1048575 3\n", "");
        assert!(matches!(parse_err(&one_missing), RumourError::Corrupt { line: 12, .. }), "{one_missing}");
        assert!(matches!(parse_err(&good[..good.len() - 4]), RumourError::Truncated { .. }));
        assert!(matches!(parse_err(""), RumourError::NotAModel { .. }));
        assert!(matches!(parse_err("hello\n"), RumourError::NotAModel { .. }));
        assert!(matches!(parse_err(&good.replace("model 3", "model 6")), RumourError::Version { .. }));
        let e = parse_err(&good.replace("model 3", "model 6")).to_string();
        assert!(e.contains("版本 6") && e.contains("yuqing rumour train 重新训练"), "{e}");
        // Version 5 has a fold line after style, 0 or 1.
        let v5 = good.replace("model 3", "model 5").replace("style 0.5\n", "style 0.5\nfold 1\n");
        assert!(RumourModel::parse(Path::new("v5.model"), v5.as_bytes()).expect("version 5").spec.fold);
        assert!(matches!(parse_err(&v5.replace("fold 1", "fold 2")), RumourError::Corrupt { line: 6, .. }));
        assert!(matches!(parse_err(&good.replace("model 3", "model 5")), RumourError::Corrupt { line: 6, .. }));
        assert!(matches!(parse_err(&good.replace("bias -0.1", "bias x")), RumourError::Corrupt { line: 8, .. }));
        assert!(matches!(parse_err(&good.replace("review 0.301", "review 0.9")), RumourError::Corrupt { line: 7, .. }));
        assert!(matches!(parse_err(&good.replace("17 ", "2 ")), RumourError::Corrupt { line: 11, .. }));
        assert!(matches!(parse_err(&good.replace("1048575 ", "1048576 ")), RumourError::Corrupt { .. }));
        assert!(matches!(parse_err(&good.replace("threshold 0", "threshold 9")), RumourError::Corrupt { .. }));
        assert!(matches!(parse_err(&format!("{good}1 2\n")), RumourError::Corrupt { .. }));
        assert!(matches!(parse_err(&good.replace("words 2", "words 7")), RumourError::Corrupt { line: 4, .. }));
        assert!(matches!(parse_err(&good.replace("style 0.5", "style -1")), RumourError::Corrupt { line: 5, .. }));
        let e = parse_err(truncated).to_string();
        assert!(e.contains("/cfg/rumour.model") && e.contains("不完整"), "{e}");
        let bytes = [good.as_bytes(), &[0xFF]].concat();
        assert!(RumourModel::parse(Path::new("x"), &bytes).is_err());
    }
}
