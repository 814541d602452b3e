//! What netizens say (网民观点, Art. 13): an event's comments grouped into a handful of
//! viewpoints, each with a representative comment, its size and share, its leaning and
//! its top words, plus the hourly comment volume. Pure: the comments, the lexicon and the
//! timezone come in.
//!
//! **Cleaning.** Each comment is normalised ([`normalize_text`]); reply prefixes
//! (`回复@某某:`), repost chains (`//@某某: …`), mentions, bracketed emoji codes (`[哈哈]`)
//! and links are removed. What is left with fewer than [`MIN_CHARS`] letters or ideographs
//! (`哈哈`, `。。。`, a bare emoji) is noise: counted, not grouped.
//!
//! **Features.** Comments are 5–50 characters: the story clusterer's character 3-grams
//! ([`super::cluster`]) rarely overlap between two ways of saying one thing, and a word
//! segmenter splits unknown names and slang unpredictably. Character bigrams of the
//! letters and ideographs cover most two-character Chinese words and survive typos; each is
//! weighted by its rarity among the event's comments (inverse document frequency), so the
//! topic every comment names (`拆迁`) counts little and what distinguishes them counts.
//!
//! **Stance.** Two comments that share the topic but take opposite sides (`支持拆迁` /
//! `反对拆迁`) must not merge on shared words. Each comment gets a leaning: +1 for every
//! support cue ([`SUPPORT`]: 支持, 赞成, 点赞 …), −1 for every opposition cue ([`OPPOSE`]:
//! 反对, 抵制, 凭什么 …) — a negation (不, 没, 别 …) in the two characters before a cue flips
//! it (`不支持` opposes) — and −1 when the negativity lexicon scores it. Its stance is the
//! sign. Two comments of opposite stances are never in one group; two of the same stance
//! get [`STANCE_BONUS`] added to their similarity.
//!
//! **Grouping.** Greedy leader clustering, deterministic: comments in order of likes (most
//! first), then time, then input order; each joins the compatible group whose centroid it
//! resembles most (cosine) when that is at least [`THRESHOLD`], else starts a group. One
//! reassignment pass then moves every comment to its best centroid, so the result depends
//! less on the order. Groups of at least two comments are viewpoints, largest first (at most
//! `max_groups`); the rest are 其他.
//!
//! **Per viewpoint.** The representative is the most central member (cosine to the
//! centroid), the most liked among those within 0.05 of the best; the mean negativity is the
//! lexicon score averaged over the members (0 when none scored); the leaning is the mean of
//! the members' leanings (负面 below −0.25, 正面 above 0.25, else 中性); the top words are
//! the jieba words of two or more characters most frequent in the group, ties by rarity.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::sentiment::Lexicon;
use crate::extract::normalize::normalize_text;

/// A comment with fewer letters or ideographs than this (after cleaning) is noise.
pub const MIN_CHARS: usize = 3;
/// The cosine (plus the stance bonus) at which a comment joins a group.
pub const THRESHOLD: f64 = 0.3;
/// Added to the similarity of a comment and a group of the same (non-neutral) stance.
pub const STANCE_BONUS: f64 = 0.3;
/// Viewpoints shown by default.
pub const MAX_GROUPS: usize = 5;
/// At most this many comments are grouped (the most liked, then the earliest).
pub const MAX_COMMENTS: usize = 5000;
/// At most this many hourly buckets (the latest).
pub const MAX_HOURS: usize = 72;

/// Words that take the side of the post's subject (支持 …).
pub const SUPPORT: &[&str] = &[
    "支持",
    "赞成",
    "同意",
    "拥护",
    "点赞",
    "好事",
    "好样的",
    "赞",
    "欢迎",
    "感谢",
    "谢谢",
    "辛苦了",
    "给力",
    "暖心",
    "应该的",
    "必须的",
    "顶",
    "好政策",
    "叫好",
    "满意",
    "放心",
    "认可",
];
/// Words that take the other side (反对 …).
pub const OPPOSE: &[&str] = &[
    "反对",
    "抵制",
    "抗议",
    "凭什么",
    "不合理",
    "乱来",
    "胡闹",
    "荒唐",
    "离谱",
    "差评",
    "坑人",
    "扯淡",
    "可笑",
    "强拆",
    "不公平",
    "寒心",
    "垃圾",
    "欺负",
    "忽悠",
];
/// Negations that flip a cue in the two characters before it.
const NEGATIONS: &[&str] = &["不", "没", "别", "非", "无", "未", "拒绝"];
const NEGATION_WINDOW: usize = 2;

/// One comment to group.
#[derive(Debug, Clone, PartialEq)]
pub struct CommentInput {
    pub text: String,
    pub at: Option<DateTime<Utc>>,
    pub likes: u64,
}

/// Which way a viewpoint leans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaning {
    Negative,
    Neutral,
    Positive,
}

impl Leaning {
    pub fn label_zh(self) -> &'static str {
        match self {
            Leaning::Negative => "负面",
            Leaning::Neutral => "中性",
            Leaning::Positive => "正面",
        }
    }
}

/// One group of comments saying the same thing.
#[derive(Debug, Clone, PartialEq)]
pub struct Viewpoint {
    /// The representative comment (cleaned text).
    pub representative: String,
    pub size: usize,
    /// Of the comments grouped (noise excluded), 0–1.
    pub share: f64,
    /// Mean lexicon negativity of the members.
    pub negativity: f64,
    /// Mean leaning of the members (support − opposition cues).
    pub lean: f64,
    pub leaning: Leaning,
    pub likes: u64,
    /// Up to three words most frequent in the group.
    pub terms: Vec<String>,
    /// The members' positions in the input, ascending.
    pub members: Vec<usize>,
}

/// Comments in one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourCount {
    pub start: DateTime<Utc>,
    pub comments: usize,
}

/// An event's viewpoints.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Viewpoints {
    /// Comments given.
    pub total: usize,
    /// Comments dropped as noise (too short, emoji only).
    pub noise: usize,
    /// Largest first.
    pub groups: Vec<Viewpoint>,
    /// Grouped comments in no viewpoint (singletons and groups beyond the limit): 其他.
    pub other: usize,
    /// Comment volume per hour (of comments with a time), oldest first; empty hours included.
    pub hourly: Vec<HourCount>,
}

impl Viewpoints {
    /// Comments that were grouped (not noise).
    pub fn grouped(&self) -> usize {
        self.total - self.noise
    }

    /// A short summary for an alert: `评论 12 条；负面 50%「…」；正面 42%「…」` (the three
    /// largest viewpoints); `None` without viewpoints.
    pub fn brief_zh(&self, max_chars: usize) -> Option<String> {
        if self.groups.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .groups
            .iter()
            .take(3)
            .map(|g| {
                format!(
                    "{} {:.0}%「{}」",
                    g.leaning.label_zh(),
                    g.share * 100.0,
                    truncate(&g.representative, max_chars)
                )
            })
            .collect();
        Some(format!("评论 {} 条；{}", self.total, parts.join("；")))
    }

    /// The text lines `event show` and the report print: one per viewpoint, 其他, noise.
    pub fn lines_zh(&self, max_chars: usize) -> Vec<String> {
        let mut out = Vec::new();
        if self.total == 0 {
            return out;
        }
        out.push(format!(
            "共 {} 条评论，{} 条参与归类（{} 条过短或仅表情未计）",
            self.total,
            self.grouped(),
            self.noise
        ));
        for (n, g) in self.groups.iter().enumerate() {
            let terms =
                if g.terms.is_empty() { String::new() } else { format!("；关键词：{}", g.terms.join("、")) };
            out.push(format!(
                "观点{}：{} 条（{:.0}%），倾向 {}（负面度 {:.1}），获赞 {}{terms}",
                n + 1,
                g.size,
                g.share * 100.0,
                g.leaning.label_zh(),
                g.negativity,
                g.likes
            ));
            out.push(format!("    代表评论：「{}」", truncate(&g.representative, max_chars)));
        }
        if self.other > 0 {
            out.push(format!("其他：{} 条（未形成集中观点）", self.other));
        }
        out
    }

    /// The hourly comment volume as lines: a sparkline with the busiest hour, then the hours
    /// that had comments (`11-27 14时  5 条`).
    pub fn trend_lines_zh(&self, tz: Tz) -> Vec<String> {
        let Some(first) = self.hourly.first() else { return Vec::new() };
        const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        let max = self.hourly.iter().map(|h| h.comments).max().unwrap_or(0).max(1);
        let spark: String = self
            .hourly
            .iter()
            .map(|h| if h.comments == 0 { '·' } else { BARS[(h.comments * 7).div_ceil(max).min(7)] })
            .collect();
        let total: usize = self.hourly.iter().map(|h| h.comments).sum();
        let busiest = self.hourly.iter().max_by_key(|h| (h.comments, std::cmp::Reverse(h.start)));
        let mut out = vec![format!(
            "{spark}  {} 起每小时评论数，共 {total} 条{}",
            hour_label(first.start, tz),
            busiest.map(|b| format!("，最多 {} 条（{}）", b.comments, hour_label(b.start, tz))).unwrap_or_default()
        )];
        for h in self.hourly.iter().filter(|h| h.comments > 0) {
            out.push(format!("{}  {} 条", hour_label(h.start, tz), h.comments));
        }
        out
    }
}

fn hour_label(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%m-%d %H时").to_string()
}

/// At most `max` characters, `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push('…');
    out
}

/// Reply prefixes, repost chains, mentions, emoji codes and links removed; normalised.
pub fn clean(text: &str) -> String {
    let text = normalize_text(text);
    // A repost chain: what follows `//@` is someone else's words.
    let text = match text.find("//@") {
        Some(i) => &text[..i],
        None => text.as_str(),
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text.trim();
    if let Some(r) = rest.strip_prefix("回复")
        && r.starts_with('@')
    {
        rest = r;
    }
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '@' => {
                // A mention runs to the next space or colon.
                while let Some(&(_, d)) = chars.peek() {
                    chars.next();
                    if d == ' ' || d == ':' || d == '：' {
                        break;
                    }
                }
            }
            '[' => {
                // `[哈哈]`: an emoji code of at most 8 characters.
                let tail = &rest[i + 1..];
                match tail.find(']') {
                    Some(end) if tail[..end].chars().count() <= 8 => {
                        let stop = i + 1 + end;
                        while chars.peek().is_some_and(|&(j, _)| j <= stop) {
                            chars.next();
                        }
                    }
                    _ => out.push(c),
                }
            }
            // A link, or what is left of one (`http:` in anonymised corpora).
            'h' if rest[i..].starts_with("http:") || rest[i..].starts_with("https:") => {
                while chars.peek().is_some_and(|&(_, d)| !d.is_whitespace()) {
                    chars.next();
                }
            }
            _ => out.push(c),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Letters and ideographs only (what features are made of).
fn content_chars(text: &str) -> Vec<char> {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Support cues minus opposition cues (a negation before a cue flips it), minus one when
/// the lexicon finds the text negative.
pub fn leaning(text: &str, negative: bool) -> i32 {
    let chars: Vec<char> = text.chars().collect();
    let mut lean = 0i32;
    let mut taken = vec![false; chars.len()];
    // Longest cues first, so 不公平 is one cue, not 公平 after 不.
    let mut cues: Vec<(&str, i32)> = SUPPORT.iter().map(|c| (*c, 1)).chain(OPPOSE.iter().map(|c| (*c, -1))).collect();
    cues.sort_by_key(|(c, _)| std::cmp::Reverse(c.chars().count()));
    for (cue, sign) in cues {
        let cue_chars: Vec<char> = cue.chars().collect();
        let n = cue_chars.len();
        let mut i = 0;
        while i + n <= chars.len() {
            if chars[i..i + n] == cue_chars[..] && !taken[i..i + n].iter().any(|t| *t) {
                taken[i..i + n].iter_mut().for_each(|t| *t = true);
                let before: String = chars[i.saturating_sub(NEGATION_WINDOW)..i].iter().collect();
                let negated = NEGATIONS.iter().any(|neg| before.contains(neg));
                lean += if negated { -sign } else { sign };
                i += n;
            } else {
                i += 1;
            }
        }
    }
    if negative {
        lean -= 1;
    }
    lean
}

/// One comment as the grouping sees it: its cleaned text, leaning and lexicon negativity;
/// `None` when it is noise.
pub fn assess(text: &str, lexicon: &Lexicon) -> Option<(String, i32, f64)> {
    let text = clean(text);
    if content_chars(&text).len() < MIN_CHARS {
        return None;
    }
    let negativity = lexicon.score("", &text).map_or(0.0, |n| f64::from(n.score));
    let lean = leaning(&text, negativity > 0.0);
    Some((text, lean, negativity))
}

struct Prepared {
    text: String,
    likes: u64,
    at: Option<DateTime<Utc>>,
    index: usize,
    bigrams: Vec<String>,
    negativity: f64,
    lean: i32,
}

type Vector = HashMap<String, f64>;

fn norm(v: &Vector) -> f64 {
    v.values().map(|x| x * x).sum::<f64>().sqrt()
}

fn cosine(a: &Vector, a_norm: f64, b: &Vector, b_norm: f64) -> f64 {
    if a_norm == 0.0 || b_norm == 0.0 {
        return 0.0;
    }
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    small.iter().map(|(k, x)| x * large.get(k).copied().unwrap_or(0.0)).sum::<f64>() / (a_norm * b_norm)
}

struct Group {
    stance: i32,
    members: Vec<usize>,
    centroid: Vector,
    centroid_norm: f64,
}

impl Group {
    fn add(&mut self, m: usize, vectors: &[Vector]) {
        self.members.push(m);
        for (k, x) in &vectors[m] {
            *self.centroid.entry(k.clone()).or_insert(0.0) += x;
        }
        self.centroid_norm = norm(&self.centroid);
    }

    fn recompute(&mut self, vectors: &[Vector]) {
        let mut c = Vector::new();
        for &m in &self.members {
            for (k, x) in &vectors[m] {
                *c.entry(k.clone()).or_insert(0.0) += x;
            }
        }
        self.centroid_norm = norm(&c);
        self.centroid = c;
    }
}

/// The similarity of a comment (vector, stance) to a group; `None` when their stances are
/// opposite.
fn affinity(v: &Vector, v_norm: f64, stance: i32, g: &Group) -> Option<f64> {
    if stance * g.stance < 0 {
        return None;
    }
    let bonus = if stance != 0 && stance == g.stance { STANCE_BONUS } else { 0.0 };
    Some(cosine(v, v_norm, &g.centroid, g.centroid_norm) + bonus)
}

/// Groups an event's comments into at most `max_groups` viewpoints.
pub fn viewpoints(comments: &[CommentInput], lexicon: &Lexicon, max_groups: usize, tz: Tz) -> Viewpoints {
    let mut out = Viewpoints { total: comments.len(), hourly: hourly(comments, tz), ..Viewpoints::default() };
    let mut items: Vec<Prepared> = Vec::new();
    for (index, c) in comments.iter().enumerate() {
        let text = clean(&c.text);
        let chars = content_chars(&text);
        if chars.len() < MIN_CHARS {
            out.noise += 1;
            continue;
        }
        let bigrams: Vec<String> = chars.windows(2).map(|w| w.iter().collect()).collect();
        let negativity = lexicon.score("", &text).map_or(0.0, |n| f64::from(n.score));
        let lean = leaning(&text, negativity > 0.0);
        items.push(Prepared { text, likes: c.likes, at: c.at, index, bigrams, negativity, lean });
    }
    items.sort_by(|a, b| b.likes.cmp(&a.likes).then(a.at.cmp(&b.at)).then(a.index.cmp(&b.index)));
    items.truncate(MAX_COMMENTS);
    if items.is_empty() {
        return out;
    }
    // Inverse document frequency of each bigram among the comments.
    let mut df: HashMap<&str, usize> = HashMap::new();
    for it in &items {
        let mut seen: Vec<&str> = it.bigrams.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for b in seen {
            *df.entry(b).or_insert(0) += 1;
        }
    }
    let n = items.len() as f64;
    let vectors: Vec<Vector> = items
        .iter()
        .map(|it| {
            let mut v = Vector::new();
            for b in &it.bigrams {
                let idf = (1.0 + n / df.get(b.as_str()).copied().unwrap_or(1) as f64).ln();
                v.insert(b.clone(), idf);
            }
            v
        })
        .collect();
    let norms: Vec<f64> = vectors.iter().map(norm).collect();
    let stances: Vec<i32> = items.iter().map(|it| it.lean.signum()).collect();

    let mut groups: Vec<Group> = Vec::new();
    let mut home: Vec<usize> = Vec::with_capacity(items.len());
    for i in 0..items.len() {
        let best = best_group(&vectors[i], norms[i], stances[i], &groups);
        match best {
            Some((g, sim)) if sim >= THRESHOLD => {
                groups[g].add(i, &vectors);
                home.push(g);
            }
            _ => {
                let mut g =
                    Group { stance: stances[i], members: Vec::new(), centroid: Vector::new(), centroid_norm: 0.0 };
                g.add(i, &vectors);
                home.push(groups.len());
                groups.push(g);
            }
        }
    }
    // One reassignment pass against the settled centroids.
    let mut assigned: Vec<Vec<usize>> = vec![Vec::new(); groups.len()];
    for (i, &home) in home.iter().enumerate() {
        let target = match best_group(&vectors[i], norms[i], stances[i], &groups) {
            Some((g, sim)) if sim >= THRESHOLD => g,
            _ => home,
        };
        assigned[target].push(i);
    }
    for (g, members) in groups.iter_mut().zip(assigned) {
        g.members = members;
        g.recompute(&vectors);
    }
    groups.retain(|g| !g.members.is_empty());
    let likes_of = |g: &Group| g.members.iter().map(|&m| items[m].likes).sum::<u64>();
    groups.sort_by(|a, b| {
        b.members.len().cmp(&a.members.len()).then(likes_of(b).cmp(&likes_of(a))).then(a.members.cmp(&b.members))
    });

    let grouped = items.len();
    let mut idf_of_word: HashMap<String, f64> = HashMap::new();
    for (k, g) in groups.iter().enumerate() {
        if k >= max_groups || g.members.len() < 2 {
            out.other += g.members.len();
            continue;
        }
        let centrality: Vec<(usize, f64)> =
            g.members.iter().map(|&m| (m, cosine(&vectors[m], norms[m], &g.centroid, g.centroid_norm))).collect();
        let best = centrality.iter().map(|(_, c)| *c).fold(f64::MIN, f64::max);
        let representative = centrality
            .iter()
            .filter(|(_, c)| *c >= best - 0.05)
            .max_by(|a, b| items[a.0].likes.cmp(&items[b.0].likes).then(a.1.total_cmp(&b.1)).then(b.0.cmp(&a.0)))
            .map_or(g.members[0], |(m, _)| *m);
        let size = g.members.len();
        let mean = |f: &dyn Fn(&Prepared) -> f64| g.members.iter().map(|&m| f(&items[m])).sum::<f64>() / size as f64;
        let lean = mean(&|p| f64::from(p.lean));
        let leaning = if lean < -0.25 {
            Leaning::Negative
        } else if lean > 0.25 {
            Leaning::Positive
        } else {
            Leaning::Neutral
        };
        out.groups.push(Viewpoint {
            representative: items[representative].text.clone(),
            size,
            share: size as f64 / grouped as f64,
            negativity: (mean(&|p| p.negativity) * 10.0).round() / 10.0,
            lean: (lean * 100.0).round() / 100.0,
            leaning,
            likes: likes_of(g),
            terms: top_terms(g.members.iter().map(|&m| items[m].text.as_str()), &items, &mut idf_of_word),
            members: {
                let mut m: Vec<usize> = g.members.iter().map(|&m| items[m].index).collect();
                m.sort_unstable();
                m
            },
        });
    }
    out
}

fn best_group(v: &Vector, v_norm: f64, stance: i32, groups: &[Group]) -> Option<(usize, f64)> {
    groups
        .iter()
        .enumerate()
        .filter_map(|(k, g)| affinity(v, v_norm, stance, g).map(|s| (k, s)))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
}

/// Words (jieba, two or more letters/ideographs) most frequent in the group, ties by how
/// rare they are among all comments, then by the word.
fn top_terms<'a>(
    texts: impl Iterator<Item = &'a str>,
    all: &[Prepared],
    idf_cache: &mut HashMap<String, f64>,
) -> Vec<String> {
    let words = |t: &str| -> Vec<String> {
        let mut w: Vec<String> = crate::util::segment::JIEBA
            .cut(t, false)
            .into_iter()
            .map(|t| t.word)
            .filter(|w| w.chars().filter(|c| c.is_alphanumeric()).count() >= 2 && w.chars().all(char::is_alphanumeric))
            .map(str::to_string)
            .collect();
        w.sort_unstable();
        w.dedup();
        w
    };
    if idf_cache.is_empty() {
        let mut df: HashMap<String, usize> = HashMap::new();
        for p in all {
            for w in words(&p.text) {
                *df.entry(w).or_insert(0) += 1;
            }
        }
        let n = all.len() as f64;
        for (w, d) in df {
            idf_cache.insert(w, (n / d as f64).ln());
        }
    }
    let mut counts: HashMap<String, usize> = HashMap::new();
    for t in texts {
        for w in words(t) {
            *counts.entry(w).or_insert(0) += 1;
        }
    }
    let mut ranked: Vec<(String, usize, f64)> = counts
        .into_iter()
        .filter(|(_, c)| *c >= 2)
        .map(|(w, c)| {
            let idf = idf_cache.get(&w).copied().unwrap_or(0.0);
            (w, c, idf)
        })
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.total_cmp(&a.2)).then(a.0.cmp(&b.0)));
    ranked.into_iter().take(3).map(|(w, _, _)| w).collect()
}

/// Comments per hour of `tz`, from the hour of the first to the hour of the last (at most
/// [`MAX_HOURS`], the latest).
fn hourly(comments: &[CommentInput], tz: Tz) -> Vec<HourCount> {
    let times: Vec<DateTime<Utc>> = comments.iter().filter_map(|c| c.at).collect();
    let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) else { return Vec::new() };
    let hour_of = |t: DateTime<Utc>| -> DateTime<Utc> {
        let offset = i64::from(tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc());
        let local = t.timestamp() + offset;
        DateTime::from_timestamp(local - local.rem_euclid(3600) - offset, 0).unwrap_or(t)
    };
    let start = std::cmp::max(hour_of(*first), hour_of(*last) - Duration::hours(MAX_HOURS as i64 - 1));
    let end = hour_of(*last);
    let mut buckets = Vec::new();
    let mut h = start;
    while h <= end {
        buckets.push(HourCount { start: h, comments: 0 });
        h += Duration::hours(1);
    }
    for t in times {
        let k = (hour_of(t) - start).num_hours();
        if let Some(b) = usize::try_from(k).ok().and_then(|k| buckets.get_mut(k)) {
            b.comments += 1;
        }
    }
    buckets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::sentiment::{LexiconLists, Weighted};

    const TZ: Tz = chrono_tz::Asia::Shanghai;

    fn lexicon() -> Lexicon {
        let w = |t: &str, weight: f32| Weighted { text: t.into(), weight };
        Lexicon::new(&LexiconLists {
            negative: vec![w("强拆", 2.0), w("寒心", 1.5), w("不公", 1.5), w("愤怒", 1.5)],
            negation: vec!["不".into(), "没有".into()],
            degree: vec![],
        })
        .unwrap_or_else(|_| unreachable!("a fixed lexicon builds"))
    }

    fn at(minutes: i64) -> Option<DateTime<Utc>> {
        // 2026-11-27 10:00 Beijing time.
        DateTime::from_timestamp(1_795_744_800 + minutes * 60, 0)
    }

    fn c(text: &str, minutes: i64, likes: u64) -> CommentInput {
        CommentInput { text: text.into(), at: at(minutes), likes }
    }

    fn two_sides() -> Vec<CommentInput> {
        vec![
            c("支持拆迁改造，老城区早该改了", 0, 30),
            c("反对拆迁，补偿标准太低了", 5, 40),
            c("支持改造，拆迁是好事", 10, 3),
            c("坚决反对拆迁，这是强拆", 12, 8),
            c("支持！拆迁改造让大家住得更好", 20, 5),
            c("反对，拆迁补偿不公，让人寒心", 25, 2),
            c("拆迁改造是好事，点赞", 61, 1),
            c("补偿这么低凭什么拆迁，反对", 65, 6),
            c("支持政府拆迁改造", 70, 0),
            c("反对这样拆迁，补偿太低", 80, 1),
            c("哈哈", 90, 0),
            c("[doge][doge]", 91, 0),
            c("回复@某网友:支持拆迁，早就该改造了", 125, 2),
            c("//@某网友: 反对", 130, 0),
        ]
    }

    #[test]
    fn opposing_opinions_form_two_viewpoints() {
        let v = viewpoints(&two_sides(), &lexicon(), MAX_GROUPS, TZ);
        assert_eq!(v.total, 14);
        assert_eq!(v.noise, 3, "哈哈, the emoji codes and the bare repost are noise");
        assert_eq!(v.groups.len(), 2, "{:#?}", v.groups);
        let support = v.groups.iter().find(|g| g.leaning == Leaning::Positive).expect("a supporting viewpoint");
        let oppose = v.groups.iter().find(|g| g.leaning == Leaning::Negative).expect("an opposing viewpoint");
        assert_eq!((support.size, oppose.size), (6, 5), "{:#?}", v.groups);
        assert_eq!(v.other, 0);
        assert!(support.representative.contains("支持") || support.representative.contains("好事"));
        assert!(oppose.representative.contains("反对"), "{}", oppose.representative);
        assert!(oppose.negativity > 0.0 && support.negativity == 0.0);
        assert!((support.share - 6.0 / 11.0).abs() < 1e-9);
        assert!(oppose.terms.contains(&"补偿".to_string()), "{:?}", oppose.terms);
        assert!(support.terms.contains(&"改造".to_string()), "{:?}", support.terms);
    }

    #[test]
    fn the_grouping_does_not_depend_on_the_input_order() {
        let mut reversed = two_sides();
        reversed.reverse();
        let a = viewpoints(&two_sides(), &lexicon(), MAX_GROUPS, TZ);
        let b = viewpoints(&reversed, &lexicon(), MAX_GROUPS, TZ);
        let n = reversed.len();
        let unreversed: Vec<Viewpoint> = b
            .groups
            .into_iter()
            .map(|mut g| {
                g.members = g.members.iter().rev().map(|m| n - 1 - m).collect();
                g
            })
            .collect();
        assert_eq!(a.groups, unreversed);
        assert_eq!(a.groups[0].members, [0, 2, 4, 6, 8, 12], "the supporters, by input position");
    }

    #[test]
    fn leaning_counts_cues_and_flips_negated_ones() {
        assert_eq!(leaning("支持拆迁", false), 1);
        assert_eq!(leaning("反对拆迁", false), -1);
        assert_eq!(leaning("不支持拆迁", false), -1);
        assert_eq!(leaning("不反对", false), 1);
        assert_eq!(leaning("补偿不公平", false), -1, "不公平 is one cue, not 公平 negated");
        assert_eq!(leaning("什么时候开始", true), -1, "a negative lexicon score leans against");
        assert_eq!(leaning("什么时候开始", false), 0);
    }

    #[test]
    fn cleaning_drops_replies_mentions_emoji_links_and_repost_chains() {
        assert_eq!(clean("回复@张三:说得对[赞]"), "说得对");
        assert_eq!(clean("同意 @李四 的看法 https://t.cn/abc 真的"), "同意 的看法 真的");
        assert_eq!(clean("支持//@王五: 原文内容"), "支持");
        assert_eq!(clean("看这里 http: 真的"), "看这里 真的");
        assert_eq!(clean("[括号里的长内容不是表情代码啊]"), "[括号里的长内容不是表情代码啊]");
    }

    #[test]
    fn the_limit_sends_smaller_groups_to_other_and_singletons_are_never_viewpoints() {
        let v = viewpoints(&two_sides(), &lexicon(), 1, TZ);
        assert_eq!(v.groups.len(), 1);
        assert_eq!(v.groups[0].size + v.other, 11);
        let single = viewpoints(&[c("什么时候公示名单", 0, 0)], &lexicon(), MAX_GROUPS, TZ);
        assert_eq!((single.groups.len(), single.other, single.noise), (0, 1, 0));
        assert_eq!(viewpoints(&[], &lexicon(), MAX_GROUPS, TZ), Viewpoints::default());
    }

    #[test]
    fn comment_volume_per_hour_with_empty_hours() {
        let v = viewpoints(&two_sides(), &lexicon(), MAX_GROUPS, TZ);
        let counts: Vec<usize> = v.hourly.iter().map(|h| h.comments).collect();
        assert_eq!(counts, vec![6, 6, 2], "10时 6, 11时 6, 12时 2");
        let lines = v.trend_lines_zh(TZ);
        assert_eq!(lines[0], "██▄  11-27 10时 起每小时评论数，共 14 条，最多 6 条（11-27 10时）");
        assert_eq!(&lines[1..], ["11-27 10时  6 条", "11-27 11时  6 条", "11-27 12时  2 条"]);
    }

    #[test]
    fn summaries_quote_the_representatives_truncated() {
        let v = viewpoints(&two_sides(), &lexicon(), MAX_GROUPS, TZ);
        let s = v.brief_zh(6).expect("a summary");
        assert!(s.starts_with("评论 14 条；"), "{s}");
        assert!(s.contains("正面 55%「") && s.contains("负面 45%「") && s.contains("…」"), "{s}");
        let lines = v.lines_zh(40);
        assert_eq!(lines[0], "共 14 条评论，11 条参与归类（3 条过短或仅表情未计）");
        assert!(lines[1].starts_with("观点1：6 条（55%），倾向 正面"), "{}", lines[1]);
        assert_eq!(Viewpoints::default().brief_zh(10), None);
    }
}
