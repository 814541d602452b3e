//! The daemon's small HTTP endpoint (`[http]`): one-click links from alert emails, a
//! health check and metrics. `GET /a/<token>` only shows what the link will do (mail
//! scanners fetch links; nothing may change on a GET); `POST /a/<token>` does it once — a
//! link used before answers with what it did then. Tampered, expired or unknown-person
//! links get a clear page and change nothing.
//!
//! `GET /healthz` answers 200 `ok` when the database answers, the scheduler advanced
//! within [`SCHEDULER_STALE`] and the outbox is not stuck (its oldest pending notification
//! is younger than [`OUTBOX_STUCK`], or something was delivered since it was queued);
//! otherwise 503 with the reasons in Chinese and English. `GET /metrics` is the Prometheus
//! text exposition of [`crate::pipeline::metrics`].

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::console::{self, Console, Request as ConsoleRequest};
use super::page::{METRICS, PLAIN, Page, page, shell};
use crate::config::Config;
use crate::daemon::Heartbeat;
use crate::notify::escape;
use crate::pipeline::metrics::{Metrics, Snapshot};
use crate::store::Store;
use crate::workflow::links::{Claim, LinkAction, LinkError, LinkKey, token_hash, verify};
use crate::workflow::{self, Command, FEEDBACK_KINDS, WorkflowError};

/// What the endpoint works with.
pub struct WebState {
    /// The configuration in force (follows reloads).
    pub config: watch::Receiver<Arc<Config>>,
    pub store: Arc<Mutex<Store>>,
    pub key: LinkKey,
    pub metrics: Arc<Metrics>,
    /// The schedule loop's heartbeat.
    pub heartbeat: Arc<Heartbeat>,
    /// The web console's sign-in limiter.
    pub console: Console,
    /// The daemon's current parts (follows reloads), for the console's split; `None` in
    /// tests of the endpoint alone.
    pub parts: Option<watch::Receiver<Arc<super::Parts>>>,
}

/// `/healthz` fails when the scheduler has not advanced for this long (it beats at least
/// every [`crate::daemon::BEAT_EVERY`]).
pub const SCHEDULER_STALE: Duration = Duration::from_secs(180);

/// `/healthz` fails when the oldest pending notification is older than this and nothing
/// was delivered since it was queued.
pub const OUTBOX_STUCK: Duration = Duration::from_secs(30 * 60);

/// The largest form body accepted.
const MAX_BODY: usize = 16 * 1024;

/// Serves connections until `shutdown` turns true.
pub async fn serve(listener: TcpListener, state: Arc<WebState>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| answer(state.clone(), req, peer.ip()));
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(10))
                        .serve_connection(TokioIo::new(stream), service);
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "http connection ended with an error");
                    }
                });
            }
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    return;
                }
            }
        }
    }
}

async fn answer(
    state: Arc<WebState>,
    req: Request<Incoming>,
    peer: std::net::IpAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let cookies = req
        .headers()
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ");
    let body = if method == Method::POST {
        match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return Ok(reply(page(StatusCode::PAYLOAD_TOO_LARGE, "提交的内容过长", "请缩短备注后重试。"))),
        }
    } else {
        Bytes::new()
    };
    let page = tokio::task::spawn_blocking(move || {
        let req = ConsoleRequest {
            method: &method,
            path: &path,
            query: &query,
            cookies: &cookies,
            body: &body,
            peer: Some(peer),
        };
        respond(&state, &req, Utc::now())
    })
    .await
    .unwrap_or_else(|_| page(StatusCode::INTERNAL_SERVER_ERROR, "服务内部错误", "请稍后重试。"));
    Ok(reply(page))
}

fn reply(page: Page) -> Response<Full<Bytes>> {
    let Page { status, html, content_type, headers: extra } = page;
    let mut response = Response::new(Full::new(Bytes::from(html)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let set = |h: &mut hyper::HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, hyper::header::HeaderValue::from_static(v));
    };
    set(headers, "content-type", content_type);
    set(headers, "cache-control", "no-store");
    set(headers, "x-frame-options", "DENY");
    set(headers, "referrer-policy", "no-referrer");
    set(
        headers,
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'",
    );
    for (name, value) in extra {
        if let Ok(value) = hyper::header::HeaderValue::from_str(&value) {
            headers.append(name, value);
        }
    }
    response
}

/// The page for one request at `now`.
pub fn respond(state: &WebState, req: &ConsoleRequest<'_>, now: DateTime<Utc>) -> Page {
    let (method, path, body) = (req.method, req.path, req.body);
    if !path.starts_with("/a/") && path != "/healthz" && path != "/metrics" {
        let config = state.config.borrow().clone();
        let parts = state.parts.as_ref().map(|p| p.borrow().clone());
        let pipeline = parts.as_ref().map(|p| p.ctx.as_ref());
        if let Some(page) = console::respond(&state.console, &config, &state.store, pipeline, req, now) {
            return page;
        }
    }
    match (method, path) {
        (&Method::GET, "/healthz") => health(state, now),
        (&Method::GET, "/metrics") => metrics(state, now),
        (m, p) if p.starts_with("/a/") && (m == Method::GET || m == Method::POST) => {
            link(state, m == Method::POST, &p[3..], body, now)
        }
        _ => page(StatusCode::NOT_FOUND, "页面不存在", "请使用提醒邮件中的链接，或打开工作台 /。"),
    }
}

/// 200 `ok`, or 503 with one line per problem (Chinese / English).
fn health(state: &WebState, now: DateTime<Utc>) -> Page {
    let mut problems: Vec<String> = Vec::new();
    let gauges = match state.store.lock() {
        Ok(store) => store.ping().and_then(|()| store.gauges()).ok(),
        Err(_) => None,
    };
    if gauges.is_none() {
        problems.push("数据库无法访问 / database unreachable".into());
    }
    let quiet = (now - state.heartbeat.last()).to_std().unwrap_or_default();
    if quiet > SCHEDULER_STALE {
        problems.push(format!(
            "调度已 {} 秒没有推进 / scheduler has not advanced for {} s",
            quiet.as_secs(),
            quiet.as_secs()
        ));
    }
    if let Some(g) = &gauges
        && let Some(oldest) = g.oldest_pending_at
    {
        let age = (now - oldest).to_std().unwrap_or_default();
        let delivered_since = g.last_sent_at.is_some_and(|t| t >= oldest);
        if age > OUTBOX_STUCK && !delivered_since {
            let minutes = age.as_secs() / 60;
            problems.push(format!(
                "发件箱堵塞：最早的待发提醒已等待 {minutes} 分钟，此后没有发送成功 / outbox stuck: oldest pending notification waiting {minutes} min, nothing delivered since ({} pending)",
                g.outbox_pending
            ));
        }
    }
    match problems.is_empty() {
        true => Page::typed(StatusCode::OK, "ok\n".into(), PLAIN),
        false => Page::typed(StatusCode::SERVICE_UNAVAILABLE, problems.join("\n") + "\n", PLAIN),
    }
}

/// The metrics, with the store's gauges read now.
fn metrics(state: &WebState, now: DateTime<Utc>) -> Page {
    let config = state.config.borrow().clone();
    let mut snapshot = Snapshot {
        scheduler_heartbeat: Some(state.heartbeat.last()),
        disk: crate::store::disk::usage(&config.storage_path).ok(),
        ..Snapshot::default()
    };
    match state.store.lock() {
        Ok(store) => {
            match store.gauges() {
                Ok(g) => snapshot.gauges = Some(g),
                Err(e) => tracing::warn!(error = %e, "metrics: cannot read the store's counts"),
            }
            match crate::pipeline::metrics::deadline_breaches(&store, &config, now) {
                Ok((events, by_clock)) => {
                    snapshot.breached_events = Some(events);
                    snapshot.breaches = Some(by_clock);
                }
                Err(e) => tracing::warn!(error = %e, "metrics: cannot read open events"),
            }
        }
        Err(_) => tracing::warn!("metrics: the database lock is poisoned"),
    }
    Page::typed(StatusCode::OK, state.metrics.render(&snapshot, now), METRICS)
}

fn link(state: &WebState, post: bool, token: &str, body: &[u8], now: DateTime<Utc>) -> Page {
    let config = state.config.borrow().clone();
    let fallback =
        "也可以在服务器上用命令办理，例如 yuqing event accept 事件编号 --by 人员id；如有疑问请联系政务公开办。";
    let claim = match verify(&state.key, token, now) {
        Ok(c) => c,
        Err(e @ LinkError::Expired(_)) => {
            let hint = format!("{e}。链接有效期有限，请查看最近的提醒邮件。{fallback}");
            return page(StatusCode::GONE, "链接已过期", &hint);
        }
        Err(e) => return page(StatusCode::BAD_REQUEST, "链接无效", &format!("{e}，未做任何操作。{fallback}")),
    };
    let org = &config.response.org;
    if org.person(&claim.person).is_none() {
        let hint = format!("链接所属人员 \"{}\" 已不在配置中，未做任何操作。{fallback}", claim.person);
        return page(StatusCode::FORBIDDEN, "无权操作", &hint);
    }
    let Ok(mut store) = state.store.lock() else {
        return page(StatusCode::INTERNAL_SERVER_ERROR, "服务内部错误", "请稍后重试。");
    };
    let hash = token_hash(token);
    match store.link_use(&hash) {
        Ok(Some(used)) => {
            let when = used.at.with_timezone(&config.timezone).format("%Y-%m-%d %H:%M");
            return page(
                StatusCode::OK,
                "该链接已使用过",
                &format!("{when}：{}（再次点击不会重复办理）", used.outcome),
            );
        }
        Ok(None) => {}
        Err(e) => return page(StatusCode::INTERNAL_SERVER_ERROR, "服务内部错误", &e.to_string()),
    }
    let title = match store.event_timeline(claim.event_id) {
        Ok(Some(t)) => {
            let grade = t.event.grade.map_or("未分级", |g| g.label_zh());
            format!("事件 #{} {}（{grade}）", t.event.id, t.event.title)
        }
        Ok(None) => {
            return page(StatusCode::NOT_FOUND, "事件不存在", &format!("没有编号为 #{} 的事件。", claim.event_id));
        }
        Err(e) => return page(StatusCode::INTERNAL_SERVER_ERROR, "服务内部错误", &e.to_string()),
    };
    if !post {
        return form(&claim, &org.person_label(&claim.person), &title);
    }
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string());
    let note = field("note").filter(|n| !n.is_empty());
    let command = match claim.action {
        LinkAction::Accept => Command::Accept { note },
        LinkAction::Feedback => Command::Feedback {
            kind: field("kind").unwrap_or_default(),
            link: field("link").filter(|l| !l.is_empty()),
            note,
        },
    };
    match workflow::apply(&mut store, &config, claim.event_id, &claim.person, &command, now) {
        Ok(done) => {
            if let Err(e) = store.record_link_use(&hash, (claim.event_id, &claim.person, command.name()), &done, now) {
                tracing::error!(error = %e, "could not record a used link");
            }
            tracing::info!(event = claim.event_id, person = %claim.person, action = command.name(), "link used");
            page(StatusCode::OK, "已办理", &done)
        }
        Err(WorkflowError::Store(e)) => page(StatusCode::INTERNAL_SERVER_ERROR, "服务内部错误", &e.to_string()),
        Err(e) => page(StatusCode::BAD_REQUEST, "未能办理", &e.to_string()),
    }
}

/// The confirmation page a GET shows: what will happen, and the button (and fields) to do it.
fn form(claim: &Claim, person: &str, title: &str) -> Page {
    let fields = match claim.action {
        LinkAction::Accept => {
            "<p><label>备注（可选）<br><textarea name=\"note\" rows=\"2\" cols=\"40\"></textarea></label></p>"
                .to_string()
        }
        LinkAction::Feedback => {
            let options: String =
                FEEDBACK_KINDS.iter().map(|(k, label)| format!("<option value=\"{k}\">{label}</option>")).collect();
            format!(
                "<p><label>回应方式<br><select name=\"kind\">{options}</select></label></p>\
                 <p><label>发布链接<br><input name=\"link\" size=\"50\" placeholder=\"https://\"></label></p>\
                 <p><label>说明（可选）<br><textarea name=\"note\" rows=\"2\" cols=\"40\"></textarea></label></p>"
            )
        }
    };
    let html = shell(
        &format!("{}：{}", claim.action.label_zh(), title),
        &format!(
            "<p>{}</p><p>办理人：{}</p><form method=\"post\">{fields}<p><button type=\"submit\">确认{}</button></p></form>",
            escape(title),
            escape(person),
            claim.action.label_zh()
        ),
    );
    Page::html(StatusCode::OK, html)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state over a fresh database in `dir` (with a minimal valid configuration).
    fn state(dir: &std::path::Path) -> WebState {
        std::fs::write(dir.join("yuqing.toml"), "[storage]\npath = \"yuqing.db\"\n").unwrap_or_default();
        std::fs::write(dir.join("sources.toml"), "").unwrap_or_default();
        std::fs::create_dir_all(dir.join("keywords")).unwrap_or_default();
        std::fs::write(dir.join("keywords/a.txt"), "抚恤金\n").unwrap_or_default();
        let loaded = Config::load(dir);
        let Some(config) = loaded.config else { panic!("config: {:?}", loaded.diagnostics.items) };
        let store = Store::open(&config.storage_path).unwrap_or_else(|e| panic!("{e}"));
        WebState {
            config: watch::channel(Arc::new(config)).1,
            store: Arc::new(Mutex::new(store)),
            key: LinkKey::new(b"test"),
            metrics: Arc::new(Metrics::new()),
            heartbeat: Arc::new(Heartbeat::new(Utc::now())),
            console: Console::default(),
            parts: None,
        }
    }

    fn get(state: &WebState, path: &str, now: DateTime<Utc>) -> Page {
        let req = ConsoleRequest { method: &Method::GET, path, query: "", cookies: "", body: b"", peer: None };
        respond(state, &req, now)
    }

    fn notice(subject: &str) -> crate::model::AlertMessage {
        crate::model::AlertMessage {
            channel: "email".into(),
            recipients: vec!["admin@example.gov.cn".into()],
            subject: subject.into(),
            body_text: String::new(),
            body_html: String::new(),
        }
    }

    #[test]
    fn health_fails_when_the_scheduler_stalls_or_the_outbox_is_stuck() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let state = state(dir.path());
        let now = Utc::now();
        let ok = get(&state, "/healthz", now);
        assert_eq!((ok.status, ok.html.as_str()), (StatusCode::OK, "ok\n"));

        // A pending notification queued an hour ago, nothing delivered since.
        let queued = now - chrono::Duration::hours(1);
        if let Ok(mut store) = state.store.lock() {
            store.queue_admin_notice("config_invalid", &notice("x"), queued).unwrap_or_else(|e| panic!("{e}"));
        }
        let stuck = get(&state, "/healthz", now);
        assert_eq!(stuck.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(stuck.html.contains("发件箱堵塞") && stuck.html.contains("outbox stuck"), "{}", stuck.html);
        // Young enough: fine.
        let early = get(&state, "/healthz", queued + chrono::Duration::minutes(5));
        assert_eq!(early.status, StatusCode::OK, "{}", early.html);

        // The scheduler has not beaten for ten minutes.
        state.heartbeat.beat(queued);
        let stalled = get(&state, "/healthz", queued + chrono::Duration::minutes(10));
        assert_eq!(stalled.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(stalled.html.contains("scheduler has not advanced for 600 s"), "{}", stalled.html);
        assert!(!stalled.html.contains("outbox"), "{}", stalled.html);
    }

    #[test]
    fn metrics_are_served_in_the_text_format() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let state = state(dir.path());
        let page = get(&state, "/metrics", Utc::now());
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.content_type, METRICS);
        for series in ["yuqing_outbox_pending 0", "yuqing_deadline_breaches 0", "yuqing_documents_total 0"] {
            assert!(page.html.lines().any(|l| l == series), "{series} in:\n{}", page.html);
        }
        // The database file exists and its disk has room: both are positive numbers.
        for series in ["yuqing_database_bytes{file=\"db\"} ", "yuqing_disk_free_bytes "] {
            let value = page.html.lines().find_map(|l| l.strip_prefix(series)).and_then(|v| v.parse::<u64>().ok());
            assert!(value.is_some_and(|v| v > 0), "{series} in:\n{}", page.html);
        }
    }
}
