//! A big feed read in parts (`extract::FeedBatches`: quick-xml finds the items, feed-rs
//! parses header + a run of items + footer) yields exactly the documents of the
//! whole-document parse — same ids, links, dates, texts and dedup keys, in order — on
//! RSS 2.0, Atom, RSS 1.0, with CDATA, namespaces, entities and a GBK-declared feed; a feed
//! that cannot be split is parsed whole, with the error it always gave.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use url::Url;
use yuqing::extract::{self, FeedBatches, charset, feed};
use yuqing::model::Document;

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

fn base() -> Option<Url> {
    Url::parse("https://example.gov.cn/feeds/rss.xml").ok()
}

/// The whole-document path, as the pipeline takes it for a small feed.
fn whole(text: &str) -> Result<Vec<Document>, extract::ExtractError> {
    let text = charset::relabel_prolog_utf8(text);
    Ok(extract::into_documents("s", feed::parse_feed(&text, base().as_ref(), TZ)?))
}

/// The parts path with `per` items a part; `None` when the feed is not split.
fn in_parts(text: &str, per: usize) -> Result<Option<Vec<Document>>, extract::ExtractError> {
    let Some(batches) = FeedBatches::new(text, per, base().as_ref(), TZ)? else { return Ok(None) };
    let mut out = Vec::new();
    for i in 0..batches.len() {
        let part = batches.documents("s", i)?;
        assert!(part.len() <= per, "part {i} has {} documents", part.len());
        out.extend(part);
    }
    assert_eq!(batches.entries(), out.len());
    Ok(Some(out))
}

fn same_in_parts(text: &str, expect: usize) {
    let whole = whole(text).expect("whole parse");
    assert_eq!(whole.len(), expect, "fixture");
    for per in [1, 2, 3, expect - 1].into_iter().filter(|&per| per < expect) {
        let parts = in_parts(text, per).expect("parts parse").unwrap_or_else(|| panic!("split with {per} a part"));
        assert_eq!(parts, whole, "{per} items a part");
    }
    // One part only: not worth splitting, parsed whole.
    assert!(in_parts(text, expect).expect("parts").is_none());
}

const RSS2: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE rss [<!ENTITY bureau "退役军人事务局">]>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:atom="http://www.w3.org/2005/Atom">
<channel><title>临江 &amp; 市</title><link>https://example.gov.cn/</link>
<atom:link href="https://example.gov.cn/feeds/rss.xml" rel="self"/>
<item><title>关于&amp;抚恤金 &#x53D1;&#25918;</title><link>/news/1.html?utm_source=rss#top</link><guid isPermaLink="false">n-1</guid>
<description><![CDATA[<p>抚恤金&nbsp;发放 <item>不是条目</item></p>]]></description><pubDate>2026-11-20 10:00:00</pubDate>
<dc:creator>市&bureau;</dc:creator></item>
<!-- <item><title>注释里的条目</title></item> -->
<item><title>无 guid 共享首页链接</title><link>https://example.gov.cn/</link>
<content:encoded><![CDATA[<div>正文一</div>]]></content:encoded><pubDate>Fri, 20 Nov 2026 03:00:00 +0800</pubDate></item>
<item><title>第三条</title><link>https://example.gov.cn/news/3.html</link><guid>n-3</guid><description>&lt;b&gt;加粗&lt;/b&gt; 正文</description><pubDate>2026年11月21日</pubDate></item>
<item><title>无链接也无 guid</title><description>只有正文</description></item>
<item><title>又一篇指向首页</title><link>https://example.gov.cn/</link><description>正文二</description></item>
<item/>
<item><title>最后一篇</title><link>https://example.gov.cn/news/7.html</link><guid>n-7</guid></item>
<ttl>60</ttl>
</channel>
</rss>
"#;

const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://news.example.com/base/" xmlns:x="urn:x">
<title>临江日报</title><id>urn:linjiang</id><updated>2026-11-26T08:00:00Z</updated>
<author><name>日报社</name></author>
<entry><title type="html">&lt;b&gt;优抚&lt;/b&gt;政策</title><id>urn:a1</id><link href="a1.html"/><updated>2026-11-26T08:00:00Z</updated>
<summary type="html">&lt;p&gt;面向&lt;b&gt;优抚对象&lt;/b&gt;&lt;/p&gt;</summary><x:entry>扩展元素</x:entry></entry>
<entry xml:base="https://other.example.com/"><title>相对于条目的 base</title><id>urn:a2</id><link rel="alternate" href="a2"/><link rel="related" href="r"/>
<published>2026-11-26T09:00:00+08:00</published><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>xhtml 正文</p></div></content></entry>
<entry><title>第三篇</title><id>urn:a3</id><link href="https://news.example.com/a3"/><updated>2026-11-27T09:00:00Z</updated>
<author><name>记者 甲</name></author><content><![CDATA[<p>CDATA 正文</p>]]></content></entry>
<entry><title>第四篇</title><id>urn:a4</id><updated>2026-11-28T09:00:00Z</updated></entry>
</feed>"#;

const RSS1: &str = r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://example.gov.cn/"><title>RDF 频道</title><link>https://example.gov.cn/</link>
<items><rdf:Seq><rdf:li resource="https://example.gov.cn/1"/><rdf:li resource="https://example.gov.cn/2"/></rdf:Seq></items></channel>
<image rdf:about="https://example.gov.cn/logo.png"><url>https://example.gov.cn/logo.png</url></image>
<item rdf:about="https://example.gov.cn/1"><title>一</title><link>https://example.gov.cn/1</link><dc:date>2026-11-20T10:00:00+08:00</dc:date><description>烈士陵园</description></item>
<item rdf:about="https://example.gov.cn/2"><title>二</title><link>https://example.gov.cn/2</link><dc:creator>张三</dc:creator></item>
<item rdf:about="https://example.gov.cn/3"><title>三</title><link>https://example.gov.cn/3</link><description><![CDATA[<i>三</i>]]></description></item>
</rdf:RDF>"#;

#[test]
fn rss2_in_parts_is_the_whole_parse() {
    same_in_parts(RSS2, 7);
    // What the fixture exercises, so that "the same" is not "the same and empty".
    let docs = whole(RSS2).unwrap();
    assert_eq!(docs[0].title, "关于&抚恤金 发放");
    assert!(docs[0].author.as_deref().is_some_and(|a| a.starts_with('市')), "{:?}", docs[0].author);
    assert_eq!(docs[0].link.as_deref(), Some("https://example.gov.cn/news/1.html?utm_source=rss#top"));
    assert!(docs[0].text.contains("不是条目"));
    // The home page is named by two items in different parts: not an identity in either.
    assert!(docs[1].keys[0].starts_with("fp:") && docs[4].keys[0].starts_with("fp:"), "{:?}", docs[1].keys);
    assert!(docs[0].published_at.is_some() && docs[1].published_at.is_some() && docs[2].published_at.is_some());
}

#[test]
fn atom_in_parts_is_the_whole_parse() {
    same_in_parts(ATOM, 4);
    let docs = whole(ATOM).unwrap();
    assert_eq!(docs[0].link.as_deref(), Some("https://news.example.com/base/a1.html"));
    assert_eq!(docs[1].link.as_deref(), Some("https://other.example.com/a2"));
}

#[test]
fn rss1_in_parts_is_the_whole_parse() {
    same_in_parts(RSS1, 3);
}

#[test]
fn gbk_declared_feed_in_parts_is_the_whole_parse() {
    let text = RSS2.replace("encoding=\"UTF-8\"", "encoding=\"gb2312\"");
    let bytes = encoding_rs::GBK.encode(&text).0.into_owned();
    let decoded = charset::decode(&bytes, None, None);
    assert_eq!(decoded.encoding, encoding_rs::GB18030);
    same_in_parts(&decoded.text, 7);
    assert_eq!(whole(&decoded.text).unwrap(), whole(RSS2).unwrap());
}

#[test]
fn a_big_generated_feed_in_parts_is_the_whole_parse() {
    let mut text = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>\n");
    for i in 0..2500u32 {
        // Every tenth item points at the home page; guids only on odd items.
        let link = if i.is_multiple_of(10) { "https://example.gov.cn/".to_string() } else { format!("/n/{i}.html") };
        let guid = if i % 2 == 1 { format!("<guid>g{i}</guid>") } else { String::new() };
        text.push_str(&format!(
            "<item><title>第{i}条</title><link>{link}</link>{guid}<description>&lt;p&gt;正文 {i}&lt;/p&gt;</description><pubDate>2026-11-20 10:{:02}:00</pubDate></item>\n",
            i % 60
        ));
    }
    text.push_str("</channel></rss>");
    let whole = whole(&text).unwrap();
    assert_eq!(in_parts(&text, 1000).unwrap().expect("split"), whole);
    assert_eq!(in_parts(&text, 7).unwrap().expect("split"), whole);
}

#[test]
fn a_malformed_feed_is_not_split_and_gives_the_whole_parse_error() {
    let broken = [
        "<rss><channel><item><title>x",
        // Well-formed up to the last part: a mismatched end tag late in the feed.
        &RSS2.replace("<title>最后一篇</title>", "<title>最后一篇</titel>"),
        &RSS2.replace("</channel>", ""),
        "not a feed at all",
        r#"{"version":"https://jsonfeed.org/version/1.1","items":[]}"#,
    ];
    for text in broken {
        assert!(in_parts(text, 1).unwrap().is_none(), "split: {text}");
        let error = whole(text).expect_err(text).to_string();
        assert!(error.starts_with("不是可读的 RSS、Atom 或 JSON Feed"), "{error}");
    }
}

#[test]
fn items_outside_the_items_parent_keep_the_feed_whole() {
    // A second channel (feed-rs reads only the first), an item directly under <rss>, an
    // Atom document whose root is one entry: not split, so nothing is counted twice.
    let two_channels = RSS2.replace("</rss>", "<channel><item><title>二</title></item></channel></rss>");
    let under_root = RSS2.replace("</rss>", "<item><title>根下</title></item></rss>");
    let entry = r#"<entry xmlns="http://www.w3.org/2005/Atom"><title>单篇</title><id>e</id></entry>"#;
    for text in [two_channels.as_str(), under_root.as_str(), entry] {
        assert!(feed::FeedParts::split(text, 1).is_none(), "{text}");
    }
    assert_eq!(whole(&two_channels).unwrap(), whole(RSS2).unwrap());
}
