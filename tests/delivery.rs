//! Alert delivery through a real SMTP server (aiosmtpd): outages are retried, a killed
//! process loses nothing, and nothing is sent twice.

// Helpers outside #[test] functions: a failed expectation there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::time::Duration;

use support::{HttpServer, Project, Route, SmtpServer, free_port, header, rss, smtp_mail, source, wait_for};

fn three_matching_items() -> String {
    rss(&[
        ("d1", "抚恤金发放延迟", "网友反映"),
        ("d2", "烈士陵园祭扫预约", "清明前后"),
        ("d3", "优抚对象走访慰问", "春节前"),
        ("d4", "无关新闻", "天气晴"),
    ])
}

fn message_ids(smtp: &SmtpServer) -> Vec<String> {
    smtp.messages().iter().map(|m| header(m, "Message-ID").expect("Message-ID")).collect()
}

#[test]
fn smtp_down_then_up_delivers_everything_once() {
    let server = HttpServer::start();
    let five = rss(&[
        ("d1", "抚恤金发放延迟", "网友反映"),
        ("d2", "烈士陵园祭扫预约", "清明前后"),
        ("d3", "优抚对象走访慰问", "春节前"),
        ("d4", "抚恤金标准调整", "说明"),
        ("d5", "烈士陵园开放时间", "公告"),
    ]);
    server.route("/rss.xml", Route::ok("application/rss+xml", five));
    let port = free_port();
    let p = Project::new(&source("news", &server.url("/rss.xml")), &smtp_mail(port));

    // SMTP is down: the hits are stored, the alerts wait in the outbox, the failure shows.
    // After three failures in a row the run stops trying (the server is down), so the
    // other two alerts are not each made to wait for a connection error.
    let down = p.run(&["run", "--once"]);
    assert_eq!(down.code, Some(0), "{}", down.stderr);
    assert!(down.stdout.contains("本次发送成功 0 封，失败 3 封"), "{}", down.stdout);
    assert!(down.stdout.contains("发件箱：5 条提醒待发送，其中 3 条发送失败待重试；最近错误："), "{}", down.stdout);
    let status = p.store().outbox_status().expect("status");
    assert_eq!((status.pending, status.failing), (5, 3));
    assert!(p.run(&["sources"]).stdout.contains("发件箱：5 条提醒待发送"));

    // SMTP comes back: the next run delivers all five, to both recipients.
    let maildir = tempfile::tempdir().expect("maildir");
    let smtp = SmtpServer::start(port, maildir.path());
    let up = p.run(&["run", "--once"]);
    assert!(up.stdout.contains("本次发送成功 5 封，失败 0 封"), "{}\n{}", up.stdout, up.stderr);
    assert!(up.stdout.contains("发件箱：没有待发送的提醒"), "{}", up.stdout);
    let messages = smtp.messages();
    assert_eq!(messages.len(), 5);
    let to = header(&messages[0], "To").expect("To");
    assert!(to.contains("gkb@example.gov.cn") && to.contains("liaison@example.gov.cn"), "{to}");

    // And a further run sends nothing again.
    let again = p.run(&["run", "--once"]);
    assert!(again.stdout.contains("本次发送成功 0 封，失败 0 封"), "{}", again.stdout);
    assert_eq!(smtp.messages().len(), 5);
    let ids: HashSet<String> = message_ids(&smtp).into_iter().collect();
    assert_eq!(ids.len(), 5);
}

#[test]
fn pending_alerts_survive_a_kill_and_are_delivered_once_after_restart() {
    let server = HttpServer::start();
    server.route("/rss.xml", Route::ok("application/rss+xml", three_matching_items()));
    let port = free_port();
    let p = Project::new(&source("news", &server.url("/rss.xml")), &smtp_mail(port));

    // The daemon stores the hits and fails to deliver (SMTP down); then it is killed hard.
    let mut daemon = p.spawn_daemon();
    wait_for(Duration::from_secs(20), "alerts stored and a delivery attempted", || {
        p.store().outbox_status().is_ok_and(|s| s.pending == 3 && s.failing >= 1)
    });
    daemon.kill().expect("SIGKILL");
    let _ = daemon.wait();

    // SMTP is up; a new daemon delivers the queued alerts exactly once and does not
    // fetch-and-alert the same documents again.
    let maildir = tempfile::tempdir().expect("maildir");
    let smtp = SmtpServer::start(port, maildir.path());
    let mut daemon = p.spawn_daemon();
    wait_for(Duration::from_secs(30), "three messages delivered", || smtp.messages().len() >= 3);
    wait_for(Duration::from_secs(10), "outbox drained", || p.store().outbox_status().is_ok_and(|s| s.pending == 0));

    // SIGTERM: a clean, prompt exit.
    let pid = daemon.id().to_string();
    let killed = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = daemon.try_wait().expect("wait") {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "daemon did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    let output = daemon.wait_with_output().expect("output");
    assert!(String::from_utf8_lossy(&output.stderr).contains("daemon stopped"));

    assert_eq!(smtp.messages().len(), 3, "an alert was sent twice");
    let ids: HashSet<String> = message_ids(&smtp).into_iter().collect();
    assert_eq!(ids.len(), 3);
    let subjects: HashSet<String> =
        smtp.messages().iter().map(|m| support::decode_words(&header(m, "Subject").expect("subject"))).collect();
    assert!(subjects.contains("【舆情提示】抚恤金发放延迟"), "{subjects:?}");
}

/// `[mail]` for TLS tests: host `localhost` (the certificate's name), our CA trusted.
fn tls_mail(port: u16, tls: &str, ca: Option<&std::path::Path>) -> String {
    let ca = ca.map(|p| format!("ca_file = \"{}\"\n", p.display())).unwrap_or_default();
    format!(
        "[mail]\ntransport = \"smtp\"\nhost = \"localhost\"\nport = {port}\ntls = \"{tls}\"\n{ca}from = \"yuqing@example.gov.cn\"\nto = [\"gkb@example.gov.cn\"]\ntimeout_secs = 5\nretry_initial_secs = 1\n"
    )
}

#[test]
fn starttls_and_implicit_tls_deliver_with_a_trusted_ca_and_refuse_an_unknown_one() {
    let certs = tempfile::tempdir().expect("certs");
    let (ca, leaf, key) = support::make_certs(certs.path());
    let (leaf, key) = (leaf.to_string_lossy().into_owned(), key.to_string_lossy().into_owned());
    let server = HttpServer::start();
    server.route("/rss.xml", Route::ok("application/rss+xml", rss(&[("t1", "抚恤金标准调整", "说明")])));
    let feed = source("news", &server.url("/rss.xml"));

    for (tls, args) in
        [("starttls", ["--tlscert", &leaf, "--tlskey", &key]), ("tls", ["--smtpscert", &leaf, "--smtpskey", &key])]
    {
        let port = free_port();
        let maildir = tempfile::tempdir().expect("maildir");
        let smtp = SmtpServer::start_with(port, maildir.path(), &args);

        // Without our CA the server certificate is not trusted: nothing is sent, the alert waits.
        let untrusted = Project::new(&feed, &tls_mail(port, tls, None));
        let run = untrusted.run(&["run", "--once"]);
        assert!(run.stdout.contains("本次发送成功 0 封，失败 1 封"), "{tls}: {}\n{}", run.stdout, run.stderr);
        assert!(smtp.messages().is_empty());

        let trusted = Project::new(&feed, &tls_mail(port, tls, Some(&ca)));
        let run = trusted.run(&["run", "--once"]);
        assert!(run.stdout.contains("本次发送成功 1 封，失败 0 封"), "{tls}: {}\n{}", run.stdout, run.stderr);
        assert_eq!(smtp.messages().len(), 1, "{tls}");
    }
}

/// Regression for connection reuse: the daemon keeps its SMTP connection open between
/// alerts; when the server has dropped it meanwhile, the next alert must still go out on
/// the first attempt (over a new connection), and only once.
#[test]
fn mailer_reconnects_when_the_server_dropped_the_idle_connection() {
    use yuqing::model::{AlertMessage, OutboxAlert};
    use yuqing::notify::{MailSettings, MailTransport, Mailer, SmtpSettings, TlsMode};

    let port = free_port();
    let maildir = tempfile::tempdir().expect("maildir");
    let settings = MailSettings {
        transport: MailTransport::Smtp(SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            tls: TlsMode::None,
            username: None,
            password: None,
            hello_name: None,
            ca_file: None,
        }),
        from: "yuqing@example.gov.cn".parse().expect("from"),
        to: vec![],
        admin: vec![],
        subject_prefix: String::new(),
        timeout: Duration::from_secs(5),
        retry_initial: Duration::from_secs(1),
        retry_max: Duration::from_secs(1),
        max_attempts: 12,
        connections: 1,
    };
    let alert = |id: i64| OutboxAlert {
        kind: "document".into(),
        grade: None,
        id,
        message: AlertMessage {
            channel: "email".into(),
            recipients: vec!["gkb@example.gov.cn".into()],
            subject: format!("测试 {id}"),
            body_text: "正文".into(),
            body_html: "<p>正文</p>".into(),
        },
        attempts: 0,
        created_at: chrono::Utc::now(),
        thread: None,
        held: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mailer = Mailer::new(&settings).expect("mailer");

    let first = SmtpServer::start(port, maildir.path());
    rt.block_on(mailer.send(&alert(1))).expect("first send");
    drop(first); // the server goes away, taking the idle connection with it
    let second = SmtpServer::start(port, maildir.path());
    rt.block_on(mailer.send(&alert(2))).expect("second send reconnects");
    rt.block_on(mailer.send(&alert(3))).expect("third send reuses");
    assert_eq!(second.messages().len(), 3, "messages in the shared maildir");
}

#[test]
fn alerts_are_dead_lettered_after_the_last_attempt_the_admin_told_once_and_retry_requeues_them() {
    let server = HttpServer::start();
    server.route("/rss.xml", Route::ok("application/rss+xml", three_matching_items()));
    let port = free_port();
    let mail = format!("{}max_attempts = 2\nadmin = [\"admin@example.gov.cn\"]\n", smtp_mail(port));
    let p = Project::new(&source("news", &server.url("/rss.xml")), &mail);

    // SMTP is down for two runs: every alert fails twice and is given up on.
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));
    let second = p.run(&["run", "--once"]);
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    let store = p.store();
    let dead = store.outbox_rows(yuqing::store::OutboxFilter::Dead, 10).expect("outbox");
    assert_eq!(dead.len(), 3, "{dead:?}");
    let notices: Vec<_> = store
        .outbox_rows(yuqing::store::OutboxFilter::All, 20)
        .expect("outbox")
        .into_iter()
        .filter(|r| r.kind == "outbox_dead")
        .collect();
    assert_eq!(notices.len(), 1, "the admin is told once, not per dead letter");
    assert_eq!(notices[0].recipients, vec!["admin@example.gov.cn".to_string()]);

    // SMTP is back: the notice goes out; the dead letters stay dead until requeued.
    let maildir = tempfile::tempdir().expect("maildir");
    let smtp = SmtpServer::start(port, maildir.path());
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));
    let subjects: Vec<String> =
        smtp.messages().iter().map(|m| support::decode_words(&header(m, "Subject").expect("subject"))).collect();
    assert_eq!(subjects, vec!["【提醒投递失败】有提醒已停止重试".to_string()]);
    let listed = p.run(&["outbox", "list", "--status", "dead"]);
    assert_eq!(listed.stdout.matches("[死信]").count(), 3, "{}", listed.stdout);
    let show = p.run(&["outbox", "show", &dead[0].id.to_string()]);
    assert_eq!(show.stdout.matches("失败").count(), 2, "two attempts recorded:\n{}", show.stdout);

    let retry = p.run(&["outbox", "retry", "--all-dead"]);
    assert!(retry.stdout.contains("3 条死信已重新排队"), "{}", retry.stdout);
    assert_eq!(p.run(&["outbox", "retry", "999"]).code, Some(1));
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));
    assert_eq!(smtp.messages().len(), 4, "the three requeued alerts delivered");
    let show = p.run(&["outbox", "show", &dead[0].id.to_string()]);
    assert!(show.stdout.contains("成功"), "{}", show.stdout);
    assert!(p.store().outbox_rows(yuqing::store::OutboxFilter::Dead, 10).expect("outbox").is_empty());
}

/// A calendar that makes today and tomorrow (Beijing time) holidays, so now is never working time.
fn calendar_off_today() -> String {
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let mut years: std::collections::BTreeMap<i32, Vec<String>> = std::collections::BTreeMap::new();
    for day in [today, today + chrono::Duration::days(1)] {
        use chrono::Datelike;
        years.entry(day.year()).or_default().push(format!("\"{day}\""));
    }
    years.iter().map(|(y, days)| format!("[{y}]\nholidays = [{}]\n", days.join(", "))).collect()
}

#[test]
fn quiet_hours_hold_grade_three_and_four_alerts_until_working_time() {
    let p = Project::new(&source("forum", "forum.xml"), support::FILE_MAIL);
    p.write("forum.xml", rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账")]));
    p.write("calendar.toml", calendar_off_today());
    let toml = std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml");
    let quiet = "[calendar]\nfile = \"calendar.toml\"\n[delivery]\nquiet_hours = true\n";
    p.write("yuqing.toml", format!("{toml}{quiet}"));

    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("工作时间外：1 封Ⅲ、Ⅳ级提醒暂缓"), "{}", run.stdout);
    assert!(support::eml_files(&p.path().join("outbox")).is_empty(), "nothing sent outside working hours");
    let held = p.store().outbox_rows(yuqing::store::OutboxFilter::Pending, 10).expect("outbox");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].attempts, 0, "holding is not a failed attempt");
    let days_ahead = (held[0].next_attempt_at - chrono::Utc::now()).num_hours();
    assert!(days_ahead >= 24, "held past tomorrow's holiday: {days_ahead} h");

    // Without quiet hours the same alert goes at once.
    p.write("yuqing.toml", format!("{toml}[calendar]\nfile = \"calendar.toml\"\n"));
    let mut store = p.store();
    store.requeue(Some(held[0].id), chrono::Utc::now()).expect("due now");
    drop(store);
    let run = p.run(&["run", "--once"]);
    assert!(run.stdout.contains("本次发送成功 1 封"), "{}", run.stdout);
    assert_eq!(support::eml_files(&p.path().join("outbox")).len(), 1);
}

#[test]
fn a_grade_using_sms_and_im_reaches_the_persons_mobile_and_the_sections_robot() {
    let server = HttpServer::start();
    server.route("/sms?to=13800000001", Route::ok("application/json", r#"{"code":0}"#));
    server.route("/cgi-bin/webhook/send?key=K123", Route::ok("application/json", r#"{"errcode":0,"errmsg":"ok"}"#));
    let p = Project::with_org(&source("forum", "forum.xml"));
    p.write("keywords/preferential.txt", "@section = preferential\n@weight = 2\n抚恤金\n");
    p.write("forum.xml", rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账")]));
    p.write("wecom.key", "K123\n");
    let org = support::ORG.replacen(
        "email = \"wang@example.gov.cn\"",
        "email = \"wang@example.gov.cn\"\nmobile = \"13800000001\"",
        1,
    );
    let channels = format!(
        "robot = \"wecom-pref\"\n\
         [sms]\nprovider = \"gateway\"\nmethod = \"GET\"\nurl = \"{sms}?to={{mobile}}\"\nsuccess_contains = '\"code\":0'\n\
         [[robots]]\nid = \"wecom-pref\"\nkind = \"wecom\"\nbase_url = \"{base}\"\ntoken_file = \"wecom.key\"\n\
         [delivery]\nIV = [\"sms\", \"im\", \"email\"]\n",
        sms = server.url("/sms"),
        base = server.url("")
    );
    p.write("yuqing.toml", format!("{org}\n{channels}[storage]\npath = \"state/yuqing.db\"\n{}", support::FILE_MAIL));
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(server.requests("/sms?to=13800000001").len(), 1, "one SMS to 王科员's mobile\n{}", run.stderr);
    assert_eq!(server.requests("/cgi-bin/webhook/send?key=K123").len(), 1, "one post to the section's robot");
    let rows = p.store().outbox_rows(yuqing::store::OutboxFilter::Sent, 10).expect("outbox");
    let channels: Vec<&str> = rows.iter().map(|r| r.channel.as_str()).collect();
    assert!(
        channels.contains(&"sms") && channels.contains(&"robot:wecom-pref") && channels.contains(&"email"),
        "{channels:?}"
    );
    let sms = rows.iter().find(|r| r.channel == "sms").expect("sms row");
    let attempts = p.store().alert_attempts(sms.id).expect("attempts");
    assert!(attempts[0].ok && attempts[0].detail.as_deref().is_some_and(|d| d.contains("\"code\":0")), "{attempts:?}");
}

#[test]
fn a_provider_answering_429_is_retried_no_sooner_than_its_retry_after() {
    let server = HttpServer::start();
    let busy = Route { headers: vec![("Retry-After".into(), "300".into())], ..Route::status(429) };
    server.route("/sms?to=13800000001", busy);
    let p = Project::with_org(&source("forum", "forum.xml"));
    p.write("keywords/preferential.txt", "@section = preferential\n@weight = 2\n抚恤金\n");
    p.write("forum.xml", rss(&[("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账")]));
    let org = support::ORG.replacen(
        "email = \"wang@example.gov.cn\"",
        "email = \"wang@example.gov.cn\"\nmobile = \"13800000001\"",
        1,
    );
    let channels = format!(
        "[sms]\nprovider = \"gateway\"\nmethod = \"GET\"\nurl = \"{sms}?to={{mobile}}\"\n[delivery]\nIV = [\"sms\"]\n",
        sms = server.url("/sms"),
    );
    p.write("yuqing.toml", format!("{org}\n{channels}[storage]\npath = \"state/yuqing.db\"\n{}", support::FILE_MAIL));
    let before = chrono::Utc::now();
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(server.requests("/sms?to=13800000001").len(), 1);
    let pending = p.store().outbox_rows(yuqing::store::OutboxFilter::Failing, 10).expect("outbox");
    assert_eq!(pending.len(), 1, "the SMS waits for another try: {pending:?}");
    assert_eq!(pending[0].attempts, 1);
    let wait = (pending[0].next_attempt_at - before).num_seconds();
    assert!(wait >= 300, "Retry-After 300 s honoured over the 60 s backoff: {wait} s");
    assert!(pending[0].last_error.as_deref().is_some_and(|e| e.contains("429")), "{:?}", pending[0].last_error);
    // Said for the admin in Chinese first, the provider's words after.
    assert!(
        pending[0].last_error.as_deref().is_some_and(|e| e.starts_with("暂时性错误（服务方代码 ")),
        "{:?}",
        pending[0].last_error
    );
}

/// A calendar whose today (Beijing time) is a workday: a make-up workday on a weekend.
fn calendar_working_today() -> String {
    use chrono::Datelike;
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let weekend = matches!(today.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun);
    let workdays = if weekend { format!("\"{today}\"") } else { String::new() };
    format!("[{}]\nholidays = []\nworkdays = [{workdays}]\n", today.year())
}

const THREE_STORIES: &[(&str, &str, &str)] = &[
    ("f1", "抚恤金迟迟不到账", "我父亲的抚恤金三个月没到账"),
    ("f2", "烈士陵园祭扫预约太难", "清明祭扫预约系统总是登不上"),
    ("f3", "优抚对象走访慰问走过场", "慰问只拍照不办事"),
];

/// A project whose forum carries `stories` on a day the calendar makes a holiday, with quiet
/// hours on: every alert is held (working hours all day, so the next working day starts at
/// midnight).
fn held_stories(stories: &[(&str, &str, &str)]) -> Project {
    let p = Project::with_org(&source("forum", "forum.xml"));
    p.write("keywords/preferential.txt", "@section = preferential\n抚恤金\n祭扫\n慰问\n");
    p.write("forum.xml", rss(stories));
    p.write("calendar.toml", calendar_off_today());
    let base = format!("{}\n[storage]\npath = \"state/yuqing.db\"\n{}", support::ORG, support::FILE_MAIL);
    let quiet =
        "[calendar]\nfile = \"calendar.toml\"\nworking_hours = [\"00:00-24:00\"]\n[delivery]\nquiet_hours = true\n";
    p.write("yuqing.toml", format!("{base}{quiet}"));
    p
}

#[test]
fn alerts_held_outside_working_hours_arrive_as_one_digest_per_recipient() {
    let p = held_stories(THREE_STORIES);
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let list = p.run(&["event", "list"]);
    assert!(run.stdout.contains("工作时间外：3 封Ⅲ、Ⅳ级提醒暂缓"), "{}\n{}", run.stdout, list.stdout);
    let held = p.store().outbox_rows(yuqing::store::OutboxFilter::Pending, 10).expect("outbox");
    assert_eq!(held.len(), 3);
    let everyone: HashSet<String> = held.iter().flat_map(|r| r.recipients.clone()).collect();
    assert!(everyone.len() >= 2, "each alert goes to the office and the liaison: {everyone:?}");
    let list = p.run(&["outbox", "list"]);
    assert_eq!(list.stdout.matches("工作时间外暂缓，将于").count(), 3, "{}", list.stdout);
    assert_eq!(p.store().gauges().expect("gauges").outbox_held, vec![("quiet".to_string(), 3)], "/metrics");

    // The next working period: what was held comes due and goes out merged per recipient.
    p.write("calendar.toml", calendar_working_today());
    let mut store = p.store();
    for row in &held {
        store.requeue(Some(row.id), chrono::Utc::now()).expect("due now");
    }
    drop(store);
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let files = support::eml_files(&p.path().join("outbox"));
    assert_eq!(files.len(), everyone.len(), "one digest per recipient: {files:?}");
    let summary = format!("汇总：其中 3 条提醒合并为 {} 份汇总消息发出", everyone.len());
    assert!(run.stdout.contains(&summary), "{}", run.stdout);
    let mut reached = HashSet::new();
    for file in &files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert!(name.starts_with("digest-"), "{name}");
        let mail = std::fs::read_to_string(file).expect("eml");
        let to = header(&mail, "To").expect("To");
        assert_eq!(to.matches('@').count(), 1, "one recipient per digest: {to}");
        reached.insert(to);
        let subject = support::decode_words(&header(&mail, "Subject").expect("Subject"));
        assert!(subject.starts_with("【舆情汇总】3 条提醒"), "{subject}");
        let text = support::text_part(&mail);
        assert!(text.contains("工作时间外"), "{text}");
        for (_, title, _) in THREE_STORIES {
            assert!(text.contains(title), "{title} missing from the digest:\n{text}");
        }
    }
    assert_eq!(reached.len(), everyone.len());
    let sent = p.store().outbox_rows(yuqing::store::OutboxFilter::Sent, 10).expect("outbox");
    assert_eq!(sent.len(), 3, "every held alert is delivered");
    let attempts = p.store().alert_attempts(sent[0].id).expect("attempts");
    assert!(attempts.iter().all(|a| a.ok && a.detail.as_deref().is_some_and(|d| d.contains("汇总"))), "{attempts:?}");
    // Nothing more goes out on the next run.
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0));
    assert_eq!(support::eml_files(&p.path().join("outbox")).len(), files.len());
}

#[test]
fn a_burst_over_a_robots_budget_is_merged_into_one_post_never_dropped() {
    let server = HttpServer::start();
    server.route("/cgi-bin/webhook/send?key=K123", Route::ok("application/json", r#"{"errcode":0,"errmsg":"ok"}"#));
    let p = Project::with_org(&source("forum", "forum.xml"));
    p.write("keywords/preferential.txt", "@section = preferential\n抚恤金\n祭扫\n慰问\n");
    p.write("forum.xml", rss(THREE_STORIES));
    p.write("wecom.key", "K123\n");
    let channels = format!(
        "[[robots]]\nid = \"wecom-pref\"\nkind = \"wecom\"\nbase_url = \"{base}\"\ntoken_file = \"wecom.key\"\nrate_per_minute = 2\n\
         [delivery]\nrobot = \"wecom-pref\"\nIV = [\"im\"]\n",
        base = server.url("")
    );
    p.write(
        "yuqing.toml",
        format!("{}\n{channels}[storage]\npath = \"state/yuqing.db\"\n{}", support::ORG, support::FILE_MAIL),
    );
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let posts = server.requests("/cgi-bin/webhook/send?key=K123");
    assert_eq!(posts.len(), 1, "three alerts over a budget of two: one digest post\n{}", run.stderr);
    let body: serde_json::Value = serde_json::from_slice(&posts[0].body).expect("json");
    let content = body["markdown"]["content"].as_str().or(body["text"]["content"].as_str()).expect("content");
    assert!(content.contains("【舆情汇总】3 条提醒") && content.contains("频率"), "{content}");
    for (_, title, _) in THREE_STORIES {
        assert!(content.contains(title), "{title} missing:\n{content}");
    }
    let sent = p.store().outbox_rows(yuqing::store::OutboxFilter::Sent, 10).expect("outbox");
    assert_eq!(sent.iter().filter(|r| r.channel == "robot:wecom-pref").count(), 3, "{sent:?}");
}

#[test]
fn digests_that_fail_while_smtp_is_down_are_retried_and_each_recipient_gets_one_once() {
    let port = free_port();
    let p = Project::with_org(&source("forum", "forum.xml"));
    p.write("keywords/preferential.txt", "@section = preferential\n抚恤金\n祭扫\n慰问\n");
    p.write("forum.xml", rss(THREE_STORIES));
    p.write("calendar.toml", calendar_off_today());
    let base = format!("{}\n[storage]\npath = \"state/yuqing.db\"\n{}", support::ORG, smtp_mail(port));
    let quiet =
        "[calendar]\nfile = \"calendar.toml\"\nworking_hours = [\"00:00-24:00\"]\n[delivery]\nquiet_hours = true\n";
    p.write("yuqing.toml", format!("{base}{quiet}"));
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));
    let held = p.store().outbox_rows(yuqing::store::OutboxFilter::Pending, 10).expect("outbox");
    assert_eq!(held.len(), 3);
    let everyone: HashSet<String> = held.iter().flat_map(|r| r.recipients.clone()).collect();

    // The working period starts while the SMTP server is down: every digest fails, nothing is lost.
    p.write("calendar.toml", calendar_working_today());
    let mut store = p.store();
    for row in &held {
        store.requeue(Some(row.id), chrono::Utc::now()).expect("due now");
    }
    drop(store);
    let down = p.run(&["run", "--once"]);
    assert_eq!(down.code, Some(0), "{}", down.stderr);
    assert!(down.stdout.contains("本次发送成功 0 封"), "{}", down.stdout);
    let failing = p.store().outbox_rows(yuqing::store::OutboxFilter::Failing, 10).expect("outbox");
    assert_eq!(failing.len(), 3, "all three wait for a retry: {failing:?}");
    assert!(failing.iter().all(|r| r.held.is_some()), "still merged when retried");
    assert!(failing.iter().all(|r| r.attempts == 1), "one failed attempt per round, not per digest: {failing:?}");

    // SMTP is back: one digest per recipient, each listing the three stories, and only once.
    let maildir = tempfile::tempdir().expect("maildir");
    let smtp = SmtpServer::start(port, maildir.path());
    let up = p.run(&["run", "--once"]);
    assert!(up.stdout.contains("本次发送成功 3 封"), "{}\n{}", up.stdout, up.stderr);
    let messages = smtp.messages();
    assert_eq!(messages.len(), everyone.len(), "one digest per recipient");
    for m in &messages {
        let text = support::text_part(m);
        assert!(THREE_STORIES.iter().all(|(_, title, _)| text.contains(title)), "{text}");
    }
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));
    assert_eq!(smtp.messages().len(), everyone.len(), "nothing sent twice");
    let ids: HashSet<String> = message_ids(&smtp).into_iter().collect();
    assert_eq!(ids.len(), everyone.len());
}

/// Close and mute withdraw what is queued: three stories held by quiet hours; one event is
/// closed and one muted past the hold; when the working period comes, the digest carries
/// the third story only, and the other two rows are dropped with the reason.
#[test]
fn closing_or_muting_an_event_withdraws_its_held_alerts_from_the_digest() {
    let p = held_stories(THREE_STORIES);
    let run = p.run(&["run", "--once"]);
    assert!(run.stdout.contains("工作时间外：3 封Ⅲ、Ⅳ级提醒暂缓"), "{}\n{}", run.stdout, run.stderr);
    let events = p.store().recent_events(10).expect("events");
    let id_of = |title: &str| events.iter().find(|e| e.title == title).map(|e| e.id.to_string()).expect(title);
    let (closed, muted) = (id_of(THREE_STORIES[0].1), id_of(THREE_STORIES[1].1));

    let close = p.run(&["event", "close", &closed, "--by", "chen"]);
    assert_eq!(close.code, Some(0), "{}", close.stderr);
    assert!(close.stdout.contains("已撤回 1 条未发提醒"), "{}", close.stdout);
    // Longer than any hold here (two holidays and a weekend at most), whatever the day.
    let mute = p.run(&["event", "mute", &muted, "--by", "chen", "--until", "10d", "--reason", "已核实，正在处理"]);
    assert_eq!(mute.code, Some(0), "{}", mute.stderr);
    assert!(mute.stdout.contains("已撤回 1 条未发提醒"), "{}", mute.stdout);
    let dropped = p.store().outbox_rows(yuqing::store::OutboxFilter::Dropped, 10).expect("outbox");
    let reasons: Vec<String> = dropped.iter().filter_map(|r| r.last_error.clone()).collect();
    assert_eq!(dropped.len(), 2, "{dropped:?}");
    assert!(reasons.iter().any(|r| r.contains("办结")) && reasons.iter().any(|r| r.contains("静默")), "{reasons:?}");

    // The working period comes: only the third story goes out.
    p.write("calendar.toml", calendar_working_today());
    let mut store = p.store();
    for row in store.outbox_rows(yuqing::store::OutboxFilter::Pending, 10).expect("outbox") {
        store.requeue(Some(row.id), chrono::Utc::now()).expect("due now");
    }
    drop(store);
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let files = support::eml_files(&p.path().join("outbox"));
    assert!(!files.is_empty(), "the third story goes out\n{}", run.stdout);
    for file in &files {
        let text = support::text_part(&std::fs::read_to_string(file).expect("eml"));
        assert!(text.contains(THREE_STORIES[2].1), "{text}");
        assert!(
            !text.contains(THREE_STORIES[0].1) && !text.contains(THREE_STORIES[1].1),
            "withdrawn, yet sent:\n{text}"
        );
    }
    // A closed event takes nothing but reopen.
    let again = p.run(&["event", "accept", &closed, "--by", "wang"]);
    assert_eq!(again.code, Some(1), "{}", again.stdout);
    assert!(again.stderr.contains("已办结，不能受理"), "{}", again.stderr);
    assert_eq!(p.run(&["event", "reopen", &closed, "--by", "chen"]).code, Some(0));
    assert_eq!(p.run(&["event", "accept", &closed, "--by", "wang"]).code, Some(0));
    let twice = p.run(&["event", "accept", &closed, "--by", "wang"]);
    assert_eq!(twice.code, Some(1), "a repeated accept is refused: {}", twice.stdout);
}

/// The delivery's guard: an alert queued just before its event was closed (a run that read
/// the event's state before the close and committed after it) is withdrawn, not sent.
#[test]
fn an_alert_queued_before_its_event_was_closed_is_withdrawn_at_delivery() {
    let p = held_stories(&THREE_STORIES[..1]);
    assert_eq!(p.run(&["run", "--once"]).code, Some(0));
    let mut store = p.store();
    let event = store.recent_events(1).expect("events").remove(0);
    // The close lands without the withdrawal (as when the alert is committed after it).
    let close = yuqing::store::Action { action: "close", actor: "chen", target: None, link: None, note: None };
    let later = chrono::Utc::now() + chrono::Duration::seconds(2);
    assert!(store.record_action(event.id, &close, later).expect("close"));
    let pending = store.outbox_rows(yuqing::store::OutboxFilter::Pending, 10).expect("outbox");
    assert_eq!(pending.len(), 1);
    store.requeue(Some(pending[0].id), chrono::Utc::now()).expect("due now");
    drop(store);
    p.write("calendar.toml", calendar_working_today());
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(support::eml_files(&p.path().join("outbox")).is_empty(), "a closed event sends nothing\n{}", run.stdout);
    let dropped = p.store().outbox_rows(yuqing::store::OutboxFilter::Dropped, 10).expect("outbox");
    assert_eq!(dropped.len(), 1);
    assert!(dropped[0].last_error.as_deref().is_some_and(|e| e.contains("办结")), "{dropped:?}");
}

/// A grade whose `[delivery]` list is empty tells nobody while its deadline clocks run:
/// `check` warns at the line (the config stays valid).
#[test]
fn check_warns_when_a_grade_tells_nobody_but_its_clocks_run() {
    let p = Project::new(&source("a", "feed.xml"), &format!("[delivery]\nIII = []\n{}", support::FILE_MAIL));
    p.write("feed.xml", rss(&[]));
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let warning = run.stdout.lines().find(|l| l.contains("yuqing.toml:") && l.contains("警告")).unwrap_or_default();
    assert!(warning.contains("[delivery] III 没有任何通道") && warning.contains("时限照常计时"), "{}", run.stdout);
    let line =
        std::fs::read_to_string(p.path().join("yuqing.toml")).expect("toml").lines().position(|l| l == "III = []");
    assert!(warning.contains(&format!("yuqing.toml:{}:", line.map_or(0, |n| n + 1))), "{warning}");
}
