//! Tencent Cloud SMS (`sms` 2021-01-11 `SendSms`) with the TC3-HMAC-SHA256 signature.
//!
//! ```text
//! POST / with a JSON body; Content-Type: application/json; charset=utf-8
//! CanonicalRequest = "POST\n/\n\ncontent-type:<ct>\nhost:<host>\n\ncontent-type;host\n" + HexSHA256(payload)
//! CredentialScope  = <UTC date of the timestamp> + "/" + service + "/tc3_request"
//! StringToSign     = "TC3-HMAC-SHA256\n" + timestamp + "\n" + CredentialScope + "\n" + HexSHA256(CanonicalRequest)
//! SecretDate = HMAC("TC3" + SecretKey, date); SecretService = HMAC(SecretDate, service)
//! SecretSigning = HMAC(SecretService, "tc3_request"); Signature = Hex(HMAC(SecretSigning, StringToSign))
//! Authorization: TC3-HMAC-SHA256 Credential=<SecretId>/<scope>, SignedHeaders=content-type;host, Signature=<hex>
//! ```
//!
//! Our notification id travels as `SessionContext`, which Tencent returns in receipts.

use chrono::{DateTime, Utc};
use url::Url;

use super::{ChannelError, HttpAnswer, HttpRequest, Message, Receipt, hex, hmac_sha256, json_text, sha256_hex};
use crate::model::Secret;

pub const DEFAULT_ENDPOINT: &str = "https://sms.tencentcloudapi.com";
pub const DEFAULT_REGION: &str = "ap-guangzhou";
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// `[sms] provider = "tencent"`.
#[derive(Debug, Clone)]
pub struct TencentSettings {
    pub endpoint: Url,
    pub region: String,
    pub secret_id: String,
    pub secret_key: Secret,
    /// `SmsSdkAppId` (1400...).
    pub sdk_app_id: String,
    pub sign_name: String,
    pub template_id: String,
    /// Message fields ([`Message::field`]) filling the template's `{1}`, `{2}`, ... in order.
    pub template_params: Vec<String>,
}

/// Every step of a TC3 signature, for tests and troubleshooting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
    pub authorization: String,
}

/// Signs a POST of `payload` (signed headers: `content-type;host`).
pub fn sign(
    secret_id: &str,
    secret_key: &str,
    service: &str,
    host: &str,
    content_type: &str,
    payload: &[u8],
    timestamp: i64,
) -> Signed {
    let date = DateTime::from_timestamp(timestamp, 0).unwrap_or_default().format("%Y-%m-%d").to_string();
    let canonical_request =
        format!("POST\n/\n\ncontent-type:{content_type}\nhost:{host}\n\ncontent-type;host\n{}", sha256_hex(payload));
    let scope = format!("{date}/{service}/tc3_request");
    let string_to_sign = format!("TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()));
    let secret_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let secret_service = hmac_sha256(&secret_date, service.as_bytes());
    let secret_signing = hmac_sha256(&secret_service, b"tc3_request");
    let signature = hex(&hmac_sha256(&secret_signing, string_to_sign.as_bytes()));
    let authorization = format!(
        "TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}"
    );
    Signed { canonical_request, string_to_sign, signature, authorization }
}

/// E.164: mainland numbers without a country code get `+86`.
fn phone(mobile: &str) -> String {
    let digits: String = mobile.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect();
    if digits.starts_with('+') { digits } else { format!("+86{digits}") }
}

/// The signed `SendSms` request for `message` at `now`.
pub fn request(s: &TencentSettings, message: &Message, now: DateTime<Utc>) -> Result<HttpRequest, ChannelError> {
    if message.mobiles.is_empty() {
        return Err(ChannelError::Invalid("no mobile number to send the SMS to".into()));
    }
    let params = s.template_params.iter().map(|f| message.require(f)).collect::<Result<Vec<_>, _>>()?;
    let body = serde_json::json!({
        "PhoneNumberSet": message.mobiles.iter().map(|m| phone(m)).collect::<Vec<_>>(),
        "SmsSdkAppId": s.sdk_app_id,
        "SignName": s.sign_name,
        "TemplateId": s.template_id,
        "TemplateParamSet": params,
        "SessionContext": message.out_id,
    })
    .to_string()
    .into_bytes();
    let host = super::host_header(&s.endpoint);
    let timestamp = now.timestamp();
    let signed = sign(&s.secret_id, s.secret_key.expose(), "sms", &host, CONTENT_TYPE, &body, timestamp);
    let headers = vec![
        ("content-type".to_string(), CONTENT_TYPE.to_string()),
        ("x-tc-action".to_string(), "SendSms".to_string()),
        ("x-tc-version".to_string(), "2021-01-11".to_string()),
        ("x-tc-region".to_string(), s.region.clone()),
        ("x-tc-timestamp".to_string(), timestamp.to_string()),
        ("authorization".to_string(), signed.authorization),
    ];
    Ok(HttpRequest { method: reqwest::Method::POST, url: super::join(&s.endpoint, "/")?, headers, body })
}

/// Codes worth retrying: Tencent's throttling, per-number frequency limits and internal errors.
fn retryable(code: &str) -> bool {
    code.starts_with("RequestLimitExceeded")
        || code.starts_with("InternalError")
        || code.starts_with("LimitExceeded.PhoneNumber")
        || code == "ResourceUnavailable.ServiceUnavailable"
}

/// `Response.Error` is a failed request; otherwise each number has its own status
/// (`Code: "Ok"`). Delivered when at least one number was accepted, with the refused
/// ones listed; when none was, the first number's code decides.
pub fn classify(answer: &HttpAnswer) -> Result<Receipt, ChannelError> {
    let json = answer.json()?;
    let response = json.get("Response").cloned().unwrap_or_default();
    let request_id = json_text(&response, "RequestId");
    let fail = |code: String| {
        if retryable(&code) {
            ChannelError::Retryable { code, detail: answer.body.clone(), retry_after: answer.retry_after }
        } else {
            ChannelError::permanent(code, &answer.body)
        }
    };
    if let Some(error) = response.get("Error") {
        return Err(fail(json_text(error, "Code").unwrap_or_else(|| "Error".into())));
    }
    let statuses = response.get("SendStatusSet").and_then(|s| s.as_array()).cloned().unwrap_or_default();
    let (ok, refused): (Vec<_>, Vec<_>) =
        statuses.iter().partition(|s| json_text(s, "Code").is_some_and(|c| c.eq_ignore_ascii_case("ok")));
    let Some(first) = ok.first() else {
        let code = refused.first().and_then(|s| json_text(s, "Code")).unwrap_or_else(|| "NoSendStatus".into());
        return Err(fail(code));
    };
    let rejected = refused
        .iter()
        .map(|s| {
            let number = json_text(s, "PhoneNumber").unwrap_or_default();
            let why =
                format!("{} {}", json_text(s, "Code").unwrap_or_default(), json_text(s, "Message").unwrap_or_default());
            (number, why.trim().to_string())
        })
        .collect();
    Ok(Receipt { message_id: json_text(first, "SerialNo"), request_id, rejected, response: answer.body.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Tencent Cloud's "签名方法 v3" page (cloud.tencent.com/document/
    /// api/213/30654; English: "Signature v3", e.g. tencentcloud.com/document/product/
    /// 1026/31038; also TencentCloud/signature-process-demo): CVM `DescribeInstances`,
    /// POST JSON at 1551113065 (2019-02-25), with the page's masked credentials taken
    /// literally as the key strings. Published: the payload hash `35e9c5b0…f064`, the
    /// hashed canonical request `5ffe6a04…7031` and the signature `2230eefd…652c`.
    /// (Newer versions of the page also sign `x-tc-action`; this is the `content-type;host`
    /// variant, which is what we send.)
    #[test]
    fn reproduces_the_published_tc3_example() {
        let payload = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let signed = sign(
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
            "Gu5t9xGARNpq86cd98joQYCN3*******",
            "cvm",
            "cvm.tencentcloudapi.com",
            CONTENT_TYPE,
            payload.as_bytes(),
            1551113065,
        );
        assert_eq!(sha256_hex(payload.as_bytes()), "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064");
        assert_eq!(
            signed.string_to_sign,
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n\
             5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(signed.signature, "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c");
        assert_eq!(
            signed.authorization,
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
        );
    }

    fn settings() -> TencentSettings {
        TencentSettings {
            endpoint: Url::parse(DEFAULT_ENDPOINT).expect("url"),
            region: DEFAULT_REGION.into(),
            secret_id: "AKID-test".into(),
            secret_key: Secret::new("key".into()),
            sdk_app_id: "1400000000".into(),
            sign_name: "临江退役军人".into(),
            template_id: "1234".into(),
            template_params: vec!["title".into(), "deadline".into()],
        }
    }

    #[test]
    fn send_sms_request_carries_session_context_and_ordered_params() {
        let mut message = Message {
            out_id: "alert-9".into(),
            title: "抚恤金发放延迟".into(),
            mobiles: vec!["13800000001".into(), "+852 6123 4567".into()],
            ..Message::default()
        };
        message.fields.insert("deadline".into(), "11月27日14时".into());
        let now = DateTime::from_timestamp(1_764_205_200, 0).expect("time");
        let req = request(&settings(), &message, now).expect("request");
        let body: serde_json::Value = serde_json::from_slice(&req.body).expect("json");
        assert_eq!(body["SessionContext"], "alert-9");
        assert_eq!(body["PhoneNumberSet"], serde_json::json!(["+8613800000001", "+85261234567"]));
        assert_eq!(body["TemplateParamSet"], serde_json::json!(["抚恤金发放延迟", "11月27日14时"]));
        assert_eq!(req.header("x-tc-timestamp"), Some("1764205200"));
        let expected =
            sign("AKID-test", "key", "sms", "sms.tencentcloudapi.com", CONTENT_TYPE, &req.body, 1_764_205_200);
        assert_eq!(req.header("authorization"), Some(expected.authorization.as_str()));
    }

    fn answer(body: &str) -> HttpAnswer {
        HttpAnswer { status: 200, retry_after: None, body: body.into() }
    }

    #[test]
    fn answers_are_classified_per_number() {
        let ok = r#"{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619","PhoneNumber":"+8613800000001","Fee":1,"SessionContext":"alert-9","Code":"Ok","Message":"send success","IsoCode":"CN"},{"SerialNo":"","PhoneNumber":"+8613800000002","Fee":0,"SessionContext":"alert-9","Code":"InvalidParameterValue.IncorrectPhoneNumber","Message":"incorrect number format","IsoCode":"CN"}],"RequestId":"a0aabda6-cf91-4f3e-a81f-9198114a2279"}}"#;
        let receipt = classify(&answer(ok)).expect("ok");
        assert_eq!(receipt.message_id.as_deref(), Some("5000:1045710669157053657849499619"));
        assert_eq!(receipt.request_id.as_deref(), Some("a0aabda6-cf91-4f3e-a81f-9198114a2279"));
        assert_eq!(
            receipt.rejected,
            vec![(
                "+8613800000002".to_string(),
                "InvalidParameterValue.IncorrectPhoneNumber incorrect number format".to_string()
            )]
        );
        let auth = r#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"The provided credentials could not be validated."},"RequestId":"x"}}"#;
        assert_eq!(classify(&answer(auth)), Err(ChannelError::permanent("AuthFailure.SignatureFailure", auth)));
        let limit =
            r#"{"Response":{"Error":{"Code":"RequestLimitExceeded","Message":"too many requests"},"RequestId":"x"}}"#;
        assert!(classify(&answer(limit)).expect_err("limit").is_retryable());
        let per_number = r#"{"Response":{"SendStatusSet":[{"PhoneNumber":"+8613800000001","Code":"LimitExceeded.PhoneNumberThirtySecondLimit","Message":"30秒内同一号码限发"}],"RequestId":"x"}}"#;
        assert!(classify(&answer(per_number)).expect_err("per number").is_retryable());
        let template = r#"{"Response":{"SendStatusSet":[{"PhoneNumber":"+8613800000001","Code":"FailedOperation.TemplateIncorrectOrUnapproved","Message":"template not approved"}],"RequestId":"x"}}"#;
        assert!(!classify(&answer(template)).expect_err("template").is_retryable());
    }
}
