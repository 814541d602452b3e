//! Plain data shared by every stage: documents, hits and per-run counts. No I/O here.

use chrono::{DateTime, Utc};

/// One item fetched from a source (信息 / 文章 / 帖子), already normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub source_id: String,
    /// Identity keys used for dedup across runs and restarts (see
    /// [`crate::extract::into_documents`]); a document is known when any key is.
    pub keys: Vec<String>,
    /// SHA-256 (hex, first 32 chars) of the normalised title and text.
    pub fingerprint: String,
    pub link: Option<String>,
    pub guid: Option<String>,
    pub title: String,
    pub text: String,
    pub author: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    /// What a followed article page said about itself when it was not readable
    /// (`deleted`, `violation`, `unavailable`): a deleted article about the bureau is a signal.
    pub page_state: Option<String>,
}

/// Which normalised field of a document a hit was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Title,
    Text,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Text => "text",
        }
    }
}

/// A keyword term found in a document (命中). `start..end` are UTF-8 byte offsets into
/// the normalised field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hit {
    pub field: Field,
    pub start: usize,
    pub end: usize,
    pub list: String,
    pub term: String,
}

/// A document together with the hits found in it.
#[derive(Debug, Clone)]
pub struct MatchedDocument {
    pub document: Document,
    pub hits: Vec<Hit>,
}

impl MatchedDocument {
    /// Distinct terms in order of first appearance.
    pub fn terms(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for hit in &self.hits {
            if !out.contains(&hit.term.as_str()) {
                out.push(&hit.term);
            }
        }
        out
    }
}

/// An alert message rendered for delivery, queued in the outbox with its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertMessage {
    /// Channel name; only `"email"` so far.
    pub channel: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
}

/// An alert waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxAlert {
    pub id: i64,
    pub message: AlertMessage,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
}

/// Notices about a source's health, sent to the admin once per episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceNotice {
    /// It has failed `failure_notice_after` runs in a row.
    Failing,
    /// It works again after a `Failing` notice.
    Recovered,
    /// It produced nothing new for longer than its `max_silence`.
    Silent,
}

impl SourceNotice {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceNotice::Failing => "source_failing",
            SourceNotice::Recovered => "source_recovered",
            SourceNotice::Silent => "source_silent",
        }
    }
}
