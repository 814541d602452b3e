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
    pub fn find(&self, title: &str, text: &str) -> Vec<Hit> {
        let mut hits = BTreeSet::new();
        for (field, haystack) in [(Field::Title, title), (Field::Text, text)] {
            for m in self.automaton.find_overlapping_iter(haystack) {
                let (term, lists) = &self.terms[m.pattern().as_usize()];
                for list in lists {
                    hits.insert(Hit { field, start: m.start(), end: m.end(), list: list.clone(), term: term.clone() });
                }
            }
        }
        hits.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(name: &str, terms: &[&str]) -> KeywordList {
        KeywordList {
            name: name.into(),
            path: PathBuf::new(),
            terms: terms.iter().enumerate().map(|(i, t)| Term { text: (*t).into(), line: i + 1 }).collect(),
        }
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
