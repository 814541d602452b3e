//! The office's web console (工作台), served by the daemon's `[http]` endpoint: the open
//! events with their clocks, each event's timeline, the response workflow as forms, and the
//! Art. 10/15 report — for staff signed in with their `[[people]]` id.
//!
//! Rules kept here: nothing changes on a GET; every POST needs a signed-in session and a
//! one-time form token made for that session and that path ([`auth`]); a person acts in
//! their own name only (the form has no "by"), and only on events they may act on
//! ([`may_act`]): the owning section's head and liaison, the openness office (政务公开办),
//! the leaders in charge and the principal. Actions go through [`crate::workflow::apply`],
//! the same state machine and audit trail as `yuqing event …` and the one-click links.

pub mod auth;
mod pages;

use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use hyper::{Method, StatusCode};

use super::page::Page;
use crate::config::Config;
use crate::pipeline::{Context, SplitError};
use crate::report::timeline::view;
use crate::report::{AssessmentStatus, DeadlineStatus, Period, Report};
use crate::response::Organisation;
use crate::store::{ConsoleSession, Store};
use crate::workflow::{self, Command, FEEDBACK_KINDS, WorkflowError};
use auth::{COOKIE, Limiter};

/// What the console keeps between requests (sessions live in the store).
#[derive(Debug, Default)]
pub struct Console {
    pub limiter: Limiter,
}

/// One request, as the console needs it.
pub struct Request<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    /// The query string without `?` ("" when none).
    pub query: &'a str,
    /// The `Cookie` header ("" when none).
    pub cookies: &'a str,
    pub body: &'a [u8],
    pub peer: Option<IpAddr>,
}

/// The actions a form may post, with their Chinese names.
const ACTIONS: [(&str, &str); 9] = [
    ("assess", "会商研判"),
    ("split", "拆分"),
    ("accept", "受理"),
    ("transfer", "转办"),
    ("feedback", "反馈"),
    ("close", "办结"),
    ("reopen", "重新打开"),
    ("downgrade", "降级"),
    ("mute", "静默"),
];

/// The console's answer, or `None` when the path is not one of its pages.
pub fn respond(
    console: &Console,
    config: &Config,
    store: &Mutex<Store>,
    pipeline: Option<&Context>,
    req: &Request<'_>,
    now: DateTime<Utc>,
) -> Option<Page> {
    let get = req.method == Method::GET;
    let post = req.method == Method::POST;
    let event_path = req.path.strip_prefix("/events/");
    let ours = matches!(req.path, "/" | "/login" | "/logout" | "/report" | "/search") || event_path.is_some();
    if !ours {
        return None;
    }
    if !get && !post {
        return Some(message(StatusCode::METHOD_NOT_ALLOWED, "不支持的请求", "请从工作台的页面和按钮操作。"));
    }
    let Ok(mut store) = store.lock() else {
        return Some(message(StatusCode::INTERNAL_SERVER_ERROR, "服务内部错误", "数据库不可用，请稍后重试。"));
    };
    if req.path == "/login" {
        return Some(if post { sign_in(console, config, &mut store, req, now) } else { html(pages::login(None, "")) });
    }
    let session = match session(&store, req.cookies, now) {
        Some(s) => s,
        None if get => return Some(Page::redirect("/login")),
        None => return Some(message(StatusCode::FORBIDDEN, "请先登录", "登录已过期或尚未登录，未做任何操作。")),
    };
    let me = config.response.org.person_label(&session.person);
    let Ok(logout) = auth::form_token(&session.form_key, "/logout") else {
        return Some(message(StatusCode::INTERNAL_SERVER_ERROR, "服务内部错误", "无法生成表单令牌。"));
    };
    let who = (me.as_str(), logout.as_str());
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(req.body).into_owned().collect();
    if post && let Err(refusal) = check_form(&mut store, &session, req.path, &fields, now) {
        return Some(refusal);
    }
    Some(match (post, req.path, event_path) {
        (true, "/logout", _) => sign_out(&mut store, req.cookies, config),
        (false, "/", _) => dashboard(config, &store, who, now),
        (false, "/report", _) => report(config, &store, req.query, now),
        (false, "/search", _) => search(config, &store, who, req.query),
        (false, _, Some(rest)) => match rest.parse::<i64>() {
            Ok(id) => {
                let done = query_value(req.query, "done")
                    .and_then(|d| ACTIONS.iter().find(|(a, _)| *a == d))
                    .map(|(_, label)| format!("已办理：{label}"));
                event_page(config, &store, &session, who, id, done.as_deref(), None, StatusCode::OK, now)
            }
            Err(_) => not_found(),
        },
        (true, _, Some(rest)) => match rest.split_once('/').and_then(|(id, a)| Some((id.parse::<i64>().ok()?, a))) {
            Some((id, "split")) => {
                // The split runs the pipeline, which takes the store's lock itself.
                let owner = store.event_timeline(id).ok().flatten().map(|t| t.event.owner);
                drop(store);
                split(config, pipeline, &session, id, owner, &fields, now)
            }
            Some((id, action)) => act(config, &mut store, &session, who, id, action, &fields, now),
            None => not_found(),
        },
        _ => not_found(),
    })
}

/// Who may act on an event owned by `owner`: the principal, every leader in charge, the
/// openness office's head and liaison, and the owning section's head and liaison.
pub fn may_act(org: &Organisation, person: &str, owner: Option<&str>) -> bool {
    let is = |p: &Option<String>| p.as_deref() == Some(person);
    let staff = |id: &str| org.section(id).is_some_and(|s| is(&s.head) || is(&s.liaison));
    is(&org.principal)
        || org.sections.iter().any(|s| is(&s.leader_in_charge))
        || staff(org.gkb.as_deref().unwrap_or("gkb"))
        || owner.is_some_and(staff)
}

fn html(body: String) -> Page {
    Page::html(StatusCode::OK, body)
}

fn message(status: StatusCode, heading: &str, text: &str) -> Page {
    let body = format!("<p>{}</p><p><a href=\"/\">返回工作台</a></p>", crate::notify::escape(text));
    Page::html(status, pages::layout(heading, None, &body, false))
}

fn not_found() -> Page {
    message(StatusCode::NOT_FOUND, "页面不存在", "请从工作台进入。")
}

fn query_value(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim())
}

fn session_token(cookies: &str) -> Option<&str> {
    cookies.split(';').find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('=')).filter(|t| !t.is_empty())
}

fn session(store: &Store, cookies: &str, now: DateTime<Utc>) -> Option<ConsoleSession> {
    let token = session_token(cookies)?;
    store.console_session(&auth::sha256_hex(token), now).ok().flatten()
}

/// A POST's form token: made for this session and path, and not used before.
fn check_form(
    store: &mut Store,
    session: &ConsoleSession,
    path: &str,
    fields: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<(), Page> {
    let refused = || {
        message(
            StatusCode::FORBIDDEN,
            "表单已失效",
            "该表单不是本次登录打开的页面提交的，或已提交过，未做任何操作。请刷新页面后重试。",
        )
    };
    let token = field(fields, "form").unwrap_or("");
    if !auth::form_token_valid(&session.form_key, path, token) {
        return Err(refused());
    }
    match store.use_console_form(&auth::sha256_hex(token), now) {
        Ok(true) => Ok(()),
        Ok(false) => Err(refused()),
        Err(e) => Err(message(StatusCode::INTERNAL_SERVER_ERROR, "服务内部错误", &e.describe_zh())),
    }
}

fn cookie(config: &Config, value: &str, max_age: i64) -> String {
    let secure = config.http.as_ref().is_some_and(|h| h.public_url.starts_with("https://"));
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

fn sign_in(console: &Console, config: &Config, store: &mut Store, req: &Request<'_>, now: DateTime<Utc>) -> Page {
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(req.body).into_owned().collect();
    let person = field(&fields, "person").unwrap_or("").to_string();
    let password = fields.iter().find(|(k, _)| k == "password").map_or("", |(_, v)| v.as_str());
    let ip_key = req.peer.map(|ip| format!("ip:{ip}"));
    let locked = console.limiter.check(&person, auth::MAX_FAILURES, now).err().or_else(|| {
        ip_key.as_deref().and_then(|k| console.limiter.check(k, auth::MAX_FAILURES_PER_ADDRESS, now).err())
    });
    if let Some(until) = locked {
        let until = until.with_timezone(&config.timezone).format("%H:%M");
        let text = format!("登录失败次数过多，请在 {until} 后再试；忘记密码请联系管理员重设（yuqing user passwd）。");
        return Page::html(StatusCode::TOO_MANY_REQUESTS, pages::login(Some(&text), &person));
    }
    let known = config.response.org.person(&person).is_some();
    let hash = if known { store.console_password(&person).ok().flatten() } else { None };
    if !hash.is_some_and(|h| auth::verify_password(&h, password)) {
        console.limiter.failed(&person, now);
        if let Some(k) = &ip_key {
            console.limiter.failed(k, now);
        }
        tracing::warn!(person = %person, peer = ?req.peer, "console sign-in failed");
        return Page::html(StatusCode::UNAUTHORIZED, pages::login(Some("人员 id 或密码不正确。"), &person));
    }
    console.limiter.succeeded(&person);
    let ttl = config.http.as_ref().map_or(std::time::Duration::from_secs(8 * 3600), |h| h.session_ttl);
    let (Ok(token), Ok(form_key)) = (auth::random_hex(32), auth::random_hex(32)) else {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "服务内部错误", "无法生成会话。");
    };
    let expires_at = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(8));
    let session = ConsoleSession { person: person.clone(), form_key, expires_at };
    if let Err(e) = store.create_console_session(&auth::sha256_hex(&token), &session, now) {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "服务内部错误", &e.describe_zh());
    }
    tracing::info!(person = %person, "console sign-in");
    Page::redirect("/").with_header("set-cookie", cookie(config, &token, ttl.as_secs() as i64))
}

fn sign_out(store: &mut Store, cookies: &str, config: &Config) -> Page {
    if let Some(token) = session_token(cookies)
        && let Err(e) = store.end_console_session(&auth::sha256_hex(token))
    {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "服务内部错误", &e.describe_zh());
    }
    Page::redirect("/login").with_header("set-cookie", cookie(config, "", 0))
}

fn dashboard(config: &Config, store: &Store, who: (&str, &str), now: DateTime<Utc>) -> Page {
    let org = &config.response.org;
    let tz = config.timezone;
    let today = now.with_timezone(&tz).date_naive();
    let from = today.checked_sub_days(chrono::Days::new(u64::from(config.retention.assessment_days))).unwrap_or(today);
    let report = match Period::new(from, today, tz)
        .map_err(|e| e.to_string())
        .and_then(|p| Report::load(store, config, p, now).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => return message(StatusCode::INTERNAL_SERVER_ERROR, "无法读取事件", &e),
    };
    let mut open: Vec<_> = report.open_events().collect();
    open.sort_by_key(|e| (e.grade.map_or(9, |g| g as u8), std::cmp::Reverse(e.id)));
    let rows: Vec<pages::Row> = open
        .iter()
        .take(200)
        .map(|e| {
            let latest = store.latest_copy(e.id).ok().flatten().map_or_else(String::new, |(source_id, seen_at)| {
                let source = config.source(&source_id).map_or(source_id.as_str(), |s| s.name.as_str());
                format!("{} {}", seen_at.with_timezone(&tz).format("%m-%d %H:%M"), source)
            });
            let owner = e.flow.section.as_deref();
            let (accountable, _) = crate::response::route::accountable(org, e.grade, owner);
            let state = match (e.flow.accepted_at, e.flow.feedback.is_empty()) {
                (None, _) => "待受理",
                (Some(_), true) => "已受理",
                (Some(_), false) => "已反馈",
            };
            pages::Row {
                id: e.id,
                title: e.title.clone(),
                grade: e.grade.map_or("未分级", |g| g.label_zh()).to_string(),
                css: match e.grade {
                    Some(crate::model::Grade::I) => "g1",
                    Some(crate::model::Grade::II) => "g2",
                    _ => "",
                },
                owner: owner.map_or_else(|| "未分办".to_string(), |o| org.section_label(o)),
                accountable: accountable.map_or_else(|| "—".to_string(), |p| org.person_label(&p)),
                clocks: e
                    .deadlines
                    .iter()
                    .filter_map(|d| match d.status {
                        DeadlineStatus::Running => Some((d.kind.label_zh(), d.due, false)),
                        DeadlineStatus::Missed { late_at: None } => Some((d.kind.label_zh(), d.due, true)),
                        _ => None,
                    })
                    .chain(match e.assessment(now) {
                        AssessmentStatus::Due(due) => Some(("会商研判", due, false)),
                        AssessmentStatus::Overdue(due) => Some(("会商研判", due, true)),
                        _ => None,
                    })
                    .collect(),
                latest,
                engagement: store.latest_interactions(e.id).ok().flatten(),
                state: state.to_string(),
            }
        })
        .collect();
    let states = store.source_states().unwrap_or_default();
    let enabled: Vec<_> = config.enabled_sources().collect();
    let failing: Vec<&str> = enabled
        .iter()
        .filter(|s| states.iter().any(|st| st.source_id == s.id && st.consecutive_failures > 0))
        .map(|s| s.name.as_str())
        .collect();
    let sources_line = match failing.is_empty() {
        true => format!("信源：启用 {} 个，全部正常", enabled.len()),
        false => format!("信源：启用 {} 个，故障 {} 个（{}）", enabled.len(), failing.len(), failing.join("、")),
    };
    let outbox_line = match store.outbox_status() {
        Ok(s) if s.pending == 0 => "发件箱：没有待发送的提醒".to_string(),
        Ok(s) => format!("发件箱：{} 条待发送，其中 {} 条发送失败待重试", s.pending, s.failing),
        Err(e) => format!("发件箱：无法读取（{}）", e.describe_zh()),
    };
    html(pages::dashboard(who, &sources_line, &outbox_line, &rows, now, tz))
}

#[allow(clippy::too_many_arguments)]
fn event_page(
    config: &Config,
    store: &Store,
    session: &ConsoleSession,
    who: (&str, &str),
    id: i64,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
    now: DateTime<Utc>,
) -> Page {
    let timeline = match store.event_timeline(id) {
        Ok(Some(t)) => t,
        Ok(None) => return message(StatusCode::NOT_FOUND, "事件不存在", &format!("没有编号为 #{id} 的事件。")),
        Err(e) => return message(StatusCode::INTERNAL_SERVER_ERROR, "服务内部错误", &e.describe_zh()),
    };
    let signals = store.event_signals(id).unwrap_or_default();
    let org = &config.response.org;
    let forms = if may_act(org, &session.person, timeline.event.owner.as_deref()) {
        let token = |action: &str| auth::form_token(&session.form_key, &format!("/events/{id}/{action}"));
        let made = (|| -> Result<pages::Forms, auth::AuthError> {
            Ok(pages::Forms {
                accept: token("accept")?,
                transfer: token("transfer")?,
                feedback: token("feedback")?,
                close: token("close")?,
                reopen: token("reopen")?,
                downgrade: token("downgrade")?,
                mute: token("mute")?,
                split: token("split")?,
                assess: token("assess")?,
                documents: timeline.copies.iter().map(|c| (c.document_id, c.title.clone())).collect(),
                sections: org.sections.iter().map(|s| (s.id.clone(), org.section_label(&s.id))).collect(),
                feedback_kinds: FEEDBACK_KINDS.to_vec(),
            })
        })();
        made.ok()
    } else {
        None
    };
    let v = view(config, &timeline, now);
    Page::html(status, pages::event(who, id, &v, &signals, forms.as_ref(), notice, error, now, config.timezone))
}

#[allow(clippy::too_many_arguments)]
fn act(
    config: &Config,
    store: &mut Store,
    session: &ConsoleSession,
    who: (&str, &str),
    id: i64,
    action: &str,
    fields: &[(String, String)],
    now: DateTime<Utc>,
) -> Page {
    let org = &config.response.org;
    let owner = match store.event_timeline(id) {
        Ok(Some(t)) => t.event.owner,
        Ok(None) => return message(StatusCode::NOT_FOUND, "事件不存在", &format!("没有编号为 #{id} 的事件。")),
        Err(e) => return message(StatusCode::INTERNAL_SERVER_ERROR, "服务内部错误", &e.describe_zh()),
    };
    if !may_act(org, &session.person, owner.as_deref()) {
        let owner = owner.as_deref().map_or_else(|| "未分办".to_string(), |o| org.section_label(o));
        return message(
            StatusCode::FORBIDDEN,
            "无权办理",
            &format!("事件 #{id} 由 {owner} 牵头；只有该科室的人员、政务公开办和领导可以办理，未做任何操作。"),
        );
    }
    let text = |name: &str| field(fields, name).filter(|v| !v.is_empty()).map(str::to_string);
    let required = |name: &str, what: &str| text(name).ok_or_else(|| format!("请填写{what}。"));
    let command = match action {
        "accept" => Ok(Command::Accept { note: text("note") }),
        "close" => Ok(Command::Close { note: text("note") }),
        "reopen" => Ok(Command::Reopen { note: text("note") }),
        "transfer" => required("to", "转至的科室")
            .and_then(|to| Ok(Command::Transfer { to, reason: required("reason", "转办理由")? })),
        "feedback" => {
            Ok(Command::Feedback { kind: text("kind").unwrap_or_default(), link: text("link"), note: text("note") })
        }
        "downgrade" => required("to", "降至的级别").and_then(|to| {
            let to = crate::model::Grade::parse(&to).ok_or_else(|| format!("无法识别的级别 \"{to}\"。"))?;
            Ok(Command::Downgrade { to, reason: required("reason", "降级理由")? })
        }),
        "mute" => {
            let hours = text("hours").and_then(|h| h.parse::<i64>().ok()).filter(|h| (1..=720).contains(h));
            match hours {
                Some(h) => required("reason", "静默理由")
                    .map(|reason| Command::Mute { until: now + chrono::Duration::hours(h), reason }),
                None => Err("静默时长请写 1 到 720 之间的小时数。".to_string()),
            }
        }
        _ => return not_found(),
    };
    let result =
        command.map_err(Some).and_then(|c| match workflow::apply(store, config, id, &session.person, &c, now) {
            Ok(done) => {
                tracing::info!(event = id, person = %session.person, action, "console action");
                Ok(done)
            }
            Err(WorkflowError::Store(e)) => Err(Some(e.describe_zh())),
            Err(e) => Err(Some(e.to_string())),
        });
    match result {
        Ok(_) => Page::redirect(&format!("/events/{id}?done={action}")),
        Err(reason) => {
            let reason = reason.unwrap_or_default();
            event_page(
                config,
                store,
                session,
                who,
                id,
                None,
                Some(&format!("未能办理：{reason}")),
                StatusCode::CONFLICT,
                now,
            )
        }
    }
}

/// Takes a wrongly merged document out of an event (`yuqing event split`), in the daemon's
/// own pipeline so that its event index learns of it at once.
fn split(
    config: &Config,
    pipeline: Option<&Context>,
    session: &ConsoleSession,
    id: i64,
    owner: Option<Option<String>>,
    fields: &[(String, String)],
    now: DateTime<Utc>,
) -> Page {
    let org = &config.response.org;
    let Some(owner) = owner else {
        return message(StatusCode::NOT_FOUND, "事件不存在", &format!("没有编号为 #{id} 的事件。"));
    };
    if !may_act(org, &session.person, owner.as_deref()) {
        return message(StatusCode::FORBIDDEN, "无权办理", &format!("事件 #{id} 不由您的科室牵头，未做任何操作。"));
    }
    let Some(ctx) = pipeline else {
        return message(StatusCode::SERVICE_UNAVAILABLE, "暂不能拆分", "守护进程尚未就绪，请稍后重试。");
    };
    let doc = field(fields, "doc").and_then(|d| d.trim_start_matches('#').parse::<i64>().ok());
    let reason = field(fields, "reason").filter(|r| !r.is_empty());
    let (Some(doc), Some(reason)) = (doc, reason) else {
        return message(StatusCode::BAD_REQUEST, "未能拆分", "请选择要拆出的文档并填写理由，未做任何操作。");
    };
    match crate::pipeline::split(ctx, id, doc, (&session.person, reason), now) {
        Ok(done) => {
            tracing::info!(event = id, document = doc, person = %session.person, "console split");
            match done.event_id {
                Some(e) => Page::redirect(&format!("/events/{e}")),
                None => Page::redirect(&format!("/events/{id}?done=split")),
            }
        }
        Err(SplitError::Pipeline(e)) => message(StatusCode::INTERNAL_SERVER_ERROR, "服务内部错误", &e.describe_zh()),
        Err(e) => message(StatusCode::CONFLICT, "未能拆分", &e.to_string()),
    }
}

/// Results per search page.
const PAGE_SIZE: usize = 20;

fn search(config: &Config, store: &Store, who: (&str, &str), query: &str) -> Page {
    let tz = config.timezone;
    let value = |name: &str| query_value(query, name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let form = pages::SearchForm {
        q: value("q").unwrap_or_default(),
        source: value("source"),
        grade: value("grade"),
        category: value("category"),
        from: value("from"),
        to: value("to"),
        page: value("page").and_then(|p| p.parse::<usize>().ok()).filter(|p| *p >= 1).unwrap_or(1),
    };
    let sources: Vec<(String, String)> = config.sources.iter().map(|s| (s.id.clone(), s.name.clone())).collect();
    let nothing_asked = form.q.is_empty() && form.source.is_none() && form.grade.is_none() && form.category.is_none();
    if nothing_asked && form.from.is_none() && form.to.is_none() {
        return html(pages::search(who, &form, &sources, None, tz));
    }
    let day = |v: &Option<String>, next: bool| -> Result<Option<DateTime<Utc>>, String> {
        let Some(v) = v else { return Ok(None) };
        let date = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map_err(|_| format!("日期 \"{v}\" 应写成 2026-12-01 的形式"))?;
        let date = if next { date.succ_opt().unwrap_or(date) } else { date };
        let start = date.and_hms_opt(0, 0, 0).and_then(|t| t.and_local_timezone(tz).earliest());
        Ok(start.map(|t| t.with_timezone(&Utc)))
    };
    let grade = match &form.grade {
        Some(g) => match crate::model::Grade::parse(g) {
            Some(g) => Some(g),
            None => return message(StatusCode::BAD_REQUEST, "无法检索", &format!("无法识别的级别 \"{g}\"。")),
        },
        None => None,
    };
    let lists = form.category.as_ref().map(|c| {
        config
            .keyword_lists
            .iter()
            .filter(|l| l.meta.category.as_str() == c)
            .map(|l| l.name.clone())
            .collect::<Vec<_>>()
    });
    let (from, to) = match (day(&form.from, false), day(&form.to, true)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return message(StatusCode::BAD_REQUEST, "无法检索", &e),
    };
    let q = crate::store::SearchQuery {
        words: form.q.split_whitespace().map(str::to_string).collect(),
        source: form.source.clone(),
        grade,
        lists,
        from,
        to,
        limit: PAGE_SIZE,
        offset: (form.page - 1) * PAGE_SIZE,
    };
    match store.search(&q) {
        Ok((hits, total)) => html(pages::search(who, &form, &sources, Some((&hits, total, PAGE_SIZE)), tz)),
        Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, "无法检索", &e.describe_zh()),
    }
}

fn report(config: &Config, store: &Store, query: &str, now: DateTime<Utc>) -> Page {
    let tz = config.timezone;
    let today = now.with_timezone(&tz).date_naive();
    let date = |name: &str| -> Result<Option<chrono::NaiveDate>, String> {
        match query_value(query, name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| format!("日期 \"{v}\" 应写成 2026-12-01 的形式")),
        }
    };
    let period = date("to").and_then(|to| {
        let to = to.unwrap_or(today);
        let from = date("from")?.unwrap_or_else(|| to.checked_sub_days(chrono::Days::new(6)).unwrap_or(to));
        Period::new(from, to, tz).map_err(|e| e.to_string())
    });
    let report = match period.and_then(|p| Report::load(store, config, p, now).map_err(|e| e.to_string())) {
        Ok(r) => r,
        Err(e) => return message(StatusCode::BAD_REQUEST, "无法生成通报", &e),
    };
    match query_value(query, "format").as_deref() {
        Some("csv") => match crate::report::csv::render(&report, config) {
            Ok(bytes) => {
                let name = format!("yuqing-report-{}-{}.csv", report.period.from, report.period.to);
                Page::typed(StatusCode::OK, String::from_utf8_lossy(&bytes).into_owned(), "text/csv; charset=utf-8")
                    .with_header("content-disposition", format!("attachment; filename=\"{name}\""))
            }
            Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, "无法生成通报", &e.to_string()),
        },
        _ => html(crate::report::html::render(&report, config)),
    }
}
