//! Who is who: people, sections (科室) with their head (负责人), liaison (联络人) and leader
//! in charge (分管领导), the principal (主要领导), the openness office (政务公开办, `gkb`: the
//! root owner) and the outside departments that receive reports (报送, Art. 9).

/// One person who can be notified.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub wecom: Option<String>,
    pub dingtalk: Option<String>,
    pub feishu: Option<String>,
}

/// A section (科室).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    pub id: String,
    pub name: String,
    pub head: Option<String>,
    pub liaison: Option<String>,
    pub leader_in_charge: Option<String>,
    /// Keyword lists or topics it owns (besides lists that name it with `@section`).
    pub topics: Vec<String>,
    /// The `[[robots]]` id of its IM group, for notifications over IM.
    pub robot: Option<String>,
}

/// An outside department that receives reports (报送).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Department {
    pub id: String,
    pub name: String,
    /// Where its reports go.
    pub email: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Organisation {
    /// 主要领导: a person id.
    pub principal: Option<String>,
    /// 政务公开办: a section id, the owner of everything no rule assigns.
    pub gkb: Option<String>,
    pub people: Vec<Person>,
    pub sections: Vec<Section>,
    pub departments: Vec<Department>,
}

impl Organisation {
    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.id == id)
    }

    pub fn section(&self, id: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.id == id)
    }

    pub fn department(&self, id: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.id == id)
    }

    /// "陈某（chen）", or the id when the person is unknown.
    pub fn person_label(&self, id: &str) -> String {
        self.person(id).map_or_else(|| id.to_string(), |p| format!("{}（{}）", p.name, p.id))
    }

    /// What to write instead of `given`, which is no person id: the id of the person whose
    /// name it is (`王科员 的人员 id 是 wang`), or the closest id, then every id with its name.
    pub fn person_hint(&self, given: &str) -> String {
        let given = given.trim();
        let ids: Vec<&str> = self.people.iter().map(|p| p.id.as_str()).collect();
        let first = match self.people.iter().find(|p| p.name == given) {
            Some(p) => format!("{given} 的人员 id 是 {}；", p.id),
            None => crate::util::similar::suggest(given, &ids).map(|id| format!("是不是 {id}？")).unwrap_or_default(),
        };
        let all: Vec<String> = self.people.iter().map(|p| format!("{}（{}）", p.id, p.name)).collect();
        format!("{first}请写人员 id：{}", all.join("、"))
    }

    /// What to write instead of `given`, which is no section id: the id of the section whose
    /// name it is, or the closest id, then every id with its name.
    pub fn section_hint(&self, given: &str) -> String {
        let given = given.trim();
        let ids: Vec<&str> = self.sections.iter().map(|s| s.id.as_str()).collect();
        let first = match self.sections.iter().find(|s| s.name == given) {
            Some(s) => format!("{given} 的科室 id 是 {}；", s.id),
            None => crate::util::similar::suggest(given, &ids).map(|id| format!("是不是 {id}？")).unwrap_or_default(),
        };
        if ids.is_empty() {
            return format!("{first}yuqing.toml 中还没有 [[sections]]");
        }
        let all: Vec<String> = self.sections.iter().map(|s| format!("{}（{}）", s.id, s.name)).collect();
        format!("{first}请写科室 id：{}", all.join("、"))
    }

    pub fn section_label(&self, id: &str) -> String {
        self.section(id).map_or_else(|| id.to_string(), |s| format!("{}（{}）", s.name, s.id))
    }

    /// A department's name: from `[[departments]]`, else the Art. 9 default, else the id.
    pub fn department_name(&self, id: &str) -> String {
        self.department(id)
            .map(|d| d.name.clone())
            .or_else(|| default_department_name(id).map(str::to_string))
            .unwrap_or_else(|| id.to_string())
    }
}

/// The default names of the Art. 9 departments, for reports when `[[departments]]` does not
/// name them.
pub fn default_department_name(id: &str) -> Option<&'static str> {
    ART9_DEPARTMENTS.iter().find(|(d, _)| *d == id).map(|(_, name)| *name)
}

/// The Art. 9 departments by their default ids, with their names.
pub const ART9_DEPARTMENTS: [(&str, &str); 6] = [
    ("wangxuan", "网宣部门"),
    ("xinfang", "信访部门"),
    ("waixuan", "外宣部门"),
    ("gongan", "公安部门"),
    ("waishi", "外事部门"),
    ("yingji", "应急部门"),
];
