//! Plain data shared by every stage: documents, hits and per-run counts, an event's grade,
//! where a source lives, a fetch's cache validators, a secret, the database's disk usage.
//! No I/O here, and no import of any other module: every layer may use these types.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use url::Url;

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
    /// The author's name, for `author:` rules.
    Author,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Text => "text",
            Field::Author => "author",
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
    /// Art. 7 flags raised by the cue lists.
    pub flags: Vec<Flag>,
    pub negativity: Option<Negativity>,
    /// Below the rumour flag but in the model's 待核实 (to verify) band: the model's words.
    pub to_verify: Option<String>,
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
    /// `document`, a notice kind (`source_failing`, `outbox_dead`, …) or `briefing`.
    pub kind: String,
    /// The grade of the event it is about, if any (quiet hours hold III and IV).
    pub grade: Option<Grade>,
    pub message: AlertMessage,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    /// `<id>.<created>` of the first alert about the same event, when this is a later one:
    /// the mail threads to it.
    pub thread: Option<String>,
    /// Why it was held back, if it was: held alerts due together are merged into digests.
    pub held: Option<HoldReason>,
}

/// Why an alert was held back instead of sent when it was due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoldReason {
    /// A grade III/IV notification outside working hours.
    Quiet,
    /// An IM robot's send budget was spent, or an event's updates are spaced
    /// (a burst of copies becomes one merged message).
    Rate,
    /// The person's hourly SMS cap was reached.
    Cap,
}

impl HoldReason {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldReason::Quiet => "quiet",
            HoldReason::Rate => "rate",
            HoldReason::Cap => "cap",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [HoldReason::Quiet, HoldReason::Rate, HoldReason::Cap].into_iter().find(|r| r.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            HoldReason::Quiet => "工作时间外暂缓",
            HoldReason::Rate => "频率限制（群机器人限速或同一事件的更新合并）",
            HoldReason::Cap => "短信每小时上限",
        }
    }
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

/// The four kinds of Art. 7: what the office must catch in opinion about its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlagKind {
    /// 谣言: unverified claims spreading.
    Rumour,
    /// 歪曲: a claim twisting what the bureau said.
    Distortion,
    /// 误解: a misreading of a policy.
    Misunderstanding,
    /// 疑虑: questions and complaints.
    Doubt,
}

impl FlagKind {
    pub const ALL: [FlagKind; 4] =
        [FlagKind::Rumour, FlagKind::Distortion, FlagKind::Misunderstanding, FlagKind::Doubt];

    /// The name used in files (`keywords/flags/<name>.txt`) and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagKind::Rumour => "rumour",
            FlagKind::Distortion => "distortion",
            FlagKind::Misunderstanding => "misunderstanding",
            FlagKind::Doubt => "doubt",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// How staff read it.
    pub fn label_zh(self) -> &'static str {
        match self {
            FlagKind::Rumour => "疑似谣言",
            FlagKind::Distortion => "疑似歪曲",
            FlagKind::Misunderstanding => "疑似误解",
            FlagKind::Doubt => "疑虑",
        }
    }
}

/// A flag on a document, with the cues that raised it (never a bare score).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub kind: FlagKind,
    pub reasons: Vec<String>,
}

/// How negative a document reads, and the words that made it so.
#[derive(Debug, Clone, PartialEq)]
pub struct Negativity {
    pub score: f32,
    /// The counted words, with their degree word when there was one (`严重拖欠`).
    pub drivers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grade {
    I,
    II,
    III,
    IV,
}

impl Grade {
    pub const ALL: [Grade; 4] = [Grade::I, Grade::II, Grade::III, Grade::IV];

    pub fn as_str(self) -> &'static str {
        match self {
            Grade::I => "I",
            Grade::II => "II",
            Grade::III => "III",
            Grade::IV => "IV",
        }
    }

    /// 特别重大 … 一般.
    pub fn name_zh(self) -> &'static str {
        ["特别重大", "重大", "较大", "一般"][self as usize]
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Grade::I => "Ⅰ级 特别重大",
            Grade::II => "Ⅱ级 重大",
            Grade::III => "Ⅲ级 较大",
            Grade::IV => "Ⅳ级 一般",
        }
    }

    /// `I`…`IV`, `1`…`4`, `Ⅰ`…`Ⅳ` or the Chinese name.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL.into_iter().find(|g| {
            let n = *g as usize + 1;
            s.eq_ignore_ascii_case(g.as_str())
                || s == n.to_string()
                || s == ["Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ"][n - 1]
                || s == g.name_zh()
        })
    }
}

/// Where a source's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Http(Url),
    File(PathBuf),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Http(url) => write!(f, "{url}"),
            Location::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Cache validators from the previous successful fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A password or token; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The database's footprint and its filesystem's room, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// The database file.
    pub database: u64,
    /// Its write-ahead log (`-wal`), folded into the file at checkpoints.
    pub wal: u64,
    /// Free space available to this (unprivileged) process on the filesystem.
    pub available: u64,
    /// The filesystem's size.
    pub total: u64,
}

impl DiskUsage {
    /// Below `min_free_mb` MiB available?
    pub fn is_low(&self, min_free_mb: u64) -> bool {
        self.available < min_free_mb.saturating_mul(1024 * 1024)
    }
}
