//! Getting a source's bytes: HTTP(S) with timeouts, a redirect limit, a body size cap,
//! gzip/brotli/deflate, a User-Agent and conditional GET (the server's own ETag and
//! Last-Modified sent back); or a local file with the same size cap.
//! This module never decodes or parses; it returns bytes and headers.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use url::Url;

use crate::error_chain::error_chain;

use crate::config::Location;

#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_body_bytes: u64,
    pub max_redirects: usize,
    pub user_agent: String,
}

impl Default for FetchSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 5,
            user_agent: concat!("yuqing/", env!("CARGO_PKG_VERSION"), " (public-opinion monitor)").into(),
        }
    }
}

/// Cache validators from the previous successful fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

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
    #[error("HTTP status {0}")]
    Status(StatusCode),
    #[error("too many redirects (limit {0})")]
    Redirects(usize),
    #[error("response larger than the {0}-byte limit")]
    TooLarge(u64),
    #[error("HTTP error: {0}")]
    Http(String),
    #[error("cannot read {path}: {message}")]
    File { path: String, message: String },
}

/// The HTTP client, built once and shared by all source runs.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    settings: FetchSettings,
}

impl Fetcher {
    pub fn new(settings: &FetchSettings) -> Result<Self, FetchError> {
        install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .redirect(reqwest::redirect::Policy::limited(settings.max_redirects))
            .user_agent(settings.user_agent.clone())
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| FetchError::Http(error_chain(&e)))?;
        Ok(Self { client, settings: settings.clone() })
    }

    pub async fn fetch(&self, location: &Location, validators: &Validators) -> Result<Fetched, FetchError> {
        match location {
            Location::Http(url) => self.fetch_http(url, validators).await,
            Location::File(path) => self.fetch_file(path).await,
        }
    }

    async fn fetch_http(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        let mut request = self.client.get(url.clone());
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
            return Err(FetchError::Status(status));
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

/// reqwest is built without a default crypto provider (we use ring, not aws-lc); install
/// ring as the process default once. A second call finds it installed and does nothing.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
