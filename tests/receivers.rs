//! `[[receivers]]` groups: checked where they are written; told of the events a route names
//! them on (email with the alert, SMS to their mobiles, a post in their robots' groups);
//! sent briefings (email plus a summary post); and `yuqing notify test RECEIVER` through every
//! channel they have, printing each server's answer — over a real SMTP server (aiosmtpd) and
//! a loopback SMS gateway and WeCom robot.

mod support;

use support::{HttpServer, ORG, Project, Route, SmtpServer, free_port, rss, smtp_mail, source};

/// The leadership group: two people (one with a mobile), an extra mobile, the WeCom robot.
fn receivers(sms_url: &str, robot_base: &str) -> String {
    format!(
        "[sms]\nprovider = \"gateway\"\nmethod = \"GET\"\nurl = \"{sms_url}?to={{mobile}}\"\nsuccess_contains = '\"code\":0'\n\
         [[robots]]\nid = \"leaders-wecom\"\nkind = \"wecom\"\nbase_url = \"{robot_base}\"\ntoken_file = \"wecom.key\"\n\
         [[receivers]]\nid = \"leaders\"\nname = \"局领导班子\"\npeople = [\"chen\", \"li\"]\n\
         mobiles = [\"13900000009\"]\nrobots = [\"leaders-wecom\"]\n"
    )
}

fn stand_ins() -> HttpServer {
    let server = HttpServer::start();
    for to in ["13800000001", "13900000009"] {
        server.route(&format!("/sms?to={to}"), Route::ok("application/json", r#"{"code":0}"#));
    }
    server.route("/cgi-bin/webhook/send?key=K9", Route::ok("application/json", r#"{"errcode":0,"errmsg":"ok"}"#));
    server
}

/// ORG with 陈局长's mobile, a route telling `leaders` of every event, and the channels.
fn project(server: &HttpServer, mail: &str, extra: &str) -> Project {
    let p = Project::with_org(&source("forum", "forum.xml"));
    p.write("wecom.key", "K9\n");
    let org =
        ORG.replacen("email = \"chen@example.gov.cn\"", "email = \"chen@example.gov.cn\"\nmobile = \"13800000001\"", 1);
    let channels = receivers(&server.url("/sms"), &server.url(""));
    p.write("yuqing.toml", format!("{org}\n{channels}{extra}[storage]\npath = \"state/yuqing.db\"\n{mail}"));
    p
}

#[test]
fn a_route_tells_its_receivers_on_every_channel_the_grade_uses() {
    let server = stand_ins();
    let route = "[[routes]]\ncategory = \"社情民意\"\nnotify = [\"leaders\"]\ncontinue = true\n\
                 [delivery]\nIV = [\"sms\", \"im\", \"email\"]\n";
    let p = project(&server, support::FILE_MAIL, route);
    p.write("keywords/preferential.txt", "@section = preferential\n@category = 社情民意\n抚恤金\n");
    p.write("forum.xml", rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账")]));
    let check = p.run(&["check"]);
    assert!(check.stdout.contains("；接收组：leaders"), "{}", check.stdout);
    let routed = p.run(&["test", "route", "--category", "社情民意", "--grade", "IV"]);
    assert!(routed.stdout.contains("同时告知接收组：局领导班子（leaders）"), "{}\n{}", routed.stdout, routed.stderr);

    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    // SMS to both of the group's mobiles, one post in its robot's group.
    assert_eq!(server.requests("/sms?to=13800000001").len(), 1, "{}", run.stderr);
    assert_eq!(server.requests("/sms?to=13900000009").len(), 1);
    let posts = server.requests("/cgi-bin/webhook/send?key=K9");
    assert_eq!(posts.len(), 1);
    let post = String::from_utf8_lossy(&posts[0].body).to_string();
    assert!(post.contains("抚恤金迟迟不到账") && post.contains("局领导班子"), "{post}");
    // The email alert goes to the group's people too.
    let mails = support::eml_files(&p.path().join("outbox"));
    assert_eq!(mails.len(), 1);
    let to = support::header(&std::fs::read_to_string(&mails[0]).expect("eml"), "To").expect("To");
    assert!(to.contains("chen@example.gov.cn") && to.contains("li@example.gov.cn"), "{to}");
}

#[test]
fn a_briefing_to_a_receiver_group_also_posts_a_summary_in_its_robot_group() {
    let server = stand_ins();
    let briefing = "[[briefings]]\nid = \"daily\"\nname = \"每日舆情简报\"\nschedule = \"0 8 * * *\"\nperiod = \"day\"\n\
                    to = [\"leaders\"]\nsend_empty = true\n";
    let p = project(&server, support::FILE_MAIL, briefing);
    p.write("forum.xml", rss(&[]));
    let run = p.run(&["briefing", "send", "daily"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let deliver = p.run(&["run", "--once"]);
    assert_eq!(deliver.code, Some(0), "{}\n{}", deliver.stdout, deliver.stderr);
    let posts = server.requests("/cgi-bin/webhook/send?key=K9");
    assert_eq!(posts.len(), 1, "{}", deliver.stderr);
    let body: serde_json::Value = serde_json::from_slice(&posts[0].body).expect("json");
    let content = body["markdown"]["content"].as_str().expect("markdown post");
    assert!(content.contains("每日舆情简报") && content.contains("本期没有新增舆情事件"), "{content}");
    let mails = support::eml_files(&p.path().join("outbox"));
    assert_eq!(mails.len(), 1, "and the email to the group's people");
    let to = support::header(&std::fs::read_to_string(&mails[0]).expect("eml"), "To").expect("To");
    assert!(to.contains("chen@example.gov.cn") && to.contains("li@example.gov.cn"), "{to}");
}

#[test]
fn without_mail_sms_and_robots_still_carry_alerts_reminders_and_briefings() {
    let server = stand_ins();
    // The ladder on the wall clock: without the working-hours accept clock, whose reminders
    // depend on the hour the test runs (tests/escalation.rs has the same setting and why).
    let extra = "[deadlines.IV]\nresponse_hours = 48\n\
                 [delivery]\nrobot = \"leaders-wecom\"\nIV = [\"sms\", \"im\", \"email\"]\n\
                 [[briefings]]\nid = \"daily\"\nschedule = \"0 8 * * *\"\nto = [\"leaders\"]\nsend_empty = true\n\
                 [[briefings]]\nid = \"mailonly\"\nschedule = \"0 8 * * *\"\nto = [\"chen\"]\n";
    let p = project(&server, "", extra);
    // 王科员 (the liaison) and 李科长 (the head) have mobiles.
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    let toml = toml
        .replacen("email = \"wang@example.gov.cn\"", "email = \"wang@example.gov.cn\"\nmobile = \"13800000002\"", 1)
        .replacen("email = \"li@example.gov.cn\"", "email = \"li@example.gov.cn\"\nmobile = \"13900000009\"", 1);
    p.write("yuqing.toml", toml);
    server.route("/sms?to=13800000002", Route::ok("application/json", r#"{"code":0}"#));
    p.write("keywords/preferential.txt", "@section = preferential\n抚恤金\n");
    p.write("forum.xml", rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账")]));

    let check = p.run(&["check"]);
    assert!(check.stdout.contains("未配置 [mail]：不发送提醒邮件，短信和群机器人照常"), "{}", check.stdout);
    assert!(check.stdout.contains("未配置 [mail]：简报 mailonly 不会发送"), "{}", check.stdout);
    let start = chrono::Utc::now();
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("提醒（短信、群机器人）：本次发送成功 2 条"), "{}", run.stdout);
    assert_eq!(server.requests("/sms?to=13800000002").len(), 1, "the liaison's SMS\n{}", run.stderr);
    assert_eq!(server.requests("/cgi-bin/webhook/send?key=K9").len(), 1, "the section's robot post");
    assert!(!p.path().join("outbox").exists(), "no email anywhere");

    // The ladder reaches the head by SMS after 4 h; the briefing goes to the group's robot.
    let config = yuqing::config::Config::load(p.path()).config.expect("valid config");
    let mut store = p.store();
    let later = start + chrono::Duration::minutes(4 * 60 + 1);
    assert_eq!(yuqing::deliver::escalation::escalate(&mut store, &config, later).expect("escalate"), 2, "SMS and post");
    drop(store);
    assert_eq!(p.run(&["briefing", "send", "mailonly"]).code, Some(1));
    assert_eq!(p.run(&["briefing", "send", "daily"]).code, Some(0));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(server.requests("/sms?to=13900000009").len(), 1, "the head's reminder\n{}", run.stderr);
    let posts = server.requests("/cgi-bin/webhook/send?key=K9");
    assert_eq!(posts.len(), 3, "the alert, the reminder and the briefing: {}", run.stderr);
    let briefing = String::from_utf8_lossy(&posts[2].body).to_string();
    assert!(briefing.contains("舆情简报"), "{briefing}");
}

#[test]
fn notify_test_reaches_a_group_on_each_of_its_channels_and_prints_each_answer() {
    let server = stand_ins();
    let dir = tempfile::tempdir().expect("maildir");
    let smtp = SmtpServer::start(free_port(), dir.path());
    let p = project(&server, &smtp_mail(smtp.port), "");
    p.write("forum.xml", rss(&[]));

    let run = p.run(&["notify", "test", "leaders"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("通道：邮件 → 陈局长 <chen@example.gov.cn>、李科长 <li@example.gov.cn>"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("服务器应答（原文）：250"), "the SMTP server's own answer:\n{}", run.stdout);
    assert!(run.stdout.contains("通道：短信（gateway）→ 13800000001"), "{}", run.stdout);
    assert!(run.stdout.contains("通道：短信（gateway）→ 13900000009"), "{}", run.stdout);
    assert!(run.stdout.contains("企业微信机器人 leaders-wecom"), "{}", run.stdout);
    assert_eq!(run.stdout.matches("结果：已送达").count(), 4, "{}", run.stdout);
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(server.requests("/sms?to=13900000009").len(), 1);

    // One channel only; an address; a name that is nothing.
    let run = p.run(&["notify", "test", "leaders", "--channel", "email"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout.matches("通道：").count(), 1, "{}", run.stdout);
    let run = p.run(&["notify", "test", "duty@example.gov.cn"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(smtp.messages().len(), 3);
    let run = p.run(&["notify", "test", "leadres"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("不是 [[receivers]] 接收组"), "{}", run.stderr);
}

#[test]
fn bad_receivers_and_notify_references_are_reported_where_written() {
    let server = stand_ins();
    let bad = "[[receivers]]\nid = \"duty\"\npeople = [\"nobody\"]\nmobiles = [\"call me\"]\nrobots = [\"missing\"]\n\
               [[receivers]]\nid = \"empty\"\nchannels = [\"fax\"]\n\
               [[routes]]\ngrade = \"I\"\nnotify = [\"leader\"]\n";
    let p = project(&server, support::FILE_MAIL, bad);
    p.write("forum.xml", rss(&[]));
    let run = p.run(&["check"]);
    assert_ne!(run.code, Some(0));
    let file = p.path().join("yuqing.toml");
    let text = std::fs::read_to_string(&file).expect("toml");
    let line = |needle: &str| text.lines().position(|l| l.starts_with(needle)).expect(needle) + 1;
    let expect = |needle: &str, message: &str| {
        let at = format!("{}:{}", file.display(), line(needle));
        let found = run.stdout.lines().any(|l| l.starts_with(&at) && l.contains(message));
        assert!(found, "missing {at} … {message} in:\n{}", run.stdout);
    };
    expect("people = [\"nobody\"]", "接收组 duty 的 people 中 \"nobody\" 无效");
    expect("mobiles = [\"call me\"]", "\"call me\" 无效");
    expect("robots = [\"missing\"]", "\"missing\" 无效");
    expect("channels = [\"fax\"]", "未知的通道 \"fax\"");
    expect("notify = [\"leader\"]", "notify \"leader\" 不在 [[receivers]] 中");
    assert!(run.stdout.contains("是不是 \"leaders\""), "{}", run.stdout);
    assert!(run.stdout.contains("接收组 duty 没有可用的收件地址"), "{}", run.stdout);
}
