//! Notification channels besides email: SMS through Aliyun (`aliyun`), Tencent Cloud
//! (`tencent`) or a generic HTTP gateway (`gateway`), and IM group robots of WeCom
//! (`wecom`), DingTalk (`dingtalk`) and Feishu (`feishu`).
//!
//! This module owns the shared types ([`Message`], [`Receipt`], [`ChannelError`]), the
//! [`Channel`] that sends one message through one configured provider, the HTTP round
//! trip and its classification (timeouts, 5xx and 429 are retryable; the provider's own
//! codes decide the rest), and the per-robot [`RateLimiter`]. Each provider file has a
//! pure request builder (credentials, time, nonce, message → URL, headers, body) and a
//! pure classifier of the provider's answer; only [`Channel::send`] reads the clock and
//! does I/O. The provider's answer is kept verbatim in receipts and errors, for the audit
//! trail. Secrets never appear in `Debug` output or errors.

pub mod aliyun;
pub mod dingtalk;
pub mod feishu;
pub mod gateway;
mod rate;
pub mod tencent;
pub mod wecom;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use url::Url;

pub use rate::{Decision, RateLimiter};

use crate::model::Secret;
use crate::util::error_chain::error_chain;
pub(crate) use crate::util::hex;

/// The longest provider answer kept (bytes); longer bodies are cut at a character boundary.
const MAX_ANSWER: usize = 16 * 1024;

/// Names a message may fill in templates: always `title`, `text` and `out_id`, and the
/// rest when the caller sets them in [`Message::fields`].
pub const FIELDS: &[&str] = &["title", "text", "out_id", "event", "grade", "deadline", "link", "person"];

/// One notification to send through one channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Our notification id, passed to the provider as its out-id (Aliyun `OutId`,
    /// Tencent `SessionContext`, `{out_id}` in gateway templates) so that receipts and
    /// replies can be matched.
    pub out_id: String,
    pub title: String,
    /// The body: plain text for SMS gateways, markdown for robots.
    pub text: String,
    /// SMS recipients; for robots, members to mention by mobile (WeCom, DingTalk).
    pub mobiles: Vec<String>,
    /// Robot members to mention by their platform user id (WeCom userid, DingTalk
    /// userId, Feishu open_id).
    pub user_ids: Vec<String>,
    /// Further named values for SMS templates (`event`, `grade`, `deadline`, `link`, ...).
    pub fields: BTreeMap<String, String>,
}

impl Message {
    /// The value of a template field: `title`, `text`, `out_id` or one of `fields`.
    pub fn field(&self, name: &str) -> Option<&str> {
        match name {
            "title" => Some(&self.title),
            "text" => Some(&self.text),
            "out_id" => Some(&self.out_id),
            other => self.fields.get(other).map(String::as_str),
        }
    }

    /// Like [`Message::field`], but a missing field is an [`ChannelError::Invalid`].
    fn require(&self, name: &str) -> Result<&str, ChannelError> {
        self.field(name).ok_or_else(|| ChannelError::Invalid(format!("message has no field {name:?}")))
    }
}

/// What the provider said when it accepted a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    /// The provider's id of the message (Aliyun `BizId`, Tencent `SerialNo`), if any.
    pub message_id: Option<String>,
    /// The provider's id of the request (Aliyun/Tencent `RequestId`), if any.
    pub request_id: Option<String>,
    /// Recipients the provider refused while accepting others (Tencent reports each
    /// number): `(mobile, code and message)`.
    pub rejected: Vec<(String, String)>,
    /// The provider's answer, verbatim.
    pub response: String,
}

/// Why a message was not delivered. `detail` is the provider's answer (or the transport
/// error) verbatim; `code` is the provider's error code, `http-<status>`, `timeout` or
/// `connect`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// Worth trying again later: 5xx, 429, timeouts, network errors, throttling codes.
    #[error("temporary failure [{code}]: {detail}")]
    Retryable { code: String, detail: String, retry_after: Option<Duration> },
    /// Trying again will not help: bad signature, template, key, number...
    #[error("rejected [{code}]: {detail}")]
    Permanent { code: String, detail: String },
    /// The message cannot be sent through this channel as it is (no recipient, a
    /// template field missing).
    #[error("invalid message: {0}")]
    Invalid(String),
}

impl ChannelError {
    /// The error for the admin (`yuqing outbox show`, the dead-letter notice): what it
    /// means in Chinese, the provider's code and words after.
    pub fn describe_zh(&self) -> String {
        match self {
            ChannelError::Retryable { code, detail, .. } => {
                format!("暂时性错误（服务方代码 {code}：{detail}）")
            }
            ChannelError::Permanent { code, detail } => {
                format!("服务方拒绝，重试无益：请检查签名、模板、密钥或号码（服务方代码 {code}：{detail}）")
            }
            ChannelError::Invalid(detail) => format!("消息无法通过此通道发送（{detail}）"),
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, ChannelError::Retryable { .. })
    }

    /// The delay the provider asked for (`Retry-After`), if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ChannelError::Retryable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    fn retryable(code: impl Into<String>, detail: impl Into<String>) -> Self {
        ChannelError::Retryable { code: code.into(), detail: detail.into(), retry_after: None }
    }

    fn permanent(code: impl Into<String>, detail: impl Into<String>) -> Self {
        ChannelError::Permanent { code: code.into(), detail: detail.into() }
    }
}

/// A request ready to send, as built by a provider's pure request builder.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: reqwest::Method,
    pub url: Url,
    /// Header names in lower case, in sending order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A POST of a JSON body (the robots' webhooks).
    pub fn post_json(url: Url, content_type: &str, body: &serde_json::Value) -> Self {
        HttpRequest {
            method: reqwest::Method::POST,
            url,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Requests hold credentials (URL keys, signatures): only the method and host are shown.
impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpRequest({} {})", self.method, self.url.host_str().unwrap_or(""))
    }
}

/// The provider's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

impl HttpAnswer {
    /// 429 and 5xx are retryable whatever the body says.
    fn overloaded(&self) -> Option<ChannelError> {
        (self.status == 429 || self.status >= 500).then(|| ChannelError::Retryable {
            code: format!("http-{}", self.status),
            detail: self.body.clone(),
            retry_after: self.retry_after,
        })
    }

    /// The body as JSON; a body that is not JSON is a permanent failure (a proxy's error
    /// page, a wrong URL).
    fn json(&self) -> Result<serde_json::Value, ChannelError> {
        if let Some(e) = self.overloaded() {
            return Err(e);
        }
        serde_json::from_str(&self.body)
            .map_err(|_| ChannelError::permanent(format!("http-{}", self.status), &self.body))
    }
}

/// Which robot platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RobotKind {
    WeCom,
    DingTalk,
    Feishu,
}

impl RobotKind {
    pub const ALL: [RobotKind; 3] = [RobotKind::WeCom, RobotKind::DingTalk, RobotKind::Feishu];

    pub fn as_str(self) -> &'static str {
        match self {
            RobotKind::WeCom => "wecom",
            RobotKind::DingTalk => "dingtalk",
            RobotKind::Feishu => "feishu",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The platform's documented limits as (messages, per period): WeCom and DingTalk
    /// 20 per minute; Feishu 100 per minute and 5 per second.
    pub fn limits(self) -> &'static [(u32, Duration)] {
        const MINUTE: Duration = Duration::from_secs(60);
        const SECOND: Duration = Duration::from_secs(1);
        match self {
            RobotKind::WeCom | RobotKind::DingTalk => &[(20, MINUTE)],
            RobotKind::Feishu => &[(100, MINUTE), (5, SECOND)],
        }
    }

    /// The most text (bytes) a digest post should carry: WeCom's text message (the kind that
    /// can mention people) takes 2048 bytes with the title; DingTalk's markdown is kept under 5000; Feishu
    /// takes 18 KiB here (its request limit is 20 KiB).
    pub fn digest_bytes(self) -> usize {
        match self {
            RobotKind::WeCom => 1900,
            RobotKind::DingTalk => 5000,
            RobotKind::Feishu => 18 * 1024,
        }
    }

    pub fn default_base_url(self) -> &'static str {
        match self {
            RobotKind::WeCom => "https://qyapi.weixin.qq.com",
            RobotKind::DingTalk => "https://oapi.dingtalk.com",
            RobotKind::Feishu => "https://open.feishu.cn",
        }
    }

    /// The platform's name for people.
    pub fn label(self) -> &'static str {
        match self {
            RobotKind::WeCom => "企业微信",
            RobotKind::DingTalk => "钉钉",
            RobotKind::Feishu => "飞书",
        }
    }
}

/// Validated `[sms]`.
#[derive(Debug, Clone)]
pub struct SmsSettings {
    pub provider: SmsProvider,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum SmsProvider {
    Aliyun(aliyun::AliyunSettings),
    Tencent(tencent::TencentSettings),
    Gateway(gateway::GatewaySettings),
}

impl SmsProvider {
    pub fn name(&self) -> &'static str {
        match self {
            SmsProvider::Aliyun(_) => "aliyun",
            SmsProvider::Tencent(_) => "tencent",
            SmsProvider::Gateway(_) => "gateway",
        }
    }
}

/// One validated `[[robots]]` entry.
#[derive(Debug, Clone)]
pub struct RobotSettings {
    pub id: String,
    pub name: String,
    pub kind: RobotKind,
    /// Scheme and host of the platform's API (overridable for tests and proxies).
    pub base_url: Url,
    /// WeCom `key`, DingTalk `access_token` or Feishu hook token.
    pub token: Secret,
    /// The signing secret (DingTalk 加签 `SEC...`, Feishu 签名校验).
    pub secret: Option<Secret>,
    /// Overrides the platform's per-minute budget (never needed above the platform's own).
    pub rate_per_minute: Option<u32>,
    pub timeout: Duration,
}

impl RobotSettings {
    /// A fresh limiter with this robot's budget.
    pub fn rate_limiter(&self) -> RateLimiter {
        RateLimiter::for_robot(self.kind, self.rate_per_minute)
    }
}

/// One configured channel, ready to send.
#[derive(Debug, Clone)]
pub struct Channel {
    /// `sms` or the robot's id.
    pub id: String,
    provider: Provider,
    client: reqwest::Client,
}

#[derive(Debug, Clone)]
enum Provider {
    Aliyun(aliyun::AliyunSettings),
    Tencent(tencent::TencentSettings),
    Gateway(gateway::GatewaySettings),
    WeCom(RobotSettings),
    DingTalk(RobotSettings),
    Feishu(RobotSettings),
}

impl Channel {
    /// The SMS channel; `proxy` is `[fetch] proxy`, used for every outgoing request.
    pub fn sms(settings: &SmsSettings, proxy: Option<&Url>) -> Result<Self, ChannelError> {
        let provider = match &settings.provider {
            SmsProvider::Aliyun(s) => Provider::Aliyun(s.clone()),
            SmsProvider::Tencent(s) => Provider::Tencent(s.clone()),
            SmsProvider::Gateway(s) => Provider::Gateway(s.clone()),
        };
        Ok(Self { id: "sms".into(), provider, client: client(settings.timeout, proxy)? })
    }

    pub fn robot(settings: &RobotSettings, proxy: Option<&Url>) -> Result<Self, ChannelError> {
        let provider = match settings.kind {
            RobotKind::WeCom => Provider::WeCom(settings.clone()),
            RobotKind::DingTalk => Provider::DingTalk(settings.clone()),
            RobotKind::Feishu => Provider::Feishu(settings.clone()),
        };
        Ok(Self { id: settings.id.clone(), provider, client: client(settings.timeout, proxy)? })
    }

    /// Sends one message: builds and signs the request with the current time and a fresh
    /// nonce, posts it and classifies the answer.
    pub async fn send(&self, message: &Message) -> Result<Receipt, ChannelError> {
        let now = Utc::now();
        let nonce = nonce(&message.out_id);
        let request = self.request(message, now, &nonce)?;
        let answer = execute(&self.client, request).await?;
        let result = self.classify(&answer);
        match &result {
            Ok(_) => tracing::info!(channel = %self.id, out_id = %message.out_id, "message accepted by provider"),
            Err(e) => tracing::warn!(channel = %self.id, out_id = %message.out_id, error = %e, "message not delivered"),
        }
        result
    }

    /// The signed request for `message` at `now` (pure).
    pub fn request(&self, message: &Message, now: DateTime<Utc>, nonce: &str) -> Result<HttpRequest, ChannelError> {
        match &self.provider {
            Provider::Aliyun(s) => aliyun::request(s, message, now, nonce),
            Provider::Tencent(s) => tencent::request(s, message, now),
            Provider::Gateway(s) => gateway::request(s, message, now),
            Provider::WeCom(s) => wecom::request(s, message),
            Provider::DingTalk(s) => dingtalk::request(s, message, now),
            Provider::Feishu(s) => feishu::request(s, message, now),
        }
    }

    /// The provider's answer as a receipt or an error (pure).
    pub fn classify(&self, answer: &HttpAnswer) -> Result<Receipt, ChannelError> {
        match &self.provider {
            Provider::Aliyun(_) => aliyun::classify(answer),
            Provider::Tencent(_) => tencent::classify(answer),
            Provider::Gateway(s) => gateway::classify(s, answer),
            Provider::WeCom(_) => wecom::classify(answer),
            Provider::DingTalk(_) => dingtalk::classify(answer),
            Provider::Feishu(_) => feishu::classify(answer),
        }
    }
}

/// The HTTP client for channels: a whole-request timeout, no redirects (a signed API call
/// that redirects is a misconfiguration), the `[fetch]` proxy if any.
fn client(timeout: Duration, proxy: Option<&Url>) -> Result<reqwest::Client, ChannelError> {
    crate::util::net::install_tls_provider();
    let setup = |e: reqwest::Error| ChannelError::Invalid(format!("cannot set up HTTP client: {}", error_chain(&e)));
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("yuqing/", env!("CARGO_PKG_VERSION")));
    if let Some(proxy) = proxy {
        builder = builder.proxy(reqwest::Proxy::all(proxy.as_str()).map_err(setup)?);
    }
    builder.build().map_err(setup)
}

/// Sends the request and reads the answer; transport failures are retryable.
pub async fn execute(client: &reqwest::Client, request: HttpRequest) -> Result<HttpAnswer, ChannelError> {
    let mut builder = client.request(request.method, request.url);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let transport = |e: reqwest::Error| {
        let code = if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect"
        } else {
            "network"
        };
        // reqwest's errors may quote the URL, which holds robot keys: drop it.
        ChannelError::retryable(code, error_chain(&e.without_url()))
    };
    let response = builder.body(request.body).send().await.map_err(transport)?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::util::net::parse_retry_after);
    let bytes = response.bytes().await.map_err(transport)?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(HttpAnswer { status, retry_after, body: truncate(&text, MAX_ANSWER).to_string() })
}

/// A nonce unique per request: a hash of the process, the time, a counter and the
/// out-id (replay protection needs uniqueness, not secrecy).
fn nonce(out_id: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let seed = format!("{}:{nanos}:{n}:{out_id}", std::process::id());
    hex(&Sha256::digest(seed.as_bytes()))[..32].to_string()
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

pub(crate) fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// RFC 3986 percent-encoding: everything but `A-Z a-z 0-9 - _ . ~` (space → `%20`,
/// `*` → `%2A`), as Aliyun's signatures and our gateway templates require.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `host` header a client sends for `url`: the port only when it is not the default.
pub(crate) fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` within `max` bytes, ending with `…` when cut.
pub(crate) fn fit(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    format!("{}…", truncate(s, max.saturating_sub('…'.len_utf8())))
}

/// A robot URL path joined to the configured base (keeping a base path prefix, if any).
pub(crate) fn join(base: &Url, path: &str) -> Result<Url, ChannelError> {
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}{path}"));
    url.set_query(None);
    Ok(url)
}

/// The JSON number or string at `key` of an object, as text.
pub(crate) fn json_text(value: &serde_json::Value, key: &str) -> Option<String> {
    match value.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A robot's answer by its result code: `0` delivered, one of `retryable` (throttled, busy)
/// worth trying again, anything else a permanent refusal — the answer kept verbatim.
pub(crate) fn robot_outcome(answer: &HttpAnswer, code: String, retryable: &[&str]) -> Result<Receipt, ChannelError> {
    match code.as_str() {
        "0" => Ok(Receipt { response: answer.body.clone(), ..Receipt::default() }),
        c if retryable.contains(&c) => {
            Err(ChannelError::Retryable { code, detail: answer.body.clone(), retry_after: answer.retry_after })
        }
        _ => Err(ChannelError::permanent(code, &answer.body)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex(&mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn percent_encoding_follows_rfc_3986() {
        assert_eq!(percent_encode(" ~*+/中-_."), "%20~%2A%2B%2F%E4%B8%AD-_.");
    }

    #[test]
    fn fit_cuts_at_character_boundaries() {
        assert_eq!(fit("舆情监测", 12), "舆情监测");
        assert_eq!(fit("舆情监测", 11), "舆情…");
        assert_eq!(truncate("舆情", 4), "舆");
    }

    #[test]
    fn overloaded_answers_are_retryable_with_their_delay() {
        let answer = HttpAnswer { status: 429, retry_after: Some(Duration::from_secs(7)), body: "slow down".into() };
        let e = answer.json().expect_err("429");
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(e.to_string(), "temporary failure [http-429]: slow down");
        assert_eq!(e.describe_zh(), "暂时性错误（服务方代码 http-429：slow down）");
        let proxy_page = HttpAnswer { status: 200, retry_after: None, body: "<html>".into() };
        assert_eq!(proxy_page.json(), Err(ChannelError::permanent("http-200", "<html>")));
    }

    #[test]
    fn nonces_differ_per_request() {
        assert_ne!(nonce("1"), nonce("1"));
        assert_eq!(nonce("1").len(), 32);
    }

    #[test]
    fn message_fields_include_the_built_ins() {
        let mut m = Message { out_id: "42".into(), title: "标题".into(), ..Message::default() };
        m.fields.insert("grade".into(), "Ⅱ".into());
        assert_eq!(m.field("out_id"), Some("42"));
        assert_eq!(m.field("grade"), Some("Ⅱ"));
        assert!(matches!(m.require("link"), Err(ChannelError::Invalid(_))));
    }
}
