//! What the daemon's HTTP endpoint answers with: a status, a body and its type, and the
//! few extra headers a page may set (a session cookie, a redirect); the plain HTML shell
//! of the one-click link pages.

use hyper::StatusCode;

use crate::notify::escape;

/// A page to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub status: StatusCode,
    /// The body (HTML unless `content_type` says otherwise).
    pub html: String,
    pub content_type: &'static str,
    /// Further headers: `set-cookie`, `location`.
    pub headers: Vec<(&'static str, String)>,
}

impl Page {
    /// An HTML page.
    pub fn html(status: StatusCode, html: String) -> Self {
        Page { status, html, content_type: HTML, headers: Vec::new() }
    }

    /// Any other body.
    pub fn typed(status: StatusCode, body: String, content_type: &'static str) -> Self {
        Page { status, html: body, content_type, headers: Vec::new() }
    }

    /// `303 See Other` to `location` (after a POST, so a reload does not post again).
    pub fn redirect(location: &str) -> Self {
        Page { headers: vec![("location", location.to_string())], ..Page::html(StatusCode::SEE_OTHER, String::new()) }
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

pub const HTML: &str = "text/html; charset=utf-8";
pub const PLAIN: &str = "text/plain; charset=utf-8";
/// The Prometheus text exposition format.
pub const METRICS: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn page(status: StatusCode, heading: &str, text: &str) -> Page {
    Page::html(status, shell(heading, &format!("<p>{}</p>", escape(text))))
}

pub fn shell(heading: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{h}</title></head><body style=\"font-family:sans-serif;line-height:1.6;max-width:40em;margin:2em auto\">\
         <h2>{h}</h2>{body}<p style=\"color:#666;font-size:12px\">yuqing 舆情监测系统</p></body></html>",
        h = escape(heading)
    )
}
