//! Negativity: a score per document from an admin-editable lexicon
//! (`keywords/sentiment/negative.txt` with weights, `negation.txt`, `degree.txt`),
//! explained by the words that drove it. A negative word counts its weight, times the
//! strongest degree word (非常, 严重 …) in the four characters before it; a negation
//! (不, 没有, 并未 …) in those four characters cancels it. Pure.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::model::Negativity;

/// A weighted word from a lexicon file.
#[derive(Debug, Clone, PartialEq)]
pub struct Weighted {
    pub text: String,
    pub weight: f32,
}

/// The three lexicon lists as read from `keywords/sentiment/`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LexiconLists {
    pub negative: Vec<Weighted>,
    pub negation: Vec<String>,
    pub degree: Vec<Weighted>,
}

/// How many characters before a negative word are searched for negation and degree words.
const WINDOW: usize = 4;

#[derive(Debug, Clone)]
pub struct Lexicon {
    negative: Option<AhoCorasick>,
    weights: Vec<(String, f32)>,
    negation: Vec<String>,
    degree: Vec<Weighted>,
}

impl Lexicon {
    pub fn new(lists: &LexiconLists) -> Result<Self, aho_corasick::BuildError> {
        let negative = if lists.negative.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(lists.negative.iter().map(|w| &w.text))?,
            )
        };
        Ok(Self {
            negative,
            weights: lists.negative.iter().map(|w| (w.text.clone(), w.weight)).collect(),
            negation: lists.negation.clone(),
            degree: lists.degree.clone(),
        })
    }

    /// The negativity of a normalised title and text; `None` when nothing negative counted.
    pub fn score(&self, title: &str, text: &str) -> Option<Negativity> {
        let automaton = self.negative.as_ref()?;
        let mut score = 0.0f32;
        let mut drivers: Vec<String> = Vec::new();
        for field in [title, text] {
            for m in automaton.find_iter(field) {
                let window: String = {
                    let before: Vec<char> = field[..m.start()].chars().rev().take(WINDOW).collect();
                    before.into_iter().rev().collect()
                };
                if self.negation.iter().any(|n| window.contains(n.as_str())) {
                    continue;
                }
                let degree = self
                    .degree
                    .iter()
                    .filter(|d| window.contains(d.text.as_str()))
                    .max_by(|a, b| a.weight.total_cmp(&b.weight));
                let (word, weight) = &self.weights[m.pattern().as_usize()];
                score += weight * degree.map_or(1.0, |d| d.weight);
                let driver = degree.map_or_else(|| word.clone(), |d| format!("{}{word}", d.text));
                if !drivers.contains(&driver) {
                    drivers.push(driver);
                }
            }
        }
        (score > 0.0).then(|| Negativity { score: (score * 10.0).round() / 10.0, drivers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon() -> Lexicon {
        let w = |t: &str, weight: f32| Weighted { text: t.into(), weight };
        Lexicon::new(&LexiconLists {
            negative: vec![w("拖欠", 2.0), w("投诉", 1.0), w("不作为", 2.0)],
            negation: vec!["没有".into(), "并未".into(), "不".into()],
            degree: vec![w("严重", 2.0), w("有点", 0.5)],
        })
        .expect("builds")
    }

    /// (title, text, expected score and drivers)
    type Case<'a> = (&'a str, &'a str, Option<(f32, &'a [&'a str])>);

    #[test]
    fn scores_with_degree_negation_and_explanations() {
        let lex = lexicon();
        let cases: &[Case<'_>] = &[
            ("抚恤金被拖欠", "", Some((2.0, &["拖欠"]))),
            ("", "严重拖欠抚恤金，多次投诉", Some((5.0, &["严重拖欠", "投诉"]))),
            ("", "单位并未拖欠", None),
            ("", "有点不作为", Some((1.0, &["有点不作为"]))),
            ("", "市局召开会议", None),
        ];
        for (title, text, want) in cases {
            let got = lex.score(title, text).map(|n| (n.score, n.drivers));
            let want = want.map(|(s, d)| (s, d.iter().map(|x| x.to_string()).collect::<Vec<_>>()));
            assert_eq!(got, want, "{title}{text}");
        }
    }

    #[test]
    fn an_empty_lexicon_scores_nothing() {
        let lex = Lexicon::new(&LexiconLists::default()).expect("builds");
        assert_eq!(lex.score("拖欠", "拖欠"), None);
    }
}
