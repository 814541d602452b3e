//! HTML pages → entries: list pages by CSS selectors (including lists shipped inside a
//! Hanweb/大汉 `<script>` datastore), and article pages by a content selector, the
//! government meta tags (`ArticleTitle`, `PubDate`, `ContentSource`) or a main-text
//! heuristic. Pure: the caller fetches and decodes; `now` is passed in for relative dates.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use regex::Regex;
use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::Entry;
use super::date::parse_list_date;
use super::normalize::{html_to_text, normalize_text};

/// What to take from an element: its text, or an attribute (`a@href`). An empty selector
/// (`@title`) means the item element itself.
#[derive(Debug, Clone)]
pub struct Field {
    pub spec: String,
    selector: Option<Selector>,
    attr: Option<String>,
}

impl Field {
    /// Parses `selector`, `selector@attribute` or `@attribute`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (selector, attr) = match spec.rsplit_once('@') {
            Some((sel, attr)) if !attr.is_empty() && !attr.contains([' ', ']', '"', '\'']) => {
                (sel.trim(), Some(attr.trim()))
            }
            _ => (spec.trim(), None),
        };
        let selector = if selector.is_empty() { None } else { Some(parse_selector(selector)?) };
        Ok(Self { spec: spec.to_string(), selector, attr: attr.map(str::to_string) })
    }

    /// The field's value inside `item`, normalised; `None` when it is absent or empty.
    fn value(&self, item: ElementRef<'_>) -> Option<String> {
        let element = match &self.selector {
            Some(sel) => item.select(sel).next()?,
            None => item,
        };
        let value = match &self.attr {
            Some(attr) => normalize_text(element.value().attr(attr)?),
            None => normalize_text(&element.text().collect::<String>()),
        };
        (!value.is_empty()).then_some(value)
    }
}

/// A CSS selector, with the parse error as text.
pub fn parse_selector(css: &str) -> Result<Selector, String> {
    Selector::parse(css).map_err(|e| e.to_string())
}

/// How to read one list page.
#[derive(Debug, Clone)]
pub struct ListSpec {
    /// One entry of the list.
    pub item: Selector,
    pub item_css: String,
    pub title: Field,
    pub link: Field,
    pub date: Option<Field>,
    pub summary: Option<Field>,
    /// The list sits in `<record><![CDATA[...]]></record>` blocks of a script datastore.
    pub datastore: bool,
}

static DATASTORE_RECORD: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern, exercised by the tests below
    Regex::new(r"(?s)<record>\s*<!\[CDATA\[(.*?)\]\]>\s*</record>").unwrap()
});

/// The entries of a list page. `base` resolves relative links (the page's final URL).
pub fn parse_list(html: &str, base: Option<&Url>, spec: &ListSpec, tz: Tz, now: DateTime<Utc>) -> Vec<Entry> {
    let document = if spec.datastore {
        let records: String = DATASTORE_RECORD.captures_iter(html).map(|c| c[1].to_string()).collect();
        Html::parse_fragment(&records)
    } else {
        Html::parse_document(html)
    };
    document
        .select(&spec.item)
        .filter_map(|item| {
            let title = spec.title.value(item).unwrap_or_default();
            let link = spec.link.value(item).and_then(|href| resolve(&href, base));
            if title.is_empty() && link.is_none() {
                return None;
            }
            let published_at =
                spec.date.as_ref().and_then(|f| f.value(item)).and_then(|d| parse_list_date(&d, tz, now));
            let text = spec.summary.as_ref().and_then(|f| f.value(item)).unwrap_or_default();
            Some(Entry { title, text, link, guid: None, author: None, published_at })
        })
        .collect()
}

/// The "next page" link of a list page (`next` field applied to the whole document).
pub fn next_page(html: &str, base: Option<&Url>, next: &Field) -> Option<String> {
    let document = Html::parse_document(html);
    next.value(document.root_element()).and_then(|href| resolve(&href, base))
}

fn resolve(href: &str, base: Option<&Url>) -> Option<String> {
    let href = href.trim();
    if href.is_empty() || href.starts_with("javascript:") || href == "#" {
        return None;
    }
    match Url::parse(href) {
        Ok(u) => Some(u.to_string()),
        Err(_) => base.and_then(|b| b.join(href).ok()).map(|u| u.to_string()),
    }
}

/// What an article page says about itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Article {
    /// From `<meta name="ArticleTitle">`.
    pub title: Option<String>,
    pub text: String,
    /// From `<meta name="PubDate">`.
    pub published_at: Option<DateTime<Utc>>,
    /// From `<meta name="ContentSource">` (the publishing unit).
    pub source: Option<String>,
    /// The page says the content is gone (`deleted`, `violation`, `unavailable`).
    pub state: Option<&'static str>,
}

static META_SELECTOR: LazyLock<Selector> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal selector
    Selector::parse("meta[name][content]").unwrap()
});
static BLOCKS: LazyLock<Selector> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal selector
    Selector::parse("article, section, div, td").unwrap()
});
static BODY: LazyLock<Selector> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal selector
    Selector::parse("body").unwrap()
});

/// Reads an article page: the `content` selector's text when given and present, else the
/// block with the most paragraph text, else the whole body.
pub fn parse_article(html: &str, content: Option<&Selector>, tz: Tz, now: DateTime<Utc>) -> Article {
    let document = Html::parse_document(html);
    let meta = |name: &str| {
        document
            .select(&META_SELECTOR)
            .find(|m| m.value().attr("name").is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .and_then(|m| m.value().attr("content"))
            .map(normalize_text)
            .filter(|v| !v.is_empty())
    };
    let text = content
        .and_then(|sel| document.select(sel).next())
        .or_else(|| main_block(&document))
        .or_else(|| document.select(&BODY).next())
        .map(|el| html_to_text(&el.inner_html()))
        .unwrap_or_default();
    Article {
        state: page_state(&document),
        title: meta("ArticleTitle"),
        text,
        published_at: meta("PubDate").and_then(|d| parse_list_date(&d, tz, now)),
        source: meta("ContentSource"),
    }
}

static NOTICE_TITLES: LazyLock<Selector> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal selector
    Selector::parse("title, .weui-msg__title").unwrap()
});

/// WeChat (and similar) pages that stand in for removed content: the platform's own words
/// in the page title or its message box, not anywhere in the page (scripts mention 违规 too).
fn page_state(document: &Html) -> Option<&'static str> {
    document.select(&NOTICE_TITLES).find_map(|el| {
        let text = normalize_text(&el.text().collect::<String>());
        let lower = text.to_lowercase();
        if text.contains("已被发布者删除") || text.contains("作者已删除") || lower.contains("deleted by the author")
        {
            Some("deleted")
        } else if text.contains("违规无法查看") || text.contains("内容违规") || lower.contains("violat") {
            Some("violation")
        } else if text.contains("无法查看")
            || lower.contains("temporarily unavailable")
            || lower.contains("cannot be viewed")
        {
            Some("unavailable")
        } else {
            None
        }
    })
}

/// The block whose direct `<p>` children hold the most text (a small readability rule).
fn main_block(document: &Html) -> Option<ElementRef<'_>> {
    document
        .select(&BLOCKS)
        .map(|block| {
            let paragraph_text: usize = block
                .children()
                .filter_map(ElementRef::wrap)
                .filter(|child| child.value().name() == "p")
                .map(|p| p.text().map(str::len).sum::<usize>())
                .sum();
            (paragraph_text, block)
        })
        .filter(|(len, _)| *len > 0)
        .max_by_key(|(len, _)| *len)
        .map(|(_, block)| block)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: Tz = chrono_tz::Asia::Shanghai;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T10:00:00+08:00").map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    fn spec(item: &str, title: &str, link: &str, date: Option<&str>) -> ListSpec {
        ListSpec {
            item: parse_selector(item).expect("item"),
            item_css: item.into(),
            title: Field::parse(title).expect("title"),
            link: Field::parse(link).expect("link"),
            date: date.map(|d| Field::parse(d).expect("date")),
            summary: None,
            datastore: false,
        }
    }

    #[test]
    fn field_syntax() {
        let f = Field::parse("a@href").expect("parses");
        assert!(f.selector.is_some() && f.attr.as_deref() == Some("href"));
        let f = Field::parse("@title").expect("parses");
        assert!(f.selector.is_none() && f.attr.as_deref() == Some("title"));
        let f = Field::parse("a[href$='.html']").expect("parses");
        assert!(f.attr.is_none());
        assert!(Field::parse("a[").is_err());
    }

    #[test]
    fn a_trs_style_list_page() {
        let html = r#"<html><body><div class="list"><ul>
            <li><a href="./202611/t20261120_1.html" title="关于做好2026年度退役士兵安置工作的通知">关于做好2026年度退役士兵安置…</a><span>2026-11-20</span></li>
            <li><a href="/art/2026/11/19/art_2.html" title="烈士纪念设施保护管理办法解读">烈士纪念设施保护管理办法解读</a><span>11-19</span></li>
            <li class="more"><a href="javascript:void(0)"></a></li>
        </ul></div></body></html>"#;
        let base = Url::parse("https://www.example.gov.cn/tzgg/index.html").ok();
        let entries =
            parse_list(html, base.as_ref(), &spec("div.list li", "a@title", "a@href", Some("span")), TZ, now());
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].title, "关于做好2026年度退役士兵安置工作的通知");
        assert_eq!(entries[0].link.as_deref(), Some("https://www.example.gov.cn/tzgg/202611/t20261120_1.html"));
        assert_eq!(entries[1].link.as_deref(), Some("https://www.example.gov.cn/art/2026/11/19/art_2.html"));
        assert_eq!(
            entries[1].published_at,
            DateTime::parse_from_rfc3339("2026-11-19T00:00:00+08:00").ok().map(|t| t.with_timezone(&Utc))
        );
    }

    #[test]
    fn next_page_links() {
        let base = Url::parse("https://www.example.gov.cn/tzgg/index.html").ok();
        let html = r#"<div class="page"><a href="index_1.html" class="next">下一页</a></div>"#;
        let next = Field::parse("a.next@href").expect("field");
        assert_eq!(
            next_page(html, base.as_ref(), &next).as_deref(),
            Some("https://www.example.gov.cn/tzgg/index_1.html")
        );
        assert_eq!(next_page("<p>last page</p>", base.as_ref(), &next), None);
    }

    #[test]
    fn a_hanweb_datastore_list() {
        let html = r#"<html><body><div id="1234"><script type="text/xml"><datastore><nextgroup><![CDATA[<a href="/module/jpage/dataproxy.jsp?page=1"></a>]]></nextgroup><recordset>
<record><![CDATA[<li><a href="/art/2026/11/25/art_1.html" target="_blank">市退役军人事务局开展走访慰问</a><span>2026-11-25</span></li>]]></record>
<record><![CDATA[<li><a href="/art/2026/11/24/art_2.html" target="_blank">抚恤金发放公告</a><span>2026-11-24</span></li>]]></record>
</recordset></datastore></script></div></body></html>"#;
        let base = Url::parse("http://tyjrswj.example.gov.cn/col/col1/index.html").ok();
        let mut s = spec("li", "a", "a@href", Some("span"));
        s.datastore = true;
        let entries = parse_list(html, base.as_ref(), &s, TZ, now());
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].title, "抚恤金发放公告");
        assert_eq!(entries[1].link.as_deref(), Some("http://tyjrswj.example.gov.cn/art/2026/11/24/art_2.html"));
    }

    #[test]
    fn removed_wechat_articles_are_recognised() {
        let deleted = r#"<html><head><title></title></head><body><div class="weui-msg"><div class="weui-msg__text-area"><div class="weui-msg__title warn">该内容已被发布者删除</div></div></div></body></html>"#;
        let violation = r#"<html><body><h2 class='weui-msg__title title'>此内容因违规无法查看</h2></body></html>"#;
        let unavailable = r#"<html><head><title>该内容暂时无法查看</title></head><body></body></html>"#;
        let normal = r#"<html><head><title>关于抚恤金的说明</title></head><body><div id="js_content"><p>正文</p></div><script>var m = "商品因违规已下架";</script></body></html>"#;
        let state = |html: &str| parse_article(html, None, TZ, now()).state;
        assert_eq!(state(deleted), Some("deleted"));
        assert_eq!(
            state(&deleted.replace("该内容已被发布者删除", "The content has been deleted by the author.")),
            Some("deleted")
        );
        assert_eq!(state(violation), Some("violation"));
        assert_eq!(state(unavailable), Some("unavailable"));
        assert_eq!(state(normal), None);
    }

    #[test]
    fn article_meta_tags_content_selector_and_heuristic() {
        let html = r#"<html><head><meta name="ArticleTitle" content="关于发放优抚对象抚恤金的公告"><meta name="PubDate" content="2026-11-20 09:30"><meta name="ContentSource" content="市退役军人事务局"></head>
<body><div class="nav"><a href="/">首页</a> &gt; 通知公告</div>
<div class="TRS_Editor"><p>各区县：</p><p>第四季度抚恤金将于11月30日前发放到位。</p></div>
<div class="footer"><p>版权所有</p></div></body></html>"#;
        let by_selector = parse_article(html, Some(&parse_selector("div.TRS_Editor").expect("sel")), TZ, now());
        assert_eq!(by_selector.text, "各区县： 第四季度抚恤金将于11月30日前发放到位。");
        assert_eq!(by_selector.title.as_deref(), Some("关于发放优抚对象抚恤金的公告"));
        assert_eq!(by_selector.source.as_deref(), Some("市退役军人事务局"));
        assert_eq!(
            by_selector.published_at,
            DateTime::parse_from_rfc3339("2026-11-20T09:30:00+08:00").ok().map(|t| t.with_timezone(&Utc))
        );
        let by_heuristic = parse_article(html, None, TZ, now());
        assert_eq!(by_heuristic.text, by_selector.text);
        let missing_selector = parse_article(html, Some(&parse_selector("div.nothing").expect("sel")), TZ, now());
        assert_eq!(missing_selector.text, by_selector.text);
    }
}
