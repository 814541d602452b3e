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
