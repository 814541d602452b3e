//! Fitting a [`RumourModel`]: L2-regularised logistic regression trained by AdaGrad over
//! sparse hashed n-gram features, then a decision threshold picked on held-out data.
//!
//! Deterministic: examples are visited in an order drawn from a fixed-seed SplitMix64,
//! for a fixed number of epochs, on one thread; the same data and parameters give the
//! same file byte for byte.
//!
//! Thresholds: the training examples are split into fifths by a hash of their normalised
//! text (so neither file order nor duplicates matter); each fifth in turn
//! ([`TrainParams::folds`], default all five) is held out and scored by a model trained on
//! the other four, and the scores are pooled. The 谣言 flag's threshold is the lowest cut
//! whose precision there reaches [`TrainParams::precision`] (a flag staff can trust); the
//! 待核实 band starts at the F1-best cut (or at the flag, when that is lower). The shipped
//! weights are then trained on all examples with the same parameters. (One fifth alone
//! put the cut where that fifth's few highest-scoring non-rumours happened to lie:
//! EVALUATION.md, "Five folds".)
//!
//! Feature weighting ([`Weighting`], issue 18): each bucket's feature value can be scaled
//! during training by a per-bucket factor computed from the training rows — the NB-SVM
//! log-count ratio (Wang & Manning 2012) or an IDF. The scaling is applied after the
//! unit-length step, so `w · (s ∘ x) = (w ∘ s) · x`: the factor is folded into the saved
//! weights, scoring is unchanged and the model file keeps its format. `--ensemble`
//! trains a plain and an NB-weighted model on the same features and saves the mean of
//! their logits, again as one weight vector: explanations name the features whose folded
//! weight × value raise the score most, as for any model.
//!
//! Reaction model ([`TrainParams::comments`] > 0, `rumour train --comments`): a second
//! model over the post and its first replies ([`reaction_features`]), trained on the same
//! examples with the same parameters and the same held-out fifths; its thresholds are picked
//! on the held-out posts that have at least [`TrainParams::min_comments`] replies (the posts
//! it will judge), or on all held-out posts when those lack a class. The content model is
//! trained exactly as without it.

use super::RumourModel;
use super::data::Example;
use super::file::sigmoid;
use super::text::{FeatureSpec, features_of, model_input, reaction_features, replies_input, reply_count, stable_hash};

/// Training parameters; the defaults are the ones measured in EVALUATION.md.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainParams {
    /// 2^bits hash buckets.
    pub bits: u8,
    pub min_n: usize,
    /// Longest character n-gram (0: none).
    pub max_n: usize,
    /// Longest word n-gram from the jieba segmenter (0: none).
    pub words: usize,
    /// The value of each style cue that occurs (0: no style features).
    pub style: f32,
    pub epochs: usize,
    /// L2 strength (applied lazily: to a weight when its feature occurs).
    pub l2: f32,
    /// AdaGrad base learning rate.
    pub learning_rate: f32,
    /// A bucket is used only when at least this many training texts contain it.
    pub min_df: u32,
    pub seed: u64,
    /// Precision the 谣言 flag's threshold must reach on the held-out scores.
    pub precision: f64,
    /// Per-bucket scaling of the features during training (folded into the weights).
    pub weighting: Weighting,
    /// Save the mean logit of a plain model and an NB-weighted one (`weighting` ignored).
    pub ensemble: bool,
    /// Also train a reaction model reading the first this many replies (0: none).
    pub comments: usize,
    /// The reaction model judges posts with at least this many replies.
    pub min_comments: usize,
    /// How many of the five fifths are held out in turn to pick the thresholds (1–5): each
    /// is scored by a model trained on the other four and the scores are pooled.
    pub folds: usize,
    /// Read traditional characters as simplified ([`FeatureSpec::fold`]).
    pub fold: bool,
}

/// How feature values are scaled, per bucket, while training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Weighting {
    /// As computed by [`features_of`]: sublinear tf, unit length.
    #[default]
    None,
    /// NB-SVM: times the log-count ratio `r = ln((p/‖p‖₁)/(q/‖q‖₁))`, `p` (`q`) being 1 +
    /// the weighted number of rumour (other) texts containing the bucket, over the usable
    /// buckets: a bucket that occurs alike in both classes starts near zero.
    Nb,
    /// Times the smoothed inverse document frequency `1 + ln((1 + N)/(1 + df))`.
    Idf,
}

impl Weighting {
    pub fn name(self) -> &'static str {
        match self {
            Weighting::None => "none",
            Weighting::Nb => "nb",
            Weighting::Idf => "idf",
        }
    }
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            bits: 20,
            min_n: 1,
            max_n: 3,
            words: 0,
            style: 0.0,
            epochs: 10,
            l2: 1e-4,
            learning_rate: 0.2,
            min_df: 3,
            seed: 20_240_601,
            precision: 0.99,
            weighting: Weighting::None,
            ensemble: false,
            comments: 0,
            min_comments: 1,
            folds: 5,
            fold: true,
        }
    }
}

/// What training did, for the CLI to report.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    pub examples: usize,
    pub rumours: usize,
    pub held_out: usize,
    /// F1, precision and recall at the flag's threshold on the held-out scores.
    pub held_out_f1: f64,
    pub held_out_precision: f64,
    pub held_out_recall: f64,
    /// Precision and recall from the 待核实 band's edge up.
    pub review_precision: f64,
    pub review_recall: f64,
    /// The reaction model's figures (its `held_out`: the held-out posts its thresholds
    /// were picked on), when one was trained.
    pub reaction: Option<Box<TrainReport>>,
}

/// An example as features, with its weight in the loss.
struct Row {
    x: Vec<(u32, f32)>,
    y: bool,
    weight: f32,
}

impl TrainParams {
    /// The features a model trained with these parameters reads.
    pub fn spec(&self) -> FeatureSpec {
        FeatureSpec {
            bits: self.bits,
            min_n: self.min_n,
            max_n: self.max_n,
            words: self.words,
            style: self.style,
            comments: 0,
            fold: self.fold,
        }
    }
}

/// Trains on all examples and returns the model with its held-out threshold (and, when
/// `params.comments` > 0, its reaction part). Callers check there are enough examples of
/// both classes ([`MIN_PER_CLASS`]).
pub fn fit(examples: &[Example], params: &TrainParams) -> (RumourModel, TrainReport) {
    let spec = params.spec();
    let inputs: Vec<String> = examples.iter().map(|e| model_input(&e.title, &e.text)).collect();
    let rows: Vec<(u64, Row)> = examples
        .iter()
        .zip(&inputs)
        .map(|(e, norm)| (stable_hash(norm), Row { x: features_of(norm, &spec), y: e.rumour, weight: e.weight }))
        .collect();
    let (mut model, mut report) = fit_rows(&rows, params, spec, |_| true);
    if params.comments > 0 {
        let spec = FeatureSpec { comments: params.comments, ..spec };
        let reaction_rows: Vec<(u64, Row)> = examples
            .iter()
            .zip(&inputs)
            .zip(&rows)
            .map(|((e, norm), (hash, row))| {
                let x = reaction_features(norm, &replies_input(&e.comments, &spec), &spec);
                (*hash, Row { x, ..*row })
            })
            .collect();
        let judged = |i: usize| reply_count(&examples[i].comments) >= params.min_comments;
        let (reaction, reaction_report) = fit_rows(&reaction_rows, params, spec, judged);
        model = model.with_reaction(reaction, params.min_comments);
        report.reaction = Some(Box::new(reaction_report));
    }
    (model, report)
}

/// [`fit`] of one model over `rows` (hash of the post's text, features) reading `spec`; its
/// thresholds are picked on the held-out rows `judged` accepts (by index), or on all
/// held-out rows when those lack a class.
fn fit_rows(
    rows: &[(u64, Row)],
    params: &TrainParams,
    spec: FeatureSpec,
    judged: impl Fn(usize) -> bool,
) -> (RumourModel, TrainReport) {
    // Out-of-fold scores: each held-out fifth by a model trained on the other four.
    let (mut scored, mut scored_judged) = (Vec::new(), Vec::new());
    for fold in 0..params.folds.clamp(1, 5) as u64 {
        let (fit_rows, held): (Vec<_>, Vec<_>) = rows.iter().enumerate().partition(|(_, (hash, _))| hash % 5 != fold);
        let fit_rows: Vec<&Row> = fit_rows.into_iter().map(|(_, (_, row))| row).collect();
        if held.is_empty() || !(fit_rows.iter().any(|r| r.y) && fit_rows.iter().any(|r| !r.y)) {
            continue;
        }
        let partial = sgd(&fit_rows, params, spec);
        for (i, (_, row)) in held {
            let score = (partial.probability_of(&row.x), row.y);
            scored.push(score);
            if judged(i) {
                scored_judged.push(score);
            }
        }
    }
    if scored_judged.iter().any(|(_, y)| *y) && scored_judged.iter().any(|(_, y)| !*y) {
        scored = scored_judged;
    }
    let (mut threshold, mut review) = (0.5, 0.5);
    let (mut f1, mut precision, mut recall) = (0.0, 0.0, 0.0);
    let (mut review_precision, mut review_recall) = (0.0, 0.0);
    if scored.iter().any(|(_, y)| *y) {
        let best = best_f1_threshold(&scored);
        (threshold, f1, precision, recall) = precision_threshold(&scored, params.precision).unwrap_or(best);
        (review, _, review_precision, review_recall) = best;
        if review > threshold {
            (review, review_precision, review_recall) = (threshold, precision, recall);
        }
    }
    let all: Vec<&Row> = rows.iter().map(|(_, r)| r).collect();
    let mut model = sgd(&all, params, spec);
    model.threshold = threshold;
    model.review = review;
    let report = TrainReport {
        examples: rows.len(),
        rumours: rows.iter().filter(|(_, r)| r.y).count(),
        held_out: scored.len(),
        held_out_f1: f1,
        held_out_precision: precision,
        held_out_recall: recall,
        review_precision,
        review_recall,
        reaction: None,
    };
    (model, report)
}

/// An office's own cases (`yuqing event feedback --kind rumour-confirmed|rumour-refuted`)
/// split into those trained on, weighted `weight`, and those held back to compare a new
/// model with the live one (about a quarter, chosen by a hash of the normalised text, so
/// the same case is always on the same side and retraining never trains on it).
pub fn split_cases(cases: Vec<Example>, weight: f32) -> (Vec<Example>, Vec<Example>) {
    let (mut train, mut held) = (Vec::new(), Vec::new());
    for case in cases {
        if stable_hash(&format!("case {}", model_input(&case.title, &case.text))).is_multiple_of(4) {
            held.push(case);
        } else {
            train.push(Example { weight, ..case });
        }
    }
    (train, held)
}

/// Each class needs at least this many examples.
pub const MIN_PER_CLASS: usize = 5;

impl RumourModel {
    fn probability_of(&self, x: &[(u32, f32)]) -> f32 {
        sigmoid(self.bias + self.dot(x))
    }
}

/// SplitMix64: tiny, fixed, good enough to shuffle.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fisher–Yates.
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// The model reading `spec` trained on `rows` as `p` says: one weighting, or the ensemble.
fn sgd(rows: &[&Row], p: &TrainParams, spec: FeatureSpec) -> RumourModel {
    let size = 1usize << p.bits;
    let mut df = vec![0u32; size];
    for r in rows {
        for (b, _) in &r.x {
            df[*b as usize] = df[*b as usize].saturating_add(1);
        }
    }
    let usable: Vec<bool> = df.iter().map(|d| *d >= p.min_df).collect();
    let (bias, w) = if p.ensemble {
        let (b1, w1) = fit_weighted(rows, p, &usable, None);
        let nb = nb_ratios(rows, &usable);
        let (b2, w2) = fit_weighted(rows, p, &usable, Some(&nb));
        (0.5 * (b1 + b2), w1.iter().zip(&w2).map(|(a, b)| 0.5 * (a + b)).collect())
    } else {
        let scale = match p.weighting {
            Weighting::None => None,
            Weighting::Nb => Some(nb_ratios(rows, &usable)),
            Weighting::Idf => Some(idf(rows.len(), &df, &usable)),
        };
        fit_weighted(rows, p, &usable, scale.as_deref())
    };
    let weights: Vec<(u32, f32)> =
        w.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(b, v)| (b as u32, *v)).collect();
    RumourModel::new(spec, bias, weights)
}

/// NB-SVM's log-count ratio per bucket (0 for unusable buckets), from the texts that
/// contain each bucket, weighted as in the loss.
fn nb_ratios(rows: &[&Row], usable: &[bool]) -> Vec<f32> {
    let size = usable.len();
    let (mut pos, mut neg) = (vec![0f64; size], vec![0f64; size]);
    for r in rows {
        let counts = if r.y { &mut pos } else { &mut neg };
        for (b, _) in &r.x {
            counts[*b as usize] += f64::from(r.weight);
        }
    }
    let (mut pos_total, mut neg_total) = (0f64, 0f64);
    for b in (0..size).filter(|b| usable[*b]) {
        pos_total += 1.0 + pos[b];
        neg_total += 1.0 + neg[b];
    }
    (0..size)
        .map(|b| {
            if !usable[b] {
                return 0.0;
            }
            (((1.0 + pos[b]) / pos_total) / ((1.0 + neg[b]) / neg_total)).ln() as f32
        })
        .collect()
}

/// Smoothed IDF per bucket (0 for unusable buckets) over `n` texts.
fn idf(n: usize, df: &[u32], usable: &[bool]) -> Vec<f32> {
    let n = n as f64;
    df.iter()
        .zip(usable)
        .map(|(d, u)| if *u { (1.0 + ((1.0 + n) / (1.0 + f64::from(*d))).ln()) as f32 } else { 0.0 })
        .collect()
}

/// AdaGrad on the logistic loss over features scaled by `scale` (per bucket; `None`: 1),
/// returning the bias and the dense weights with the scale folded in. Weights and
/// squared-gradient sums are dense arrays of 2^bits floats (8 MB at 20 bits) during
/// training only; the model keeps the non-zeros.
fn fit_weighted(rows: &[&Row], p: &TrainParams, usable: &[bool], scale: Option<&[f32]>) -> (f32, Vec<f32>) {
    let size = usable.len();
    let s = |b: usize| scale.map_or(1.0, |s| s[b]);
    let mut w = vec![0f32; size];
    let mut g2 = vec![0f32; size];
    let (mut bias, mut bias_g2) = (0f32, 0f32);
    const EPS: f32 = 1e-6;
    let mut rng = SplitMix(p.seed);
    let mut order: Vec<usize> = (0..rows.len()).collect();
    for _ in 0..p.epochs {
        rng.shuffle(&mut order);
        for &i in &order {
            let r = rows[i];
            let z = bias
                + r.x
                    .iter()
                    .filter(|(b, _)| usable[*b as usize])
                    .map(|(b, v)| w[*b as usize] * v * s(*b as usize))
                    .sum::<f32>();
            let err = r.weight * (sigmoid(z) - if r.y { 1.0 } else { 0.0 });
            for (b, v) in &r.x {
                let b = *b as usize;
                if !usable[b] {
                    continue;
                }
                let g = err * v * s(b) + p.l2 * w[b];
                g2[b] += g * g;
                w[b] -= p.learning_rate * g / (g2[b].sqrt() + EPS);
            }
            bias_g2 += err * err;
            bias -= p.learning_rate * err / (bias_g2.sqrt() + EPS);
        }
    }
    if scale.is_some() {
        for (b, wb) in w.iter_mut().enumerate() {
            *wb *= s(b);
        }
    }
    (bias, w)
}

/// Every cut between different scores, highest first: (threshold, true positives,
/// precision, recall, F1) of "score ≥ threshold" (a cut takes every example scoring it).
fn cuts(scored: &[(f32, bool)]) -> Vec<(f32, f64, f64, f64, f64)> {
    let mut sorted: Vec<(f32, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let positives = sorted.iter().filter(|(_, y)| *y).count() as f64;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut out = Vec::new();
    for (i, (s, y)) in sorted.iter().enumerate() {
        if *y {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        if sorted.get(i + 1).is_some_and(|(next, _)| next == s) {
            continue;
        }
        let precision = tp / (tp + fp);
        let recall = if positives > 0.0 { tp / positives } else { 0.0 };
        let f1 = if tp > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        out.push((*s, tp, precision, recall, f1));
    }
    out
}

/// The threshold (one of the scores) with the best F1, and its F1, precision, recall.
/// Ties keep the higher threshold (fewer false alarms for the same F1).
pub fn best_f1_threshold(scored: &[(f32, bool)]) -> (f32, f64, f64, f64) {
    let mut best = (0.5, 0.0, 0.0, 0.0);
    for (s, _, precision, recall, f1) in cuts(scored) {
        if f1 > best.1 {
            best = (s, f1, precision, recall);
        }
    }
    best
}

/// The lowest threshold (one of the scores) at which precision reaches `target`, with its
/// F1, precision and recall; `None` when no cut reaches it.
pub fn precision_threshold(scored: &[(f32, bool)], target: f64) -> Option<(f32, f64, f64, f64)> {
    cuts(scored)
        .into_iter()
        .rev()
        .find(|&(_, tp, precision, _, _)| tp > 0.0 && precision >= target)
        .map(|(s, _, precision, recall, f1)| (s, f1, precision, recall))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(text: &str, rumour: bool) -> Example {
        Example { title: String::new(), text: text.to_string(), rumour, weight: 1.0, comments: Vec::new() }
    }

    /// Invented toy posts: rumours shout and urge sharing, the others are plain notices.
    fn toy() -> Vec<Example> {
        let rumours = [
            "紧急扩散！听说明天全市停水三天，赶紧转发",
            "震惊！网传烈士陵园要被拆了，大家快转发",
            "内部消息：抚恤金下个月起全部停发，速转",
            "千万别去东湖公园，听说有人被抢了，扩散",
            "重磅消息！退役军人补贴取消，不转不是中国人",
            "据知情人说市医院出大事了，快转给家人",
            "紧急通知！今晚全城封路，转发告诉朋友",
            "听说自来水有毒，千万别喝，赶紧扩散",
            "网传光荣院被卖给开发商了，震惊，转发",
            "快转！听说优抚金要收回，内部消息",
        ];
        let others = [
            "市退役军人事务局召开冬季工作部署会议",
            "关于第四季度优抚对象定期抚恤金发放的公告",
            "市光荣院开展消防应急演练",
            "退役军人专场招聘会将于周六在会展中心举行",
            "市政府发布年度财政预算执行情况报告",
            "烈士陵园清明节期间开放时间调整的通知",
            "市医院开通老年人就医绿色通道",
            "东湖公园改造工程顺利通过验收",
            "全市开展双拥模范城创建工作推进会",
            "关于调整部分优抚对象抚恤补助标准的通知",
        ];
        rumours.iter().map(|t| ex(t, true)).chain(others.iter().map(|t| ex(t, false))).collect()
    }

    /// Regression (2026-12-04): the keyword lists folded traditional characters and the
    /// model did not, so a rumour copied in traditional script lost most of its n-grams
    /// (cross-set recall 0.55 → 0.17 on the public sets converted by OpenCC).
    #[test]
    fn a_post_in_traditional_characters_reads_as_the_same_post_in_simplified() {
        let data = toy();
        let params = TrainParams { min_df: 1, ..TrainParams::default() };
        let (model, _) = fit(&data, &params);
        let (simplified, traditional) =
            ("震惊！网传烈士陵园要被拆了，大家快转发", "震驚！網傳烈士陵園要被拆了，大家快轉發");
        assert_eq!(model.probability("", traditional), model.probability("", simplified));
        let v = model.judge("", traditional);
        assert_eq!(v, model.judge("", simplified), "the same verdict and the same reasons, in simplified");
        assert!(v.fired, "{v:?}");
        // Replies too.
        let replies_model = fit(&with_replies(), &TrainParams { comments: 20, ..params }).0;
        let (s, t) = (["辟谣了，是假的"], ["闢謠了，是假的"]);
        assert_eq!(
            replies_model.probability_with_comments("", "停水", &t),
            replies_model.probability_with_comments("", "停水", &s)
        );
        // A model trained without folding reads the scripts apart.
        let (unfolded, _) = fit(&data, &TrainParams { fold: false, ..params });
        assert!(unfolded.probability("", traditional) < unfolded.probability("", simplified));
    }

    #[test]
    fn separates_an_obviously_separable_set() {
        let data = toy();
        let (model, report) = fit(&data, &TrainParams { min_df: 1, ..TrainParams::default() });
        assert_eq!((report.examples, report.rumours), (20, 10));
        for e in &data {
            let p = model.probability(&e.title, &e.text);
            assert_eq!(p >= 0.5, e.rumour, "{} → {p}", e.text);
        }
        assert!(
            model.probability("", "听说明天停水，紧急扩散，快转发") > model.probability("", "市政府召开工作部署会议")
        );
    }

    #[test]
    fn training_is_deterministic() {
        let data = toy();
        let (a, _) = fit(&data, &TrainParams::default());
        let (b, _) = fit(&data, &TrainParams::default());
        assert_eq!(a.to_text(), b.to_text());
        assert!(!a.weights().is_empty());
    }

    #[test]
    fn threshold_maximises_f1() {
        let scored = [(0.9, true), (0.8, true), (0.7, false), (0.6, true), (0.2, false)];
        let (t, f1, p, r) = best_f1_threshold(&scored);
        assert_eq!(t, 0.6);
        assert!((f1 - 6.0 / 7.0).abs() < 1e-9 && (p - 0.75).abs() < 1e-9 && (r - 1.0).abs() < 1e-9);
        let tied = [(0.5, true), (0.5, false), (0.1, false)];
        assert_eq!(best_f1_threshold(&tied).0, 0.5);
    }

    #[test]
    fn the_flag_threshold_is_the_lowest_cut_reaching_the_precision() {
        let scored = [(0.9, true), (0.8, true), (0.7, false), (0.6, true), (0.5, true), (0.4, false), (0.2, false)];
        // From 0.5 up: 4 of 5 right (0.8); from 0.6 up 3 of 4 (0.75); from 0.8 up 2 of 2.
        assert_eq!(precision_threshold(&scored, 0.8).map(|t| t.0), Some(0.5));
        assert_eq!(precision_threshold(&scored, 0.9).map(|t| (t.0, t.2, t.3)), Some((0.8, 1.0, 0.5)));
        assert_eq!(precision_threshold(&[(0.9, false), (0.1, true)], 0.6), None);
    }

    #[test]
    fn thresholds_come_from_every_fifth_by_default_and_from_one_with_one_fold() {
        let data = toy();
        let (model, all) = fit(&data, &TrainParams::default());
        assert_eq!(all.held_out, data.len(), "five folds: every example scored by a model that never saw it");
        let (one_model, one) = fit(&data, &TrainParams { folds: 1, ..TrainParams::default() });
        let fifth = data.iter().filter(|e| stable_hash(&model_input(&e.title, &e.text)).is_multiple_of(5)).count();
        assert_eq!(one.held_out, fifth);
        assert!(fifth > 0 && fifth < data.len());
        // The folds pick the cuts only: the weights are the same.
        assert_eq!(model.weights(), one_model.weights());
    }

    fn rows_of(data: &[Example], spec: &FeatureSpec) -> Vec<Row> {
        data.iter()
            .map(|e| Row { x: features_of(&model_input(&e.title, &e.text), spec), y: e.rumour, weight: e.weight })
            .collect()
    }

    #[test]
    fn nb_ratios_favour_buckets_of_one_class_and_idf_rare_buckets() {
        let data = [ex("谣谣", true), ex("谣共", true), ex("共官", false), ex("官官", false), ex("共", false)];
        let spec = FeatureSpec::chars(12, 1, 1);
        let rows = rows_of(&data, &spec);
        let refs: Vec<&Row> = rows.iter().collect();
        let bucket = |c: &str| features_of(c, &spec)[0].0 as usize;
        let usable = vec![true; 1 << 12];
        let r = nb_ratios(&refs, &usable);
        // Rumours hold 谣 twice and 共 once; the others 共 twice and 官 twice.
        assert!(r[bucket("谣")] > 0.5, "{}", r[bucket("谣")]);
        assert!(r[bucket("官")] < -0.5, "{}", r[bucket("官")]);
        assert!(r[bucket("共")].abs() < r[bucket("谣")].abs(), "shared buckets start nearer zero");
        let mut df = vec![0u32; 1 << 12];
        for row in &rows {
            for (b, _) in &row.x {
                df[*b as usize] += 1;
            }
        }
        let i = idf(rows.len(), &df, &usable);
        assert!(i[bucket("谣")] > i[bucket("共")], "共 is in three texts, 谣 in two");
        assert_eq!(i[bucket("共")], (1.0 + (6.0f64 / 4.0).ln()) as f32);
        let mut none = usable.clone();
        none[bucket("谣")] = false;
        assert_eq!((nb_ratios(&refs, &none)[bucket("谣")], idf(5, &df, &none)[bucket("谣")]), (0.0, 0.0));
    }

    #[test]
    fn nb_weighting_leans_on_the_rumour_cues_more_than_plain_lr() {
        let data = toy();
        let plain = TrainParams { min_df: 1, ..TrainParams::default() };
        let nb = TrainParams { weighting: Weighting::Nb, ..plain };
        let (a, _) = fit(&data, &plain);
        let (b, _) = fit(&data, &nb);
        for e in &data {
            assert_eq!(b.probability(&e.title, &e.text) >= 0.5, e.rumour, "{}", e.text);
        }
        // An unseen post made of the rumours' cue words only.
        let cues = "听说紧急扩散，赶紧转发";
        assert!(
            b.probability("", cues) > a.probability("", cues),
            "{} {}",
            b.probability("", cues),
            a.probability("", cues)
        );
        assert!(b.probability("", cues) > 0.9, "{}", b.probability("", cues));
        let verdict = b.judge("", cues);
        assert!(!verdict.cues.is_empty(), "an NB verdict is explained too");
        assert_ne!(a.to_text(), b.to_text());
    }

    #[test]
    fn weighted_models_retrain_byte_identically_and_round_trip_through_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (i, params) in [
            TrainParams { weighting: Weighting::Nb, ..TrainParams::default() },
            TrainParams { weighting: Weighting::Idf, ..TrainParams::default() },
            TrainParams { ensemble: true, ..TrainParams::default() },
        ]
        .iter()
        .enumerate()
        {
            let (a, _) = fit(&toy(), params);
            let (b, _) = fit(&toy(), params);
            assert_eq!(a.to_text(), b.to_text(), "{params:?}");
            let path = dir.path().join(format!("{i}.model"));
            a.save(&path).expect("save");
            let loaded = RumourModel::load(&path).expect("load");
            assert_eq!(loaded, a, "{params:?}");
            assert_eq!(loaded.probability("", "听说紧急扩散"), a.probability("", "听说紧急扩散"));
        }
        let (idf_model, _) =
            fit(&toy(), &TrainParams { weighting: Weighting::Idf, min_df: 1, ..TrainParams::default() });
        let (plain, _) = fit(&toy(), &TrainParams { min_df: 1, ..TrainParams::default() });
        assert_ne!(idf_model.weights(), plain.weights(), "IDF changes the weights");
    }

    #[test]
    fn the_ensemble_is_the_mean_of_the_plain_and_the_nb_model() {
        let data = toy();
        let base = TrainParams { min_df: 1, ..TrainParams::default() };
        let (plain, _) = fit(&data, &base);
        let (nb, _) = fit(&data, &TrainParams { weighting: Weighting::Nb, ..base });
        let (both, _) = fit(&data, &TrainParams { ensemble: true, weighting: Weighting::Idf, ..base });
        assert_eq!(both.bias, 0.5 * (plain.bias + nb.bias));
        let dense = |m: &RumourModel| {
            let mut d = vec![0f32; 1 << base.bits];
            for (b, w) in m.weights() {
                d[*b as usize] = *w;
            }
            d
        };
        let (p, n, e) = (dense(&plain), dense(&nb), dense(&both));
        assert!(p.iter().zip(&n).zip(&e).all(|((p, n), e)| *e == 0.5 * (p + n)));
        for e in &data {
            let x = features_of(&model_input(&e.title, &e.text), &base.spec());
            let z = |m: &RumourModel| m.bias + m.dot(&x);
            assert!((z(&both) - 0.5 * (z(&plain) + z(&nb))).abs() < 1e-4, "{}", e.text);
        }
    }

    /// Posts that read alike in both classes; only their replies tell them apart.
    fn with_replies() -> Vec<Example> {
        let posts = [
            "市区明天停水的消息",
            "东湖公园有人被抢的消息",
            "抚恤金下月调整的消息",
            "光荣院搬迁的消息",
            "市医院停诊的消息",
            "全城封路的消息",
            "自来水检测结果的消息",
            "退役军人补贴发放的消息",
        ];
        let mut out = Vec::new();
        for (i, p) in posts.iter().enumerate() {
            for rumour in [true, false] {
                let comments: Vec<String> = if rumour {
                    vec!["官方已经辟谣了".into(), "这是假的吧".into(), format!("别信{i}")]
                } else {
                    vec!["谢谢通知".into(), "收到".into(), format!("辛苦了{i}")]
                };
                out.push(Example { comments, ..ex(p, rumour) });
            }
        }
        out
    }

    #[test]
    fn a_reaction_model_reads_replies_and_names_them() {
        let data = with_replies();
        let params = TrainParams { min_df: 1, comments: 50, min_comments: 2, ..TrainParams::default() };
        let (model, report) = fit(&data, &params);
        let (content, _) = fit(&data, &TrainParams { comments: 0, ..params });
        let reaction = model.reaction.as_deref().expect("a reaction part");
        assert_eq!((reaction.spec.comments, model.min_comments), (50, 2));
        assert!(report.reaction.is_some());
        let mut content_part = model.clone();
        (content_part.reaction, content_part.min_comments) = (None, 0);
        assert_eq!(content_part, content, "the content part is the model trained without --comments");
        let doubted = ["官方辟谣了", "假的"];
        let thanked = ["谢谢通知", "收到"];
        let p = |c: &[&str]| model.probability_with_comments("", "市区明天停水的消息", c);
        assert!(p(&doubted) > 0.5 && p(&thanked) < 0.5, "{} {}", p(&doubted), p(&thanked));
        // Fewer than min_comments replies: the content model judges, exactly as without.
        let none: [&str; 0] = [];
        assert_eq!(model.judge_with_comments("", "市区明天停水的消息", &none), model.judge("", "市区明天停水的消息"));
        assert_eq!(model.judge_with_comments("", "市区停水", &["假的"]), model.judge("", "市区停水"));
        assert_eq!(
            model.judge_with_comments("", "市区停水", &["假的", " "]).replies,
            0,
            "blank replies count for nothing"
        );
        // Thresholds from held-out scores of 16 posts say little: fixed ones for the reason.
        let mut model = model;
        if let Some(r) = model.reaction.as_deref_mut() {
            (r.threshold, r.review) = (0.5, 0.5);
        }
        let v = model.judge_with_comments("", "市区明天停水的消息", &doubted);
        assert_eq!(v.replies, 2);
        assert!(v.fired, "{v:?}");
        assert!(v.cues.iter().any(|c| c.starts_with("评论")), "{:?}", v.cues);
        assert!(v.reason_zh().starts_with("文本+评论模型（2 条评论）"), "{}", v.reason_zh());
        assert_eq!(model.judge_plain_with_comments("", "市区明天停水的消息", &doubted), v);
        // From 0 on (rumour eval --min-comments 0) it judges posts without replies too.
        let always = model.using_reaction_from(0);
        let forced = always.judge_with_comments("", "市区明天停水的消息", &none);
        assert!(forced.by_reaction && forced.replies == 0, "{forced:?}");
        assert!(!model.judge_with_comments("", "市区停水", &["假的"]).by_reaction);
        assert_ne!(
            always.probability_with_comments("", "市区明天停水的消息", &none),
            model.probability("", "市区明天停水的消息")
        );
    }

    #[test]
    fn reaction_training_is_deterministic_and_round_trips_through_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let params = TrainParams { comments: 20, min_comments: 1, ..TrainParams::default() };
        let (a, _) = fit(&with_replies(), &params);
        let (b, _) = fit(&with_replies(), &params);
        assert_eq!(a.to_text(), b.to_text());
        assert!(a.to_text().starts_with("yuqing-rumour-model 5\n"));
        let path = dir.path().join("r.model");
        a.save(&path).expect("save");
        let loaded = RumourModel::load(&path).expect("load");
        assert_eq!(loaded, a);
        let c = ["辟谣了", "假的"];
        assert_eq!(loaded.probability_with_comments("", "停水", &c), a.probability_with_comments("", "停水", &c));
        let unfolded = TrainParams { fold: false, ..params };
        assert!(fit(&with_replies(), &unfolded).0.to_text().starts_with("yuqing-rumour-model 4\n"));
        let (plain, _) = fit(&with_replies(), &TrainParams { fold: false, ..TrainParams::default() });
        assert!(plain.to_text().starts_with("yuqing-rumour-model 3\n"), "a content model that does not fold: format 3");
    }

    #[test]
    fn the_review_band_starts_at_or_below_the_flag() {
        let (model, report) = fit(&toy(), &TrainParams { min_df: 1, ..TrainParams::default() });
        assert!(model.review <= model.threshold, "{} {}", model.review, model.threshold);
        assert!(report.held_out_precision >= 0.9 || report.held_out_precision == report.review_precision);
    }
}
