//! Events (舆情事件, Art. 13): which story a matched document belongs to. Copies, light
//! rewrites and reposts of one story, from any source, join one event while it is open
//! (its last copy is younger than the window); otherwise a document starts a new event.
//!
//! The index lives in memory (a [`Clusterer`] over the documents of open events) and is
//! built from the store when first needed (the first matched document after start or after
//! a change of the detection settings), again after a failed commit, and daily to drop
//! closed events.
//! Event ids are assigned here and written by the store with an upsert, so concurrent source
//! runs agree on them. Pure apart from the seeds the caller reads from the store.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::detect::cluster::{Clusterer, Probe};
use crate::model::{Document, FlagKind};
use crate::response::{Facts, Grade, Grading, Reaction, Tier};
use crate::rules::Category;

/// A document of an open event, as read back from the store to rebuild the index.
#[derive(Debug, Clone)]
pub struct Seed {
    pub event_id: i64,
    pub source_id: String,
    pub title: String,
    pub text: String,
    pub seen_at: DateTime<Utc>,
    /// The event's stored grade.
    pub grade: Option<Grade>,
}

/// What one document says about its event's content (Art. 8's first axis).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentFacts {
    pub max_weight: u8,
    pub categories: Vec<Category>,
    pub flags: Vec<FlagKind>,
    pub negativity: f32,
}

impl ContentFacts {
    fn merge(&mut self, other: &ContentFacts) {
        self.max_weight = self.max_weight.max(other.max_weight);
        self.negativity = self.negativity.max(other.negativity);
        for c in &other.categories {
            if !self.categories.contains(c) {
                self.categories.push(*c);
            }
        }
        for f in &other.flags {
            if !self.flags.contains(f) {
                self.flags.push(*f);
            }
        }
    }
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
    /// The wording it shares with that document that made it a copy (empty for the first).
    pub evidence: Vec<String>,
    /// The document's time on the propagation path: published, or found when that is
    /// unknown or in the future.
    pub seen_at: DateTime<Utc>,
    /// The event's title (its first document's), for update alerts.
    pub event_title: String,
    /// Distinct sources and documents including this one.
    pub sources: usize,
    pub documents: usize,
    /// The event's grade after this document ([`EventIndex::regrade`]), with its reasons,
    /// and the grade before it (`None` for a new event).
    pub grade: Grade,
    pub grade_reasons: Vec<String>,
    pub previous_grade: Option<Grade>,
    /// The owning section decided by routing (kept from the event's first document).
    pub owner: Option<String>,
}

impl Assignment {
    /// An open event as it stands, no document joining it (not yet graded anew).
    fn of(event_id: i64, open: &Open) -> Self {
        Assignment {
            event_id,
            new_event: false,
            new_source: false,
            similarity: 1.0,
            evidence: Vec::new(),
            seen_at: open.last_seen,
            event_title: open.title.clone(),
            sources: open.sources.len(),
            documents: open.documents,
            grade: Grade::IV,
            grade_reasons: Vec::new(),
            previous_grade: open.grade,
            owner: None,
        }
    }

    /// A further copy from a source already on the event's path that changes nothing (no
    /// new event, no new source, no rise): it reaches people as a spaced update.
    pub fn is_plain_copy(&self) -> bool {
        !self.new_event && !self.new_source && !self.rose()
    }

    /// Whether this document raised the event's grade (grades only rise on their own).
    pub fn rose(&self) -> bool {
        self.previous_grade.is_some_and(|p| self.grade < p)
    }
}

#[derive(Debug, Clone)]
struct Open {
    title: String,
    last_seen: DateTime<Utc>,
    sources: Vec<String>,
    documents: usize,
    grade: Option<Grade>,
    /// A person downgraded the event from this grade: automatic grading rises above it only.
    downgraded_from: Option<Grade>,
    /// Content facts of the documents seen by this process (not restored after a restart;
    /// the stored grade is, and grades only rise).
    content: ContentFacts,
}

impl Open {
    fn new(title: String, last_seen: DateTime<Utc>) -> Self {
        Open {
            title,
            last_seen,
            sources: Vec::new(),
            documents: 0,
            grade: None,
            downgraded_from: None,
            content: ContentFacts::default(),
        }
    }
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
    /// Where new ids end when they come from blocks reserved in the store (several
    /// instances on one database, `store::ids`); `None` counts on from the largest stored id.
    id_end: Option<i64>,
    built_at: DateTime<Utc>,
    /// Rebuilt from the store when this old: a day (closed events pile up), or minutes
    /// when other instances add events to the same database.
    rebuild_after: chrono::Duration,
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
            id_end: None,
            built_at: now,
            rebuild_after: chrono::Duration::days(1),
            stale: false,
        };
        let mut cluster_of: HashMap<i64, usize> = HashMap::new();
        for seed in seeds {
            let cluster = *cluster_of.entry(seed.event_id).or_insert_with(|| {
                index.cluster_event.push(seed.event_id);
                index.clusterer.new_cluster()
            });
            index.clusterer.insert(Probe::story(&seed.title, &seed.text), cluster);
            let open = index.open.entry(seed.event_id).or_insert_with(|| Open::new(seed.title.clone(), seed.seen_at));
            open.last_seen = open.last_seen.max(seed.seen_at);
            open.grade = match (open.grade, seed.grade) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            open.documents += 1;
            if !open.sources.contains(&seed.source_id) {
                open.sources.push(seed.source_id);
            }
        }
        index
    }

    /// An empty index that asks to be built from the store before its first use
    /// ([`Self::needs_rebuild`]): a run that matches nothing (an idle re-poll) never
    /// reads the open events' documents nor holds their shingles.
    pub fn unbuilt(threshold: f64, window: Duration, now: DateTime<Utc>) -> Self {
        let mut index = Self::new(threshold, window, Vec::new(), 0, now);
        index.stale = true;
        index
    }

    /// The earliest time a seed must have to matter now.
    pub fn seeds_since(window: Duration, now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::days(3))
    }

    /// Whether the caller should rebuild the index from the store before assigning: a
    /// commit failed since it was built, or it is a day old (closed events pile up).
    pub fn needs_rebuild(&self, now: DateTime<Utc>) -> bool {
        self.stale || now - self.built_at > self.rebuild_after
    }

    /// New ids from now on come only from blocks given by [`Self::add_ids`] (several
    /// instances on one database); none is left until the first block.
    pub fn use_reserved_ids(&mut self) {
        self.id_end = Some(self.next_id);
    }

    /// Asks to be rebuilt from the store once `age` old (several instances: what the others
    /// stored meanwhile joins the index then).
    pub fn rebuild_after(&mut self, age: Duration) {
        self.rebuild_after = chrono::Duration::from_std(age).unwrap_or(self.rebuild_after);
    }

    /// Whether `n` new events could not get ids without another reserved block.
    pub fn needs_ids(&self, n: usize) -> bool {
        self.id_end.is_some_and(|end| end.saturating_sub(self.next_id) < i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// Takes the ids `[start, end)` for new events (what is left of the previous block is
    /// dropped: gaps, never collisions).
    pub fn add_ids(&mut self, (start, end): (i64, i64)) {
        self.next_id = start;
        self.id_end = Some(end);
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
        let probe = Probe::story(&document.title, &document.text);
        let (cluster, similarity) = self.clusterer.nearest(&probe)?;
        let event_id = self.cluster_event[cluster];
        let open = self.open.get(&event_id)?;
        (open.last_seen + self.window >= seen_at).then(|| (event_id, open.title.clone(), similarity))
    }

    /// Assigns a matched document to an open event, or starts one. `now` stands in for
    /// a missing or future publish time.
    pub fn assign(&mut self, document: &Document, now: DateTime<Utc>) -> Assignment {
        self.assign_apart(document, now, None)
    }

    /// [`Self::assign`], never to event `apart_from` (a document a person split out of it).
    pub fn assign_apart(&mut self, document: &Document, now: DateTime<Utc>, apart_from: Option<i64>) -> Assignment {
        let seen_at = document.published_at.filter(|t| *t <= now).unwrap_or(now);
        let probe = Probe::story(&document.title, &document.text);
        let cluster_event = &self.cluster_event;
        let keep = |cluster: usize| apart_from.is_none_or(|e| cluster_event.get(cluster) != Some(&e));
        let joined = self.clusterer.nearest_document_where(&probe, keep).and_then(|(cluster, similarity, doc)| {
            let event_id = self.cluster_event[cluster];
            let open = self.open.get(&event_id)?;
            (open.last_seen + self.window >= seen_at).then_some((cluster, event_id, similarity, doc))
        });
        let mut evidence = Vec::new();
        let (cluster, event_id, similarity, new_event) = match joined {
            Some((cluster, event_id, similarity, doc)) => {
                evidence = self.clusterer.evidence(&event_text(&document.title, &document.text), doc);
                (cluster, event_id, similarity, false)
            }
            None => {
                let cluster = self.clusterer.new_cluster();
                if self.id_end.is_some_and(|end| self.next_id >= end) {
                    // The caller reserves ids before assigning (`needs_ids`); counting on
                    // past the block could reuse another instance's id.
                    tracing::error!(next_id = self.next_id, "event ids used up without a new block");
                }
                let event_id = self.next_id;
                self.next_id += 1;
                self.cluster_event.push(event_id);
                let title = if document.title.is_empty() {
                    crate::extract::normalize::excerpt(&document.text, None, 40)
                } else {
                    document.title.clone()
                };
                self.open.insert(event_id, Open::new(title, seen_at));
                (cluster, event_id, 1.0, true)
            }
        };
        self.clusterer.insert(probe, cluster);
        let open = self.open.entry(event_id).or_insert_with(|| Open::new(document.title.clone(), seen_at));
        open.last_seen = open.last_seen.max(seen_at);
        open.documents += 1;
        let new_source = !open.sources.contains(&document.source_id);
        if new_source {
            open.sources.push(document.source_id.clone());
        }
        Assignment { new_event, new_source, similarity, evidence, seen_at, ..Assignment::of(event_id, open) }
    }

    /// Brings an open event's grade in line with the store, where people may have
    /// downgraded it since (`yuqing event downgrade`); `a` is an assignment to it.
    pub fn sync(&mut self, a: &mut Assignment, grade: Option<Grade>, downgraded_from: Option<Grade>) {
        if let Some(open) = self.open.get_mut(&a.event_id) {
            open.grade = grade.or(open.grade);
            open.downgraded_from = downgraded_from;
            a.previous_grade = open.grade;
        }
    }

    /// Grades an open event again after its documents' counts changed (no new document):
    /// an [`Assignment`] describing the event, or `None` when the event is closed here.
    pub fn regrade_event(
        &mut self,
        event_id: i64,
        (grade, downgraded_from): (Option<Grade>, Option<Grade>),
        tier_of: impl Fn(&str) -> Option<(Tier, String)>,
        reaction: Reaction,
        grading: &Grading,
    ) -> Option<Assignment> {
        let mut a = Assignment::of(event_id, self.open.get(&event_id)?);
        self.sync(&mut a, grade, downgraded_from);
        self.regrade(&mut a, &ContentFacts::default(), tier_of, reaction, grading);
        Some(a)
    }

    /// Grades the event of `a` again with the document's content added: content facts
    /// accumulate over its documents, reach is its distinct sources and their tiers. The
    /// grade never drops below the stored one.
    pub fn regrade(
        &mut self,
        a: &mut Assignment,
        content: &ContentFacts,
        tier_of: impl Fn(&str) -> Option<(Tier, String)>,
        reaction: Reaction,
        grading: &Grading,
    ) {
        let Some(open) = self.open.get_mut(&a.event_id) else { return };
        open.content.merge(content);
        let facts = Facts {
            max_weight: open.content.max_weight,
            categories: open.content.categories.clone(),
            flags: open.content.flags.clone(),
            negativity: open.content.negativity,
            interactions: reaction.interactions,
            growth: reaction.growth,
            documents: open.documents,
            sources: open.sources.len(),
            tiers: open.sources.iter().filter_map(|s| tier_of(s)).collect(),
            spread: reaction.spread,
        };
        let (grade, reasons) = grading.grade(&facts);
        // A kept grade still says that the story is accelerating.
        let accelerating = grading.acceleration.reason(reaction.spread);
        // After a human downgrade, only a grade above the one it was downgraded from counts.
        let overruled = open.downgraded_from.is_some_and(|from| grade >= from);
        match open.grade {
            Some(kept) if overruled && grade < kept => {
                a.grade = kept;
                a.grade_reasons = vec!["维持人工研判的级别（人工降级后，自动研判只能升至降级前的级别以上）".into()];
                a.grade_reasons.extend(accelerating);
            }
            Some(kept) if kept <= grade => {
                a.grade = kept;
                a.grade_reasons = match kept == grade {
                    true => reasons,
                    false => {
                        std::iter::once("维持此前的级别（级别只升不降）".to_string()).chain(accelerating).collect()
                    }
                };
            }
            _ => {
                a.grade = grade;
                a.grade_reasons = reasons;
            }
        }
        open.grade = Some(a.grade);
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
            grade: Some(Grade::III),
        }];
        let mut idx = EventIndex::new(0.5, Duration::from_secs(72 * 3600), seeds, 3, at(2));
        let copy = idx.assign(&doc("daily", "", STORY, 2), at(2));
        assert_eq!((copy.event_id, copy.new_event, copy.new_source, copy.sources), (3, false, true, 2));
        assert_eq!(copy.previous_grade, Some(Grade::III), "the stored grade is restored");
        assert!(!idx.needs_rebuild(at(3)));
        assert!(idx.needs_rebuild(at(30)));
        idx.invalidate();
        assert!(idx.needs_rebuild(at(3)));
        let unbuilt = EventIndex::unbuilt(0.5, Duration::from_secs(72 * 3600), at(2));
        assert!(unbuilt.needs_rebuild(at(2)), "built from the store before its first use");
        assert_eq!((unbuilt.threshold(), unbuilt.window()), (0.5, Duration::from_secs(72 * 3600)));
    }

    #[test]
    fn regrading_accumulates_content_and_reach_and_never_drops() {
        let mut idx = EventIndex::new(0.5, Duration::from_secs(72 * 3600), Vec::new(), 0, at(0));
        let grading = Grading::default();
        let tier = |s: &str| (s == "province").then(|| (Tier::Provincial, "省报".to_string()));
        let weak = ContentFacts { max_weight: 2, ..Default::default() };
        let mut first = idx.assign(&doc("forum", "", STORY, 1), at(1));
        idx.regrade(&mut first, &weak, tier, Reaction::default(), &grading);
        assert_eq!((first.grade, first.previous_grade, first.rose()), (Grade::IV, None, false));
        // A rumour flag from one copy and a weight-3 list from another make III together.
        let rumour = ContentFacts { flags: vec![FlagKind::Rumour], max_weight: 1, ..Default::default() };
        let mut second = idx.assign(&doc("daily", "", STORY, 2), at(2));
        idx.regrade(&mut second, &rumour, tier, Reaction::default(), &grading);
        assert_eq!(second.grade, Grade::IV);
        let heavier = ContentFacts { max_weight: 3, ..Default::default() };
        let mut third = idx.assign(&doc("daily", "", &format!("转发：{STORY}"), 3), at(3));
        idx.regrade(&mut third, &heavier, tier, Reaction::default(), &grading);
        assert_eq!((third.grade, third.previous_grade, third.rose()), (Grade::III, Some(Grade::IV), true));
        assert!(third.grade_reasons.iter().any(|r| r.contains("疑似谣言")), "{:?}", third.grade_reasons);
        // A provincial outlet: II.
        let mut fourth = idx.assign(&doc("province", "", STORY, 4), at(4));
        idx.regrade(&mut fourth, &weak, tier, Reaction::default(), &grading);
        assert_eq!(fourth.grade, Grade::II);
        assert!(fourth.grade_reasons.iter().any(|r| r.contains("省级媒体（省报）")));
        // Nothing new: it stays II.
        let mut fifth = idx.assign(&doc("forum", "", STORY, 5), at(5));
        idx.regrade(&mut fifth, &weak, tier, Reaction::default(), &grading);
        assert_eq!((fifth.grade, fifth.rose()), (Grade::II, false));
        // Public reaction: 60,000 interactions make it I.
        let mut sixth = idx.assign(&doc("forum", "", STORY, 6), at(6));
        idx.regrade(&mut sixth, &weak, tier, Reaction { interactions: 60_000, ..Reaction::default() }, &grading);
        assert_eq!((sixth.grade, sixth.rose()), (Grade::I, true));
        assert!(sixth.grade_reasons.iter().any(|r| r.contains("互动 60000 ≥ 50000")));
    }
}
