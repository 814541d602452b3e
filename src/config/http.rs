//! `[http]` in `yuqing.toml`: where the daemon's small HTTP endpoint listens (one-click
//! links in alert emails; health), the address staff reach it at, and how long a link lives.
//! Without `[http]` there is no endpoint and alerts carry commands instead of links.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeTable;

use super::diag::Diagnostics;
use super::toml_doc::TomlFile;

pub(super) const HTTP_KEYS: &[&str] = &["listen", "public_url", "link_ttl_hours", "session_hours"];

/// The endpoint's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    /// The base of link URLs in emails, e.g. `https://yuqing.example.gov.cn` behind a
    /// reverse proxy; `http://<listen>` when not set.
    pub public_url: String,
    pub link_ttl: Duration,
    /// How long a web-console sign-in lasts.
    pub session_ttl: Duration,
}

#[derive(Deserialize, Default)]
pub(super) struct RawHttp {
    listen: Option<Spanned<String>>,
    public_url: Option<Spanned<String>>,
    link_ttl_hours: Option<Spanned<u64>>,
    session_hours: Option<Spanned<u64>>,
}

/// `Some(None)` without `[http]`; `None` when it is invalid (errors reported).
pub(super) fn load(file: &TomlFile, root: &DeTable<'_>, diags: &mut Diagnostics) -> Option<Option<HttpSettings>> {
    if !root.contains_key("http") {
        return Some(None);
    }
    let (span, table) = file.sub_table(root, "http", diags)?;
    let table = file.known_keys(table, HTTP_KEYS, "[http] 中", diags);
    let raw: RawHttp = file.deserialize(span.clone(), table, "[http] ", diags)?;
    let Some(listen) = raw.listen else {
        diags.error(&file.path, file.line(span), "[http] 缺少 listen".into(), "例如 listen = \"127.0.0.1:8787\"");
        return None;
    };
    let Ok(addr) = listen.get_ref().parse::<SocketAddr>() else {
        diags.error(
            &file.path,
            file.line(listen.span()),
            format!("listen = \"{}\" 不是 IP:端口", listen.get_ref()),
            "例如 listen = \"127.0.0.1:8787\"（只在本机监听，由反向代理对外）",
        );
        return None;
    };
    let public_url = match raw.public_url {
        None => format!("http://{addr}"),
        Some(u) => match url::Url::parse(u.get_ref()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.query().is_none() => {
                u.get_ref().trim_end_matches('/').to_string()
            }
            _ => {
                diags.error(
                    &file.path,
                    file.line(u.span()),
                    format!("public_url = \"{}\" 不是 http(s) 地址", u.get_ref()),
                    "写工作人员访问本服务的地址，例如 public_url = \"https://yuqing.example.gov.cn\"",
                );
                return None;
            }
        },
    };
    let hours = raw.link_ttl_hours.map_or(72, Spanned::into_inner);
    if !(1..=24 * 30).contains(&hours) {
        diags.error(
            &file.path,
            file.line(span),
            format!("link_ttl_hours = {hours} 不在 1 到 720 之间"),
            "链接有效期，默认 72 小时",
        );
        return None;
    }
    let session_hours = raw.session_hours.map_or(8, Spanned::into_inner);
    if !(1..=24 * 7).contains(&session_hours) {
        diags.error(
            &file.path,
            file.line(span.clone()),
            format!("session_hours = {session_hours} 不在 1 到 168 之间"),
            "网页控制台登录的有效期，默认 8 小时",
        );
        return None;
    }
    if !addr.ip().is_loopback() {
        diags.warning(
            &file.path,
            file.line(listen.span()),
            format!("listen = \"{addr}\" 不只在本机监听：控制台的密码和会话会经过网络"),
            "请在前面放置 HTTPS 反向代理（nginx 等），只让代理访问该端口，并把 public_url 写成 https:// 地址",
        );
    }
    Some(Some(HttpSettings {
        listen: addr,
        public_url,
        link_ttl: Duration::from_secs(hours * 3600),
        session_ttl: Duration::from_secs(session_hours * 3600),
    }))
}
