//! Keyword rules: what one line of `keywords/*.txt` means once parsed, and what a list
//! declares about itself in its `@` header (Art. 9 category, topic, owning section,
//! severity weight). Parsing lives in [`parse`]; compiling and matching in `crate::matcher`.
//! Pure data, no I/O.
//!
//! A line is Lucene-like: plain words in a group are alternatives, `+word` is required,
//! `!word` vetoes the whole line; `AND`, `OR`, `NOT` and parentheses combine groups;
//! `a NEAR/10 b` asks for both within 10 characters; `title:`, `text:`, `author:`,
//! `source:` scope what follows; `/regex/` and `{alias}` are leaves like words.

pub mod parse;

use std::path::PathBuf;

pub use parse::{RuleError, parse_rule};

/// The Art. 9 categories that decide which outside department a story is reported to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// 网络舆情 → 网宣部门
    Online,
    /// 社情民意 → 信访部门
    PublicSentiment,
    /// 对外宣传 → 外宣部门
    Publicity,
    /// 安全稳定 → 公安部门
    Stability,
    /// 涉外 → 外事部门
    Foreign,
    /// 应急管理 → 应急部门
    Emergency,
    /// 其他 → the openness office
    Other,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::Online,
        Category::PublicSentiment,
        Category::Publicity,
        Category::Stability,
        Category::Foreign,
        Category::Emergency,
        Category::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Online => "online",
            Category::PublicSentiment => "public_sentiment",
            Category::Publicity => "publicity",
            Category::Stability => "stability",
            Category::Foreign => "foreign",
            Category::Emergency => "emergency",
            Category::Other => "other",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Category::Online => "网络舆情",
            Category::PublicSentiment => "社情民意",
            Category::Publicity => "对外宣传",
            Category::Stability => "安全稳定",
            Category::Foreign => "涉外",
            Category::Emergency => "应急管理",
            Category::Other => "其他",
        }
    }

    /// Accepts the identifier or the Chinese name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s || c.label_zh() == s)
    }
}

/// What a list declares in its header; defaults for a list without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListMeta {
    pub category: Category,
    /// Defaults to the list's name.
    pub topic: String,
    /// The owning section's id, when the list names one.
    pub section: Option<String>,
    /// Where `@section` was written (1-based line and column of its value), for messages;
    /// (0, 0) when it was not.
    pub section_at: (usize, usize),
    /// Severity weight 1–5 used when grading; 1 when not declared.
    pub weight: u8,
}

impl ListMeta {
    pub fn new(name: &str) -> Self {
        Self { category: Category::Other, topic: name.to_string(), section: None, section_at: (0, 0), weight: 1 }
    }
}

/// A keyword list: `keywords/<name>.txt`, its header and its rules.
#[derive(Debug, Clone)]
pub struct KeywordList {
    pub name: String,
    pub path: PathBuf,
    pub meta: ListMeta,
    pub rules: Vec<Rule>,
}

impl KeywordList {
    /// A list of plain terms (numbered from line 1), for built-in lists and tests.
    pub fn from_terms(name: &str, terms: &[&str]) -> Self {
        let rules = terms.iter().enumerate().map(|(i, t)| Rule::term(t, i + 1)).collect();
        KeywordList { name: name.into(), path: PathBuf::new(), meta: ListMeta::new(name), rules }
    }

    /// Parses each line as a rule (panics on an error: for tests and built-in lists only).
    pub fn from_rules(name: &str, lines: &[&str]) -> Self {
        let rules = lines
            .iter()
            .enumerate()
            .map(|(i, l)| match parse_rule(l, i + 1) {
                Ok(rule) => rule,
                Err(e) => panic!("built-in rule {l:?}: {e}"),
            })
            .collect();
        KeywordList { name: name.into(), path: PathBuf::new(), meta: ListMeta::new(name), rules }
    }
}

/// One line of a list. `expr` is `None` for a line of exclusions only (`!演习 !演练`):
/// it vetoes the whole list for a document it matches.
#[derive(Debug, Clone)]
pub struct Rule {
    /// 1-based line in its file.
    pub line: usize,
    /// The line as written (without its comment), for messages.
    pub source: String,
    pub expr: Option<Expr>,
    /// `!` items: any one matching vetoes the line, wherever it was written.
    pub vetoes: Vec<Expr>,
}

impl Rule {
    /// A rule of one plain word.
    pub fn term(text: &str, line: usize) -> Self {
        let leaf = Leaf { pattern: Pattern::Literal(text.to_string()), scope: Scope::Body, column: 1 };
        Rule { line, source: text.to_string(), expr: Some(Expr::Leaf(leaf)), vetoes: Vec::new() }
    }

    /// The word when the rule is exactly one plain word over title and text.
    pub fn as_plain_term(&self) -> Option<&str> {
        match (&self.expr, self.vetoes.is_empty()) {
            (Some(Expr::Leaf(Leaf { pattern: Pattern::Literal(t), scope: Scope::Body, .. })), true) => Some(t),
            _ => None,
        }
    }

    /// Every leaf of the rule, vetoes included.
    pub fn leaves(&self) -> Vec<&Leaf> {
        let mut out = Vec::new();
        for e in self.expr.iter().chain(&self.vetoes) {
            e.collect_leaves_ref(&mut out);
        }
        out
    }

    /// Every leaf of the rule, vetoes included, to rewrite them.
    pub fn leaves_mut(&mut self) -> Vec<&mut Leaf> {
        let mut out = Vec::new();
        if let Some(e) = &mut self.expr {
            e.collect_leaves(&mut out);
        }
        for v in &mut self.vetoes {
            v.collect_leaves(&mut out);
        }
        out
    }
}

#[derive(Debug, Clone)]
pub enum Expr {
    Leaf(Leaf),
    /// Both leaves in the same field with at most `within` characters between them.
    Near(Leaf, Leaf, usize),
    Not(Box<Expr>),
    All(Vec<Expr>),
    Any(Vec<Expr>),
}

impl Expr {
    fn collect_leaves<'a>(&'a mut self, out: &mut Vec<&'a mut Leaf>) {
        match self {
            Expr::Leaf(l) => out.push(l),
            Expr::Near(a, b, _) => {
                out.push(a);
                out.push(b);
            }
            Expr::Not(e) => e.collect_leaves(out),
            Expr::All(es) | Expr::Any(es) => es.iter_mut().for_each(|e| e.collect_leaves(out)),
        }
    }

    fn collect_leaves_ref<'a>(&'a self, out: &mut Vec<&'a Leaf>) {
        match self {
            Expr::Leaf(l) => out.push(l),
            Expr::Near(a, b, _) => {
                out.push(a);
                out.push(b);
            }
            Expr::Not(e) => e.collect_leaves_ref(out),
            Expr::All(es) | Expr::Any(es) => es.iter().for_each(|e| e.collect_leaves_ref(out)),
        }
    }

    /// Whether a match of this expression always comes with at least one place in the
    /// document's text to point at (a hit), so that a rule can never match on
    /// `NOT` or `source:` alone.
    pub fn yields_hit(&self) -> bool {
        match self {
            Expr::Leaf(l) => l.scope != Scope::Source,
            Expr::Near(a, _, _) => a.scope != Scope::Source,
            Expr::Not(_) => false,
            Expr::All(es) => es.iter().any(Expr::yields_hit),
            Expr::Any(es) => es.iter().all(Expr::yields_hit),
        }
    }
}

/// A word, phrase, regex or alias, and where it must occur.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub pattern: Pattern,
    pub scope: Scope,
    /// 1-based character column in the line, for messages.
    pub column: usize,
}

#[derive(Debug, Clone)]
pub enum Pattern {
    /// A word or quoted phrase, as written (normalised when compiled).
    Literal(String),
    /// `{name}` before the aliases are resolved.
    Alias(String),
    /// A resolved alias: any of these words.
    Terms { alias: String, terms: Vec<String> },
    /// `/…/`, matched against the normalised field.
    Regex(Box<regex::Regex>),
}

/// Where a leaf must occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Title or text (the default).
    Body,
    Title,
    Text,
    Author,
    /// The source's id, compared whole rather than searched.
    Source,
}

impl Scope {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "title" | "标题" => Some(Scope::Title),
            "text" | "正文" => Some(Scope::Text),
            "author" | "作者" => Some(Scope::Author),
            "source" | "来源" | "信源" => Some(Scope::Source),
            _ => None,
        }
    }
}
