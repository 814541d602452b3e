//! `yuqing notify test --channel sms|wecom|dingtalk|feishu --to PERSON_OR_ROBOT`: sends
//! one test message through a configured channel and prints the provider's answer
//! verbatim — the first thing an admin runs after setting up `[sms]` or `[[robots]]`.
//!
//! Exit codes: 0 delivered; 1 the channel or recipient is not configured; 2 not delivered.

use std::process::ExitCode;

use chrono::Utc;

use crate::channel::{Channel, ChannelError, FIELDS, Message, RobotKind, RobotSettings};
use crate::config::Config;
use crate::response::Person;

#[derive(Debug, Clone, clap::Args)]
pub struct NotifyTestArgs {
    /// sms, wecom, dingtalk or feishu
    #[arg(long)]
    channel: String,
    /// SMS: a person's id (their `mobile`) or a mobile number. Robots: the robot's id, or
    /// a person's id to mention them (with the only robot of that kind)
    #[arg(long, value_name = "PERSON_OR_ROBOT")]
    to: Option<String>,
}

pub fn test(config: &Config, args: &NotifyTestArgs) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let sent_at = super::local(now, config.timezone);
    let mut message = Message {
        out_id: format!("test-{}", now.timestamp()),
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
    let (channel, label) = if args.channel == "sms" {
        let Some(sms) = &config.sms else {
            eprintln!("未配置 [sms]：请先在 yuqing.toml 中添加 [sms] 小节（见 README「短信」一节）");
            return Ok(ExitCode::from(1));
        };
        let Some(to) = &args.to else {
            eprintln!("请用 --to 指定接收测试短信的人员 id（[[people]] 中的 id，需有 mobile）或手机号");
            return Ok(ExitCode::from(1));
        };
        let mobile = match config.response.org.person(to) {
            Some(Person { mobile: Some(m), name, .. }) => {
                message.fields.insert("person".into(), name.clone());
                m.clone()
            }
            Some(p) => {
                eprintln!("人员 {}（{}）没有配置 mobile", p.id, p.name);
                return Ok(ExitCode::from(1));
            }
            None if to.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c)) && to.len() >= 5 => to.clone(),
            None => {
                eprintln!("\"{to}\" 既不是 [[people]] 中的人员 id，也不是手机号");
                return Ok(ExitCode::from(1));
            }
        };
        message.mobiles = vec![mobile.clone()];
        message.text = format!("这是舆情监测系统 yuqing 的测试短信，收到即表示短信通道配置正确。发送时间：{sent_at}");
        (Channel::sms(sms, proxy)?, format!("短信（{}）→ {mobile}", sms.provider.name()))
    } else {
        let Some(kind) = RobotKind::parse(&args.channel) else {
            eprintln!("不支持的通道 \"{}\"：可选 sms、wecom、dingtalk、feishu", args.channel);
            return Ok(ExitCode::from(1));
        };
        let Some((robot, person)) = pick_robot(config, kind, args.to.as_deref()) else {
            return Ok(ExitCode::from(1));
        };
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
        (Channel::robot(robot, proxy)?, format!("{}机器人 {}（{}）", kind.label(), robot.id, robot.name))
    };
    println!("通道：{label}");
    let result = super::runtime()?.block_on(channel.send(&message));
    match result {
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
            Ok(ExitCode::SUCCESS)
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
            Ok(ExitCode::from(2))
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
