//! A generic HTTP SMS gateway, for the government SMS platforms (政务短信平台) that are
//! neither Aliyun nor Tencent: the URL, method, headers and body are templates with
//! `{placeholders}`.
//!
//! Placeholders: `{mobile}` (the one recipient; a message to several numbers is refused,
//! send one per person), `{mobiles}` (all, comma-separated), `{token}` (the secret from
//! `token_file` / `token_env`), `{timestamp}` / `{timestamp_ms}` (Unix time), and the
//! message fields `{title}`, `{text}`, `{out_id}`, `{event}`, `{grade}`, `{deadline}`,
//! `{link}`, `{person}`; other braces are literal (JSON needs no escaping). Values are percent-encoded
//! in the URL, JSON-escaped in a `json` body (write the quotes in the template),
//! percent-encoded in a `form` body and inserted as they are in a `text` body and in
//! headers. 2xx (and `success_contains` in the body, when set) is delivered; 429, 5xx
//! and timeouts are retryable; anything else is permanent.

use chrono::{DateTime, Utc};

use super::{ChannelError, FIELDS, HttpAnswer, HttpRequest, Message, Receipt};
use crate::model::Secret;

/// One parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(Var),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Var {
    Mobile,
    Mobiles,
    Token,
    Timestamp,
    TimestampMs,
    Field(String),
}

/// Every placeholder a template may use.
pub fn placeholders() -> Vec<&'static str> {
    let mut all = vec!["mobile", "mobiles", "token", "timestamp", "timestamp_ms"];
    all.extend_from_slice(FIELDS);
    all
}

impl Template {
    /// Parses a template; an error gives the byte offset of the problem and what it is.
    /// `{name}` with a lower-case name is a placeholder; any other brace is literal, so
    /// JSON bodies need no escaping.
    pub fn parse(s: &str) -> Result<Self, (usize, String)> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut at = 0;
        while at < s.len() {
            let rest = &s[at..];
            let placeholder = rest.strip_prefix('{').and_then(|after| {
                let n = after.find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))?;
                (n > 0 && after[n..].starts_with('}')).then(|| &after[..n])
            });
            let Some(name) = placeholder else {
                let c = rest.chars().next().unwrap_or_default();
                literal.push(c);
                at += c.len_utf8();
                continue;
            };
            let var = match name {
                "mobile" => Var::Mobile,
                "mobiles" => Var::Mobiles,
                "token" => Var::Token,
                "timestamp" => Var::Timestamp,
                "timestamp_ms" => Var::TimestampMs,
                f if FIELDS.contains(&f) => Var::Field(f.to_string()),
                other => return Err((at, format!("未知的占位符 {{{other}}}"))),
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(Part::Var(var));
            at += name.len() + 2;
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self { parts })
    }

    pub fn uses_token(&self) -> bool {
        self.parts.contains(&Part::Var(Var::Token))
    }

    pub fn uses_recipient(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Var(Var::Mobile | Var::Mobiles)))
    }

    fn render(&self, ctx: &Ctx<'_>, encode: impl Fn(&str) -> String) -> Result<String, ChannelError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Var(v) => out.push_str(&encode(&ctx.value(v)?)),
            }
        }
        Ok(out)
    }
}

/// How the body template's values are escaped, and the default Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyType {
    Json,
    Form,
    Text,
}

impl BodyType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "json" => Some(Self::Json),
            "form" => Some(Self::Form),
            "text" => Some(Self::Text),
            _ => None,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json; charset=utf-8",
            Self::Form => "application/x-www-form-urlencoded; charset=utf-8",
            Self::Text => "text/plain; charset=utf-8",
        }
    }
}

/// `[sms] provider = "gateway"`.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    pub method: reqwest::Method,
    pub url: Template,
    pub headers: Vec<(String, Template)>,
    pub body: Option<Template>,
    pub body_type: BodyType,
    pub token: Option<Secret>,
    /// When set, a 2xx answer is delivered only if its body contains this text.
    pub success_contains: Option<String>,
}

struct Ctx<'a> {
    message: &'a Message,
    token: Option<&'a Secret>,
    now: DateTime<Utc>,
}

impl Ctx<'_> {
    fn value(&self, var: &Var) -> Result<String, ChannelError> {
        Ok(match var {
            Var::Mobile => match self.message.mobiles.as_slice() {
                [one] => one.clone(),
                [] => return Err(ChannelError::Invalid("no mobile number to send the SMS to".into())),
                _ => {
                    return Err(ChannelError::Invalid(
                        "the gateway template takes one {mobile}; send one message per person".into(),
                    ));
                }
            },
            Var::Mobiles if self.message.mobiles.is_empty() => {
                return Err(ChannelError::Invalid("no mobile number to send the SMS to".into()));
            }
            Var::Mobiles => self.message.mobiles.join(","),
            Var::Token => self.token.map(|t| t.expose().to_string()).unwrap_or_default(),
            Var::Timestamp => self.now.timestamp().to_string(),
            Var::TimestampMs => self.now.timestamp_millis().to_string(),
            Var::Field(name) => self.message.require(name)?.to_string(),
        })
    }
}

fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// The request for `message` at `now`.
pub fn request(s: &GatewaySettings, message: &Message, now: DateTime<Utc>) -> Result<HttpRequest, ChannelError> {
    let ctx = Ctx { message, token: s.token.as_ref(), now };
    let url = s.url.render(&ctx, super::percent_encode)?;
    let url = url::Url::parse(&url).map_err(|e| ChannelError::Invalid(format!("gateway URL: {e}")))?;
    let mut headers = Vec::new();
    for (name, template) in &s.headers {
        let value = template.render(&ctx, str::to_string)?;
        if value.contains(['\r', '\n']) {
            return Err(ChannelError::Invalid(format!("header {name} would contain a line break")));
        }
        headers.push((name.to_ascii_lowercase(), value));
    }
    let body = match &s.body {
        None => Vec::new(),
        Some(template) => {
            if !headers.iter().any(|(k, _)| k == "content-type") {
                headers.push(("content-type".into(), s.body_type.content_type().into()));
            }
            let rendered = match s.body_type {
                BodyType::Json => template.render(&ctx, json_escape)?,
                BodyType::Form => template.render(&ctx, super::percent_encode)?,
                BodyType::Text => template.render(&ctx, str::to_string)?,
            };
            rendered.into_bytes()
        }
    };
    Ok(HttpRequest { method: s.method.clone(), url, headers, body })
}

pub fn classify(s: &GatewaySettings, answer: &HttpAnswer) -> Result<Receipt, ChannelError> {
    if let Some(e) = answer.overloaded() {
        return Err(e);
    }
    let status_ok = (200..300).contains(&answer.status);
    let body_ok = s.success_contains.as_ref().is_none_or(|needle| answer.body.contains(needle.as_str()));
    if status_ok && body_ok {
        Ok(Receipt { response: answer.body.clone(), ..Receipt::default() })
    } else {
        Err(ChannelError::permanent(format!("http-{}", answer.status), &answer.body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(body: &str, body_type: BodyType) -> GatewaySettings {
        GatewaySettings {
            method: reqwest::Method::POST,
            url: Template::parse("https://sms.example.gov.cn/api/send?user=yuqing&sig={token}&to={mobile}")
                .expect("url"),
            headers: vec![("X-Request-Id".into(), Template::parse("yq-{out_id}").expect("header"))],
            body: Some(Template::parse(body).expect("body")),
            body_type,
            token: Some(Secret::new("s3cr/t".into())),
            success_contains: Some("\"result\":0".into()),
        }
    }

    fn message() -> Message {
        Message {
            out_id: "17".into(),
            title: "舆情提示".into(),
            text: "抚恤金\"发放\"延迟 & 说明".into(),
            mobiles: vec!["13800000001".into()],
            ..Message::default()
        }
    }

    #[test]
    fn templates_are_filled_with_the_right_escaping() {
        let now = DateTime::from_timestamp(1_764_205_200, 0).expect("time");
        let s = gateway(r#"{"to":"{mobile}","msg":"【{title}】{text}","ts":{timestamp}}"#, BodyType::Json);
        let req = request(&s, &message(), now).expect("request");
        assert_eq!(req.url.as_str(), "https://sms.example.gov.cn/api/send?user=yuqing&sig=s3cr%2Ft&to=13800000001");
        assert_eq!(req.header("x-request-id"), Some("yq-17"));
        assert_eq!(req.header("content-type"), Some("application/json; charset=utf-8"));
        let body: serde_json::Value = serde_json::from_slice(&req.body).expect("json");
        assert_eq!(body["msg"], "【舆情提示】抚恤金\"发放\"延迟 & 说明");
        assert_eq!(body["ts"], 1_764_205_200);

        let form = gateway("mobile={mobile}&content={text}", BodyType::Form);
        let req = request(&form, &message(), now).expect("request");
        assert_eq!(
            String::from_utf8(req.body).expect("utf-8"),
            "mobile=13800000001&content=%E6%8A%9A%E6%81%A4%E9%87%91%22%E5%8F%91%E6%94%BE%22%E5%BB%B6%E8%BF%9F%20%26%20%E8%AF%B4%E6%98%8E"
        );
    }

    #[test]
    fn template_errors_point_at_the_placeholder() {
        assert_eq!(Template::parse("短信={phone}").expect_err("unknown"), (7, "未知的占位符 {phone}".to_string()));
        let t = Template::parse(r#"{"to": "{mobiles}", "x": {"Y": 1}, "open": "{mobile"}"#).expect("ok");
        assert!(t.uses_recipient() && !t.uses_token());
        assert_eq!(t.parts.len(), 3);
    }

    #[test]
    fn one_number_per_message_for_mobile() {
        let s = gateway("{text}", BodyType::Text);
        let two = Message { mobiles: vec!["1".into(), "2".into()], ..message() };
        assert!(matches!(request(&s, &two, Utc::now()), Err(ChannelError::Invalid(_))));
    }

    #[test]
    fn answers_are_classified() {
        let s = gateway("{text}", BodyType::Text);
        let a = |status, body: &str| HttpAnswer { status, retry_after: None, body: body.into() };
        assert!(classify(&s, &a(200, r#"{"result":0,"msgid":"a1"}"#)).is_ok());
        assert_eq!(
            classify(&s, &a(200, r#"{"result":-3,"desc":"余额不足"}"#)),
            Err(ChannelError::permanent("http-200", r#"{"result":-3,"desc":"余额不足"}"#))
        );
        assert!(classify(&s, &a(502, "bad gateway")).expect_err("502").is_retryable());
        assert!(!classify(&s, &a(403, "forbidden")).expect_err("403").is_retryable());
    }
}
