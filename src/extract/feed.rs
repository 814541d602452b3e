//! Feed text (RSS 0.9x/1.0/2.0, Atom, JSON Feed — detected by feed-rs) → [`Entry`]s with
//! normalised title and text. Dates that feed-rs cannot read (Chinese sites write
//! `2026-11-20 10:00:00` or `2026年11月20日`) are read in the configured timezone.

use std::sync::LazyLock;

use chrono_tz::Tz;
use regex::Regex;
use url::Url;

use super::date::parse_timestamp;
use super::normalize::{html_to_text, normalize_text};
use super::{Entry, ExtractError};

/// Parses a decoded feed. `base` resolves relative links (the URL it was fetched from).
pub fn parse_feed(text: &str, base: Option<&Url>, tz: Tz) -> Result<Vec<Entry>, ExtractError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(base.map(Url::as_str))
        // An entry without guid must not get a synthetic id: dedup falls back to link and
        // content fingerprint instead (feed-rs would hand out a new random id every parse).
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .timestamp_parser(move |s| parse_timestamp(s, tz))
        .build();
    let feed = parser.parse(text.as_bytes()).map_err(|e| ExtractError::Feed { message: e.to_string() })?;
    Ok(feed.entries.into_iter().map(|e| entry(e, base)).collect())
}

/// Markup left in text after one pass: the content was escaped twice (wewe-rss and some
/// CMS feeds put `&lt;p&gt;` inside CDATA).
static LEFTOVER_MARKUP: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern, exercised by the tests below
    Regex::new(r"(?i)</?(p|br|div|span|img|a|section|strong|em|b|h[1-6]|li|ul|table|tr|td)\b[^>]*>").unwrap()
});

/// HTML → text, a second time when the first pass leaves markup (double escaping).
fn content_text(html: &str) -> String {
    let once = html_to_text(html);
    if LEFTOVER_MARKUP.is_match(&once) { html_to_text(&once) } else { once }
}

fn entry(e: feed_rs::model::Entry, base: Option<&Url>) -> Entry {
    let title = e.title.map(|t| content_text(&t.content)).unwrap_or_default();
    let body = e.content.and_then(|c| c.body).filter(|b| !b.trim().is_empty());
    let summary = e.summary.map(|s| s.content).filter(|s| !s.trim().is_empty());
    let text = body.or(summary).map(|t| content_text(&t)).unwrap_or_default();
    let link = e
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or(e.links.first())
        .and_then(|l| resolve_link(&l.href, base));
    let guid = Some(e.id.trim().to_string()).filter(|id| !id.is_empty());
    let author = e.authors.first().and_then(|p| p.name.as_deref()).map(normalize_text).filter(|a| !a.is_empty());
    Entry { title, text, link, guid, author, published_at: e.published.or(e.updated) }
}

fn resolve_link(href: &str, base: Option<&Url>) -> Option<String> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    match Url::parse(href) {
        Ok(u) => Some(u.to_string()),
        Err(_) => base.and_then(|b| b.join(href).ok()).map(|u| u.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    const TZ: Tz = chrono_tz::Asia::Shanghai;

    fn utc(s: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
    }

    #[test]
    fn rss_items_become_entries() {
        let rss = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>t</title><link>https://example.gov.cn/</link>
<item><title>关于&amp;抚恤金</title><link>/news/1.html</link><guid>n-1</guid>
<description><![CDATA[<p>抚恤金&nbsp;发放</p>]]></description><pubDate>2026-11-20 10:00:00</pubDate></item>
<item><title>无链接</title><description>正文</description></item>
</channel></rss>"#;
        let base = Url::parse("https://example.gov.cn/rss.xml").ok();
        let entries = parse_feed(rss, base.as_ref(), TZ).expect("parses");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].title, "关于&抚恤金");
        assert_eq!(entries[0].text, "抚恤金 发放");
        assert_eq!(entries[0].link.as_deref(), Some("https://example.gov.cn/news/1.html"));
        assert_eq!(entries[0].guid.as_deref(), Some("n-1"));
        assert_eq!(entries[0].published_at, utc("2026-11-20T02:00:00Z"));
        assert_eq!(entries[1].guid, None);
        assert_eq!(entries[1].link, None);
    }

    #[test]
    fn double_escaped_cdata_is_unescaped_twice() {
        let rss = r#"<rss version="2.0"><channel><title>t</title>
<item><title>公众号文章</title><guid>w1</guid><description><![CDATA[&lt;p&gt;抚恤金&amp;nbsp;发放&lt;/p&gt;&lt;br/&gt;已完成]]></description></item>
</channel></rss>"#;
        let entries = parse_feed(rss, None, TZ).expect("parses");
        assert_eq!(entries[0].text, "抚恤金 发放 已完成");
        // A literal "<" in ordinary text is not markup.
        let rss = rss.replace("&lt;p&gt;抚恤金&amp;nbsp;发放&lt;/p&gt;&lt;br/&gt;已完成", "a &lt; b");
        assert_eq!(parse_feed(&rss, None, TZ).expect("parses")[0].text, "a < b");
    }

    #[test]
    fn malformed_feed_is_an_error() {
        assert!(parse_feed("<rss><channel><item><title>x", None, TZ).is_err());
        assert!(parse_feed("not a feed at all", None, TZ).is_err());
    }
}
