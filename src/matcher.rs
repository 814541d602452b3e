//! Keyword matching: every term of every list in one Aho-Corasick automaton, searched with
//! overlapping semantics so that nested terms (群体性事件 ⊃ 事件) are all reported.
//! Pure: lists come in already parsed and normalised (see `config`).

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::model::{Field, Hit};

/// One term and the line of its list file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    pub line: usize,
}

/// A keyword list: `keywords/<name>.txt`.
#[derive(Debug, Clone)]
pub struct KeywordList {
    pub name: String,
    pub path: PathBuf,
    pub terms: Vec<Term>,
}

impl KeywordList {
    /// A list from literal terms (numbered from line 1), for built-in lists and tests.
    pub fn from_terms(name: &str, terms: &[&str]) -> Self {
        KeywordList {
            name: name.into(),
            path: PathBuf::new(),
            terms: terms.iter().enumerate().map(|(i, t)| Term { text: (*t).into(), line: i + 1 }).collect(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the keyword automaton: {0}")]
pub struct MatcherError(#[from] aho_corasick::BuildError);

/// All lists compiled into one automaton. Pattern `i` is `terms[i]`, which may belong to
/// several lists.
#[derive(Debug, Clone)]
pub struct Matcher {
    automaton: AhoCorasick,
    terms: Vec<(String, Vec<String>)>,
}

impl Matcher {
    pub fn new(lists: &[KeywordList]) -> Result<Self, MatcherError> {
        let mut terms: Vec<(String, Vec<String>)> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for list in lists {
            for term in &list.terms {
                match index.get(term.text.as_str()) {
                    Some(&i) if !terms[i].1.contains(&list.name) => terms[i].1.push(list.name.clone()),
                    Some(_) => {}
                    None => {
                        index.insert(&term.text, terms.len());
                        terms.push((term.text.clone(), vec![list.name.clone()]));
                    }
                }
            }
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(true)
            .build(terms.iter().map(|(t, _)| t))?;
        Ok(Self { automaton, terms })
    }

    pub fn term_count(&self) -> usize {
        self.terms.len()
    }

    /// Every occurrence of every term in the (normalised) title and text, sorted by field
    /// and position; a term in two lists gives one hit per list.
    ///
    /// Separators slipped between Chinese characters to dodge filters (拆-迁, 拆 迁, 拆*迁)
    /// do not hide a term; positions still point into the original field.
    pub fn find(&self, title: &str, text: &str) -> Vec<Hit> {
        let mut hits = BTreeSet::new();
        for (field, haystack) in [(Field::Title, title), (Field::Text, text)] {
            let view = SeparatorFree::of(haystack);
            for m in self.automaton.find_overlapping_iter(view.text()) {
                let (term, lists) = &self.terms[m.pattern().as_usize()];
                let (start, end) = view.original(m.start(), m.end());
                for list in lists {
                    hits.insert(Hit { field, start, end, list: list.clone(), term: term.clone() });
                }
            }
        }
        hits.into_iter().collect()
    }
}

/// Symbols people insert inside a word (ASCII and the full-width forms that normalisation
/// keeps); sentence punctuation such as ，。 is not among them.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '*'
                | '_'
                | '.'
                | '·'
                | '/'
                | '|'
                | '~'
                | '#'
                | '+'
                | '='
                | '^'
                | '`'
                | '\''
                | '"'
                | '＊'
                | '－'
                | '．'
                | '／'
                | '＿'
                | '｜'
                | '～'
                | '＃'
                | '＋'
                | '＝'
                | '・'
        )
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{2FA1F}')
}

/// Whether some separator run sits between two CJK characters (one pass, no allocation).
fn has_split_cjk(s: &str) -> bool {
    let (mut after_cjk, mut in_run) = (false, false);
    for c in s.chars() {
        if is_separator(c) {
            in_run |= after_cjk;
            after_cjk = false;
            continue;
        }
        if in_run && is_cjk(c) {
            return true;
        }
        in_run = false;
        after_cjk = is_cjk(c);
    }
    false
}

/// A field with separators between two CJK characters removed, and the way back to the
/// field's byte offsets. Borrows the field when there is nothing to remove.
struct SeparatorFree<'a> {
    text: std::borrow::Cow<'a, str>,
    /// For each byte of `text`, its offset in the original; empty when borrowed.
    map: Vec<usize>,
}

impl<'a> SeparatorFree<'a> {
    fn of(original: &'a str) -> Self {
        if !has_split_cjk(original) {
            return Self { text: original.into(), map: Vec::new() };
        }
        let chars: Vec<(usize, char)> = original.char_indices().collect();
        let removable = |i: usize| {
            is_separator(chars[i].1)
                && chars[..i].iter().rev().find(|(_, c)| !is_separator(*c)).is_some_and(|(_, c)| is_cjk(*c))
                && chars[i + 1..].iter().find(|(_, c)| !is_separator(*c)).is_some_and(|(_, c)| is_cjk(*c))
        };
        let removed: Vec<bool> = (0..chars.len()).map(removable).collect();
        if !removed.contains(&true) {
            return Self { text: original.into(), map: Vec::new() };
        }
        let mut text = String::with_capacity(original.len());
        let mut map = Vec::with_capacity(original.len());
        for (&(at, c), dropped) in chars.iter().zip(removed) {
            if !dropped {
                text.push(c);
                map.extend(at..at + c.len_utf8());
            }
        }
        Self { text: text.into(), map }
    }

    fn text(&self) -> &str {
        &self.text
    }

    /// The original byte range of the view's `start..end`.
    fn original(&self, start: usize, end: usize) -> (usize, usize) {
        if self.map.is_empty() {
            return (start, end);
        }
        (self.map[start], self.map[end - 1] + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(name: &str, terms: &[&str]) -> KeywordList {
        KeywordList::from_terms(name, terms)
    }

    #[test]
    fn nested_terms_are_all_reported_with_positions() {
        let m = Matcher::new(&[list("stability", &["群体性事件", "事件"])]).expect("builds");
        let hits = m.find("", "发生群体性事件");
        let found: Vec<(&str, usize, usize)> = hits.iter().map(|h| (h.term.as_str(), h.start, h.end)).collect();
        assert_eq!(found, vec![("群体性事件", 6, 21), ("事件", 15, 21)]);
    }

    #[test]
    fn a_term_in_two_lists_is_a_hit_for_each() {
        let m = Matcher::new(&[list("a", &["抚恤金"]), list("b", &["抚恤金", "烈士"])]).expect("builds");
        let hits = m.find("抚恤金", "");
        assert_eq!(hits.iter().map(|h| h.list.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(hits[0].field, Field::Title);
        assert_eq!(m.term_count(), 2);
    }

    #[test]
    fn separators_inside_chinese_words_do_not_hide_terms() {
        let m = Matcher::new(&[list("rights", &["拆迁", "上访"])]).expect("builds");
        for text in
            ["强制拆-迁", "强制拆 迁", "强制拆*迁", "强制拆＊迁", "强制拆 - 迁", "强制拆·迁", "强制拆_迁", "强制拆/迁"]
        {
            let hits = m.find("", text);
            assert_eq!(hits.len(), 1, "{text}");
            let h = &hits[0];
            assert_eq!(
                &text[h.start..h.end].chars().filter(|c| *c == '拆' || *c == '迁').collect::<String>(),
                "拆迁",
                "{text}"
            );
            assert!(text[h.start..h.end].starts_with('拆') && text[h.start..h.end].ends_with('迁'), "{text}");
        }
        // Sentence punctuation is a real boundary; Latin text is left alone.
        assert!(m.find("", "要拆，迁走").is_empty());
        let latin = Matcher::new(&[list("x", &["ab"])]).expect("builds");
        assert!(latin.find("", "a-b a b").is_empty());
        // Hits after a removed separator still point at the right place.
        let hits = m.find("", "拆-迁后又上访");
        let spans: Vec<&str> = hits.iter().map(|h| &"拆-迁后又上访"[h.start..h.end]).collect();
        assert_eq!(spans, vec!["拆-迁", "上访"]);
    }

    #[test]
    fn latin_terms_ignore_ascii_case() {
        let m = Matcher::new(&[list("a", &["wechat"])]).expect("builds");
        assert_eq!(m.find("WeChat 公众号", "").len(), 1);
    }

    #[test]
    fn no_terms_no_hits() {
        let m = Matcher::new(&[list("a", &["烈士陵园"])]).expect("builds");
        assert!(m.find("标题", "正文没有关键词").is_empty());
    }
}
