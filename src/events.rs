//! Events (舆情事件, Art. 13): which story a matched document belongs to. Copies, light
//! rewrites and reposts of one story, from any source, join one event while it is open
//! (its last copy is younger than the window); otherwise a document starts a new event.
//!
//! The index lives in memory (a [`Clusterer`] over the documents of open events) and is
//! rebuilt from the store at start, after a failed commit, and daily to drop closed events.
//! Event ids are assigned here and written by the store with an upsert, so concurrent source
//! runs agree on them. Pure apart from the seeds the caller reads from the store.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cluster::{Clusterer, Probe};
use crate::model::Document;

/// A document of an open event, as read back from the store to rebuild the index.
#[derive(Debug, Clone)]
pub struct Seed {
    pub event_id: i64,
    pub source_id: String,
    pub title: String,
    pub text: String,
    pub seen_at: DateTime<Utc>,
}

/// Where a document went.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub event_id: i64,
    /// The document starts the event.
    pub new_event: bool,
    /// The document is the event's first from its source (a new step in the propagation path).
    pub new_source: bool,
    /// Similarity to the closest earlier document of the event (1.0 for the first one).
    pub similarity: f64,
    /// The document's time on the propagation path: published, or found when that is
    /// unknown or in the future.
    pub seen_at: DateTime<Utc>,
    /// The event's title (its first document's), for update alerts.
    pub event_title: String,
    /// Distinct sources and documents including this one.
    pub sources: usize,
    pub documents: usize,
}

#[derive(Debug, Clone)]
struct Open {
    title: String,
    last_seen: DateTime<Utc>,
    sources: Vec<String>,
    documents: usize,
}

#[derive(Debug)]
pub struct EventIndex {
    threshold: f64,
    window: chrono::Duration,
    clusterer: Clusterer,
    /// Cluster id → event id.
    cluster_event: Vec<i64>,
    open: HashMap<i64, Open>,
    next_id: i64,
    built_at: DateTime<Utc>,
    stale: bool,
}

/// The text a document is clustered on.
pub fn event_text(title: &str, text: &str) -> String {
    format!("{title} {text}")
}

impl EventIndex {
    /// An index over `seeds` (documents of events seen within the window), with new ids
    /// starting after `max_event_id`.
    pub fn new(threshold: f64, window: Duration, seeds: Vec<Seed>, max_event_id: i64, now: DateTime<Utc>) -> Self {
        let mut index = EventIndex {
            threshold,
            window: chrono::Duration::from_std(window).unwrap_or(chrono::Duration::days(3)),
            clusterer: Clusterer::new(threshold),
            cluster_event: Vec::new(),
            open: HashMap::new(),
            next_id: max_event_id + 1,
            built_at: now,
            stale: false,
        };
        let mut cluster_of: HashMap<i64, usize> = HashMap::new();
        for seed in seeds {
            let cluster = *cluster_of.entry(seed.event_id).or_insert_with(|| {
                index.cluster_event.push(seed.event_id);
                index.clusterer.new_cluster()
            });
            index.clusterer.insert(Probe::of(&event_text(&seed.title, &seed.text)), cluster);
            let open = index.open.entry(seed.event_id).or_insert_with(|| Open {
                title: seed.title.clone(),
                last_seen: seed.seen_at,
                sources: Vec::new(),
                documents: 0,
            });
            open.last_seen = open.last_seen.max(seed.seen_at);
            open.documents += 1;
            if !open.sources.contains(&seed.source_id) {
                open.sources.push(seed.source_id);
            }
        }
        index
    }

    /// The earliest time a seed must have to matter now.
    pub fn seeds_since(window: Duration, now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::days(3))
    }

    /// Whether the caller should rebuild the index from the store before assigning: a
    /// commit failed since it was built, or it is a day old (closed events pile up).
    pub fn needs_rebuild(&self, now: DateTime<Utc>) -> bool {
        self.stale || now - self.built_at > chrono::Duration::days(1)
    }

    /// Marks the index as no longer matching the store (a commit was rolled back).
    pub fn invalidate(&mut self) {
        self.stale = true;
    }

    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    pub fn window(&self) -> Duration {
        self.window.to_std().unwrap_or_default()
    }

    /// The open event `document` would join, with its title and the similarity; changes
    /// nothing (for `yuqing test match`).
    pub fn peek(&self, document: &Document, now: DateTime<Utc>) -> Option<(i64, String, f64)> {
        let seen_at = document.published_at.filter(|t| *t <= now).unwrap_or(now);
        let probe = Probe::of(&event_text(&document.title, &document.text));
        let (cluster, similarity) = self.clusterer.nearest(&probe)?;
        let event_id = self.cluster_event[cluster];
        let open = self.open.get(&event_id)?;
        (open.last_seen + self.window >= seen_at).then(|| (event_id, open.title.clone(), similarity))
    }

    /// Assigns a matched document to an open event, or starts one. `now` stands in for
    /// a missing or future publish time.
    pub fn assign(&mut self, document: &Document, now: DateTime<Utc>) -> Assignment {
        let seen_at = document.published_at.filter(|t| *t <= now).unwrap_or(now);
        let probe = Probe::of(&event_text(&document.title, &document.text));
        let joined = self.clusterer.nearest(&probe).and_then(|(cluster, similarity)| {
            let event_id = self.cluster_event[cluster];
            let open = self.open.get(&event_id)?;
            (open.last_seen + self.window >= seen_at).then_some((cluster, event_id, similarity))
        });
        let (cluster, event_id, similarity, new_event) = match joined {
            Some((cluster, event_id, similarity)) => (cluster, event_id, similarity, false),
            None => {
                let cluster = self.clusterer.new_cluster();
                let event_id = self.next_id;
                self.next_id += 1;
                self.cluster_event.push(event_id);
                let title = if document.title.is_empty() {
                    crate::extract::normalize::excerpt(&document.text, None, 40)
                } else {
                    document.title.clone()
                };
                self.open.insert(event_id, Open { title, last_seen: seen_at, sources: Vec::new(), documents: 0 });
                (cluster, event_id, 1.0, true)
            }
        };
        self.clusterer.insert(probe, cluster);
        let open = self.open.entry(event_id).or_insert_with(|| Open {
            title: document.title.clone(),
            last_seen: seen_at,
            sources: Vec::new(),
            documents: 0,
        });
        open.last_seen = open.last_seen.max(seen_at);
        open.documents += 1;
        let new_source = !open.sources.contains(&document.source_id);
        if new_source {
            open.sources.push(document.source_id.clone());
        }
        Assignment {
            event_id,
            new_event,
            new_source,
            similarity,
            seen_at,
            event_title: open.title.clone(),
            sources: open.sources.len(),
            documents: open.documents,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const STORY: &str =
        "网传临江市烈士陵园将被拆迁改建商业综合体，市退役军人事务局回应：系不实信息，烈士陵园不会拆迁。";

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).single().unwrap_or_default() + chrono::Duration::hours(hour.into())
    }

    fn doc(source: &str, title: &str, text: &str, hour: u32) -> Document {
        Document {
            source_id: source.into(),
            keys: Vec::new(),
            fingerprint: String::new(),
            link: None,
            guid: None,
            title: title.into(),
            text: text.into(),
            author: None,
            published_at: Some(at(hour)),
            page_state: None,
        }
    }

    #[test]
    fn copies_join_the_open_event_and_count_new_sources() {
        let mut idx = EventIndex::new(0.5, Duration::from_secs(72 * 3600), Vec::new(), 7, at(0));
        let first = idx.assign(&doc("forum", "烈士陵园要拆？", STORY, 1), at(1));
        assert!(first.new_event && first.new_source);
        assert_eq!(first.event_id, 8, "ids continue after the store's largest");
        let copy = idx.assign(&doc("daily", "烈士陵园要拆？", &format!("【转载】{STORY}"), 2), at(2));
        assert_eq!((copy.event_id, copy.new_event, copy.new_source), (8, false, true));
        assert_eq!((copy.sources, copy.documents), (2, 2));
        assert_eq!(copy.event_title, "烈士陵园要拆？");
        let again = idx.assign(&doc("daily", "", STORY, 3), at(3));
        assert_eq!((again.event_id, again.new_source, again.documents), (8, false, 3));
        let other = idx.assign(&doc("daily", "招聘会", "临江市举办退役军人专场招聘会，提供岗位三千余个。", 3), at(3));
        assert!(other.new_event);
        assert_ne!(other.event_id, 8);
    }

    #[test]
    fn a_copy_after_the_window_starts_a_new_event() {
        let mut idx = EventIndex::new(0.5, Duration::from_secs(24 * 3600), Vec::new(), 0, at(0));
        let first = idx.assign(&doc("forum", "", STORY, 0), at(0));
        assert!(idx.peek(&doc("daily", "", STORY, 30), at(30)).is_none(), "closed by now");
        assert_eq!(idx.peek(&doc("daily", "", STORY, 20), at(20)).map(|p| p.0), Some(first.event_id));
        let late = idx.assign(&doc("forum", "", STORY, 30), at(30));
        assert!(late.new_event);
        assert_ne!(late.event_id, first.event_id);
    }

    #[test]
    fn seeds_restore_open_events_across_restarts() {
        let seeds = vec![Seed {
            event_id: 3,
            source_id: "forum".into(),
            title: "烈士陵园要拆？".into(),
            text: STORY.into(),
            seen_at: at(1),
        }];
        let mut idx = EventIndex::new(0.5, Duration::from_secs(72 * 3600), seeds, 3, at(2));
        let copy = idx.assign(&doc("daily", "", STORY, 2), at(2));
        assert_eq!((copy.event_id, copy.new_event, copy.new_source, copy.sources), (3, false, true, 2));
        assert!(!idx.needs_rebuild(at(3)));
        assert!(idx.needs_rebuild(at(30)));
        idx.invalidate();
        assert!(idx.needs_rebuild(at(3)));
    }
}
