//! The web console end to end, on the running daemon's `[http]` endpoint over loopback:
//! sign-in with a password set by `yuqing user passwd`, the dashboard, the event page, the
//! workflow as forms; and the refusals — no session, a forged, replayed or misdirected form
//! token, another section's event, an expired session, an oversized form, paths outside the
//! routes, repeated failed sign-ins — each a clear page that changes nothing.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use support::Project;

struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

fn http(port: u16, method: &str, path: &str, cookie: &str, body: &str) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let cookie = if cookie.is_empty() { String::new() } else { format!("Cookie: {cookie}\r\n") };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{cookie}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (headers, body) =
        response.split_once("\r\n\r\n").map(|(h, b)| (h.to_string(), b.to_string())).unwrap_or_default();
    Answer { status, headers, body }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Signs in and returns the session cookie (`yuqing_session=…`).
fn sign_in(port: u16, person: &str, password: &str) -> String {
    let a = http(port, "POST", "/login", "", &format!("person={person}&password={}", enc(password)));
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.header("location").as_deref(), Some("/"));
    let cookie = a.header("set-cookie").expect("set-cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    cookie.split(';').next().expect("cookie").to_string()
}

/// The one-time token of the form posting to `action` on a page.
fn form_token(page: &str, action: &str) -> String {
    let at = page.find(&format!("action=\"{action}\"")).unwrap_or_else(|| panic!("no form for {action} in:\n{page}"));
    let rest = &page[at..];
    let v = rest.find("name=\"form\" value=\"").expect("token field") + "name=\"form\" value=\"".len();
    rest[v..].split('"').next().expect("token").to_string()
}

fn set_password(p: &Project, person: &str, password: &str) {
    let mut child = p
        .command()
        .args(["user", "passwd", person])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes()).expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("已为"), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn staff_sign_in_see_their_events_and_act_through_forms_that_work_once() {
    let port = support::free_port();
    let p = Project::with_org(&support::source("forum", "forum.xml"));
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    let other = "[[people]]\nid = \"zhao\"\nname = \"赵科员\"\nemail = \"zhao@example.gov.cn\"\n\
                 [[sections]]\nid = \"other\"\nname = \"其他科\"\nhead = \"zhao\"\n";
    p.write("yuqing.toml", format!("{toml}\n{other}\n[http]\nlisten = \"127.0.0.1:{port}\"\n"));
    p.write("keywords/preferential.txt", "@section = preferential\n@weight = 2\n抚恤金\n");
    p.write("forum.xml", support::rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账")]));
    let check = p.run(&["check"]);
    assert_eq!(check.code, Some(0), "{}{}", check.stdout, check.stderr);
    set_password(&p, "wang", "wang-secret-1");
    set_password(&p, "zhao", "zhao-secret-1");
    // Too short, and an id that is no person: refused, exit 1.
    let mut short =
        p.command().args(["user", "passwd", "li"]).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    short.stdin.take().expect("stdin").write_all(b"short\n").expect("write");
    let out = short.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("至少 8 个字符"));
    assert_eq!(p.run(&["user", "passwd", "nobody"]).code, Some(1));

    let daemon = support::Daemon::start_with_an_event(&p);
    let event = p.store().recent_events(1).expect("events").remove(0).id;
    let accepts = || {
        let t = p.store().event_timeline(event).expect("timeline").expect("event");
        t.actions.iter().filter(|a| a.action == "accept").map(|a| a.actor.clone()).collect::<Vec<_>>()
    };

    // Not signed in: pages lead to the sign-in page, a POST is refused.
    let a = http(port, "GET", "/", "", "");
    assert_eq!((a.status, a.header("location").as_deref()), (303, Some("/login")));
    let a = http(port, "POST", &format!("/events/{event}/accept"), "", "form=x");
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("请先登录"), "{}", a.body);
    assert!(http(port, "GET", "/login", "", "").body.contains("人员 id"));
    let a = http(port, "POST", "/login", "", "person=wang&password=wrong");
    assert_eq!(a.status, 401);
    assert!(a.body.contains("人员 id 或密码不正确") && a.header("set-cookie").is_none(), "{}", a.body);

    let wang = sign_in(port, "wang", "wang-secret-1");
    let dash = http(port, "GET", "/", &wang, "");
    assert_eq!(dash.status, 200, "{}", dash.body);
    for needle in [
        "工作台",
        "抚恤金迟迟不到账",
        "拥军优抚科",
        "待受理",
        "陈局长（chen）",
        "剩",
        "http-equiv=\"refresh\"",
        "信源：启用 1 个",
    ] {
        assert!(dash.body.contains(needle), "{needle} in:\n{}", dash.body);
    }
    // A document's stored 待核实 reason is shown with the event's signals.
    rusqlite::Connection::open(p.path().join("state/yuqing.db"))
        .expect("db")
        .execute("UPDATE documents SET to_verify = '谣言线索：网传；文本分类模型 0.12 < 0.44'", [])
        .expect("to_verify");
    let page = http(port, "GET", &format!("/events/{event}"), &wang, "");
    assert_eq!(page.status, 200);
    for needle in [
        "<td>待核实</td><td>谣言线索：网传；文本分类模型 0.12 &lt; 0.44</td>",
        "时间线",
        "首发",
        "办理时限",
        "计时中",
        "受理（",
        "传播趋势（近 24 小时",
        "aria-label=\"每小时新增篇数\"",
        "传播平稳：过去 2 小时新增 1 篇",
    ] {
        assert!(page.body.contains(needle), "{needle} in:\n{}", page.body);
    }
    let accept_path = format!("/events/{event}/accept");
    let token = form_token(&page.body, &accept_path);

    // A forged token, a token for another action, and none: refused, nothing changed.
    for bad in ["form=0.0", &format!("form={}", form_token(&page.body, &format!("/events/{event}/close"))), "note=x"] {
        let a = http(port, "POST", &accept_path, &wang, bad);
        assert_eq!(a.status, 403, "{bad}: {}", a.body);
        assert!(a.body.contains("表单已失效"), "{}", a.body);
    }
    assert!(accepts().is_empty());

    // The real token accepts, in wang's own name; replaying it changes nothing.
    let body = format!("form={token}&note={}&by=chen", enc("已联系家属"));
    let a = http(port, "POST", &accept_path, &wang, &body);
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.header("location"), Some(format!("/events/{event}?done=accept")));
    assert_eq!(accepts(), vec!["wang".to_string()], "the form has no 'by': the session's person acts");
    let again = http(port, "POST", &accept_path, &wang, &body);
    assert_eq!(again.status, 403, "{}", again.body);
    assert_eq!(accepts(), vec!["wang".to_string()]);
    let done = http(port, "GET", &format!("/events/{event}?done=accept"), &wang, "");
    assert!(done.body.contains("已办理：受理") && done.body.contains("已受理"), "{}", done.body);

    // A refusal of the workflow itself is shown on the event page (wang accepted already).
    let a = http(port, "POST", &accept_path, &wang, &format!("form={}", form_token(&done.body, &accept_path)));
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(a.body.contains("未能办理"), "{}", a.body);

    // Another section's staff may look, not act.
    let zhao = sign_in(port, "zhao", "zhao-secret-1");
    let seen = http(port, "GET", &format!("/events/{event}"), &zhao, "");
    assert_eq!(seen.status, 200);
    assert!(!seen.body.contains(&format!("action=\"/events/{event}/close\"")), "no forms for zhao");
    let dash = http(port, "GET", "/", &zhao, "");
    let logout = form_token(&dash.body, "/logout");
    // Even with a valid token of its own session, for a path of the event.
    let close_path = format!("/events/{event}/close");
    let forged = {
        // zhao's page has no close form: take the token of wang's session instead.
        form_token(&http(port, "GET", &format!("/events/{event}"), &wang, "").body, &close_path)
    };
    let a = http(port, "POST", &close_path, &zhao, &format!("form={forged}"));
    assert_eq!(a.status, 403, "another session's token: {}", a.body);
    let mute = http(port, "POST", &format!("/events/{event}/mute"), &zhao, &format!("form={logout}&hours=8&reason=x"));
    assert_eq!(mute.status, 403);
    let t = p.store().event_timeline(event).expect("timeline").expect("event");
    assert!(t.actions.iter().all(|a| a.actor == "wang"), "zhao changed nothing: {:?}", t.actions);

    // An oversized form, paths outside the routes, a method the console does not take.
    let big = format!("form={token}&note={}", "x".repeat(20 * 1024));
    assert_eq!(http(port, "POST", &accept_path, &wang, &big).status, 413);
    assert_eq!(http(port, "GET", "/events/abc", &wang, "").status, 404);
    assert_eq!(http(port, "GET", "/events/999999", &wang, "").status, 404);
    assert_eq!(http(port, "GET", "/../../etc/passwd", &wang, "").status, 404);
    assert_eq!(http(port, "DELETE", &format!("/events/{event}"), &wang, "").status, 405);

    // The report, as a page and as CSV.
    let report = http(port, "GET", "/report", &wang, "");
    assert!(report.status == 200 && report.body.contains("政务舆情定期通报"), "{}", report.body);
    let csv = http(port, "GET", "/report?format=csv", &wang, "");
    assert!(csv.header("content-disposition").is_some_and(|d| d.contains(".csv")), "{}", csv.headers);
    assert_eq!(http(port, "GET", "/report?from=2026-13-01", &wang, "").status, 400);

    // Search: words of three characters through the index, shorter ones too, all must occur;
    // narrowed by grade, source and dates; LIKE wildcards are plain characters.
    let found = |query: &str| {
        let a = http(port, "GET", &format!("/search?{query}"), &wang, "");
        assert_eq!(a.status, 200, "{query}: {}", a.body);
        let n = a.body.split("共找到 ").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse::<usize>().ok());
        (n, a.body)
    };
    assert_eq!(found("").0, None, "the empty form searches nothing");
    let (n, body) = found(&format!("q={}", enc("抚恤金")));
    assert_eq!(n, Some(1), "{body}");
    assert!(body.contains(&format!("href=\"/events/{event}\"")) && body.contains("三个月没到账"), "{body}");
    assert_eq!(found(&format!("q={}", enc("到账"))).0, Some(1));
    assert_eq!(found(&format!("q={}", enc("抚恤金 不存在的词"))).0, Some(0));
    assert_eq!(found(&format!("q={}", enc("%"))).0, Some(0));
    assert_eq!(found("grade=IV").0, Some(1));
    assert_eq!(found("grade=I").0, Some(0));
    assert_eq!(found("source=forum").0, Some(1));
    assert_eq!(found("from=2000-01-01&to=2000-01-02").0, Some(0));
    assert_eq!(http(port, "GET", "/search?from=yesterday", &wang, "").status, 400);

    // Sign out: the cookie is cleared and the old one no longer works.
    let out = http(port, "POST", "/logout", &zhao, &format!("form={logout}"));
    assert_eq!(out.status, 303, "{}", out.body);
    assert!(out.header("set-cookie").is_some_and(|c| c.contains("Max-Age=0")));
    assert_eq!(http(port, "GET", "/", &zhao, "").status, 303);

    // An expired session is no session.
    let db = p.path().join("state/yuqing.db");
    rusqlite::Connection::open(&db)
        .expect("db")
        .execute("UPDATE console_sessions SET expires_at = 0", [])
        .expect("expire");
    assert_eq!(http(port, "GET", "/", &wang, "").header("location").as_deref(), Some("/login"));

    // Repeated failures lock the id, even for the right password.
    for _ in 0..5 {
        assert_eq!(http(port, "POST", "/login", "", "person=wang&password=nope").status, 401);
    }
    let locked = http(port, "POST", "/login", "", "person=wang&password=wang-secret-1");
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.body.contains("登录失败次数过多"), "{}", locked.body);

    drop(daemon);
}

#[test]
fn check_warns_when_the_console_listens_beyond_loopback() {
    let p = Project::with_org("");
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    p.write("yuqing.toml", format!("{toml}\n[http]\nlisten = \"0.0.0.0:8787\"\nsession_hours = 12\n"));
    let run = p.run(&["check"]);
    let out = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, Some(0), "{out}");
    assert!(out.contains("不只在本机监听") && out.contains("HTTPS 反向代理"), "{out}");
    p.write("yuqing.toml", format!("{toml}\n[http]\nlisten = \"127.0.0.1:8787\"\nsession_hours = 0\n"));
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1));
    assert!(format!("{}{}", run.stdout, run.stderr).contains("session_hours = 0 不在 1 到 168 之间"));
    p.write("yuqing.toml", format!("{toml}\n[http]\nlisten = \"127.0.0.1:8787\"\n"));
    let run = p.run(&["check"]);
    assert!(!format!("{}{}", run.stdout, run.stderr).contains("不只在本机监听"));
}

#[test]
fn a_wrongly_merged_document_is_split_off_from_the_event_page() {
    let port = support::free_port();
    let p = Project::with_org(&support::source("forum", "forum.xml"));
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    p.write("yuqing.toml", format!("{toml}\n[http]\nlisten = \"127.0.0.1:{port}\"\n"));
    p.write("keywords/preferential.txt", "@section = preferential\n@weight = 2\n抚恤金\n");
    let text = "我父亲的抚恤金三个月没到账，多次询问民政窗口都没有答复，希望有关部门尽快核实处理";
    p.write(
        "forum.xml",
        support::rss(&[("f1", "抚恤金迟迟不到账", text), ("f2", "抚恤金迟迟不到账", &format!("{text}。转自临江论坛"))]),
    );
    set_password(&p, "wang", "wang-secret-1");
    let daemon = support::Daemon::start_with_an_event(&p);
    let event = p.store().recent_events(1).expect("events").remove(0);
    assert_eq!(event.documents, 2, "the copy joined the event");
    let docs: Vec<i64> = p.store().event_path(event.id).expect("path").iter().map(|s| s.document_id).collect();
    let wang = sign_in(port, "wang", "wang-secret-1");
    let split_path = format!("/events/{}/split", event.id);
    let page = http(port, "GET", &format!("/events/{}", event.id), &wang, "").body;

    // No reason: refused, nothing changed.
    let a = http(port, "POST", &split_path, &wang, &format!("form={}&doc={}", form_token(&page, &split_path), docs[1]));
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(p.store().event_path(event.id).expect("path").len(), 2);

    let page = http(port, "GET", &format!("/events/{}", event.id), &wang, "").body;
    let body = format!("form={}&doc={}&reason={}", form_token(&page, &split_path), docs[1], enc("另一户的反映"));
    let a = http(port, "POST", &split_path, &wang, &body);
    assert_eq!(a.status, 303, "{}", a.body);
    let went = a.header("location").expect("location");
    assert_ne!(went, format!("/events/{}", event.id), "never back into the event it left");
    assert_eq!(
        p.store().event_path(event.id).expect("path").iter().map(|s| s.document_id).collect::<Vec<_>>(),
        [docs[0]]
    );
    let t = p.store().event_timeline(event.id).expect("timeline").expect("event");
    assert!(t.actions.iter().any(|a| a.action == "split" && a.actor == "wang"), "{:?}", t.actions);
    drop(daemon);
}

#[test]
fn a_joint_assessment_is_recorded_shown_and_reported() {
    let p = Project::with_org(&support::source("forum", "forum.xml"));
    p.write("keywords/preferential.txt", "@section = preferential\n@weight = 2\n抚恤金\n");
    p.write("forum.xml", support::rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账")]));
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));
    let assess = |trend: &str, plan: &str| {
        p.run(&[
            "event",
            "assess",
            "1",
            "--by",
            "li",
            "--nature",
            "政策执行问题",
            "--trend",
            trend,
            "--risk",
            "可能引发集中反映",
            "--plan",
            plan,
        ])
    };
    let bad = assess("sideways", "发布说明");
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.contains("无法识别的趋势"), "{}", bad.stderr);
    assert_eq!(assess("up", " ").code, Some(1), "a blank plan is refused");
    let ok = assess("up", "当日发布办理进度说明");
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    assert!(ok.stdout.contains("会商研判已由 李科长（li）记录（趋势：上升）"), "{}", ok.stdout);
    let show = p.run(&["event", "show", "1"]);
    assert!(show.stdout.contains("会商研判  李科长（li）（趋势：上升）：性质：政策执行问题；风险：可能引发集中反映；处置建议：当日发布办理进度说明"), "{}", show.stdout);
    let report = p.run(&["report"]);
    assert!(report.stdout.contains("会商研判：已于"), "{}", report.stdout);
    // The Art. 10/15 report carries the assessment itself: who, the trend, nature, risks, plan.
    let words =
        "由 李科长（li） 记录，趋势：上升；性质：政策执行问题；风险：可能引发集中反映；处置建议：当日发布办理进度说明";
    assert!(report.stdout.contains(words), "{}", report.stdout);
    let html = p.run(&["report", "--format", "html"]);
    assert!(html.stdout.contains(words), "{}", html.stdout);
    assert_eq!(p.run(&["event", "close", "1", "--by", "li"]).code, Some(0));
    let closed = assess("down", "无");
    assert_eq!(closed.code, Some(1));
    assert!(closed.stderr.contains("已办结"), "{}", closed.stderr);
}
