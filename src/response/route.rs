//! Routing (Art. 3, 9): an ordered list of routes with matchers on category, topic, grade,
//! source and flag — Alertmanager's flat form: routes are tried in order, the first
//! matching route that names an owner decides the owner, `report_to` accumulates, and
//! matching stops at the first matching route without `continue`. An event no route gives
//! an owner belongs to the section owning its topic, else to the openness office (gkb).
//! The accountable leader is the principal for grade I, else the owner's leader in charge.
//! The escalation ladder (liaison → head → leader in charge → principal) is per grade.

use std::time::Duration;

use super::grade::Grade;
use super::org::Organisation;
use crate::model::FlagKind;
use crate::rules::Category;

/// One route; empty matchers match anything, a list matches any of its values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Route {
    pub categories: Vec<Category>,
    pub topics: Vec<String>,
    pub grades: Vec<Grade>,
    pub sources: Vec<String>,
    pub flags: Vec<FlagKind>,
    /// A section id.
    pub owner: Option<String>,
    /// Department ids.
    pub report_to: Vec<String>,
    /// `[[receivers]]` ids told of the event besides the ladder (`notify`).
    pub notify: Vec<String>,
    pub continue_matching: bool,
}

/// What routing looks at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventKey {
    pub categories: Vec<Category>,
    /// Topics and list names of the lists it hit.
    pub topics: Vec<String>,
    pub grade: Option<Grade>,
    pub sources: Vec<String>,
    pub flags: Vec<FlagKind>,
    /// The section a person transferred the event to: it owns the event whatever the routes say.
    pub transferred_to: Option<String>,
}

impl Route {
    fn matches(&self, e: &EventKey) -> bool {
        fn any<T: PartialEq>(want: &[T], have: &[T]) -> bool {
            want.is_empty() || want.iter().any(|w| have.contains(w))
        }
        any(&self.categories, &e.categories)
            && any(&self.topics, &e.topics)
            && (self.grades.is_empty() || e.grade.is_some_and(|g| self.grades.contains(&g)))
            && any(&self.sources, &e.sources)
            && any(&self.flags, &e.flags)
    }
}

/// The ordered routes.
#[derive(Debug, Clone, PartialEq)]
pub struct Routing {
    pub routes: Vec<Route>,
    /// The escalation ladder of each grade.
    pub ladders: Ladders,
}

impl Default for Routing {
    /// The Art. 9 table: each category is reported to its outside department; rumour
    /// spreading also goes to public security. All `continue`, so owners come from topics.
    fn default() -> Self {
        let report = |category: Category, department: &str| Route {
            categories: vec![category],
            report_to: vec![department.to_string()],
            continue_matching: true,
            ..Default::default()
        };
        Routing {
            routes: vec![
                report(Category::Online, "wangxuan"),
                report(Category::PublicSentiment, "xinfang"),
                report(Category::Publicity, "waixuan"),
                report(Category::Stability, "gongan"),
                // 造谣传谣 of grade I or II is a public-security matter whatever its category.
                Route {
                    flags: vec![FlagKind::Rumour],
                    grades: vec![Grade::I, Grade::II],
                    report_to: vec!["gongan".into()],
                    continue_matching: true,
                    ..Default::default()
                },
                report(Category::Foreign, "waishi"),
                report(Category::Emergency, "yingji"),
            ],
            ladders: Ladders::default(),
        }
    }
}

/// Who answers for an event (Art. 3), and why: the principal for grade I, else the owning
/// section's leader in charge, else the principal.
pub fn accountable(org: &Organisation, grade: Option<Grade>, owner: Option<&str>) -> (Option<String>, String) {
    match grade {
        Some(Grade::I) => (org.principal.clone(), "Ⅰ级：主要领导为第一责任人、第一新闻发言人（第三条）".to_string()),
        _ => match owner.and_then(|o| org.section(o)).and_then(|s| s.leader_in_charge.clone()) {
            Some(p) => (Some(p), "牵头科室的分管领导负责（第三条）".to_string()),
            None => (org.principal.clone(), "牵头科室未设分管领导，由主要领导负责".to_string()),
        },
    }
}

/// A rung of the escalation ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Liaison,
    Head,
    LeaderInCharge,
    Principal,
    Gkb,
}

impl Role {
    /// The name used in JSON and config (`liaison`, `head`, `leader_in_charge`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Liaison => "liaison",
            Role::Head => "head",
            Role::LeaderInCharge => "leader_in_charge",
            Role::Principal => "principal",
            Role::Gkb => "gkb",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Liaison => "联络人",
            Role::Head => "负责人",
            Role::LeaderInCharge => "分管领导",
            Role::Principal => "主要领导",
            Role::Gkb => "政务公开办",
        }
    }
}

/// A step of the escalation ladder: who is told how long after the ladder started (without
/// an accept by then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub after: Duration,
    pub roles: Vec<Role>,
}

/// A grade's escalation ladder (`[ladder.I]` … `[ladder.IV]` in config, or the defaults of
/// ROUTING.md §5.3): its steps, and how it repeats for those who have not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ladder {
    pub steps: Vec<Step>,
    /// Everyone reached so far is told again this often while it goes unaccepted.
    pub repeat_every: Option<Duration>,
    /// At most this many repeats (the ladder is bounded).
    pub repeats: u32,
    /// Each person must accept for themself (grade I: multi-ack); otherwise one accept
    /// stops the ladder for everyone.
    pub each_person: bool,
}

/// The ladders of all grades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ladders {
    by_grade: [Ladder; 4],
}

impl Default for Ladders {
    fn default() -> Self {
        Ladders { by_grade: Grade::ALL.map(default_ladder) }
    }
}

impl Ladders {
    pub fn for_grade(&self, grade: Grade) -> &Ladder {
        &self.by_grade[grade as usize]
    }

    /// Replaces a grade's ladder.
    pub fn set(&mut self, grade: Grade, ladder: Ladder) {
        self.by_grade[grade as usize] = ladder;
    }
}

/// The default ladder of a grade (ROUTING.md §5.3). Grade I tells everyone at once and
/// repeats every 15 min until each person accepts; II adds the principal after 30 min and
/// repeats every 30 min until someone accepts; III and IV climb one rung at a time.
pub fn default_ladder(grade: Grade) -> Ladder {
    let m = |min: u64| Duration::from_secs(min * 60);
    let step = |after, roles: &[Role]| Step { after, roles: roles.to_vec() };
    use Role::*;
    let (steps, repeat_every, each_person) = match grade {
        Grade::I => (vec![step(m(0), &[Liaison, Head, LeaderInCharge, Principal, Gkb])], Some(m(15)), true),
        Grade::II => {
            (vec![step(m(0), &[Liaison, Head, LeaderInCharge]), step(m(30), &[Principal])], Some(m(30)), false)
        }
        Grade::III => (
            vec![
                step(m(0), &[Liaison]),
                step(m(30), &[Head]),
                step(m(120), &[LeaderInCharge]),
                step(m(36 * 60), &[Principal]),
                step(m(48 * 60), &[Gkb]),
            ],
            None,
            false,
        ),
        Grade::IV => (
            vec![
                step(m(0), &[Liaison]),
                step(m(4 * 60), &[Head]),
                step(m(24 * 60), &[LeaderInCharge]),
                step(m(48 * 60), &[Gkb]),
            ],
            None,
            false,
        ),
    };
    Ladder { steps, repeat_every, repeats: if repeat_every.is_some() { 3 } else { 0 }, each_person }
}

/// A ladder step, or a repeat of one, that came due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueStep {
    /// The notification-log step: the step's index, plus 10 × the repeat (below 100, where
    /// the deadline marks begin).
    pub step: usize,
    pub roles: Vec<Role>,
    pub due: chrono::DateTime<chrono::Utc>,
}

impl Ladder {
    /// The steps and repeats due at `now` for a ladder started at `since`, whoever has
    /// accepted (the caller knows who did, and when). The first step goes out with the
    /// event's alert, so it is included only `with_first` (after a transfer).
    pub fn due(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
        with_first: bool,
    ) -> Vec<DueStep> {
        let at = |d: Duration| chrono::Duration::from_std(d).ok().map(|d| since + d);
        let mut out: Vec<DueStep> = Vec::new();
        for (i, step) in self.steps.iter().enumerate().skip(usize::from(!with_first)) {
            if let Some(due) = at(step.after).filter(|due| *due <= now) {
                out.push(DueStep { step: i, roles: step.roles.clone(), due });
            }
        }
        let Some(every) = self.repeat_every.filter(|d| !d.is_zero()) else { return out };
        for r in 1..=self.repeats.min(9) {
            let Some(due) = at(every * r).filter(|due| *due <= now) else { break };
            // Everyone the ladder reached before then is told again.
            for (i, step) in self.steps.iter().enumerate().filter(|(_, s)| s.after < every * r) {
                out.push(DueStep { step: i + 10 * r as usize, roles: step.roles.clone(), due });
            }
        }
        out
    }

    /// The people to tell at `now`: each due step's roles filled by `fill`, less those whose
    /// accept (person, when) came before the step was due — their own accept on a
    /// each-person ladder, anyone's otherwise. A person appears once per step.
    pub fn reach(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
        with_first: bool,
        accepts: &[(String, chrono::DateTime<chrono::Utc>)],
        fill: impl Fn(Role) -> Option<String>,
    ) -> Vec<Reached> {
        let mut out: Vec<Reached> = Vec::new();
        for due in self.due(since, now, with_first) {
            let anyone = accepts.iter().any(|(_, at)| *at <= due.due);
            if anyone && !self.each_person {
                continue;
            }
            for &role in &due.roles {
                let Some(person) = fill(role) else { continue };
                let accepted = accepts.iter().any(|(p, at)| *p == person && *at <= due.due);
                if accepted || out.iter().any(|r| r.step == due.step && r.person == person) {
                    continue;
                }
                out.push(Reached { step: due.step, role, person, due: due.due, repeat: due.step >= 10 });
            }
        }
        out
    }
}

/// A person a ladder step reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    pub step: usize,
    pub role: Role,
    pub person: String,
    pub due: chrono::DateTime<chrono::Utc>,
    /// A repeat of an earlier step (the person was told before and has not accepted).
    pub repeat: bool,
}

/// The person filling `role` for an event owned by `owner`.
pub fn person_for(org: &Organisation, owner: &str, role: Role) -> Option<String> {
    let section = org.section(owner);
    match role {
        Role::Liaison => section.and_then(|s| s.liaison.clone()),
        Role::Head => section.and_then(|s| s.head.clone()),
        Role::LeaderInCharge => section.and_then(|s| s.leader_in_charge.clone()),
        Role::Principal => org.principal.clone(),
        Role::Gkb => {
            let gkb = org.gkb.as_deref().and_then(|g| org.section(g));
            gkb.and_then(|s| s.liaison.clone().or(s.head.clone()))
        }
    }
}

/// Who owns an event, who answers for it, who is told when, and who receives a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// A section id.
    pub owner: String,
    pub owner_reason: String,
    /// A person id, when the organisation names one.
    pub accountable: Option<String>,
    pub accountable_reason: String,
    /// Department ids, distinct, in route order.
    pub report_to: Vec<String>,
    /// `[[receivers]]` ids to tell as well, distinct, in route order.
    pub notify: Vec<String>,
    /// Each step with the person ids it reaches (roles nobody fills are left out).
    pub steps: Vec<(Duration, Vec<(Role, String)>)>,
    /// How the ladder repeats while unaccepted.
    pub repeat: Option<Repeat>,
}

/// A ladder's repeats: every `every`, at most `times`, until each person (or anyone) accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeat {
    pub every: Duration,
    pub times: u32,
    pub each_person: bool,
}

impl Routing {
    /// Routes `event`; `topic_owner` names the section owning a topic (from `@section` in
    /// keyword lists and `topics` of `[[sections]]`).
    pub fn decide(
        &self,
        org: &Organisation,
        event: &EventKey,
        topic_owner: impl Fn(&str) -> Option<String>,
    ) -> Decision {
        let mut owner: Option<(String, String)> =
            event.transferred_to.clone().map(|s| (s, "已转办至该科室（转办决定优先于路由规则）".to_string()));
        let mut report_to: Vec<String> = Vec::new();
        let mut notify: Vec<String> = Vec::new();
        for (n, route) in self.routes.iter().enumerate() {
            if !route.matches(event) {
                continue;
            }
            if owner.is_none()
                && let Some(o) = &route.owner
            {
                owner = Some((o.clone(), format!("路由规则第 {} 条", n + 1)));
            }
            for d in &route.report_to {
                if !report_to.contains(d) {
                    report_to.push(d.clone());
                }
            }
            for r in &route.notify {
                if !notify.contains(r) {
                    notify.push(r.clone());
                }
            }
            if !route.continue_matching {
                break;
            }
        }
        let owner = owner
            .or_else(|| event.topics.iter().find_map(|t| topic_owner(t).map(|s| (s, format!("主题“{t}”归该科室")))))
            .unwrap_or_else(|| {
                (org.gkb.clone().unwrap_or_else(|| "gkb".into()), "没有规则或主题指定科室，由政务公开办分办".into())
            });
        let (accountable, accountable_reason) = accountable(org, event.grade, Some(&owner.0));
        let fill = |role: Role| person_for(org, &owner.0, role);
        let ladder = self.ladders.for_grade(event.grade.unwrap_or(Grade::IV));
        let steps = ladder
            .steps
            .iter()
            .map(|s| {
                let mut people: Vec<(Role, String)> = Vec::new();
                for &role in &s.roles {
                    if let Some(p) = fill(role)
                        && !people.iter().any(|(_, q)| *q == p)
                    {
                        people.push((role, p));
                    }
                }
                (s.after, people)
            })
            .collect();
        let repeat = ladder.repeat_every.filter(|_| ladder.repeats > 0).map(|every| Repeat {
            every,
            times: ladder.repeats,
            each_person: ladder.each_person,
        });
        Decision {
            owner: owner.0,
            owner_reason: owner.1,
            accountable,
            accountable_reason,
            report_to,
            notify,
            steps,
            repeat,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::org::Section;

    fn org() -> Organisation {
        let section = |id: &str, liaison: &str, head: &str, leader: &str| Section {
            id: id.into(),
            name: id.into(),
            head: Some(head.into()),
            liaison: Some(liaison.into()),
            leader_in_charge: Some(leader.into()),
            topics: Vec::new(),
            robot: None,
        };
        Organisation {
            principal: Some("chen".into()),
            gkb: Some("office".into()),
            sections: vec![section("office", "xu", "he", "zhou"), section("preferential", "wang", "li", "zhao")],
            ..Default::default()
        }
    }

    fn key(category: Category, grade: Grade, topic: &str) -> EventKey {
        EventKey { categories: vec![category], topics: vec![topic.into()], grade: Some(grade), ..Default::default() }
    }

    fn owner_of(topic: &str) -> Option<String> {
        (topic == "拥军优抚").then(|| "preferential".into())
    }

    #[test]
    fn every_category_and_grade_routes_as_the_regulation_says() {
        let routing = Routing::default();
        let org = org();
        let departments = [
            (Category::Online, vec!["wangxuan"]),
            (Category::PublicSentiment, vec!["xinfang"]),
            (Category::Publicity, vec!["waixuan"]),
            (Category::Stability, vec!["gongan"]),
            (Category::Foreign, vec!["waishi"]),
            (Category::Emergency, vec!["yingji"]),
            (Category::Other, vec![]),
        ];
        for (category, want) in departments {
            for grade in Grade::ALL {
                for (topic, owner, leader) in [("拥军优抚", "preferential", "zhao"), ("别的", "office", "zhou")] {
                    let d = routing.decide(&org, &key(category, grade, topic), owner_of);
                    assert_eq!(d.report_to, want, "{category:?} {grade:?}");
                    assert_eq!(d.owner, owner, "{category:?} {grade:?} {topic}");
                    let accountable = if grade == Grade::I { "chen" } else { leader };
                    assert_eq!(d.accountable.as_deref(), Some(accountable), "{category:?} {grade:?} {topic}");
                }
            }
        }
    }

    #[test]
    fn first_owner_wins_report_to_accumulates_and_continue_stops() {
        let routing = Routing {
            routes: vec![
                Route {
                    grades: vec![Grade::I, Grade::II],
                    report_to: vec!["gongan".into()],
                    continue_matching: true,
                    ..Default::default()
                },
                Route { topics: vec!["拥军优抚".into()], owner: Some("office".into()), ..Default::default() },
                Route { owner: Some("preferential".into()), report_to: vec!["never".into()], ..Default::default() },
            ],
            ladders: Ladders::default(),
        };
        let d = routing.decide(&org(), &key(Category::Online, Grade::II, "拥军优抚"), owner_of);
        assert_eq!((d.owner.as_str(), d.report_to.clone()), ("office", vec!["gongan".to_string()]));
        assert_eq!(d.owner_reason, "路由规则第 2 条");
        let d = routing.decide(&org(), &key(Category::Online, Grade::IV, "别的"), owner_of);
        assert_eq!((d.owner.as_str(), d.report_to.clone()), ("preferential", vec!["never".to_string()]));
    }

    #[test]
    fn the_ladder_climbs_by_grade_and_grade_one_tells_everyone_at_once() {
        let org = org();
        let d = Routing::default().decide(&org, &key(Category::Online, Grade::I, "拥军优抚"), owner_of);
        let people: Vec<&str> = d.steps[0].1.iter().map(|(_, p)| p.as_str()).collect();
        assert_eq!(people, vec!["wang", "li", "zhao", "chen", "xu"]);
        assert_eq!(d.steps.len(), 1);
        let d = Routing::default().decide(&org, &key(Category::Online, Grade::III, "拥军优抚"), owner_of);
        let ladder: Vec<(u64, &str)> =
            d.steps.iter().flat_map(|(t, ps)| ps.iter().map(move |(_, p)| (t.as_secs() / 60, p.as_str()))).collect();
        assert_eq!(ladder, vec![(0, "wang"), (30, "li"), (120, "zhao"), (2160, "chen"), (2880, "xu")]);
    }

    #[test]
    fn ladder_steps_come_due_on_a_virtual_clock_and_stop_at_accept() {
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let at = |min: i64| t0 + chrono::Duration::minutes(min);
        let fill = |role: Role| Some(role.as_str().to_string());
        let ladders = Ladders::default();
        let reach = |grade: Grade, now: i64, accepts: &[(&str, i64)], with_first: bool| -> Vec<(usize, String)> {
            let accepts: Vec<(String, _)> = accepts.iter().map(|(p, m)| (p.to_string(), at(*m))).collect();
            ladders
                .for_grade(grade)
                .reach(t0, at(now), with_first, &accepts, fill)
                .into_iter()
                .map(|r| (r.step, r.person))
                .collect()
        };
        let steps = |now: i64, accepted: Option<i64>| -> Vec<usize> {
            let accepts: Vec<(&str, i64)> = accepted.map(|m| ("liaison", m)).into_iter().collect();
            reach(Grade::III, now, &accepts, false).into_iter().map(|(i, _)| i).collect()
        };
        assert_eq!(steps(29, None), Vec::<usize>::new(), "the liaison has the alert; nothing more yet");
        assert_eq!(steps(30, None), vec![1], "head at 30 min");
        assert_eq!(steps(120, None), vec![1, 2], "leader in charge at 2 h");
        assert_eq!(steps(48 * 60, None), vec![1, 2, 3, 4], "grade III does not repeat");
        assert_eq!(steps(48 * 60, Some(60)), vec![1], "accepted after the head was told: nothing further");
        assert_eq!(steps(48 * 60, Some(10)), Vec::<usize>::new());
        let s = |v: &[(usize, &str)]| v.iter().map(|(i, p)| (*i, p.to_string())).collect::<Vec<_>>();
        assert_eq!(reach(Grade::III, 0, &[], true), s(&[(0, "liaison")]), "after a transfer");
        // Grade II repeats every 30 min to everyone reached, until anyone accepts.
        assert_eq!(reach(Grade::II, 30, &[], false).len(), 1 + 3, "the principal, and the first three again");
        assert_eq!(reach(Grade::II, 60, &[], false).len(), 1 + 3 + 4, "the second repeat includes the principal");
        assert_eq!(
            reach(Grade::II, 600, &[("head", 40)], false),
            s(&[(1, "principal"), (10, "liaison"), (10, "head"), (10, "leader_in_charge")])
        );
    }

    #[test]
    fn grade_one_repeats_until_each_person_accepts_and_is_bounded() {
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let at = |min: i64| t0 + chrono::Duration::minutes(min);
        let ladder = default_ladder(Grade::I);
        let fill = |role: Role| Some(role.as_str().to_string());
        let reach = |now: i64, accepts: &[(&str, i64)]| -> Vec<(usize, String)> {
            let accepts: Vec<(String, _)> = accepts.iter().map(|(p, m)| (p.to_string(), at(*m))).collect();
            ladder.reach(t0, at(now), false, &accepts, fill).into_iter().map(|r| (r.step, r.person)).collect()
        };
        assert!(reach(14, &[]).is_empty(), "everyone had the alert at once");
        assert_eq!(reach(15, &[]).len(), 5, "all five told again at 15 min");
        // The principal and the liaison accept at 20 min; the others keep being told.
        let at_45 = reach(45, &[("principal", 20), ("liaison", 20)]);
        let people_at =
            |step: usize| -> Vec<&str> { at_45.iter().filter(|(s, _)| *s == step).map(|(_, p)| p.as_str()).collect() };
        assert_eq!(people_at(10).len(), 5, "the 15-min repeat went to all");
        assert_eq!(people_at(20), vec!["head", "leader_in_charge", "gkb"]);
        assert_eq!(people_at(30), vec!["head", "leader_in_charge", "gkb"]);
        assert_eq!(reach(24 * 60, &[]).len(), 5 * 3, "three repeats at most");
    }
}
