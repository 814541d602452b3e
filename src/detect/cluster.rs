//! Near-duplicate detection: documents about one story — copies, light rewrites, reposts
//! quoting it — fall into one cluster. Each text becomes a set of character 3-gram
//! shingles (after dropping whitespace and punctuation); a document joins the cluster of
//! the earlier document it resembles most — Jaccard similarity, or containment of the
//! shorter text in the longer — when that is at or above the threshold. An inverted index
//! over shingles keeps candidate lookups cheap. A document's shingles are kept as a sorted
//! slice (8 bytes each; a hash set took about twice that), intersected by merging. Pure; the
//! time window is the caller's.
//!
//! Government news is written from templates ("活动现场，工作人员向……详细解读了相关政策"), so
//! shared sentences alone must not make two stories one (the near-duplicate news literature:
//! weighted shingles, title agreement, entity overlap). On top of the shingles:
//! - shingles are weighted by rarity (inverse document frequency over the indexed
//!   documents, from [`MIN_CORPUS`] on): a template sentence every bureau writes counts
//!   for little;
//! - the titles must agree: two titled documents whose titles share almost nothing are one
//!   story only when their texts are near-exact copies (a re-headlined repost);
//! - what one title names (a programme, an amount) must occur in the other document;
//! - the places must agree: two documents naming places (洛阳市, 南充市, 某某县) in their
//!   titles or leads, none in common, are two stories however alike their wording.
//!
//! Each document's [`Identity`] carries what these rules need; an untitled post is known
//! by its first sentence, which counts as a headline only when it reposts an original.

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

/// Appends what shingling sees of `text` to `out`: its letters and digits, lower-cased.
/// ASCII and the CJK Unified Ideographs block (every one a letter that is its own lower
/// case, checked by a test) skip the Unicode tables.
fn push_letters(text: &str, out: &mut Vec<char>) {
    out.reserve(text.len() / 3);
    for c in text.chars() {
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            }
        } else if is_cjk_unified(c) {
            out.push(c);
        } else if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        }
    }
}

/// The CJK Unified Ideographs block: letters, each its own lower case.
fn is_cjk_unified(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c)
}

/// What shingling sees of `text`, collected.
fn letter_vec(text: &str) -> Vec<char> {
    let mut out = Vec::new();
    push_letters(text, &mut out);
    out
}

/// The shingle set of a text.
pub fn shingles(text: &str) -> Shingles {
    grams(text, K)
}

/// The distinct character `k`-grams of a text's letters and digits (the whole text when it
/// is shorter), sorted.
fn grams(text: &str, k: usize) -> Shingles {
    grams_of(&letter_vec(text), k)
}

/// [`grams`] of letters already collected.
fn grams_of(chars: &[char], k: usize) -> Shingles {
    let mut set: Vec<u64> = match chars.len() {
        0 => Vec::new(),
        n if n < k => vec![pack(chars)],
        _ => chars.windows(k).map(pack).collect(),
    };
    set.sort_unstable();
    set.dedup();
    set.into_boxed_slice()
}

/// A key for the text's letters and digits (what shingling sees), order kept.
#[cfg(test)]
fn exact_key(text: &str) -> u64 {
    exact_key_of(&letter_vec(text))
}

/// [`exact_key`] of letters already collected.
fn exact_key_of(chars: &[char]) -> u64 {
    let mut h = ShingleHasher::default();
    for c in chars {
        h.write(&u32::from(*c).to_le_bytes());
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

/// max(weighted Jaccard, weighted containment) of the probe `a` (its shingles' weights in
/// `a_weights`, in order) and an indexed document `b`, whose own shingles are weighted by
/// `weight`.
fn weighted_similarity(a: &[u64], a_weights: &[f64], b: &[u64], weight: &impl Fn(&u64) -> f64) -> f64 {
    let total_a: f64 = a_weights.iter().sum();
    let (mut i, mut j, mut shared, mut only_b) = (0, 0, 0.0, 0.0);
    while let Some(y) = b.get(j) {
        match a.get(i).map(|x| x.cmp(y)) {
            Some(Ordering::Less) => i += 1,
            Some(Ordering::Equal) => {
                shared += a_weights[i];
                i += 1;
                j += 1;
            }
            Some(Ordering::Greater) | None => {
                only_b += weight(y);
                j += 1;
            }
        }
    }
    let total_b = shared + only_b;
    if total_a <= 0.0 || total_b <= 0.0 {
        return 0.0;
    }
    let jaccard = shared / (total_a + only_b);
    let containment = shared / total_a.min(total_b);
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

/// The longest piece of evidence shown, in characters.
const EVIDENCE_CHARS: usize = 16;
/// Rarity says something only over a corpus: below this many indexed documents shingles
/// are not weighted.
const MIN_CORPUS: usize = 32;
/// Below this title similarity two titled documents are one story only as near-exact
/// copies (body similarity at or above [`REHEADLINED`]).
const TITLE_AGREEMENT: f64 = 0.25;
/// A re-headlined copy: the texts are this alike whatever the titles say.
const REHEADLINED: f64 = 0.85;
/// The share of a title's own characters the other document must contain.
const NOVEL_FOUND: f64 = 0.6;
/// How much of a text's start counts as its lead, where the story's places are named.
const LEAD_CHARS: usize = 120;

/// What tells one story from another beyond its wording: the title's character bigrams and
/// the places named in the title and lead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    title: Shingles,
    places: Box<[u64]>,
    /// The title's characters, and every character of the title and text (sorted, distinct).
    title_chars: Box<[u32]>,
    chars: Box<[u32]>,
    /// The document has no title of its own: its title here is its first sentence —
    /// a headline only when it is a repost's original ("转发微博：评论//原文标题。…").
    untitled: bool,
    repost: bool,
}

impl Identity {
    /// The identity of a document with this title and text.
    pub fn of(title: &str, text: &str) -> Self {
        Self::with_letters(title, text, &letter_vec(text))
    }

    /// [`Self::of`], given what shingling sees of `text` ([`letter_vec`]).
    fn with_letters(title: &str, text: &str, text_letters: &[char]) -> Self {
        let lead_end = text.char_indices().nth(LEAD_CHARS).map_or(text.len(), |(i, _)| i);
        let mut places = places_in(title);
        places.extend(places_in(&text[..lead_end]));
        places.sort_unstable();
        places.dedup();
        let title = strip_column(title);
        // An untitled post (Weibo) is known by its first sentence, of the original when
        // it is a repost ("转发微博：评论//原文").
        let mut title_letters = letter_vec(title);
        let mut title_bigrams = grams_of(&title_letters, 2);
        let untitled = title_bigrams.len() < 3;
        if untitled {
            let lead_title = first_sentence(text);
            title_letters = letter_vec(strip_column(&lead_title));
            title_bigrams = grams_of(&title_letters, 2);
        }
        let title_chars = char_set(title_letters.iter().copied());
        let chars = char_set(title_letters.iter().chain(text_letters).copied());
        Identity {
            title: title_bigrams,
            places: places.into_boxed_slice(),
            title_chars,
            chars,
            untitled,
            repost: text.contains("//"),
        }
    }

    /// Why `self` and `other` cannot be one story, if they cannot, given the similarity of
    /// their texts.
    pub fn conflict(&self, other: &Identity, similarity: f64) -> Option<Conflict> {
        self.distinct(other).or(self.titles_disagree(other, similarity).then_some(Conflict::Titles))
    }

    /// Two titled documents whose titles share almost nothing, and whose texts are not
    /// near-exact copies.
    fn titles_disagree(&self, other: &Identity, similarity: f64) -> bool {
        let headlines = !(self.untitled && other.untitled) || (self.repost && other.repost);
        let titled = headlines && self.title.len() >= 3 && other.title.len() >= 3;
        titled && similarity < REHEADLINED && title_similarity(&self.title, &other.title) < TITLE_AGREEMENT
    }

    /// Why two documents are two stories whatever the similarity of their texts: their
    /// places, or what one title names that the other document never mentions.
    fn distinct(&self, other: &Identity) -> Option<Conflict> {
        if !self.places.is_empty() && !other.places.is_empty() && common(&self.places, &other.places) == 0 {
            return Some(Conflict::Places);
        }
        // What one title says that the other does not (a programme, an amount) must be
        // found in the other document: "双拥工作" vs "优抚金发放" in one template, however
        // alike the rest of the texts (splitting a copy costs an extra alert; merging two
        // stories hides one). An untitled post (a repost) must carry the title's words.
        if !(self.told_by(other) && other.told_by(self)) {
            return Some(Conflict::Terms);
        }
        None
    }

    /// Whether the characters of this title that `other`'s title lacks (all of them when
    /// it has none) mostly occur in `other`'s title or text (vacuously, when fewer than two).
    fn told_by(&self, other: &Identity) -> bool {
        if self.title.len() < 3 || self.title_chars == other.title_chars {
            return true;
        }
        // Two untitled posts' first sentences are no headlines (a Weibo post's lead-in
        // varies from copy to copy) unless both repost an original.
        if self.untitled && other.untitled && !(self.repost && other.repost) {
            return true;
        }
        // Both sets are sorted: walk them together (novel = not in the other title; found =
        // novel and in the other document).
        let (mut novel, mut found) = (0usize, 0usize);
        let (mut t, mut d) = (0, 0);
        for c in self.title_chars.iter() {
            while other.title_chars.get(t).is_some_and(|x| x < c) {
                t += 1;
            }
            if other.title_chars.get(t) == Some(c) {
                continue;
            }
            novel += 1;
            while other.chars.get(d).is_some_and(|x| x < c) {
                d += 1;
            }
            found += usize::from(other.chars.get(d) == Some(c));
        }
        novel < 2 || found as f64 >= NOVEL_FOUND * novel as f64
    }
}

/// Why two documents are two stories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// Each names places, none in common.
    Places,
    /// Their titles share almost nothing and their texts are not copies.
    Titles,
    /// What one title names (a programme, an amount) the other document never mentions.
    Terms,
}

/// The distinct letters and digits (as [`push_letters`] gives them) of a text, sorted.
fn char_set(letters: impl Iterator<Item = char>) -> Box<[u32]> {
    let mut set: Vec<u32> = letters.map(u32::from).collect();
    set.sort_unstable();
    set.dedup();
    set.into_boxed_slice()
}

/// A title without a column label in front ("媒体关注：", "【通知公告】") or a short note
/// behind ("（摘要）", "(图)"): such labels are shared by unrelated stories of one site and
/// added by sites that carry a story.
fn strip_column(title: &str) -> &str {
    let mut title = title.trim();
    if let Some(rest) = title.strip_prefix('【').and_then(|t| t.split_once('】')).map(|(_, r)| r) {
        title = rest.trim();
    } else if let Some((label, rest)) = title.split_once(['：', ':'])
        && label.chars().count() <= 6
        && !rest.trim().is_empty()
    {
        title = rest.trim();
    }
    for (open, close) in [('（', '）'), ('(', ')')] {
        if let Some(inner) = title.strip_suffix(close)
            && let Some((head, note)) = inner.rsplit_once(open)
            && note.chars().count() <= 6
            && !head.trim().is_empty()
        {
            return head.trim();
        }
    }
    title
}

/// The first sentence of a post's original text (after the last "//" of a repost), at
/// most 40 characters.
fn first_sentence(text: &str) -> String {
    let original = text.rsplit_once("//").map_or(text, |(_, o)| o);
    let original =
        original.split_once(['：', ':']).filter(|(user, _)| user.starts_with('@')).map_or(original, |(_, o)| o);
    // Up to the first sentence end after at least 8 characters ("辟谣！" alone says little).
    let mut out = String::new();
    for c in original.trim().chars().take(40) {
        if matches!(c, '。' | '！' | '？' | '!' | '?' | '\n') && out.chars().count() >= 8 {
            break;
        }
        out.push(c);
    }
    out
}

/// max(Jaccard, containment) of two titles' bigrams.
fn title_similarity(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let common = common(a, b) as f64;
    (common / (a.len() + b.len()) as f64 * 2.0).max(common / a.len().min(b.len()) as f64 * 0.8)
}

/// Administrative suffixes that end a place name.
const PLACE_SUFFIXES: [char; 6] = ['省', '市', '县', '区', '州', '镇'];
/// Characters that end words ending in a place suffix but are no place (全市, 本区, 城区,
/// 超市, 门市, 社区, 辖区, 小区, 新区 …): a candidate whose second character is one is skipped.
const NOT_PLACE_END: &str = "全本该各我此城超门社辖景园校街郊小市县省区镇乡村老灾片新军营战特学厂矿分";
/// Function words that cannot begin a two-character place name (在全市 is caught above;
/// 向该县 …).
const NOT_PLACE_START: &str = "在于和与及的了为是将向对从到每某各全本该此其";

/// Place names (two CJK characters before an administrative suffix) in `text`, hashed.
fn places_in(text: &str) -> Vec<u64> {
    let cjk = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
    let mut out = Vec::new();
    let (mut first, mut second) = ('\0', '\0');
    for c in text.chars() {
        if PLACE_SUFFIXES.contains(&c)
            && cjk(first)
            && cjk(second)
            && !NOT_PLACE_START.contains(first)
            && !NOT_PLACE_END.contains(second)
        {
            out.push(pack(&[first, second, c]));
        }
        (first, second) = (second, c);
    }
    out
}

/// A text ready to be looked up and inserted: its shingles, exact-copy key and identity.
#[derive(Debug, Clone)]
pub struct Probe {
    set: Shingles,
    fingerprint: u64,
    identity: Identity,
}

impl Probe {
    /// A text without title or identity (only its wording counts).
    pub fn of(text: &str) -> Self {
        let letters = letter_vec(text);
        Probe { set: grams_of(&letters, K), fingerprint: exact_key_of(&letters), identity: Identity::default() }
    }

    /// A story: its title and text, compared on wording, title and places.
    pub fn story(title: &str, text: &str) -> Self {
        // What shingling sees of "{title} {text}": the title's letters, then the text's.
        let text_letters = letter_vec(text);
        let mut whole = letter_vec(title);
        whole.extend_from_slice(&text_letters);
        Probe {
            set: grams_of(&whole, K),
            fingerprint: exact_key_of(&whole),
            identity: Identity::with_letters(title, text, &text_letters),
        }
    }
}

/// The documents that contain one shingle. Most shingles of a story are in no other
/// document, so a single posting is held inline (no allocation: 8 bytes instead of a
/// vector's 24 and its heap block); a shingle in more than [`COMMON`] documents is never
/// used to find candidates again, so only its count is kept (for its rarity weight).
/// At 10,000 open events this halves the index.
#[derive(Debug, Clone)]
enum Postings {
    One(u32),
    Many(Vec<u32>),
    Common(usize),
}

impl Postings {
    /// The documents, empty for a common shingle.
    fn as_slice(&self) -> &[u32] {
        match self {
            Postings::One(doc) => std::slice::from_ref(doc),
            Postings::Many(docs) => docs,
            Postings::Common(_) => &[],
        }
    }

    /// How many documents contain it.
    fn len(&self) -> usize {
        match self {
            Postings::Common(n) => *n,
            p => p.as_slice().len(),
        }
    }

    fn push(&mut self, doc: u32) {
        match self {
            Postings::One(first) => *self = Postings::Many(vec![*first, doc]),
            Postings::Many(docs) if docs.len() < COMMON => docs.push(doc),
            Postings::Many(docs) => *self = Postings::Common(docs.len() + 1),
            Postings::Common(n) => *n += 1,
        }
    }
}

/// Incremental clustering.
#[derive(Debug)]
pub struct Clusterer {
    threshold: f64,
    /// Every document seen: its shingles, its cluster and its identity.
    documents: Vec<(Shingles, usize, Identity)>,
    /// Shingle → documents containing it.
    index: HashMap<u64, Postings, Fast>,
    /// Exact texts (after shingling) → cluster: a copy is found even when all its
    /// shingles are too common to be looked up.
    exact: HashMap<u64, (usize, usize), Fast>,
    clusters: usize,
}

impl Clusterer {
    pub fn new(threshold: f64) -> Self {
        Self { threshold, documents: Vec::new(), index: HashMap::default(), exact: HashMap::default(), clusters: 0 }
    }

    /// The cluster id of `text`, creating a new cluster when it resembles no earlier text.
    pub fn add(&mut self, text: &str) -> usize {
        self.add_probe(Probe::of(text))
    }

    /// The cluster id of a story (title and text), creating a new cluster when it is no
    /// earlier story.
    pub fn add_story(&mut self, title: &str, text: &str) -> usize {
        self.add_probe(Probe::story(title, text))
    }

    fn add_probe(&mut self, probe: Probe) -> usize {
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
        self.nearest_document(probe).map(|(cluster, similarity, _)| (cluster, similarity))
    }

    /// [`Self::nearest`], with the document it resembles most (for [`Self::evidence`]).
    pub fn nearest_document(&self, probe: &Probe) -> Option<(usize, f64, usize)> {
        self.nearest_document_where(probe, |_| true)
    }

    /// [`Self::nearest_document`] among the clusters `keep` accepts (a document split out
    /// of a cluster must not find its way back).
    pub fn nearest_document_where(&self, probe: &Probe, keep: impl Fn(usize) -> bool) -> Option<(usize, f64, usize)> {
        if let Some(&(cluster, doc)) = self.exact.get(&probe.fingerprint)
            && keep(cluster)
        {
            return Some((cluster, 1.0, doc));
        }
        let mut shared: HashMap<usize, usize, Fast> = HashMap::default();
        for s in &probe.set {
            // A common shingle's documents are not kept (`Postings::Common`).
            let docs = self.index.get(s).map_or(&[][..], Postings::as_slice);
            for &doc in docs {
                *shared.entry(doc as usize).or_default() += 1;
            }
        }
        let mut candidates: Vec<(usize, usize)> =
            shared.into_iter().filter(|(doc, _)| keep(self.documents[*doc].1)).collect();
        candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        // Shingles shared by many documents (a site's boilerplate such as 补充点评 2007年…,
        // a template sentence every bureau writes) say little about the story: a candidate
        // that passes on all shingles must also pass with each shingle weighted by its
        // rarity (computed only then: it costs a lookup per shingle).
        // Inverse document frequency over the indexed documents and the probe: a shingle
        // in every document weighs 1, one in this document pair only about 1 + ln(N / 2).
        let n = self.documents.len() as f64 + 1.0;
        let idf = |df: usize| (n / df.max(1) as f64).ln() + 1.0;
        let weight = |s: &u64| idf(self.index.get(s).map_or(0, Postings::len));
        let probe_weight = |s: &u64| idf(self.index.get(s).map_or(0, Postings::len) + 1);
        let mut probe_weights: Option<Vec<f64>> = None;
        // Other stories of one template share the most wording: of the 64 candidates that
        // share most, those of another story are passed over by identity first (cheap), so
        // that a short copy of this story is still among the 16 examined.
        candidates
            .into_iter()
            .take(64)
            .filter(|(doc, _)| probe.identity.distinct(&self.documents[*doc].2).is_none())
            .take(16)
            .map(|(doc, _)| (doc, similarity(&probe.set, &self.documents[doc].0)))
            .filter(|(_, sim)| *sim >= self.threshold)
            .filter_map(|(doc, sim)| {
                let (set, cluster, identity) = &self.documents[doc];
                let sim = match self.documents.len() >= MIN_CORPUS {
                    true => {
                        let weights = probe_weights.get_or_insert_with(|| probe.set.iter().map(probe_weight).collect());
                        sim.min(weighted_similarity(&probe.set, weights, set, &weight))
                    }
                    false => sim,
                };
                // `distinct` was checked above; only the titles' agreement depends on `sim`.
                match probe.identity.titles_disagree(identity, sim) {
                    true => None,
                    false => Some((*cluster, sim, doc)),
                }
            })
            .filter(|(_, sim, _)| *sim >= self.threshold)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
    }

    /// What `text` shares with indexed document `doc` that made it a copy, for staff: the
    /// longest runs of its wording found in `doc` and not common to many documents (a
    /// template sentence is no evidence), at most three, in text order.
    pub fn evidence(&self, text: &str, doc: usize) -> Vec<String> {
        let Some((set, _, _)) = self.documents.get(doc) else { return Vec::new() };
        let chars: Vec<char> = text.chars().filter(|c| c.is_alphanumeric()).collect();
        let lower: Vec<char> = chars.iter().flat_map(|c| c.to_lowercase()).collect();
        if lower.len() != chars.len() || chars.len() < K {
            return Vec::new();
        }
        let telling = |w: &[char]| {
            let s = pack(w);
            set.binary_search(&s).is_ok() && self.index.get(&s).is_none_or(|d| d.len() <= COMMON)
        };
        // Runs of consecutive telling windows: (start, end) in characters.
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for (i, w) in lower.windows(K).enumerate() {
            if !telling(w) {
                continue;
            }
            match runs.last_mut() {
                Some((_, end)) if *end >= i + K - 1 => *end = i + K,
                _ => runs.push((i, i + K)),
            }
        }
        let mut longest = runs.clone();
        longest.sort_by(|a, b| (b.1 - b.0).cmp(&(a.1 - a.0)).then(a.0.cmp(&b.0)));
        longest.truncate(3);
        runs.retain(|r| longest.contains(r));
        runs.into_iter().map(|(from, to)| chars[from..to.min(from + EVIDENCE_CHARS)].iter().collect()).collect()
    }

    /// Records `probe` as a member of `cluster` (an id from [`Self::new_cluster`] or
    /// [`Self::nearest`]).
    pub fn insert(&mut self, probe: Probe, cluster: usize) {
        let id = self.documents.len();
        // An exact copy of a document of the same cluster is found by its fingerprint; posting
        // it again would only make a story copied often look like boilerplate (its shingles
        // past COMMON), so that a reworded copy of it could no longer find it.
        let copy = matches!(self.exact.get(&probe.fingerprint), Some(&(c, _)) if c == cluster);
        self.exact.insert(probe.fingerprint, (cluster, id));
        // Past u32::MAX documents (far beyond any memory) a text is found by its exact copy only.
        if let Ok(posted) = u32::try_from(id)
            && !copy
        {
            for s in &probe.set {
                self.index.entry(*s).and_modify(|p| p.push(posted)).or_insert(Postings::One(posted));
            }
        }
        self.documents.push((probe.set, cluster, probe.identity));
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

    /// Sentences bureaus write into every story (the corpus was built from such).
    const BOILERPLATE: &str = "活动现场，工作人员向群众详细解读了相关政策，发放宣传资料200余份。下一步，将持续推进相关工作提质增效，切实增强人民群众的获得感、幸福感、安全感。";

    fn template_story(place: &str, programme: &str) -> (String, String) {
        (
            format!("{place}开展{programme}政策宣传活动"),
            format!("近日，{place}退役军人事务局在城区广场开展{programme}政策宣传活动。{BOILERPLATE}"),
        )
    }

    /// Regression (issue 13): stories written from one template, about different places and
    /// programmes, merged into one event because the template's sentences dominated.
    #[test]
    fn stories_written_from_one_template_stay_apart() {
        let mut c = Clusterer::new(0.5);
        let places = ["洛阳市", "南充市", "无锡市", "运城市", "昆明市", "临江市", "宜宾县", "海淀区"];
        let programmes = ["双拥工作", "优抚金发放", "烈属慰问金", "定期定量补助"];
        let mut seen = std::collections::HashSet::new();
        for place in places {
            for programme in programmes {
                let (title, text) = template_story(place, programme);
                assert!(seen.insert(c.add_story(&title, &text)), "{title} joined an earlier story");
            }
        }
        // Column labels shared by a site's stories do not make them agree.
        let a =
            c.add_story("媒体关注：无锡市烈属慰问金发放到位", &format!("无锡市烈属慰问金已发放到位。{BOILERPLATE}"));
        let b =
            c.add_story("媒体关注：运城市网传定期定量补助停发", &format!("运城市网传定期定量补助停发。{BOILERPLATE}"));
        assert_ne!(a, b);
    }

    #[test]
    fn a_rewritten_copy_of_a_templated_story_still_joins_it() {
        let mut c = Clusterer::new(0.5);
        for place in ["洛阳市", "南充市", "无锡市"] {
            let (title, text) = template_story(place, "优抚金发放");
            c.add_story(&title, &text);
        }
        let story =
            "南充市通报一起骗取优抚金典型案例：当事人冒领已故父亲优抚金8年共计12.6万元，已被依法追回并移送司法机关。";
        let first = c.add_story("南充市通报一起骗取优抚金典型案例", story);
        let copies = [
            ("南充通报骗取优抚金典型案例", format!("【转载】{story}（来源：南充日报）")),
            ("南充市通报骗取优抚金案例：冒领8年12.6万元", "南充市通报一起骗取优抚金的典型案例，当事人冒领已故父亲的优抚金长达8年，共计12.6万元，已依法追回并移送司法机关。".to_string()),
            ("", format!("转发微博：骗取优抚金必被追责！//{story}")),
        ];
        for (title, text) in &copies {
            assert_eq!(c.add_story(title, text), first, "{title} {text}");
        }
    }

    #[test]
    fn places_and_titles_tell_stories_apart() {
        let a = Identity::of("洛阳市民政局印发双拥工作方案", "洛阳市民政局近日印发方案。");
        let b = Identity::of("南充市通报一起骗取优抚金典型案例", "南充市通报案例。");
        assert_eq!(a.conflict(&b, 0.9), Some(Conflict::Places));
        assert_eq!(a.conflict(&a, 0.3), None);
        let c = Identity::of("烈士陵园开放时间调整", "");
        let d = Identity::of("第四季度抚恤金发放公告", "");
        assert!(c.conflict(&d, 0.6).is_some());
        assert_eq!(c.conflict(&c, 0.6), None);
        let story = "南充市通报一起骗取优抚金典型案例：当事人冒领已故父亲优抚金8年。";
        let e = Identity::of("震惊！冒领优抚金8年", story);
        let f = Identity::of("南充市通报一起骗取优抚金典型案例", story);
        assert_eq!(e.conflict(&f, 0.95), None, "a re-headlined copy whose words are in the story");
        assert_eq!(strip_column("媒体关注：无锡市烈属慰问金"), "无锡市烈属慰问金");
        assert_eq!(strip_column("【通知公告】关于开展慰问的通知"), "关于开展慰问的通知");
        // Words ending in a place suffix that are no place.
        assert!(places_in("全市各区超市和社区").is_empty());
        assert_eq!(places_in("洛阳市民政局").len(), 1);
    }

    /// Untitled posts (Weibo) about one story open differently; their first sentences are no
    /// headlines and must not split them (reposts of an original are compared on it).
    #[test]
    fn untitled_posts_with_different_lead_ins_still_join() {
        let mut c = Clusterer::new(0.5);
        let a = c.add_story("", "【大黄鸭爆了？】网友称：充气大黄鸭在港湾不幸爆掉，系某旅行团游客向其投掷点燃的烟头所致，此旅行团当晚乘客轮经过。");
        let b = c.add_story("", "有消息称，充气大黄鸭在港湾不幸爆掉，系某旅行团游客向其投掷点燃的烟头所致，此旅行团当晚乘客轮经过大黄鸭旁。");
        assert_eq!(a, b);
    }

    #[test]
    fn evidence_is_the_shared_wording_in_text_order() {
        let mut c = Clusterer::new(0.5);
        c.add_story("烈士陵园要拆？", STORY);
        let copy = format!("【转载】{STORY}");
        let probe = Probe::story("烈士陵园要拆？", &copy);
        let (_, _, doc) = c.nearest_document(&probe).expect("a copy");
        let evidence = c.evidence(&copy, doc);
        assert!(!evidence.is_empty() && evidence.len() <= 3, "{evidence:?}");
        assert!(
            evidence.iter().all(|e| STORY.contains(e.as_str()) || e.chars().all(|c| STORY.contains(c))),
            "{evidence:?}"
        );
        assert!(evidence.iter().all(|e| e.chars().count() <= EVIDENCE_CHARS), "{evidence:?}");
        assert!(c.evidence("完全无关", doc).is_empty());
    }

    #[test]
    fn a_story_copied_often_is_still_found_by_a_reworded_copy() {
        let mut c = Clusterer::new(0.5);
        let story = "市民反映城东新区老旧小区改造工程拖欠农民工工资问题，相关部门已介入调查，将依法依规妥善处理";
        let first = c.add(story);
        for _ in 0..(COMMON * 2) {
            assert_eq!(c.add(story), first, "exact copies join the story");
        }
        let reworded = format!("转发：{story}，希望尽快解决");
        assert_eq!(c.add(&reworded), first, "a reworded copy still finds the story copied {} times", COMMON * 2);
    }

    #[test]
    fn postings_keep_documents_up_to_common_then_only_a_count() {
        let mut p = Postings::One(0);
        for doc in 1..u32::try_from(COMMON).unwrap_or(u32::MAX) {
            p.push(doc);
        }
        assert_eq!(p.len(), COMMON);
        assert_eq!(p.as_slice().len(), COMMON, "a shingle in COMMON documents still finds candidates");
        p.push(1000);
        assert!(p.as_slice().is_empty(), "past COMMON its documents are dropped");
        assert_eq!(p.len(), COMMON + 1, "but its count still weighs it");
        p.push(1001);
        assert_eq!(p.len(), COMMON + 2);
    }

    #[test]
    fn the_fast_paths_see_what_the_unicode_tables_see() {
        let slow = |text: &str| -> Vec<char> {
            text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
        };
        for c in '\u{4E00}'..='\u{9FFF}' {
            assert!(c.is_alphanumeric() && c.to_lowercase().eq([c]), "{c}");
        }
        for t in ["ABC def 123，。！", "İstanbul ÀÉ ΣΑΣ ß ǅ Ⅻ ①２３ＡＢ", "网传临江市𠀀㐀\u{200B}x", ""]
        {
            assert_eq!(letter_vec(t), slow(t), "{t}");
        }
        let probe = Probe::story("烈士陵园要拆？", STORY);
        let whole = format!("烈士陵园要拆？ {STORY}");
        assert_eq!((&probe.set, probe.fingerprint), (&shingles(&whole), exact_key(&whole)));
        assert_eq!(probe.identity, Identity::of("烈士陵园要拆？", STORY));
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
