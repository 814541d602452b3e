//! Feed text (RSS 0.9x/1.0/2.0, Atom, JSON Feed — detected by feed-rs) → [`Entry`]s with
//! normalised title and text. Dates that feed-rs cannot read (Chinese sites write
//! `2026-11-20 10:00:00` or `2026年11月20日`) are read in the configured timezone.
//!
//! A big feed is read in parts ([`FeedParts`]): quick-xml finds where its items start and
//! end, and feed-rs parses the channel header, a run of items and the closing tags as a
//! small feed of its own, so only one run of parsed entries is alive at a time.

use std::sync::LazyLock;

use chrono_tz::Tz;
use regex::Regex;
use url::Url;

use super::date::parse_timestamp;
use super::normalize::{html_to_text, normalize_text};
use super::{Entry, ExtractError};

/// Parses a decoded feed. `base` resolves relative links (the URL it was fetched from).
pub fn parse_feed(text: &str, base: Option<&Url>, tz: Tz) -> Result<Vec<Entry>, ExtractError> {
    parse_from(text.as_bytes(), base, tz)
}

/// Parses one part of a split feed: its header, a run of its items, its footer
/// ([`FeedParts`]), read in sequence without joining them into one string.
pub fn parse_feed_part(
    header: &str,
    items: &str,
    footer: &str,
    base: Option<&Url>,
    tz: Tz,
) -> Result<Vec<Entry>, ExtractError> {
    use std::io::Read;
    parse_from(header.as_bytes().chain(items.as_bytes()).chain(footer.as_bytes()), base, tz)
}

fn parse_from(source: impl std::io::Read, base: Option<&Url>, tz: Tz) -> Result<Vec<Entry>, ExtractError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(base.map(Url::as_str))
        // An entry without guid must not get a synthetic id: dedup falls back to link and
        // content fingerprint instead (feed-rs would hand out a new random id every parse).
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .timestamp_parser(move |s| parse_timestamp(s, tz))
        .build();
    let feed = parser.parse(source).map_err(|e| ExtractError::Feed { message: e.to_string() })?;
    Ok(feed.entries.into_iter().map(|e| entry(e, base)).collect())
}

/// Where a feed's items lie in its text, grouped in runs of at most `per` items: the
/// header (everything before the first item: prolog, DTD, root and channel elements),
/// the runs, and the footer (everything after the last item). Header + one run + footer
/// is a well-formed feed of the same kind, whose entries are that run's entries of the
/// whole feed, in order.
///
/// The items are the children of the element feed-rs takes them from: `<channel>` under
/// `<rss>` (0.9x, 2.0), the root of RSS 1.0 (`<rdf:RDF>`) and of Atom (`<feed>`); every
/// child from the first `<item>`/`<entry>` on belongs to a run, so runs are contiguous
/// slices. `None` when the text is not well-formed XML, is none of these kinds, has no
/// items, or names an item anywhere else (outside the items' parent): such a feed is
/// parsed whole, with the error it always gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedParts {
    header_end: usize,
    runs: Vec<(usize, usize)>,
    footer_start: usize,
    items: usize,
}

impl FeedParts {
    pub fn split(text: &str, per: usize) -> Option<FeedParts> {
        use quick_xml::events::Event;
        let per = per.max(1);
        let mut reader = quick_xml::Reader::from_str(text);
        // The default checks that every end tag matches its start tag.
        reader.config_mut().check_end_names = true;
        // Depth at which the items are, and the parent element feed-rs reads them from.
        let mut item_depth = None::<usize>;
        let mut item_name = "item";
        let mut depth = 0usize;
        let mut in_parent = false;
        let mut parent_seen = false;
        let mut header_end = None::<usize>;
        let mut units: Vec<(usize, usize, bool)> = Vec::new();
        let mut unit_start = None::<usize>;
        let mut unit_item = false;
        loop {
            let before = usize::try_from(reader.buffer_position()).ok()?;
            let event = reader.read_event().ok()?;
            let after = usize::try_from(reader.buffer_position()).ok()?;
            match event {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let empty = matches!(event, Event::Empty(_));
                    let name = e.local_name();
                    let name = name.as_ref();
                    if depth == 0 {
                        // The root: which kind of feed, where its items are.
                        if item_depth.is_some() {
                            return None; // a second root
                        }
                        (item_depth, item_name, in_parent) = match name {
                            "rss" => (Some(2), "item", false),
                            "RDF" => (Some(1), "item", true),
                            "feed" => (Some(1), "entry", true),
                            _ => return None,
                        };
                        parent_seen = in_parent;
                    } else if depth == 1 && item_depth == Some(2) && name == "channel" && !parent_seen {
                        in_parent = !empty;
                        parent_seen = true;
                    } else if in_parent && Some(depth) == item_depth {
                        let is_item = name == item_name;
                        if header_end.is_none() && is_item {
                            header_end = Some(before);
                        }
                        if header_end.is_some() {
                            if empty {
                                units.push((before, after, is_item));
                            } else {
                                unit_start = Some(before);
                                unit_item = is_item;
                            }
                        }
                    } else if name == item_name && unit_start.is_none() {
                        return None; // an item feed-rs would read elsewhere, or not at all
                    }
                    if !empty {
                        depth += 1;
                    }
                }
                Event::End(ref e) => {
                    depth = depth.checked_sub(1)?;
                    if Some(depth) == item_depth
                        && let Some(start) = unit_start.take()
                    {
                        units.push((start, after, unit_item));
                    } else if depth == 1 && item_depth == Some(2) && in_parent && e.local_name().as_ref() == "channel" {
                        in_parent = false;
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if depth != 0 || item_depth.is_none() || units.is_empty() {
            return None;
        }
        let header_end = header_end?;
        let footer_start = units.last()?.1;
        // Runs of `per` items; other children go with the items before them.
        let (mut runs, mut items) = (Vec::<(usize, usize)>::new(), 0usize);
        for (start, end, is_item) in units {
            match runs.last_mut() {
                Some(run) if !is_item || items % per != 0 => run.1 = end,
                _ => runs.push((start, end)),
            }
            items += usize::from(is_item);
        }
        Some(FeedParts { header_end, runs, footer_start, items })
    }

    /// How many runs of items.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// How many items in all.
    pub fn items(&self) -> usize {
        self.items
    }

    /// The text before the first item.
    pub fn header<'t>(&self, text: &'t str) -> &'t str {
        text.get(..self.header_end).unwrap_or_default()
    }

    /// The text after the last item.
    pub fn footer<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.footer_start..).unwrap_or_default()
    }

    /// Run `i` of items (empty past the last).
    pub fn run<'t>(&self, text: &'t str, i: usize) -> &'t str {
        self.runs.get(i).and_then(|&(start, end)| text.get(start..end)).unwrap_or_default()
    }
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
