//! Aliyun SMS (Dysmsapi 2017-05-25 `SendSms`) with the V3 signature, ACS3-HMAC-SHA256.
//!
//! The request is a `POST /` whose parameters (`PhoneNumbers`, `SignName`,
//! `TemplateCode`, `TemplateParam`, `OutId`) travel in the query string, with an empty
//! body. Signing (help.aliyun.com/document_detail/2593177.html, "V3版本请求体&签名机制"):
//!
//! ```text
//! CanonicalRequest = METHOD \n URI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n HexSHA256(body)
//!   CanonicalQuery:   params sorted by name, name=value, RFC 3986-encoded, joined by &
//!   CanonicalHeaders: "name:value\n" for host, x-acs-* and content-type, sorted by name
//! StringToSign     = "ACS3-HMAC-SHA256\n" + HexSHA256(CanonicalRequest)
//! Signature        = Hex(HMAC-SHA256(AccessKeySecret, StringToSign))
//! Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<names;...>,Signature=<hex>
//! ```
//!
//! Our notification id travels as `OutId`, which Aliyun returns in delivery receipts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use url::Url;

use super::{ChannelError, HttpAnswer, HttpRequest, Message, Receipt, hex, hmac_sha256, json_text, sha256_hex};
use crate::model::Secret;

pub const DEFAULT_ENDPOINT: &str = "https://dysmsapi.aliyuncs.com";
const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// `[sms] provider = "aliyun"`.
#[derive(Debug, Clone)]
pub struct AliyunSettings {
    pub endpoint: Url,
    pub access_key_id: String,
    pub access_key_secret: Secret,
    /// 短信签名, as approved.
    pub sign_name: String,
    /// `SMS_...`, as approved.
    pub template_code: String,
    /// Template variable → message field ([`Message::field`]), e.g. `title` → `title`.
    pub template_params: Vec<(String, String)>,
}

/// Every step of a V3 signature, for tests and troubleshooting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
    pub authorization: String,
}

/// Signs a request. `headers` are the headers to sign (lower-case names: `host` and the
/// `x-acs-*` ones, including `x-acs-content-sha256`); `query` the decoded parameters.
pub fn sign(
    method: &str,
    uri: &str,
    query: &BTreeMap<String, String>,
    headers: &BTreeMap<String, String>,
    body: &[u8],
    access_key_id: &str,
    access_key_secret: &str,
) -> Signed {
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{}\n", v.trim())).collect();
    let signed_headers = headers.keys().map(String::as_str).collect::<Vec<_>>().join(";");
    let canonical_request = format!(
        "{method}\n{uri}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        canonical_query(query),
        sha256_hex(body)
    );
    let string_to_sign = format!("{ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()));
    let signature = hex(&hmac_sha256(access_key_secret.as_bytes(), string_to_sign.as_bytes()));
    let authorization =
        format!("{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}");
    Signed { canonical_request, string_to_sign, signature, authorization }
}

/// Parameters sorted by name, each `name=value` RFC 3986-encoded, joined by `&`.
pub fn canonical_query(query: &BTreeMap<String, String>) -> String {
    query
        .iter()
        .map(|(k, v)| format!("{}={}", super::percent_encode(k), super::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Aliyun wants mainland numbers without `+86`, others with their country code and no `+`.
fn phone(mobile: &str) -> String {
    let digits: String = mobile.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect();
    match digits.strip_prefix("+86") {
        Some(rest) => rest.to_string(),
        None => digits.trim_start_matches('+').to_string(),
    }
}

/// The signed `SendSms` request for `message` at `now`.
pub fn request(
    s: &AliyunSettings,
    message: &Message,
    now: DateTime<Utc>,
    nonce: &str,
) -> Result<HttpRequest, ChannelError> {
    if message.mobiles.is_empty() {
        return Err(ChannelError::Invalid("no mobile number to send the SMS to".into()));
    }
    let mut query = BTreeMap::new();
    query.insert("PhoneNumbers".to_string(), message.mobiles.iter().map(|m| phone(m)).collect::<Vec<_>>().join(","));
    query.insert("SignName".to_string(), s.sign_name.clone());
    query.insert("TemplateCode".to_string(), s.template_code.clone());
    if !s.template_params.is_empty() {
        let mut params = serde_json::Map::new();
        for (name, field) in &s.template_params {
            params.insert(name.clone(), message.require(field)?.into());
        }
        query.insert("TemplateParam".to_string(), serde_json::Value::Object(params).to_string());
    }
    if !message.out_id.is_empty() {
        query.insert("OutId".to_string(), message.out_id.clone());
    }
    let mut headers = BTreeMap::new();
    headers.insert("host".to_string(), super::host_header(&s.endpoint));
    headers.insert("x-acs-action".to_string(), "SendSms".to_string());
    headers.insert("x-acs-content-sha256".to_string(), sha256_hex(b""));
    headers.insert("x-acs-date".to_string(), now.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    headers.insert("x-acs-signature-nonce".to_string(), nonce.to_string());
    headers.insert("x-acs-version".to_string(), "2017-05-25".to_string());
    let signed = sign("POST", "/", &query, &headers, b"", &s.access_key_id, s.access_key_secret.expose());
    let mut url = super::join(&s.endpoint, "/")?;
    url.set_query(Some(&canonical_query(&query)));
    let mut headers: Vec<(String, String)> = headers.into_iter().filter(|(k, _)| k != "host").collect();
    headers.push(("authorization".into(), signed.authorization));
    Ok(HttpRequest { method: reqwest::Method::POST, url, headers, body: Vec::new() })
}

/// `{"Code":"OK","BizId":…,"RequestId":…}` is delivered; throttling and server-side codes
/// are retryable; the rest (signature, template, key, number) are permanent.
pub fn classify(answer: &HttpAnswer) -> Result<Receipt, ChannelError> {
    let json = answer.json()?;
    let code = json_text(&json, "Code").unwrap_or_else(|| format!("http-{}", answer.status));
    if code == "OK" {
        return Ok(Receipt {
            message_id: json_text(&json, "BizId"),
            request_id: json_text(&json, "RequestId"),
            rejected: Vec::new(),
            response: answer.body.clone(),
        });
    }
    let retryable = code.starts_with("Throttling")
        || code.starts_with("isp.")
        || matches!(code.as_str(), "isv.BUSINESS_LIMIT_CONTROL" | "ServiceUnavailable" | "InternalError");
    Err(if retryable {
        ChannelError::Retryable { code, detail: answer.body.clone(), retry_after: answer.retry_after }
    } else {
        ChannelError::permanent(code, &answer.body)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// The fixed example of Aliyun's "V3版本请求体&签名机制" (help.aliyun.com/document_detail/
    /// 2593177.html; English: alibabacloud.com/help/en/sdk/product-overview/
    /// v3-request-structure-and-signature, section "Signature example"): ECS
    /// `RunInstances` with the credentials `YourAccessKeyId` / `YourAccessKeySecret`.
    /// The page publishes the hashed canonical request and the signature; the inputs
    /// below are those of the example (date 2023-10-26T10:22:32Z, nonce
    /// 3156853299f313e23d1673dc12e1703d, empty body). Matching both published hashes
    /// confirms every input.
    #[test]
    fn reproduces_the_published_v3_example() {
        let query = BTreeMap::from([
            ("ImageId".to_string(), "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd".to_string()),
            ("RegionId".to_string(), "cn-shanghai".to_string()),
        ]);
        let headers = BTreeMap::from([
            ("host".to_string(), "ecs.cn-shanghai.aliyuncs.com".to_string()),
            ("x-acs-action".to_string(), "RunInstances".to_string()),
            ("x-acs-content-sha256".to_string(), sha256_hex(b"")),
            ("x-acs-date".to_string(), "2023-10-26T10:22:32Z".to_string()),
            ("x-acs-signature-nonce".to_string(), "3156853299f313e23d1673dc12e1703d".to_string()),
            ("x-acs-version".to_string(), "2014-05-26".to_string()),
        ]);
        let signed = sign("POST", "/", &query, &headers, b"", "YourAccessKeyId", "YourAccessKeySecret");
        assert_eq!(
            sha256_hex(signed.canonical_request.as_bytes()),
            "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
        );
        assert_eq!(signed.signature, "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0");
        assert_eq!(
            signed.authorization,
            "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;\
             x-acs-date;x-acs-signature-nonce;x-acs-version,\
             Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
    }

    fn settings() -> AliyunSettings {
        AliyunSettings {
            endpoint: Url::parse(DEFAULT_ENDPOINT).expect("url"),
            access_key_id: "LTAI-test".into(),
            access_key_secret: Secret::new("test-secret".into()),
            sign_name: "临江市退役军人事务局".into(),
            template_code: "SMS_123456".into(),
            template_params: vec![("title".into(), "title".into()), ("grade".into(), "grade".into())],
        }
    }

    #[test]
    fn send_sms_request_carries_out_id_template_and_a_valid_signature() {
        let mut message = Message {
            out_id: "alert-17".into(),
            title: "抚恤金 发放*延迟".into(),
            mobiles: vec!["+86 138-0000-0001".into(), "13800000002".into()],
            ..Message::default()
        };
        message.fields.insert("grade".into(), "Ⅲ".into());
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 1, 2, 3).single().expect("time");
        let req = request(&settings(), &message, now, "nonce-1").expect("request");
        let query: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        assert_eq!(query["PhoneNumbers"], "13800000001,13800000002");
        assert_eq!(query["OutId"], "alert-17");
        assert_eq!(query["TemplateParam"], r#"{"grade":"Ⅲ","title":"抚恤金 发放*延迟"}"#);
        assert!(req.url.query().expect("query").contains("%20%E5%8F%91%E6%94%BE%2A"), "{}", req.url);
        assert_eq!(req.header("x-acs-date"), Some("2026-11-27T01:02:03Z"));
        // A verifier recomputing the signature from what is on the wire agrees.
        let signed_headers = BTreeMap::from(
            ["x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"]
                .map(|h| (h.to_string(), req.header(h).expect(h).to_string())),
        );
        let mut signed_headers = signed_headers;
        signed_headers.insert("host".into(), "dysmsapi.aliyuncs.com".into());
        let expected = sign("POST", "/", &query, &signed_headers, b"", "LTAI-test", "test-secret");
        assert_eq!(req.header("authorization"), Some(expected.authorization.as_str()));
    }

    #[test]
    fn a_missing_template_field_or_recipient_is_invalid() {
        let message = Message { mobiles: vec!["13800000001".into()], ..Message::default() };
        assert!(matches!(request(&settings(), &message, Utc::now(), "n"), Err(ChannelError::Invalid(_))));
        let message = Message { fields: [("grade".into(), "I".into())].into(), ..Message::default() };
        assert!(matches!(request(&settings(), &message, Utc::now(), "n"), Err(ChannelError::Invalid(_))));
    }

    fn answer(status: u16, body: &str) -> HttpAnswer {
        HttpAnswer { status, retry_after: None, body: body.into() }
    }

    #[test]
    fn answers_are_classified_and_kept_verbatim() {
        let ok = r#"{"Message":"OK","RequestId":"F655A8D5-B967-440B-8683-DAD6FF8DE990","Code":"OK","BizId":"900619746936498440^0"}"#;
        let receipt = classify(&answer(200, ok)).expect("ok");
        assert_eq!(receipt.message_id.as_deref(), Some("900619746936498440^0"));
        assert_eq!(receipt.request_id.as_deref(), Some("F655A8D5-B967-440B-8683-DAD6FF8DE990"));
        assert_eq!(receipt.response, ok);
        let limit = r#"{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发分钟级流控Permits:1"}"#;
        assert_eq!(
            classify(&answer(200, limit)),
            Err(ChannelError::Retryable {
                code: "isv.BUSINESS_LIMIT_CONTROL".into(),
                detail: limit.into(),
                retry_after: None
            })
        );
        let throttled = r#"{"Code":"Throttling.User","Message":"Request was denied due to user flow control."}"#;
        assert!(classify(&answer(400, throttled)).expect_err("throttled").is_retryable());
        let bad =
            r#"{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation."}"#;
        assert_eq!(classify(&answer(400, bad)), Err(ChannelError::permanent("SignatureDoesNotMatch", bad)));
        let template = r#"{"Code":"isv.SMS_TEMPLATE_ILLEGAL","Message":"该账号下找不到对应模板"}"#;
        assert!(!classify(&answer(200, template)).expect_err("template").is_retryable());
        assert!(classify(&answer(503, "busy")).expect_err("503").is_retryable());
    }
}
