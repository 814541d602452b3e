//! Dependencies one way (ARCHITECTURE.md, issue 17). Every module of `src/` sits in a layer;
//! a file may import (`crate::…`, `super::…`) only its own layer or the layers below, the
//! adapters never import each other, and no two files or top-level modules import each other
//! round a circle. A module missing from [`LAYERS`] fails too, so a new folder gets a place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom to top. The engines (layer 1) are pure: they never reach the store, the network,
/// the configuration, the outbox, the daemon or the CLI.
const LAYERS: &[(&str, &[&str])] = &[
    ("plain data and helpers", &["model", "util"]),
    ("engines", &["time", "rules", "extract", "matcher", "detect", "rumour", "response"]),
    ("adapters", &["fetch", "store", "notify", "channel"]),
    ("configuration", &["config"]),
    ("stages", &["pipeline", "deliver", "report", "workflow"]),
    ("runtime", &["daemon"]),
    ("edge", &["cli"]),
    ("crate root", &["lib", "main"]),
];
const ADAPTERS: usize = 2;

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, modules)| modules.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// `config/org.rs` → `["config", "org"]`; `config/mod.rs` → `["config"]`; `lib.rs` → `[]`.
fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel.trim_end_matches(".rs").split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    parts
}

/// The code that ships: comments and the `#[cfg(test)]` part removed.
fn shipped_code(text: &str) -> String {
    let text = text.find("#[cfg(test)]").map_or(text, |i| &text[..i]);
    text.lines().map(|l| l.find("//").map_or(l, |i| &l[..i])).collect::<Vec<_>>().join("\n")
}

/// Every path after `crate::` or `super::`, with `{a, b::c}` groups expanded.
fn import_paths(code: &str) -> Vec<(bool, Vec<String>)> {
    fn ident(s: &[u8], mut i: usize) -> (usize, String) {
        let start = i;
        while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_') {
            i += 1;
        }
        (i, String::from_utf8_lossy(&s[start..i]).into_owned())
    }
    fn skip_space(s: &[u8], mut i: usize) -> usize {
        while i < s.len() && (s[i].is_ascii_whitespace() || s[i] == b',') {
            i += 1;
        }
        i
    }
    fn parse(
        s: &[u8],
        mut i: usize,
        mut segs: Vec<String>,
        is_super: bool,
        out: &mut Vec<(bool, Vec<String>)>,
    ) -> usize {
        loop {
            if i < s.len() && s[i] == b'{' {
                i += 1;
                loop {
                    i = skip_space(s, i);
                    if i >= s.len() || s[i] == b'}' {
                        return i + 1;
                    }
                    i = parse(s, i, segs.clone(), is_super, out);
                }
            }
            let (j, name) = ident(s, i);
            if name.is_empty() {
                out.push((is_super, segs));
                return j.max(i + 1);
            }
            segs.push(name);
            i = j;
            if s[i..].starts_with(b"::") {
                i += 2;
            } else {
                out.push((is_super, segs));
                return i;
            }
        }
    }
    let s = code.as_bytes();
    let mut out = Vec::new();
    for (prefix, is_super) in [("crate::", false), ("super::", true)] {
        let mut from = 0;
        while let Some(at) = code[from..].find(prefix) {
            let i = from + at;
            let boundary = i == 0 || !(s[i - 1].is_ascii_alphanumeric() || s[i - 1] == b'_' || s[i - 1] == b':');
            from = i + prefix.len();
            if boundary {
                parse(s, from, Vec::new(), is_super, &mut out);
            }
        }
    }
    out
}

struct Graph {
    /// File (relative to `src/`) → the files it imports.
    edges: BTreeMap<String, BTreeSet<String>>,
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let rel: Vec<String> =
        files.iter().map(|f| f.strip_prefix(&src).unwrap_or(f).to_string_lossy().replace('\\', "/")).collect();
    let by_module: BTreeMap<Vec<String>, String> = rel.iter().map(|r| (module_path(r), r.clone())).collect();
    let resolve = |segs: &[String]| (1..=segs.len()).rev().find_map(|k| by_module.get(&segs[..k]).cloned());
    let mut edges = BTreeMap::new();
    for (file, rel) in files.iter().zip(&rel) {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let here = module_path(rel);
        let mut targets = BTreeSet::new();
        for (is_super, segs) in import_paths(&shipped_code(&text)) {
            let full = if is_super { [&here[..here.len().saturating_sub(1)], &segs[..]].concat() } else { segs };
            if let Some(target) = resolve(&full).filter(|t| t != rel) {
                targets.insert(target);
            }
        }
        edges.insert(rel.clone(), targets);
    }
    Graph { edges }
}

fn top(file: &str) -> &str {
    file.split('/').next().unwrap_or(file).trim_end_matches(".rs")
}

/// A folder's `mod.rs` and the files inside the folder import each other by design
/// (re-exports down, `super::` up); every other pair is checked.
fn parent_and_child(a: &str, b: &str) -> bool {
    let inside = |m: &str, f: &str| m.strip_suffix("mod.rs").is_some_and(|dir| f.starts_with(dir));
    inside(a, b) || inside(b, a)
}

/// The strongly connected components with more than one node (Tarjan).
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        let edges = t.edges;
        for w in edges.get(v).into_iter().flatten() {
            if !t.index.contains_key(w.as_str()) {
                visit(t, w);
                let lw = t.low[w.as_str()];
                let lv = t.low[v];
                t.low.insert(v, lv.min(lw));
            } else if t.stack.contains(&w.as_str()) {
                let iw = t.index[w.as_str()];
                let lv = t.low[v];
                t.low.insert(v, lv.min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let mut component = Vec::new();
            while let Some(w) = t.stack.pop() {
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                t.out.push(component);
            }
        }
    }
    let mut t = T { edges, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), out: Vec::new() };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn every_module_has_a_layer() {
    let g = graph();
    let missing: BTreeSet<&str> = g.edges.keys().map(|f| top(f)).filter(|m| layer_of(m).is_none()).collect();
    assert!(missing.is_empty(), "modules without a layer in tests/layers.rs (and ARCHITECTURE.md): {missing:?}");
}

#[test]
fn imports_point_down_the_layers_and_adapters_never_import_each_other() {
    let g = graph();
    let mut breaches = Vec::new();
    for (file, targets) in &g.edges {
        let (Some(from), m) = (layer_of(top(file)), top(file)) else { continue };
        for target in targets {
            let (Some(to), t) = (layer_of(top(target)), top(target)) else { continue };
            if m == t {
                continue;
            }
            if to > from {
                breaches.push(format!("{file} ({}) imports {target} ({})", LAYERS[from].0, LAYERS[to].0));
            } else if from == ADAPTERS && to == ADAPTERS {
                breaches.push(format!("{file} imports {target}: adapters meet only in the stages above them"));
            }
        }
    }
    assert!(breaches.is_empty(), "imports against the layers:\n{}", breaches.join("\n"));
}

#[test]
fn no_import_circles_between_files_or_modules() {
    let g = graph();
    let files: BTreeMap<String, BTreeSet<String>> = g
        .edges
        .iter()
        .map(|(f, ts)| (f.clone(), ts.iter().filter(|t| !parent_and_child(f, t)).cloned().collect()))
        .collect();
    let mut modules: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (f, ts) in &g.edges {
        let set = modules.entry(top(f).to_string()).or_default();
        set.extend(ts.iter().map(|t| top(t).to_string()).filter(|t| t != top(f)));
    }
    let found: Vec<_> = circles(&files).into_iter().chain(circles(&modules)).collect();
    assert!(found.is_empty(), "import circles: {found:?}");
}

/// The checks above must see imports, or they pass on nothing.
#[test]
fn the_import_reader_finds_grouped_and_relative_paths() {
    let code = "use crate::store::{Store, disk::usage};\nuse super::grade::Grade;\n// use crate::cli::x;\n";
    let paths = import_paths(&shipped_code(code));
    let names: Vec<String> =
        paths.iter().map(|(s, p)| format!("{}{}", if *s { "super::" } else { "" }, p.join("::"))).collect();
    assert_eq!(names, ["store::Store", "store::disk::usage", "super::grade::Grade"]);
    let g = graph();
    assert!(g.edges["pipeline/mod.rs"].contains("store/mod.rs"), "{:?}", g.edges["pipeline/mod.rs"]);
    assert!(g.edges["config/org.rs"].contains("config/toml_doc.rs"));
}
