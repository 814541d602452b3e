//! Alert delivery channels: rendering an alert for a document and sending it by email
//! (SMTP via lettre, or `.eml` files in an outbox folder). This module knows nothing of
//! the database; the outbox loop that ties it to the store is [`crate::deliver`].

mod mailer;
mod notice;
mod render;
mod smtp;

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;

pub use mailer::Mailer;
pub use notice::{
    DiskNotice, NoticeContext, PolicyNotice, render_dead_letter, render_disk_notice, render_notice,
    render_policy_notice,
};
pub use render::{AlertContext, DeadlineMark, Reminder, escape, render_email, render_reminder};

/// Validated `[mail]` settings.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub transport: MailTransport,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    /// Who gets source health notices (`admin`, default: `to`).
    pub admin: Vec<Mailbox>,
    pub subject_prefix: String,
    /// SMTP command timeout.
    pub timeout: Duration,
    /// First retry delay after a failed delivery; doubles per failure up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// After this many failed attempts an alert is given up on (a dead letter; the admin is
    /// told once, and `yuqing outbox retry` requeues it).
    pub max_attempts: u32,
    /// How many SMTP connections deliver at once (`connections`; 1 for servers that allow
    /// only one). Ignored by the file transport.
    pub connections: usize,
}

impl MailSettings {
    /// Default and largest `connections`.
    pub const DEFAULT_CONNECTIONS: usize = 4;
    pub const MAX_CONNECTIONS: usize = 32;
    /// Default (initial, max) retry delays.
    pub const DEFAULT_RETRY: (Duration, Duration) = (Duration::from_secs(60), Duration::from_secs(3600));
    /// With the default delays, 12 attempts span about seven hours.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 12;

    /// The outbox's retry policy, as `[mail]` sets it.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy { initial: self.retry_initial, max: self.retry_max, max_attempts: self.max_attempts }
    }
}

/// How the outbox retries a failed delivery, on every channel: `[mail]`'s settings, or the
/// defaults when only SMS or IM robots are configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
    /// After this many failed attempts an alert is a dead letter.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let (initial, max) = MailSettings::DEFAULT_RETRY;
        RetryPolicy { initial, max, max_attempts: MailSettings::DEFAULT_MAX_ATTEMPTS }
    }
}

impl RetryPolicy {
    /// Delay before the next attempt after `attempts` failed ones (1 → initial), doubling
    /// up to `max`.
    pub fn delay(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        self.initial.saturating_mul(factor).min(self.max)
    }
}

#[derive(Debug, Clone)]
pub enum MailTransport {
    Smtp(SmtpSettings),
    /// Each alert is written as `<dir>/<id>.eml` (for testing and air-gapped setups).
    File {
        outbox_dir: PathBuf,
    },
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub hello_name: Option<String>,
    /// Extra trusted root certificate (PEM), e.g. an internal government CA.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    None,
    StartTls,
    Tls,
}

impl TlsMode {
    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::None => 25,
            TlsMode::StartTls => 587,
            TlsMode::Tls => 465,
        }
    }
}

pub use crate::model::Secret;

/// Why an email could not be sent or written.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("cannot set up SMTP transport: {0}")]
    Setup(String),
    #[error("invalid address {address:?}: {message}")]
    Address { address: String, message: String },
    #[error("cannot build message: {0}")]
    Build(String),
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
    #[error("cannot write {path}: {message}")]
    File { path: PathBuf, message: String },
}

impl DeliveryError {
    /// The error for the admin (`yuqing outbox show`, the dead-letter notice): what it
    /// means in Chinese, the SMTP server's or system's words after.
    pub fn describe_zh(&self) -> String {
        match self {
            DeliveryError::Setup(e) => format!("无法建立 SMTP 连接设置（检查 [mail] 的 host、port、tls）（{e}）"),
            DeliveryError::Address { address, message } => format!("邮件地址 {address:?} 无效（{message}）"),
            DeliveryError::Build(e) => format!("无法生成邮件（{e}）"),
            DeliveryError::Smtp(e) => format!("无法通过 SMTP 发送（{e}）"),
            DeliveryError::File { path, message } => format!(
                "无法写入 {}：请确认 [mail] outbox_dir 的目录存在、运行 yuqing 的用户可以写入（{message}）",
                path.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_up_to_the_cap() {
        let s = MailSettings {
            transport: MailTransport::File { outbox_dir: PathBuf::new() },
            from: "a@b.cn".parse().expect("mailbox"),
            to: vec![],
            admin: vec![],
            subject_prefix: String::new(),
            timeout: Duration::from_secs(1),
            retry_initial: Duration::from_secs(60),
            retry_max: Duration::from_secs(600),
            max_attempts: 12,
            connections: 1,
        };
        let delays: Vec<u64> = (1..=6).map(|a| s.retry_policy().delay(a).as_secs()).collect();
        assert_eq!(delays, vec![60, 120, 240, 480, 600, 600]);
        assert_eq!(s.retry_policy().delay(u32::MAX).as_secs(), 600);
    }

    #[test]
    fn secrets_do_not_leak_into_debug_output() {
        assert_eq!(format!("{:?}", Secret::new("hunter2".into())), "Secret(***)");
    }
}
