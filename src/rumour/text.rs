//! Normalisation and features for the rumour model. Training, evaluation, `yuqing test
//! match` and the daemon all go through [`post_text`], [`normalize_for_model`] and
//! [`features`], so the four always see the same text.
//!
//! Normalisation removes what tells *when or where a post was crawled* rather than *what it
//! claims*: zero-width characters (far more common in one class of the public rumour sets),
//! URLs and t.cn short links (their shape reveals the crawl year), @mentions and digit
//! runs (dates, counts, ids) each become one placeholder character.
//!
//! Replies (a reaction model's comments, issue 18) are read by the same [`model_input`]
//! one by one, and hashed in namespaces of their own ([`reply_features`]): "谣言" in a reply
//! is another feature than "谣言" in the post.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use crate::matcher::Folding;

use crate::extract::normalize::{html_to_text, normalize_text};
// Built on first use: only models with word features use it.
use crate::util::segment::JIEBA;

/// Placeholders: private-use characters, so each is one "character" for the n-grams.
pub const URL_MARK: char = '\u{E000}';
pub const MENTION_MARK: char = '\u{E001}';
pub const DIGITS_MARK: char = '\u{E002}';

// The two patterns below are literals exercised by this module's tests: building them
// cannot fail, whatever the input.

/// http(s) URLs, www. hosts and bare t.cn links; ASCII URL characters only, so a URL glued
/// to the Chinese text after it ends where the Chinese begins. Weibo's "网页链接" link text
/// is the newer rendering of the same link and goes the same way.
static URL: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new(r"(?i)(?:https?://|www\.|t\.cn/)[A-Za-z0-9\-._~:/?#@!$&'*+,;=%]*|O?网页链接").expect("static regex")
});
/// A Weibo-style mention: `@` and a name of letters, digits, `_` or `-`.
#[allow(clippy::expect_used)]
static MENTION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"@[\p{L}\p{N}_\-]{1,20}").expect("static regex"));

/// The one text the model reads for a post: title and body as plain text (markup removed
/// and entities decoded with [`html_to_text`], as the daemon stores them), joined by a
/// space. A title that only repeats the start of the body — the excerpt the Weibo export
/// reader uses as an untitled post's title, with or without its "…" — is left out, so a
/// post scores the same whether it arrives as an export row, a feed item or a JSONL line.
///
/// Applying it to text it already produced changes nothing for text without markup, which
/// is what the daemon passes (its documents hold `html_to_text` output).
pub fn post_text(title: &str, text: &str) -> String {
    post_text_of_plain(&html_to_text(title), &html_to_text(text)).into_owned()
}

/// [`post_text`] of a title and body already through [`html_to_text`] (the caller has
/// them: `yuqing test match` matches on them too).
pub fn post_text_of_plain<'a>(title: &'a str, body: &'a str) -> Cow<'a, str> {
    let head = title.trim_end_matches('…');
    if head.is_empty() || body.starts_with(head) {
        return Cow::Borrowed(body);
    }
    if body.is_empty() {
        return Cow::Borrowed(title);
    }
    Cow::Owned(format!("{title} {body}"))
}

/// NFKC with Chinese punctuation kept, zero-width characters removed, whitespace collapsed
/// ([`normalize_text`]); then URLs, mentions and digit runs replaced by placeholders and
/// ASCII letters lower-cased.
pub fn normalize_for_model(text: &str) -> String {
    placeholders(&normalize_text(text))
}

/// [`normalize_for_model`] of [`post_text`]: the text every path gives the model.
/// `post_text` already returns `normalize_text` output, and `normalize_text` of that is the
/// same text, so it is not run twice.
pub fn model_input(title: &str, text: &str) -> String {
    placeholders(&post_text(title, text))
}

/// [`model_input`] of a title and body already through [`html_to_text`].
pub fn model_input_of_plain(title: &str, body: &str) -> String {
    placeholders(&post_text_of_plain(title, body))
}

/// URLs, mentions and digit runs as placeholders, ASCII letters lower-cased; `base` is
/// `normalize_text` output.
fn placeholders(base: &str) -> String {
    // The patterns run only on text that could hold a match: every URL form has a '.' or
    // a ':', or is "网页链接"; every mention an '@'. Most posts have none of these.
    let s = if base.contains(['.', ':']) || base.contains("网页链接") {
        URL.replace_all(base, URL_MARK.encode_utf8(&mut [0; 4]) as &str)
    } else {
        std::borrow::Cow::Borrowed(base)
    };
    let s = if s.contains('@') {
        std::borrow::Cow::Owned(MENTION.replace_all(&s, MENTION_MARK.encode_utf8(&mut [0; 4]) as &str).into_owned())
    } else {
        s
    };
    // Digit runs → one mark, ASCII letters lower-cased, in one pass.
    let mut out = String::with_capacity(s.len());
    let mut in_digits = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push(DIGITS_MARK);
            }
            in_digits = true;
            continue;
        }
        in_digits = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// FNV-1a, 64 bit: stable across platforms and releases (the std hasher is neither).
fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

const FNV_OFFSET: u64 = 0xCBF2_9CE4_8422_2325;

/// A stable 64-bit hash of a string (used for the held-out split too).
pub fn stable_hash(s: &str) -> u64 {
    fnv1a(s.as_bytes(), FNV_OFFSET)
}

/// Which features a model reads: the model file's `bits`, `ngrams`, `words` and `style`
/// lines (and, for a reaction model, how many replies). Version 1 and 2 files read
/// characters only (`words` 0, `style` 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureSpec {
    /// 2^bits hash buckets, shared by every kind of feature.
    pub bits: u8,
    /// Character n-grams, `min_n..=max_n`.
    pub min_n: usize,
    pub max_n: usize,
    /// Word n-grams `1..=words` from the jieba segmenter (0: none).
    pub words: usize,
    /// The value of each style cue ([`STYLE_CUES`]) that occurs (0: no style features).
    pub style: f32,
    /// A reaction model reads the first this many replies ([`reply_features`]); 0: a
    /// content model, which reads the post only.
    pub comments: usize,
    /// Traditional characters are read as their simplified forms (OpenCC's one-to-one
    /// mappings, the keyword matcher's table), so a post written in either script has the
    /// same features. Models before version 5 read characters as they are.
    pub fold: bool,
}

impl FeatureSpec {
    /// Character n-grams only: what version 1 and 2 model files hold.
    pub fn chars(bits: u8, min_n: usize, max_n: usize) -> Self {
        FeatureSpec { bits, min_n, max_n, words: 0, style: 0.0, comments: 0, fold: false }
    }

    /// Normalised text as this model's features read it: folded to simplified characters
    /// when [`Self::fold`] is set, else unchanged.
    fn read<'a>(&self, normalised: &'a str) -> Cow<'a, str> {
        if self.fold { Folding::get().apply(Cow::Borrowed(normalised)) } else { Cow::Borrowed(normalised) }
    }
}

/// Phrases by which a reply doubts or refutes the post. [`reply_features`] turns the share
/// of replies holding one into a feature (shown as [`REPLY_DOUBT`]).
pub const REPLY_DOUBT_CUES: &[&str] = &[
    "假的",
    "假消息",
    "辟谣",
    "谣言",
    "造谣",
    "谣传",
    "不实",
    "求证",
    "真的吗",
    "真的假的",
    "真假",
    "靠谱吗",
    "别信",
    "不可信",
    "骗人",
    "求真相",
    "有证据",
];

/// The name of the reply-doubt feature in explanations.
pub const REPLY_DOUBT: &str = "评论质疑真假";

#[allow(clippy::expect_used)]
static DOUBT_MATCHER: LazyLock<aho_corasick::AhoCorasick> =
    // Literal, non-empty patterns: building cannot fail (exercised by this module's tests).
    LazyLock::new(|| aho_corasick::AhoCorasick::new(REPLY_DOUBT_CUES).expect("static patterns"));

/// Whether normalised reply text doubts the post ([`REPLY_DOUBT_CUES`]).
pub fn reply_doubts(normalised: &str) -> bool {
    DOUBT_MATCHER.is_match(normalised)
}

/// A reply as a reaction model reads it: [`model_input`] of it as an untitled post.
pub fn reply_input(text: &str) -> String {
    model_input("", text)
}

/// The replies a reaction model reads: the first `spec.comments` that are not empty once
/// normalised, each through [`reply_input`].
pub fn replies_input<S: AsRef<str>>(replies: &[S], spec: &FeatureSpec) -> Vec<String> {
    replies.iter().map(|r| reply_input(r.as_ref())).filter(|r| !r.trim().is_empty()).take(spec.comments).collect()
}

/// How many of `replies` count as replies (not empty after trimming): what a model's
/// `min_comments` is compared with.
pub fn reply_count<S: AsRef<str>>(replies: &[S]) -> usize {
    replies.iter().filter(|r| !r.as_ref().trim().is_empty()).count()
}

/// Style cues rumours share, by name (the name is what an explanation shows). A cue fires
/// when any of its phrases occurs in the normalised text.
pub const STYLE_CUES: &[(&str, &[&str])] = &[
    ("传闻口吻", &["网传", "据说", "听说", "传言", "传闻", "有消息称", "消息称", "据传"]),
    (
        "呼吁转发",
        &[
            "转发",
            "扩散",
            "速转",
            "快转",
            "转给",
            "转告",
            "告诉身边",
            "告诉家人",
            "分享给",
            "让更多人",
            "周知",
            "互相告知",
        ],
    ),
    (
        "来源无法核实",
        &[
            "内部人士",
            "内部消息",
            "知情人",
            "据内部",
            "朋友说",
            "亲戚说",
            "小道消息",
            "可靠消息",
            "业内人士",
            "我朋友",
            "同事说",
        ],
    ),
    ("紧急口吻", &["紧急", "重要通知", "十万火急", "速看", "快看", "注意了", "提醒大家"]),
    ("耸动用语", &["震惊", "重磅", "惊呆", "吓人", "可怕", "千万", "不转不是", "刚刚", "太恐怖", "出大事"]),
];

/// Words that name where a figure comes from: a digit run with none of them in the post is
/// "数字无出处".
const SOURCE_WORDS: &[&str] =
    &["据", "通报", "公告", "发布", "官方", "记者", "报道", "统计", "新华", "日报", "晚报", "公安", "政府", "局"];

/// The computed style cues, after [`STYLE_CUES`].
pub const EXCLAMATION_RUN: &str = "感叹号连用";
pub const UNSOURCED_NUMBER: &str = "数字无出处";

/// One automaton over every phrase of [`STYLE_CUES`] and [`SOURCE_WORDS`]: pattern `i`
/// belongs to cue `STYLE_PATTERN_CUE[i]` (`STYLE_CUES.len()` for a source word).
static STYLE_MATCHER: LazyLock<(aho_corasick::AhoCorasick, Vec<usize>)> = LazyLock::new(|| {
    let mut patterns: Vec<&str> = Vec::new();
    let mut owner = Vec::new();
    for (i, (_, phrases)) in STYLE_CUES.iter().enumerate() {
        patterns.extend_from_slice(phrases);
        owner.extend(std::iter::repeat_n(i, phrases.len()));
    }
    patterns.extend_from_slice(SOURCE_WORDS);
    owner.extend(std::iter::repeat_n(STYLE_CUES.len(), SOURCE_WORDS.len()));
    // Literal, non-empty patterns: building cannot fail (exercised by this module's tests).
    #[allow(clippy::expect_used)]
    let ac = aho_corasick::AhoCorasick::new(&patterns).expect("static patterns");
    (ac, owner)
});

/// The style cues that occur in normalised text, by name, in a fixed order.
pub fn style_cues(normalised: &str) -> Vec<&'static str> {
    let (ac, owner) = &*STYLE_MATCHER;
    let mut seen = [false; 8];
    for m in ac.find_overlapping_iter(normalised) {
        if let Some(slot) = owner.get(m.pattern().as_usize()).and_then(|o| seen.get_mut(*o)) {
            *slot = true;
        }
    }
    let mut out: Vec<&'static str> =
        STYLE_CUES.iter().enumerate().filter(|(i, _)| seen[*i]).map(|(_, (name, _))| *name).collect();
    let mut run = 0;
    if normalised.chars().any(|c| {
        run = if c == '!' || c == '！' { run + 1 } else { 0 };
        run >= 2
    }) {
        out.push(EXCLAMATION_RUN);
    }
    if normalised.contains(DIGITS_MARK) && !seen[STYLE_CUES.len()] {
        out.push(UNSOURCED_NUMBER);
    }
    out
}

/// The hash of a feature: a namespace (`kind`: 1–8 character n-grams by length, 0x40 + n
/// word n-grams, 0x80 + i style cues; in replies 0x20 + n character and 0x60 + n word
/// n-grams, 0xA0 the doubt share) followed by the feature's parts.
fn bucket(kind: u8, parts: impl Iterator<Item = u64>, mask: u64) -> u32 {
    let mut h = fnv1a(&[kind], FNV_OFFSET);
    for p in parts {
        h = fnv1a(&p.to_le_bytes()[..], h);
    }
    ((h ^ (h >> 32)) & mask) as u32
}

/// Where an n-gram was read: the post (namespaces as ever) or a reply (namespaces of
/// their own: the n-gram's kind byte plus this).
const POST: u8 = 0;
const REPLY: u8 = 0x20;

/// Every n-gram bucket of normalised text under `spec` (character, then word n-grams),
/// unsorted, with repeats, pushed to `buckets`; `part` is [`POST`] or [`REPLY`]; `label`
/// sees each bucket with the text it stands for (only explanations ask: building labels
/// costs an allocation each).
fn gram_buckets(normalised: &str, spec: &FeatureSpec, label: Option<LabelSink<'_>>) -> Vec<u32> {
    let mut buckets = Vec::new();
    push_gram_buckets(normalised, spec, POST, &mut buckets, label);
    buckets
}

fn push_gram_buckets(
    normalised: &str,
    spec: &FeatureSpec,
    part: u8,
    buckets: &mut Vec<u32>,
    mut label: Option<LabelSink<'_>>,
) {
    let chars: Vec<char> = normalised.chars().collect();
    let mask = (1u64 << spec.bits) - 1;
    let (min_n, max_n) = (spec.min_n.max(1), spec.max_n);
    buckets.reserve(chars.len() * (max_n + 1 - min_n.min(max_n)) + 2 * chars.len());
    let mut buf = [0u8; 4];
    for n in min_n..=max_n {
        for gram in chars.windows(n) {
            if gram.iter().all(|c| *c == ' ') {
                continue;
            }
            let mut h = fnv1a(&[part + n as u8], FNV_OFFSET);
            for c in gram {
                h = fnv1a(c.encode_utf8(&mut buf).as_bytes(), h);
            }
            // Fold the high bits in: FNV's low bits alone mix poorly.
            let b = ((h ^ (h >> 32)) & mask) as u32;
            buckets.push(b);
            if let Some(labels) = label.as_deref_mut() {
                labels(b, &|| gram.iter().collect());
            }
        }
    }
    if spec.words > 0 {
        let words: Vec<&str> =
            JIEBA.cut(normalised, false).into_iter().map(|t| t.word).filter(|w| !w.trim().is_empty()).collect();
        let hashes: Vec<u64> = words.iter().map(|w| stable_hash(w)).collect();
        for n in 1..=spec.words.min(3) {
            for (i, gram) in hashes.windows(n).enumerate() {
                let b = bucket(0x40 + part + n as u8, gram.iter().copied(), mask);
                buckets.push(b);
                if let Some(labels) = label.as_deref_mut() {
                    labels(b, &|| words[i..i + n].join(" "));
                }
            }
        }
    }
}

/// Sparse features of normalised text: each character n-gram (`min_n..=max_n`, spaces
/// included inside but an n-gram of spaces only skipped) and each word n-gram hashed into
/// `2^bits` buckets, sublinear term frequency `1 + ln(count)`, the n-gram vector scaled to
/// unit L2 length; then each style cue that occurs at `spec.style`. Sorted by bucket, one
/// entry per bucket.
pub fn features_of(normalised: &str, spec: &FeatureSpec) -> Vec<(u32, f32)> {
    let read = spec.read(normalised);
    let normalised: &str = &read;
    let mut out = unit_tf(gram_buckets(normalised, spec, None));
    if spec.style > 0.0 {
        let mask = (1u64 << spec.bits) - 1;
        for cue in style_cues(normalised) {
            let b = style_bucket(cue, mask);
            match out.binary_search_by_key(&b, |(k, _)| *k) {
                Ok(i) => out[i].1 += spec.style,
                Err(i) => out.insert(i, (b, spec.style)),
            }
        }
    }
    out
}

/// Buckets with repeats as sorted (bucket, `1 + ln(count)`) scaled to unit L2 length.
fn unit_tf(mut buckets: Vec<u32>) -> Vec<(u32, f32)> {
    buckets.sort_unstable();
    let mut out: Vec<(u32, f32)> = Vec::with_capacity(buckets.len());
    for b in buckets {
        match out.last_mut() {
            Some((last, count)) if *last == b => *count += 1.0,
            _ => out.push((b, 1.0)),
        }
    }
    let mut norm = 0.0f32;
    for (_, v) in &mut out {
        *v = 1.0 + v.ln();
        norm += *v * *v;
    }
    if norm > 0.0 {
        let inv = 1.0 / norm.sqrt();
        for (_, v) in &mut out {
            *v *= inv;
        }
    }
    out
}

/// The features of a post's replies (each already through [`reply_input`]; see
/// [`replies_input`]): the n-grams of every reply, in the reply namespaces, pooled into one
/// vector of unit length (sublinear term frequency, as for the post), plus the share of
/// replies that doubt the post ([`REPLY_DOUBT_CUES`]) as one feature of that value, when
/// any does. Sorted by bucket; empty for no replies.
pub fn reply_features(replies: &[String], spec: &FeatureSpec) -> Vec<(u32, f32)> {
    let mut buckets = Vec::new();
    let mut doubting = 0usize;
    for r in replies {
        let r = spec.read(r);
        push_gram_buckets(&r, spec, REPLY, &mut buckets, None);
        doubting += usize::from(reply_doubts(&r));
    }
    let mut out = unit_tf(buckets);
    if doubting > 0 {
        let share = doubting as f32 / replies.len() as f32;
        add_feature(&mut out, doubt_bucket(spec.bits), share);
    }
    out
}

/// A reaction model's features: the post's ([`features_of`]) and its replies'
/// ([`reply_features`]) in one sorted vector, values added where buckets collide.
pub fn reaction_features(post: &str, replies: &[String], spec: &FeatureSpec) -> Vec<(u32, f32)> {
    let mut out = features_of(post, spec);
    for (b, v) in reply_features(replies, spec) {
        add_feature(&mut out, b, v);
    }
    out
}

fn add_feature(out: &mut Vec<(u32, f32)>, b: u32, v: f32) {
    match out.binary_search_by_key(&b, |(k, _)| *k) {
        Ok(i) => out[i].1 += v,
        Err(i) => out.insert(i, (b, v)),
    }
}

fn doubt_bucket(bits: u8) -> u32 {
    bucket(0xA0, std::iter::once(stable_hash(REPLY_DOUBT)), (1u64 << bits) - 1)
}

/// What each bucket of [`reply_features`] stands for, as [`feature_labels_where`] does for
/// a post: `评论“辟谣”` for a reply n-gram, `评论质疑真假 40%` for the doubt share.
pub fn reply_labels_where(replies: &[String], spec: &FeatureSpec, keep: impl Fn(u32) -> bool) -> Vec<(u32, String)> {
    let mut labels = Vec::new();
    let mut doubting = 0usize;
    for r in replies {
        let r = spec.read(r);
        let mut sink = |b: u32, text: &dyn Fn() -> String| {
            if keep(b) {
                labels.push((b, text()));
            }
        };
        push_gram_buckets(&r, spec, REPLY, &mut Vec::new(), Some(&mut sink));
        doubting += usize::from(reply_doubts(&r));
    }
    for (_, l) in &mut labels {
        *l = format!("评论“{}”", shown(l.trim()));
    }
    let b = doubt_bucket(spec.bits);
    if doubting > 0 && keep(b) {
        let share = 100.0 * doubting as f32 / replies.len().max(1) as f32;
        labels.push((b, format!("{REPLY_DOUBT} {share:.0}%")));
    }
    labels
}

/// Placeholders as staff read them: 〈链接〉, 〈@某人〉, 〈数字〉.
fn shown(l: &str) -> String {
    if l.contains([URL_MARK, MENTION_MARK, DIGITS_MARK]) {
        l.replace(URL_MARK, "〈链接〉").replace(MENTION_MARK, "〈@某人〉").replace(DIGITS_MARK, "〈数字〉")
    } else {
        l.to_string()
    }
}

fn style_bucket(cue: &str, mask: u64) -> u32 {
    bucket(0x80, std::iter::once(stable_hash(cue)), mask)
}

/// Character n-gram features only (what version 1 and 2 models read).
pub fn features(normalised: &str, bits: u8, min_n: usize, max_n: usize) -> Vec<(u32, f32)> {
    features_of(normalised, &FeatureSpec::chars(bits, min_n, max_n))
}

/// What each bucket of [`features_of`] stands for in this text: the n-gram (word n-grams
/// joined by spaces) or the style cue's name, placeholders shown as 〈链接〉, 〈@某人〉,
/// 〈数字〉. The first text seen for a bucket is kept.
pub fn feature_labels(normalised: &str, spec: &FeatureSpec) -> Vec<(u32, String)> {
    feature_labels_where(normalised, spec, |_| true)
}

/// Sees each bucket of [`gram_buckets`] with a way to build the text it stands for.
type LabelSink<'a> = &'a mut dyn FnMut(u32, &dyn Fn() -> String);

/// [`feature_labels`] of the buckets `keep` accepts only (the others' texts are never
/// built: an explanation needs a few of some 400).
pub fn feature_labels_where(normalised: &str, spec: &FeatureSpec, keep: impl Fn(u32) -> bool) -> Vec<(u32, String)> {
    let read = spec.read(normalised);
    let normalised: &str = &read;
    let mut labels = Vec::new();
    let mut sink = |b: u32, text: &dyn Fn() -> String| {
        if keep(b) {
            labels.push((b, text()));
        }
    };
    gram_buckets(normalised, spec, Some(&mut sink));
    if spec.style > 0.0 {
        let mask = (1u64 << spec.bits) - 1;
        labels.extend(
            style_cues(normalised)
                .into_iter()
                .map(|c| (style_bucket(c, mask), c))
                .filter(|(b, _)| keep(*b))
                .map(|(b, c)| (b, c.to_string())),
        );
    }
    for (_, l) in &mut labels {
        if l.contains([URL_MARK, MENTION_MARK, DIGITS_MARK]) {
            *l = shown(l);
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_width_characters_and_short_links_are_normalised_away() {
        let a = normalize_for_model("网传\u{200B}市区\u{FEFF}明天停水\u{2060}！http://t.cn/Rabc12 转发");
        let b = normalize_for_model("网传市区明天停水！https://t.cn/zXy9 转发");
        assert_eq!(a, b);
        assert!(!a.contains("t.cn") && !a.contains('\u{200B}'), "{a:?}");
        assert!(a.contains(URL_MARK), "{a:?}");
        assert_eq!(normalize_for_model("详见t.cn/A6xyz点击"), format!("详见{URL_MARK}点击"));
        assert_eq!(normalize_for_model("见网页链接"), format!("见{URL_MARK}"));
    }

    #[test]
    fn markup_is_read_as_the_daemon_stores_it_and_excerpt_titles_are_not_doubled() {
        let raw = "<p>网传&nbsp;烈士陵园<b>要拆</b>了</p><p>速转&amp;扩散</p>";
        let plain = html_to_text(raw);
        assert_eq!(post_text("", raw), plain);
        assert_eq!(post_text("", &plain), plain, "applying it again changes nothing");
        assert!(!post_text("", raw).contains(['<', ';']), "{}", post_text("", raw));
        let body = "听说明天全市停水三天，大家赶紧转发告诉家里人，千万别不当回事，这次是真的要停了";
        let excerpt = crate::extract::normalize::excerpt(body, None, 20);
        assert!(excerpt.ends_with('…'));
        assert_eq!(post_text(&excerpt, body), body);
        assert_eq!(post_text(&body[..12], body), body);
        assert_eq!(post_text("<b>停水通知</b>", "明天停水"), "停水通知 明天停水");
        assert_eq!(post_text("停水通知", ""), "停水通知");
    }

    #[test]
    fn mentions_digits_and_width_fold() {
        assert_eq!(
            normalize_for_model("@小王_2020 说２０１２年ＡＢＣ"),
            format!("{MENTION_MARK} 说{DIGITS_MARK}年abc")
        );
        assert_eq!(normalize_for_model("抚恤金，何时发放？"), "抚恤金，何时发放？");
    }

    /// The regex-only version the model files so far were trained with.
    fn reference(text: &str) -> String {
        let base = normalize_text(text);
        let s = URL.replace_all(&base, URL_MARK.to_string().as_str());
        let s = MENTION.replace_all(&s, MENTION_MARK.to_string().as_str());
        let digits = Regex::new(r"[0-9]+").expect("regex");
        digits.replace_all(&s, DIGITS_MARK.to_string().as_str()).to_ascii_lowercase()
    }

    #[test]
    fn the_fast_path_gives_what_the_patterns_give() {
        for t in [
            "网传3.5万人领取WWW.Example.COM/a?b=1补贴",
            "HTTP://T.CN/RabC12看这里@张三:你好@李_四-2",
            "网页链接O网页链接 2012年12月 12:30 ABC",
            "普通的一句话，没有链接。",
            "a.b c:d e@f 12ab34",
            "",
            "１２３ＡＢＣ＠某人 ｗｗｗ．ｘ．ｃｏｍ",
        ] {
            assert_eq!(normalize_for_model(t), reference(t), "{t}");
            assert_eq!(model_input("", t), normalize_for_model(&post_text("", t)), "{t}");
            let plain = html_to_text(t);
            assert_eq!(model_input_of_plain("标题", &plain), model_input("标题", t), "{t}");
            assert_eq!(normalize_text(&normalize_text(t)), normalize_text(t), "{t}");
        }
    }

    #[test]
    fn reply_features_hash_apart_from_post_features() {
        let spec = FeatureSpec { comments: 50, ..FeatureSpec::chars(20, 1, 3) };
        let post = features_of("谣言辟谣", &spec);
        let replies = reply_features(&["谣言辟谣".to_string()], &spec);
        assert_eq!(post.len(), replies.len() - 1, "the same n-grams, and the doubt share");
        let post_buckets: Vec<u32> = post.iter().map(|(b, _)| *b).collect();
        assert!(
            replies.iter().all(|(b, _)| post_buckets.binary_search(b).is_err()),
            "no reply bucket is a post bucket"
        );
        let words = FeatureSpec { words: 2, ..spec };
        let (p, r) = (features_of("辟谣", &words), reply_features(&["辟谣".to_string()], &words));
        assert!(r.iter().all(|(b, _)| p.binary_search_by_key(b, |(k, _)| *k).is_err()), "word n-grams too");
        let both = reaction_features("谣言辟谣", &["谣言辟谣".to_string()], &spec);
        assert_eq!(both.len(), post.len() + replies.len());
        assert!(both.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(reply_features(&[], &spec).is_empty());
        assert_eq!(reaction_features("谣言", &[], &spec), features_of("谣言", &spec));
    }

    #[test]
    fn the_doubt_share_counts_replies_that_doubt_the_post() {
        let spec = FeatureSpec { comments: 50, ..FeatureSpec::chars(20, 1, 1) };
        let replies: Vec<String> =
            ["这是假的吧", "官方已辟谣", "好可怕", "转发"].iter().map(|r| reply_input(r)).collect();
        let f = reply_features(&replies, &spec);
        let doubt = f.iter().find(|(b, _)| *b == doubt_bucket(20)).map(|(_, v)| *v);
        assert_eq!(doubt, Some(0.5));
        let labels = reply_labels_where(&replies, &spec, |_| true);
        assert!(labels.iter().any(|(_, l)| l == "评论质疑真假 50%"), "{labels:?}");
        assert!(labels.iter().any(|(_, l)| l == "评论“辟”"), "{labels:?}");
        assert!(!reply_features(&[reply_input("好可怕")], &spec).iter().any(|(b, _)| *b == doubt_bucket(20)));
        // Replies are read by the one text path: markup, zero-width characters, links.
        assert_eq!(reply_input("<b>假的</b>\u{200B} http://t.cn/x1"), model_input("", "假的 http://t.cn/x1"));
        let raw = ["", "  ", "甲", "乙", "丙"];
        assert_eq!(reply_count(&raw), 3);
        assert_eq!(replies_input(&raw, &FeatureSpec { comments: 2, ..spec }), ["甲", "乙"]);
    }

    #[test]
    fn features_are_unit_length_sorted_and_stable() {
        let f = features("烈士陵园拆迁", 20, 1, 3);
        assert_eq!(f.len(), 6 + 5 + 4);
        assert!(f.windows(2).all(|w| w[0].0 < w[1].0));
        let norm: f32 = f.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        assert_eq!(f, features("烈士陵园拆迁", 20, 1, 3));
        assert!(features("", 20, 1, 3).is_empty());
        let repeated = features("哈哈哈", 20, 1, 1);
        assert_eq!(repeated.len(), 1);
    }
}
