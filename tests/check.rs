//! `yuqing check`: every configuration problem is reported with its file and line.

mod support;

use support::{FILE_MAIL, Project, source};

#[test]
fn shipped_config_is_valid() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_yuqing"))
        .args(["--config", env!("CARGO_MANIFEST_DIR"), "check"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.lines().last().is_some_and(|l| l.starts_with("配置有效：")), "{stdout}");
    assert!(!stdout.contains("错误"), "{stdout}");
}

#[test]
fn valid_config_prints_a_one_line_summary() {
    let p = Project::new(&source("a", "feed.xml"), FILE_MAIL);
    p.write("feed.xml", support::rss(&[]));
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert!(run.stdout.contains("1 个信源（1 个启用），1 个关键词列表共 3 条规则"), "{}", run.stdout);
}

const BAD_SOURCES: &str = r#"[[source]]
id = "ok"
name = "正常"
kind = "feed"
url = "feed.xml"

[[source]]
id = "ok"
name = "重复"
kind = "feed"
url = "feed.xml"

[[source]]
id = "typo"
kind = "feed"
url = "feed.xml"
shedule = "*/5 * * * *"

[[source]]
id = "cron6"
kind = "feed"
url = "feed.xml"
schedule = "0 */5 * * * *"

[[source]]
id = "badurl"
kind = "feed"
url = "http://"

[[source]]
id = "nofile"
kind = "feed"
url = "missing/feed.xml"

[[source]]
id = "Bad Id"
kind = "rss2"
url = "feed.xml"
enabled = "yes"
"#;

const BAD_SETTINGS: &str = r#"timezone = "Asia/Shanghia"
[storage]
path = "state/yuqing.db"
[mail]
transport = "smtp"
host = "127.0.0.1"
tls = "ssl"
username = "u"
password = "hunter2"
password_env = "YUQING_TEST_SURELY_UNSET_VAR"
from = "not an address"
to = ["gkb@example.gov.cn"]
colour = "red"
"#;

#[test]
fn every_error_is_reported_with_file_line_and_advice() {
    let p = Project::new(BAD_SOURCES, "");
    p.write("feed.xml", support::rss(&[]));
    p.write("yuqing.toml", BAD_SETTINGS);
    p.write("keywords/empty.txt", "# only a comment\n\n");
    p.write("keywords/gbk.txt", b"\xb8\xa7\xd0\xf4\xbd\xf0\n".as_slice());
    p.write("keywords/rules.txt", "上访\n拆迁 AND (搬迁 OR 陵园\n@category = 网宣\n{本局} NEAR/5 不作为\n");
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let out = &run.stdout;
    let expect = [
        ("sources.toml:8:", "重复（第 2 行已使用）"),
        ("sources.toml:17:", "未知的键 \"shedule\""),
        ("sources.toml:23:", "schedule 无效：需要 5 个字段"),
        ("sources.toml:28:", "URL \"http://\""),
        ("sources.toml:33:", "文件不存在"),
        ("sources.toml:36:", "信源 id \"Bad Id\" 不合规"),
        ("sources.toml:37:", "不支持的信源类型 kind = \"rss2\""),
        ("sources.toml:39:", "\"enabled\" 的值应为布尔值 true 或 false"),
        ("yuqing.toml:1:", "timezone 不是有效的 IANA 时区名"),
        ("yuqing.toml:9:", "不允许在配置文件中直接写密码"),
        ("yuqing.toml:13:", "未知的键 \"colour\""),
        ("yuqing.toml:11:", "邮件地址 \"not an address\" 无效"),
        ("yuqing.toml:7:", "不支持的 tls \"ssl\""),
        ("empty.txt:", "关键词列表 \"empty\" 没有要命中的规则"),
        ("rules.txt:2:8:", "左括号 ( 没有对应的右括号"),
        ("rules.txt:3:13:", "未知的类别 \"网宣\""),
        ("rules.txt:4:1:", "别名 {本局} 没有定义"),
        ("gbk.txt:1:", "不是 UTF-8 编码"),
    ];
    for (place, message) in expect {
        let line = out.lines().find(|l| l.contains(place) && l.contains(message));
        assert!(line.is_some(), "missing {place} {message} in:\n{out}");
    }
    // Every error comes with advice on the next line.
    let errors = out.lines().filter(|l| l.contains("错误：")).count();
    let advice = out.lines().filter(|l| l.trim_start().starts_with("→ ")).count();
    assert!(errors >= expect.len(), "{out}");
    assert!(advice >= errors, "{out}");
    assert!(out.lines().last().is_some_and(|l| l.starts_with("配置无效：")), "{out}");
}

#[test]
fn missing_secret_is_an_error_naming_the_variable() {
    let mail = "[mail]\ntransport = \"smtp\"\nhost = \"127.0.0.1\"\nusername = \"u\"\npassword_env = \"YUQING_TEST_UNSET_PASSWORD\"\nfrom = \"a@example.gov.cn\"\nto = [\"b@example.gov.cn\"]\n";
    let p = Project::new(&source("a", "feed.xml"), mail);
    p.write("feed.xml", support::rss(&[]));
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("环境变量 YUQING_TEST_UNSET_PASSWORD 未设置"), "{}", run.stdout);
    let ok = p.command().arg("check").env("YUQING_TEST_UNSET_PASSWORD", "s3cret").output().expect("run");
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stdout));
}

#[test]
fn toml_syntax_errors_name_the_line() {
    let p = Project::new("[[source]]\nid = \"a\"\nkind = feed\n", FILE_MAIL);
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("sources.toml:3:") && run.stdout.contains("TOML 语法错误"), "{}", run.stdout);
}

#[test]
fn run_refuses_an_invalid_config_without_creating_state() {
    let p = Project::new(&source("a", "missing.xml"), FILE_MAIL);
    let run = p.run(&["run", "--once"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("文件不存在"), "{}", run.stderr);
    assert!(!p.path().join("state").exists());
}

const BAD_CALENDAR: &str = r#"# 节假日
[2026]
holidays = [
    "2026-02-30",
    "2026-02-23..2026-02-15",
    "2026-10-01..2026-10-07",
    "2028-01-01",
    "2026-01-01..2026-03-01",
]
workdays = ["2026-02-16", "2026-10-04", "2026-02-14"]
notice = 7
[twenty]
holidays = []
"#;

#[test]
fn calendar_problems_are_reported_with_line_and_column() {
    let settings = format!(
        "[calendar]\nfile = \"calendar.toml\"\nworking_hours = [\"08:30-12:00\", \"11:00-13:00\", \"17:30-14:00\", \"9点-12点\"]\n{FILE_MAIL}"
    );
    let p = Project::new(&source("a", "feed.xml"), &settings);
    p.write("feed.xml", support::rss(&[]));
    p.write("calendar.toml", BAD_CALENDAR);
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let out = &run.stdout;
    // yuqing.toml: lines 1–7 are the project's own settings, [calendar] starts on line 8.
    let expect = [
        ("yuqing.toml:10:33:", "工作时段 11:00-13:00 与 08:30-12:00 重叠"),
        ("yuqing.toml:10:48:", "工作时段 \"17:30-14:00\" 为空或结束早于开始"),
        ("yuqing.toml:10:63:", "工作时段 \"9点-12点\" 格式不对"),
        ("calendar.toml:4:5:", "\"2026-02-30\" 不是有效的日期"),
        ("calendar.toml:5:5:", "日期范围 \"2026-02-23..2026-02-15\" 结束早于开始"),
        ("calendar.toml:7:5:", "2028-01-01 不在 [2026] 这一年前后"),
        ("calendar.toml:8:5:", "日期范围 \"2026-01-01..2026-03-01\" 长达 60 天"),
        ("calendar.toml:10:13:", "调休上班日 2026-02-16 是星期一，不是周末"),
        ("calendar.toml:10:27:", "2026-10-04 既是放假日又是调休上班日（另见第 6 行）"),
        ("calendar.toml:11:", "\"notice\" 的值应为字符串"),
        ("calendar.toml:12:", "\"twenty\" 不是年份"),
    ];
    for (place, message) in expect {
        let line = out.lines().find(|l| l.contains(place) && l.contains(message));
        assert!(line.is_some(), "missing {place} {message} in:\n{out}");
    }
    assert!(!out.contains("2026-02-14"), "a make-up Saturday is fine:\n{out}");
    let errors = out.lines().filter(|l| l.contains("错误：")).count();
    assert_eq!(errors, expect.len(), "{out}");
    let advice = out.lines().filter(|l| l.trim_start().starts_with("→ ")).count();
    assert!(advice >= errors, "{out}");
}

#[test]
fn a_missing_calendar_file_is_an_error_on_the_line_naming_it() {
    let p = Project::new(&source("a", "feed.xml"), &format!("[calendar]\nfile = \"holidays/cn.toml\"\n{FILE_MAIL}"));
    p.write("feed.xml", support::rss(&[]));
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let line = run.stdout.lines().find(|l| l.contains("yuqing.toml:9:")).unwrap_or_default();
    assert!(
        line.contains("日历文件") && line.contains("holidays/cn.toml") && line.contains("不存在"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("→ 请创建该文件"), "{}", run.stdout);
}

#[test]
fn a_calendar_without_the_current_year_is_a_warning_not_an_error() {
    let p = Project::new(&source("a", "feed.xml"), &format!("[calendar]\nfile = \"calendar.toml\"\n{FILE_MAIL}"));
    p.write("feed.xml", support::rss(&[]));
    p.write("calendar.toml", "[2001]\nholidays = [\"2001-10-01..2001-10-07\"]\nworkdays = [\"2001-09-29\"]\n");
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let year = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).format("%Y").to_string();
    let warning = run.stdout.lines().find(|l| l.contains("calendar.toml: 警告：")).unwrap_or_default();
    assert!(warning.contains(&format!("没有 {year} 年的节假日安排（只有 2001 年）")), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("关于{year}年部分节假日安排的通知")), "{}", run.stdout);
    assert!(run.stdout.lines().last().is_some_and(|l| l.starts_with("配置有效：")), "{}", run.stdout);
    // The shipped calendar in the shipped config directory has no errors (see above), and
    // without a [calendar] there is nothing to warn about.
    let plain = Project::new(&source("a", "feed.xml"), FILE_MAIL);
    plain.write("feed.xml", support::rss(&[]));
    assert!(!plain.run(&["check"]).stdout.contains("警告"));
}

#[test]
fn a_deadline_clock_takes_one_form_only() {
    let deadlines = "[deadlines.IV]\naccept_hours = 4\naccept_working_hours = 4\nresponse_minutes = 0\n";
    let p = Project::new(&source("a", "feed.xml"), &format!("{deadlines}{FILE_MAIL}"));
    p.write("feed.xml", support::rss(&[]));
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let out = &run.stdout;
    let line = out.lines().find(|l| l.contains("yuqing.toml:10:")).unwrap_or_default();
    assert!(line.contains("accept_hours 与 accept_working_hours 重复：“受理”时限只能写一种"), "{out}");
    assert!(out.lines().any(|l| l.contains("yuqing.toml:11:") && l.contains("response_minutes = 0 不是正的分钟数")));
}

#[test]
fn typos_in_rules_are_caught_with_their_line_and_column() {
    let sources = format!("{}\n{}", source("bureau-site", "feed.xml"), source("city-forum", "feed.xml"));
    let p = Project::new(&sources, FILE_MAIL);
    p.write("feed.xml", support::rss(&[]));
    p.write("keywords/flags/rumour.txt", "紧急通知 !source:bureau-sit\n");
    p.write("keywords/rules.txt", "抚恤金\nsource:weibo AND 抚恤金\ntitel:停发\n\"QQ:12345\"\n");
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let out = &run.stdout;
    let expect = [
        ("rumour.txt:1:14: 警告：", "source:bureau-sit 不是已配置的信源", "是不是 source:bureau-site？"),
        (
            "rules.txt:2:8: 警告：",
            "source:weibo 不是已配置的信源",
            "source: 后面写 sources.toml 中信源的 id：bureau-site、city-forum",
        ),
        ("rules.txt:3:1: 错误：", "未知的字段 \"titel:\"", "是不是 title:？"),
    ];
    for (place, message, hint) in expect {
        let at = out.lines().position(|l| l.contains(place) && l.contains(message));
        let next = at.and_then(|i| out.lines().nth(i + 1)).unwrap_or_default();
        assert!(next.contains(hint), "missing {place} {message} / {hint} in:\n{out}");
    }
    assert!(!out.contains("QQ"), "a quoted phrase with a colon is a phrase: {out}");
    assert_eq!(out.lines().filter(|l| l.contains("错误：") || l.contains("警告：")).count(), 3, "{out}");

    // An unknown source alone is a warning: the configuration stays valid.
    p.write("keywords/rules.txt", "抚恤金\nsource:weibo AND 抚恤金\n@section = preferential\n");
    let run = p.run(&["check"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert!(run.stdout.contains("rules.txt:2:8: 警告：source:weibo"), "{}", run.stdout);
    // @section without any [[sections]] names nothing: a warning at its line.
    assert!(
        run.stdout.contains("rules.txt:3:12: 警告：@section = preferential，但 yuqing.toml 中没有 [[sections]]"),
        "{}",
        run.stdout
    );
}
