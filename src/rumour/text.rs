//! Normalisation and features for the rumour model. Training, evaluation, `yuqing test
//! match` and the daemon all go through [`post_text`], [`normalize_for_model`] and
//! [`features`], so the four always see the same text.
//!
//! Normalisation removes what tells *when or where a post was crawled* rather than *what it
//! claims*: zero-width characters (far more common in one class of the public rumour sets),
//! URLs and t.cn short links (their shape reveals the crawl year), @mentions and digit
//! runs (dates, counts, ids) each become one placeholder character.

use std::sync::LazyLock;

use regex::Regex;

use crate::extract::normalize::{html_to_text, normalize_text};

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
    let (title, body) = (html_to_text(title), html_to_text(text));
    let head = title.trim_end_matches('…');
    if head.is_empty() || body.starts_with(head) {
        return body;
    }
    if body.is_empty() {
        return title;
    }
    format!("{title} {body}")
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

/// Sparse features of normalised text: each character n-gram (`min_n..=max_n`, spaces
/// included inside but an n-gram of spaces only skipped) hashed into `2^bits` buckets,
/// sublinear term frequency `1 + ln(count)`, the whole vector scaled to unit L2 length.
/// Sorted by bucket, one entry per bucket.
pub fn features(normalised: &str, bits: u8, min_n: usize, max_n: usize) -> Vec<(u32, f32)> {
    let chars: Vec<char> = normalised.chars().collect();
    let mask = (1u64 << bits) - 1;
    let mut buckets: Vec<u32> = Vec::with_capacity(chars.len() * (max_n + 1 - min_n.min(max_n)));
    let mut buf = [0u8; 4];
    for n in min_n.max(1)..=max_n {
        for gram in chars.windows(n) {
            if gram.iter().all(|c| *c == ' ') {
                continue;
            }
            let mut h = fnv1a(&[n as u8], FNV_OFFSET);
            for c in gram {
                h = fnv1a(c.encode_utf8(&mut buf).as_bytes(), h);
            }
            // Fold the high bits in: FNV's low bits alone mix poorly.
            buckets.push(((h ^ (h >> 32)) & mask) as u32);
        }
    }
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
            assert_eq!(normalize_text(&normalize_text(t)), normalize_text(t), "{t}");
        }
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
