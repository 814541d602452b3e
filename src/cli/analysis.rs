//! Everything the engines say about one text, for `yuqing test match`: hits, the lists
//! they fall in with their Art. 9 categories and topics, Art. 7 flags with reasons, the
//! rumour verdict (cues, or the trained model of [`crate::rumour`] when the config has one),
//! negativity, and the event the text would join within the batch. Pure.

use serde_json::{Value, json};

use crate::config::Config;
use crate::detect::cluster::Clusterer;
use crate::detect::distortion::Publications;
use crate::detect::flags::Flagger;
use crate::detect::sentiment::Lexicon;
use crate::extract::normalize::{html_to_text, normalize_text};
use crate::matcher::{Fields, Matcher, MatcherError};
use crate::model::{Flag, FlagKind, Hit, Negativity};
use crate::rules::Category;

pub struct Analyser {
    matcher: Matcher,
    flagger: Flagger,
    lexicon: Lexicon,
    events: Clusterer,
    rumour_model: Option<std::sync::Arc<crate::rumour::RumourModel>>,
    /// The bureau's publications, when the caller has them (the database exists).
    publications: Publications,
}

/// The result for one text.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub title: String,
    pub text: String,
    pub hits: Vec<Hit>,
    /// Distinct lists that matched, in order of first hit.
    pub lists: Vec<String>,
    /// Their Art. 9 categories and topics, distinct.
    pub categories: Vec<Category>,
    pub topics: Vec<String>,
    pub flags: Vec<Flag>,
    pub rumour: bool,
    /// The trained model's verdict when the config has a model; `rumour` includes it.
    pub rumour_model: Option<crate::rumour::ModelVerdict>,
    pub negativity: Option<Negativity>,
    pub event: usize,
}

impl Analyser {
    pub fn new(config: &Config) -> Result<Self, MatcherError> {
        Ok(Self {
            matcher: Matcher::with_folding(&config.keyword_lists, config.detection.fold_traditional)?,
            flagger: Flagger::new(&config.cue_lists, config.detection.fold_traditional)?,
            lexicon: Lexicon::new(&config.lexicon)?,
            events: Clusterer::new(config.detection.event_threshold),
            rumour_model: config.rumour_model.clone(),
            publications: Publications::default(),
        })
    }

    /// Compares texts with these publications of the bureau (歪曲).
    pub fn with_publications(mut self, publications: Publications) -> Self {
        self.publications = publications;
        self
    }

    /// Analyses a title and text (markup allowed; both are normalised first), with the
    /// author and source id that `author:` and `source:` rules look at (may be empty).
    pub fn analyse(&mut self, input: &Fields<'_>) -> Analysis {
        let (title, text) = (html_to_text(input.title), html_to_text(input.text));
        let author = normalize_text(input.author);
        let fields = Fields { title: &title, text: &text, author: &author, source: input.source };
        let hits = self.matcher.find(&fields);
        let (mut lists, mut categories, mut topics) = (Vec::new(), Vec::new(), Vec::new());
        for hit in &hits {
            if lists.contains(&hit.list) {
                continue;
            }
            lists.push(hit.list.clone());
            if let Some(meta) = self.matcher.list_meta(&hit.list) {
                push_new(&mut categories, meta.category);
                push_new(&mut topics, meta.topic.clone());
            }
        }
        let mut flags = self.flagger.flags(&fields);
        if !hits.is_empty()
            && let Some(flag) = self.publications.check(&title, &text)
        {
            flag.reasons.into_iter().for_each(|r| crate::detect::flags::add_reason(&mut flags, flag.kind, r));
        }
        let rumour_model = self.rumour_model.as_ref().map(|m| m.judge(input.title, input.text));
        let rumour = flags.iter().any(|f| f.kind == FlagKind::Rumour) || rumour_model.is_some_and(|v| v.fired);
        let negativity = self.lexicon.score(&title, &text);
        let event = self.events.add_story(&title, &text);
        Analysis { title, text, hits, lists, categories, topics, flags, rumour, rumour_model, negativity, event }
    }
}

fn push_new<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

impl Analysis {
    /// One JSON object: `hits`, `lists`, `categories`, `topics`, `flags` (`kind`, `reasons`), `rumour`,
    /// `rumour_model` (`probability`, `threshold`, `fired`, `reason`; null without a model),
    /// `negativity`, `event`.
    pub fn to_json(&self) -> Value {
        json!({
            "hits": self.hits.iter().map(|h| json!({
                "list": h.list, "term": h.term, "field": h.field.as_str(), "start": h.start, "end": h.end,
            })).collect::<Vec<_>>(),
            "lists": self.lists,
            "categories": self.categories.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "topics": self.topics,
            "flags": self.flags.iter().map(|f| json!({"kind": f.kind.as_str(), "reasons": f.reasons})).collect::<Vec<_>>(),
            "rumour": self.rumour,
            "rumour_model": self.rumour_model.map(|v| v.to_json()),
            "negativity": self.negativity.as_ref().map(|n| json!({"score": n.score, "drivers": n.drivers})),
            "event": self.event,
        })
    }
}
