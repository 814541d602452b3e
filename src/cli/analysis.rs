//! Everything the engines say about one text, for `yuqing test match`: hits, the lists
//! they fall in with their Art. 9 categories and topics, Art. 7 flags with reasons, the
//! rumour verdict (cues, or the trained model of [`crate::rumour`] when the config has one),
//! negativity, and the event the text would join within the batch. Pure.

use serde_json::{Value, json};

use crate::config::Config;
use std::collections::HashMap;

use crate::detect::cluster::{Clusterer, Probe};
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
    events: BatchEvents,
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
    /// Not flagged, but to be verified (待核实), and why: the model puts it in its band, or a
    /// 谣言 cue fired that the model does not confirm ([`crate::rumour::settle`]).
    pub to_verify: Option<String>,
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
            events: BatchEvents::new(config.detection.event_threshold, EVENT_WINDOW),
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
        self.analyse_with_comments(input, &[])
    }

    /// [`Self::analyse`] of a post with its comments (earliest first; a JSONL line's
    /// `comments`): a rumour model trained with `--comments` judges it with them when it
    /// has enough, as the daemon judges an export post.
    pub fn analyse_with_comments(&mut self, input: &Fields<'_>, comments: &[String]) -> Analysis {
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
        let rumour_model = self.rumour_model.as_ref().map(|m| {
            if comments.is_empty() {
                m.judge_plain(&title, &text)
            } else {
                m.judge_plain_with_comments(&title, &text, comments)
            }
        });
        let to_verify = rumour_model.as_ref().and_then(|v| crate::rumour::settle(&mut flags, v));
        let rumour = flags.iter().any(|f| f.kind == FlagKind::Rumour);
        let negativity = self.lexicon.score(&title, &text);
        let event = self.events.add_story(&title, &text);
        Analysis {
            title,
            text,
            hits,
            lists,
            categories,
            topics,
            flags,
            rumour,
            to_verify,
            rumour_model,
            negativity,
            event,
        }
    }
}

/// How many of the latest posts a batch's events are looked up among (at least this many,
/// at most twice as many): memory stays flat over a file of any length.
pub const EVENT_WINDOW: usize = 5_000;

/// A batch's events over a sliding window: two generations of [`Clusterer`], the one being
/// filled and the one before; when the current holds `window` posts the older is dropped.
/// A post joins the most similar event of either, so within the first `window` posts this
/// is exactly one clusterer over the whole batch. Event ids count up over the batch.
struct BatchEvents {
    threshold: f64,
    window: usize,
    current: Generation,
    previous: Option<Generation>,
    next_id: usize,
}

/// One clusterer and its cluster ids as batch event ids (and back).
struct Generation {
    clusterer: Clusterer,
    posts: usize,
    events: Vec<usize>,
    clusters: HashMap<usize, usize>,
}

impl Generation {
    fn new(threshold: f64) -> Self {
        Generation { clusterer: Clusterer::new(threshold), posts: 0, events: Vec::new(), clusters: HashMap::new() }
    }
}

impl BatchEvents {
    fn new(threshold: f64, window: usize) -> Self {
        BatchEvents {
            threshold,
            window: window.max(1),
            current: Generation::new(threshold),
            previous: None,
            next_id: 0,
        }
    }

    /// The batch event id of a story, a new one when it resembles no post in the window.
    fn add_story(&mut self, title: &str, text: &str) -> usize {
        let probe = Probe::story(title, text);
        let here = self.current.clusterer.nearest(&probe).map(|(c, sim)| (self.current.events[c], sim));
        // Similarities are at most 1.0 (an exact copy): nothing in the previous generation
        // can beat an exact copy in the current one, so it is not searched.
        let before = match here {
            Some((_, sim)) if sim >= 1.0 => None,
            _ => self.previous.as_ref().and_then(|g| g.clusterer.nearest(&probe).map(|(c, sim)| (g.events[c], sim))),
        };
        let event = match (here, before) {
            (Some(h), Some(b)) if b.1 > h.1 => b.0,
            (Some(h), _) => h.0,
            (None, Some(b)) => b.0,
            (None, None) => {
                self.next_id += 1;
                self.next_id - 1
            }
        };
        let g = &mut self.current;
        let cluster = match g.clusters.get(&event) {
            Some(c) => *c,
            None => {
                let c = g.clusterer.new_cluster();
                g.events.push(event);
                g.clusters.insert(event, c);
                c
            }
        };
        g.clusterer.insert(probe, cluster);
        g.posts += 1;
        if g.posts >= self.window {
            self.previous = Some(std::mem::replace(&mut self.current, Generation::new(self.threshold)));
        }
        event
    }
}

fn push_new<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

impl Analysis {
    /// One JSON object: `hits`, `lists`, `categories`, `topics`, `flags` (`kind`, `reasons`), `rumour`,
    /// `to_verify` (待核实) and `to_verify_reason`, `rumour_model` (`probability`, `threshold`, `review_threshold`,
    /// `fired`, `to_verify`, `cues`, `reason`; null without a model),
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
            "to_verify": self.to_verify.is_some(),
            "to_verify_reason": self.to_verify,
            "rumour_model": self.rumour_model.as_ref().map(|v| v.to_json()),
            "negativity": self.negativity.as_ref().map(|n| json!({"score": n.score, "drivers": n.drivers})),
            "event": self.event,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORY: &str =
        "网传临江市烈士陵园将被拆迁改建商业综合体，市退役军人事务局回应：系不实信息，烈士陵园不会拆迁。";
    const OTHER: [&str; 3] = [
        "东湖公园改造工程顺利通过竣工验收，将于下月起向市民免费开放。",
        "市光荣院开展冬季消防安全应急演练活动，全体工作人员参加。",
        "关于第四季度优抚对象定期抚恤金发放时间安排的公告正式发布。",
    ];

    #[test]
    fn the_window_keeps_ids_and_forgets_what_is_two_windows_old() {
        let mut unbounded = BatchEvents::new(0.5, usize::MAX);
        let mut windowed = BatchEvents::new(0.5, 2);
        let batch = [STORY, OTHER[0], STORY, OTHER[1], OTHER[2], OTHER[0], STORY];
        let a: Vec<usize> = batch.iter().map(|t| unbounded.add_story("", t)).collect();
        let b: Vec<usize> = batch.iter().map(|t| windowed.add_story("", t)).collect();
        assert_eq!(a, [0, 1, 0, 2, 3, 1, 0]);
        // Window 2: generations [1 2] [3 4] [5 6] [7]. Post 3 finds post 1 in the previous
        // generation; post 6 (OTHER[0]) is in the generation after the one before post 2's,
        // so a new event, and so is post 7 (its last copy, post 3, was two generations back).
        assert_eq!(b, [0, 1, 0, 2, 3, 4, 5]);
        assert!(windowed.previous.as_ref().is_some_and(|g| g.posts == 2) && windowed.current.posts == 1);
    }
}
