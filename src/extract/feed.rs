//! Feed text (RSS 0.9x/1.0/2.0, Atom, JSON Feed — detected by feed-rs) → [`Entry`]s with
//! normalised title and text. Dates that feed-rs cannot read (Chinese sites write
//! `2026-11-20 10:00:00` or `2026年11月20日`) are read in the configured timezone.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use regex::Regex;
use url::Url;

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

fn entry(e: feed_rs::model::Entry, base: Option<&Url>) -> Entry {
    let title = e.title.map(|t| html_to_text(&t.content)).unwrap_or_default();
    let body = e.content.and_then(|c| c.body).filter(|b| !b.trim().is_empty());
    let summary = e.summary.map(|s| s.content).filter(|s| !s.trim().is_empty());
    let text = body.or(summary).map(|t| html_to_text(&t)).unwrap_or_default();
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

static LOCAL_DATE: LazyLock<Regex> = LazyLock::new(|| {
    // Patterns are literals checked by the unit tests below; construction cannot fail.
    #[allow(clippy::unwrap_used)]
    Regex::new(
        r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[\sT]+(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2}))?\s*[分秒]?(?:\.\d+)?)?$",
    )
    .unwrap()
});

/// Reads RFC 2822 / RFC 3339 timestamps and the local formats Chinese sites use.
/// Times without an offset are in `tz`.
pub fn parse_timestamp(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    // RFC 2822 with a wrong weekday name ("Mon, 20 Nov ..." on a Friday) is common.
    if let Some((_, rest)) = s.split_once(", ")
        && let Ok(t) = DateTime::parse_from_rfc2822(rest)
    {
        return Some(t.with_timezone(&Utc));
    }
    local_timestamp(s, tz)
}

fn local_timestamp(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let caps = LOCAL_DATE.captures(s)?;
    let num = |i: usize| caps.get(i).map_or(Some(0), |m| m.as_str().parse::<u32>().ok());
    let year = i32::try_from(num(1)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, num(2)?, num(3)?)?;
    let naive: NaiveDateTime = date.and_hms_opt(num(4)?, num(5)?, num(6)?)?;
    tz.from_local_datetime(&naive).earliest().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: Tz = chrono_tz::Asia::Shanghai;

    fn utc(s: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
    }

    #[test]
    fn timestamps_in_the_wild() {
        let cases = [
            ("Fri, 20 Nov 2026 10:00:00 +0800", "2026-11-20T02:00:00Z"),
            ("Mon, 20 Nov 2026 10:00:00 GMT", "2026-11-20T10:00:00Z"),
            ("2026-11-20T10:00:00+08:00", "2026-11-20T02:00:00Z"),
            ("2026-11-20 10:00:00", "2026-11-20T02:00:00Z"),
            ("2026-11-20 10:00", "2026-11-20T02:00:00Z"),
            ("2026/11/20 10:00:05", "2026-11-20T02:00:05Z"),
            ("2026年11月20日", "2026-11-19T16:00:00Z"),
            ("2026年11月20日 10时30分", "2026-11-20T02:30:00Z"),
            ("2026-11-20", "2026-11-19T16:00:00Z"),
        ];
        for (input, want) in cases {
            assert_eq!(parse_timestamp(input, TZ), utc(want), "{input}");
        }
        assert_eq!(parse_timestamp("昨天", TZ), None);
        assert_eq!(parse_timestamp("2026-13-40", TZ), None);
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
    fn malformed_feed_is_an_error() {
        assert!(parse_feed("<rss><channel><item><title>x", None, TZ).is_err());
        assert!(parse_feed("not a feed at all", None, TZ).is_err());
    }
}
