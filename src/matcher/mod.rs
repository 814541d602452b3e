//! Keyword matching: every literal of every rule of every list in one Aho-Corasick
//! automaton, searched with overlapping semantics so that nested terms (群体性事件 ⊃ 事件)
//! are all reported; rules (`crate::rules`) are then evaluated only for the lines whose
//! words occurred. Exclusions (`!word` in a line, or a line of exclusions for a whole list)
//! always win. Pure: lists come in parsed (see `config`).

mod view;

use std::collections::HashMap;

use daachorse::CharwiseDoubleArrayAhoCorasick;
use regex::{Regex, RegexSet, RegexSetBuilder};

pub use view::{Folding, View};

use crate::extract::normalize::normalize_text;
use crate::model::{Document, Field, Hit};
pub use crate::rules::KeywordList;
use crate::rules::{Expr, Leaf, ListMeta, Pattern, Scope};

#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    #[error("cannot build the keyword automaton: {0}")]
    Build(String),
    #[error("cannot build the negativity automaton: {0}")]
    Lexicon(#[from] aho_corasick::BuildError),
    #[error("{list}: line {line}: alias {{{alias}}} is not resolved")]
    Alias { list: String, line: usize, alias: String },
}

/// The fields of a document that rules look at; `author` and `source` may be empty.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fields<'a> {
    pub title: &'a str,
    pub text: &'a str,
    pub author: &'a str,
    /// The source's id, for `source:` leaves.
    pub source: &'a str,
}

impl<'a> Fields<'a> {
    pub fn body(title: &'a str, text: &'a str) -> Self {
        Fields { title, text, ..Default::default() }
    }

    pub fn of(document: &'a Document) -> Self {
        Fields {
            title: &document.title,
            text: &document.text,
            author: document.author.as_deref().unwrap_or_default(),
            source: &document.source_id,
        }
    }
}

/// A compiled leaf.
#[derive(Debug, Clone)]
enum Target {
    /// Any of these literals (indexes into `Matcher::literals`).
    Literals(Vec<u32>),
    /// An index into `Matcher::regexes`.
    Regex(u32),
    /// `source:` words: equal to the source id (ASCII case ignored).
    SourceIs(Vec<String>),
    SourceRegex(u32),
}

#[derive(Debug, Clone)]
enum Node {
    Leaf(Target, Scope),
    Near(Box<(Target, Target)>, Scope, Scope, usize),
    Not(Box<Node>),
    All(Vec<Node>),
    Any(Vec<Node>),
}

#[derive(Debug, Clone)]
struct CompiledRule {
    list: u32,
    node: Node,
    vetoes: Vec<Node>,
    /// The one literal of a plain-word rule: hits straight from the automaton.
    plain: Option<u32>,
}

#[derive(Debug, Clone)]
struct CompiledList {
    name: String,
    meta: ListMeta,
    /// Lines of exclusions only: any one matching vetoes the list.
    exclusions: Vec<Node>,
}

/// All lists compiled into one automaton plus the rules over it.
#[derive(Clone)]
pub struct Matcher {
    /// Steps over whole characters (not UTF-8 bytes): three times fewer steps on Chinese.
    /// `None` when no rule has a literal (daachorse refuses an empty pattern set).
    automaton: Option<CharwiseDoubleArrayAhoCorasick<u32>>,
    /// What each literal reports as its term (normalised, as the admin wrote it).
    literals: Vec<String>,
    /// For each literal, the rules it can start (it occurs in their positive part).
    starts: Vec<Vec<u32>>,
    regexes: Vec<Regex>,
    /// What each regex reports as its term (`/…/`).
    regex_terms: Vec<String>,
    /// All regexes in one set: which of them occur, in one search per field.
    regex_set: Option<RegexSet>,
    /// The regexes of the set that match an empty field.
    regex_set_empty: Vec<u32>,
    /// For each regex, the rules it can start (it occurs in their positive part).
    regex_starts: Vec<Vec<u32>>,
    rules: Vec<CompiledRule>,
    /// Rules with a regex in their positive part when the regexes would not build into a
    /// set: evaluated for every document.
    always: Vec<u32>,
    lists: Vec<CompiledList>,
    folding: Option<&'static Folding>,
    search_author: bool,
}

/// Builds the tables while compiling.
struct Compiler {
    folding: Option<&'static Folding>,
    literal_ids: HashMap<String, u32>,
    patterns: Vec<String>,
    literals: Vec<String>,
    regexes: Vec<Regex>,
    search_author: bool,
}

impl Compiler {
    fn literal(&mut self, written: &str) -> u32 {
        let display = normalize_text(written);
        let pattern = View::of(&display, self.folding).into_text();
        if let Some(&id) = self.literal_ids.get(&pattern) {
            return id;
        }
        let id = self.patterns.len() as u32;
        self.literal_ids.insert(pattern.clone(), id);
        self.patterns.push(pattern);
        self.literals.push(display);
        id
    }

    fn target(&mut self, leaf: &Leaf, list: &str, line: usize) -> Result<Target, MatcherError> {
        let words: Vec<String> = match &leaf.pattern {
            Pattern::Literal(t) => vec![t.clone()],
            Pattern::Terms { terms, .. } => terms.clone(),
            Pattern::Regex(re) => {
                self.regexes.push((**re).clone());
                let id = self.regexes.len() as u32 - 1;
                return Ok(if leaf.scope == Scope::Source { Target::SourceRegex(id) } else { Target::Regex(id) });
            }
            Pattern::Alias(alias) => {
                return Err(MatcherError::Alias { list: list.into(), line, alias: alias.clone() });
            }
        };
        if leaf.scope == Scope::Source {
            return Ok(Target::SourceIs(words.iter().map(|w| normalize_text(w)).collect()));
        }
        self.search_author |= leaf.scope == Scope::Author;
        Ok(Target::Literals(words.iter().map(|w| self.literal(w)).collect()))
    }

    fn node(&mut self, expr: &Expr, list: &str, line: usize) -> Result<Node, MatcherError> {
        Ok(match expr {
            Expr::Leaf(l) => Node::Leaf(self.target(l, list, line)?, l.scope),
            Expr::Near(a, b, n) => {
                let (ta, tb) = (self.target(a, list, line)?, self.target(b, list, line)?);
                Node::Near(Box::new((ta, tb)), a.scope, b.scope, *n)
            }
            Expr::Not(e) => Node::Not(Box::new(self.node(e, list, line)?)),
            Expr::All(es) => Node::All(es.iter().map(|e| self.node(e, list, line)).collect::<Result<_, _>>()?),
            Expr::Any(es) => Node::Any(es.iter().map(|e| self.node(e, list, line)).collect::<Result<_, _>>()?),
        })
    }
}

/// Literal and regex ids in the positive part of a node (not under `NOT`).
fn positive_targets(node: &Node, lits: &mut Vec<u32>, regexes: &mut Vec<u32>) {
    let mut target = |t: &Target| match t {
        Target::Literals(ids) => lits.extend(ids),
        Target::Regex(id) => regexes.push(*id),
        Target::SourceIs(_) | Target::SourceRegex(_) => {}
    };
    match node {
        Node::Leaf(t, _) => target(t),
        Node::Near(ts, _, _, _) => {
            target(&ts.0);
            target(&ts.1);
        }
        Node::Not(_) => {}
        Node::All(ns) | Node::Any(ns) => ns.iter().for_each(|n| positive_targets(n, lits, regexes)),
    }
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("literals", &self.literals.len())
            .field("rules", &self.rules.len())
            .field("lists", &self.lists.len())
            .finish_non_exhaustive()
    }
}

impl Matcher {
    /// Compiles the lists with traditional → simplified folding on.
    pub fn new(lists: &[KeywordList]) -> Result<Self, MatcherError> {
        Self::with_folding(lists, true)
    }

    pub fn with_folding(lists: &[KeywordList], fold_traditional: bool) -> Result<Self, MatcherError> {
        let folding = fold_traditional.then(Folding::get);
        let mut c = Compiler {
            folding,
            literal_ids: HashMap::new(),
            patterns: Vec::new(),
            literals: Vec::new(),
            regexes: Vec::new(),
            search_author: false,
        };
        let (mut rules, mut compiled_lists) = (Vec::new(), Vec::new());
        for (index, list) in lists.iter().enumerate() {
            let mut exclusions = Vec::new();
            for rule in &list.rules {
                let vetoes = compile_all(&mut c, &rule.vetoes, &list.name, rule.line)?;
                match &rule.expr {
                    None => exclusions.extend(vetoes),
                    Some(expr) => {
                        let node = c.node(expr, &list.name, rule.line)?;
                        let plain = match (&node, rule.as_plain_term()) {
                            (Node::Leaf(Target::Literals(ids), Scope::Body), Some(_)) => ids.first().copied(),
                            _ => None,
                        };
                        rules.push(CompiledRule { list: index as u32, node, vetoes, plain });
                    }
                }
            }
            compiled_lists.push(CompiledList { name: list.name.clone(), meta: list.meta.clone(), exclusions });
        }
        let regex_set = match c.regexes.len() {
            0 => None,
            n => RegexSetBuilder::new(c.regexes.iter().map(Regex::as_str)).size_limit(n << 20).build().ok(),
        };
        let regex_set_empty = regex_set.as_ref().map(|s| set_matches(s, "")).unwrap_or_default();
        let mut starts = vec![Vec::new(); c.patterns.len()];
        let mut regex_starts = vec![Vec::new(); c.regexes.len()];
        let mut always = Vec::new();
        for (id, rule) in rules.iter().enumerate() {
            let (mut lits, mut res) = (Vec::new(), Vec::new());
            positive_targets(&rule.node, &mut lits, &mut res);
            // A rule can only hold when one of its positive literals or regexes occurs.
            if !res.is_empty() && regex_set.is_none() {
                always.push(id as u32);
                continue;
            }
            for (ids, starts) in [(lits, &mut starts), (res, &mut regex_starts)] {
                let mut ids = ids;
                ids.sort_unstable();
                ids.dedup();
                for i in ids {
                    starts[i as usize].push(id as u32);
                }
            }
        }
        let regex_terms = c.regexes.iter().map(|r| format!("/{}/", r.as_str())).collect();
        let automaton = match c.patterns.is_empty() {
            true => None,
            false => {
                Some(CharwiseDoubleArrayAhoCorasick::new(&c.patterns).map_err(|e| MatcherError::Build(e.to_string()))?)
            }
        };
        Ok(Self {
            automaton,
            literals: c.literals,
            starts,
            regexes: c.regexes,
            regex_terms,
            regex_set,
            regex_set_empty,
            regex_starts,
            rules,
            always,
            lists: compiled_lists,
            folding,
            search_author: c.search_author,
        })
    }

    /// Distinct literals in the automaton.
    pub fn term_count(&self) -> usize {
        self.literals.len()
    }

    /// What a list declared in its header.
    pub fn list_meta(&self, name: &str) -> Option<&ListMeta> {
        self.lists.iter().find(|l| l.name == name).map(|l| &l.meta)
    }

    /// Every occurrence that made a rule match, sorted by field and position; a term in
    /// two lists gives one hit per list. A list with no matching rule, or vetoed by an
    /// exclusion, gives none.
    ///
    /// Separators slipped between Chinese characters to dodge filters (拆-迁, 拆 迁, 拆*迁)
    /// and traditional characters (拆遷) do not hide a term; positions point into the
    /// original field.
    pub fn find(&self, fields: &Fields<'_>) -> Vec<Hit> {
        let doc = Doc::new(self, fields);
        let regexes = self.regexes_found(&doc);
        if doc.occurrences.is_empty() && regexes.is_empty() && self.always.is_empty() {
            return Vec::new();
        }
        let mut candidates: Vec<u32> = self.always.clone();
        let mut last = u32::MAX;
        for occ in &doc.occurrences {
            if occ.literal != last {
                candidates.extend(&self.starts[occ.literal as usize]);
                last = occ.literal;
            }
        }
        for &r in &regexes {
            candidates.extend(&self.regex_starts[r as usize]);
        }
        candidates.sort_unstable();
        candidates.dedup();

        let mut hits = Vec::new();
        let mut list_hits: Vec<Span<'_>> = Vec::new();
        let mut i = 0;
        while i < candidates.len() {
            let list = self.rules[candidates[i] as usize].list;
            list_hits.clear();
            while i < candidates.len() && self.rules[candidates[i] as usize].list == list {
                let rule = &self.rules[candidates[i] as usize];
                i += 1;
                match rule.plain {
                    Some(lit) => doc.literal_hits(lit, Scope::Body, &mut list_hits),
                    None if doc.eval(&rule.node) && !rule.vetoes.iter().any(|v| doc.eval(v)) => {
                        doc.collect(&rule.node, &mut list_hits)
                    }
                    None => {}
                }
            }
            let compiled = &self.lists[list as usize];
            if list_hits.is_empty() || compiled.exclusions.iter().any(|e| doc.eval(e)) {
                continue;
            }
            list_hits.sort_unstable();
            list_hits.dedup();
            for &(field, start, end, term) in &list_hits {
                hits.push(Hit { field, start, end, list: compiled.name.clone(), term: term.to_string() });
            }
        }
        hits.sort_unstable();
        hits.dedup();
        hits
    }

    /// The regexes that occur in some field of the document (sorted, distinct); none
    /// when there is no regex set.
    fn regexes_found(&self, doc: &Doc<'_, '_>) -> Vec<u32> {
        let Some(set) = &self.regex_set else { return Vec::new() };
        let mut found = Vec::new();
        for (_, view) in doc.views() {
            if view.text().is_empty() {
                found.extend(&self.regex_set_empty);
            } else if set.is_match(view.text()) {
                found.extend(set_matches(set, view.text()));
            }
        }
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// The patterns of `set` that match `text`.
fn set_matches(set: &RegexSet, text: &str) -> Vec<u32> {
    set.matches(text).iter().map(|i| i as u32).collect()
}

/// A place to report: field, original byte range and the term.
type Span<'m> = (Field, usize, usize, &'m str);

fn compile_all(c: &mut Compiler, exprs: &[Expr], list: &str, line: usize) -> Result<Vec<Node>, MatcherError> {
    exprs.iter().map(|e| c.node(e, list, line)).collect()
}

/// One literal found in one field; offsets into the original field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Occurrence {
    literal: u32,
    field: Field,
    start: usize,
    end: usize,
}

/// A document being matched: its fields, their views, and the literals found.
struct Doc<'m, 'a> {
    matcher: &'m Matcher,
    fields: &'a Fields<'a>,
    /// Title and text.
    views: [(Field, View<'a>); 2],
    /// Only when some rule looks at the author.
    author: Option<View<'a>>,
    /// Sorted by literal, then field and position.
    occurrences: Vec<Occurrence>,
}

impl<'m, 'a> Doc<'m, 'a> {
    fn new(matcher: &'m Matcher, fields: &'a Fields<'a>) -> Self {
        let views = [
            (Field::Title, View::of(fields.title, matcher.folding)),
            (Field::Text, View::of(fields.text, matcher.folding)),
        ];
        let author =
            (matcher.search_author && !fields.author.is_empty()).then(|| View::of(fields.author, matcher.folding));
        let mut doc = Doc { matcher, fields, views, author, occurrences: Vec::new() };
        let mut occurrences = Vec::new();
        if let Some(automaton) = &matcher.automaton {
            for (field, view) in doc.views() {
                for m in automaton.find_overlapping_iter(view.text()) {
                    let (start, end) = view.original(m.start(), m.end());
                    occurrences.push(Occurrence { literal: m.value(), field, start, end });
                }
            }
        }
        occurrences.sort_unstable();
        doc.occurrences = occurrences;
        doc
    }

    fn views(&self) -> impl Iterator<Item = (Field, &View<'a>)> {
        self.views.iter().map(|(f, v)| (*f, v)).chain(self.author.iter().map(|v| (Field::Author, v)))
    }

    fn of_literal(&self, lit: u32) -> &[Occurrence] {
        let from = self.occurrences.partition_point(|o| o.literal < lit);
        let to = self.occurrences.partition_point(|o| o.literal <= lit);
        &self.occurrences[from..to]
    }

    fn field_text(&self, field: Field) -> &'a str {
        match field {
            Field::Title => self.fields.title,
            Field::Text => self.fields.text,
            Field::Author => self.fields.author,
        }
    }

    /// Spans of a target in the fields its scope allows, with the term to report.
    fn spans(&self, target: &Target, scope: Scope, out: &mut Vec<Span<'m>>) {
        match target {
            Target::Literals(ids) => ids.iter().for_each(|&id| self.literal_hits(id, scope, out)),
            Target::Regex(id) => {
                let re = &self.matcher.regexes[*id as usize];
                let term = self.matcher.regex_terms[*id as usize].as_str();
                for (field, view) in self.views() {
                    if in_scope(field, scope) {
                        for m in re.find_iter(view.text()).filter(|m| !m.is_empty()) {
                            let (start, end) = view.original(m.start(), m.end());
                            out.push((field, start, end, term));
                        }
                    }
                }
            }
            Target::SourceIs(_) | Target::SourceRegex(_) => {}
        }
    }

    fn literal_hits(&self, lit: u32, scope: Scope, out: &mut Vec<Span<'m>>) {
        let term = self.matcher.literals[lit as usize].as_str();
        for o in self.of_literal(lit).iter().filter(|o| in_scope(o.field, scope)) {
            out.push((o.field, o.start, o.end, term));
        }
    }

    fn target_holds(&self, target: &Target, scope: Scope) -> bool {
        match target {
            Target::Literals(ids) => ids.iter().any(|&id| self.of_literal(id).iter().any(|o| in_scope(o.field, scope))),
            Target::Regex(id) => {
                let re = &self.matcher.regexes[*id as usize];
                self.views().any(|(f, v)| in_scope(f, scope) && re.is_match(v.text()))
            }
            Target::SourceIs(words) => words.iter().any(|w| w.eq_ignore_ascii_case(self.fields.source)),
            Target::SourceRegex(id) => self.matcher.regexes[*id as usize].is_match(self.fields.source),
        }
    }

    /// The pairs of spans of `near` that lie within its distance, or none.
    fn near_spans(&self, targets: &(Target, Target), scopes: (Scope, Scope), within: usize) -> Vec<Span<'m>> {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        self.spans(&targets.0, scopes.0, &mut a);
        self.spans(&targets.1, scopes.1, &mut b);
        let mut out = Vec::new();
        for x in &a {
            for y in b.iter().filter(|y| y.0 == x.0) {
                let (gap_from, gap_to) = if x.1 <= y.1 { (x.2, y.1) } else { (y.2, x.1) };
                let gap = if gap_to > gap_from { self.field_text(x.0)[gap_from..gap_to].chars().count() } else { 0 };
                if gap <= within {
                    out.push(*x);
                    out.push(*y);
                }
            }
        }
        out
    }

    fn eval(&self, node: &Node) -> bool {
        match node {
            Node::Leaf(t, scope) => self.target_holds(t, *scope),
            Node::Near(ts, sa, sb, n) => {
                self.target_holds(&ts.0, *sa)
                    && self.target_holds(&ts.1, *sb)
                    && !self.near_spans(ts, (*sa, *sb), *n).is_empty()
            }
            Node::Not(n) => !self.eval(n),
            Node::All(ns) => ns.iter().all(|n| self.eval(n)),
            Node::Any(ns) => ns.iter().any(|n| self.eval(n)),
        }
    }

    /// The spans behind a node that holds, from its positive parts only.
    fn collect(&self, node: &Node, out: &mut Vec<Span<'m>>) {
        match node {
            Node::Leaf(t, scope) => self.spans(t, *scope, out),
            Node::Near(ts, sa, sb, n) => out.extend(self.near_spans(ts, (*sa, *sb), *n)),
            Node::Not(_) => {}
            Node::All(ns) => ns.iter().for_each(|n| self.collect(n, out)),
            Node::Any(ns) => ns.iter().filter(|n| self.eval(n)).for_each(|n| self.collect(n, out)),
        }
    }
}

fn in_scope(field: Field, scope: Scope) -> bool {
    match scope {
        Scope::Body => matches!(field, Field::Title | Field::Text),
        Scope::Title => field == Field::Title,
        Scope::Text => field == Field::Text,
        Scope::Author => field == Field::Author,
        Scope::Source => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(name: &str, terms: &[&str]) -> KeywordList {
        KeywordList::from_terms(name, terms)
    }

    #[test]
    fn nested_terms_are_all_reported_with_positions() {
        let m = Matcher::new(&[list("stability", &["群体性事件", "事件"])]).expect("builds");
        let hits = m.find(&Fields::body("", "发生群体性事件"));
        let found: Vec<(&str, usize, usize)> = hits.iter().map(|h| (h.term.as_str(), h.start, h.end)).collect();
        assert_eq!(found, vec![("群体性事件", 6, 21), ("事件", 15, 21)]);
    }

    #[test]
    fn a_term_in_two_lists_is_a_hit_for_each() {
        let m = Matcher::new(&[list("a", &["抚恤金"]), list("b", &["抚恤金", "烈士"])]).expect("builds");
        let hits = m.find(&Fields::body("抚恤金", ""));
        assert_eq!(hits.iter().map(|h| h.list.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(hits[0].field, Field::Title);
        assert_eq!(m.term_count(), 2);
    }

    #[test]
    fn separators_inside_chinese_words_do_not_hide_terms() {
        let m = Matcher::new(&[list("rights", &["拆迁", "上访"])]).expect("builds");
        for text in
            ["强制拆-迁", "强制拆 迁", "强制拆*迁", "强制拆＊迁", "强制拆 - 迁", "强制拆·迁", "强制拆_迁", "强制拆/迁"]
        {
            let hits = m.find(&Fields::body("", text));
            assert_eq!(hits.len(), 1, "{text}");
            let h = &hits[0];
            assert_eq!(
                &text[h.start..h.end].chars().filter(|c| *c == '拆' || *c == '迁').collect::<String>(),
                "拆迁",
                "{text}"
            );
            assert!(text[h.start..h.end].starts_with('拆') && text[h.start..h.end].ends_with('迁'), "{text}");
        }
        // Sentence punctuation is a real boundary; Latin text is left alone.
        assert!(m.find(&Fields::body("", "要拆，迁走")).is_empty());
        let latin = Matcher::new(&[list("x", &["ab"])]).expect("builds");
        assert!(latin.find(&Fields::body("", "a-b a b")).is_empty());
        // Hits after a removed separator still point at the right place.
        let hits = m.find(&Fields::body("", "拆-迁后又上访"));
        let spans: Vec<&str> = hits.iter().map(|h| &"拆-迁后又上访"[h.start..h.end]).collect();
        assert_eq!(spans, vec!["拆-迁", "上访"]);
    }

    #[test]
    fn latin_terms_ignore_ascii_case() {
        let m = Matcher::new(&[list("a", &["wechat"])]).expect("builds");
        assert_eq!(m.find(&Fields::body("WeChat 公众号", "")).len(), 1);
    }

    #[test]
    fn no_terms_no_hits() {
        let m = Matcher::new(&[list("a", &["烈士陵园"])]).expect("builds");
        assert!(m.find(&Fields::body("标题", "正文没有关键词")).is_empty());
    }

    /// Runs `lines` as one list over (title, text, author, source) and returns the
    /// matched terms, or `None` when the list did not match.
    fn run(lines: &[&str], title: &str, text: &str, author: &str, source: &str) -> Option<Vec<String>> {
        let m = Matcher::new(&[KeywordList::from_rules("l", lines)]).expect("builds");
        let hits = m.find(&Fields { title, text, author, source });
        if hits.is_empty() {
            return None;
        }
        let mut terms: Vec<String> = hits.into_iter().map(|h| h.term).collect();
        terms.dedup();
        Some(terms)
    }

    #[test]
    fn rules_match_as_documented() {
        // (rule lines, title, text, author, source, expected terms or None)
        type Case<'a> = (&'a [&'a str], &'a str, &'a str, &'a str, &'a str, Option<&'a [&'a str]>);
        let cases: &[Case<'_>] = &[
            // Group: plain words are alternatives, +word required, !word vetoes the line.
            (&["拆迁 +陵园 !演习"], "", "烈士陵园要拆迁", "", "", Some(&["陵园", "拆迁"])),
            (&["拆迁 +陵园 !演习"], "", "拆迁工作推进", "", "", None),
            (&["拆迁 +陵园 !演习"], "陵园演习", "烈士陵园要拆迁", "", "", None),
            (&["拆迁 搬迁"], "", "整体搬迁", "", "", Some(&["搬迁"])),
            // Boolean operators.
            (&["(拆迁 OR 搬迁) AND 陵园 NOT 规划"], "", "陵园搬迁", "", "", Some(&["陵园", "搬迁"])),
            (&["(拆迁 OR 搬迁) AND 陵园 NOT 规划"], "", "陵园搬迁规划公示", "", "", None),
            // Exclusion wins even inside one branch of an OR.
            (&["(拆迁 !演习) OR 强拆"], "", "强拆演习", "", "", None),
            // Proximity in characters, in the same field.
            (&["拖欠 NEAR/3 抚恤金"], "", "拖欠了三个月抚恤金", "", "", None),
            (&["拖欠 NEAR/4 抚恤金"], "", "拖欠了三个月抚恤金", "", "", Some(&["拖欠", "抚恤金"])),
            (&["拖欠 NEAR/5 抚恤金"], "", "拖欠了三个月抚恤金", "", "", Some(&["拖欠", "抚恤金"])),
            (&["拖欠 NEAR/5 抚恤金"], "拖欠", "抚恤金", "", "", None),
            (&["抚恤金 NEAR/2 拖欠"], "", "抚恤金被拖欠", "", "", Some(&["抚恤金", "拖欠"])),
            // Field scopes.
            (&["title:停发"], "", "抚恤金停发", "", "", None),
            (&["title:停发"], "抚恤金停发", "", "", "", Some(&["停发"])),
            (&["author:退役老兵 AND 抚恤金"], "", "抚恤金", "某退役老兵", "", Some(&["抚恤金", "退役老兵"])),
            (&["author:退役老兵 AND 抚恤金"], "", "退役老兵说抚恤金", "", "", None),
            (&["source:weibo AND 抚恤金"], "", "抚恤金", "", "weibo", Some(&["抚恤金"])),
            (&["source:weibo AND 抚恤金"], "", "抚恤金", "", "bureau", None),
            // Regex, matched on the normalised, folded text.
            (&["/抚恤金.{0,4}停发/"], "", "抚恤金下月停发", "", "", Some(&["/抚恤金.{0,4}停发/"])),
            (&["/抚恤金.{0,4}停发/"], "", "抚恤金将于明年一月停发", "", "", None),
            // A line of exclusions vetoes the whole list.
            (&["拆迁", "陵园", "!演练"], "", "陵园拆迁", "", "", Some(&["陵园", "拆迁"])),
            (&["拆迁", "陵园", "!演练"], "消防演练", "陵园拆迁", "", "", None),
            // Traditional characters and separators do not hide a term.
            (&["烈士陵园 AND 拆迁"], "", "烈士陵園要拆-遷", "", "", Some(&["烈士陵园", "拆迁"])),
            // A phrase with a space matches the words run together, and split.
            (&["\"烈士 陵园\""], "", "烈士陵园", "", "", Some(&["烈士 陵园"])),
        ];
        for (lines, title, text, author, source, want) in cases {
            let got = run(lines, title, text, author, source);
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{lines:?} on {title:?}/{text:?}/{author:?}/{source:?}");
        }
    }

    #[test]
    fn aliases_resolved_by_config_match_any_member() {
        let mut list = KeywordList::from_rules("l", &["{本局} AND 不作为"]);
        for leaf in list.rules[0].leaves_mut() {
            if let Pattern::Alias(a) = &leaf.pattern {
                leaf.pattern = Pattern::Terms {
                    alias: a.clone(),
                    terms: vec!["退役军人事务局".into(), "退役军人局".into()],
                };
            }
        }
        let m = Matcher::new(&[list]).expect("builds");
        let hits = m.find(&Fields::body("", "市退役军人局不作为"));
        assert_eq!(hits.iter().map(|h| h.term.as_str()).collect::<Vec<_>>(), vec!["退役军人局", "不作为"]);
        // An unresolved alias is a build error, not a silent miss.
        assert!(Matcher::new(&[KeywordList::from_rules("l", &["{本局}"])]).is_err());
    }

    #[test]
    fn lists_without_literals_still_build() {
        assert!(Matcher::new(&[]).expect("builds").find(&Fields::body("标题", "正文")).is_empty());
        let m = Matcher::new(&[KeywordList::from_rules("l", &["/抚恤金.{0,2}停发/"])]).expect("builds");
        assert_eq!(m.find(&Fields::body("", "抚恤金将停发")).len(), 1);
    }

    #[test]
    fn folding_can_be_turned_off() {
        let m = Matcher::with_folding(&[KeywordList::from_terms("l", &["拆迁"])], false).expect("builds");
        assert!(m.find(&Fields::body("", "拆遷")).is_empty());
        assert_eq!(m.find(&Fields::body("", "拆迁")).len(), 1);
    }
}
