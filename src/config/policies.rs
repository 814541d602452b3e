//! `[[policies]]` and `[policy_risk]` in `yuqing.toml`: the major policies watched before and
//! after they are issued (Art. 8 舆情风险评估) — id, name, owning `section`, `terms`,
//! affected `groups`, `publish` date, `before_days` / `after_days` / `baseline_days` and the
//! office's response `plan` — and the thresholds that turn a day's figures into 高/中/低.
//! Every problem names its line; a policy with a problem is left out (and the load fails).

use chrono::NaiveDate;
use toml::Spanned;
use toml::de::DeTable;

use super::Diagnostics;
use super::toml_doc::{Ctx, TomlFile};
use crate::response::Organisation;
use crate::response::policy::{LevelRule, PolicyWatch, RiskRules};

pub(super) const POLICY_KEYS: &[&str] =
    &["id", "name", "section", "terms", "groups", "publish", "before_days", "after_days", "baseline_days", "plan"];
const RISK_KEYS: &[&str] = &["min_documents", "negative_score", "medium", "high"];
const LEVEL_KEYS: &[&str] = &["volume_ratio", "negative_share", "flagged"];

/// `before_days` / `after_days` when not configured.
pub const DEFAULT_WINDOW_DAYS: u32 = 30;
/// `baseline_days` when not configured.
pub const DEFAULT_BASELINE_DAYS: u32 = 7;
/// The longest a watch may reach before or after publication.
const MAX_DAYS: u32 = 366;

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok && id.len() <= 64 && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// A whole number of days in `min..=MAX_DAYS`, `default` when absent; `None` (reported) when wrong.
fn days(c: &mut Ctx<'_, '_>, t: &DeTable<'_>, key: &str, min: u32, default: u32, hint: &str) -> Option<u32> {
    let before = c.diags.errors().count();
    match c.get::<i64>(t, key, "整数") {
        None if c.diags.errors().count() > before => None,
        None => Some(default),
        Some(n) => match u32::try_from(*n.get_ref()).ok().filter(|d| (min..=MAX_DAYS).contains(d)) {
            Some(d) => Some(d),
            None => {
                c.error(n.span(), format!("{key} = {} 不在 {min}–{MAX_DAYS} 之间", n.get_ref()), hint);
                None
            }
        },
    }
}

fn policy(
    c: &mut Ctx<'_, '_>,
    span: std::ops::Range<usize>,
    t: &DeTable<'_>,
    org: &Organisation,
    taken: &[PolicyWatch],
) -> Option<PolicyWatch> {
    let errors = c.diags.errors().count();
    let id = c.new_id(span.clone(), t, ("policies", "政策", "heating-fee"), |id| taken.iter().any(|p| p.id == id));
    if let Some(text) = id.as_deref().filter(|id| !valid_id(id)) {
        let at = t.get("id").map_or(span.clone(), |v| v.span());
        c.error(
            at,
            format!("政策 id \"{text}\" 不合规"),
            "id 只能使用小写字母、数字、- 和 _（以字母或数字开头），例如 id = \"heating-fee\"",
        );
    }
    let name = c.text(t, "name");
    let section = match c.text(t, "section") {
        Some(s) if org.section(s.get_ref().trim()).is_some() => Some(s.get_ref().trim().to_string()),
        Some(s) => {
            let hint = org.section_hint(s.get_ref());
            c.error(s.span(), format!("政策的 section = \"{}\" 不在 [[sections]] 中", s.get_ref()), hint);
            None
        }
        None => {
            c.error(
                span.clone(),
                "[[policies]] 缺少 section".into(),
                "写负责该政策的科室 id（[[sections]] 中的 id），风险等级上升时通知该科室",
            );
            None
        }
    };
    let words = |v: Option<Spanned<Vec<String>>>| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for w in v.map(Spanned::into_inner).unwrap_or_default() {
            let w = w.trim().to_string();
            if !w.is_empty() && !out.contains(&w) {
                out.push(w);
            }
        }
        out
    };
    let terms_value = c.list(t, "terms");
    let terms_span = terms_value.as_ref().map(Spanned::span);
    let terms = words(terms_value);
    if terms.is_empty() && c.diags.errors().count() == errors {
        c.error(
            terms_span.unwrap_or(span.clone()),
            "[[policies]] 的 terms 不能为空".into(),
            "写出现在相关信息中的词，任一命中即属于该政策话题，例如 terms = [\"供暖费\", \"暖气费\"]",
        );
    }
    let groups = words(c.list(t, "groups"));
    let publish = match c.text(t, "publish") {
        Some(p) => match NaiveDate::parse_from_str(p.get_ref().trim(), "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                c.error(
                    p.span(),
                    format!("publish = \"{}\" 不是有效日期", p.get_ref()),
                    "写计划（或实际）发布日期 YYYY-MM-DD，例如 publish = \"2027-01-15\"",
                );
                None
            }
        },
        None => {
            if !t.contains_key("publish") {
                c.error(
                    span.clone(),
                    "[[policies]] 缺少 publish".into(),
                    "例如 publish = \"2027-01-15\"（计划发布日期）",
                );
            }
            None
        }
    };
    let before_days = days(c, t, "before_days", 1, DEFAULT_WINDOW_DAYS, "发布前监测的天数，例如 before_days = 30");
    let after_days = days(c, t, "after_days", 0, DEFAULT_WINDOW_DAYS, "发布后监测的天数，例如 after_days = 30");
    let baseline_days =
        days(c, t, "baseline_days", 1, DEFAULT_BASELINE_DAYS, "监测开始后作为基线的天数，例如 baseline_days = 7");
    if let (Some(before), Some(base)) = (before_days, baseline_days)
        && base > before
    {
        let at = t.get("baseline_days").map_or(span.clone(), |v| v.span());
        c.error(
            at,
            format!("baseline_days = {base} 大于 before_days = {before}"),
            "基线取发布前的头几天：baseline_days 不能超过 before_days",
        );
    }
    let plan = c.text(t, "plan").map(Spanned::into_inner).filter(|p| !p.trim().is_empty());
    if c.diags.errors().count() > errors {
        return None;
    }
    let id = id?;
    Some(PolicyWatch {
        name: name.map_or_else(|| id.clone(), Spanned::into_inner),
        id,
        section: section?,
        terms,
        groups,
        publish: publish?,
        before_days: before_days?,
        after_days: after_days?,
        baseline_days: baseline_days?,
        plan,
    })
}

/// Every valid `[[policies]]` entry; the invalid ones are reported.
pub(super) fn load(
    file: &TomlFile,
    root: &DeTable<'_>,
    org: &Organisation,
    diags: &mut Diagnostics,
) -> Vec<PolicyWatch> {
    let mut c = Ctx { file, diags };
    let mut out: Vec<PolicyWatch> = Vec::new();
    for (span, t) in c.array(root, "policies", POLICY_KEYS) {
        if let Some(p) = policy(&mut c, span, &t, org, &out) {
            out.push(p);
        }
    }
    out
}

/// One level's thresholds, starting from `d`.
fn level(c: &mut Ctx<'_, '_>, t: &DeTable<'_>, key: &str, d: LevelRule) -> LevelRule {
    let Some((_, table)) = c.file.sub_table(t, key, c.diags) else { return d };
    let table = c.file.known_keys(table, LEVEL_KEYS, &format!("[policy_risk.{key}] 中"), c.diags);
    let mut rule = d;
    if let Some(v) = c.get::<f64>(&table, "volume_ratio", "数字") {
        match *v.get_ref() {
            r if r.is_finite() && r >= 1.0 => rule.volume_ratio = r,
            r => c.error(
                v.span(),
                format!("volume_ratio = {r} 应不小于 1"),
                "当日声量达到基线日均的多少倍，例如 volume_ratio = 2.0",
            ),
        }
    }
    if let Some(v) = c.get::<f64>(&table, "negative_share", "数字") {
        match *v.get_ref() {
            s if s > 0.0 && s <= 1.0 => rule.negative_share = s,
            s => c.error(
                v.span(),
                format!("negative_share = {s} 不在 0–1 之间"),
                "当日负面信息的占比，例如 negative_share = 0.3（30%）",
            ),
        }
    }
    if let Some(v) = c.get::<i64>(&table, "flagged", "整数") {
        match u32::try_from(*v.get_ref()) {
            Ok(n) => rule.flagged = n,
            Err(_) => c.error(
                v.span(),
                format!("flagged = {} 不能为负", v.get_ref()),
                "当日带研判标记的信息篇数，0 表示不看标记，例如 flagged = 1",
            ),
        }
    }
    rule
}

/// `[policy_risk]`, the defaults of [`RiskRules`] for what it does not say.
pub(super) fn load_rules(file: &TomlFile, root: &DeTable<'_>, diags: &mut Diagnostics) -> RiskRules {
    let mut rules = RiskRules::default();
    let Some((span, table)) = file.sub_table(root, "policy_risk", diags) else { return rules };
    let table = file.known_keys(table, RISK_KEYS, "[policy_risk] 中", diags);
    let mut c = Ctx { file, diags };
    if let Some(v) = c.get::<i64>(&table, "min_documents", "整数") {
        match u32::try_from(*v.get_ref()) {
            Ok(n) => rules.min_documents = n,
            Err(_) => c.error(
                v.span(),
                format!("min_documents = {} 不能为负", v.get_ref()),
                "少于这么多篇的日子不按声量和负面占比定级，例如 min_documents = 5",
            ),
        }
    }
    if let Some(v) = c.get::<f64>(&table, "negative_score", "数字") {
        match *v.get_ref() {
            s if s.is_finite() && s > 0.0 => rules.negative_score = s as f32,
            s => c.error(
                v.span(),
                format!("negative_score = {s} 应大于 0"),
                "负面分值达到多少算负面信息，例如 negative_score = 3.0",
            ),
        }
    }
    rules.medium = level(&mut c, &table, "medium", rules.medium);
    rules.high = level(&mut c, &table, "high", rules.high);
    let (m, h) = (rules.medium, rules.high);
    if h.volume_ratio < m.volume_ratio
        || h.negative_share < m.negative_share
        || (m.flagged > 0 && h.flagged > 0 && h.flagged < m.flagged)
    {
        c.error(
            span,
            "[policy_risk] 中高风险的阈值低于中风险".into(),
            "high 的 volume_ratio、negative_share、flagged 应不低于 medium 的对应值",
        );
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org() -> Organisation {
        Organisation {
            sections: vec![crate::response::Section {
                id: "pricing".into(),
                name: "价格科".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn parse(text: &str) -> (Vec<PolicyWatch>, RiskRules, Diagnostics) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("yuqing.toml");
        std::fs::write(&path, text).expect("write");
        let mut diags = Diagnostics::default();
        let file = TomlFile::read(&path, "", &mut diags).expect("read");
        let doc = file.parse(&mut diags).expect("parse");
        let policies = load(&file, doc.get_ref(), &org(), &mut diags);
        let rules = load_rules(&file, doc.get_ref(), &mut diags);
        (policies, rules, diags)
    }

    fn messages(d: &Diagnostics) -> Vec<String> {
        d.errors().map(|e| format!("{}: {}", e.line, e.message)).collect()
    }

    #[test]
    fn a_policy_with_defaults_and_rules() {
        let (p, rules, d) = parse(
            "[[policies]]\nid = \"heating\"\nname = \"供暖收费调整\"\nsection = \"pricing\"\nterms = [\"供暖费\", \" 暖气费 \"]\n\
             publish = \"2027-01-15\"\n[policy_risk]\nmin_documents = 3\n[policy_risk.high]\nvolume_ratio = 5\n",
        );
        assert!(messages(&d).is_empty(), "{:?}", messages(&d));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].terms, ["供暖费", "暖气费"]);
        assert_eq!((p[0].before_days, p[0].after_days, p[0].baseline_days), (30, 30, 7));
        assert_eq!(p[0].plan, None);
        assert_eq!(rules.min_documents, 3);
        assert_eq!(rules.high.volume_ratio, 5.0);
        assert_eq!(rules.medium, RiskRules::default().medium);
    }

    #[test]
    fn wrong_keys_dates_sections_and_empty_terms_are_errors_on_their_lines() {
        let (p, _, d) = parse(
            "[[policies]]\nid = \"a\"\nsection = \"pricng\"\nterms = [\"x\"]\npublish = \"2027-01-15\"\n\
             [[policies]]\nid = \"b\"\nsection = \"pricing\"\nterm = [\"x\"]\npublish = \"2027-13-01\"\n\
             [policy_risk.medium]\nnegative_share = 30\n",
        );
        assert!(p.is_empty());
        let m = messages(&d);
        assert!(m.iter().any(|e| e.starts_with("3: ") && e.contains("pricng")), "{m:?}");
        assert!(m.iter().any(|e| e.starts_with("9: ") && e.contains("未知的键 \"term\"")), "{m:?}");
        assert!(m.iter().any(|e| e.contains("terms 不能为空")), "{m:?}");
        assert!(m.iter().any(|e| e.starts_with("10: ") && e.contains("不是有效日期")), "{m:?}");
        assert!(m.iter().any(|e| e.starts_with("12: ") && e.contains("negative_share")), "{m:?}");
        let hint = d.errors().find(|e| e.message.contains("pricng")).map(|e| e.hint.clone()).unwrap_or_default();
        assert!(hint.contains("pricing"), "{hint}");
    }
}
