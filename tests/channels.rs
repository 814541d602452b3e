//! SMS and IM robot channels against loopback stand-ins for the providers (tokio,
//! in-process, 127.0.0.1 only). Each stand-in recomputes the signature of every request
//! from what arrived on the wire, with its own canonicalisation (not the library's), and
//! answers as the provider does when it does not match; it can also answer 5xx, 429 or
//! stall past the client's timeout. Plus `yuqing notify test` and `yuqing check` on
//! `[sms]` / `[[robots]]`.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

use support::{FILE_MAIL, Project, rss, source};
use yuqing::channel::aliyun::AliyunSettings;
use yuqing::channel::gateway::{BodyType, GatewaySettings, Template};
use yuqing::channel::tencent::TencentSettings;
use yuqing::channel::{Channel, ChannelError, Message, RobotKind, RobotSettings, SmsProvider, SmsSettings};
use yuqing::notify::Secret;

// ------------------------------------------------------------------ stand-in providers

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Aliyun,
    Tencent,
    WeCom,
    DingTalk,
    Feishu,
    Gateway,
}

/// How the next request is answered (after the signature check).
#[derive(Clone, Debug)]
enum Reply {
    Status(u16, &'static str, Option<u64>),
    Stall(Duration),
}

#[derive(Clone, Debug)]
struct Seen {
    target: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    /// Why the signature check failed, if it did.
    refused: Option<String>,
}

impl Seen {
    fn query(&self) -> HashMap<String, String> {
        Url::parse(&format!("http://x{}", self.target)).expect("target").query_pairs().into_owned().collect()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("json body")
    }
}

struct Provider {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
}

impl Provider {
    /// A stand-in for `kind` that knows the credentials `id` / `secret` (and `token`).
    async fn start(kind: Kind, id: &'static str, secret: &'static str, token: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let replies: Arc<Mutex<VecDeque<Reply>>> = Arc::default();
        let nonces: Arc<Mutex<HashSet<String>>> = Arc::default();
        let (s, r) = (seen.clone(), replies.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { return };
                let (s, r, n) = (s.clone(), r.clone(), nonces.clone());
                tokio::spawn(async move {
                    let Some((method, target, headers, body)) = read_request(&mut stream).await else { return };
                    let refused = verify(kind, id, secret, token, &method, &target, &headers, &body, &n).err();
                    let reply = r.lock().expect("replies").pop_front();
                    let seen = Seen { target, headers, body, refused: refused.clone() };
                    let (status, answer, retry_after) = match (&refused, reply) {
                        (Some(_), _) => refusal(kind),
                        (None, Some(Reply::Stall(d))) => {
                            s.lock().expect("seen").push(seen);
                            tokio::time::sleep(d).await;
                            return;
                        }
                        (None, Some(Reply::Status(status, body, retry_after))) => {
                            (status, body.to_string(), retry_after)
                        }
                        (None, None) => (200, success(kind, &seen), None),
                    };
                    s.lock().expect("seen").push(seen);
                    let extra = retry_after.map(|s| format!("Retry-After: {s}\r\n")).unwrap_or_default();
                    let head = format!(
                        "HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n",
                        answer.len()
                    );
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        Provider { url, seen, replies }
    }

    fn then(&self, reply: Reply) {
        self.replies.lock().expect("replies").push_back(reply);
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }
}

async fn read_request(
    stream: &mut tokio::net::TcpStream,
) -> Option<(String, String, HashMap<String, String>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let (method, target) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((method, target, headers, body))
}

fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("hmac key");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn hexs(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha(data: &[u8]) -> String {
    hexs(&Sha256::digest(data))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// RFC 3986 encoding, written here independently of the library's.
fn rfc3986(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

/// Checks a request as the provider would; `Err` says why it is refused.
#[allow(clippy::too_many_arguments)]
fn verify(
    kind: Kind,
    id: &str,
    secret: &str,
    token: &str,
    method: &str,
    target: &str,
    h: &HashMap<String, String>,
    body: &[u8],
    nonces: &Mutex<HashSet<String>>,
) -> Result<(), String> {
    let url = Url::parse(&format!("http://x{target}")).map_err(|e| e.to_string())?;
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let header = |name: &str| h.get(name).cloned().ok_or(format!("no {name} header"));
    match kind {
        Kind::Aliyun => {
            let auth = header("authorization")?;
            let rest = auth.strip_prefix("ACS3-HMAC-SHA256 ").ok_or("algorithm")?;
            let parts: HashMap<&str, &str> = rest.split(',').filter_map(|p| p.split_once('=')).collect();
            if parts.get("Credential") != Some(&id) {
                return Err("credential".into());
            }
            let names: Vec<&str> = parts.get("SignedHeaders").ok_or("signed headers")?.split(';').collect();
            for required in
                ["host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"]
            {
                if !names.contains(&required) {
                    return Err(format!("{required} not signed"));
                }
            }
            if header("x-acs-content-sha256")? != sha(body) {
                return Err("content hash".into());
            }
            let date = chrono::DateTime::parse_from_rfc3339(&header("x-acs-date")?).map_err(|e| e.to_string())?;
            if (date.timestamp() - now_secs()).abs() > 900 {
                return Err("x-acs-date more than 15 minutes off".into());
            }
            if !nonces.lock().expect("nonces").insert(header("x-acs-signature-nonce")?) {
                return Err("nonce replayed".into());
            }
            let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            pairs.sort();
            let canonical_query: Vec<String> =
                pairs.iter().map(|(k, v)| format!("{}={}", rfc3986(k), rfc3986(v))).collect();
            let mut canonical_headers = String::new();
            for name in &names {
                canonical_headers.push_str(&format!("{name}:{}\n", header(name)?.trim()));
            }
            let canonical = format!(
                "{method}\n{}\n{}\n{canonical_headers}\n{}\n{}",
                url.path(),
                canonical_query.join("&"),
                names.join(";"),
                sha(body)
            );
            let expected =
                hexs(&mac(secret.as_bytes(), format!("ACS3-HMAC-SHA256\n{}", sha(canonical.as_bytes())).as_bytes()));
            (parts.get("Signature") == Some(&expected.as_str())).then_some(()).ok_or("signature".into())
        }
        Kind::Tencent => {
            let ts: i64 = header("x-tc-timestamp")?.parse().map_err(|_| "timestamp")?;
            if (ts - now_secs()).abs() > 300 {
                return Err("timestamp more than 5 minutes off".into());
            }
            let date = chrono::DateTime::from_timestamp(ts, 0).ok_or("ts")?.format("%Y-%m-%d").to_string();
            let canonical = format!(
                "{method}\n/\n\ncontent-type:{}\nhost:{}\n\ncontent-type;host\n{}",
                header("content-type")?,
                header("host")?,
                sha(body)
            );
            let scope = format!("{date}/sms/tc3_request");
            let to_sign = format!("TC3-HMAC-SHA256\n{ts}\n{scope}\n{}", sha(canonical.as_bytes()));
            let k = mac(&mac(&mac(format!("TC3{secret}").as_bytes(), date.as_bytes()), b"sms"), b"tc3_request");
            let expected = format!(
                "TC3-HMAC-SHA256 Credential={id}/{scope}, SignedHeaders=content-type;host, Signature={}",
                hexs(&mac(&k, to_sign.as_bytes()))
            );
            if header("x-tc-action")? != "SendSms" || header("x-tc-version")? != "2021-01-11" {
                return Err("action".into());
            }
            (header("authorization")? == expected).then_some(()).ok_or("signature".into())
        }
        Kind::WeCom => (url.path() == "/cgi-bin/webhook/send" && query.get("key").map(String::as_str) == Some(token))
            .then_some(())
            .ok_or("key".into()),
        Kind::DingTalk => {
            if url.path() != "/robot/send" || query.get("access_token").map(String::as_str) != Some(token) {
                return Err("token".into());
            }
            let ts = query.get("timestamp").ok_or("no timestamp")?;
            let ms: i64 = ts.parse().map_err(|_| "timestamp")?;
            if (ms / 1000 - now_secs()).abs() > 3600 {
                return Err("timestamp more than an hour off".into());
            }
            let expected = b64(&mac(secret.as_bytes(), format!("{ts}\n{secret}").as_bytes()));
            (query.get("sign") == Some(&expected)).then_some(()).ok_or("sign".into())
        }
        Kind::Feishu => {
            if url.path() != format!("/open-apis/bot/v2/hook/{token}") {
                return Err("token".into());
            }
            let json: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
            let ts = json["timestamp"].as_str().ok_or("no timestamp")?;
            if (ts.parse::<i64>().map_err(|_| "timestamp")? - now_secs()).abs() > 3600 {
                return Err("timestamp more than an hour off".into());
            }
            let expected = b64(&mac(format!("{ts}\n{secret}").as_bytes(), b""));
            (json["sign"].as_str() == Some(expected.as_str())).then_some(()).ok_or("sign".into())
        }
        Kind::Gateway => (h.get("authorization").map(String::as_str) == Some(&format!("Bearer {token}")))
            .then_some(())
            .ok_or("token".into()),
    }
}

/// What the provider answers to a request whose signature or key does not match.
fn refusal(kind: Kind) -> (u16, String, Option<u64>) {
    let (status, body) = match kind {
        Kind::Aliyun => (
            400,
            r#"{"RequestId":"R-BAD","Message":"Specified signature is not matched with our calculation.","Code":"SignatureDoesNotMatch"}"#,
        ),
        Kind::Tencent => (
            200,
            r#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"The provided credentials could not be validated. Please check your signature is correct."},"RequestId":"R-BAD"}}"#,
        ),
        Kind::WeCom => (200, r#"{"errcode":93000,"errmsg":"invalid webhook url, hint: [1764205200_1_x]"}"#),
        Kind::DingTalk => (
            200,
            r#"{"errcode":310000,"errmsg":"sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"}"#,
        ),
        Kind::Feishu => (
            200,
            r#"{"code":19021,"data":{},"msg":"sign match fail or timestamp is not within one hour from current time"}"#,
        ),
        Kind::Gateway => (401, r#"{"result":-1,"desc":"unauthorized"}"#),
    };
    (status, body.to_string(), None)
}

fn success(kind: Kind, seen: &Seen) -> String {
    match kind {
        Kind::Aliyun => r#"{"Message":"OK","RequestId":"R-ALI-1","Code":"OK","BizId":"BIZ-1^0"}"#.into(),
        Kind::Tencent => {
            let body = seen.json();
            serde_json::json!({"Response": {"SendStatusSet": [{
                "SerialNo": "5000:S-1", "PhoneNumber": body["PhoneNumberSet"][0], "Fee": 1,
                "SessionContext": body["SessionContext"], "Code": "Ok", "Message": "send success", "IsoCode": "CN"
            }], "RequestId": "R-TC-1"}})
            .to_string()
        }
        Kind::WeCom | Kind::DingTalk => r#"{"errcode":0,"errmsg":"ok"}"#.into(),
        Kind::Feishu => r#"{"code":0,"data":{},"msg":"success"}"#.into(),
        Kind::Gateway => r#"{"result":0,"msgid":"G-1"}"#.into(),
    }
}

// ------------------------------------------------------------------ channels

const TIMEOUT: Duration = Duration::from_millis(1500);

fn aliyun(url: &str, secret: &str) -> Channel {
    let settings = SmsSettings {
        provider: SmsProvider::Aliyun(AliyunSettings {
            endpoint: Url::parse(url).expect("url"),
            access_key_id: "LTAI-test".into(),
            access_key_secret: Secret::new(secret.into()),
            sign_name: "临江市退役军人事务局".into(),
            template_code: "SMS_123456".into(),
            template_params: vec![("title".into(), "title".into())],
        }),
        timeout: TIMEOUT,
    };
    Channel::sms(&settings, None).expect("channel")
}

fn robot(kind: RobotKind, url: &str, token: &str, secret: Option<&str>) -> Channel {
    let settings = RobotSettings {
        id: format!("{}-test", kind.as_str()),
        name: "测试群".into(),
        kind,
        base_url: Url::parse(url).expect("url"),
        token: Secret::new(token.into()),
        secret: secret.map(|s| Secret::new(s.into())),
        rate_per_minute: None,
        timeout: TIMEOUT,
    };
    Channel::robot(&settings, None).expect("channel")
}

fn sms_message(out_id: &str) -> Message {
    Message {
        out_id: out_id.into(),
        title: "抚恤金发放延迟*（Ⅲ级）".into(),
        text: "网友反映抚恤金发放延迟，请于 48 小时内回应。".into(),
        mobiles: vec!["+8613800000001".into()],
        ..Message::default()
    }
}

#[tokio::test]
async fn aliyun_requests_are_signed_and_carry_the_out_id() {
    let provider = Provider::start(Kind::Aliyun, "LTAI-test", "ali-secret", "").await;
    let channel = aliyun(&provider.url, "ali-secret");
    for out_id in ["alert-1", "alert-2"] {
        let receipt = channel.send(&sms_message(out_id)).await.expect("delivered");
        assert_eq!(receipt.message_id.as_deref(), Some("BIZ-1^0"));
        assert_eq!(receipt.request_id.as_deref(), Some("R-ALI-1"));
        assert_eq!(receipt.response, r#"{"Message":"OK","RequestId":"R-ALI-1","Code":"OK","BizId":"BIZ-1^0"}"#);
    }
    let seen = provider.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|s| s.refused.is_none()), "{seen:?}");
    let q = seen[1].query();
    assert_eq!(q["OutId"], "alert-2");
    assert_eq!(q["PhoneNumbers"], "13800000001");
    assert_eq!(q["TemplateParam"], r#"{"title":"抚恤金发放延迟*（Ⅲ级）"}"#);
    assert_eq!(seen[1].headers["x-acs-action"], "SendSms");

    // A wrong secret: the provider's refusal, verbatim, and no retry.
    let wrong = aliyun(&provider.url, "not-the-secret");
    let err = wrong.send(&sms_message("alert-3")).await.expect_err("refused");
    assert!(!err.is_retryable());
    assert!(
        matches!(&err, ChannelError::Permanent { code, detail }
        if code == "SignatureDoesNotMatch" && detail.contains("Specified signature is not matched")),
        "{err}"
    );
}

#[tokio::test]
async fn tencent_requests_are_signed_and_carry_the_session_context() {
    let provider = Provider::start(Kind::Tencent, "AKID-test", "tc-secret", "").await;
    let settings = SmsSettings {
        provider: SmsProvider::Tencent(TencentSettings {
            endpoint: Url::parse(&provider.url).expect("url"),
            region: "ap-guangzhou".into(),
            secret_id: "AKID-test".into(),
            secret_key: Secret::new("tc-secret".into()),
            sdk_app_id: "1400000000".into(),
            sign_name: "临江退役军人".into(),
            template_id: "1234".into(),
            template_params: vec!["title".into()],
        }),
        timeout: TIMEOUT,
    };
    let channel = Channel::sms(&settings, None).expect("channel");
    let receipt = channel.send(&sms_message("alert-7")).await.expect("delivered");
    assert_eq!(receipt.message_id.as_deref(), Some("5000:S-1"));
    assert_eq!(receipt.request_id.as_deref(), Some("R-TC-1"));
    let seen = provider.seen();
    assert_eq!(seen[0].refused, None);
    let body = seen[0].json();
    assert_eq!(body["SessionContext"], "alert-7");
    assert_eq!(body["PhoneNumberSet"], serde_json::json!(["+8613800000001"]));
    assert_eq!(body["TemplateParamSet"], serde_json::json!(["抚恤金发放延迟*（Ⅲ级）"]));
    assert!(receipt.response.contains("\"SessionContext\":\"alert-7\""), "{}", receipt.response);
}

#[tokio::test]
async fn robots_sign_every_request_and_wrong_secrets_get_the_providers_refusal() {
    let message = Message {
        out_id: "9".into(),
        title: "【舆情提示】Ⅱ级".into(),
        text: "**抚恤金**发放延迟".into(),
        mobiles: vec!["13800000001".into()],
        user_ids: vec!["ou_1".into()],
        ..Message::default()
    };
    let cases = [
        (Kind::WeCom, RobotKind::WeCom, None, "93000"),
        (Kind::DingTalk, RobotKind::DingTalk, Some("SECding"), "310000"),
        (Kind::Feishu, RobotKind::Feishu, Some("fs-secret"), "19021"),
    ];
    for (kind, robot_kind, secret, refusal_code) in cases {
        let provider = Provider::start(kind, "", secret.unwrap_or(""), "tok-1").await;
        let good = robot(robot_kind, &provider.url, "tok-1", secret);
        let receipt = good.send(&message).await.unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert!(receipt.response.contains("ok") || receipt.response.contains("success"), "{}", receipt.response);
        let seen = provider.seen();
        assert_eq!(seen[0].refused, None, "{kind:?}");
        let body = seen[0].json();
        match kind {
            Kind::WeCom => assert_eq!(body["text"]["mentioned_mobile_list"], serde_json::json!(["13800000001"])),
            Kind::DingTalk => assert_eq!(body["at"]["atMobiles"], serde_json::json!(["13800000001"])),
            _ => assert!(body["card"]["elements"][0]["content"].as_str().expect("md").contains("<at id=ou_1></at>")),
        }
        let bad = match kind {
            Kind::WeCom => robot(robot_kind, &provider.url, "wrong-key", None),
            _ => robot(robot_kind, &provider.url, "tok-1", Some("wrong-secret")),
        };
        let err = bad.send(&message).await.expect_err("refused");
        assert!(matches!(&err, ChannelError::Permanent { code, .. } if code == refusal_code), "{kind:?}: {err}");
        assert!(provider.seen()[1].refused.is_some());
    }
}

#[tokio::test]
async fn server_errors_throttling_and_stalls_are_retryable_with_the_answer_kept() {
    let provider = Provider::start(Kind::DingTalk, "", "SECding", "tok").await;
    provider.then(Reply::Status(502, "<html>502 Bad Gateway</html>", None));
    provider.then(Reply::Status(429, r#"{"errcode":130101,"errmsg":"send too fast"}"#, Some(7)));
    provider.then(Reply::Status(
        200,
        r#"{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}"#,
        None,
    ));
    provider.then(Reply::Stall(Duration::from_secs(4)));
    let channel = robot(RobotKind::DingTalk, &provider.url, "tok", Some("SECding"));
    let message = Message { title: "t".into(), text: "x".into(), ..Message::default() };

    let e = channel.send(&message).await.expect_err("502");
    assert_eq!(
        e,
        ChannelError::Retryable {
            code: "http-502".into(),
            detail: "<html>502 Bad Gateway</html>".into(),
            retry_after: None
        }
    );
    let e = channel.send(&message).await.expect_err("429");
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    let e = channel.send(&message).await.expect_err("130101");
    assert!(
        matches!(&e, ChannelError::Retryable { code, detail, .. }
        if code == "130101" && detail.contains("exceed 20 times per minute")),
        "{e}"
    );
    let started = std::time::Instant::now();
    let e = channel.send(&message).await.expect_err("stall");
    assert!(matches!(&e, ChannelError::Retryable { code, .. } if code == "timeout"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    // Once the provider is itself again, the same channel delivers.
    assert!(channel.send(&message).await.is_ok());
    assert!(provider.seen().iter().all(|s| s.refused.is_none()));
}

#[tokio::test]
async fn gateway_templates_reach_the_gateway() {
    let provider = Provider::start(Kind::Gateway, "", "", "gw-token").await;
    let template = |s: &str| Template::parse(s).expect("template");
    let settings = SmsSettings {
        provider: SmsProvider::Gateway(GatewaySettings {
            method: reqwest::Method::POST,
            url: template(&format!("{}/sms/send?id={{out_id}}", provider.url)),
            headers: vec![("Authorization".into(), template("Bearer {token}"))],
            body: Some(template("mobile={mobile}&content=【{title}】{text}")),
            body_type: BodyType::Form,
            token: Some(Secret::new("gw-token".into())),
            success_contains: Some("\"result\":0".into()),
        }),
        timeout: TIMEOUT,
    };
    let channel = Channel::sms(&settings, None).expect("channel");
    let receipt = channel.send(&sms_message("alert 5")).await.expect("delivered");
    assert_eq!(receipt.response, r#"{"result":0,"msgid":"G-1"}"#);
    let seen = provider.seen();
    assert_eq!(seen[0].target, "/sms/send?id=alert%205");
    let form: HashMap<String, String> = url::form_urlencoded::parse(&seen[0].body).into_owned().collect();
    assert_eq!(form["mobile"], "+8613800000001");
    assert_eq!(form["content"], "【抚恤金发放延迟*（Ⅲ级）】网友反映抚恤金发放延迟，请于 48 小时内回应。");
    assert_eq!(seen[0].headers["content-type"], "application/x-www-form-urlencoded; charset=utf-8");
}

// ------------------------------------------------------------------ config and CLI

fn project(extra: &str) -> Project {
    let p = Project::new(&source("a", "feed.xml"), &format!("{FILE_MAIL}{extra}"));
    p.write("feed.xml", rss(&[]));
    p
}

#[test]
fn inline_secrets_and_wrong_keys_are_reported_with_line_and_column() {
    let p = project(
        r#"[sms]
provider = "aliyun"
access_key_id = "LTAI-test"
access_key_secret = "abc"
sign_name = "临江"
template_code = "SMS_1"
template_id = "99"
template_params = { title = "titel" }

[[robots]]
id = "gkb"
kind = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"

[[robots]]
id = "ding"
kind = "dingtalk"
token_env = "YUQING_TEST_UNSET_VARIABLE"
rate_per_minute = 0
"#,
    );
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let file = p.path().join("yuqing.toml");
    let line_of = |needle: &str| {
        std::fs::read_to_string(&file).expect("read").lines().position(|l| l.starts_with(needle)).expect(needle) + 1
    };
    let expect = |needle: &str, column: usize, message: &str| {
        let at = format!("{}:{}:{column}: 错误：{message}", file.display(), line_of(needle));
        assert!(run.stdout.contains(&at), "missing {at:?} in:\n{}", run.stdout);
    };
    expect("access_key_secret = ", 1, "不允许在配置文件中直接写密钥（[sms] access_key_secret）");
    expect("template_id", 1, "provider = \"aliyun\" 不使用 template_id");
    expect("template_params", 29, "未知的消息字段 \"titel\"");
    expect("url = ", 1, "不允许在配置文件中直接写密钥（[[robots]] url）");
    expect("token_env", 13, "环境变量 YUQING_TEST_UNSET_VARIABLE 未设置或为空");
    expect("rate_per_minute", 19, "rate_per_minute 不能为 0");
    assert!(run.stdout.contains("是不是 \"title\""), "{}", run.stdout);
    assert!(run.stdout.contains("→ 请改用 access_key_secret_file / access_key_secret_env"), "{}", run.stdout);
    // The secret itself is never echoed.
    assert!(!run.stdout.contains("\"abc\""), "{}", run.stdout);
}

#[test]
fn a_bad_gateway_placeholder_is_reported_at_its_column() {
    let p = project("[sms]\nprovider = \"gateway\"\nurl = \"https://sms.example.gov.cn/send?to={phone}\"\n");
    let run = p.run(&["check"]);
    let file = p.path().join("yuqing.toml");
    let line =
        std::fs::read_to_string(&file).expect("read").lines().position(|l| l.starts_with("url =")).expect("url") + 1;
    let at = format!("{}:{line}:43: 错误：未知的占位符 {{phone}}", file.display());
    assert!(run.stdout.contains(&at), "missing {at:?} in:\n{}", run.stdout);
    assert!(run.stdout.contains("{mobile}"), "{}", run.stdout);
}

/// Runs `yuqing notify test` on the blocking pool while the stand-in answers.
async fn notify_test(p: &Project, args: &[&str]) -> support::Run {
    let mut cmd = p.command();
    cmd.args(["notify", "test"]).args(args);
    tokio::task::spawn_blocking(move || support::Run::from(cmd.output().expect("run yuqing"))).await.expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_sends_one_message_and_prints_the_answer_verbatim() {
    let sms = Provider::start(Kind::Aliyun, "LTAI-test", "ali-secret", "").await;
    let feishu = Provider::start(Kind::Feishu, "", "fs-secret", "hook-1").await;
    let p = project(&format!(
        r#"[sms]
provider = "aliyun"
endpoint = "{}"
access_key_id = "LTAI-test"
access_key_secret_file = "secrets/aliyun"
sign_name = "临江市退役军人事务局"
template_code = "SMS_123456"
template_params = {{ title = "title", time = "deadline" }}

[[robots]]
id = "fs"
name = "政务公开群"
kind = "feishu"
base_url = "{}"
token_file = "secrets/feishu-webhook"
secret_file = "secrets/feishu-secret"
timeout_secs = 2

[[people]]
id = "wang"
name = "王科员"
mobile = "+8613800000008"
"#,
        sms.url, feishu.url
    ));
    p.write("secrets/aliyun", "ali-secret\n");
    p.write("secrets/feishu-webhook", "https://open.feishu.cn/open-apis/bot/v2/hook/hook-1\n");
    p.write("secrets/feishu-secret", "wrong-secret\n");
    let check = p.run(&["check"]);
    assert!(check.stdout.contains("短信：aliyun；机器人：fs"), "{}", check.stdout);

    let run = notify_test(&p, &["--channel", "sms", "--to", "wang"]).await;
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("通道：短信（aliyun）→ +8613800000008"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(r#"提供方应答（原文）：{"Message":"OK","RequestId":"R-ALI-1","Code":"OK","BizId":"BIZ-1^0"}"#),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("消息编号：BIZ-1^0"), "{}", run.stdout);
    let q = sms.seen()[0].query();
    assert!(q["OutId"].starts_with("test-"), "{q:?}");
    assert_eq!(q["PhoneNumbers"], "13800000008");
    let params: serde_json::Value = serde_json::from_str(&q["TemplateParam"]).expect("json");
    assert_eq!(params["title"], "【舆情监测】通道测试");

    // The Feishu secret on file is wrong: Feishu's own words, and exit code 2.
    let run = notify_test(&p, &["--channel", "feishu"]).await;
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("sign match fail or timestamp is not within one hour"), "{}", run.stdout);
    assert!(run.stdout.contains("结果：发送被拒绝 [19021]"), "{}", run.stdout);
    assert!(!run.stdout.contains("wrong-secret") && !run.stderr.contains("wrong-secret"));
    assert!(!run.stdout.contains("hook-1") && !run.stderr.contains("hook-1"), "{}", run.stderr);

    // No such channel configured.
    let run = notify_test(&p, &["--channel", "wecom"]).await;
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("未配置企业微信机器人"), "{}", run.stderr);
}
