//! `run_source`: one source, top to bottom — the one place the stages meet.
//!
//! fetch (conditional GET) → decode charset → parse → normalise → drop documents already
//! seen → match keywords → render alerts → store documents, hits, alerts and the new
//! validators in one transaction. Any failure is recorded on the source (last error,
//! consecutive failures) and returned in the report; it never affects other sources.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::config::{Config, SourceConfig, SourceKind};
use crate::extract::{self, ExtractError, charset};
use crate::fetch::{Body, FetchError, Fetched, Fetcher};
use crate::matcher::Matcher;
use crate::model::{Document, MatchedDocument};
use crate::notify::{AlertContext, render_email};
use crate::store::{Committed, NewDocument, Store, StoreError};

/// The long-lived parts a source run needs, shared by all runs.
pub struct Context {
    pub config: Arc<Config>,
    pub store: Arc<Mutex<Store>>,
    pub fetcher: Fetcher,
    pub matcher: Arc<Matcher>,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("fetch failed: {0}")]
    Fetch(#[from] FetchError),
    #[error("{0}")]
    Extract(#[from] ExtractError),
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
    #[error("the database lock is poisoned (a previous writer panicked)")]
    Poisoned,
    #[error("processing task failed: {0}")]
    Task(String),
}

impl PipelineError {
    /// The error in words for staff (stored as the source's last error and printed by the
    /// CLI), keeping the technical detail in brackets.
    pub fn describe_zh(&self) -> String {
        use crate::fetch::FetchError as F;
        match self {
            PipelineError::Fetch(F::Timeout(d)) => format!("抓取超时（超过 {} 秒）", d.as_secs()),
            PipelineError::Fetch(F::Connect(m)) => format!("无法连接（{m}）"),
            PipelineError::Fetch(F::Status(s)) => format!("服务器返回 HTTP {}", s.as_u16()),
            PipelineError::Fetch(F::Redirects(n)) => format!("重定向超过 {n} 次"),
            PipelineError::Fetch(F::TooLarge(n)) => format!("响应超过大小上限 {n} 字节"),
            PipelineError::Fetch(F::Http(m)) => format!("HTTP 错误（{m}）"),
            PipelineError::Fetch(F::File { path, message }) => format!("无法读取文件 {path}（{message}）"),
            PipelineError::Extract(x) => format!("内容无法解析（{x}）"),
            other => format!("内部错误（{other}）"),
        }
    }
}

/// What one run of one source did.
#[derive(Debug)]
pub struct SourceReport {
    pub source_id: String,
    pub source_name: String,
    pub outcome: Result<RunOutcome, PipelineError>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOutcome {
    /// The server said 304 Not Modified.
    pub not_modified: bool,
    /// Items in the fetched document (before dedup).
    pub entries: usize,
    pub committed: Committed,
    /// Undecodable byte sequences replaced while decoding.
    pub malformed_bytes: usize,
}

/// Runs one source once. Never panics on bad input; failures are recorded on the source.
pub async fn run_source(ctx: &Context, source: &SourceConfig) -> SourceReport {
    let outcome = run(ctx, source).await;
    if let Err(e) = &outcome {
        tracing::warn!(source = %source.id, error = %e, "source run failed");
        let message = e.describe_zh();
        let recorded = with_store(&ctx.store, {
            let id = source.id.clone();
            move |s| s.record_failure(&id, &message, Utc::now())
        })
        .await;
        if let Err(e) = recorded {
            tracing::error!(source = %source.id, error = %e, "cannot record the failure");
        }
    }
    SourceReport { source_id: source.id.clone(), source_name: source.name.clone(), outcome }
}

async fn run(ctx: &Context, source: &SourceConfig) -> Result<RunOutcome, PipelineError> {
    let id = source.id.clone();
    let validators = with_store(&ctx.store, move |s| s.validators(&id)).await?;
    let body = match ctx.fetcher.fetch(&source.location, &validators).await? {
        Fetched::NotModified => {
            let id = source.id.clone();
            with_store(&ctx.store, move |s| s.record_not_modified(&id, Utc::now())).await?;
            tracing::debug!(source = %source.id, "not modified");
            return Ok(RunOutcome { not_modified: true, ..RunOutcome::default() });
        }
        Fetched::Body(body) => body,
    };
    let job = Job {
        config: ctx.config.clone(),
        matcher: ctx.matcher.clone(),
        store: ctx.store.clone(),
        source: source.clone(),
    };
    tokio::task::spawn_blocking(move || job.process(body)).await.map_err(|e| PipelineError::Task(e.to_string()))?
}

/// The CPU-bound part of a run, executed off the async runtime.
struct Job {
    config: Arc<Config>,
    matcher: Arc<Matcher>,
    store: Arc<Mutex<Store>>,
    source: SourceConfig,
}

impl Job {
    fn process(self, body: Body) -> Result<RunOutcome, PipelineError> {
        let decoded = charset::decode(&body.bytes, body.content_type.as_deref(), self.source.charset);
        if decoded.malformed > 0 {
            tracing::warn!(source = %self.source.id, encoding = decoded.encoding.name(), malformed = decoded.malformed,
                "undecodable bytes replaced");
        }
        let entries = match self.source.kind {
            SourceKind::Feed => {
                let text = charset::relabel_prolog_utf8(&decoded.text);
                extract::feed::parse_feed(&text, body.final_url.as_ref(), self.config.timezone)?
            }
        };
        let entry_count = entries.len();
        let documents = extract::into_documents(&self.source.id, entries);
        let fresh = self.lock()?.unseen(documents)?;
        let now = Utc::now();
        let batch: Vec<NewDocument> = fresh.into_iter().map(|d| self.prepare(d, now)).collect();
        let committed = self.lock()?.commit_run(&self.source.id, &batch, &body.validators, now)?;
        tracing::info!(source = %self.source.id, entries = entry_count, new = committed.documents,
            hits = committed.hits, alerts = committed.alerts, "source run done");
        Ok(RunOutcome { not_modified: false, entries: entry_count, committed, malformed_bytes: decoded.malformed })
    }

    /// Matches a new document and renders its alert when it has hits and mail is configured.
    fn prepare(&self, document: Document, now: DateTime<Utc>) -> NewDocument {
        let hits = self.matcher.find(&document.title, &document.text);
        let matched = MatchedDocument { document, hits };
        let alert = match (&self.config.mail, matched.hits.is_empty()) {
            (Some(mail), false) => Some(render_email(
                &matched,
                &AlertContext {
                    source_name: &self.source.name,
                    subject_prefix: &mail.subject_prefix,
                    recipients: mail.to.iter().map(ToString::to_string).collect(),
                    timezone: self.config.timezone,
                    fetched_at: now,
                },
            )),
            _ => None,
        };
        NewDocument { document: matched.document, hits: matched.hits, alert }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Store>, PipelineError> {
        self.store.lock().map_err(|_| PipelineError::Poisoned)
    }
}

/// Runs a store operation on the blocking pool.
pub async fn with_store<T, F>(store: &Arc<Mutex<Store>>, f: F) -> Result<T, PipelineError>
where
    T: Send + 'static,
    F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = store.lock().map_err(|_| PipelineError::Poisoned)?;
        f(&mut guard).map_err(PipelineError::from)
    })
    .await
    .map_err(|e| PipelineError::Task(e.to_string()))?
}
