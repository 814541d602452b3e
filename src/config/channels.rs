//! `[sms]` and `[[robots]]` in `yuqing.toml`: the SMS provider (Aliyun, Tencent Cloud or
//! a generic HTTP gateway) and the IM group robots (WeCom, DingTalk, Feishu).
//!
//! Secrets are never written inline: `*_file` (a file holding only the secret) or `*_env`
//! (an environment variable). An inline secret, a key of another provider, an unknown
//! template field or placeholder are each reported with line and column.

use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};
use url::Url;

use super::diag::{Diagnostics, suggest};
use super::toml_doc::TomlFile;
use crate::channel::aliyun::{self, AliyunSettings};
use crate::channel::gateway::{self, BodyType, GatewaySettings, Template};
use crate::channel::tencent::{self, TencentSettings};
use crate::channel::{FIELDS, RobotKind, RobotSettings, SmsProvider, SmsSettings};
use crate::model::Secret;

const COMMON_SMS_KEYS: &[&str] = &["provider", "endpoint", "timeout_secs"];
const ALIYUN_KEYS: &[&str] = &[
    "access_key_id",
    "access_key_secret_file",
    "access_key_secret_env",
    "sign_name",
    "template_code",
    "template_params",
];
const TENCENT_KEYS: &[&str] = &[
    "secret_id",
    "secret_key_file",
    "secret_key_env",
    "sdk_app_id",
    "region",
    "sign_name",
    "template_id",
    "template_params",
];
const GATEWAY_KEYS: &[&str] =
    &["method", "url", "headers", "body", "body_type", "token_file", "token_env", "success_contains"];
const ROBOT_KEYS: &[&str] = &[
    "id",
    "name",
    "kind",
    "base_url",
    "token_file",
    "token_env",
    "secret_file",
    "secret_env",
    "rate_per_minute",
    "timeout_secs",
];
/// Keys that would hold a secret inline, with the keys to use instead.
const INLINE_SMS: &[(&str, &str)] = &[
    ("access_key_secret", "access_key_secret_file / access_key_secret_env"),
    ("secret_key", "secret_key_file / secret_key_env"),
    ("token", "token_file / token_env"),
    ("password", "token_file / token_env"),
    ("secret", "access_key_secret_file 或 secret_key_file"),
];
const INLINE_ROBOT: &[(&str, &str)] = &[
    ("token", "token_file / token_env"),
    ("key", "token_file / token_env"),
    ("access_token", "token_file / token_env"),
    ("url", "token_file / token_env（文件中可直接放整条 webhook 地址）"),
    ("webhook", "token_file / token_env（文件中可直接放整条 webhook 地址）"),
    ("secret", "secret_file / secret_env"),
];

struct Ctx<'a> {
    dir: &'a Path,
    file: &'a TomlFile,
    diags: &'a mut Diagnostics,
    /// Inline secret keys already reported in the current table: their `*_file` is then
    /// not reported missing as well.
    inline: Vec<&'static str>,
}

impl Ctx<'_> {
    fn error(&mut self, span: std::ops::Range<usize>, message: String, hint: impl Into<String>) {
        let at = self.file.position(span);
        self.diags.error_at(&self.file.path, at, message, hint);
    }

    fn warning(&mut self, span: std::ops::Range<usize>, message: String, hint: impl Into<String>) {
        let (line, _) = self.file.position(span);
        self.diags.warning(&self.file.path, line, message, hint);
    }

    /// A key's value; `Err` when present but of the wrong type (already reported).
    fn get<T: DeserializeOwned>(
        &mut self,
        t: &DeTable<'_>,
        key: &str,
        expected: &str,
    ) -> Result<Option<Spanned<T>>, ()> {
        self.file.value::<T>(t, key, expected, self.diags)
    }

    fn text(&mut self, t: &DeTable<'_>, key: &str) -> Result<Option<Spanned<String>>, ()> {
        self.get::<String>(t, key, "字符串")
    }

    /// A required string, reported at `at` (the table) when missing.
    fn required(
        &mut self,
        t: &DeTable<'_>,
        key: &str,
        at: &std::ops::Range<usize>,
        what: &str,
        example: &str,
    ) -> Option<String> {
        match self.text(t, key) {
            Ok(Some(v)) if !v.get_ref().trim().is_empty() => Some(v.into_inner()),
            Ok(_) => {
                self.error(at.clone(), format!("{what}缺少 {key}"), format!("例如 {key} = \"{example}\""));
                None
            }
            Err(()) => None,
        }
    }

    /// Removes and reports keys that would hold a secret inline.
    fn reject_inline(&mut self, table: &mut DeTable<'_>, keys: &[(&'static str, &str)], what: &str) {
        self.inline.clear();
        for (key, instead) in keys {
            if let Some((k, _)) = table.remove_entry(*key) {
                self.inline.push(key);
                self.error(
                    k.span(),
                    format!("不允许在配置文件中直接写密钥（{what} {key}）"),
                    format!("请改用 {instead}：把密钥写入只有该密钥的文件（权限 600），或放在环境变量中"),
                );
            }
        }
    }

    /// `<base>_file` or `<base>_env`: `Ok(None)` when neither is set; `Err` (reported)
    /// when the one set is unusable, or when neither is set because the secret was
    /// written inline under one of `inline`.
    fn secret(&mut self, t: &DeTable<'_>, base: &str, inline: &[&str]) -> Result<Option<Spanned<Secret>>, ()> {
        let file_key = format!("{base}_file");
        let env_key = format!("{base}_env");
        let file = self.text(t, &file_key)?;
        let env = self.text(t, &env_key)?;
        match (file, env) {
            (None, None) if self.inline.iter().any(|k| inline.contains(k)) => Err(()),
            (None, None) => Ok(None),
            (Some(_), Some(env)) => {
                self.error(env.span(), format!("{file_key} 与 {env_key} 只能二选一"), "请删除其中一个");
                Err(())
            }
            (Some(path), None) => {
                let full = super::resolve_secret(self.dir, path.get_ref());
                match std::fs::read_to_string(&full) {
                    Ok(s) if !s.trim().is_empty() => {
                        Ok(Some(Spanned::new(path.span(), Secret::new(s.trim().to_string()))))
                    }
                    Ok(_) => {
                        self.error(path.span(), format!("密钥文件 {} 是空的", full.display()), "请在该文件中写入密钥");
                        Err(())
                    }
                    Err(e) => {
                        self.error(
                            path.span(),
                            format!("无法读取密钥文件 {}：{e}", full.display()),
                            "请创建该文件（权限 600）并写入密钥，或检查路径",
                        );
                        Err(())
                    }
                }
            }
            (None, Some(var)) => match std::env::var(var.get_ref()) {
                Ok(v) if !v.trim().is_empty() => Ok(Some(Spanned::new(var.span(), Secret::new(v.trim().to_string())))),
                _ => {
                    self.error(
                        var.span(),
                        format!("环境变量 {} 未设置或为空", var.get_ref()),
                        "请在启动前设置该环境变量（systemd 中用 Environment= 或 EnvironmentFile=）",
                    );
                    Err(())
                }
            },
        }
    }

    fn url(&mut self, t: &DeTable<'_>, key: &str, default: &str) -> Option<Url> {
        let Ok(value) = self.text(t, key) else { return None };
        let Some(value) = value else { return Url::parse(default).ok() };
        match Url::parse(value.get_ref()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
            _ => {
                self.error(
                    value.span(),
                    format!("{key} \"{}\" 不是有效的 http(s) 地址", value.get_ref()),
                    format!("例如 {key} = \"{default}\""),
                );
                None
            }
        }
    }

    fn timeout(&mut self, t: &DeTable<'_>) -> Option<Duration> {
        match self.get::<u64>(t, "timeout_secs", "正整数（秒）") {
            Ok(None) => Some(Duration::from_secs(10)),
            Ok(Some(v)) if *v.get_ref() > 0 => Some(Duration::from_secs(*v.get_ref())),
            Ok(Some(v)) => {
                self.error(v.span(), "timeout_secs 不能为 0".into(), "例如 timeout_secs = 10");
                None
            }
            Err(()) => None,
        }
    }

    /// Reports a message field that does not exist.
    fn field(&mut self, span: std::ops::Range<usize>, name: &str) -> bool {
        if FIELDS.contains(&name) {
            return true;
        }
        let hint = match suggest(name, FIELDS) {
            Some(s) => format!("是不是 \"{s}\"？可用的字段：{}", FIELDS.join("、")),
            None => format!("可用的字段：{}", FIELDS.join("、")),
        };
        self.error(span, format!("未知的消息字段 \"{name}\""), hint);
        false
    }

    /// Parses a template string, reporting a bad placeholder at its column.
    fn template(&mut self, value: &Spanned<String>) -> Option<Template> {
        match Template::parse(value.get_ref()) {
            Ok(t) => Some(t),
            Err((offset, message)) => {
                // The span starts at the opening quote.
                let chars = value.get_ref()[..offset].chars().count();
                let (line, column) = self.file.position(value.span());
                self.diags.error_at(
                    &self.file.path,
                    (line, column + 1 + chars),
                    message,
                    format!(
                        "可用的占位符：{}",
                        gateway::placeholders().iter().map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(" ")
                    ),
                );
                None
            }
        }
    }
}

/// `Some(None)` without `[sms]`; `None` when `[sms]` is invalid (reported).
pub(super) fn load_sms(
    dir: &Path,
    file: &TomlFile,
    root: &DeTable<'_>,
    diags: &mut Diagnostics,
) -> Option<Option<SmsSettings>> {
    if !root.contains_key("sms") {
        return Some(None);
    }
    let (span, table) = file.sub_table(root, "sms", diags)?;
    let mut c = Ctx { dir, file, diags, inline: Vec::new() };
    let errors_before = c.diags.errors().count();
    let mut table = table.clone();
    c.reject_inline(&mut table, INLINE_SMS, "[sms]");
    let mut all: Vec<&str> = [COMMON_SMS_KEYS, ALIYUN_KEYS, TENCENT_KEYS, GATEWAY_KEYS].concat();
    all.sort_unstable();
    all.dedup();
    let t = file.known_keys(&table, &all, "[sms] 中", c.diags);
    let provider_value = c.text(&t, "provider").ok()?;
    let Some(provider) = provider_value else {
        c.error(span, "[sms] 缺少 provider".into(), "可选值：\"aliyun\"、\"tencent\" 或 \"gateway\"");
        return None;
    };
    let own: &[&str] = match provider.get_ref().as_str() {
        "aliyun" => ALIYUN_KEYS,
        "tencent" => TENCENT_KEYS,
        "gateway" => GATEWAY_KEYS,
        other => {
            c.error(
                provider.span(),
                format!("不支持的短信 provider \"{other}\""),
                "可选值：\"aliyun\"（阿里云短信）、\"tencent\"（腾讯云短信）或 \"gateway\"（通用 HTTP 短信网关）",
            );
            return None;
        }
    };
    for (key, _) in &t {
        let name = key.get_ref().as_ref();
        if !COMMON_SMS_KEYS.contains(&name) && !own.contains(&name) {
            c.error(
                key.span(),
                format!("provider = \"{}\" 不使用 {name}", provider.get_ref()),
                format!("请删除该键；该 provider 可用的键：{}", own.join(", ")),
            );
        }
    }
    let timeout = c.timeout(&t);
    let settings = match provider.get_ref().as_str() {
        "aliyun" => aliyun_settings(&mut c, &t, &span).map(SmsProvider::Aliyun),
        "tencent" => tencent_settings(&mut c, &t, &span).map(SmsProvider::Tencent),
        _ => gateway_settings(&mut c, &t, &span).map(SmsProvider::Gateway),
    };
    let settings = SmsSettings { provider: settings?, timeout: timeout? };
    (c.diags.errors().count() == errors_before).then_some(Some(settings))
}

fn aliyun_settings(c: &mut Ctx<'_>, t: &DeTable<'_>, span: &std::ops::Range<usize>) -> Option<AliyunSettings> {
    let endpoint = c.url(t, "endpoint", aliyun::DEFAULT_ENDPOINT);
    let access_key_id = c.required(t, "access_key_id", span, "阿里云短信", "LTAI5t...");
    let secret = match c.secret(t, "access_key_secret", &["access_key_secret", "secret"]) {
        Ok(Some(s)) => Some(s.into_inner()),
        Ok(None) => {
            c.error(
                span.clone(),
                "阿里云短信缺少 AccessKey Secret".into(),
                "请写 access_key_secret_file = \"/etc/yuqing/aliyun-secret\" 或 access_key_secret_env = \"ALIYUN_SMS_SECRET\"",
            );
            None
        }
        Err(()) => None,
    };
    let sign_name = c.required(t, "sign_name", span, "阿里云短信", "临江市退役军人事务局");
    let template_code = c.required(t, "template_code", span, "阿里云短信", "SMS_123456789");
    let template_params = match t.get("template_params") {
        None => Some(Vec::new()),
        Some(v) => match v.get_ref() {
            DeValue::Table(map) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (name, field) in map {
                    match field.get_ref().as_str() {
                        Some(f) if c.field(field.span(), f) => out.push((name.get_ref().to_string(), f.to_string())),
                        Some(_) => ok = false,
                        None => {
                            c.error(
                                field.span(),
                                format!("模板变量 {} 的值应为字段名字符串", name.get_ref()),
                                "例如 title = \"title\"",
                            );
                            ok = false;
                        }
                    }
                }
                ok.then_some(out)
            }
            _ => {
                c.error(
                    v.span(),
                    "阿里云的 template_params 应为表：模板变量名 = 消息字段".into(),
                    "例如 template_params = { title = \"title\", grade = \"grade\" }",
                );
                None
            }
        },
    };
    Some(AliyunSettings {
        endpoint: endpoint?,
        access_key_id: access_key_id?,
        access_key_secret: secret?,
        sign_name: sign_name?,
        template_code: template_code?,
        template_params: template_params?,
    })
}

fn tencent_settings(c: &mut Ctx<'_>, t: &DeTable<'_>, span: &std::ops::Range<usize>) -> Option<TencentSettings> {
    let endpoint = c.url(t, "endpoint", tencent::DEFAULT_ENDPOINT);
    let secret_id = c.required(t, "secret_id", span, "腾讯云短信", "AKID...");
    let secret = match c.secret(t, "secret_key", &["secret_key", "secret"]) {
        Ok(Some(s)) => Some(s.into_inner()),
        Ok(None) => {
            c.error(
                span.clone(),
                "腾讯云短信缺少 SecretKey".into(),
                "请写 secret_key_file = \"/etc/yuqing/tencent-secret\" 或 secret_key_env = \"TENCENT_SMS_SECRET\"",
            );
            None
        }
        Err(()) => None,
    };
    let sdk_app_id = c.required(t, "sdk_app_id", span, "腾讯云短信", "1400000000");
    let region =
        c.text(t, "region").ok().map(|r| r.map_or_else(|| tencent::DEFAULT_REGION.to_string(), Spanned::into_inner));
    let sign_name = c.required(t, "sign_name", span, "腾讯云短信", "临江退役军人");
    let template_id = c.required(t, "template_id", span, "腾讯云短信", "1234567");
    let template_params =
        match c.get::<Vec<Spanned<String>>>(t, "template_params", "字段名数组（按模板 {1}、{2}… 的顺序）")
        {
            Ok(None) => Some(Vec::new()),
            Ok(Some(list)) => {
                let mut ok = true;
                for f in list.get_ref() {
                    ok &= c.field(f.span(), f.get_ref());
                }
                ok.then(|| list.into_inner().into_iter().map(Spanned::into_inner).collect())
            }
            Err(()) => None,
        };
    Some(TencentSettings {
        endpoint: endpoint?,
        region: region?,
        secret_id: secret_id?,
        secret_key: secret?,
        sdk_app_id: sdk_app_id?,
        sign_name: sign_name?,
        template_id: template_id?,
        template_params: template_params?,
    })
}

fn gateway_settings(c: &mut Ctx<'_>, t: &DeTable<'_>, span: &std::ops::Range<usize>) -> Option<GatewaySettings> {
    let method = match c.text(t, "method").ok()? {
        None => Some(reqwest::Method::POST),
        Some(m) => match m.get_ref().to_ascii_uppercase().as_str() {
            "GET" => Some(reqwest::Method::GET),
            "POST" => Some(reqwest::Method::POST),
            "PUT" => Some(reqwest::Method::PUT),
            _ => {
                c.error(
                    m.span(),
                    format!("不支持的 method \"{}\"", m.get_ref()),
                    "可选值：\"GET\"、\"POST\" 或 \"PUT\"",
                );
                None
            }
        },
    };
    let url = match c.text(t, "url").ok()? {
        None => {
            c.error(
                span.clone(),
                "短信网关缺少 url".into(),
                "例如 url = \"https://sms.example.gov.cn/api/send?mobile={mobile}\"",
            );
            None
        }
        Some(u) => {
            let template = c.template(&u);
            let sample = u.get_ref().replace(['{', '}'], "");
            if template.is_some() && !Url::parse(&sample).is_ok_and(|x| matches!(x.scheme(), "http" | "https")) {
                c.error(
                    u.span(),
                    format!("url \"{}\" 不是 http(s) 地址", u.get_ref()),
                    "例如 url = \"https://sms.example.gov.cn/api/send\"",
                );
                None
            } else {
                template
            }
        }
    };
    let mut headers = Vec::new();
    let mut headers_ok = true;
    if let Some(v) = t.get("headers") {
        match v.get_ref() {
            DeValue::Table(map) => {
                for (name, value) in map {
                    let valid_name = !name.get_ref().is_empty()
                        && name.get_ref().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                    match value.get_ref().as_str() {
                        Some(s) if valid_name => match c.template(&Spanned::new(value.span(), s.to_string())) {
                            Some(tpl) => headers.push((name.get_ref().to_string(), tpl)),
                            None => headers_ok = false,
                        },
                        _ => {
                            c.error(
                                name.span(),
                                format!("请求头 {} 无效", name.get_ref()),
                                "请求头写成 名称 = \"值\"，名称只含字母、数字、- 和 _",
                            );
                            headers_ok = false;
                        }
                    }
                }
            }
            _ => {
                c.error(v.span(), "headers 应为表".into(), "例如 headers = { Authorization = \"Bearer {token}\" }");
                headers_ok = false;
            }
        }
    }
    let body = match c.text(t, "body") {
        Ok(None) => Some(None),
        Ok(Some(b)) => c.template(&b).map(Some),
        Err(()) => None,
    };
    let body_type = match c.text(t, "body_type").ok()? {
        None => Some(BodyType::Json),
        Some(b) => BodyType::parse(b.get_ref()).or_else(|| {
            c.error(
                b.span(),
                format!("不支持的 body_type \"{}\"", b.get_ref()),
                "可选值：\"json\"、\"form\" 或 \"text\"",
            );
            None
        }),
    };
    let token = c.secret(t, "token", &["token", "password"]).ok();
    let success_contains = c.text(t, "success_contains").ok().map(|s| s.map(Spanned::into_inner));
    let (url, body, token) = (url?, body?, token?);
    let templates: Vec<&Template> =
        std::iter::once(&url).chain(headers.iter().map(|(_, t)| t)).chain(body.as_ref()).collect();
    if !templates.iter().any(|t| t.uses_recipient()) {
        c.error(
            span.clone(),
            "短信网关的 url、headers 和 body 中都没有收件号码".into(),
            "请在其中之一写 {mobile}（每条一个号码）或 {mobiles}（逗号分隔）",
        );
        return None;
    }
    let uses_token = templates.iter().any(|t| t.uses_token());
    match (&token, uses_token) {
        (None, true) => {
            c.error(
                span.clone(),
                "模板中用了 {token}，但没有配置 token_file / token_env".into(),
                "请添加 token_file 或 token_env",
            );
            return None;
        }
        (Some(tok), false) => c.warning(
            tok.span(),
            "配置了 token，但模板中没有用到 {token}".into(),
            "请在 url、headers 或 body 中写 {token}，或删除 token_file / token_env",
        ),
        _ => {}
    }
    headers_ok.then_some(())?;
    Some(GatewaySettings {
        method: method?,
        url,
        headers,
        body,
        body_type: body_type?,
        token: token.map(Spanned::into_inner),
        success_contains: success_contains?,
    })
}

/// The `[[robots]]` entries; `None` when any is invalid (reported).
pub(super) fn load_robots(
    dir: &Path,
    file: &TomlFile,
    root: &DeTable<'_>,
    diags: &mut Diagnostics,
) -> Option<Vec<RobotSettings>> {
    let Some(value) = root.get("robots") else { return Some(Vec::new()) };
    let mut c = Ctx { dir, file, diags, inline: Vec::new() };
    let DeValue::Array(entries) = value.get_ref() else {
        c.error(value.span(), "robots 应写成 [[robots]] 表数组".into(), "每个机器人写一个 [[robots]] 小节");
        return None;
    };
    let errors_before = c.diags.errors().count();
    let mut robots: Vec<RobotSettings> = Vec::new();
    for entry in entries {
        let DeValue::Table(table) = entry.get_ref() else {
            c.error(entry.span(), "[[robots]] 的每一项都应是表".into(), "请用 [[robots]] 小节书写");
            continue;
        };
        let mut table = table.clone();
        c.reject_inline(&mut table, INLINE_ROBOT, "[[robots]]");
        let t = file.known_keys(&table, ROBOT_KEYS, "[[robots]] 中", c.diags);
        if let Some(robot) = robot(&mut c, &t, entry.span(), &robots) {
            robots.push(robot);
        }
    }
    (c.diags.errors().count() == errors_before).then_some(robots)
}

fn robot(
    c: &mut Ctx<'_>,
    t: &DeTable<'_>,
    span: std::ops::Range<usize>,
    seen: &[RobotSettings],
) -> Option<RobotSettings> {
    let id = match c.text(t, "id").ok()? {
        None => {
            c.error(
                span,
                "[[robots]] 缺少 id".into(),
                "例如 id = \"gkb-wecom\"（notify test --to 和路由中用它指代该机器人）",
            );
            return None;
        }
        Some(id) if seen.iter().any(|r| r.id == *id.get_ref()) => {
            c.error(id.span(), format!("机器人 id \"{}\" 重复", id.get_ref()), "每个机器人的 id 应唯一");
            return None;
        }
        Some(id) => id.into_inner(),
    };
    let kind = match c.text(t, "kind").ok()? {
        None => {
            c.error(
                span.clone(),
                format!("机器人 {id} 缺少 kind"),
                "可选值：\"wecom\"（企业微信）、\"dingtalk\"（钉钉）或 \"feishu\"（飞书）",
            );
            return None;
        }
        Some(k) => match RobotKind::parse(k.get_ref()) {
            Some(kind) => kind,
            None => {
                let known: Vec<&str> = RobotKind::ALL.iter().map(|k| k.as_str()).collect();
                let hint = match suggest(k.get_ref(), &known) {
                    Some(s) => format!("是不是 \"{s}\"？可选值：wecom、dingtalk、feishu"),
                    None => "可选值：\"wecom\"（企业微信）、\"dingtalk\"（钉钉）或 \"feishu\"（飞书）".into(),
                };
                c.error(k.span(), format!("不支持的机器人 kind \"{}\"", k.get_ref()), hint);
                return None;
            }
        },
    };
    let name = c.text(t, "name").ok().map(|n| n.map_or_else(|| id.clone(), Spanned::into_inner));
    let base_url = c.url(t, "base_url", kind.default_base_url());
    let token = match c.secret(t, "token", &["token", "key", "access_token", "url", "webhook"]) {
        Ok(Some(s)) => {
            let span = s.span();
            match webhook_token(kind, s.get_ref().expose()) {
                Some(tok) => Some(Secret::new(tok)),
                None => {
                    c.error(span, format!("机器人 {id} 的 webhook 地址中找不到密钥"), token_hint(kind));
                    None
                }
            }
        }
        Ok(None) => {
            c.error(span.clone(), format!("机器人 {id} 缺少 token_file 或 token_env"), token_hint(kind));
            None
        }
        Err(()) => None,
    };
    let secret = c.secret(t, "secret", &["secret"]).ok();
    match (&secret, kind) {
        (Some(Some(s)), RobotKind::WeCom) => c.warning(
            s.span(),
            format!("企业微信群机器人没有加签，机器人 {id} 的 secret 不会被使用"),
            "请删除 secret_file / secret_env",
        ),
        (Some(None), RobotKind::DingTalk | RobotKind::Feishu) => c.warning(
            span.clone(),
            format!("{}机器人 {id} 没有配置加签密钥（secret_file / secret_env）", kind.label()),
            "建议在机器人安全设置中开启“加签”/“签名校验”，并配置 secret_file 或 secret_env",
        ),
        _ => {}
    }
    let budget = kind.limits().iter().find(|(_, p)| p.as_secs() == 60).map_or(20, |(n, _)| *n);
    let rate = match c.get::<u32>(t, "rate_per_minute", "正整数") {
        Ok(None) => Some(None),
        Ok(Some(r)) if *r.get_ref() == 0 => {
            c.error(
                r.span(),
                "rate_per_minute 不能为 0".into(),
                format!("{}机器人每分钟最多 {budget} 条", kind.label()),
            );
            None
        }
        Ok(Some(r)) => {
            if *r.get_ref() > budget {
                c.warning(
                    r.span(),
                    format!(
                        "rate_per_minute = {} 超过{}的限制（每分钟 {budget} 条），超出会被限流",
                        r.get_ref(),
                        kind.label()
                    ),
                    format!("请设为 {budget} 或更小"),
                );
            }
            Some(Some(r.into_inner()))
        }
        Err(()) => None,
    };
    let timeout = c.timeout(t);
    Some(RobotSettings {
        id,
        name: name?,
        kind,
        base_url: base_url?,
        token: token?,
        secret: secret?.map(Spanned::into_inner),
        rate_per_minute: rate?,
        timeout: timeout?,
    })
}

fn token_hint(kind: RobotKind) -> String {
    let example = match kind {
        RobotKind::WeCom => "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
        RobotKind::DingTalk => "https://oapi.dingtalk.com/robot/send?access_token=…",
        RobotKind::Feishu => "https://open.feishu.cn/open-apis/bot/v2/hook/…",
    };
    format!("token_file 指向的文件中写机器人的 webhook 地址（{example}）或其中的密钥；也可用 token_env")
}

/// The robot's key from a whole webhook URL, or the text itself when it is not a URL.
fn webhook_token(kind: RobotKind, text: &str) -> Option<String> {
    let Ok(url) = Url::parse(text) else {
        return (!text.contains(char::is_whitespace)).then(|| text.to_string());
    };
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let token = match kind {
        RobotKind::WeCom => param("key"),
        RobotKind::DingTalk => param("access_token"),
        RobotKind::Feishu => url.path().rsplit_once("/hook/").map(|(_, t)| t.to_string()),
    };
    token.filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_whole_webhook_urls_or_bare_keys() {
        let wecom = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx";
        assert_eq!(webhook_token(RobotKind::WeCom, wecom).as_deref(), Some("693a91f6-7xxx"));
        let ding = "https://oapi.dingtalk.com/robot/send?access_token=abc123";
        assert_eq!(webhook_token(RobotKind::DingTalk, ding).as_deref(), Some("abc123"));
        let feishu = "https://open.feishu.cn/open-apis/bot/v2/hook/5e3d587e-d78e";
        assert_eq!(webhook_token(RobotKind::Feishu, feishu).as_deref(), Some("5e3d587e-d78e"));
        assert_eq!(webhook_token(RobotKind::WeCom, "bare-key").as_deref(), Some("bare-key"));
        assert_eq!(webhook_token(RobotKind::DingTalk, wecom), None);
    }
}
