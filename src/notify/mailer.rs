//! Sending one rendered alert: over SMTP (lettre, rustls) or as an `.eml` file.
//!
//! Every message carries a Message-ID derived from the alert's id and creation time, so a
//! resend after a crash (the one case where SMTP cannot be exactly-once) is recognisable
//! as the same message. File delivery is exactly-once: an existing file is not rewritten.

use std::path::{Path, PathBuf};

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};

use super::smtp::SmtpClient;
use super::{MailSettings, MailTransport};
use crate::model::OutboxAlert;

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

/// A ready-to-use email channel.
pub struct Mailer {
    settings: MailSettings,
    kind: Kind,
}

enum Kind {
    Smtp(Box<SmtpClient>),
    File(PathBuf),
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> Result<Self, DeliveryError> {
        crate::fetch::install_tls_provider();
        let kind = match &settings.transport {
            MailTransport::Smtp(smtp) => Kind::Smtp(Box::new(SmtpClient::new(smtp, settings.timeout)?)),
            MailTransport::File { outbox_dir } => Kind::File(outbox_dir.clone()),
        };
        Ok(Self { settings: settings.clone(), kind })
    }

    pub fn settings(&self) -> &MailSettings {
        &self.settings
    }

    pub async fn send(&self, alert: &OutboxAlert) -> Result<(), DeliveryError> {
        let message = build_message(&self.settings.from, alert)?;
        match &self.kind {
            Kind::Smtp(client) => client.send(message.envelope(), &message.formatted()).await,
            Kind::File(dir) => write_eml(dir, alert, &message.formatted()),
        }
    }
}

fn build_message(from: &Mailbox, alert: &OutboxAlert) -> Result<Message, DeliveryError> {
    let domain = from.email.domain().to_string();
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(alert.message.subject.clone())
        .message_id(Some(format!("<yuqing.alert.{}.{}@{domain}>", alert.id, alert.created_at.timestamp())))
        .date_now();
    if let Some(root) = &alert.thread {
        let root = format!("<yuqing.alert.{root}@{domain}>");
        builder = builder.in_reply_to(root.clone()).references(root);
    }
    for recipient in &alert.message.recipients {
        let mailbox: Mailbox = recipient.parse().map_err(|e: lettre::address::AddressError| {
            DeliveryError::Address { address: recipient.clone(), message: e.to_string() }
        })?;
        builder = builder.to(mailbox);
    }
    let body = MultiPart::alternative()
        .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(alert.message.body_text.clone()))
        .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(alert.message.body_html.clone()));
    builder.multipart(body).map_err(|e| DeliveryError::Build(e.to_string()))
}

/// Writes `<dir>/alert-<id>.eml` atomically (temp file + rename); an existing file means
/// the alert was already delivered.
fn write_eml(dir: &Path, alert: &OutboxAlert, bytes: &[u8]) -> Result<(), DeliveryError> {
    let path = dir.join(format!("alert-{:06}.eml", alert.id));
    let io = |p: &Path, e: std::io::Error| DeliveryError::File { path: p.to_path_buf(), message: e.to_string() };
    if path.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let tmp = dir.join(format!(".alert-{:06}.eml.tmp", alert.id));
    std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))
}
