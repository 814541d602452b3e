//! Bytes → [`Document`]s: charset decoding, feed parsing, text normalisation, and the
//! identity keys used for dedup. Pure: no I/O, no clock.

pub mod charset;
pub mod date;
pub mod export;
pub mod feed;
pub mod html;
pub mod normalize;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::Document;

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("不是可读的 RSS、Atom 或 JSON Feed（feed-rs：{message}）")]
    Feed { message: String },
    #[error("导出文件无法读取：{message}")]
    Export { message: String },
}

/// One item as parsed, before it gets its identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub title: String,
    pub text: String,
    pub link: Option<String>,
    pub guid: Option<String>,
    pub author: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
}

/// Turns a batch of entries from one source into documents with dedup keys.
///
/// A document's keys are its guid (scoped to the source) and its normalised link; when it
/// has neither, a fingerprint of title and text. A link shared by several entries of the
/// same batch (feeds that point every item at the home page) identifies nothing and is
/// not used as a key.
pub fn into_documents(source_id: &str, entries: Vec<Entry>) -> Vec<Document> {
    let links: Vec<Option<String>> = entries.iter().map(|e| e.link.as_deref().and_then(normalize_link)).collect();
    // How many entries name each link: one count per entry, not a scan of all entries per
    // entry (quadratic: a 200,000-item feed spent most of its run here).
    let mut uses: std::collections::HashMap<&str, usize> = std::collections::HashMap::with_capacity(links.len());
    for link in links.iter().flatten() {
        *uses.entry(link.as_str()).or_default() += 1;
    }
    let shared = |link: &str| uses.get(link).is_some_and(|&n| n > 1);
    with_keys(source_id, entries, &links, shared)
}

/// [`into_documents`] for one run of a feed read in parts: whether a link is shared was
/// counted over the whole feed beforehand ([`SharedLinks`]).
pub fn into_documents_sharing(source_id: &str, entries: Vec<Entry>, shared: &SharedLinks) -> Vec<Document> {
    let links: Vec<Option<String>> = entries.iter().map(|e| e.link.as_deref().and_then(normalize_link)).collect();
    with_keys(source_id, entries, &links, |link| shared.contains(link))
}

fn with_keys(
    source_id: &str,
    entries: Vec<Entry>,
    links: &[Option<String>],
    shared: impl Fn(&str) -> bool,
) -> Vec<Document> {
    entries
        .into_iter()
        .zip(links.iter())
        .map(|(entry, link)| {
            let fingerprint = fingerprint(&entry.title, &entry.text);
            let mut keys = Vec::new();
            if let Some(guid) = &entry.guid {
                keys.push(format!("guid:{source_id}:{guid}"));
            }
            if let Some(link) = link.as_deref().filter(|l| !shared(l)) {
                keys.push(format!("link:{link}"));
            }
            if keys.is_empty() {
                keys.push(format!("fp:{fingerprint}"));
            }
            Document {
                source_id: source_id.to_string(),
                keys,
                fingerprint,
                link: entry.link,
                guid: entry.guid,
                title: entry.title,
                text: entry.text,
                author: entry.author,
                published_at: entry.published_at,
                page_state: None,
            }
        })
        .collect()
}

/// The normalised links that more than one entry of a feed names, counted over a feed read
/// in parts: 16 bytes per entry while counting (a 128-bit digest of each link, so that no
/// two links can be taken for one in practice), then only the shared ones.
#[derive(Debug, Default, Clone)]
pub struct SharedLinks {
    seen: Vec<u128>,
}

impl SharedLinks {
    fn digest(link: &str) -> u128 {
        let hash = Sha256::digest(link.as_bytes());
        let mut first = [0u8; 16];
        first.copy_from_slice(&hash[..16]);
        u128::from_le_bytes(first)
    }

    /// Counts the links of one run of entries.
    pub fn count(&mut self, entries: &[Entry]) {
        self.seen.extend(
            entries.iter().filter_map(|e| e.link.as_deref().and_then(normalize_link)).map(|l| Self::digest(&l)),
        );
    }

    /// After every run was counted: keeps the links named more than once.
    pub fn finish(mut self) -> SharedLinks {
        self.seen.sort_unstable();
        let mut shared: Vec<u128> = self.seen.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect();
        shared.dedup();
        SharedLinks { seen: shared }
    }

    /// Whether a normalised link is named by more than one entry (after [`Self::finish`]).
    pub fn contains(&self, link: &str) -> bool {
        self.seen.binary_search(&Self::digest(link)).is_ok()
    }
}

/// A decoded feed read [`feed::FeedParts`] at a time: every part is parsed once when
/// this is made — so a feed with a bad item fails before anything of it is stored, as the
/// whole-document parse does, and the links shared across parts are known — and again,
/// one part at a time, by [`FeedBatches::documents`]. Parsing twice costs feed-rs's time
/// once more and keeps memory at one part's entries, whatever the feed's size.
pub struct FeedBatches<'t> {
    text: &'t str,
    header: std::borrow::Cow<'t, str>,
    parts: feed::FeedParts,
    shared: SharedLinks,
    entries: usize,
    base: Option<Url>,
    tz: chrono_tz::Tz,
}

impl<'t> FeedBatches<'t> {
    /// `Ok(None)` when the feed has at most one part of `per` items or cannot be split
    /// ([`feed::FeedParts::split`]): parse it whole with [`feed::parse_feed`].
    pub fn new(text: &'t str, per: usize, base: Option<&Url>, tz: chrono_tz::Tz) -> Result<Option<Self>, ExtractError> {
        let Some(parts) = feed::FeedParts::split(text, per).filter(|p| p.len() > 1) else {
            return Ok(None);
        };
        // The prolog is in the header: it says UTF-8 now that the text is decoded.
        let header = charset::relabel_prolog_utf8(parts.header(text));
        let (mut shared, mut entries) = (SharedLinks::default(), 0);
        for i in 0..parts.len() {
            let part = feed::parse_feed_part(&header, parts.run(text, i), parts.footer(text), base, tz)?;
            entries += part.len();
            shared.count(&part);
        }
        let shared = shared.finish();
        Ok(Some(FeedBatches { text, header, parts, shared, entries, base: base.cloned(), tz }))
    }

    /// How many parts.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// How many entries in all, as the whole-document parse counts them.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// Part `i`'s documents, with the keys the whole-feed [`into_documents`] gives them.
    pub fn documents(&self, source_id: &str, i: usize) -> Result<Vec<Document>, ExtractError> {
        let (run, footer) = (self.parts.run(self.text, i), self.parts.footer(self.text));
        let entries = feed::parse_feed_part(&self.header, run, footer, self.base.as_ref(), self.tz)?;
        Ok(into_documents_sharing(source_id, entries, &self.shared))
    }
}

/// SHA-256 of title and text, hex, first 32 characters.
pub fn fingerprint(title: &str, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(title.as_bytes());
    h.update([0u8]);
    h.update(text.as_bytes());
    h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A link as an identity: fragment and `utm_*` tracking parameters dropped.
pub fn normalize_link(link: &str) -> Option<String> {
    let mut url = Url::parse(link.trim()).ok()?;
    url.set_fragment(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !k.starts_with("utm_"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else if url.query_pairs().count() != kept.len() {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(title: &str, link: Option<&str>, guid: Option<&str>) -> Entry {
        Entry {
            title: title.into(),
            text: "正文".into(),
            link: link.map(Into::into),
            guid: guid.map(Into::into),
            author: None,
            published_at: None,
        }
    }

    #[test]
    fn keys_prefer_guid_and_link_and_fall_back_to_fingerprint() {
        let docs = into_documents(
            "s",
            vec![entry("a", Some("https://x.cn/1?utm_source=rss#top"), Some("g1")), entry("b", None, None)],
        );
        assert_eq!(docs[0].keys, vec!["guid:s:g1".to_string(), "link:https://x.cn/1".to_string()]);
        assert_eq!(docs[1].keys, vec![format!("fp:{}", fingerprint("b", "正文"))]);
    }

    #[test]
    fn a_link_shared_by_every_item_is_not_an_identity() {
        let docs =
            into_documents("s", vec![entry("a", Some("https://x.cn/"), None), entry("b", Some("https://x.cn/"), None)]);
        assert!(docs[0].keys[0].starts_with("fp:"));
        assert_ne!(docs[0].keys, docs[1].keys);
    }

    #[test]
    fn link_normalisation_keeps_meaningful_query() {
        assert_eq!(normalize_link("https://X.cn/a?id=3&utm_medium=x").as_deref(), Some("https://x.cn/a?id=3"));
        assert_eq!(normalize_link("not a url"), None);
    }
}
