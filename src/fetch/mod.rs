//! Getting a source's bytes: HTTP(S) with timeouts, a redirect limit, a body size cap,
//! gzip/brotli/deflate, a User-Agent and conditional GET (the server's own ETag and
//! Last-Modified sent back); or a local file with the same size cap.
//! This module never decodes or parses; it returns bytes and headers.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
mod robots;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use reqwest::header::{CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use crate::util::error_chain::error_chain;

use crate::model::Location;

#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_body_bytes: u64,
    pub max_redirects: usize,
    pub user_agent: String,
    /// Requests in flight to one host at most.
    pub per_host_concurrency: usize,
    /// Minimum time between the starts of two requests to one host.
    pub per_host_delay: Duration,
    /// HTTP(S) proxy for every request (government intranets often need one).
    pub proxy: Option<Url>,
}

impl Default for FetchSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 5,
            user_agent: concat!("yuqing/", env!("CARGO_PKG_VERSION"), " (public-opinion monitor)").into(),
            per_host_concurrency: 2,
            per_host_delay: Duration::ZERO,
            proxy: None,
        }
    }
}

pub use crate::model::Validators;
pub use crate::util::net::{install_tls_provider, parse_retry_after};

#[derive(Debug)]
pub enum Fetched {
    /// The server answered 304: nothing changed since the validators were issued.
    NotModified,
    Body(Body),
}

#[derive(Debug)]
pub struct Body {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    /// The URL after redirects (a `file:` URL for files), for resolving relative links.
    pub final_url: Option<Url>,
    pub validators: Validators,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("HTTP status {status}")]
    Status {
        status: StatusCode,
        /// The server's `Retry-After`, if it sent one (429, 503).
        retry_after: Option<Duration>,
    },
    #[error("too many redirects (limit {0})")]
    Redirects(usize),
    #[error("response larger than the {0}-byte limit")]
    TooLarge(u64),
    #[error("HTTP error: {0}")]
    Http(String),
    #[error("cannot read {path}: {message}")]
    File { path: String, message: String },
    #[error("robots.txt of {host} disallows {path}")]
    Robots { host: String, path: String },
}

/// What a connection failure means, in Chinese, read from the client's error chain (the
/// chain itself is shown after it).
pub fn connect_reason_zh(chain: &str) -> &'static str {
    let c = chain.to_ascii_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| c.contains(n));
    if any(&["dns error", "failed to lookup address", "name or service not known", "no address associated"]) {
        "域名解析失败，请检查网址中的域名和本机的 DNS 设置"
    } else if any(&["connection refused"]) {
        "对方拒绝连接，服务器的端口未开放或服务未运行"
    } else if any(&["certificate", "tls", "handshake"]) {
        "加密连接（TLS）失败，证书可能过期、与域名不符或签发机构不受信任"
    } else if any(&["network is unreachable", "no route to host"]) {
        "网络不可达，请检查网络、代理（[fetch] proxy）或防火墙"
    } else if any(&["connection reset", "broken pipe"]) {
        "连接被对方中断"
    } else if any(&["proxy"]) {
        "无法通过代理连接，请检查 [fetch] proxy"
    } else {
        "无法建立连接，请检查网络、代理（[fetch] proxy）或防火墙"
    }
}

/// The HTTP client, built once and shared by all source runs.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    settings: FetchSettings,
    hosts: Arc<Mutex<HashMap<String, Arc<HostGate>>>>,
    /// robots.txt per origin, with when it was read (kept for a day).
    robots: Arc<tokio::sync::Mutex<RobotsCache>>,
}

/// robots.txt rules per origin, with the time they were read.
type RobotsCache = HashMap<String, (Instant, Arc<robots::Robots>)>;

/// Politeness towards one host: a cap on requests in flight and a minimum spacing.
#[derive(Debug)]
struct HostGate {
    in_flight: Semaphore,
    next_start: tokio::sync::Mutex<Instant>,
}

impl Fetcher {
    pub fn new(settings: &FetchSettings) -> Result<Self, FetchError> {
        install_tls_provider();
        let builder = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .redirect(reqwest::redirect::Policy::limited(settings.max_redirects))
            .user_agent(settings.user_agent.clone())
            .gzip(true)
            .brotli(true)
            .deflate(true);
        let builder = match &settings.proxy {
            Some(proxy) => {
                builder.proxy(reqwest::Proxy::all(proxy.as_str()).map_err(|e| FetchError::Http(error_chain(&e)))?)
            }
            None => builder,
        };
        let client = builder.build().map_err(|e| FetchError::Http(error_chain(&e)))?;
        Ok(Self { client, settings: settings.clone(), hosts: Arc::default(), robots: Arc::default() })
    }

    /// Fetches a location; `headers` are the source's extra request headers; with
    /// `robots`, the site's robots.txt is consulted first.
    pub async fn fetch(
        &self,
        location: &Location,
        validators: &Validators,
        headers: &HeaderMap,
        robots: bool,
    ) -> Result<Fetched, FetchError> {
        match location {
            Location::Http(url) => {
                if robots && !self.robots_allow(url).await {
                    let host = url.host_str().unwrap_or_default().to_string();
                    return Err(FetchError::Robots { host, path: url.path().to_string() });
                }
                let gate = self.gate(url);
                let _permit = gate.in_flight.acquire().await.map_err(|e| FetchError::Http(e.to_string()))?;
                self.wait_turn(&gate).await;
                self.fetch_http(url, validators, headers).await
            }
            Location::File(path) => self.fetch_file(path).await,
        }
    }

    /// Whether the site's robots.txt lets us fetch `url`. A missing robots.txt (4xx)
    /// allows everything; one that cannot be read (5xx, network) is not held against the
    /// source this time and is tried again next time.
    async fn robots_allow(&self, url: &Url) -> bool {
        let origin = url.origin().ascii_serialization();
        let mut target = url.path().to_string();
        if let Some(q) = url.query() {
            target = format!("{target}?{q}");
        }
        let mut cache = self.robots.lock().await;
        if let Some((read_at, rules)) = cache.get(&origin)
            && read_at.elapsed() < Duration::from_secs(24 * 3600)
        {
            return rules.allows(&target);
        }
        let rules = match self.client.get(format!("{origin}/robots.txt")).send().await {
            Ok(r) if r.status().is_success() => {
                let text = r.text().await.unwrap_or_default();
                robots::Robots::parse(&text[..text.len().min(512 * 1024)], "yuqing")
            }
            Ok(r) if r.status().is_client_error() => robots::Robots::default(),
            Ok(r) => {
                tracing::warn!(origin = %origin, status = %r.status(), "robots.txt unavailable; not cached");
                return true;
            }
            Err(e) => {
                tracing::warn!(origin = %origin, error = %e, "robots.txt unreachable; not cached");
                return true;
            }
        };
        let allowed = rules.allows(&target);
        cache.insert(origin, (Instant::now(), Arc::new(rules)));
        allowed
    }

    fn gate(&self, url: &Url) -> Arc<HostGate> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let mut hosts = self.hosts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        hosts
            .entry(host)
            .or_insert_with(|| {
                Arc::new(HostGate {
                    in_flight: Semaphore::new(self.settings.per_host_concurrency.max(1)),
                    next_start: tokio::sync::Mutex::new(Instant::now()),
                })
            })
            .clone()
    }

    /// Sleeps until this host may see the next request start.
    async fn wait_turn(&self, gate: &HostGate) {
        if self.settings.per_host_delay.is_zero() {
            return;
        }
        let mut next = gate.next_start.lock().await;
        let now = Instant::now();
        if *next > now {
            tokio::time::sleep_until(*next).await;
        }
        *next = Instant::now() + self.settings.per_host_delay;
    }

    async fn fetch_http(&self, url: &Url, validators: &Validators, headers: &HeaderMap) -> Result<Fetched, FetchError> {
        let mut request = self.client.get(url.clone()).headers(headers.clone());
        if let Some(etag) = &validators.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            request = request.header(IF_MODIFIED_SINCE, lm);
        }
        let mut response = request.send().await.map_err(|e| self.classify(&e))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            let retry_after =
                response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
            return Err(FetchError::Status { status, retry_after });
        }
        let limit = self.settings.max_body_bytes;
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(FetchError::TooLarge(limit));
        }
        let headers = response.headers().clone();
        let final_url = Some(response.url().clone());
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(&e))? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(FetchError::TooLarge(limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body(Body {
            bytes,
            content_type: header(&headers, CONTENT_TYPE),
            final_url,
            validators: Validators { etag: header(&headers, ETAG), last_modified: header(&headers, LAST_MODIFIED) },
        }))
    }

    async fn fetch_file(&self, path: &Path) -> Result<Fetched, FetchError> {
        let file_error =
            |e: std::io::Error| FetchError::File { path: path.display().to_string(), message: e.to_string() };
        let meta = tokio::fs::metadata(path).await.map_err(file_error)?;
        if meta.len() > self.settings.max_body_bytes {
            return Err(FetchError::TooLarge(self.settings.max_body_bytes));
        }
        let bytes = tokio::fs::read(path).await.map_err(file_error)?;
        // A file: URL lets relative links in local samples resolve (and be followed).
        let final_url = std::fs::canonicalize(path).ok().and_then(|p| Url::from_file_path(p).ok());
        Ok(Fetched::Body(Body { bytes, content_type: None, final_url, validators: Validators::default() }))
    }

    fn classify(&self, e: &reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.settings.timeout)
        } else if e.is_redirect() {
            FetchError::Redirects(self.settings.max_redirects)
        } else if e.is_connect() {
            FetchError::Connect(error_chain(e))
        } else {
            FetchError::Http(error_chain(e))
        }
    }
}

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_explained_before_the_clients_words() {
        let cases = [
            (
                "client error (Connect): dns error: failed to lookup address information: Name or service not known",
                "域名解析失败",
            ),
            ("client error (Connect): tcp connect error: Connection refused (os error 111)", "对方拒绝连接"),
            ("client error (Connect): invalid peer certificate: UnknownIssuer", "加密连接（TLS）失败"),
            ("client error (Connect): tcp connect error: Network is unreachable (os error 101)", "网络不可达"),
            ("client error (Connect): something new", "无法建立连接"),
        ];
        for (chain, want) in cases {
            assert!(connect_reason_zh(chain).starts_with(want), "{chain}: {}", connect_reason_zh(chain));
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("999999"), Some(Duration::from_secs(24 * 3600)));
        assert_eq!(parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT"), Some(Duration::ZERO));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(600)).to_rfc2822();
        let d = parse_retry_after(&later).expect("date");
        assert!(d > Duration::from_secs(590) && d <= Duration::from_secs(600), "{d:?}");
        assert_eq!(parse_retry_after("soon"), None);
    }
}
