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
use super::{DeliveryError, MailSettings, MailTransport};
use crate::model::{AlertMessage, OutboxAlert};

/// A ready-to-use email channel.
pub struct Mailer {
    /// The `From:` of every message.
    from: Mailbox,
    kind: Kind,
}

enum Kind {
    Smtp(Box<SmtpClient>),
    File(PathBuf),
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> Result<Self, DeliveryError> {
        crate::util::net::install_tls_provider();
        let kind = match &settings.transport {
            MailTransport::Smtp(smtp) => {
                Kind::Smtp(Box::new(SmtpClient::new(smtp, settings.timeout, settings.connections)?))
            }
            MailTransport::File { outbox_dir } => Kind::File(outbox_dir.clone()),
        };
        Ok(Self { from: settings.from.clone(), kind })
    }

    /// How many messages this mailer sends at once: its SMTP connections (`[mail]
    /// connections`); one for the file transport.
    pub fn connections(&self) -> usize {
        match &self.kind {
            Kind::Smtp(client) => client.connections(),
            Kind::File(_) => 1,
        }
    }

    /// Sends an alert, threaded to its event; returns the SMTP server's answer (or where the
    /// file went).
    pub async fn send(&self, alert: &OutboxAlert) -> Result<String, DeliveryError> {
        let id = format!("alert.{}.{}", alert.id, alert.created_at.timestamp());
        let message = build_message(&self.from, &id, alert.thread.as_deref(), &alert.message)?;
        self.deliver(&format!("alert-{:06}", alert.id), &message).await
    }

    /// Sends a message of its own, threaded to nothing — a digest or a test message — as
    /// Message-ID `<yuqing.NAME@domain>` (file `NAME.eml`). Returns the server's answer.
    pub async fn send_standalone(&self, name: &str, message: &AlertMessage) -> Result<String, DeliveryError> {
        let built = build_message(&self.from, name, None, message)?;
        self.deliver(name, &built).await
    }

    async fn deliver(&self, name: &str, message: &Message) -> Result<String, DeliveryError> {
        match &self.kind {
            Kind::Smtp(client) => client.send(message.envelope(), &message.formatted()).await,
            Kind::File(dir) => write_eml(dir, name, &message.formatted()),
        }
    }
}

/// The mail for `message`, with Message-ID `<yuqing.<id>@domain>`, threaded to
/// `<yuqing.alert.<thread>@domain>` when there is a thread.
fn build_message(
    from: &Mailbox,
    id: &str,
    thread: Option<&str>,
    message: &AlertMessage,
) -> Result<Message, DeliveryError> {
    let domain = from.email.domain().to_string();
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(message.subject.clone())
        .message_id(Some(format!("<yuqing.{id}@{domain}>")))
        .date_now();
    if let Some(root) = thread {
        let root = format!("<yuqing.alert.{root}@{domain}>");
        builder = builder.in_reply_to(root.clone()).references(root);
    }
    for recipient in &message.recipients {
        let mailbox: Mailbox = recipient.parse().map_err(|e: lettre::address::AddressError| {
            DeliveryError::Address { address: recipient.clone(), message: e.to_string() }
        })?;
        builder = builder.to(mailbox);
    }
    let body = MultiPart::alternative()
        .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(message.body_text.clone()))
        .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(message.body_html.clone()));
    builder.multipart(body).map_err(|e| DeliveryError::Build(e.to_string()))
}

/// Writes `<dir>/<name>.eml` atomically (temp file + rename); an existing file means the
/// message was already delivered. Returns what happened, for the audit trail.
fn write_eml(dir: &Path, name: &str, bytes: &[u8]) -> Result<String, DeliveryError> {
    let path = dir.join(format!("{name}.eml"));
    let io = |p: &Path, e: std::io::Error| DeliveryError::File { path: p.to_path_buf(), message: e.to_string() };
    if path.exists() {
        return Ok(format!("已存在 {}", path.display()));
    }
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let tmp = dir.join(format!(".{name}.eml.tmp"));
    std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
    Ok(format!("已写入 {}", path.display()))
}
