//! Export-folder sources (`weibo_export`, `wechat_export`): every stable file not seen
//! before (by content hash) is read, its new posts matched and alerted, its counts added to
//! each post's engagement time series, its comments kept — one transaction per file, so a
//! crash never leaves a file half-imported and a re-exported file adds no duplicates.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::Utc;
use sha2::{Digest, Sha256};

use super::{Job, PipelineError, RunOutcome};
use crate::config::{Location, SourceConfig};
use crate::extract::export::{ExportFile, RowError, parse_export};
use crate::extract::{self, ExtractError};
use crate::model::{AlertMessage, Document, Flag, FlagKind, MatchedDocument};
use crate::store::{Committed, ExportBatch};

const EXTENSIONS: &[&str] = &["csv", "json", "jsonl", "ndjson"];

/// The export files of a source's folder that are settled (unchanged for `settle`), oldest
/// first. Files still being written are left for a later run.
pub(super) fn settled_files(source: &SourceConfig) -> Result<Vec<PathBuf>, PipelineError> {
    Ok(export_files(source)?.settled)
}

/// Export files still being written, with the time each settles.
pub(super) type Waiting = Vec<(PathBuf, SystemTime)>;

/// An export folder's files: those settled (not modified for `settle_secs`), oldest first,
/// and those still being written with the time they settle.
pub(super) struct ExportFiles {
    pub settled: Vec<PathBuf>,
    pub waiting: Waiting,
}

pub(super) fn export_files(source: &SourceConfig) -> Result<ExportFiles, PipelineError> {
    let Location::File(dir) = &source.location else {
        return Err(PipelineError::Task("export sources read a local folder".into()));
    };
    let io = |e: std::io::Error| {
        PipelineError::Fetch(crate::fetch::FetchError::File { path: dir.display().to_string(), message: e.to_string() })
    };
    let now = SystemTime::now();
    let mut files: Vec<(SystemTime, PathBuf)> = Vec::new();
    let mut waiting = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let ext_ok = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if !ext_ok || !meta.is_file() {
            continue;
        }
        let modified = meta.modified().unwrap_or(now);
        if now.duration_since(modified).unwrap_or(Duration::ZERO) >= source.settle {
            files.push((modified, path));
        } else {
            tracing::debug!(file = %path.display(), "export file still changing; left for a later run");
            waiting.push((path, modified + source.settle));
        }
    }
    files.sort();
    waiting.sort_by_key(|(_, at)| *at);
    Ok(ExportFiles { settled: files.into_iter().map(|(_, p)| p).collect(), waiting })
}

fn read_file(path: &Path) -> Result<(Vec<u8>, String), PipelineError> {
    let bytes = std::fs::read(path).map_err(|e| {
        PipelineError::Fetch(crate::fetch::FetchError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    })?;
    let sha: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    Ok((bytes, sha))
}

fn parse(path: &Path, bytes: &[u8], job_tz: chrono_tz::Tz) -> Result<ExportFile, ExtractError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    parse_export(&name, bytes, job_tz, Utc::now())
}

impl Job {
    /// Imports every settled, unseen file of the folder. Unreadable files and bad rows are
    /// reported in the outcome and the log; the rest is imported.
    pub(super) fn import_exports(&self) -> Result<RunOutcome, PipelineError> {
        let mut outcome = RunOutcome::default();
        for path in settled_files(&self.source)? {
            let (bytes, sha) = read_file(&path)?;
            self.metrics.add_bytes(&self.source.id, bytes.len());
            self.import_bytes(&path, &bytes, &sha, &mut outcome)?;
        }
        Ok(outcome)
    }

    /// Imports one downloaded export file (a source whose `url` is http/https).
    pub(super) fn import_download(&self, body: &crate::fetch::Body) -> Result<RunOutcome, PipelineError> {
        let mut outcome = RunOutcome::default();
        let url = body.final_url.as_ref().map(ToString::to_string).unwrap_or_default();
        let name = url.rsplit('/').next().unwrap_or_default().split('?').next().unwrap_or_default().to_string();
        let sha: String = Sha256::digest(&body.bytes).iter().map(|b| format!("{b:02x}")).collect();
        self.import_bytes(Path::new(&name), &body.bytes, &sha, &mut outcome)?;
        Ok(outcome)
    }

    /// Imports one file's bytes unless a file with the same content was imported before.
    fn import_bytes(
        &self,
        path: &Path,
        bytes: &[u8],
        sha: &str,
        outcome: &mut RunOutcome,
    ) -> Result<(), PipelineError> {
        if self.lock()?.export_seen(&self.source.id, sha)? {
            return Ok(());
        }
        match parse(path, bytes, self.config.timezone) {
            Ok(file) => self.import_file(path, sha, file, outcome),
            Err(e) => {
                // Not recorded as processed: a fixed file with the same name is read again.
                outcome.problems.push(format!("{}：{e}", path.display()));
                Ok(())
            }
        }
    }

    fn import_file(
        &self,
        path: &Path,
        sha: &str,
        file: ExportFile,
        outcome: &mut RunOutcome,
    ) -> Result<(), PipelineError> {
        for RowError { line, message } in &file.errors {
            tracing::warn!(file = %path.display(), line, error = %message, "export row skipped");
            outcome.problems.push(format!("{}:{line}：{message}", path.display()));
        }
        let counts: Vec<_> = file.posts.iter().map(|p| p.engagement).collect();
        let documents = extract::into_documents(&self.source.id, file.posts.into_iter().map(|p| p.entry).collect());
        let engagement: Vec<(Vec<String>, _)> = documents.iter().map(|d| d.keys.clone()).zip(counts).collect();
        outcome.entries += documents.len();
        let fresh = self.lock()?.unseen(documents)?;
        let now = Utc::now();
        let path_text = path.display().to_string();
        let interactions: std::collections::HashMap<&str, i64> =
            engagement.iter().flat_map(|(keys, e)| keys.iter().map(move |k| (k.as_str(), e.interactions()))).collect();
        let interactions_of =
            |d: &Document| d.keys.iter().find_map(|k| interactions.get(k.as_str()).copied()).unwrap_or(0);
        let by_post = comments_by_post(&self.source.id, &file.comments);
        let comments_of = |d: &Document| {
            let comments = d.keys.iter().find_map(|k| by_post.get(k.as_str())).map_or(&[][..], Vec::as_slice);
            early_comments(d, comments)
        };
        // Posts stored before whose comments this file brings: judged again below, when the
        // model has a reaction part to judge them with.
        let rejudges = self.config.rumour_model.as_ref().is_some_and(|m| m.reaction.is_some());
        let mut commented: Vec<&str> = Vec::new();
        if rejudges && !by_post.is_empty() {
            let fresh_keys: std::collections::HashSet<&str> =
                fresh.iter().flat_map(|d| d.keys.iter().map(String::as_str)).collect();
            commented = by_post.keys().map(String::as_str).filter(|k| !fresh_keys.contains(*k)).collect();
            commented.sort_unstable();
        }
        let done = self.match_and_commit(fresh, (now, None), (interactions_of, comments_of), |store, batch| {
            let export = ExportBatch {
                sha256: sha,
                path: &path_text,
                documents: batch,
                engagement: &engagement,
                comments: &file.comments,
                bad_rows: file.errors.len(),
            };
            store.commit_export(&self.source.id, &export, now)
        })?;
        add(&mut outcome.committed, done.committed);
        outcome.committed.alerts += self.regrade_on_counts(&done.updated_documents, now)?;
        outcome.committed.alerts += self.rejudge_on_comments(&commented, now)?;
        outcome.updated_counts += done.updated_counts;
        outcome.comments += done.comments;
        Ok(())
    }
}

impl Job {
    /// Posts stored before that this file brought comments for (`post_keys`): a rumour model
    /// with a reaction part judges each again on its early comments, all files' together
    /// (MediaCrawler writes comments to their own file, often after the posts'). A post it now
    /// flags, and did not before, gets the 疑似谣言 flag and, when it belongs to an event still
    /// open (within `event_window_hours` of its last copy), an alert about the event (email; SMS/IM too when the grade rises), as a new
    /// copy with the flag would; a muted or closed event only gets the flag, unless it rises
    /// to I or II. A post is flagged once: later comments judge it no more. Returns the
    /// alerts queued.
    fn rejudge_on_comments(&self, post_keys: &[&str], now: chrono::DateTime<Utc>) -> Result<usize, PipelineError> {
        let Some(model) = self.config.rumour_model.as_ref().filter(|m| m.reaction.is_some()) else { return Ok(0) };
        if post_keys.is_empty() {
            return Ok(0);
        }
        let mut store = self.lock()?;
        let mut events = self.events.lock().map_err(|_| PipelineError::Poisoned)?;
        let mut alerts = 0;
        let mut seen: std::collections::HashSet<i64> = std::collections::HashSet::new();
        for key in post_keys {
            let Some(doc_id) = store.document_of_key(key)? else { continue };
            if !seen.insert(doc_id) {
                continue;
            }
            let Some((_, mut m)) = store.stored_document(doc_id)? else { continue };
            if m.flags.iter().any(|f| f.kind == FlagKind::Rumour) {
                continue;
            }
            let early = store.early_comments(doc_id, m.document.published_at, crate::rumour::EARLY_COMMENTS)?;
            let verdict = model.judge_with_comments(&m.document.title, &m.document.text, &early);
            if !verdict.by_reaction {
                continue;
            }
            // The rule of the first judgement (`rumour::settle`), now with the replies: the
            // model's flag, or a 谣言 cue of the post that the reaction model confirms.
            let mut cues: Vec<Flag> = self.flagger.flags(&crate::matcher::Fields::of(&m.document));
            cues.retain(|f| f.kind == FlagKind::Rumour);
            crate::rumour::settle(&mut cues, &verdict);
            let Some(flag) = cues.into_iter().find(|f| f.kind == FlagKind::Rumour) else { continue };
            m.flags.push(flag.clone());
            m.to_verify = None;
            let mut assignment = None;
            let mut queued: Vec<AlertMessage> = Vec::new();
            if let Some(event_id) = store.event_of_document(doc_id)?.filter(|_| !m.hits.is_empty()) {
                if events.needs_rebuild(now) {
                    crate::pipeline::rebuild_events(&store, &mut events, now)?;
                }
                let state = store.event_state(event_id)?.unwrap_or_default();
                let reaction = super::reaction(&store, event_id, 0, store.event_spread(event_id, now)?, now)?;
                let grading = &self.config.response.grading;
                let tier_of = |s: &str| self.tier_of(s);
                if let Some(mut a) =
                    events.regrade_event(event_id, (state.grade, state.downgraded_from), tier_of, reaction, grading)
                {
                    let facts = self.content_facts(&m);
                    events.regrade(&mut a, &facts, tier_of, reaction, grading);
                    let quiet = state.quiet_at(now) && !(a.rose() && a.grade <= crate::response::Grade::II);
                    if !quiet {
                        let decision = self.decide(&m, &facts, a.grade, state.transferred_to.as_deref());
                        let views = self.viewpoint_brief(&store, event_id);
                        queued.extend(self.render(&m, Some((&a, &decision)), views, now));
                        if a.rose() {
                            queued.extend(self.extra_channels(&a, &decision, now));
                        }
                    }
                    assignment = Some(a);
                }
            }
            if let Err(e) = store.record_rejudged(doc_id, &flag, assignment.as_ref(), &queued, now) {
                events.invalidate();
                return Err(e.into());
            }
            tracing::info!(
                document = doc_id,
                comments = early.len(),
                alerts = queued.len(),
                "a stored post judged again on its comments"
            );
            alerts += queued.len();
        }
        Ok(alerts)
    }
}

/// An export file's comments by the key of the post they belong to (`guid:<source>:<id>`,
/// as the store links them).
fn comments_by_post<'a>(
    source_id: &str,
    comments: &'a [crate::extract::export::ExportComment],
) -> std::collections::HashMap<String, Vec<&'a crate::extract::export::ExportComment>> {
    let mut out: std::collections::HashMap<String, Vec<_>> = std::collections::HashMap::new();
    for c in comments {
        out.entry(format!("guid:{source_id}:{}", c.post_id)).or_default().push(c);
    }
    out
}

/// The texts of a post's comments the rumour model reads: those written within
/// [`crate::rumour::EARLY_COMMENTS`] of the post (all, when either time is unknown), earliest first (those
/// without a time last, in file order). Later comments often repeat the eventual refutation,
/// which the office does not have yet when it judges a new post.
pub(super) fn early_comments(post: &Document, comments: &[&crate::extract::export::ExportComment]) -> Vec<String> {
    let mut kept: Vec<&crate::extract::export::ExportComment> = comments
        .iter()
        .copied()
        .filter(|c| match (post.published_at, c.published_at) {
            (Some(p), Some(at)) => at <= p + crate::rumour::EARLY_COMMENTS,
            _ => true,
        })
        .collect();
    kept.sort_by_key(|c| (c.published_at.is_none(), c.published_at));
    kept.into_iter().map(|c| c.text.clone()).filter(|t| !t.trim().is_empty()).collect()
}

fn add(total: &mut Committed, more: Committed) {
    total.documents += more.documents;
    total.hits += more.hits;
    total.alerts += more.alerts;
}

/// Dry run of an export folder: every settled file parsed (seen before or not).
/// What a dry run reads: every export file, those still being written included (it stores
/// nothing), and the files the daemon would still wait for, with when they settle.
pub(super) fn preview_exports(
    source: &SourceConfig,
    tz: chrono_tz::Tz,
    matcher: &crate::matcher::Matcher,
) -> Result<(Vec<MatchedDocument>, Waiting), PipelineError> {
    let files = export_files(source)?;
    let mut out = Vec::new();
    for path in files.settled.iter().chain(files.waiting.iter().map(|(p, _)| p)) {
        let (bytes, _) = read_file(path)?;
        let Ok(file) = parse(path, &bytes, tz) else { continue };
        let docs: Vec<Document> =
            extract::into_documents(&source.id, file.posts.into_iter().map(|p| p.entry).collect());
        out.extend(docs.into_iter().map(|document| {
            let hits = matcher.find(&crate::matcher::Fields::of(&document));
            MatchedDocument { document, hits, flags: Vec::new(), negativity: None, to_verify: None }
        }));
    }
    Ok((out, files.waiting))
}
