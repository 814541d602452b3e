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
