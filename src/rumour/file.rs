//! The model file `rumour.model`: a small, versioned text file holding only non-zero
//! weights. Loading checks every line and names the file in any error.
//!
//! ```text
//! yuqing-rumour-model 2      ← magic and format version
//! bits 20                    ← 2^bits hash buckets
//! ngrams 1 3                 ← character n-gram range
//! threshold 0.62             ← the 谣言 flag's threshold, chosen on held-out training data
//! review 0.41                ← the 待核实 band's lower edge (version 2; version 1 files have
//!                              none and load with review = threshold, i.e. no band)
//! bias -0.31
//! weights 81234              ← how many lines follow
//! 17 0.0123                  ← bucket and weight, buckets ascending
//! …
//! end
//! ```
//!
//! Floats are written in Rust's shortest round-trip form, so load(save(m)) == m exactly.

use std::fmt::Write as _;
use std::path::Path;

use super::text::{features, model_input};
use super::{ModelVerdict, RumourError};

pub const MAGIC: &str = "yuqing-rumour-model";
pub const VERSION: u32 = 2;

/// A trained model: sparse weights over hashed n-gram buckets and its threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct RumourModel {
    pub bits: u8,
    pub min_n: usize,
    pub max_n: usize,
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
}

/// Up to 2^22 buckets (16 MB) the weights are also kept as one array.
const DENSE_BITS: u8 = 22;

impl RumourModel {
    /// A model from its parts; `weights` ascending by bucket, each below `2^bits`.
    pub fn new(bits: u8, (min_n, max_n): (usize, usize), bias: f32, weights: Vec<(u32, f32)>) -> Self {
        let mut dense = Vec::new();
        if bits <= DENSE_BITS {
            dense = vec![0.0; 1usize << bits];
            for (b, w) in &weights {
                if let Some(slot) = dense.get_mut(*b as usize) {
                    *slot = *w;
                }
            }
        }
        RumourModel { bits, min_n, max_n, threshold: 0.5, review: 0.5, bias, weights, dense }
    }

    /// The non-zero weights, ascending by bucket.
    pub fn weights(&self) -> &[(u32, f32)] {
        &self.weights
    }

    /// Probability that a post is a rumour, from its raw title and text (markup allowed;
    /// [`model_input`] reads them as every other path does).
    pub fn probability(&self, title: &str, text: &str) -> f32 {
        let f = features(&model_input(title, text), self.bits, self.min_n, self.max_n);
        sigmoid(self.bias + self.dot(&f))
    }

    /// Probability and whether it reaches the threshold.
    pub fn judge(&self, title: &str, text: &str) -> ModelVerdict {
        ModelVerdict::new(self.probability(title, text), self.threshold, self.review)
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
        let _ = writeln!(s, "{MAGIC} {VERSION}");
        let _ = writeln!(s, "bits {}", self.bits);
        let _ = writeln!(s, "ngrams {} {}", self.min_n, self.max_n);
        let _ = writeln!(s, "threshold {}", self.threshold);
        let _ = writeln!(s, "review {}", self.review);
        let _ = writeln!(s, "bias {}", self.bias);
        let _ = writeln!(s, "weights {}", self.weights.len());
        for (b, w) in &self.weights {
            let _ = writeln!(s, "{b} {w}");
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
        let version = version.trim();
        if version != "1" && version != VERSION.to_string() {
            return Err(RumourError::Version { path: path.to_path_buf(), found: version.to_string() });
        }
        if !text.lines().any(|l| l == "end") {
            return Err(RumourError::Truncated { path: path.to_path_buf(), lines: text.lines().count() });
        }
        let mut field = |key: &str| -> Result<(usize, Vec<String>), RumourError> {
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
        let (n, bits) = one(field("bits")?)?;
        let bits: u8 =
            bits.parse().ok().filter(|b| (1..=28).contains(b)).ok_or_else(|| corrupt(n, "bits 应为 1–28"))?;
        let (n, ngrams) = field("ngrams")?;
        let (min_n, max_n) = match ngrams.as_slice() {
            [a, b] => match (a.parse::<usize>(), b.parse::<usize>()) {
                (Ok(a), Ok(b)) if 1 <= a && a <= b && b <= 8 => (a, b),
                _ => return Err(corrupt(n, "ngrams 应为两个 1–8 的整数")),
            },
            _ => return Err(corrupt(n, "ngrams 应为两个整数")),
        };
        let (n, threshold) = one(field("threshold")?)?;
        let threshold =
            finite(&threshold).filter(|t| (0.0..=1.0).contains(t)).ok_or_else(|| corrupt(n, "阈值应在 0–1"))?;
        let mut review = threshold;
        if version != "1" {
            let (n, r) = one(field("review")?)?;
            review = finite(&r)
                .filter(|r| (0.0..=threshold).contains(r))
                .ok_or_else(|| corrupt(n, "待核实阈值应在 0 与阈值之间"))?;
        }
        let (n, bias) = one(field("bias")?)?;
        let bias = finite(&bias).ok_or_else(|| corrupt(n, "bias 不是数"))?;
        let (n, count) = one(field("weights")?)?;
        let expected: usize = count.parse().map_err(|_| corrupt(n, "权重个数不是整数"))?;
        let mut weights: Vec<(u32, f32)> = Vec::with_capacity(expected.min(1 << bits));
        let limit = 1u64 << bits;
        let mut end_line = 0;
        for (n, l) in lines.by_ref() {
            if l == "end" {
                end_line = n;
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
        if let Some((n, _)) = lines.find(|(_, l)| !l.is_empty()) {
            return Err(corrupt(n, "end 之后还有内容"));
        }
        Ok(RumourModel { threshold, review, ..RumourModel::new(bits, (min_n, max_n), bias, weights) })
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

    fn model() -> RumourModel {
        RumourModel {
            threshold: 0.617_283_9,
            review: 0.301,
            ..RumourModel::new(20, (1, 3), -0.1, vec![(3, 0.1), (17, -1.234_567_9e-7), (1_048_575, 3.0)])
        }
    }

    #[test]
    fn the_dense_and_the_sparse_lookup_agree() {
        let dense = model();
        let sparse = RumourModel { dense: Vec::new(), ..model() };
        let f = [(2, 1.0), (3, 0.5), (17, 0.25), (1_048_575, 0.125)];
        assert_eq!(dense.dot(&f), sparse.dot(&f));
        assert_eq!(dense.dot(&f), 0.05 + -1.234_567_9e-7 * 0.25 + 0.375);
        let wide = RumourModel::new(24, (1, 3), 0.0, vec![(16_000_000, 2.0)]);
        assert!(wide.dense.is_empty());
        assert_eq!(wide.dot(&[(16_000_000, 0.5), (5, 1.0)]), 1.0);
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

    fn parse_err(text: &str) -> RumourError {
        RumourModel::parse(Path::new("/cfg/rumour.model"), text.as_bytes()).expect_err("must fail")
    }

    #[test]
    fn a_version_1_file_still_loads_with_no_review_band() {
        let v1 =
            "yuqing-rumour-model 1\nbits 20\nngrams 1 3\nthreshold 0.4\nbias -0.5\nweights 2\n3 0.25\n17 -1\nend\n";
        let m = RumourModel::parse(Path::new("old.model"), v1.as_bytes()).expect("version 1 loads");
        assert_eq!((m.threshold, m.review, m.bias, m.weights()), (0.4, 0.4, -0.5, &[(3, 0.25), (17, -1.0)][..]));
        assert!(m.to_text().starts_with("yuqing-rumour-model 2\n"), "saved again as version 2");
    }

    #[test]
    fn damaged_files_give_typed_errors_naming_the_file() {
        let good = model().to_text();
        let truncated = &good[..good.len() - 12];
        assert!(matches!(parse_err(truncated), RumourError::Truncated { lines: 10, .. }), "{truncated}");
        let cut_at_line = &good[..good.find("1048575").expect("last weight")];
        assert!(matches!(parse_err(cut_at_line), RumourError::Truncated { .. }));
        let one_missing = good.replace("1048575 3\n", "");
        assert!(matches!(parse_err(&one_missing), RumourError::Corrupt { line: 10, .. }), "{one_missing}");
        assert!(matches!(parse_err(&good[..good.len() - 4]), RumourError::Truncated { .. }));
        assert!(matches!(parse_err(""), RumourError::NotAModel { .. }));
        assert!(matches!(parse_err("hello\n"), RumourError::NotAModel { .. }));
        assert!(matches!(parse_err(&good.replace("model 2", "model 3")), RumourError::Version { .. }));
        let e = parse_err(&good.replace("model 2", "model 3")).to_string();
        assert!(e.contains("版本 3") && e.contains("yuqing rumour train 重新训练"), "{e}");
        assert!(matches!(parse_err(&good.replace("bias -0.1", "bias x")), RumourError::Corrupt { line: 6, .. }));
        assert!(matches!(parse_err(&good.replace("review 0.301", "review 0.9")), RumourError::Corrupt { line: 5, .. }));
        assert!(matches!(parse_err(&good.replace("17 ", "2 ")), RumourError::Corrupt { line: 9, .. }));
        assert!(matches!(parse_err(&good.replace("1048575 ", "1048576 ")), RumourError::Corrupt { .. }));
        assert!(matches!(parse_err(&good.replace("threshold 0", "threshold 9")), RumourError::Corrupt { .. }));
        assert!(matches!(parse_err(&format!("{good}1 2\n")), RumourError::Corrupt { .. }));
        let e = parse_err(truncated).to_string();
        assert!(e.contains("/cfg/rumour.model") && e.contains("不完整"), "{e}");
        let bytes = [good.as_bytes(), &[0xFF]].concat();
        assert!(RumourModel::parse(Path::new("x"), &bytes).is_err());
    }
}
