//! Grades I 特别重大 … IV 一般 (the national four-level scale) judged, as Art. 8 asks, on
//! content, public reaction and media involvement. Each of grades I–III is a rule of
//! criteria, any one of which is enough; IV is the floor. The grade comes with the reasons
//! that fired, never a bare level. Defaults follow MISSION.md; the numbers live in config.

use crate::model::FlagKind;
use crate::response::trend::Spread;
use crate::rules::Category;

pub use crate::model::Grade;

/// How far a source reaches (媒体介入).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    Central,
    Provincial,
    Municipal,
    Foreign,
    SelfMedia,
}

impl Tier {
    pub const ALL: [Tier; 5] = [Tier::Central, Tier::Provincial, Tier::Municipal, Tier::Foreign, Tier::SelfMedia];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Central => "central",
            Tier::Provincial => "provincial",
            Tier::Municipal => "municipal",
            Tier::Foreign => "foreign",
            Tier::SelfMedia => "self_media",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Tier::Central => "中央媒体",
            Tier::Provincial => "省级媒体",
            Tier::Municipal => "市级媒体",
            Tier::Foreign => "境外媒体",
            Tier::SelfMedia => "自媒体",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s || t.label_zh() == s)
    }

    /// Central, provincial and municipal outlets count as mainstream media.
    pub fn mainstream(self) -> bool {
        matches!(self, Tier::Central | Tier::Provincial | Tier::Municipal)
    }
}

/// What is known about an event when it is graded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// The largest severity weight among the lists it hit (1–5).
    pub max_weight: u8,
    pub categories: Vec<Category>,
    pub flags: Vec<FlagKind>,
    pub negativity: f32,
    /// Reposts + comments + likes, latest counts summed over its documents.
    pub interactions: i64,
    /// Interactions now over interactions six hours ago, when both are known.
    pub growth: Option<f64>,
    pub documents: usize,
    /// Distinct sources, and the tiers of those that have one.
    pub sources: usize,
    pub tiers: Vec<(Tier, String)>,
    /// Copies in the last two hours and in the two before ([`super::trend`]).
    pub spread: Spread,
}

/// An event's public reaction as measured when it is graded: interactions, their growth
/// over six hours, and how fast its copies come.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reaction {
    pub interactions: i64,
    pub growth: Option<f64>,
    pub spread: Spread,
}

/// When copies coming faster is a grading reason (Art. 8, 传播速度; `[grades.acceleration]`):
/// at least `min_new` copies in the last two hours, more than in the two before and at
/// least `min_ratio` times as many. By default it explains the grade and never changes it:
/// the regulation's defaults (MISSION.md) raise a grade on interactions' growth
/// (`min_growth`), not on the number of copies. With `raise = true` it lifts the grade the
/// rules gave one step (Ⅳ → Ⅲ, Ⅲ → Ⅱ), never to Ⅰ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Acceleration {
    pub min_new: u32,
    pub min_ratio: f64,
    pub raise: bool,
}

impl Default for Acceleration {
    fn default() -> Self {
        Acceleration { min_new: 5, min_ratio: 2.0, raise: false }
    }
}

impl Acceleration {
    pub fn holds(&self, s: Spread) -> bool {
        s.last_2h >= self.min_new.max(1)
            && s.last_2h > s.prev_2h
            && f64::from(s.last_2h) >= self.min_ratio * f64::from(s.prev_2h)
    }

    /// `传播加速：过去 2 小时新增 N 篇（此前 2 小时 M 篇）` when it holds.
    pub fn reason(&self, s: Spread) -> Option<String> {
        self.holds(s).then(|| format!("传播加速：过去 2 小时新增 {} 篇（此前 2 小时 {} 篇）", s.last_2h, s.prev_2h))
    }
}

/// An all-of clause on content: flags, categories, list weight and negativity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentClause {
    pub flags: Vec<FlagKind>,
    pub categories: Vec<Category>,
    pub min_weight: Option<u8>,
    pub min_negativity: Option<f32>,
}

/// The criteria of one grade; any one that holds is enough.
#[derive(Debug, Clone, PartialEq)]
pub struct GradeRule {
    pub grade: Grade,
    pub media_tiers: Vec<Tier>,
    pub min_mainstream: Option<usize>,
    pub min_interactions: Option<i64>,
    pub min_sources: Option<usize>,
    pub min_growth: Option<f64>,
    pub content: Vec<ContentClause>,
}

impl GradeRule {
    /// A rule with no criteria (it never holds until some are set).
    pub fn empty(grade: Grade) -> Self {
        GradeRule {
            grade,
            media_tiers: Vec::new(),
            min_mainstream: None,
            min_interactions: None,
            min_sources: None,
            min_growth: None,
            content: Vec::new(),
        }
    }

    /// The reasons this rule holds for `facts` (empty: it does not).
    fn reasons(&self, f: &Facts) -> Vec<String> {
        let mut out = Vec::new();
        for (tier, source) in f.tiers.iter().filter(|(t, _)| self.media_tiers.contains(t)) {
            out.push(format!("媒体介入：{}（{source}）", tier.label_zh()));
        }
        let mainstream = f.tiers.iter().filter(|(t, _)| t.mainstream()).count();
        if let Some(n) = self.min_mainstream.filter(|n| mainstream >= *n) {
            out.push(format!("媒体介入：{mainstream} 家主流媒体 ≥ {n}"));
        }
        if let Some(n) = self.min_interactions.filter(|n| f.interactions >= *n) {
            out.push(format!("公众反应：互动 {} ≥ {n}", f.interactions));
        }
        if let Some(n) = self.min_sources.filter(|n| f.sources >= *n) {
            out.push(format!("传播范围：{} 个来源 ≥ {n}", f.sources));
        }
        if let (Some(n), Some(g)) = (self.min_growth, f.growth)
            && g >= n
        {
            out.push(format!("传播速度：6 小时内互动增长到 {g:.1} 倍 ≥ {n:.1}"));
        }
        for clause in &self.content {
            let flags_ok = clause.flags.iter().all(|k| f.flags.contains(k));
            let cats_ok = clause.categories.is_empty() || clause.categories.iter().any(|c| f.categories.contains(c));
            let weight_ok = clause.min_weight.is_none_or(|w| f.max_weight >= w);
            let neg_ok = clause.min_negativity.is_none_or(|n| f.negativity >= n);
            let empty = clause == &ContentClause::default();
            if flags_ok && cats_ok && weight_ok && neg_ok && !empty {
                let mut parts: Vec<String> = clause.flags.iter().map(|k| k.label_zh().to_string()).collect();
                parts.extend(
                    clause.categories.iter().filter(|c| f.categories.contains(c)).map(|c| c.label_zh().to_string()),
                );
                if let Some(w) = clause.min_weight {
                    parts.push(format!("关键词权重 {} ≥ {w}", f.max_weight));
                }
                if let Some(n) = clause.min_negativity {
                    parts.push(format!("负面程度 {:.1} ≥ {n:.1}", f.negativity));
                }
                out.push(format!("内容：{}", parts.join(" + ")));
            }
        }
        out
    }
}

/// The rules of grades I, II and III, most severe first.
#[derive(Debug, Clone, PartialEq)]
pub struct Grading {
    pub rules: Vec<GradeRule>,
    pub acceleration: Acceleration,
}

impl Default for Grading {
    /// MISSION.md's starting points (no public source gives numbers; calibrate locally).
    fn default() -> Self {
        let mut i = GradeRule::empty(Grade::I);
        i.media_tiers = vec![Tier::Central, Tier::Foreign];
        i.min_interactions = Some(50_000);
        i.min_sources = Some(100);
        let mut ii = GradeRule::empty(Grade::II);
        ii.media_tiers = vec![Tier::Provincial];
        ii.min_mainstream = Some(3);
        ii.min_interactions = Some(10_000);
        ii.min_sources = Some(30);
        ii.min_growth = Some(3.0);
        ii.content =
            vec![ContentClause { flags: vec![FlagKind::Misunderstanding], min_weight: Some(3), ..Default::default() }];
        let mut iii = GradeRule::empty(Grade::III);
        iii.media_tiers = vec![Tier::Municipal];
        iii.min_interactions = Some(1_000);
        iii.min_sources = Some(5);
        iii.content = vec![
            ContentClause { min_weight: Some(4), ..Default::default() },
            ContentClause { flags: vec![FlagKind::Rumour], min_weight: Some(3), ..Default::default() },
            ContentClause { min_weight: Some(3), min_negativity: Some(3.0), ..Default::default() },
        ];
        Grading { rules: vec![i, ii, iii], acceleration: Acceleration::default() }
    }
}

impl Grading {
    /// The most severe grade whose rule holds, with its reasons (IV with a plain reason
    /// otherwise), then the acceleration's reason when it holds — and its one step up when
    /// `raise` is set.
    pub fn grade(&self, facts: &Facts) -> (Grade, Vec<String>) {
        let (mut grade, mut reasons) = self.by_rules(facts);
        if let Some(reason) = self.acceleration.reason(facts.spread) {
            match (self.acceleration.raise, grade) {
                (true, Grade::IV) | (true, Grade::III) => {
                    grade = if grade == Grade::IV { Grade::III } else { Grade::II };
                    reasons.push(format!("{reason}，升一级"));
                }
                _ => reasons.push(reason),
            }
        }
        (grade, reasons)
    }

    fn by_rules(&self, facts: &Facts) -> (Grade, Vec<String>) {
        let mut rules: Vec<&GradeRule> = self.rules.iter().collect();
        rules.sort_by_key(|r| r.grade);
        for rule in rules {
            let reasons = rule.reasons(facts);
            if !reasons.is_empty() {
                return (rule.grade, reasons);
            }
        }
        (Grade::IV, vec!["命中本局关键词，影响零星".to_string()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(last_2h: u32, prev_2h: u32) -> Spread {
        Spread { last_2h, prev_2h }
    }

    #[test]
    fn acceleration_is_a_reason_only_when_copies_come_much_faster() {
        let a = Acceleration::default();
        assert_eq!(a.reason(spread(5, 2)).as_deref(), Some("传播加速：过去 2 小时新增 5 篇（此前 2 小时 2 篇）"));
        assert_eq!(a.reason(spread(5, 0)).as_deref(), Some("传播加速：过去 2 小时新增 5 篇（此前 2 小时 0 篇）"));
        assert_eq!(a.reason(spread(4, 0)), None, "fewer than five new");
        assert_eq!(a.reason(spread(9, 5)), None, "not twice the two hours before");
        assert_eq!(a.reason(spread(0, 0)), None);
        let loose = Acceleration { min_new: 0, min_ratio: 0.0, raise: false };
        assert_eq!(loose.reason(spread(0, 0)), None, "no copy is no acceleration");
        assert_eq!(loose.reason(spread(3, 3)), None, "as many as before is no acceleration");
    }

    #[test]
    fn acceleration_explains_the_grade_and_raises_it_only_when_configured() {
        let base = Facts { max_weight: 2, documents: 8, sources: 1, spread: spread(6, 1), ..Default::default() };
        let (grade, reasons) = Grading::default().grade(&base);
        assert_eq!(grade, Grade::IV, "{reasons:?}");
        assert_eq!(reasons, vec!["命中本局关键词，影响零星", "传播加速：过去 2 小时新增 6 篇（此前 2 小时 1 篇）"]);
        let raising =
            Grading { acceleration: Acceleration { raise: true, ..Acceleration::default() }, ..Grading::default() };
        let (grade, reasons) = raising.grade(&base);
        assert_eq!(grade, Grade::III);
        assert_eq!(
            reasons.last().map(String::as_str),
            Some("传播加速：过去 2 小时新增 6 篇（此前 2 小时 1 篇），升一级")
        );
        let iii = Facts { sources: 5, ..base.clone() };
        assert_eq!(raising.grade(&iii).0, Grade::II);
        let ii = Facts { sources: 30, ..base.clone() };
        assert_eq!(raising.grade(&ii).0, Grade::II, "never to I on speed alone");
        let slow = Facts { spread: spread(3, 1), ..base };
        assert_eq!(raising.grade(&slow), (Grade::IV, vec!["命中本局关键词，影响零星".to_string()]));
    }

    #[test]
    fn grades_follow_the_three_axes_with_reasons() {
        let g = Grading::default();
        let base = Facts { max_weight: 2, documents: 1, sources: 1, ..Default::default() };
        let cases: Vec<(Facts, Grade, &str)> = vec![
            (base.clone(), Grade::IV, "零星"),
            (Facts { tiers: vec![(Tier::Central, "人民网".into())], ..base.clone() }, Grade::I, "中央媒体（人民网）"),
            (Facts { interactions: 60_000, ..base.clone() }, Grade::I, "互动 60000 ≥ 50000"),
            (Facts { sources: 30, ..base.clone() }, Grade::II, "30 个来源 ≥ 30"),
            (Facts { growth: Some(3.5), ..base.clone() }, Grade::II, "增长到 3.5 倍"),
            (
                Facts {
                    tiers: vec![
                        (Tier::Municipal, "临江日报".into()),
                        (Tier::Municipal, "临江电视台".into()),
                        (Tier::Provincial, "省报".into()),
                    ],
                    ..base.clone()
                },
                Grade::II,
                "省级媒体（省报）",
            ),
            (
                Facts { flags: vec![FlagKind::Misunderstanding], max_weight: 3, ..base.clone() },
                Grade::II,
                "内容：疑似误解 + 关键词权重 3 ≥ 3",
            ),
            (Facts { flags: vec![FlagKind::Misunderstanding], ..base.clone() }, Grade::IV, "零星"),
            (Facts { max_weight: 5, ..base.clone() }, Grade::III, "关键词权重 5 ≥ 4"),
            (Facts { interactions: 1_200, ..base.clone() }, Grade::III, "互动 1200 ≥ 1000"),
            (Facts { max_weight: 3, negativity: 4.0, ..base.clone() }, Grade::III, "负面程度 4.0 ≥ 3.0"),
        ];
        for (facts, want, reason) in cases {
            let (got, reasons) = g.grade(&facts);
            assert_eq!(got, want, "{facts:?}: {reasons:?}");
            assert!(reasons.iter().any(|r| r.contains(reason)), "{facts:?}: {reasons:?}");
        }
    }

    #[test]
    fn grade_names_parse_every_way_admins_write_them() {
        for (s, g) in [
            ("I", Grade::I),
            ("ii", Grade::II),
            ("3", Grade::III),
            ("Ⅳ", Grade::IV),
            ("特别重大", Grade::I),
            ("重大", Grade::II),
        ] {
            assert_eq!(Grade::parse(s), Some(g), "{s}");
        }
        assert_eq!(Grade::parse("V"), None);
        assert!(Grade::I < Grade::IV, "I is the most severe");
    }
}
