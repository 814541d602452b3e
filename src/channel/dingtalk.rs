//! DingTalk (钉钉) custom group robot with 加签:
//!
//! ```text
//! timestamp = now in milliseconds (within an hour of DingTalk's clock)
//! sign      = urlEncode(Base64(HMAC-SHA256(key = secret, msg = timestamp + "\n" + secret)))
//! POST <base>/robot/send?access_token=<TOKEN>&timestamp=<ts>&sign=<sign>
//! {"msgtype":"markdown","markdown":{"title":…,"text":…},"at":{"atMobiles":[…],"atUserIds":[…],"isAtAll":false}}
//! ```
//!
//! Without a secret (keyword or IP allowlist security) `timestamp` and `sign` are left
//! out. A mention only shows when the text also contains `@<mobile>`, so mentions are
//! appended to the text. Answers: `{"errcode":0,"errmsg":"ok"}`; `130101` (too fast;
//! limit 20 a minute, then muted for 10 minutes) and `660026` are throttling.

use chrono::{DateTime, Utc};

use super::{ChannelError, HttpAnswer, HttpRequest, Message, Receipt, RobotSettings, base64, hmac_sha256, json_text};

/// `Base64(HMAC-SHA256(secret, timestamp + "\n" + secret))`, before URL-encoding.
pub fn sign(timestamp_ms: i64, secret: &str) -> String {
    base64(&hmac_sha256(secret.as_bytes(), format!("{timestamp_ms}\n{secret}").as_bytes()))
}

/// The request for `message` at `now`.
pub fn request(s: &RobotSettings, message: &Message, now: DateTime<Utc>) -> Result<HttpRequest, ChannelError> {
    let mut url = super::join(&s.base_url, "/robot/send")?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("access_token", s.token.expose());
        if let Some(secret) = &s.secret {
            let ts = now.timestamp_millis();
            query.append_pair("timestamp", &ts.to_string());
            query.append_pair("sign", &sign(ts, secret.expose()));
        }
    }
    let mut text = format!("### {}\n\n{}", message.title, message.text);
    let mentions: Vec<String> = message.mobiles.iter().chain(&message.user_ids).map(|m| format!("@{m}")).collect();
    if !mentions.is_empty() {
        text.push_str("\n\n");
        text.push_str(&mentions.join(" "));
    }
    let body = serde_json::json!({
        "msgtype": "markdown",
        "markdown": {"title": message.title, "text": text},
        "at": {"atMobiles": message.mobiles, "atUserIds": message.user_ids, "isAtAll": false},
    });
    Ok(HttpRequest::post_json(url, "application/json", &body))
}

/// `errcode` 0 is delivered; 130101 and 660026 (throttled) and -1 (busy) are retryable;
/// 310000 (signature, keyword or IP check failed), 300001 (token) and the rest permanent.
pub fn classify(answer: &HttpAnswer) -> Result<Receipt, ChannelError> {
    let json = answer.json()?;
    let code = json_text(&json, "errcode").unwrap_or_else(|| format!("http-{}", answer.status));
    super::robot_outcome(answer, code, &["130101", "660026", "-1"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::RobotKind;
    use crate::model::Secret;

    /// DingTalk publishes the formula (open.dingtalk.com, 自定义机器人安全设置 → 加签) with
    /// sample code but no fixed input/output pair; the expected value here was computed
    /// independently with Python's `hmac`/`base64`/`urllib.parse.quote_plus`.
    #[test]
    fn signature_follows_the_published_formula() {
        let sign = sign(1_700_000_000_000, "SECtest0123456789abcdef");
        assert_eq!(sign, "/lfnxUUu80FwVTsIlv2F1cMGBb+PxEKAwYh/bsRxXcc=");
        let robot = robot(Some("SECtest0123456789abcdef"));
        let now = DateTime::from_timestamp_millis(1_700_000_000_000).expect("time");
        let req = request(&robot, &Message::default(), now).expect("request");
        assert_eq!(
            req.url.as_str(),
            "https://oapi.dingtalk.com/robot/send?access_token=tok&timestamp=1700000000000\
             &sign=%2FlfnxUUu80FwVTsIlv2F1cMGBb%2BPxEKAwYh%2FbsRxXcc%3D"
        );
    }

    fn robot(secret: Option<&str>) -> RobotSettings {
        RobotSettings {
            id: "ding".into(),
            name: "钉钉群".into(),
            kind: RobotKind::DingTalk,
            base_url: url::Url::parse("https://oapi.dingtalk.com").expect("url"),
            token: Secret::new("tok".into()),
            secret: secret.map(|s| Secret::new(s.into())),
            rate_per_minute: None,
            timeout: std::time::Duration::from_secs(5),
        }
    }

    #[test]
    fn markdown_with_at_mobiles_mentioned_in_the_text() {
        let m = Message {
            title: "【舆情提示】Ⅱ级".into(),
            text: "抚恤金发放延迟".into(),
            mobiles: vec!["13800000001".into()],
            ..Message::default()
        };
        let req = request(&robot(None), &m, Utc::now()).expect("request");
        assert_eq!(req.url.as_str(), "https://oapi.dingtalk.com/robot/send?access_token=tok");
        let body: serde_json::Value = serde_json::from_slice(&req.body).expect("json");
        assert_eq!(body["msgtype"], "markdown");
        assert_eq!(body["markdown"]["title"], "【舆情提示】Ⅱ级");
        assert_eq!(body["markdown"]["text"], "### 【舆情提示】Ⅱ级\n\n抚恤金发放延迟\n\n@13800000001");
        assert_eq!(body["at"]["atMobiles"], serde_json::json!(["13800000001"]));
        assert_eq!(body["at"]["isAtAll"], false);
    }

    #[test]
    fn answers_are_classified() {
        let a = |body: &str| HttpAnswer { status: 200, retry_after: None, body: body.into() };
        assert!(classify(&a(r#"{"errcode":0,"errmsg":"ok"}"#)).is_ok());
        let fast = r#"{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}"#;
        assert!(classify(&a(fast)).expect_err("fast").is_retryable());
        assert!(classify(&a(r#"{"errcode":660026,"errmsg":"机器人发送消息过快"}"#)).expect_err("fast").is_retryable());
        let sign = r#"{"errcode":310000,"errmsg":"sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"}"#;
        assert_eq!(classify(&a(sign)), Err(ChannelError::permanent("310000", sign)));
    }
}
