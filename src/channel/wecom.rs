//! WeCom (企业微信) group robot: `POST <base>/cgi-bin/webhook/send?key=<KEY>` with a JSON
//! body. There is no signature; the key in the URL is the secret.
//!
//! Markdown (`msgtype: markdown`, at most 4096 bytes) cannot mention anyone, so a message
//! that mentions people is sent as text (at most 2048 bytes) with `mentioned_list`
//! (userids) and `mentioned_mobile_list`. Answers: `{"errcode":0,"errmsg":"ok"}`;
//! `45009` / `130101` mean "too many messages" (limit: 20 a minute).

use super::{ChannelError, HttpAnswer, HttpRequest, Message, Receipt, RobotSettings, fit, json_text};

const MARKDOWN_MAX: usize = 4096;
const TEXT_MAX: usize = 2048;

/// The request for `message`.
pub fn request(s: &RobotSettings, message: &Message) -> Result<HttpRequest, ChannelError> {
    let mut url = super::join(&s.base_url, "/cgi-bin/webhook/send")?;
    url.query_pairs_mut().append_pair("key", s.token.expose());
    let body = if message.mobiles.is_empty() && message.user_ids.is_empty() {
        let content = fit(&format!("## {}\n{}", message.title, message.text), MARKDOWN_MAX);
        serde_json::json!({"msgtype": "markdown", "markdown": {"content": content}})
    } else {
        let content = fit(&format!("{}\n{}", message.title, message.text), TEXT_MAX);
        serde_json::json!({
            "msgtype": "text",
            "text": {
                "content": content,
                "mentioned_list": message.user_ids,
                "mentioned_mobile_list": message.mobiles,
            }
        })
    };
    Ok(HttpRequest::post_json(url, "application/json", &body))
}

/// `errcode` 0 is delivered; 45009 and 130101 (too fast) and -1 (system busy) are retryable.
pub fn classify(answer: &HttpAnswer) -> Result<Receipt, ChannelError> {
    let json = answer.json()?;
    let code = json_text(&json, "errcode").unwrap_or_else(|| format!("http-{}", answer.status));
    super::robot_outcome(answer, code, &["45009", "130101", "-1"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::RobotKind;
    use crate::model::Secret;

    fn robot() -> RobotSettings {
        RobotSettings {
            id: "gkb".into(),
            name: "政务公开群".into(),
            kind: RobotKind::WeCom,
            base_url: url::Url::parse("https://qyapi.weixin.qq.com").expect("url"),
            token: Secret::new("693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa".into()),
            secret: None,
            rate_per_minute: None,
            timeout: std::time::Duration::from_secs(5),
        }
    }

    #[test]
    fn markdown_without_mentions_text_with_mentions() {
        let m = Message {
            title: "【舆情提示】".into(), text: "**抚恤金**发放延迟".into(), ..Message::default()
        };
        let req = request(&robot(), &m).expect("request");
        assert_eq!(
            req.url.as_str(),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
        );
        let body: serde_json::Value = serde_json::from_slice(&req.body).expect("json");
        assert_eq!(
            body,
            serde_json::json!({"msgtype":"markdown","markdown":{"content":"## 【舆情提示】\n**抚恤金**发放延迟"}})
        );

        let m = Message { mobiles: vec!["13800000001".into()], user_ids: vec!["wangke".into()], ..m };
        let body: serde_json::Value =
            serde_json::from_slice(&request(&robot(), &m).expect("request").body).expect("json");
        assert_eq!(body["msgtype"], "text");
        assert_eq!(body["text"]["mentioned_mobile_list"], serde_json::json!(["13800000001"]));
        assert_eq!(body["text"]["mentioned_list"], serde_json::json!(["wangke"]));
    }

    #[test]
    fn long_text_is_cut_to_the_platform_limit() {
        let m =
            Message { title: "t".into(), text: "舆".repeat(3000), mobiles: vec!["1".into()], ..Message::default() };
        let body: serde_json::Value =
            serde_json::from_slice(&request(&robot(), &m).expect("request").body).expect("json");
        let content = body["text"]["content"].as_str().expect("content");
        assert!(content.len() <= TEXT_MAX && content.ends_with('…'), "{}", content.len());
    }

    #[test]
    fn answers_are_classified() {
        let a = |body: &str| HttpAnswer { status: 200, retry_after: None, body: body.into() };
        assert!(classify(&a(r#"{"errcode":0,"errmsg":"ok"}"#)).is_ok());
        let fast = r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#;
        assert!(classify(&a(fast)).expect_err("fast").is_retryable());
        let key = r#"{"errcode":93000,"errmsg":"invalid webhook url, hint: [1699999999_1_abc]"}"#;
        assert_eq!(classify(&a(key)), Err(ChannelError::permanent("93000", key)));
    }
}
