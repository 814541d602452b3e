//! `yuqing notify test RECEIVER [--channel email|sms|wecom|dingtalk|feishu]`: sends one test
//! message through each channel the receiver (a `[[receivers]]` group, a person, a robot, an
//! address or a number) has, or only the one asked for, and prints each provider's answer
//! verbatim — the first thing an admin runs after setting up `[mail]`, `[sms]` or `[[robots]]`.
//!
//! Exit codes: 0 all delivered; 1 the channel or recipient is not configured; 2 one or more
//! not delivered.

use std::process::ExitCode;

use chrono::Utc;

use crate::channel::{Channel, ChannelError, FIELDS, Message, RobotKind, RobotSettings};
use crate::config::Config;
use crate::model::AlertMessage;
use crate::response::Person;

#[derive(Debug, Clone, clap::Args)]
pub struct NotifyTestArgs {
    /// Who: a [[receivers]] group id, a [[people]] id, a [[robots]] id, an email address or a
    /// mobile number (接收组、人员、机器人、邮件地址或手机号)
    #[arg(value_name = "RECEIVER")]
    receiver: Option<String>,
    /// Only this channel: email, sms, wecom, dingtalk or feishu (default: every channel the
    /// receiver has; required without RECEIVER)
    #[arg(long)]
    channel: Option<String>,
    /// The same as RECEIVER (the form earlier versions took)
    #[arg(long, value_name = "PERSON_OR_ROBOT", hide = true)]
    to: Option<String>,
}

/// One test message to send.
enum Target<'c> {
    /// To these mailboxes at once.
    Email(Vec<String>),
    /// To one mobile, with the person's name when it is theirs.
    Sms(String, Option<String>),
    /// To a robot's group, mentioning the person when one is named.
    Robot(&'c RobotSettings, Option<&'c Person>),
}

/// Which channel `--channel` asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Only {
    Any,
    Email,
    Sms,
    Robot(RobotKind),
}

impl Only {
    fn parse(s: Option<&str>) -> Option<Self> {
        match s {
            None => Some(Only::Any),
            Some("email") => Some(Only::Email),
            Some("sms") => Some(Only::Sms),
            Some(other) => RobotKind::parse(other).map(Only::Robot),
        }
    }

    fn allows(self, t: &Target<'_>) -> bool {
        match (self, t) {
            (Only::Any, _) | (Only::Email, Target::Email(_)) | (Only::Sms, Target::Sms(..)) => true,
            (Only::Robot(k), Target::Robot(r, _)) => r.kind == k,
            _ => false,
        }
    }
}

pub fn test(config: &Config, args: &NotifyTestArgs) -> anyhow::Result<ExitCode> {
    let Some(only) = Only::parse(args.channel.as_deref()) else {
        eprintln!(
            "不支持的通道 \"{}\"：可选 email、sms、wecom、dingtalk、feishu",
            args.channel.as_deref().unwrap_or("")
        );
        return Ok(ExitCode::from(1));
    };
    let who = args.receiver.as_deref().or(args.to.as_deref());
    let Some(targets) = targets(config, who, only) else { return Ok(ExitCode::from(1)) };
    let targets: Vec<Target<'_>> = targets.into_iter().filter(|t| only.allows(t)).collect();
    if targets.is_empty() {
        let what = args.channel.as_deref().unwrap_or("任何");
        eprintln!(
            "{} 没有可用的 {what} 通道（检查其 email、mobile、robots 与 [sms]、[[robots]] 配置）",
            who.unwrap_or("")
        );
        return Ok(ExitCode::from(1));
    }
    let runtime = super::runtime()?;
    let mut all_ok = true;
    for (n, target) in targets.iter().enumerate() {
        if n > 0 {
            println!();
        }
        match send_one(config, target, &runtime) {
            Ok(delivered) => all_ok &= delivered,
            Err(code) => return Ok(code),
        }
    }
    Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// What `who` stands for; `None` (explained on stderr) when it names nothing usable.
fn targets<'c>(config: &'c Config, who: Option<&str>, only: Only) -> Option<Vec<Target<'c>>> {
    let org = &config.response.org;
    let Some(who) = who else {
        return match only {
            Only::Email => match &config.mail {
                Some(mail) => Some(vec![Target::Email(mail.to.iter().map(ToString::to_string).collect())]),
                None => Some(Vec::new()),
            },
            Only::Robot(kind) => pick_robot(config, kind, None).map(|(r, p)| vec![Target::Robot(r, p)]),
            Only::Sms | Only::Any => {
                eprintln!("请指定接收者：yuqing notify test <接收组|人员 id|机器人 id|邮件地址|手机号> [--channel …]");
                None
            }
        };
    };
    if let Some(group) = config.receiver(who) {
        let mut out = Vec::new();
        let boxes = group.mailboxes(org);
        if !boxes.is_empty() {
            out.push(Target::Email(boxes));
        }
        out.extend(group.mobile_numbers(org).into_iter().map(|m| Target::Sms(m, Some(group.name.clone()))));
        for id in group.robot_ids() {
            out.extend(config.robots.iter().find(|r| &r.id == id).map(|r| Target::Robot(r, None)));
        }
        return Some(out);
    }
    if let Some(robot) = config.robots.iter().find(|r| r.id == who) {
        return Some(vec![Target::Robot(robot, None)]);
    }
    if let Some(person) = org.person(who) {
        let mut out = Vec::new();
        if let Some(email) = &person.email {
            out.push(Target::Email(vec![format!("{} <{email}>", person.name)]));
        }
        if let Some(mobile) = &person.mobile {
            out.push(Target::Sms(mobile.clone(), Some(person.name.clone())));
        }
        if let Only::Robot(kind) = only {
            let (robot, person) = pick_robot(config, kind, Some(who))?;
            out.push(Target::Robot(robot, person));
        }
        if out.is_empty() {
            eprintln!("人员 {}（{}）没有配置 email 或 mobile", person.id, person.name);
            return None;
        }
        return Some(out);
    }
    if who.contains('@') {
        return Some(vec![Target::Email(vec![who.to_string()])]);
    }
    if crate::config::is_mobile(who) {
        return Some(vec![Target::Sms(who.to_string(), None)]);
    }
    let mut ids: Vec<&str> = config.response.receivers.iter().map(|r| r.id.as_str()).collect();
    ids.extend(org.people.iter().map(|p| p.id.as_str()));
    ids.extend(config.robots.iter().map(|r| r.id.as_str()));
    let known = if ids.is_empty() { "（yuqing.toml 中还没有）".to_string() } else { ids.join("、") };
    eprintln!(
        "\"{who}\" 不是 [[receivers]] 接收组、[[people]] 人员、[[robots]] 机器人的 id，也不是邮件地址或手机号{}；请写其中一个 id：{known}，或完整的邮件地址、手机号",
        super::route::did_you_mean(who, &ids)
    );
    None
}

/// Sends one test message and prints the answer; `Ok(true)` when delivered, `Err` with the
/// exit code when the channel is not configured.
fn send_one(config: &Config, target: &Target<'_>, runtime: &tokio::runtime::Runtime) -> Result<bool, ExitCode> {
    let now = Utc::now();
    let sent_at = super::local(now, config.timezone);
    let mut message = Message {
        // Unique per run: with `transport = "file"` an existing `<out_id>.eml` counts as
        // delivered, so two tests in the same second must not share a name.
        out_id: format!("test-{}-{}", now.timestamp_millis(), std::process::id()),
        title: "【舆情监测】通道测试".into(),
        ..Message::default()
    };
    for field in FIELDS {
        let value = match *field {
            "event" => "通道测试",
            "grade" => "Ⅳ",
            "deadline" => sent_at.as_str(),
            "link" => "https://example.gov.cn/",
            "person" => "管理员",
            _ => continue,
        };
        message.fields.insert(field.to_string(), value.to_string());
    }
    let proxy = config.fetch.proxy.as_ref();
    let not_configured = |what: &str| {
        eprintln!("{what}");
        ExitCode::from(1)
    };
    let (channel, label) = match target {
        Target::Email(boxes) => {
            let Some(mail) = &config.mail else {
                return Err(not_configured(
                    "未配置 [mail]：请先在 yuqing.toml 中添加 [mail] 小节（见 README「邮件」一节）",
                ));
            };
            println!("通道：邮件 → {}", boxes.join("、"));
            return Ok(send_test_mail(mail, boxes, &message.out_id, &sent_at, runtime));
        }
        Target::Sms(mobile, name) => {
            let Some(sms) = &config.sms else {
                return Err(not_configured(
                    "未配置 [sms]：请先在 yuqing.toml 中添加 [sms] 小节（见 README「短信」一节）",
                ));
            };
            if let Some(name) = name {
                message.fields.insert("person".into(), name.clone());
            }
            message.mobiles = vec![mobile.clone()];
            message.text =
                format!("这是舆情监测系统 yuqing 的测试短信，收到即表示短信通道配置正确。发送时间：{sent_at}");
            let channel = Channel::sms(sms, proxy).map_err(|e| not_configured(&e.to_string()))?;
            (channel, format!("短信（{}）→ {mobile}", sms.provider.name()))
        }
        Target::Robot(robot, person) => {
            let kind = robot.kind;
            if let Some(p) = person {
                let user_id = match kind {
                    RobotKind::WeCom => &p.wecom,
                    RobotKind::DingTalk => &p.dingtalk,
                    RobotKind::Feishu => &p.feishu,
                };
                message.user_ids.extend(user_id.clone());
                if kind != RobotKind::Feishu {
                    message.mobiles.extend(p.mobile.clone());
                }
                message.fields.insert("person".into(), p.name.clone());
            }
            message.text = format!(
                "这是舆情监测系统 yuqing 的测试消息，收到即表示{}机器人“{}”配置正确。\n\n发送时间：{sent_at}",
                kind.label(),
                robot.name
            );
            let channel = Channel::robot(robot, proxy).map_err(|e| not_configured(&e.to_string()))?;
            (channel, format!("{}机器人 {}（{}）", kind.label(), robot.id, robot.name))
        }
    };
    println!("通道：{label}");
    match runtime.block_on(channel.send(&message)) {
        Ok(receipt) => {
            println!("提供方应答（原文）：{}", receipt.response);
            if let Some(id) = &receipt.message_id {
                println!("消息编号：{id}");
            }
            if let Some(id) = &receipt.request_id {
                println!("请求编号：{id}");
            }
            for (mobile, why) in &receipt.rejected {
                println!("未送达号码：{mobile}（{why}）");
            }
            println!("结果：已送达提供方（编号 {}）", message.out_id);
            Ok(true)
        }
        Err(e) => {
            match &e {
                ChannelError::Retryable { code, detail, .. } => {
                    println!("提供方应答（原文）：{detail}");
                    println!("结果：暂时失败 [{code}]，可稍后重试（{}）", retry_hint(code));
                }
                ChannelError::Permanent { code, detail } => {
                    println!("提供方应答（原文）：{detail}");
                    println!("结果：发送被拒绝 [{code}]，重试无用，请检查配置{}", reject_hint(code));
                }
                ChannelError::Invalid(why) => println!("结果：无法发送：{why}"),
            }
            Ok(false)
        }
    }
}

/// A test email through `[mail]` (SMTP or file), printing the server's answer.
fn send_test_mail(
    mail: &crate::notify::MailSettings,
    boxes: &[String],
    out_id: &str,
    sent_at: &str,
    runtime: &tokio::runtime::Runtime,
) -> bool {
    let text = format!("这是舆情监测系统 yuqing 的测试邮件，收到即表示邮件通道配置正确。\n\n发送时间：{sent_at}");
    let message = AlertMessage {
        channel: "email".into(),
        recipients: boxes.to_vec(),
        subject: format!("{}通道测试", mail.subject_prefix),
        body_html: format!("<p>{}</p>", crate::notify::escape(&text).replace('\n', "<br>")),
        body_text: text,
    };
    let sent = crate::notify::Mailer::new(mail).and_then(|m| runtime.block_on(m.send_standalone(out_id, &message)));
    match sent {
        Ok(answer) => {
            println!("服务器应答（原文）：{answer}");
            println!("结果：已送达邮件服务器（编号 {out_id}）");
            true
        }
        Err(e) => {
            println!("结果：发送失败：{}", e.describe_zh());
            false
        }
    }
}

/// The robot named by `to`, or the only robot of `kind` (with the person `to` names).
fn pick_robot<'c>(
    config: &'c Config,
    kind: RobotKind,
    to: Option<&str>,
) -> Option<(&'c RobotSettings, Option<&'c Person>)> {
    let of_kind: Vec<&RobotSettings> = config.robots.iter().filter(|r| r.kind == kind).collect();
    let ids = || of_kind.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join("、");
    if let Some(to) = to
        && let Some(robot) = config.robots.iter().find(|r| r.id == to)
    {
        if robot.kind != kind {
            eprintln!("机器人 {to} 是{}机器人，不是 {}", robot.kind.label(), kind.as_str());
            return None;
        }
        return Some((robot, None));
    }
    let person = match to {
        None => None,
        Some(to) => match config.response.org.person(to) {
            Some(p) => Some(p),
            None => {
                eprintln!("\"{to}\" 既不是机器人 id，也不是人员 id。{}机器人：{}", kind.label(), ids());
                return None;
            }
        },
    };
    match of_kind.as_slice() {
        [one] => Some((one, person)),
        [] => {
            eprintln!(
                "未配置{}机器人：请在 yuqing.toml 中添加 kind = \"{}\" 的 [[robots]]",
                kind.label(),
                kind.as_str()
            );
            None
        }
        _ => {
            eprintln!("有多个{}机器人，请用 --to 指定其一：{}", kind.label(), ids());
            None
        }
    }
}

fn retry_hint(code: &str) -> &'static str {
    match code {
        "timeout" => "请求超时",
        "connect" => "无法连接，请检查网络、代理（[fetch] proxy）或防火墙",
        "45009" | "130101" | "660026" | "11232" => "机器人发送过快，已被限流",
        c if c.starts_with("http-") => "提供方服务繁忙",
        _ => "提供方限流或繁忙",
    }
}

fn reject_hint(code: &str) -> &'static str {
    match code {
        "19021" => "：飞书签名不匹配或本机时间偏差超过 1 小时（secret 是否正确？时钟是否同步？）",
        "310000" => "：钉钉加签不匹配，或消息不含自定义关键词，或 IP 不在白名单",
        "93000" => "：企业微信 webhook 的 key 无效",
        "SignatureDoesNotMatch" | "AuthFailure.SignatureFailure" => "：签名不匹配（AccessKey/SecretKey 是否正确？）",
        c if c.contains("TEMPLATE") || c.contains("Template") => "：短信模板不存在、未审核或参数不符",
        c if c.contains("SIGN") || c.contains("Signature") => "：短信签名不存在或未审核",
        _ => "",
    }
}
