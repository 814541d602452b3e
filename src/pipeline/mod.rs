//! `run_source`: one source, top to bottom — the one place the stages meet.
//!
//! fetch (conditional GET) → decode charset → parse (feed, or HTML list by selectors) →
//! normalise → drop documents already seen → for HTML sources with `follow`, fetch each new
//! article → match keywords → render alerts → store documents, hits, alerts and the new
//! validators in one transaction. [`preview`] runs the same stages without the store. Any failure is recorded on the source (last error,
//! consecutive failures) and returned in the report; it never affects other sources.

mod export;
pub mod metrics;
pub mod policy;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use chrono_tz::Tz;
use encoding_rs::Encoding;

use crate::config::{Config, HtmlConfig, Location, SourceConfig, SourceKind};
use crate::detect::distortion::{Publication, Publications};
use crate::detect::events::{Assignment, ContentFacts, EventIndex};
use crate::detect::flags::Flagger;
use crate::detect::sentiment::Lexicon;
use crate::extract::charset::CharsetOrigin;
use crate::extract::{self, Entry, ExtractError, charset};
use crate::fetch::{Body, FetchError, Fetched, Fetcher, Validators};
use crate::matcher::{Fields, Matcher};
use crate::model::{AlertMessage, Document, MatchedDocument, SourceNotice};
use crate::notify::{AlertContext, NoticeContext, render_email, render_notice};
use crate::pipeline::metrics::{Metrics, RunOutcomeLabel};
use crate::response::trend::Spread;
use crate::response::{Decision, EventKey, Grade, Reaction};
pub use crate::store::with_store;
use crate::store::{Committed, NewDocument, Store, StoreError};
use crate::workflow::links::{LinkAction, Linker};

/// The long-lived parts a source run needs, shared by all runs.
pub struct Context {
    pub config: Arc<Config>,
    pub store: Arc<Mutex<Store>>,
    pub fetcher: Fetcher,
    pub matcher: Arc<Matcher>,
    pub flagger: Arc<Flagger>,
    pub lexicon: Arc<Lexicon>,
    /// Which event each matched document belongs to; locked after the store.
    pub events: Arc<Mutex<EventIndex>>,
    /// What the bureau itself published (`official` sources), for 歪曲.
    pub publications: Arc<Mutex<Publications>>,
    /// Makes the one-click links in alerts (with `[http]`).
    pub linker: Option<Linker>,
    /// Counters for `/metrics`, shared by every generation of the context.
    pub metrics: Arc<Metrics>,
    /// Runs answered 304 whose state write waits to go with others' (shared like the store).
    pub unchanged: Arc<Unchanged>,
    /// Set while the store holds an open group of source runs (`store::group`), for the
    /// daemon's flush tick.
    pub grouped: Arc<std::sync::atomic::AtomicBool>,
}

/// New documents matched, rendered and committed per transaction. A feed of 200,000 items
/// is 200 bounded steps (each with its own matched documents and rendered alerts in memory,
/// and its own transaction), not one; the source's state (validators, entries) goes with the
/// last, so a run killed between batches is fetched again in full and skips what it stored.
const COMMIT_BATCH: usize = 1000;

/// Sources that answered 304 Not Modified, waiting for their one state write (last attempt
/// and success), which goes to the store in one transaction with the others': an idle
/// re-poll of a thousand feeds is a thousand requests and a few writes, not a thousand.
/// Flushed when [`Unchanged::FLUSH_AT`] are queued or the oldest has waited
/// [`Unchanged::MAX_WAIT`], before a failure of any source is recorded, and by the callers
/// when a cycle ends ([`flush_unchanged`]). Losing the queue in a crash costs only an early
/// re-poll of those sources.
#[derive(Debug, Default)]
pub struct Unchanged {
    queued: Mutex<Vec<(String, chrono::DateTime<Utc>)>>,
}

impl Unchanged {
    pub const FLUSH_AT: usize = 128;
    pub const MAX_WAIT: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

    /// Queues a 304; says whether the queue should be written now.
    fn push(&self, source_id: &str, at: chrono::DateTime<Utc>) -> bool {
        let Ok(mut queued) = self.queued.lock() else { return true };
        queued.push((source_id.to_string(), at));
        queued.len() >= Self::FLUSH_AT || queued.first().is_some_and(|(_, first)| at - *first >= Self::MAX_WAIT)
    }

    fn take(&self) -> Vec<(String, chrono::DateTime<Utc>)> {
        self.queued.lock().map(|mut q| std::mem::take(&mut *q)).unwrap_or_default()
    }
}

/// Writes the queued 304 runs ([`Unchanged`]) in one transaction.
pub async fn flush_unchanged(ctx: &Context) -> Result<(), StoreError> {
    let runs = ctx.unchanged.take();
    if runs.is_empty() {
        return Ok(());
    }
    with_store(&ctx.store, move |s| s.record_not_modified_many(&runs)).await
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
    #[error("the item selector {selector:?} matched nothing (last successful run: {previously:?} entries)")]
    EmptyList { selector: String, previously: Option<u64> },
}

impl PipelineError {
    /// The error in words for staff (stored as the source's last error and printed by the
    /// CLI), keeping the technical detail in brackets.
    pub fn describe_zh(&self) -> String {
        use crate::fetch::FetchError as F;
        match self {
            PipelineError::Fetch(F::Timeout(d)) => format!("抓取超时（超过 {} 秒）", d.as_secs()),
            PipelineError::Fetch(F::Connect(m)) => format!("无法连接：{}（{m}）", crate::fetch::connect_reason_zh(m)),
            PipelineError::Fetch(F::Status { status, retry_after: Some(after) }) => {
                format!("服务器返回 HTTP {}，要求 {} 秒后再试", status.as_u16(), after.as_secs())
            }
            PipelineError::Fetch(F::Status { status, .. }) => format!("服务器返回 HTTP {}", status.as_u16()),
            PipelineError::Fetch(F::Redirects(n)) => format!("重定向超过 {n} 次"),
            PipelineError::Fetch(F::TooLarge(n)) => format!("响应超过大小上限 {n} 字节"),
            PipelineError::Fetch(F::Http(m)) => format!("HTTP 请求失败（{m}）"),
            PipelineError::Fetch(F::File { path, message }) => format!("无法读取文件 {path}（{message}）"),
            PipelineError::Fetch(F::Robots { host, path }) => {
                format!("{host} 的 robots.txt 不允许抓取 {path}（如为本单位网站，可在该信源中写 robots = false）")
            }
            PipelineError::Extract(x) => format!("内容无法解析：{x}"),
            PipelineError::EmptyList { selector, previously: Some(n) } if *n > 0 => format!(
                "网站可能已改版：列表选择器 \"{selector}\" 上次匹配 {n} 条，这次一条也没有匹配到；请用 yuqing fetch 该信源 --dry-run 检查选择器"
            ),
            PipelineError::EmptyList { selector, .. } => format!(
                "列表选择器 \"{selector}\" 没有匹配到任何条目；请用 yuqing fetch 该信源 --dry-run 检查 [source.html] 的选择器"
            ),
            PipelineError::Store(e) => format!("写入数据库失败：{}", e.describe_zh()),
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
    /// Export sources: known posts whose engagement counts changed, comments stored.
    pub updated_counts: usize,
    pub comments: usize,
    /// Problems that did not stop the run: unreadable export files, bad rows (file:line).
    pub problems: Vec<String>,
}

/// Runs one source once. Never panics on bad input; failures are recorded on the source.
/// Logs exactly one summary line per run (source, outcome, new documents, hits, duration)
/// and counts the run in the metrics.
pub async fn run_source(ctx: &Context, source: &SourceConfig) -> SourceReport {
    let started = std::time::Instant::now();
    let mut before = None;
    let outcome = run(ctx, source, &mut before).await;
    log_run(ctx, source, &outcome, started.elapsed());
    if let Err(e) = &outcome {
        let message = e.describe_zh();
        // Queued 304s first: a source's failure is never overwritten by its earlier success.
        let unchanged = ctx.unchanged.take();
        let recorded = with_store(&ctx.store, {
            let id = source.id.clone();
            move |s| {
                s.record_not_modified_many(&unchanged)?;
                s.record_failure(&id, &message, Utc::now())
            }
        })
        .await;
        if let Err(e) = recorded {
            tracing::error!(source = %source.id, error = %e, "cannot record the failure");
        }
    }
    // After a 304 nothing but the queued state write changed, so the health read before the
    // fetch still holds.
    let before = before.filter(|_| outcome.as_ref().is_ok_and(|o| o.not_modified));
    if let Err(e) = check_health(ctx, source, &outcome, before).await {
        tracing::error!(source = %source.id, error = %e, "cannot update the source's health notices");
    }
    SourceReport { source_id: source.id.clone(), source_name: source.name.clone(), outcome }
}

/// The run's one summary line, and its metrics.
fn log_run(
    ctx: &Context,
    source: &SourceConfig,
    outcome: &Result<RunOutcome, PipelineError>,
    took: std::time::Duration,
) {
    let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    match outcome {
        Ok(o) => {
            let label = if o.not_modified { RunOutcomeLabel::NotModified } else { RunOutcomeLabel::Ok };
            ctx.metrics.record_run(&source.id, label, o.committed.documents, o.committed.hits, took);
            ctx.metrics.add_alerts(o.committed.alerts);
            // The message repeats the essentials: the journal's plain view shows only it.
            tracing::info!(source = %source.id, outcome = label.as_str(), entries = o.entries,
                new = o.committed.documents, hits = o.committed.hits, alerts = o.committed.alerts,
                problems = o.problems.len(), duration_ms = ms, "source run {}: {}, {} new, {} hits, {} ms",
                source.id, label.as_str(), o.committed.documents, o.committed.hits, ms);
        }
        Err(e) => {
            ctx.metrics.record_run(&source.id, RunOutcomeLabel::Error, 0, 0, took);
            tracing::warn!(source = %source.id, outcome = RunOutcomeLabel::Error.as_str(), new = 0, hits = 0,
                duration_ms = ms, error = %e, "source run {}: error after {} ms: {e}", source.id, ms);
        }
    }
}

/// After a run: one notice to the admin when a source has failed `failure_notice_after`
/// times in a row, one when it recovers, and one when it has had nothing new for longer
/// than its `max_silence` — never a mail per failed poll.
async fn check_health(
    ctx: &Context,
    source: &SourceConfig,
    outcome: &Result<RunOutcome, PipelineError>,
    known: Option<crate::store::Health>,
) -> Result<(), PipelineError> {
    let Some(mail) = &ctx.config.mail else {
        return Ok(());
    };
    let health = match known {
        Some(health) => health,
        None => {
            let id = source.id.clone();
            with_store(&ctx.store, move |s| s.health(&id)).await?
        }
    };
    let now = Utc::now();
    let notice = match outcome {
        Err(_) if health.consecutive_failures >= ctx.config.daemon.failure_notice_after && !health.failing_notified => {
            Some(SourceNotice::Failing)
        }
        Err(_) => None,
        Ok(_) if health.failing_notified => Some(SourceNotice::Recovered),
        Ok(o) if o.committed.documents > 0 => {
            if health.silent_notified {
                let id = source.id.clone();
                with_store(&ctx.store, move |s| s.clear_silence(&id)).await?;
            }
            None
        }
        Ok(_) => {
            let silent_for = health.last_new_at.map(|t| (now - t).to_std().unwrap_or_default());
            let too_long = matches!((silent_for, source.max_silence), (Some(quiet), Some(max)) if quiet > max);
            (too_long && !health.silent_notified).then_some(SourceNotice::Silent)
        }
    };
    let Some(notice) = notice else {
        return Ok(());
    };
    let message = render_notice(
        notice,
        &NoticeContext {
            source_id: &source.id,
            source_name: &source.name,
            location: source.location.to_string(),
            consecutive_failures: health.consecutive_failures,
            last_error: health.last_error.as_deref(),
            last_success_at: health.last_success_at,
            last_new_at: health.last_new_at,
            max_silence: source.max_silence,
            recipients: mail.admin.iter().map(ToString::to_string).collect(),
            timezone: ctx.config.timezone,
            now,
        },
    );
    let id = source.id.clone();
    let queued = with_store(&ctx.store, move |s| s.notify_source(&id, notice, &message, now)).await?;
    if queued {
        tracing::info!(source = %source.id, notice = notice.as_str(), "source health notice queued");
    }
    Ok(())
}

/// One run; `health` gets the source's health as read before the fetch (feeds and pages).
async fn run(
    ctx: &Context,
    source: &SourceConfig,
    health: &mut Option<crate::store::Health>,
) -> Result<RunOutcome, PipelineError> {
    if source.kind.is_export() {
        let job = Job::new(ctx, source);
        if matches!(source.location, Location::File(_)) {
            return blocking(move || job.import_exports()).await;
        }
        // An export published at a URL: one file, imported once per content.
        let body =
            match ctx.fetcher.fetch(&source.location, &Validators::default(), &source.headers, source.robots).await? {
                Fetched::Body(body) => body,
                Fetched::NotModified => return Ok(RunOutcome { not_modified: true, ..RunOutcome::default() }),
            };
        ctx.metrics.add_bytes(&source.id, body.bytes.len());
        return blocking(move || job.import_download(&body)).await;
    }
    let id = source.id.clone();
    let (validators, known) = with_store(&ctx.store, move |s| s.poll_state(&id)).await?;
    *health = Some(known);
    let body = match ctx.fetcher.fetch(&source.location, &validators, &source.headers, source.robots).await? {
        Fetched::NotModified => {
            if ctx.unchanged.push(&source.id, Utc::now()) {
                flush_unchanged(ctx).await?;
            }
            return Ok(RunOutcome { not_modified: true, ..RunOutcome::default() });
        }
        Fetched::Body(body) => body,
    };
    let job = Arc::new(Job::new(ctx, source));
    let more = more_pages(&ctx.fetcher, source, &body).await;
    let read: usize = body.bytes.len() + more.iter().map(|b| b.bytes.len()).sum::<usize>();
    ctx.metrics.add_bytes(&source.id, read);
    let follow = source.html.as_ref().filter(|h| h.follow);
    let Some(html) = follow else {
        // One trip to the blocking pool for everything after the fetch.
        return blocking(move || job.fresh_and_commit(&body, &more)).await;
    };
    let (fresh, parsed, body) = {
        let job = job.clone();
        blocking(move || job.fresh(&body, &more).map(|(fresh, parsed)| (fresh, parsed, body))).await?
    };
    let (fresh, article_bytes) = follow_articles(&ctx.fetcher, source, html, ctx.config.timezone, fresh).await;
    ctx.metrics.add_bytes(&source.id, article_bytes);
    blocking(move || job.commit(fresh, &parsed, &body.validators)).await
}

/// Further list pages (`[source.html] pages` > 1), following the `next` link. They are
/// fetched without validators; a failure ends the walk and keeps what was read.
async fn more_pages(fetcher: &Fetcher, source: &SourceConfig, first: &Body) -> Vec<Body> {
    let Some((next, pages)) = source.html.as_ref().and_then(|h| h.next.as_ref().map(|n| (n, h.pages))) else {
        return Vec::new();
    };
    let link = |body: &Body| {
        let decoded = charset::decode(&body.bytes, body.content_type.as_deref(), source.charset);
        extract::html::next_page(&decoded.text, body.final_url.as_ref(), next).and_then(|u| url::Url::parse(&u).ok())
    };
    let mut out: Vec<Body> = Vec::new();
    let mut url = link(first);
    while out.len() + 1 < pages {
        let Some(current) = url.take() else { break };
        match fetcher
            .fetch(&Location::Http(current.clone()), &Validators::default(), &source.headers, source.robots)
            .await
        {
            Ok(Fetched::Body(body)) => {
                url = link(&body);
                out.push(body);
            }
            Ok(Fetched::NotModified) => break,
            Err(e) => {
                tracing::warn!(source = %source.id, url = %current, error = %e, "next list page failed; keeping the pages read");
                break;
            }
        }
    }
    out
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PipelineError> + Send + 'static,
) -> Result<T, PipelineError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| PipelineError::Task(e.to_string()))?
}

/// A fetched document decoded and parsed into entries (before dedup).
#[derive(Debug)]
pub struct Parsed {
    pub entries: Vec<Entry>,
    pub encoding: &'static Encoding,
    pub charset_origin: CharsetOrigin,
    pub malformed: usize,
}

/// Decodes and parses a fetched body according to the source's kind. Pure.
pub fn parse_body(source: &SourceConfig, tz: Tz, body: &Body, now: DateTime<Utc>) -> Result<Parsed, PipelineError> {
    parse_decoded(source, tz, body, &decode(source, body), now)
}

/// A body's text in its charset, a warning logged when bytes could not be decoded.
fn decode<'b>(source: &SourceConfig, body: &'b Body) -> charset::Decoded<'b> {
    let decoded = charset::decode(&body.bytes, body.content_type.as_deref(), source.charset);
    if decoded.malformed > 0 {
        tracing::warn!(source = %source.id, encoding = decoded.encoding.name(), malformed = decoded.malformed,
            "undecodable bytes replaced");
    }
    decoded
}

fn parse_decoded(
    source: &SourceConfig,
    tz: Tz,
    body: &Body,
    decoded: &charset::Decoded<'_>,
    now: DateTime<Utc>,
) -> Result<Parsed, PipelineError> {
    let base = body.final_url.as_ref();
    let entries = match (source.kind, &source.html) {
        (SourceKind::Feed, _) => extract::feed::parse_feed(&charset::relabel_prolog_utf8(&decoded.text), base, tz)?,
        (SourceKind::Html, Some(html)) => extract::html::parse_list(&decoded.text, base, &html.list, tz, now),
        (SourceKind::Html, None) | (SourceKind::WeiboExport | SourceKind::WechatExport, _) => Vec::new(),
    };
    Ok(Parsed { entries, encoding: decoded.encoding, charset_origin: decoded.origin, malformed: decoded.malformed })
}

/// How many entries the parsed page had, and how many bytes could not be decoded.
#[derive(Debug, Clone, Copy)]
struct ParsedCounts {
    entries: usize,
    malformed: usize,
}

/// Fetches each new document's article page (at most `max_follow`) and takes its text,
/// and its date, title and publishing unit where the list had none. A failed article fetch
/// keeps the list's text; it does not fail the source. Also returns the bytes read.
async fn follow_articles(
    fetcher: &Fetcher,
    source: &SourceConfig,
    html: &HtmlConfig,
    tz: Tz,
    mut fresh: Vec<Document>,
) -> (Vec<Document>, usize) {
    let headers = &source.headers;
    let mut read = 0;
    for doc in fresh.iter_mut().filter(|d| d.link.is_some()).take(html.max_follow) {
        let Some(url) = doc.link.as_deref().and_then(|l| url::Url::parse(l).ok()) else { continue };
        let location = match url.scheme() {
            "http" | "https" => Location::Http(url.clone()),
            // Local samples: their relative links resolve to file: URLs.
            "file" => match url.to_file_path() {
                Ok(path) => Location::File(path),
                Err(()) => continue,
            },
            _ => continue,
        };
        let body = match fetcher.fetch(&location, &Validators::default(), headers, source.robots).await {
            Ok(Fetched::Body(body)) => body,
            Ok(Fetched::NotModified) => continue,
            Err(e) => {
                tracing::warn!(url = %url, error = %e, "article fetch failed; keeping the list entry's text");
                continue;
            }
        };
        read += body.bytes.len();
        let content = html.content.clone();
        let article = blocking(move || {
            let decoded = charset::decode(&body.bytes, body.content_type.as_deref(), None);
            Ok(extract::html::parse_article(&decoded.text, content.as_ref(), tz, Utc::now()))
        })
        .await;
        if let Ok(article) = article {
            merge_article(doc, article);
        }
    }
    (fresh, read)
}

fn merge_article(doc: &mut Document, article: extract::html::Article) {
    if !article.text.is_empty() {
        doc.text = article.text;
    }
    let truncated = doc.title.is_empty() || doc.title.ends_with('…') || doc.title.ends_with("...");
    if truncated && let Some(title) = article.title {
        doc.title = title;
    }
    doc.page_state = article.state.map(str::to_string).or(doc.page_state.take());
    doc.published_at = doc.published_at.or(article.published_at);
    doc.author = doc.author.take().or(article.source);
    doc.fingerprint = extract::fingerprint(&doc.title, &doc.text);
}

/// The CPU-bound part of a run, executed off the async runtime.
struct Job {
    config: Arc<Config>,
    matcher: Arc<Matcher>,
    flagger: Arc<Flagger>,
    lexicon: Arc<Lexicon>,
    store: Arc<Mutex<Store>>,
    events: Arc<Mutex<EventIndex>>,
    publications: Arc<Mutex<Publications>>,
    linker: Option<Linker>,
    metrics: Arc<Metrics>,
    source: SourceConfig,
}

/// A representative comment in an alert is cut after this many characters.
const ALERT_VIEWPOINT_CHARS: usize = 30;

impl Job {
    fn new(ctx: &Context, source: &SourceConfig) -> Self {
        Job {
            config: ctx.config.clone(),
            matcher: ctx.matcher.clone(),
            flagger: ctx.flagger.clone(),
            lexicon: ctx.lexicon.clone(),
            store: ctx.store.clone(),
            events: ctx.events.clone(),
            publications: ctx.publications.clone(),
            linker: ctx.linker.clone(),
            metrics: ctx.metrics.clone(),
            source: source.clone(),
        }
    }

    /// Parses the body and keeps the documents not seen before. An HTML list page whose
    /// item selector matches nothing is an error (the site changed or the selector is
    /// wrong), not "no news".
    fn fresh(&self, body: &Body, more: &[Body]) -> Result<(Vec<Document>, ParsedCounts), PipelineError> {
        self.fresh_parsed(parse_body(&self.source, self.config.timezone, body, Utc::now())?, more)
    }

    /// Everything after the fetch, for a source without articles to follow: a feed of more
    /// than [`COMMIT_BATCH`] items is read, matched and committed a part at a time
    /// ([`extract::FeedBatches`]), so its memory is one part's entries and documents and
    /// the decoded text (the body itself when it is UTF-8); anything else whole.
    fn fresh_and_commit(&self, body: &Body, more: &[Body]) -> Result<RunOutcome, PipelineError> {
        let tz = self.config.timezone;
        let decoded = decode(&self.source, body);
        if self.source.kind == SourceKind::Feed && more.is_empty() {
            let base = body.final_url.as_ref();
            if let Some(batches) = extract::FeedBatches::new(&decoded.text, COMMIT_BATCH, base, tz)? {
                return self.commit_batches(&batches, decoded.malformed, &body.validators);
            }
        }
        let parsed = parse_decoded(&self.source, tz, body, &decoded, Utc::now())?;
        drop(decoded);
        let (fresh, counts) = self.fresh_parsed(parsed, more)?;
        self.commit(fresh, &counts, &body.validators)
    }

    /// A feed read in parts: each part's new documents are matched and committed before the
    /// next part is parsed.
    fn commit_batches(
        &self,
        batches: &extract::FeedBatches<'_>,
        malformed: usize,
        validators: &Validators,
    ) -> Result<RunOutcome, PipelineError> {
        let parsed = ParsedCounts { entries: batches.entries(), malformed };
        let parts = (0..batches.len()).map(|i| Ok(self.lock()?.unseen(batches.documents(&self.source.id, i)?)?));
        self.commit_parts(parts, &parsed, validators)
    }

    fn fresh_parsed(&self, mut parsed: Parsed, more: &[Body]) -> Result<(Vec<Document>, ParsedCounts), PipelineError> {
        for page in more {
            let next = parse_body(&self.source, self.config.timezone, page, Utc::now())?;
            parsed.entries.extend(next.entries);
            parsed.malformed += next.malformed;
        }
        let counts = ParsedCounts { entries: parsed.entries.len(), malformed: parsed.malformed };
        if let (SourceKind::Html, Some(html), 0) = (self.source.kind, &self.source.html, counts.entries) {
            let previously = self.lock()?.last_entries(&self.source.id)?;
            return Err(PipelineError::EmptyList { selector: html.list.item_css.clone(), previously });
        }
        let documents = extract::into_documents(&self.source.id, parsed.entries);
        let fresh = self.lock()?.unseen(documents)?;
        Ok((fresh, counts))
    }

    /// Matches and renders the new documents and commits them, [`COMMIT_BATCH`] at a time.
    fn commit(
        &self,
        fresh: Vec<Document>,
        parsed: &ParsedCounts,
        validators: &Validators,
    ) -> Result<RunOutcome, PipelineError> {
        let parts = fresh.len().div_ceil(COMMIT_BATCH).max(1);
        let mut rest = fresh.into_iter();
        self.commit_parts((0..parts).map(move |_| Ok(rest.by_ref().take(COMMIT_BATCH).collect())), parsed, validators)
    }

    /// Matches, renders and commits new documents a part at a time, each part its own
    /// transaction and the source's state with the last ([`Store::commit_run`]); an empty
    /// part before the last commits nothing. A part is produced only after the one before
    /// it is committed, so a feed read in parts holds one part's documents at a time.
    fn commit_parts(
        &self,
        parts: impl ExactSizeIterator<Item = Result<Vec<Document>, PipelineError>>,
        parsed: &ParsedCounts,
        validators: &Validators,
    ) -> Result<RunOutcome, PipelineError> {
        let now = Utc::now();
        let count = parts.len();
        let mut committed = Committed::default();
        for (i, part) in parts.enumerate() {
            let fresh = part?;
            let last = i + 1 == count;
            if fresh.is_empty() && !last {
                continue;
            }
            committed += self.match_and_commit(
                fresh,
                (now, None),
                (|_: &Document| 0, |_: &Document| Vec::new()),
                |store, batch| match last {
                    true => store.commit_run(&self.source.id, batch, parsed.entries, validators, now),
                    false => store.commit_documents(&self.source.id, batch, now),
                },
            )?;
        }
        Ok(RunOutcome {
            entries: parsed.entries,
            committed,
            malformed_bytes: parsed.malformed,
            ..RunOutcome::default()
        })
    }

    /// Matches new documents, assigns the matched ones to events, renders their alerts
    /// and hands the batch to `commit` under the store lock. The event index is locked
    /// for the whole step so that concurrent runs agree on events; a failed commit marks
    /// it for a rebuild from the store.
    fn match_and_commit<T>(
        &self,
        fresh: Vec<Document>,
        (now, apart_from): (DateTime<Utc>, Option<i64>),
        (interactions_of, comments_of): (impl Fn(&Document) -> i64, impl Fn(&Document) -> Vec<String>),
        commit: impl FnOnce(&mut Store, &[NewDocument]) -> Result<T, StoreError>,
    ) -> Result<T, PipelineError> {
        let matched: Vec<MatchedDocument> = fresh
            .into_iter()
            .map(|d| {
                let comments = comments_of(&d);
                self.matched(d, &comments)
            })
            .collect();
        let mut store = self.lock()?;
        let mut events = self.events.lock().map_err(|_| PipelineError::Poisoned)?;
        // A group of runs that could not be committed took its documents back: the index
        // assigned them, so it is rebuilt from what the store holds.
        if store.take_lost_group() {
            events.invalidate();
        }
        // Only matched documents are assigned: a batch without hits leaves an unbuilt index be.
        if events.needs_rebuild(now) && matched.iter().any(|m| !m.hits.is_empty()) {
            rebuild_events(&store, &mut events, now)?;
        }
        let tier_of = |id: &str| self.tier_of(id);
        // Interactions of this batch's documents, per event, not yet in the store.
        let mut pending: HashMap<i64, i64> = HashMap::new();
        // When this batch's copies of each event were published (for the spread).
        let mut pending_seen: HashMap<i64, Vec<DateTime<Utc>>> = HashMap::new();
        let mut batch: Vec<NewDocument> = Vec::with_capacity(matched.len());
        for m in matched {
            // A muted or closed event sends nothing, unless it rises to I or II.
            let mut quiet = false;
            let (event, decision) = match m.hits.is_empty() {
                true => (None, None),
                false => {
                    ensure_event_id(&store, &mut events)?;
                    let mut a = events.assign_apart(&m.document, now, apart_from);
                    // People may have downgraded, muted or closed the event since.
                    let state = if a.new_event { None } else { store.event_state(a.event_id)? };
                    if let Some(state) = &state {
                        events.sync(&mut a, state.grade, state.downgraded_from);
                    }
                    let added = pending.entry(a.event_id).or_default();
                    *added += interactions_of(&m.document);
                    // How fast its copies come: the stored ones and this batch's, this one included.
                    let seen = pending_seen.entry(a.event_id).or_default();
                    seen.push(m.document.published_at.unwrap_or(now).min(now));
                    let stored = if a.new_event { Spread::default() } else { store.event_spread(a.event_id, now)? };
                    let spread = stored.plus(Spread::of(seen.iter().copied(), now));
                    // A new event has nothing stored yet: no queries for its reaction.
                    let reaction = match a.new_event {
                        true => Reaction { interactions: *added, growth: None, spread },
                        false => reaction(&store, a.event_id, *added, spread, now)?,
                    };
                    let facts = self.content_facts(&m);
                    events.regrade(&mut a, &facts, tier_of, reaction, &self.config.response.grading);
                    let moved = state.as_ref().and_then(|s| s.transferred_to.as_deref());
                    let decision = self.decide(&m, &facts, a.grade, moved);
                    a.owner = Some(decision.owner.clone());
                    quiet = state.is_some_and(|s| s.quiet_at(now)) && !(a.rose() && a.grade <= Grade::II);
                    (Some(a), Some(decision))
                }
            };
            let views = match &event {
                Some(a) if !a.new_event && !quiet => self.viewpoint_brief(&store, a.event_id),
                _ => None,
            };
            let alert = if quiet { None } else { self.render(&m, event.as_ref().zip(decision.as_ref()), views, now) };
            // SMS and IM when an event starts or rises, with or without the email.
            let extra = match (&event, &decision) {
                (Some(e), Some(d)) if !quiet && (e.new_event || e.rose()) => self.extra_channels(e, d, now),
                _ => Vec::new(),
            };
            batch.push(NewDocument {
                document: m.document,
                hits: m.hits,
                flags: m.flags,
                negativity: m.negativity,
                to_verify: m.to_verify,
                event,
                alert,
                extra,
            });
        }
        let result = commit(&mut store, &batch);
        if result.is_err() {
            events.invalidate();
        } else if self.source.official {
            let mut publications = self.publications.lock().map_err(|_| PipelineError::Poisoned)?;
            for item in &batch {
                publications.add(Publication { title: item.document.title.clone(), text: item.document.text.clone() });
            }
        }
        Ok(result?)
    }

    /// A source's media tier and name, for grading.
    fn tier_of(&self, id: &str) -> Option<(crate::response::Tier, String)> {
        let source = self.config.source(id)?;
        source.tier.map(|t| (t, source.name.clone()))
    }

    /// Known documents' counts changed: their events are graded again, and a rise is
    /// alerted, threaded to the event. Returns the number of alerts queued.
    fn regrade_on_counts(&self, documents: &[i64], now: DateTime<Utc>) -> Result<usize, PipelineError> {
        if documents.is_empty() {
            return Ok(0);
        }
        let mut store = self.lock()?;
        let mut events = self.events.lock().map_err(|_| PipelineError::Poisoned)?;
        if events.needs_rebuild(now) {
            rebuild_events(&store, &mut events, now)?;
        }
        let mut ids: Vec<i64> = Vec::new();
        for d in documents {
            if let Some(e) = store.event_of_document(*d)?
                && !ids.contains(&e)
            {
                ids.push(e);
            }
        }
        let mut alerts = 0;
        for id in ids {
            let reaction = reaction(&store, id, 0, store.event_spread(id, now)?, now)?;
            let grading = &self.config.response.grading;
            let state = store.event_state(id)?.unwrap_or_default();
            let Some(a) =
                events.regrade_event(id, (state.grade, state.downgraded_from), |s| self.tier_of(s), reaction, grading)
            else {
                continue;
            };
            if !a.rose() || (state.quiet_at(now) && a.grade > Grade::II) {
                continue;
            }
            let Some((head, m)) = store.event_head(id)? else { continue };
            let decision = self.decide(&m, &self.content_facts(&m), a.grade, state.transferred_to.as_deref());
            // The rise goes out like one found with a new document: email, and SMS/IM per grade.
            let views = self.viewpoint_brief(&store, id);
            let mut queued: Vec<AlertMessage> =
                self.render(&m, Some((&a, &decision)), views, now).into_iter().collect();
            queued.extend(self.extra_channels(&a, &decision, now));
            if let Err(e) = store.record_regrade(&a, head, &queued, now) {
                events.invalidate();
                return Err(e.into());
            }
            alerts += queued.len();
        }
        Ok(alerts)
    }

    /// What a matched document says about its event's content: the heaviest list it hit,
    /// the lists' categories, its flags and negativity.
    fn content_facts(&self, m: &MatchedDocument) -> ContentFacts {
        let mut facts = ContentFacts {
            flags: m.flags.iter().map(|f| f.kind).collect(),
            negativity: m.negativity.as_ref().map_or(0.0, |n| n.score),
            ..ContentFacts::default()
        };
        for hit in &m.hits {
            if let Some(meta) = self.matcher.list_meta(&hit.list) {
                facts.max_weight = facts.max_weight.max(meta.weight);
                if !facts.categories.contains(&meta.category) {
                    facts.categories.push(meta.category);
                }
            }
        }
        facts
    }

    /// Routes the event of a matched document (owner, accountable leader, ladder, reports);
    /// a section the event was transferred to owns it whatever the routes say.
    fn decide(
        &self,
        m: &MatchedDocument,
        facts: &ContentFacts,
        grade: Grade,
        transferred_to: Option<&str>,
    ) -> Decision {
        let mut topics: Vec<String> = Vec::new();
        for hit in &m.hits {
            let topic = self.matcher.list_meta(&hit.list).map(|meta| meta.topic.clone());
            for t in [Some(hit.list.clone()), topic].into_iter().flatten() {
                if !topics.contains(&t) {
                    topics.push(t);
                }
            }
        }
        let key = EventKey {
            categories: facts.categories.clone(),
            topics,
            grade: Some(grade),
            sources: vec![self.source.id.clone()],
            flags: m.flags.iter().map(|f| f.kind).collect(),
            transferred_to: transferred_to.map(str::to_string),
        };
        self.config.response.routing.decide(&self.config.response.org, &key, |t| self.config.topic_owner(t))
    }

    /// The grade and the routing decision as lines for the alert, and the addresses of the
    /// people on the first step of the escalation ladder (they receive it too).
    fn response_lines(
        &self,
        event: &Assignment,
        d: &Decision,
    ) -> (Vec<(&'static str, String)>, Vec<lettre::message::Mailbox>) {
        let org = &self.config.response.org;
        let report: Vec<String> = d.report_to.iter().map(|id| org.department_name(id)).collect();
        let first_step: Vec<lettre::message::Mailbox> = d
            .steps
            .first()
            .map(|(_, people)| {
                people
                    .iter()
                    .filter_map(|(_, id)| org.person(id))
                    .filter_map(|p| {
                        let address = p.email.as_ref()?.parse().ok()?;
                        Some(lettre::message::Mailbox::new(Some(p.name.clone()), address))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let lines = vec![
            ("分级", format!("{}（{}）", event.grade.label_zh(), event.grade_reasons.join("；"))),
            ("牵头科室", org.section_label(&d.owner)),
            ("责任领导", d.accountable.as_deref().map_or_else(|| "未配置".to_string(), |p| org.person_label(p))),
            ("报送", if report.is_empty() { "无需报送外部门".to_string() } else { report.join("、") }),
        ];
        (lines, first_step)
    }

    /// Matches a document and flags it; `comments` (an export post's, earliest first, see
    /// [`export::early_comments`]) go to a rumour model trained with `--comments`.
    fn matched(&self, document: Document, comments: &[String]) -> MatchedDocument {
        let hits = self.matcher.find(&Fields::of(&document));
        let mut flags = self.flagger.flags(&Fields::of(&document));
        if !self.source.official
            && !hits.is_empty()
            && let Ok(publications) = self.publications.lock()
            && let Some(flag) = publications.check(&document.title, &document.text)
        {
            flag.reasons.into_iter().for_each(|r| crate::detect::flags::add_reason(&mut flags, flag.kind, r));
        }
        let mut to_verify = None;
        if let Some(model) = &self.config.rumour_model {
            let verdict = if comments.is_empty() {
                model.judge(&document.title, &document.text)
            } else {
                model.judge_with_comments(&document.title, &document.text, comments)
            };
            to_verify = crate::rumour::settle(&mut flags, &verdict);
        }
        let negativity = self.lexicon.score(&document.title, &document.text);
        MatchedDocument { document, hits, flags, negativity, to_verify }
    }

    /// What netizens say about an event, in one line for its update alerts (网民观点), when
    /// comments on its documents are stored. A store error only leaves the line out.
    fn viewpoint_brief(&self, store: &Store, event_id: i64) -> Option<String> {
        use crate::detect::viewpoints::{MAX_COMMENTS, MAX_GROUPS, viewpoints};
        let comments = match store.event_comments(event_id, MAX_COMMENTS) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(event = event_id, error = %e, "comments not read for the alert");
                return None;
            }
        };
        if comments.is_empty() {
            return None;
        }
        viewpoints(&comments, &self.lexicon, MAX_GROUPS, self.config.timezone).brief_zh(ALERT_VIEWPOINT_CHARS)
    }

    /// The alert for a matched document when mail is configured: one when it starts an
    /// event, an update threaded to it when the story reaches a new source, none for
    /// further copies from a source already on the event's path. `views` (what netizens say,
    /// for an update) is shown among the details.
    fn render(
        &self,
        m: &MatchedDocument,
        event: Option<(&Assignment, &Decision)>,
        views: Option<String>,
        now: DateTime<Utc>,
    ) -> Option<AlertMessage> {
        let mail = self.config.mail.as_ref()?;
        // Every matched document reaches the event's people: a new event as an alert, a copy
        // as a threaded update (the store spaces an event's updates and merges a burst).
        if m.hits.is_empty() {
            return None;
        }
        let (mut details, first_step) = event.map(|(e, d)| self.response_lines(e, d)).unwrap_or_default();
        if let Some(v) = views {
            details.push(("网民观点", v));
        }
        // A link for each person on the ladder's first step to accept with one click.
        let links = match (event, &self.linker) {
            (Some((e, d)), Some(linker)) => d
                .steps
                .first()
                .map(|(_, people)| {
                    people
                        .iter()
                        .filter_map(|(_, id)| self.config.response.org.person(id))
                        .map(|p| (format!("{}受理", p.name), linker.url(e.event_id, &p.id, LinkAction::Accept, now)))
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut to = mail.to.clone();
        // `[[receivers]]` a route names with `notify`, when the grade uses email.
        let groups = event
            .filter(|(e, _)| crate::deliver::fanout::uses_email(&self.config, e.grade))
            .map(|(_, d)| d.notify.iter().filter_map(|id| self.config.receiver(id)).collect::<Vec<_>>())
            .unwrap_or_default();
        let org = &self.config.response.org;
        let group_mail = groups.iter().flat_map(|g| g.mailboxes(org)).filter_map(|m| m.parse().ok());
        for person in first_step.into_iter().chain(group_mail) {
            if !to.iter().any(|m| m.email == person.email) {
                to.push(person);
            }
        }
        let recipients = to.iter().map(ToString::to_string).collect();
        Some(render_email(
            m,
            &AlertContext {
                source_name: &self.source.name,
                subject_prefix: &mail.subject_prefix,
                recipients,
                timezone: self.config.timezone,
                fetched_at: now,
                event: event.map(|(e, _)| e),
                details,
                links,
            },
        ))
    }

    /// SMS and IM notifications (per `[delivery]`) to the people on the ladder's first step
    /// and to the `[[receivers]]` the routes `notify`, when an event starts or rises.
    fn extra_channels(&self, e: &Assignment, d: &Decision, now: DateTime<Utc>) -> Vec<AlertMessage> {
        let org = &self.config.response.org;
        let heading = if e.rose() { "舆情升级" } else { "舆情提示" };
        let mut out = Vec::new();
        // `[[receivers]]` named by the routes' `notify` are told, not asked to accept.
        let details = format!("详情：yuqing event show {}", e.event_id);
        let short = crate::deliver::fanout::Short {
            heading,
            event_id: e.event_id,
            title: &e.event_title,
            grade: e.grade,
            action: &details,
        };
        for person in d.steps.first().map(|(_, people)| people.as_slice()).unwrap_or_default() {
            let Some(person) = org.person(&person.1) else { continue };
            let action = match &self.linker {
                Some(l) => format!("受理：{}", l.url(e.event_id, &person.id, LinkAction::Accept, now)),
                None => format!("yuqing event accept {} --by {}", e.event_id, person.id),
            };
            let short = crate::deliver::fanout::Short { action: &action, ..short };
            out.extend(crate::deliver::fanout::extra_channels(&self.config, person, Some(&d.owner), &short));
        }
        for group in d.notify.iter().filter_map(|id| self.config.receiver(id)) {
            let taken: Vec<String> = out.iter().map(|m| m.channel.clone()).collect();
            out.extend(crate::deliver::fanout::receiver_channels(&self.config, group, &short, &taken));
        }
        out
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Store>, PipelineError> {
        self.store.lock().map_err(|_| PipelineError::Poisoned)
    }
}

/// How old the event index may grow on PostgreSQL before it is read again from the store:
/// events other instances started meanwhile join it then. A copy of a story that two
/// instances first fetch within this time can start two events (ARCHITECTURE.md).
const SHARED_INDEX_AGE: std::time::Duration = std::time::Duration::from_secs(120);

/// Builds the event index from the store. On PostgreSQL (several instances) its new ids
/// come from blocks reserved in the store (`store::ids`) and it is rebuilt every
/// [`SHARED_INDEX_AGE`].
pub(crate) fn rebuild_events(store: &Store, events: &mut EventIndex, now: DateTime<Utc>) -> Result<(), StoreError> {
    let mut index = store.event_index(events.threshold(), events.window(), now)?;
    if store.dialect() == crate::store::sql::Dialect::Postgres {
        index.use_reserved_ids();
        index.rebuild_after(SHARED_INDEX_AGE);
    }
    *events = index;
    Ok(())
}

/// Gives the index a block of ids when it has none left for a new event (PostgreSQL).
fn ensure_event_id(store: &Store, events: &mut EventIndex) -> Result<(), StoreError> {
    if events.needs_ids(1)
        && let Some(block) = store.reserve_event_ids()?
    {
        events.add_ids(block);
    }
    Ok(())
}

/// An event's public reaction: interactions now (stored documents plus `pending` from the
/// batch), their growth over the last six hours when there was something to grow from, and
/// the spread of its copies.
fn reaction(
    store: &Store,
    event_id: i64,
    pending: i64,
    spread: Spread,
    now: DateTime<Utc>,
) -> Result<Reaction, StoreError> {
    let stored = store.event_interactions(event_id, now)?;
    let before = store.event_interactions(event_id, now - chrono::Duration::hours(6))?;
    let interactions = stored + pending;
    Ok(Reaction { interactions, growth: (before > 0).then(|| interactions as f64 / before as f64), spread })
}

/// Why a split was refused; `Display` is the message for staff.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("没有编号为 #{0} 的事件（用 yuqing event list 查看最近的事件）")]
    NoEvent(i64),
    #[error("文档 #{doc} 不在事件 #{event} 中；它的文档有：{members}（见 yuqing event show {event}）")]
    NotMember { doc: i64, event: i64, members: String },
    #[error("事件 #{0} 只有这一篇文档，无需拆分")]
    OnlyDocument(i64),
    #[error("文档 #{doc} 的信源 \"{source_id}\" 已不在 sources.toml 中，无法重新研判")]
    NoSource { doc: i64, source_id: String },
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// Where a split document went.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Its event now (`None`: it matches no keyword any more).
    pub event_id: Option<i64>,
    pub new_event: bool,
    pub event_title: String,
    /// Alerts queued about it (its new event's alert, or an update of the event it joined).
    pub alerts: usize,
}

/// Takes document `doc_id` out of event `event_id` (`yuqing event split`): the document is
/// matched and graded again and forms a new event or joins another one — never the event it
/// was split from — with that event's alert queued, and both events record the decision.
pub fn split(
    ctx: &Context,
    event_id: i64,
    doc_id: i64,
    (actor, reason): (&str, &str),
    now: DateTime<Utc>,
) -> Result<Split, SplitError> {
    let store_err = |e: StoreError| SplitError::Pipeline(e.into());
    let (path, stored) = {
        let store = ctx.store.lock().map_err(|_| PipelineError::Poisoned)?;
        (store.event_path(event_id).map_err(store_err)?, store.stored_document(doc_id).map_err(store_err)?)
    };
    if path.is_empty() {
        return Err(SplitError::NoEvent(event_id));
    }
    if !path.iter().any(|step| step.document_id == doc_id) {
        let members: Vec<String> = path.iter().map(|step| format!("#{}", step.document_id)).collect();
        return Err(SplitError::NotMember { doc: doc_id, event: event_id, members: members.join("、") });
    }
    if path.len() < 2 {
        return Err(SplitError::OnlyDocument(event_id));
    }
    let Some((_, matched)) = stored else { return Err(SplitError::NoEvent(event_id)) };
    let document = matched.document;
    let Some(source) = ctx.config.source(&document.source_id) else {
        return Err(SplitError::NoSource { doc: doc_id, source_id: document.source_id });
    };
    let job = Job::new(ctx, source);
    let done = job.match_and_commit(
        vec![document],
        (now, Some(event_id)),
        (|_: &Document| 0, |_: &Document| Vec::new()),
        |store, batch| {
            let item = batch.first().ok_or_else(|| StoreError::Corrupt("split: nothing to record".into()))?;
            store.split_document(event_id, doc_id, item, (actor, reason), now)?;
            Ok(Split {
                event_id: item.event.as_ref().map(|e| e.event_id),
                new_event: item.event.as_ref().is_some_and(|e| e.new_event),
                event_title: item.event.as_ref().map(|e| e.event_title.clone()).unwrap_or_default(),
                alerts: item.alert.iter().count() + item.extra.len(),
            })
        },
    )?;
    Ok(done)
}

/// What a dry run found: every entry (seen before or not), matched, nothing stored.
#[derive(Debug)]
pub struct Preview {
    pub documents: Vec<MatchedDocument>,
    pub encoding: &'static Encoding,
    pub charset_origin: CharsetOrigin,
    pub malformed: usize,
    /// Export files read although still being written (younger than `settle_secs`), with
    /// when the daemon will read them.
    pub waiting: Vec<(std::path::PathBuf, DateTime<Utc>)>,
}

/// Runs one source through fetch, decode, parse, article follow and matching without
/// touching the database or sending anything (`yuqing fetch ID --dry-run`).
pub async fn preview(
    config: &Config,
    fetcher: &Fetcher,
    matcher: &Matcher,
    source: &SourceConfig,
) -> Result<Preview, PipelineError> {
    if source.kind.is_export() {
        let (documents, waiting) = export::preview_exports(source, config.timezone, matcher)?;
        return Ok(Preview {
            documents,
            encoding: encoding_rs::UTF_8,
            charset_origin: CharsetOrigin::Default,
            malformed: 0,
            waiting: waiting.into_iter().map(|(p, at)| (p, DateTime::<Utc>::from(at))).collect(),
        });
    }
    let body = match fetcher.fetch(&source.location, &Validators::default(), &source.headers, source.robots).await? {
        Fetched::Body(body) => body,
        Fetched::NotModified => return Err(PipelineError::Task("unexpected 304 without validators".into())),
    };
    let mut parsed = parse_body(source, config.timezone, &body, Utc::now())?;
    for page in more_pages(fetcher, source, &body).await {
        parsed.entries.extend(parse_body(source, config.timezone, &page, Utc::now())?.entries);
    }
    let mut documents = extract::into_documents(&source.id, parsed.entries);
    if let Some(html) = source.html.as_ref().filter(|h| h.follow) {
        documents = follow_articles(fetcher, source, html, config.timezone, documents).await.0;
    }
    let documents = documents
        .into_iter()
        .map(|document| {
            let hits = matcher.find(&Fields::of(&document));
            MatchedDocument { document, hits, flags: Vec::new(), negativity: None, to_verify: None }
        })
        .collect();
    Ok(Preview {
        documents,
        encoding: parsed.encoding,
        charset_origin: parsed.charset_origin,
        malformed: parsed.malformed,
        waiting: Vec::new(),
    })
}
