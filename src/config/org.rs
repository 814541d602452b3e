//! The organisation, grading rules and routes in `yuqing.toml`: `principal`, `gkb`,
//! `[[people]]`, `[[sections]]`, `[[departments]]`, `[grades.I|II|III|acceleration]`, `[[routes]]`,
//! `[ladder.*]`, `[deadlines.*]` and (through [`super::receivers`]) `[[receivers]]`.
//! Every reference (a section's people, the principal, a route's owner and departments)
//! is checked, and each problem names its line.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::{Diagnostics, suggest};
use super::receivers::Receiver;
use super::toml_doc::{Ctx, TomlFile};
use crate::model::FlagKind;
use crate::response::deadline::{DeadlineKind, Deadlines, Span};
use crate::response::grade::ContentClause;
use crate::response::org::default_department_name;
use crate::response::route::{Role, Step};
use crate::response::{
    Acceleration, Department, Grade, GradeRule, Grading, Ladder, Ladders, Organisation, Person, Route, Routing,
    Section, Tier,
};
use crate::rules::Category;

const PERSON_KEYS: &[&str] = &["id", "name", "email", "mobile", "wecom", "dingtalk", "feishu"];
const SECTION_KEYS: &[&str] = &["id", "name", "head", "liaison", "leader_in_charge", "topics", "robot"];
const DEPARTMENT_KEYS: &[&str] = &["id", "name", "email"];
const ROUTE_KEYS: &[&str] =
    &["category", "topic", "grade", "source", "flag", "owner", "report_to", "notify", "continue"];
const GRADE_KEYS: &[&str] =
    &["media_tiers", "min_mainstream", "min_interactions", "min_sources", "min_growth", "content"];
const CONTENT_KEYS: &[&str] = &["flags", "categories", "min_weight", "min_negativity"];
const ACCELERATION_KEYS: &[&str] = &["min_new", "min_ratio", "raise"];

/// What `yuqing.toml` says about the response side.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub org: Organisation,
    pub grading: Grading,
    pub routing: Routing,
    pub deadlines: Deadlines,
    /// `[[receivers]]`: groups told together (routes' `notify`, briefings' `to`).
    pub receivers: Vec<super::receivers::Receiver>,
}

fn names<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|x| x.to_string()).collect::<Vec<_>>().join("、")
}

pub(super) fn load(file: &TomlFile, root: &DeTable<'_>, robot_ids: &[String], diags: &mut Diagnostics) -> Response {
    let mut c = Ctx { file, diags };
    let mut org = Organisation::default();
    for (span, t) in c.array(root, "people", PERSON_KEYS) {
        let Some(id) = c.new_id(span, &t, ("people", "人员", "chen"), |id| org.person(id).is_some()) else {
            continue;
        };
        let name = c.text(&t, "name").map_or_else(|| id.clone(), Spanned::into_inner);
        let mut opt = |key: &str| c.text(&t, key).map(Spanned::into_inner);
        let person = Person {
            id,
            name,
            email: opt("email"),
            mobile: opt("mobile"),
            wecom: opt("wecom"),
            dingtalk: opt("dingtalk"),
            feishu: opt("feishu"),
        };
        org.people.push(person);
    }
    let people: Vec<String> = org.people.iter().map(|p| p.id.clone()).collect();
    let person_ref = |c: &mut Ctx<'_, '_>, v: Option<Spanned<String>>, what: &str| -> Option<String> {
        let v = v?;
        if people.contains(v.get_ref()) {
            return Some(v.into_inner());
        }
        let refs: Vec<&str> = people.iter().map(String::as_str).collect();
        let hint = match suggest(v.get_ref(), &refs) {
            Some(s) => format!("是不是 \"{s}\"？{what} 应是 [[people]] 中的 id"),
            None => format!("{what} 应是 [[people]] 中的 id；请先在 [[people]] 中添加此人"),
        };
        c.error(v.span(), format!("{what} \"{}\" 不在 [[people]] 中", v.get_ref()), hint);
        None
    };
    for (span, t) in c.array(root, "sections", SECTION_KEYS) {
        let Some(id) = c.new_id(span, &t, ("sections", "科室", "preferential"), |id| org.section(id).is_some())
        else {
            continue;
        };
        let name = c.text(&t, "name").map_or_else(|| id.clone(), Spanned::into_inner);
        let head = c.text(&t, "head");
        let liaison = c.text(&t, "liaison");
        let leader = c.text(&t, "leader_in_charge");
        let section = Section {
            id,
            name,
            head: person_ref(&mut c, head, "负责人 head"),
            liaison: person_ref(&mut c, liaison, "联络人 liaison"),
            leader_in_charge: person_ref(&mut c, leader, "分管领导 leader_in_charge"),
            topics: c.list(&t, "topics").map(Spanned::into_inner).unwrap_or_default(),
            robot: c.text(&t, "robot").map(Spanned::into_inner),
        };
        org.sections.push(section);
    }
    for (span, t) in c.array(root, "departments", DEPARTMENT_KEYS) {
        let Some(id) = c.new_id(span, &t, ("departments", "部门", "wangxuan"), |id| org.department(id).is_some())
        else {
            continue;
        };
        let name = c
            .text(&t, "name")
            .map(Spanned::into_inner)
            .or_else(|| default_department_name(&id).map(str::to_string))
            .unwrap_or_else(|| id.clone());
        let email = c.list(&t, "email").map(Spanned::into_inner).unwrap_or_default();
        org.departments.push(Department { id, name, email });
    }
    let principal = c.get::<String>(root, "principal", "字符串");
    org.principal = person_ref(&mut c, principal, "主要领导 principal");
    if let Some(gkb) = c.get::<String>(root, "gkb", "字符串") {
        if org.section(gkb.get_ref()).is_some() {
            org.gkb = Some(gkb.into_inner());
        } else {
            c.error(
                gkb.span(),
                format!("gkb \"{}\" 不在 [[sections]] 中", gkb.get_ref()),
                "gkb 是政务公开办所在科室的 id",
            );
        }
    }
    let receivers = super::receivers::load(&mut c, root, &org, robot_ids);
    let mut routing = routes(&mut c, root, &org, &receivers);
    routing.ladders = ladders(&mut c, root);
    let grading = grades(&mut c, root);
    let deadlines = deadlines(&mut c, root);
    Response { org, grading, routing, deadlines, receivers }
}

fn routes(c: &mut Ctx<'_, '_>, root: &DeTable<'_>, org: &Organisation, receivers: &[Receiver]) -> Routing {
    if !root.contains_key("routes") {
        return Routing::default();
    }
    let mut routes = Vec::new();
    for (_, t) in c.array(root, "routes", ROUTE_KEYS) {
        let mut route = Route::default();
        if let Some(v) = c.list(&t, "category") {
            route.categories =
                c.parsed(&v, "类别", &names(Category::ALL.iter().map(|x| x.label_zh())), Category::parse);
        }
        if let Some(v) = c.list(&t, "grade") {
            route.grades = c.parsed(&v, "级别", "I、II、III、IV", Grade::parse);
        }
        if let Some(v) = c.list(&t, "flag") {
            let known = names(FlagKind::ALL.iter().map(|k| k.as_str()));
            route.flags = c.parsed(&v, "研判标记", &known, FlagKind::from_name);
        }
        route.topics = c.list(&t, "topic").map(Spanned::into_inner).unwrap_or_default();
        route.sources = c.list(&t, "source").map(Spanned::into_inner).unwrap_or_default();
        if let Some(owner) = c.text(&t, "owner") {
            if org.section(owner.get_ref()).is_some() {
                route.owner = Some(owner.into_inner());
            } else {
                c.error(owner.span(), format!("owner \"{}\" 不在 [[sections]] 中", owner.get_ref()), "owner 是科室 id");
            }
        }
        if let Some(v) = c.list(&t, "report_to") {
            for d in v.get_ref() {
                let known = if org.departments.is_empty() {
                    default_department_name(d).is_some()
                } else {
                    org.department(d).is_some()
                };
                if known {
                    route.report_to.push(d.clone());
                } else {
                    c.error(v.span(), format!("report_to \"{d}\" 不是已知的部门"), "请在 [[departments]] 中添加该部门");
                }
            }
        }
        if let Some(v) = c.list(&t, "notify") {
            for r in v.get_ref() {
                if receivers.iter().any(|x| &x.id == r) {
                    route.notify.push(r.clone());
                } else {
                    let known: Vec<&str> = receivers.iter().map(|x| x.id.as_str()).collect();
                    let hint = match suggest(r, &known) {
                        Some(s) => format!("是不是 \"{s}\"？notify 写 [[receivers]] 中的 id"),
                        None => "notify 写 [[receivers]] 中的 id；请先添加该接收组".into(),
                    };
                    c.error(v.span(), format!("notify \"{r}\" 不在 [[receivers]] 中"), hint);
                }
            }
        }
        route.continue_matching = c.get::<bool>(&t, "continue", "布尔值").is_some_and(Spanned::into_inner);
        routes.push(route);
    }
    Routing { routes, ladders: Ladders::default() }
}

const LADDER_ROLES: &[(&str, Role)] = &[
    ("liaison_minutes", Role::Liaison),
    ("head_minutes", Role::Head),
    ("leader_in_charge_minutes", Role::LeaderInCharge),
    ("principal_minutes", Role::Principal),
    ("gkb_minutes", Role::Gkb),
];

/// `[ladder.I]` … `[ladder.IV]`: when each role is told (minutes after the event or its
/// transfer, without an accept), how often and how many times the ladder repeats, and
/// whether each person must accept. A grade written here replaces its default ladder; a
/// role left out is not on it.
fn ladders(c: &mut Ctx<'_, '_>, root: &DeTable<'_>) -> Ladders {
    let mut out = Ladders::default();
    let Some((_, table)) = c.file.sub_table(root, "ladder", c.diags) else { return out };
    let table = c.file.known_keys(table, &["I", "II", "III", "IV"], "[ladder] 中", c.diags);
    let mut keys: Vec<&str> = LADDER_ROLES.iter().map(|(k, _)| *k).collect();
    keys.extend(["repeat_every_minutes", "repeats", "each_person"]);
    for (key, value) in &table {
        let Some(grade) = Grade::parse(key.get_ref()) else { continue };
        let DeValue::Table(t) = value.get_ref() else {
            c.error(
                value.span(),
                format!("ladder.{} 应是表", key.get_ref()),
                format!("写成 [ladder.{}]", key.get_ref()),
            );
            continue;
        };
        let t = c.file.known_keys(t, &keys, &format!("[ladder.{}] 中", key.get_ref()), c.diags);
        let minutes = |m: u64| std::time::Duration::from_secs(m * 60);
        let mut steps: Vec<Step> = Vec::new();
        for (name, role) in LADDER_ROLES {
            let Some(after) = c.get::<u64>(&t, name, "非负的分钟数") else { continue };
            let after = minutes(after.into_inner());
            match steps.iter_mut().find(|s| s.after == after) {
                Some(step) => step.roles.push(*role),
                None => steps.push(Step { after, roles: vec![*role] }),
            }
        }
        steps.sort_by_key(|s| s.after);
        if steps.is_empty() {
            c.error(
                key.span(),
                format!("[ladder.{}] 没有任何角色", key.get_ref()),
                "至少写一个，例如 liaison_minutes = 0",
            );
        }
        let repeat_every = c.get::<u64>(&t, "repeat_every_minutes", "非负的分钟数").map(|m| minutes(m.into_inner()));
        let repeats = match c.get::<u32>(&t, "repeats", "0 到 9 的整数") {
            Some(n) if *n.get_ref() > 9 => {
                c.error(n.span(), format!("repeats = {} 太多", n.get_ref()), "最多重复 9 次");
                9
            }
            Some(n) => n.into_inner(),
            None => u32::from(repeat_every.is_some_and(|d| !d.is_zero())) * 3,
        };
        let each_person = c.get::<bool>(&t, "each_person", "布尔值").is_some_and(Spanned::into_inner);
        out.set(grade, Ladder { steps, repeat_every: repeat_every.filter(|d| !d.is_zero()), repeats, each_person });
    }
    out
}

/// The forms of a clock's span, as key suffixes: `<kind>_minutes` and `<kind>_hours` are
/// calendar time, `<kind>_working_hours` working time on the `[calendar]`.
const SPAN_FORMS: &[(&str, u64, bool, &str)] =
    &[("minutes", 60, false, "分钟数"), ("hours", 3600, false, "小时数"), ("working_hours", 3600, true, "工作小时数")];

/// `[deadlines.I]` … `[deadlines.IV]`: a grade written here replaces its default clocks; each
/// clock in one form only.
fn deadlines(c: &mut Ctx<'_, '_>, root: &DeTable<'_>) -> Deadlines {
    let mut out = Deadlines::default();
    let Some((_, table)) = c.file.sub_table(root, "deadlines", c.diags) else { return out };
    let table = c.file.known_keys(table, &["I", "II", "III", "IV"], "[deadlines] 中", c.diags);
    let keys: Vec<String> = DeadlineKind::ALL
        .iter()
        .flat_map(|kind| SPAN_FORMS.iter().map(move |(suffix, ..)| format!("{}_{suffix}", kind.as_str())))
        .collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    for (key, value) in &table {
        let Some(grade) = Grade::parse(key.get_ref()) else { continue };
        let DeValue::Table(t) = value.get_ref() else {
            c.error(
                value.span(),
                format!("deadlines.{} 应是表", key.get_ref()),
                format!("写成 [deadlines.{}]", key.get_ref()),
            );
            continue;
        };
        let t = c.file.known_keys(t, &keys, &format!("[deadlines.{}] 中", key.get_ref()), c.diags);
        let mut clocks = Vec::new();
        for kind in DeadlineKind::ALL {
            let mut first: Option<String> = None;
            for (suffix, unit_secs, working, unit_zh) in SPAN_FORMS {
                let name = format!("{}_{suffix}", kind.as_str());
                let Some(amount) = c.get::<f64>(&t, &name, "数字") else { continue };
                if let Some(first) = &first {
                    c.error(
                        amount.span(),
                        format!("{first} 与 {name} 重复：“{}”时限只能写一种", kind.label_zh()),
                        format!(
                            "删去其中一个：{0}_minutes / {0}_hours 为自然时间，{0}_working_hours 为工作时间（按 [calendar]）",
                            kind.as_str()
                        ),
                    );
                    continue;
                }
                first = Some(name.clone());
                let secs = amount.get_ref() * *unit_secs as f64;
                if !(secs > 0.0 && secs <= 366.0 * 24.0 * 3600.0) {
                    c.error(
                        amount.span(),
                        format!("{name} = {} 不是正的{unit_zh}", amount.get_ref()),
                        "例如 accept_minutes = 15、response_hours = 48、accept_working_hours = 4（不超过一年）",
                    );
                    continue;
                }
                if secs < 60.0 {
                    c.error(amount.span(), format!("{name} = {} 不足 1 分钟", amount.get_ref()), "时限至少 1 分钟");
                    continue;
                }
                let d = std::time::Duration::from_secs_f64(secs);
                clocks.push((kind, if *working { Span::Working(d) } else { Span::Calendar(d) }));
            }
        }
        out.set(grade, clocks);
    }
    out
}

fn grades(c: &mut Ctx<'_, '_>, root: &DeTable<'_>) -> Grading {
    let mut grading = Grading::default();
    let Some((_, table)) = c.file.sub_table(root, "grades", c.diags) else { return grading };
    let table =
        c.file.known_keys(table, &["I", "II", "III", "acceleration"], "[grades] 中（Ⅳ级是兜底，无需规则）", c.diags);
    for (key, value) in &table {
        if key.get_ref() == "acceleration" {
            grading.acceleration = acceleration(c, value);
            continue;
        }
        let Some(grade) = Grade::parse(key.get_ref()) else { continue };
        let DeValue::Table(t) = value.get_ref() else {
            c.error(
                value.span(),
                format!("grades.{} 应是表", key.get_ref()),
                format!("写成 [grades.{}]", key.get_ref()),
            );
            continue;
        };
        let t = c.file.known_keys(t, GRADE_KEYS, &format!("[grades.{}] 中", key.get_ref()), c.diags);
        // A grade written in config replaces its default rule entirely.
        let mut rule = GradeRule::empty(grade);
        if let Some(v) = c.list(&t, "media_tiers") {
            let known = names(Tier::ALL.iter().map(|x| x.as_str()));
            rule.media_tiers = c.parsed(&v, "媒体层级", &known, Tier::parse);
        }
        rule.min_mainstream = c.get::<usize>(&t, "min_mainstream", "非负整数").map(Spanned::into_inner);
        rule.min_interactions = c.get::<i64>(&t, "min_interactions", "整数").map(Spanned::into_inner);
        rule.min_sources = c.get::<usize>(&t, "min_sources", "非负整数").map(Spanned::into_inner);
        rule.min_growth = c.get::<f64>(&t, "min_growth", "数字（倍数）").map(Spanned::into_inner);
        for (_, ct) in c.array(&t, "content", CONTENT_KEYS) {
            let mut clause = ContentClause::default();
            if let Some(v) = c.list(&ct, "flags") {
                let known = names(FlagKind::ALL.iter().map(|k| k.as_str()));
                clause.flags = c.parsed(&v, "研判标记", &known, FlagKind::from_name);
            }
            if let Some(v) = c.list(&ct, "categories") {
                clause.categories =
                    c.parsed(&v, "类别", &names(Category::ALL.iter().map(|x| x.label_zh())), Category::parse);
            }
            clause.min_weight = c.get::<u8>(&ct, "min_weight", "1 到 5 的整数").map(Spanned::into_inner);
            clause.min_negativity = c.get::<f32>(&ct, "min_negativity", "数字").map(Spanned::into_inner);
            rule.content.push(clause);
        }
        grading.rules.retain(|r| r.grade != grade);
        grading.rules.push(rule);
    }
    grading.rules.sort_by_key(|r| r.grade);
    grading
}

/// `[grades.acceleration]`: when faster copies are a grading reason, and whether they raise
/// the grade (off by default; see [`crate::response::Acceleration`]).
fn acceleration(c: &mut Ctx<'_, '_>, value: &Spanned<DeValue<'_>>) -> Acceleration {
    let mut out = Acceleration::default();
    let DeValue::Table(t) = value.get_ref() else {
        c.error(value.span(), "grades.acceleration 应是表".to_string(), "写成 [grades.acceleration]");
        return out;
    };
    let t = c.file.known_keys(t, ACCELERATION_KEYS, "[grades.acceleration] 中", c.diags);
    if let Some(v) = c.get::<u32>(&t, "min_new", "非负整数（过去 2 小时新增篇数）") {
        out.min_new = v.into_inner();
    }
    if let Some(v) = c.get::<f64>(&t, "min_ratio", "数字（倍数）") {
        match *v.get_ref() >= 1.0 {
            true => out.min_ratio = v.into_inner(),
            false => c.error(
                v.span(),
                format!("min_ratio = {} 小于 1", v.get_ref()),
                "min_ratio 是过去 2 小时新增篇数与此前 2 小时之比，应不小于 1（默认 2.0）",
            ),
        }
    }
    if let Some(v) = c.get::<bool>(&t, "raise", "布尔值") {
        out.raise = v.into_inner();
    }
    out
}
