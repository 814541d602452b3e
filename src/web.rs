//! The daemon's small HTTP endpoint (`[http]`): one-click links from alert emails and a
//! health check. `GET /a/<token>` only shows what the link will do (mail scanners fetch
//! links; nothing may change on a GET); `POST /a/<token>` does it once — a link used before
//! answers with what it did then. Tampered, expired or unknown-person links get a clear
//! page and change nothing. `GET /healthz` answers when the database does.

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

use crate::config::Config;
use crate::links::{Claim, LinkAction, LinkError, LinkKey, token_hash, verify};
use crate::notify::escape;
use crate::store::Store;
use crate::workflow::{self, Command, FEEDBACK_KINDS, WorkflowError};

/// What the endpoint works with.
pub struct WebState {
    pub config: Arc<Config>,
    pub store: Arc<Mutex<Store>>,
    pub key: LinkKey,
}

/// A page to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub status: StatusCode,
    pub html: String,
}

/// The largest form body accepted.
const MAX_BODY: usize = 16 * 1024;

/// Serves connections until `shutdown` turns true.
pub async fn serve(listener: TcpListener, state: Arc<WebState>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| answer(state.clone(), req));
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

async fn answer(state: Arc<WebState>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let body = if method == Method::POST {
        match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return Ok(reply(page(StatusCode::PAYLOAD_TOO_LARGE, "提交的内容过长", "请缩短备注后重试。"))),
        }
    } else {
        Bytes::new()
    };
    let page = tokio::task::spawn_blocking(move || respond(&state, &method, &path, &body, Utc::now()))
        .await
        .unwrap_or_else(|_| page(StatusCode::INTERNAL_SERVER_ERROR, "服务内部错误", "请稍后重试。"));
    Ok(reply(page))
}

fn reply(page: Page) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(page.html)));
    *response.status_mut() = page.status;
    let headers = response.headers_mut();
    let set = |h: &mut hyper::HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, hyper::header::HeaderValue::from_static(v));
    };
    set(headers, "content-type", "text/html; charset=utf-8");
    set(headers, "cache-control", "no-store");
    set(headers, "x-frame-options", "DENY");
    set(headers, "referrer-policy", "no-referrer");
    set(headers, "content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
    response
}

/// The page for one request at `now`.
pub fn respond(state: &WebState, method: &Method, path: &str, body: &[u8], now: DateTime<Utc>) -> Page {
    match (method, path) {
        (&Method::GET, "/healthz") => {
            let ok = state.store.lock().map(|s| s.ping().is_ok()).unwrap_or(false);
            match ok {
                true => Page { status: StatusCode::OK, html: "ok\n".into() },
                false => Page { status: StatusCode::SERVICE_UNAVAILABLE, html: "database unavailable\n".into() },
            }
        }
        (m, p) if p.starts_with("/a/") && (m == Method::GET || m == Method::POST) => {
            link(state, m == Method::POST, &p[3..], body, now)
        }
        _ => page(StatusCode::NOT_FOUND, "页面不存在", "请使用提醒邮件中的链接。"),
    }
}

fn link(state: &WebState, post: bool, token: &str, body: &[u8], now: DateTime<Utc>) -> Page {
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
    let org = &state.config.response.org;
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
            let when = used.at.with_timezone(&state.config.timezone).format("%Y-%m-%d %H:%M");
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
    match workflow::apply(&mut store, &state.config, claim.event_id, &claim.person, &command, now) {
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
    Page { status: StatusCode::OK, html }
}

fn page(status: StatusCode, heading: &str, text: &str) -> Page {
    Page { status, html: shell(heading, &format!("<p>{}</p>", escape(text))) }
}

fn shell(heading: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{h}</title></head><body style=\"font-family:sans-serif;line-height:1.6;max-width:40em;margin:2em auto\">\
         <h2>{h}</h2>{body}<p style=\"color:#666;font-size:12px\">yuqing 舆情监测系统</p></body></html>",
        h = escape(heading)
    )
}
