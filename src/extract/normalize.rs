//! Text normalisation: HTML → plain text, NFKC (full-width → half-width), zero-width
//! characters removed, whitespace collapsed. Keyword terms go through the same
//! [`normalize_text`] so that both sides of a match agree.

use std::borrow::Cow;

use ego_tree::NodeRef;
use scraper::{Html, Node};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// Elements whose boundaries separate words; inline elements (`<b>`, `<a>`) do not, so
/// `<b>拆</b>迁` stays one word.
const BLOCK_ELEMENTS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];
/// Elements whose content is never text a reader sees.
const SKIPPED_ELEMENTS: &[&str] = &["script", "style", "noscript", "template", "head", "title"];

/// Characters used to dodge filters or left over by editors; removed before matching.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}')
}

/// Punctuation that Chinese text uses as its own: full-width ，：？！（）； and the
/// ellipsis ……. NFKC would turn them into ASCII (`……` into `......`), which reads wrongly
/// in Chinese titles, so they are kept; full-width letters, digits and the ideographic
/// space are still folded.
fn is_kept_punctuation(c: char) -> bool {
    matches!(c, '\u{FF01}'..='\u{FF0F}' | '\u{FF1A}'..='\u{FF20}' | '\u{FF3B}'..='\u{FF40}' | '\u{FF5B}'..='\u{FF65}' | '\u{2026}')
}

/// Characters that NFKC leaves alone whatever surrounds them: ASCII, CJK unified
/// ideographs, and the common CJK and general punctuation (、。《》「」【】— ‘’ “” ·).
fn is_nfkc_stable(c: char) -> bool {
    c.is_ascii()
        || matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3001}'..='\u{3003}' | '\u{3008}'..='\u{3011}'
            | '\u{3014}'..='\u{301F}' | '\u{2014}'..='\u{2015}' | '\u{2018}'..='\u{2019}'
            | '\u{201C}'..='\u{201D}' | '\u{00B7}')
}

/// NFKC except for Chinese full-width punctuation; borrows when nothing changes.
fn fold_width(s: &str) -> Cow<'_, str> {
    if s.chars().all(|c| is_nfkc_stable(c) || is_kept_punctuation(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find(is_kept_punctuation) {
        push_nfkc(&mut out, &rest[..pos]);
        let mut tail = rest[pos..].chars();
        if let Some(c) = tail.next() {
            out.push(c);
        }
        rest = tail.as_str();
    }
    push_nfkc(&mut out, rest);
    Cow::Owned(out)
}

/// Appends the NFKC form of `s`. Most Chinese text already is NFKC: a scan for stable
/// characters confirms that cheaply, then the standard quick check, then normalising.
fn push_nfkc(out: &mut String, s: &str) {
    if s.chars().all(is_nfkc_stable) || is_nfkc_quick(s.chars()) == IsNormalized::Yes {
        out.push_str(s);
    } else {
        out.extend(s.nfkc());
    }
}

/// Fold width (see [`fold_width`]), drop invisible and control characters, collapse
/// whitespace runs to one ASCII space, trim. Copies runs of kept text as slices.
pub fn normalize_text(s: &str) -> String {
    let folded = fold_width(s);
    let mut out = String::with_capacity(folded.len());
    let mut run_start: Option<usize> = None;
    let mut pending_space = false;
    for (i, c) in folded.char_indices() {
        let invisible = is_invisible(c);
        if invisible || c.is_whitespace() || c.is_control() {
            if let Some(start) = run_start.take() {
                out.push_str(&folded[start..i]);
            }
            pending_space |= !invisible && !out.is_empty();
            continue;
        }
        if run_start.is_none() {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            run_start = Some(i);
        }
    }
    if let Some(start) = run_start {
        out.push_str(&folded[start..]);
    }
    out
}

/// Plain text of an HTML fragment (entities decoded, markup dropped), normalised.
/// Text without markup or entities skips the HTML parser.
pub fn html_to_text(html: &str) -> String {
    if !html.contains(['<', '&']) {
        return normalize_text(html);
    }
    let fragment = Html::parse_fragment(html);
    let mut raw = String::with_capacity(html.len());
    collect_text(fragment.tree.root(), &mut raw);
    normalize_text(&raw)
}

fn collect_text(node: NodeRef<'_, Node>, out: &mut String) {
    match node.value() {
        Node::Text(text) => out.push_str(text),
        Node::Element(el) => {
            let name = el.name();
            if SKIPPED_ELEMENTS.contains(&name) {
                return;
            }
            let block = BLOCK_ELEMENTS.contains(&name);
            if block {
                out.push(' ');
            }
            for child in node.children() {
                collect_text(child, out);
            }
            if block {
                out.push(' ');
            }
        }
        _ => {
            for child in node.children() {
                collect_text(child, out);
            }
        }
    }
}

/// About `max_chars` characters of `text` around byte offset `at` (a hit), with "…"
/// where text was cut.
pub fn excerpt(text: &str, at: Option<usize>, max_chars: usize) -> String {
    let total = text.chars().count();
    if total <= max_chars {
        return text.to_string();
    }
    let at_char = at.map_or(0, |b| text.get(..b).map_or(0, |prefix| prefix.chars().count()));
    let start = at_char.saturating_sub(max_chars / 3).min(total - max_chars);
    let body: String = text.chars().skip(start).take(max_chars).collect();
    let lead = if start > 0 { "…" } else { "" };
    let tail = if start + max_chars < total { "…" } else { "" };
    format!("{lead}{body}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_becomes_half_width() {
        assert_eq!(normalize_text("ＡＢＣ１２３　退役军人"), "ABC123 退役军人");
    }

    #[test]
    fn chinese_punctuation_is_kept() {
        assert_eq!(normalize_text("抚恤金，何时发放？（急）……"), "抚恤金，何时发放？（急）……");
        assert_eq!(normalize_text("《通知》「一」【二】—“三”·、。"), "《通知》「一」【二】—“三”·、。");
        assert_eq!(normalize_text("ｅ\u{301}"), "é");
        assert_eq!(normalize_text("e\u{301}"), "é", "ASCII followed by a combining mark still composes");
        assert_eq!(normalize_text("㈱①"), "(株)1");
    }

    #[test]
    fn zero_width_characters_do_not_split_words() {
        assert_eq!(normalize_text("拆\u{200B}迁\u{FEFF}补偿"), "拆迁补偿");
        assert_eq!(normalize_text("\u{200B} 拆 \u{200B} 迁\u{200B}"), "拆 迁");
    }

    #[test]
    fn whitespace_collapses_and_trims() {
        assert_eq!(normalize_text("  a \n\t b  \r\n"), "a b");
    }

    #[test]
    fn html_markup_and_entities_are_removed() {
        let html = "<p>抚恤金&nbsp;迟迟<b>未</b>发放</p><p>&lt;网传&gt; &amp; 谣言</p><script>var x=1;</script>";
        assert_eq!(html_to_text(html), "抚恤金 迟迟未发放 <网传> & 谣言");
    }

    #[test]
    fn inline_markup_keeps_words_whole_and_blocks_separate() {
        assert_eq!(html_to_text("<b>拆</b>迁<br>安置"), "拆迁 安置");
    }

    #[test]
    fn plain_text_passes_through() {
        assert_eq!(html_to_text("a < b"), "a < b");
        assert_eq!(html_to_text("烈士陵园"), "烈士陵园");
    }

    #[test]
    fn excerpt_centres_on_the_hit() {
        let text = "一二三四五六七八九十".repeat(10);
        let at = text.char_indices().nth(50).map(|(b, _)| b);
        let e = excerpt(&text, at, 20);
        assert!(e.starts_with('…') && e.ends_with('…'), "{e}");
        assert_eq!(e.chars().count(), 22);
        assert_eq!(excerpt("短文本", Some(0), 20), "短文本");
    }
}
