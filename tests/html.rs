//! Website list pages (`kind = "html"`): selectors, GBK declared only in `<meta>`, a page
//! that lies about its charset, the Hanweb script datastore, following articles, a site
//! redesign that breaks the selector, and `yuqing fetch --dry-run`.

mod support;

use support::{FILE_MAIL, HttpServer, Project, Route, eml_files};

fn gbk(s: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(s).0.into_owned()
}

/// A TRS-WCM-style list: relative links, dates in a span, GBK declared only in <meta>.
fn trs_list() -> Vec<u8> {
    gbk(
        r#"<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"><title>通知公告</title></head>
<body><div class="nav">首页 &gt; 通知公告</div><ul class="list">
<li><a href="./202611/t20261120_101.html" title="关于第四季度优抚金发放的通知">关于第四季度优抚金发放的通知</a><span>2026-11-20</span></li>
<li><a href="./202611/t20261118_102.html" title="市退役军人事务局召开党组会议">市退役军人事务局召开党组会议</a><span>2026-11-18</span></li>
</ul></body></html>"#,
    )
}

fn trs_article(body: &str) -> Vec<u8> {
    gbk(&format!(
        r#"<html><head><meta charset="gbk"><meta name="ArticleTitle" content="关于第四季度优抚金发放的通知"><meta name="PubDate" content="2026-11-20 09:30"><meta name="ContentSource" content="市退役军人事务局"></head>
<body><div class="header">导航</div><div class="TRS_Editor"><p>各区县退役军人事务局：</p><p>{body}</p></div><div class="footer"><p>主办单位</p></div></body></html>"#
    ))
}

const HTML_SOURCE: &str = r#"[[source]]
id = "site"
name = "本局网站·通知公告"
kind = "html"
url = "URL"

[source.html]
item = "ul.list li"
title = "a@title"
link = "a@href"
date = "span"
follow = true
"#;

#[test]
fn list_page_with_followed_articles_in_gbk() {
    let server = HttpServer::start();
    server.route("/tzgg/index.html", Route::ok("text/html", trs_list()));
    server.route(
        "/tzgg/202611/t20261120_101.html",
        Route::ok("text/html", trs_article("第四季度抚恤金将于11月30日前发放到位。")),
    );
    server
        .route("/tzgg/202611/t20261118_102.html", Route::ok("text/html", trs_article("会议传达学习了有关文件精神。")));
    let p = Project::new(&HTML_SOURCE.replace("URL", &server.url("/tzgg/index.html")), FILE_MAIL);

    let run = p.run(&["run", "--once"]);
    assert!(run.source_line("site").contains("条目 2，新文档 2，命中 1，新提醒 1"), "{}\n{}", run.stdout, run.stderr);
    // The hit (抚恤金) is only in the followed article's text, not in the list.
    let hits = p.store().recent_hits(10).expect("hits");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].title, "关于第四季度优抚金发放的通知");
    assert_eq!(hits[0].terms, vec!["抚恤金".to_string()]);
    assert_eq!(hits[0].link.as_deref(), Some(server.url("/tzgg/202611/t20261120_101.html").as_str()));
    let text = support::text_part(&std::fs::read_to_string(&eml_files(&p.path().join("outbox"))[0]).expect("eml"));
    assert!(text.contains("第四季度抚恤金将于11月30日前发放到位"), "{text}");
    assert!(text.contains("发布时间：2026-11-20 00:00"), "{text}");

    // Each article is fetched once: a second run finds nothing new and follows nothing.
    let again = p.run(&["run", "--once"]);
    assert!(again.source_line("site").contains("新文档 0"), "{}", again.stdout);
    assert_eq!(server.requests("/tzgg/202611/t20261120_101.html").len(), 1);
}

#[test]
fn a_redesigned_site_is_a_source_problem_not_silence() {
    let server = HttpServer::start();
    server.route("/tzgg/index.html", Route::ok("text/html", trs_list()));
    let source = HTML_SOURCE.replace("URL", &server.url("/tzgg/index.html")).replace("follow = true\n", "");
    let p = Project::new(&source, FILE_MAIL);
    assert!(p.run(&["run", "--once"]).source_line("site").starts_with("[正常]"));

    server.route(
        "/tzgg/index.html",
        Route::ok(
            "text/html; charset=utf-8",
            "<html><body><div class=\"news-v2\"><a href=\"/x\">新版页面</a></div></body></html>",
        ),
    );
    let run = p.run(&["run", "--once"]);
    let line = run.source_line("site");
    assert!(line.starts_with("[错误]") && line.contains("网站可能已改版") && line.contains("上次匹配 2 条"), "{line}");
    let state = p.store().source_states().expect("states");
    assert_eq!(state[0].consecutive_failures, 1);
}

#[test]
fn hanweb_datastore_and_a_page_lying_about_its_charset() {
    let server = HttpServer::start();
    // Declares gb2312 in the header and in <meta>, but the bytes are UTF-8.
    let page = r#"<html><head><meta charset="gb2312"></head><body><div id="4125"><script type="text/xml"><datastore><recordset>
<record><![CDATA[<li><a href="/art/2026/11/25/art_1.html">网传烈士陵园将拆迁？官方回应</a><span>2026-11-25</span></li>]]></record>
<record><![CDATA[<li><a href="/art/2026/11/24/art_2.html">冬季关爱活动</a><span>2026-11-24</span></li>]]></record>
</recordset></datastore></script></div></body></html>"#;
    server.route("/col/col4125/index.html", Route::ok("text/html; charset=gb2312", page));
    let source = format!(
        "[[source]]\nid = \"hanweb\"\nkind = \"html\"\nurl = \"{}\"\n[source.html]\nitem = \"li\"\ntitle = \"a\"\nlink = \"a@href\"\ndate = \"span\"\ndatastore = true\n",
        server.url("/col/col4125/index.html")
    );
    let p = Project::new(&source, FILE_MAIL);
    let dry = p.run(&["fetch", "hanweb", "--dry-run"]);
    assert_eq!(dry.code, Some(0), "{}", dry.stderr);
    assert!(dry.stdout.contains("字符集：UTF-8（依据：detected）"), "{}", dry.stdout);
    assert!(dry.stdout.contains("共 2 条"), "{}", dry.stdout);
    assert!(dry.stdout.contains("1. [2026-11-25 00:00:00] 网传烈士陵园将拆迁？官方回应"), "{}", dry.stdout);
    assert!(dry.stdout.contains(&format!("链接：{}", server.url("/art/2026/11/25/art_1.html"))), "{}", dry.stdout);
    assert!(dry.stdout.contains("命中：烈士陵园"), "{}", dry.stdout);
    // A dry run stores nothing and sends nothing.
    assert!(!p.path().join("state").exists());
    assert!(eml_files(&p.path().join("outbox")).is_empty());

    // `fetch` without --dry-run runs that one source for real.
    let real = p.run(&["fetch", "hanweb"]);
    assert!(real.source_line("hanweb").contains("条目 2，新文档 2"), "{}", real.stdout);
    assert_eq!(eml_files(&p.path().join("outbox")).len(), 1);
}

#[test]
fn html_config_errors_name_their_lines() {
    let source = "[[source]]\nid = \"a\"\nkind = \"html\"\nurl = \"page.html\"\n[source.html]\nitem = \"li[\"\ntitle = \"a\"\nfollw = true\n\n[[source]]\nid = \"b\"\nkind = \"html\"\nurl = \"page.html\"\n";
    let p = Project::new(source, FILE_MAIL);
    p.write("page.html", "<ul><li>x</li></ul>");
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1));
    for want in [
        ("sources.toml:6:", "item 的选择器 \"li[\" 无效"),
        ("sources.toml:8:", "未知的键 \"follw\""),
        ("sources.toml:5:", "缺少必填键 \"link\""),
        ("sources.toml:10:", "kind = \"html\" 需要 [source.html]"),
    ] {
        assert!(
            run.stdout.lines().any(|l| l.contains(want.0) && l.contains(want.1)),
            "missing {want:?} in\n{}",
            run.stdout
        );
    }
}

#[test]
fn a_deleted_article_is_recorded_and_said_in_the_alert() {
    let server = HttpServer::start();
    let list = r#"<html><body><ul class="list"><li><a href="/s/abc" title="网传抚恤金被挪用？">网传抚恤金被挪用？</a><span>2026-11-26</span></li></ul></body></html>"#;
    server.route("/mp/list.html", Route::ok("text/html; charset=utf-8", list));
    server.route(
        "/s/abc",
        Route::ok(
            "text/html; charset=utf-8",
            "<html><body><div class=\"weui-msg__title warn\">该内容已被发布者删除</div></body></html>",
        ),
    );
    let p = Project::new(&HTML_SOURCE.replace("URL", &server.url("/mp/list.html")), FILE_MAIL);
    let run = p.run(&["run", "--once"]);
    assert!(run.source_line("site").contains("新提醒 1"), "{}", run.stdout);
    let text = support::text_part(&std::fs::read_to_string(&eml_files(&p.path().join("outbox"))[0]).expect("eml"));
    assert!(text.contains("原文状态：已被发布者删除"), "{text}");
}

#[test]
fn pagination_reads_up_to_pages_list_pages() {
    let server = HttpServer::start();
    let page = |n: u32, next: Option<&str>| {
        let next = next.map(|href| format!("<a class=\"next\" href=\"{href}\">下一页</a>")).unwrap_or_default();
        format!(
            "<html><body><ul class=\"list\"><li><a href=\"/a/{n}.html\" title=\"第{n}页的烈士陵园新闻\">x</a><span>2026-11-2{n}</span></li></ul>{next}</body></html>"
        )
    };
    server.route("/list/index.html", Route::ok("text/html; charset=utf-8", page(1, Some("index_1.html"))));
    server.route("/list/index_1.html", Route::ok("text/html; charset=utf-8", page(2, Some("index_2.html"))));
    server.route("/list/index_2.html", Route::ok("text/html; charset=utf-8", page(3, None)));
    let source = HTML_SOURCE
        .replace("URL", &server.url("/list/index.html"))
        .replace("follow = true\n", "next = \"a.next@href\"\npages = 2\n");
    let p = Project::new(&source, FILE_MAIL);
    let run = p.run(&["run", "--once"]);
    assert!(run.source_line("site").contains("条目 2，新文档 2"), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(server.requests("/list/index_1.html").len(), 1);
    assert!(server.requests("/list/index_2.html").is_empty(), "pages = 2 stops after the second page");
}
