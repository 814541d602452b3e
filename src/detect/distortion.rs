//! 歪曲 (distortion, Art. 7) by comparison: a claim about something the bureau itself
//! published (its website and official accounts, `official = true` sources) is checked
//! against that publication. The flag is raised only on an explicit contradiction, and its
//! reason quotes both sides:
//!
//! - **polarity**: the bureau says 不会拆迁 and the claim says 将被拆迁 (or the bureau says
//!   按时发放 and the claim says 没有发放);
//! - **numbers**: the same context with a different figure (每月3000元 → 每月300元).
//!
//! The publication compared with is the most similar recent one (character shingles, a low
//! threshold: the claim need only be about the same matter). Pure apart from its inputs.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use regex::Regex;

use crate::detect::cluster::{Clusterer, Probe};
use crate::detect::events::event_text;
use crate::model::{Flag, FlagKind};

/// How similar a claim must be to a publication to be compared with it at all.
const RELATED: f64 = 0.15;
/// Publications kept in memory (the newest).
pub const KEEP: usize = 2000;

/// Words that negate what follows, longest first so that 没有 wins over 没.
const NEGATORS: &[&str] = &["没有", "并未", "并非", "绝不", "从未", "尚未", "不", "没", "未", "无", "非", "别"];
/// Characters that may sit between a negator and the word it negates (不会被拆迁).
const FILLERS: &[char] = &['会', '再', '被', '将', '要', '得', '能', '可', '予', '曾', '是', '用', '必'];

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

/// One publication of the bureau.
#[derive(Debug, Clone)]
pub struct Publication {
    pub title: String,
    pub text: String,
}

/// The bureau's recent publications, searchable by similarity.
#[derive(Debug)]
pub struct Publications {
    clusterer: Clusterer,
    /// Indexed by cluster id: every publication is its own cluster.
    items: Vec<Publication>,
}

impl Default for Publications {
    fn default() -> Self {
        Self { clusterer: Clusterer::new(RELATED), items: Vec::new() }
    }
}

impl Publications {
    /// From publications oldest first (only the newest [`KEEP`] are kept).
    pub fn new(items: Vec<Publication>) -> Self {
        let mut p = Publications::default();
        let skip = items.len().saturating_sub(KEEP);
        for item in items.into_iter().skip(skip) {
            p.add(item);
        }
        p
    }

    pub fn add(&mut self, item: Publication) {
        if self.items.len() >= 2 * KEEP {
            let keep = self.items.split_off(self.items.len() - KEEP);
            *self = Publications::new(keep);
        }
        let cluster = self.clusterer.new_cluster();
        self.clusterer.insert(Probe::of(&event_text(&item.title, &item.text)), cluster);
        self.items.push(item);
    }

    /// A 歪曲 flag when the claim contradicts the publication it is closest to.
    pub fn check(&self, title: &str, text: &str) -> Option<Flag> {
        let claim = event_text(title, text);
        let (index, _) = self.clusterer.nearest(&Probe::of(&claim))?;
        let publication = self.items.get(index)?;
        let official = event_text(&publication.title, &publication.text);
        let found = contradictions(&official, &claim);
        if found.is_empty() {
            return None;
        }
        let name = if publication.title.is_empty() {
            "本局发布的信息".to_string()
        } else {
            format!("本局发布《{}》", publication.title)
        };
        Some(Flag {
            kind: FlagKind::Distortion,
            reasons: found.into_iter().map(|c| format!("与{name}不符：{c}")).collect(),
        })
    }
}

/// Where a two-character word occurs and whether it is negated there, with the phrase as
/// written (the negator and fillers included).
struct Occurrence {
    negated: bool,
    phrase: String,
}

/// Every two-Han-character word of `text` with its occurrences.
fn words(text: &str) -> HashMap<String, Vec<Occurrence>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out: HashMap<String, Vec<Occurrence>> = HashMap::new();
    for i in 0..chars.len().saturating_sub(1) {
        if !(is_han(chars[i]) && is_han(chars[i + 1])) {
            continue;
        }
        let word: String = chars[i..i + 2].iter().collect();
        let mut start = i;
        while start > 0 && FILLERS.contains(&chars[start - 1]) && i - start < 2 {
            start -= 1;
        }
        let before: String = chars[start.saturating_sub(2)..start].iter().collect();
        let negator = NEGATORS.iter().find(|n| before.ends_with(*n));
        let from = match negator {
            Some(n) => start - n.chars().count(),
            None if start < i => start,
            None => i.saturating_sub(2),
        };
        let phrase: String = chars[from..i + 2].iter().collect();
        out.entry(word).or_default().push(Occurrence { negated: negator.is_some(), phrase });
    }
    out
}

/// Figures with their context and unit: `每月3000元` → (("每月", "元"), "3000").
fn figures(text: &str) -> Vec<((String, String), String, String)> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let Some(re) = RE
        .get_or_init(|| {
            Regex::new(r"(\p{Han}{2})(\d+(?:\.\d+)?)(万元|亿元|元|%|个月|天|年|人|名|户|岁|倍|万|亿|小时|公里|平方米)")
                .ok()
        })
        .as_ref()
    else {
        return Vec::new();
    };
    re.captures_iter(text)
        .filter_map(|c| {
            let (context, number, unit) = (c.get(1)?.as_str(), c.get(2)?.as_str(), c.get(3)?.as_str());
            Some(((context.to_string(), unit.to_string()), number.to_string(), c.get(0)?.as_str().to_string()))
        })
        .collect()
}

/// The contradictions between what the bureau published and a claim, in words.
pub fn contradictions(official: &str, claim: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (ours, theirs) = (words(official), words(claim));
    let mut keys: Vec<&String> = theirs.keys().filter(|k| ours.contains_key(*k)).collect();
    keys.sort();
    for key in keys {
        let (o, t) = (&ours[key], &theirs[key]);
        let one_way =
            |occ: &[Occurrence], negated: bool| occ.iter().all(|x| x.negated == negated).then(|| occ[0].phrase.clone());
        let pair = match (one_way(o, true), one_way(t, false)) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => match (one_way(o, false), one_way(t, true)) {
                (Some(a), Some(b)) => Some((a, b)),
                _ => None,
            },
        };
        if let Some((a, b)) = pair {
            out.push(format!("本局称“{a}”，此处称“{b}”"));
        }
    }
    let official_figures = figures(official);
    let mut seen = HashSet::new();
    for (key, number, written) in figures(claim) {
        let same_context: Vec<&(_, String, String)> = official_figures.iter().filter(|f| f.0 == key).collect();
        if !same_context.is_empty() && same_context.iter().all(|f| f.1 != number) && seen.insert(written.clone()) {
            out.push(format!("数字不符：本局发布为“{}”，此处为“{written}”", same_context[0].2));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTICE: &str = "关于烈士陵园改造提升工程的说明：烈士陵园不会拆迁，改造期间正常开放。优抚对象抚恤金标准提高到每月3000元，按时发放。";

    #[test]
    fn contradictions_are_found_and_quoted() {
        let cases: &[(&str, &[&str])] = &[
            ("网传烈士陵园将被拆迁改建商业综合体", &["本局称“不会拆迁”，此处称“将被拆迁”"]),
            ("抚恤金标准降到每月300元", &["数字不符：本局发布为“每月3000元”，此处为“每月300元”"]),
            ("听说抚恤金这个月没有发放", &["本局称“按时发放”，此处称“没有发放”"]),
            // Saying the same thing, or something else, is no contradiction.
            ("烈士陵园不会拆迁，改造期间正常开放", &[]),
            ("抚恤金标准提高到每月3000元", &[]),
            ("烈士陵园今天举行祭扫活动", &[]),
        ];
        for (claim, want) in cases {
            let got = contradictions(NOTICE, claim);
            assert_eq!(got, want.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{claim}");
        }
    }

    #[test]
    fn only_related_claims_are_compared_and_the_reason_names_the_publication() {
        let p = Publications::new(vec![
            Publication { title: "烈士陵园改造说明".into(), text: NOTICE.into() },
            Publication {
                title: "招聘会通知".into(), text: "临江市举办退役军人专场招聘会，岗位3000余个。".into()
            },
        ]);
        let flag = p.check("烈士陵园要拆了？", "网传烈士陵园将被拆迁，改造期间不开放").expect("flagged");
        assert_eq!(flag.kind, FlagKind::Distortion);
        let reasons = flag.reasons.join("；");
        assert!(
            reasons.contains("与本局发布《烈士陵园改造说明》不符：本局称“不会拆迁”，此处称“将被拆迁”"),
            "{reasons}"
        );
        assert!(reasons.contains("本局称“正常开放”，此处称“不开放”"), "{reasons}");
        assert!(p.check("", "今天天气晴朗，适合出门散步，公园里人很多").is_none());
        assert!(Publications::default().check("", "网传烈士陵园将被拆迁").is_none());
    }
}
