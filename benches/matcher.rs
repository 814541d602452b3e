//! Criterion benchmark of the keyword match step on real Chinese text: `Matcher::find`
//! (one compiled automaton for all lists, overlapping hits, rule evaluation) with and
//! without traditional → simplified folding, against a `regex` alternation of the same
//! literals and the bare Aho-Corasick automaton.
//!
//! ```sh
//! cargo bench --bench matcher
//! YUQING_BENCH_CORPUS=/path/to/reposts.jsonl.gz cargo bench --bench matcher
//! ```
//!
//! The corpus (gzipped JSONL with a `text` field per line, by default the THUNLP CED
//! Weibo reposts in `../shared/data/`) is third-party data and is not in the repository:
//! without it the benchmark says so and exits successfully. Everything else is
//! deterministic: the sample is the first [`SAMPLE_TEXTS`] non-empty texts, normalised
//! beforehand (normalisation is measured on its own); the 5,000 lines of rules are the
//! shipped `keywords/*.txt` lists, plain terms drawn from the character 2–4-grams of the
//! corpus by document frequency, and a few hundred rules using every operator.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use criterion::{BenchmarkId, Criterion, Throughput};
use regex::{Regex, RegexBuilder};
use yuqing::config::Config;
use yuqing::extract::normalize::normalize_text;
use yuqing::matcher::{Fields, KeywordList, Matcher};
use yuqing::rules::Pattern;

/// Texts matched per iteration.
const SAMPLE_TEXTS: usize = 50_000;
/// Texts whose n-grams are counted to draw terms from (the sample and those after it).
const TERM_SOURCE_TEXTS: usize = 150_000;
/// Lines of rules in all lists together: shipped, drawn terms and generated rules.
const TOTAL_RULES: usize = 5_000;
/// Generated rules with operators (the rest of the drawn lines are plain terms).
const OPERATOR_RULES: usize = 300;
/// Lists the generated lines are spread over.
const GENERATED_LISTS: usize = 8;

fn corpus_path() -> PathBuf {
    match std::env::var_os("YUQING_BENCH_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/rumour_ced_thunlp/ced_reposts.jsonl.gz"),
    }
}

#[derive(serde::Deserialize)]
struct Line {
    #[serde(default)]
    text: Option<String>,
}

/// The first `n` non-empty texts of the corpus, as written.
fn read_texts(path: &Path, n: usize) -> std::io::Result<Vec<String>> {
    let reader = BufReader::new(flate2::read::GzDecoder::new(File::open(path)?));
    let mut texts = Vec::with_capacity(n);
    for line in reader.lines() {
        let line = line?;
        let Ok(Line { text: Some(text) }) = serde_json::from_str::<Line>(&line) else { continue };
        if !text.trim().is_empty() {
            texts.push(text);
            if texts.len() == n {
                break;
            }
        }
    }
    Ok(texts)
}

fn is_han(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c)
}

/// Han-only n-grams of length 2, 3 and 4 ranked by document frequency (most frequent
/// first, ties by text), one list per length.
fn ranked_ngrams(texts: &[String]) -> [Vec<String>; 3] {
    let mut df: [HashMap<String, u32>; 3] = Default::default();
    let mut seen = HashSet::new();
    for text in texts {
        let chars: Vec<char> = text.chars().collect();
        seen.clear();
        for n in 2..=4 {
            for w in chars.windows(n).filter(|w| w.iter().all(|&c| is_han(c))) {
                let s: String = w.iter().collect();
                if seen.insert(s.clone()) {
                    *df[n - 2].entry(s).or_default() += 1;
                }
            }
        }
    }
    df.map(|counts| {
        let mut v: Vec<(String, u32)> = counts.into_iter().filter(|&(_, c)| c >= 3).collect();
        v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.into_iter().map(|(s, _)| s).collect()
    })
}

/// `want` items from `ranked[skip..]` at an even stride (all of them when there are fewer).
fn spread(ranked: &[String], skip: usize, want: usize) -> Vec<String> {
    let pool = &ranked[skip.min(ranked.len())..];
    let stride = (pool.len() / want.max(1)).max(1);
    pool.iter().step_by(stride).take(want).cloned().collect()
}

/// The rule lists: shipped ones plus generated ones, [`TOTAL_RULES`] lines in all.
fn build_lists(term_texts: &[String]) -> Vec<KeywordList> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = Config::load(root);
    let mut lists = loaded.config.map(|c| c.keyword_lists).unwrap_or_default();
    assert!(!lists.is_empty(), "the shipped configuration did not load: {:?}", loaded.diagnostics);
    let shipped: usize = lists.iter().map(|l| l.rules.len()).sum();

    let [two, three, four] = ranked_ngrams(term_texts);
    // The most frequent words are function words ("我们", "什么"); monitoring terms are
    // rarer. `common` pairs with a term in operator rules so that some of them fire.
    let common: Vec<String> = two.iter().take(200).cloned().collect();
    let plain = TOTAL_RULES - shipped - OPERATOR_RULES;
    let mut terms = spread(&two, 400, plain * 2 / 10);
    terms.extend(spread(&three, 200, plain * 4 / 10));
    terms.extend(spread(&four, 100, plain - terms.len()));
    // Top up from the 3-grams left out (fewer of some length than asked for).
    let seen: HashSet<String> = terms.iter().cloned().collect();
    let missing = plain.saturating_sub(terms.len());
    terms.extend(three[200..].iter().filter(|t| !seen.contains(*t)).take(missing).cloned());

    let mut lines: Vec<String> = terms.clone();
    let t = |i: usize| terms[(i * 7919) % terms.len()].as_str();
    let k = |i: usize| common[(i * 31) % common.len()].as_str();
    for i in 0..OPERATOR_RULES {
        lines.push(match i % 10 {
            0 => format!("{} +{}", t(i), k(i)),
            1 => format!("{} {} !{}", t(i), t(i + 1), k(i)),
            2 => format!("({} OR {}) AND {}", t(i), t(i + 1), k(i)),
            3 => format!("({} OR {}) AND {} NOT {}", t(i), k(i), k(i + 1), t(i + 2)),
            4 => format!("{} NEAR/10 {}", t(i), k(i)),
            5 => format!("{} NEAR/3 {}", k(i), k(i + 1)),
            6 => format!("title:{} OR text:{}", t(i), t(i + 1)),
            7 => format!("text:{} AND NOT {}", k(i), t(i)),
            8 if i % 60 == 8 => format!("/{}.{{0,8}}{}/", k(i), k(i + 3)),
            _ => format!("{} +{} !{}", k(i), t(i), t(i + 1)),
        });
    }
    let per_list = lines.len().div_ceil(GENERATED_LISTS);
    for (n, chunk) in lines.chunks(per_list).enumerate() {
        let mut chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
        // A line of exclusions for the whole list.
        let veto = format!("!{}", common[(n * 13 + 7) % common.len()]);
        chunk.push(&veto);
        lists.push(KeywordList::from_rules(&format!("bench_{n:02}"), &chunk));
    }
    lists
}

/// Every literal of every rule, normalised, deduplicated, in first-seen order.
fn literals(lists: &[KeywordList]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for list in lists {
        for rule in &list.rules {
            for leaf in rule.clone().leaves_mut() {
                let words = match &leaf.pattern {
                    Pattern::Literal(t) => vec![t.clone()],
                    Pattern::Terms { terms, .. } => terms.clone(),
                    _ => continue,
                };
                for w in words {
                    let w = normalize_text(&w);
                    if seen.insert(w.clone()) {
                        out.push(w);
                    }
                }
            }
        }
    }
    out
}

fn automaton(literals: &[String], kind: AhoCorasickKind) -> AhoCorasick {
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::Standard)
        .ascii_case_insensitive(true)
        .kind(Some(kind))
        .build(literals)
        .expect("automaton")
}

fn main() {
    let path = corpus_path();
    if !path.exists() {
        eprintln!(
            "matcher benchmark skipped: corpus {} not found (set YUQING_BENCH_CORPUS to a gzipped JSONL file \
             with a \"text\" field per line)",
            path.display()
        );
        return;
    }
    let raw = read_texts(&path, TERM_SOURCE_TEXTS).expect("read the corpus");
    let lists = build_lists(&raw);
    let raw_sample = &raw[..SAMPLE_TEXTS.min(raw.len())];
    let sample: Vec<String> = raw_sample.iter().map(|t| normalize_text(t)).collect();
    let bytes: usize = sample.iter().map(String::len).sum();
    let raw_bytes: usize = raw_sample.iter().map(String::len).sum();

    let folded = Matcher::with_folding(&lists, true).expect("matcher");
    let plain = Matcher::with_folding(&lists, false).expect("matcher");
    let lits = literals(&lists);
    let alternation = lits.iter().map(|l| regex::escape(l)).collect::<Vec<_>>().join("|");
    let regex: Regex =
        RegexBuilder::new(&alternation).size_limit(1 << 30).dfa_size_limit(1 << 30).build().expect("regex");
    let nfa = automaton(&lits, AhoCorasickKind::ContiguousNFA);
    let dfa = automaton(&lits, AhoCorasickKind::DFA);

    let find_all = |m: &Matcher| sample.iter().map(|t| m.find(&Fields::body("", t)).len()).sum::<usize>();
    let with_hits = sample.iter().filter(|t| !folded.find(&Fields::body("", t)).is_empty()).count();
    let rules: usize = lists.iter().map(|l| l.rules.len()).sum();
    eprintln!(
        "sample: {} texts, {:.2} MB normalised ({:.2} MB as written); {} lists, {} rule lines, {} distinct literals",
        sample.len(),
        bytes as f64 / 1e6,
        raw_bytes as f64 / 1e6,
        lists.len(),
        rules,
        folded.term_count(),
    );
    eprintln!(
        "hits: {} with folding, {} without, texts with a hit {} ({:.1} %); regex alternation finds {}, \
         the automaton {} overlapping",
        find_all(&folded),
        find_all(&plain),
        with_hits,
        100.0 * with_hits as f64 / sample.len() as f64,
        sample.iter().map(|t| regex.find_iter(t).count()).sum::<usize>(),
        sample.iter().map(|t| nfa.find_overlapping_iter(t.as_str()).count()).sum::<usize>(),
    );
    eprintln!(
        "automaton heap: contiguous NFA {:.1} MB, DFA {:.1} MB",
        nfa.memory_usage() as f64 / 1e6,
        dfa.memory_usage() as f64 / 1e6
    );

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    let mut g = c.benchmark_group("match");
    g.throughput(Throughput::Bytes(bytes as u64));
    for (name, m) in [("fold", &folded), ("no_fold", &plain)] {
        g.bench_function(BenchmarkId::new("matcher", name), |b| b.iter(|| black_box(find_all(m))));
    }
    g.bench_function("regex_alternation", |b| {
        b.iter(|| black_box(sample.iter().map(|t| regex.find_iter(t).count()).sum::<usize>()))
    });
    for (name, ac) in [("contiguous_nfa", &nfa), ("dfa", &dfa)] {
        g.bench_function(BenchmarkId::new("aho_corasick_overlapping", name), |b| {
            b.iter(|| black_box(sample.iter().map(|t| ac.find_overlapping_iter(t.as_str()).count()).sum::<usize>()))
        });
    }
    let charwise = daachorse::CharwiseDoubleArrayAhoCorasick::<u32>::new(&lits).expect("daachorse builds");
    g.bench_function("daachorse_charwise_overlapping", |b| {
        b.iter(|| black_box(sample.iter().map(|t| charwise.find_overlapping_iter(t.as_str()).count()).sum::<usize>()))
    });
    g.finish();

    let mut g = c.benchmark_group("normalize");
    g.throughput(Throughput::Bytes(raw_bytes as u64));
    g.bench_function("normalize_text", |b| {
        b.iter(|| black_box(raw_sample.iter().map(|t| normalize_text(t).len()).sum::<usize>()))
    });
    g.finish();
    c.final_summary();
}
