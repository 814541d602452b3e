//! Feishu (飞书) custom group robot with 签名校验:
//!
//! ```text
//! timestamp = now in seconds (within an hour of Feishu's clock)
//! sign      = Base64(HMAC-SHA256(key = timestamp + "\n" + secret, msg = ""))
//! POST <base>/open-apis/bot/v2/hook/<TOKEN>
//! {"timestamp":"<ts>","sign":"<sign>","msg_type":"interactive","card":{…markdown…}}
//! ```
//!
//! Note the order: the string-to-sign is the HMAC *key* and the message is empty, unlike
//! DingTalk; copying DingTalk's order gets `19021` "sign match fail". The message goes as
//! a card with a markdown element; members are mentioned by open_id (`<at id=…>`):
//! custom robots cannot mention by mobile. Answers: `{"code":0,"msg":"success"}` (older:
//! `{"StatusCode":0,…}`); `11232` is throttling (limits: 100 a minute, 5 a second).

use chrono::{DateTime, Utc};

use super::{
    ChannelError, HttpAnswer, HttpRequest, Message, Receipt, RobotSettings, base64, fit, hmac_sha256, json_text,
};

/// Feishu refuses bodies over 20 KB; leave room for the JSON around the text.
const TEXT_MAX: usize = 18 * 1024;

/// `Base64(HMAC-SHA256(key = timestamp + "\n" + secret, msg = ""))`.
pub fn sign(timestamp: i64, secret: &str) -> String {
    base64(&hmac_sha256(format!("{timestamp}\n{secret}").as_bytes(), b""))
}

/// The request for `message` at `now`.
pub fn request(s: &RobotSettings, message: &Message, now: DateTime<Utc>) -> Result<HttpRequest, ChannelError> {
    let url = super::join(&s.base_url, &format!("/open-apis/bot/v2/hook/{}", s.token.expose()))?;
    let mut text = fit(&message.text, TEXT_MAX);
    let mentions: Vec<String> = message.user_ids.iter().map(|id| format!("<at id={id}></at>")).collect();
    if !mentions.is_empty() {
        text.push('\n');
        text.push_str(&mentions.join(" "));
    }
    let mut body = serde_json::json!({
        "msg_type": "interactive",
        "card": {
            "header": {"title": {"tag": "plain_text", "content": message.title}},
            "elements": [{"tag": "markdown", "content": text}],
        },
    });
    if let Some(secret) = &s.secret {
        let ts = now.timestamp();
        body["timestamp"] = ts.to_string().into();
        body["sign"] = sign(ts, secret.expose()).into();
    }
    Ok(HttpRequest::post_json(url, "application/json; charset=utf-8", &body))
}

/// `code` (or `StatusCode`) 0 is delivered; 11232 (throttled) is retryable; 19021 (bad
/// signature or clock), 19024 (keyword), 9499 (bad request) and the rest are permanent.
pub fn classify(answer: &HttpAnswer) -> Result<Receipt, ChannelError> {
    let json = answer.json()?;
    let code = json_text(&json, "code")
        .or_else(|| json_text(&json, "StatusCode"))
        .unwrap_or_else(|| format!("http-{}", answer.status));
    super::robot_outcome(answer, code, &["11232"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::RobotKind;
    use crate::model::Secret;

    /// Feishu publishes the formula (open.feishu.cn custom bot guide, 签名校验, with Java/Go/
    /// Python `GenSign` samples) but no fixed input/output pair. The expected value was
    /// computed independently with Python's `hmac`/`base64`; the DingTalk-order value
    /// (key = secret, msg = string-to-sign) differs, which is the classic mistake.
    #[test]
    fn signature_follows_the_published_formula() {
        assert_eq!(sign(1_599_360_473, "demo-secret"), "3/MaVZ8JLIy4TUG+7KSFJqvUkTKd+HWY8g+56DZWq8s=");
        assert_ne!(sign(1_599_360_473, "demo-secret"), "+y4hoW+2wrJQJ+Ccwm+K1OKBY3kTQ7fsX6PjcCKo06U=");
        assert_eq!(
            base64(&hmac_sha256(b"demo-secret", b"1599360473\ndemo-secret")),
            "+y4hoW+2wrJQJ+Ccwm+K1OKBY3kTQ7fsX6PjcCKo06U="
        );
    }

    fn robot(secret: Option<&str>) -> RobotSettings {
        RobotSettings {
            id: "fs".into(),
            name: "飞书群".into(),
            kind: RobotKind::Feishu,
            base_url: url::Url::parse("https://open.feishu.cn").expect("url"),
            token: Secret::new("5e3d587e-hook".into()),
            secret: secret.map(|s| Secret::new(s.into())),
            rate_per_minute: None,
            timeout: std::time::Duration::from_secs(5),
        }
    }

    #[test]
    fn card_with_timestamp_sign_and_mentions() {
        let m = Message {
            title: "【舆情提示】".into(),
            text: "**抚恤金**发放延迟".into(),
            user_ids: vec!["ou_abc".into()],
            mobiles: vec!["13800000001".into()],
            ..Message::default()
        };
        let now = DateTime::from_timestamp(1_599_360_473, 0).expect("time");
        let req = request(&robot(Some("demo-secret")), &m, now).expect("request");
        assert_eq!(req.url.as_str(), "https://open.feishu.cn/open-apis/bot/v2/hook/5e3d587e-hook");
        let body: serde_json::Value = serde_json::from_slice(&req.body).expect("json");
        assert_eq!(body["timestamp"], "1599360473");
        assert_eq!(body["sign"], "3/MaVZ8JLIy4TUG+7KSFJqvUkTKd+HWY8g+56DZWq8s=");
        assert_eq!(body["card"]["header"]["title"]["content"], "【舆情提示】");
        assert_eq!(body["card"]["elements"][0]["content"], "**抚恤金**发放延迟\n<at id=ou_abc></at>");
        let unsigned = request(&robot(None), &m, now).expect("request");
        let body: serde_json::Value = serde_json::from_slice(&unsigned.body).expect("json");
        assert!(body.get("sign").is_none() && body.get("timestamp").is_none());
    }

    #[test]
    fn answers_are_classified() {
        let a = |body: &str| HttpAnswer { status: 200, retry_after: None, body: body.into() };
        assert!(classify(&a(r#"{"code":0,"data":{},"msg":"success"}"#)).is_ok());
        assert!(classify(&a(r#"{"Extra":null,"StatusCode":0,"StatusMessage":"success"}"#)).is_ok());
        let sign =
            r#"{"code":19021,"data":{},"msg":"sign match fail or timestamp is not within one hour from current time"}"#;
        assert_eq!(classify(&a(sign)), Err(ChannelError::permanent("19021", sign)));
        let busy = r#"{"code":11232,"data":{},"msg":"frequency limited psm[lark.oapi.app_platform_runtime]appID[1]"}"#;
        assert!(classify(&a(busy)).expect_err("busy").is_retryable());
    }
}
