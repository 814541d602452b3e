//! Everything the engines say about one text, for `yuqing test match`: hits, the lists
//! (categories) they fall in, Art. 7 flags with reasons, the rumour verdict (cues, or the
//! trained model of [`crate::rumour`] when the config has one), negativity, and the event
//! the text would join within the batch. Pure.

use serde_json::{Value, json};

use crate::cluster::Clusterer;
use crate::config::Config;
use crate::extract::normalize::html_to_text;
use crate::flags::Flagger;
use crate::matcher::{Matcher, MatcherError};
use crate::model::{Flag, FlagKind, Hit, Negativity};
use crate::sentiment::Lexicon;

/// Near-duplicate threshold for the batch's events.
pub const EVENT_THRESHOLD: f64 = 0.5;

pub struct Analyser {
    matcher: Matcher,
    flagger: Flagger,
    lexicon: Lexicon,
    events: Clusterer,
    rumour_model: Option<std::sync::Arc<crate::rumour::RumourModel>>,
}

/// The result for one text.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub title: String,
    pub text: String,
    pub hits: Vec<Hit>,
    pub categories: Vec<String>,
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
            matcher: Matcher::new(&config.keyword_lists)?,
            flagger: Flagger::new(&config.cue_lists)?,
            lexicon: Lexicon::new(&config.lexicon)?,
            events: Clusterer::new(EVENT_THRESHOLD),
            rumour_model: config.rumour_model.clone(),
        })
    }

    /// Analyses a title and text (markup allowed; both are normalised first).
    pub fn analyse(&mut self, title: &str, text: &str) -> Analysis {
        let (title, text) = (html_to_text(title), html_to_text(text));
        let hits = self.matcher.find(&title, &text);
        let mut categories: Vec<String> = Vec::new();
        for hit in &hits {
            if !categories.contains(&hit.list) {
                categories.push(hit.list.clone());
            }
        }
        let flags = self.flagger.flags(&title, &text);
        let rumour_model = self.rumour_model.as_ref().map(|m| m.judge(&format!("{title} {text}")));
        let rumour = flags.iter().any(|f| f.kind == FlagKind::Rumour) || rumour_model.is_some_and(|v| v.fired);
        let negativity = self.lexicon.score(&title, &text);
        let event = self.events.add(&format!("{title} {text}"));
        Analysis { title, text, hits, categories, flags, rumour, rumour_model, negativity, event }
    }
}

impl Analysis {
    /// One JSON object: `hits`, `categories`, `flags` (`kind`, `reasons`), `rumour`,
    /// `rumour_model` (`probability`, `threshold`, `fired`, `reason`; null without a model),
    /// `negativity`, `event`.
    pub fn to_json(&self) -> Value {
        json!({
            "hits": self.hits.iter().map(|h| json!({
                "list": h.list, "term": h.term, "field": h.field.as_str(), "start": h.start, "end": h.end,
            })).collect::<Vec<_>>(),
            "categories": self.categories,
            "flags": self.flags.iter().map(|f| json!({"kind": f.kind.as_str(), "reasons": f.reasons})).collect::<Vec<_>>(),
            "rumour": self.rumour,
            "rumour_model": self.rumour_model.map(|v| v.to_json()),
            "negativity": self.negativity.as_ref().map(|n| json!({"score": n.score, "drivers": n.drivers})),
            "event": self.event,
        })
    }
}
