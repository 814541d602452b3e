//! Near-duplicate detection: documents about one story — copies, light rewrites, reposts
//! quoting it — fall into one cluster. Each text becomes a set of character 3-gram
//! shingles (after dropping whitespace and punctuation); a document joins the cluster of
//! the earlier document it resembles most — Jaccard similarity, or containment of the
//! shorter text in the longer — when that is at or above the threshold. An inverted index
//! over shingles keeps candidate lookups cheap. A document's shingles are kept as a sorted
//! slice (8 bytes each; a hash set took about twice that), intersected by merging. Pure; the
//! time window is the caller's.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const K: usize = 3;

/// Shingles that occur in more earlier documents than this say little about which story a
/// text belongs to (转发微博 …) and are not used to find candidates.
const COMMON: usize = 64;

/// Shingles are already well-mixed u64s: hash them with one multiplication, not SipHash.
#[derive(Default)]
pub struct ShingleHasher(u64);

impl Hasher for ShingleHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

type Fast = BuildHasherDefault<ShingleHasher>;
/// A shingle set: sorted, without duplicates.
pub type Shingles = Box<[u64]>;

/// The shingle set of a text.
pub fn shingles(text: &str) -> Shingles {
    let chars: Vec<char> = text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect();
    let mut set: Vec<u64> = match chars.len() {
        0 => Vec::new(),
        n if n < K => vec![pack(&chars)],
        _ => chars.windows(K).map(pack).collect(),
    };
    set.sort_unstable();
    set.dedup();
    set.into_boxed_slice()
}

/// A key for the text's letters and digits (what shingling sees), order kept.
fn exact_key(text: &str) -> u64 {
    let mut h = ShingleHasher::default();
    for c in text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase) {
        h.write(&u32::from(c).to_le_bytes());
    }
    h.finish()
}

/// Up to three code points (21 bits each) packed into one u64: distinct windows, distinct
/// values, no hashing.
fn pack(window: &[char]) -> u64 {
    window.iter().fold(0u64, |acc, c| (acc << 21) | u64::from(*c))
}

/// max(Jaccard, containment of the smaller set in the larger).
pub fn similarity(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let common = common(a, b) as f64;
    let jaccard = common / (a.len() as f64 + b.len() as f64 - common).max(1.0);
    let containment = common / a.len().min(b.len()) as f64;
    jaccard.max(containment * containment_weight(a.len().min(b.len())))
}

/// The number of shingles two sets share (a merge of the sorted slices).
fn common(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        match x.cmp(y) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Containment of very short texts says little (a 5-character post is "contained" in many
/// stories), so it counts fully only from 20 shingles up.
fn containment_weight(shorter: usize) -> f64 {
    (shorter as f64 / 20.0).min(1.0)
}

/// A text ready to be looked up and inserted: its shingles and exact-copy key.
#[derive(Debug, Clone)]
pub struct Probe {
    set: Shingles,
    fingerprint: u64,
}

impl Probe {
    pub fn of(text: &str) -> Self {
        Probe { set: shingles(text), fingerprint: exact_key(text) }
    }
}

/// Incremental clustering.
#[derive(Debug)]
pub struct Clusterer {
    threshold: f64,
    /// Every document seen: its shingles and its cluster.
    documents: Vec<(Shingles, usize)>,
    /// Shingle → documents containing it.
    index: HashMap<u64, Vec<usize>, Fast>,
    /// Exact texts (after shingling) → cluster: a copy is found even when all its
    /// shingles are too common to be looked up.
    exact: HashMap<u64, usize, Fast>,
    clusters: usize,
}

impl Clusterer {
    pub fn new(threshold: f64) -> Self {
        Self { threshold, documents: Vec::new(), index: HashMap::default(), exact: HashMap::default(), clusters: 0 }
    }

    /// The cluster id of `text`, creating a new cluster when it resembles no earlier text.
    pub fn add(&mut self, text: &str) -> usize {
        let probe = Probe::of(text);
        let cluster = match self.nearest(&probe) {
            Some((cluster, _)) => cluster,
            None => self.new_cluster(),
        };
        self.insert(probe, cluster);
        cluster
    }

    /// A fresh cluster id.
    pub fn new_cluster(&mut self) -> usize {
        self.clusters += 1;
        self.clusters - 1
    }

    /// The cluster `probe` resembles most, with the similarity (1.0 for an exact copy),
    /// when at or above the threshold. Changes nothing.
    pub fn nearest(&self, probe: &Probe) -> Option<(usize, f64)> {
        if let Some(&cluster) = self.exact.get(&probe.fingerprint) {
            return Some((cluster, 1.0));
        }
        let mut shared: HashMap<usize, usize, Fast> = HashMap::default();
        for s in &probe.set {
            let docs = self.index.get(s).map_or(&[][..], Vec::as_slice);
            if docs.len() > COMMON {
                continue;
            }
            for &doc in docs {
                *shared.entry(doc).or_default() += 1;
            }
        }
        let mut candidates: Vec<(usize, usize)> = shared.into_iter().collect();
        candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        // Shingles shared by many documents (a site's boilerplate such as 补充点评 2007年…)
        // say nothing about the story: a candidate that passes on all shingles must also pass
        // on the others (computed only then: it costs a lookup per shingle).
        let informative = |set: &[u64]| -> Shingles {
            set.iter().filter(|s| self.index.get(*s).is_none_or(|d| d.len() <= COMMON)).copied().collect()
        };
        let mut probe_set: Option<Shingles> = None;
        candidates
            .into_iter()
            .take(16)
            .map(|(doc, _)| (self.documents[doc].1, similarity(&probe.set, &self.documents[doc].0), doc))
            .filter(|(_, sim, _)| *sim >= self.threshold)
            .map(|(cluster, sim, doc)| {
                let probe_set = probe_set.get_or_insert_with(|| informative(&probe.set));
                (cluster, sim.min(similarity(probe_set, &informative(&self.documents[doc].0))))
            })
            .filter(|(_, sim)| *sim >= self.threshold)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
    }

    /// Records `probe` as a member of `cluster` (an id from [`Self::new_cluster`] or
    /// [`Self::nearest`]).
    pub fn insert(&mut self, probe: Probe, cluster: usize) {
        self.exact.insert(probe.fingerprint, cluster);
        let id = self.documents.len();
        for s in &probe.set {
            self.index.entry(*s).or_default().push(id);
        }
        self.documents.push((probe.set, cluster));
    }

    pub fn clusters(&self) -> usize {
        self.clusters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORY: &str =
        "网传临江市烈士陵园将被拆迁改建商业综合体，市退役军人事务局回应：系不实信息，烈士陵园不会拆迁。";

    #[test]
    fn copies_rewrites_and_quoting_reposts_join_one_cluster() {
        let mut c = Clusterer::new(0.5);
        let first = c.add(STORY);
        let variants = [
            STORY.to_string(),
            format!("【转载】{STORY}（来源：临江日报）"),
            "网传临江市烈士陵园将被拆迁改建为商业综合体？市退役军人事务局回应称系不实信息，烈士陵园不会拆迁"
                .to_string(),
            format!("转发微博：大家别信谣！//{STORY}"),
        ];
        for v in &variants {
            assert_eq!(c.add(v), first, "{v}");
        }
        let unrelated = [
            "临江市举办2026年度退役军人专场招聘会，120家企业提供岗位3000余个。",
            "市光荣院开展冬季消防应急演练，提升入住优抚对象安全意识。",
            "关于发放第四季度优抚对象定期抚恤金的公告。",
            "烈士",
        ];
        for u in unrelated {
            assert_ne!(c.add(u), first, "{u}");
        }
        assert_eq!(c.clusters(), 1 + unrelated.len());
    }

    #[test]
    fn similarity_bounds() {
        let a = shingles(STORY);
        assert!((similarity(&a, &a) - 1.0).abs() < 1e-9);
        assert_eq!(similarity(&a, &Shingles::default()), 0.0);
        assert!(similarity(&a, &shingles("完全无关的一句话，讲的是天气晴朗。")) < 0.1);
        assert_eq!(shingles("哈哈，哈哈哈").len(), 1, "a set: no repeats");
        // {甲乙丙, 乙丙丁} and {乙丙丁, 丙丁戊} share one of three: Jaccard 1/3.
        assert!((similarity(&shingles("甲乙丙丁"), &shingles("乙丙丁戊")) - 1.0 / 3.0).abs() < 1e-9);
    }
}
