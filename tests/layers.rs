//! Dependencies one way (ARCHITECTURE.md): the engines — pure functions of their input,
//! given the configuration — never reach for the store, the network, the outbox, the
//! daemon or the CLI. A `crate::store` (or `fetch`, `channel`, `notify`, `pipeline`,
//! `delivery`, `daemon`, `web`, `metrics`, `cli`) path in an engine's source fails here.

use std::path::Path;

/// The engine modules: files, or folders whose every file is part of the engine.
const ENGINES: &[&str] = &[
    "detect",
    "time",
    "model.rs",
    "util",
    "matcher",
    "rules",
    "response/org.rs",
    "response/grade.rs",
    "response/route.rs",
    "response/deadline.rs",
    "extract",
    "rumour",
];

const ADAPTERS_AND_EDGES: &[&str] =
    &["store", "fetch", "channel", "notify", "pipeline", "delivery", "daemon", "web", "metrics", "cli"];

fn files(path: &Path) -> Vec<std::path::PathBuf> {
    if path.is_dir() {
        let mut out: Vec<_> = std::fs::read_dir(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .flat_map(|p| files(&p))
            .collect();
        out.sort();
        out
    } else {
        vec![path.to_path_buf()]
    }
}

#[test]
fn engines_import_no_adapter_and_no_edge() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut breaches = Vec::new();
    for engine in ENGINES {
        for file in files(&src.join(engine)) {
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            for (n, line) in text.lines().enumerate() {
                for module in ADAPTERS_AND_EDGES {
                    let path = format!("crate::{module}");
                    let at = line.find(&path);
                    // `crate::store` but not `crate::storefront`.
                    let whole = at.is_some_and(|i| {
                        line[i + path.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric() && c != '_')
                    });
                    if whole {
                        breaches.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(breaches.is_empty(), "an engine imports an adapter or an edge:\n{}", breaches.join("\n"));
}
