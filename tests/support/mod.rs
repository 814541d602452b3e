//! Test harness: a loopback HTTP server serving fixtures with scripted behaviour, a real
//! SMTP server (aiosmtpd, from Debian's python3-aiosmtpd) writing a Maildir, and a config
//! directory builder that runs the real `yuqing` binary.

#![allow(dead_code)]
// Test harness helpers outside #[test] functions: a failed expectation here is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod pg;

// ---------------------------------------------------------------- HTTP server

/// How one path answers.
#[derive(Clone, Default)]
pub struct Route {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// Answer 304 when the request's If-None-Match equals this.
    pub etag: Option<String>,
    /// Sent as Last-Modified; answer 304 when If-Modified-Since equals it.
    pub last_modified: Option<String>,
    /// Sleep before answering.
    pub delay: Duration,
    /// Send the body gzip-compressed with Content-Encoding: gzip.
    pub gzip: bool,
    /// Omit Content-Length and close the connection after the body.
    pub no_length: bool,
    /// Extra headers such as Location.
    pub headers: Vec<(String, String)>,
}

impl Route {
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Route { status: 200, content_type: Some(content_type.into()), body: body.into(), ..Route::default() }
    }

    pub fn status(status: u16) -> Self {
        Route { status, body: b"error".to_vec(), ..Route::default() }
    }
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub path: String,
    pub headers: HashMap<String, String>,
    /// The request body (read up to its Content-Length).
    pub body: Vec<u8>,
    /// When its head had arrived, on the wall clock.
    pub at: std::time::SystemTime,
}

pub struct HttpServer {
    pub addr: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
    stop: Arc<AtomicBool>,
    /// Requests being answered now, and the most there ever were at once.
    load: Arc<(AtomicUsize, AtomicUsize)>,
}

impl HttpServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let seen: Arc<Mutex<Vec<SeenRequest>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let load: Arc<(AtomicUsize, AtomicUsize)> = Arc::default();
        let (r, s, st, l) = (routes.clone(), seen.clone(), stop.clone(), load.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (r, s, l) = (r.clone(), s.clone(), l.clone());
                std::thread::spawn(move || serve(stream, &r, &s, &l));
            }
        });
        HttpServer { addr, routes, seen, stop, load }
    }

    /// The most requests this server was answering at the same moment.
    pub fn max_concurrent(&self) -> usize {
        self.load.1.load(Ordering::SeqCst)
    }

    pub fn route(&self, path: &str, route: Route) {
        self.routes.lock().expect("routes").insert(path.to_string(), route);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn requests(&self, path: &str) -> Vec<SeenRequest> {
        self.seen.lock().expect("seen").iter().filter(|r| r.path == path).cloned().collect()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(
    mut stream: TcpStream,
    routes: &Mutex<HashMap<String, Route>>,
    seen: &Mutex<Vec<SeenRequest>>,
    load: &(AtomicUsize, AtomicUsize),
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let mut lines = head.split("\r\n");
    let path = lines.next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("/").to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; length.min(1 << 20)];
    if stream.read_exact(&mut body).is_err() {
        body.clear();
    }
    let at = std::time::SystemTime::now();
    seen.lock().expect("seen").push(SeenRequest { path: path.clone(), headers: headers.clone(), body, at });
    let route = routes.lock().expect("routes").get(&path).cloned().unwrap_or_else(|| Route::status(404));
    // A request counts as in flight from its head to just before its answer: the client
    // cannot start its next request before then, so the count never overstates.
    let now = load.0.fetch_add(1, Ordering::SeqCst) + 1;
    load.1.fetch_max(now, Ordering::SeqCst);
    std::thread::sleep(route.delay);
    load.0.fetch_sub(1, Ordering::SeqCst);
    let etag_match = route.etag.is_some() && headers.get("if-none-match") == route.etag.as_ref();
    let date_match = route.last_modified.is_some() && headers.get("if-modified-since") == route.last_modified.as_ref();
    if etag_match || date_match {
        let _ = stream.write_all(b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n");
        return;
    }
    let mut body = route.body.clone();
    let mut extra = String::new();
    if route.gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&body).expect("gzip");
        body = enc.finish().expect("gzip");
        extra.push_str("Content-Encoding: gzip\r\n");
    }
    if let Some(ct) = &route.content_type {
        extra.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    if let Some(etag) = &route.etag {
        extra.push_str(&format!("ETag: {etag}\r\n"));
    }
    if let Some(lm) = &route.last_modified {
        extra.push_str(&format!("Last-Modified: {lm}\r\n"));
    }
    for (k, v) in &route.headers {
        extra.push_str(&format!("{k}: {v}\r\n"));
    }
    if !route.no_length {
        extra.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    let head = format!("HTTP/1.1 {} X\r\nConnection: close\r\n{extra}\r\n", route.status);
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

// ---------------------------------------------------------------- SMTP server

/// A port on loopback that nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// aiosmtpd writing every received message to `<dir>/new/`.
pub struct SmtpServer {
    pub port: u16,
    pub maildir: PathBuf,
    child: Child,
}

impl SmtpServer {
    pub fn start(port: u16, maildir: &Path) -> Self {
        Self::start_with(port, maildir, &[])
    }

    /// With extra aiosmtpd arguments, e.g. `--tlscert`/`--tlskey` for STARTTLS or
    /// `--smtpscert`/`--smtpskey` for implicit TLS.
    pub fn start_with(port: u16, maildir: &Path, extra: &[&str]) -> Self {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
        }
        // Debian's interpreter: the pyenv python3 on PATH cannot see python3-aiosmtpd.
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(extra)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd (apt-get install python3-aiosmtpd)");
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start listening on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer { port, maildir: maildir.to_path_buf(), child }
    }

    /// aiosmtpd with [`FLAKY_HANDLER`]: every `every`-th transaction is refused with a
    /// transient `451` after its data (0: none), and `<maildir>/stats` holds the most
    /// transactions the server had open at once and how many it saw (`"MOST SEEN"`).
    pub fn start_flaky(port: u16, maildir: &Path, every: usize) -> Self {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
        }
        let lib = maildir.join("lib");
        std::fs::create_dir_all(&lib).expect("lib dir");
        std::fs::write(lib.join("flaky_smtp.py"), FLAKY_HANDLER).expect("handler");
        let child = Command::new("/usr/bin/python3")
            .env("PYTHONPATH", &lib)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "flaky_smtp.Flaky"])
            .arg(maildir)
            .arg(every.to_string())
            .arg(maildir.join("stats"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd (apt-get install python3-aiosmtpd)");
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start listening on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer { port, maildir: maildir.to_path_buf(), child }
    }

    /// `(most transactions open at once, transactions seen)` of a [`SmtpServer::start_flaky`].
    pub fn stats(&self) -> (usize, usize) {
        let text = std::fs::read_to_string(self.maildir.join("stats")).unwrap_or_default();
        let mut numbers = text.split_whitespace().map(|n| n.parse().expect("number"));
        (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0))
    }

    /// Raw received messages, in file-name order.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(self.maildir.join("new")).expect("maildir").map(|e| e.expect("entry").path()).collect();
        files.sort();
        files.iter().map(|f| std::fs::read_to_string(f).expect("message")).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An aiosmtpd handler (a Maildir like `aiosmtpd.handlers.Mailbox`) that refuses every
/// `every`-th transaction with `451` after reading its data, and records in `stats` the most
/// transactions (MAIL FROM … end of data) it had open at once and how many it saw.
pub const FLAKY_HANDLER: &str = r#"
from aiosmtpd.handlers import Mailbox

class Flaky(Mailbox):
    def __init__(self, mail_dir, every, stats):
        super().__init__(mail_dir)
        self.every, self.stats = int(every), stats
        self.open = self.most = self.seen = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.open += 1
        self.most = max(self.most, self.open)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RSET(self, server, session, envelope):
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.open = max(0, self.open - 1)
        self.seen += 1
        try:
            if self.every and self.seen % self.every == 0:
                return "451 4.3.0 Temporary failure, try again later"
            return await super().handle_DATA(server, session, envelope)
        finally:
            with open(self.stats, "w") as f:
                f.write(f"{self.most} {self.seen}\n")

    @classmethod
    def from_cli(cls, parser, *args):
        return cls(*args)
"#;

/// The value of a header in a raw message (first occurrence, folded lines joined).
pub fn header(message: &str, name: &str) -> Option<String> {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    let mut lines = message.lines().peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            return None;
        }
        if line.to_ascii_lowercase().starts_with(&prefix) {
            let mut value = line[prefix.len()..].trim().to_string();
            while let Some(next) = lines.peek().filter(|l| l.starts_with(' ') || l.starts_with('\t')) {
                value.push(' ');
                value.push_str(next.trim());
                lines.next();
            }
            return Some(value);
        }
    }
    None
}

/// Decodes an RFC 2047 header value (what lettre writes for Chinese subjects):
/// `=?utf-8?b?...?=` words are decoded, whitespace between two encoded words is dropped,
/// other whitespace is kept.
pub fn decode_words(value: &str) -> String {
    use base64::Engine;
    let mut out = String::new();
    let mut previous_encoded = false;
    for token in value.split_whitespace() {
        let decoded = token.strip_prefix("=?utf-8?b?").and_then(|t| t.strip_suffix("?=")).map(|b64| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).expect("base64 word");
            String::from_utf8(bytes).expect("utf-8 word")
        });
        match decoded {
            Some(text) => {
                if !previous_encoded && !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&text);
                previous_encoded = true;
            }
            None => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(token);
                previous_encoded = false;
            }
        }
    }
    out
}

// ---------------------------------------------------------------- config dir + binary

pub struct Project {
    pub dir: tempfile::TempDir,
}

pub const KEYWORDS: &str = "# 拥军优抚\n抚恤金\n优抚对象  # trailing comment\n\n烈士陵园\n";

impl Project {
    /// A config dir with the given sources.toml body, `[mail]` section and one keyword list.
    pub fn new(sources: &str, mail: &str) -> Self {
        let p = Project { dir: tempfile::tempdir().expect("tempdir") };
        p.write(
            "yuqing.toml",
            format!(
                "timezone = \"Asia/Shanghai\"\n[storage]\npath = \"state/yuqing.db\"\n[fetch]\ntimeout_secs = 2\nconnect_timeout_secs = 2\nmax_body_bytes = 65536\n{mail}"
            ),
        );
        p.write("sources.toml", sources);
        p.write("keywords/preferential.txt", KEYWORDS);
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_yuqing"));
        cmd.arg("--config").arg(self.dir.path()).env("YUQING_LOG", "info");
        cmd
    }

    /// Runs `yuqing --config DIR <args>` to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command().args(args).output().expect("run yuqing");
        Run::from(output)
    }

    /// Starts `yuqing run` (the daemon) in the background.
    pub fn spawn_daemon(&self) -> Child {
        self.command().arg("run").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn daemon")
    }

    pub fn store(&self) -> yuqing::store::Store {
        yuqing::store::Store::open(&self.dir.path().join("state/yuqing.db")).expect("open store")
    }
}

pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// The summary line printed for one source by `run --once`.
    pub fn source_line(&self, id: &str) -> String {
        let needle = format!("] {id}（");
        self.stdout
            .lines()
            .find(|l| l.contains(&needle))
            .map(|l| l.trim().to_string())
            .unwrap_or_else(|| panic!("no summary line for {id} in:\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }
}

/// Polls `cond` every 50 ms until it holds or `limit` passes.
pub fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One `[[source]]` table.
pub fn source(id: &str, url: &str) -> String {
    format!("[[source]]\nid = \"{id}\"\nname = \"测试信源 {id}\"\nkind = \"feed\"\nurl = \"{url}\"\n\n")
}

/// A publication time one hour before this test process started, to the minute, as the
/// fixtures write it (Beijing time, `YYYY-MM-DD HH:MM`): fixtures are dated relative to the
/// test's own clock, so the event window and the reaction window hold whatever day the
/// suite runs (`scripts/test-clock.sh` runs it a month and a year ahead).
pub fn published() -> String {
    ago(60)
}

/// The time `minutes` before this test process started, to the minute, in Beijing time.
pub fn ago(minutes: i64) -> String {
    use std::sync::OnceLock;
    static START: OnceLock<chrono::DateTime<chrono::Utc>> = OnceLock::new();
    let start = *START.get_or_init(chrono::Utc::now);
    (start - chrono::Duration::minutes(minutes))
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// An RSS 2.0 feed with items `(guid, title, description)`, published at [`published`].
pub fn rss(items: &[(&str, &str, &str)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>测试</title><link>https://example.gov.cn/</link>\n",
    );
    for (guid, title, description) in items {
        out.push_str(&format!(
            "<item><title>{title}</title><link>https://example.gov.cn/news/{guid}.html</link><guid>{guid}</guid><description>{description}</description><pubDate>{}:00</pubDate></item>\n",
            published()
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// An RSS feed of `(guid, title, description)` items published at [`published`], each
/// linked at `{link_base}{guid}`.
pub fn feed_linked<G: AsRef<str>, T: AsRef<str>, D: AsRef<str>>(link_base: &str, items: &[(G, T, D)]) -> String {
    let when = published();
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>t</title>\n");
    for (guid, title, description) in items {
        let (guid, title, description) = (guid.as_ref(), title.as_ref(), description.as_ref());
        out.push_str(&format!(
            "<item><title>{title}</title><link>{link_base}{guid}</link><guid>{guid}</guid><description>{description}</description><pubDate>{when}:00</pubDate></item>\n"
        ));
    }
    out + "</channel></rss>\n"
}

pub const FILE_MAIL: &str = "[mail]\ntransport = \"file\"\noutbox_dir = \"outbox\"\nfrom = \"舆情监测 <yuqing@example.gov.cn>\"\nto = [\"gkb@example.gov.cn\"]\n";

/// `[mail]` over plain SMTP to loopback, with quick retries for tests.
pub fn smtp_mail(port: u16) -> String {
    format!(
        "[mail]\ntransport = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"舆情监测 <yuqing@example.gov.cn>\"\nto = [\"gkb@example.gov.cn\", \"liaison@example.gov.cn\"]\ntimeout_secs = 5\nretry_initial_secs = 1\nretry_max_secs = 2\n"
    )
}

pub fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "eml")).collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The decoded `text/plain` part of a raw message written by lettre.
pub fn text_part(message: &str) -> String {
    use base64::Engine;
    let start = message.find("Content-Type: text/plain").expect("text/plain part");
    let part = &message[start..];
    let encoding = header(part, "Content-Transfer-Encoding").unwrap_or_default().to_ascii_lowercase();
    let body_start =
        part.find("\r\n\r\n").map(|i| i + 4).or_else(|| part.find("\n\n").map(|i| i + 2)).expect("part body");
    let body: Vec<&str> = part[body_start..].lines().take_while(|l| !l.starts_with("--")).collect();
    if encoding == "base64" {
        let joined: String = body.concat().chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD.decode(joined).expect("base64 body");
        String::from_utf8(bytes).expect("utf-8 body")
    } else {
        body.join("\n")
    }
}

/// A throwaway CA and a `localhost` server certificate signed by it (openssl CLI).
/// Returns (ca.pem, leaf.pem, leaf.key). rustls rejects a self-signed CA:TRUE
/// certificate as a server certificate, hence the two levels.
pub fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=yuqing test CA"],
    ]
    .concat());
    run(&[&["req"][..], &ec, &["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost"]].concat());
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    (dir.join("ca.pem"), dir.join("leaf.pem"), dir.join("leaf.key"))
}

/// A small organisation for routing and escalation tests: principal chen, the openness
/// office (liaison xu) and 拥军优抚科 (liaison wang, head li, leader in charge chen).
pub const ORG: &str = r#"principal = "chen"
gkb = "office"
[[people]]
id = "chen"
name = "陈局长"
email = "chen@example.gov.cn"
[[people]]
id = "wang"
name = "王科员"
email = "wang@example.gov.cn"
[[people]]
id = "li"
name = "李科长"
email = "li@example.gov.cn"
[[people]]
id = "xu"
name = "许科员"
email = "xu@example.gov.cn"
[[sections]]
id = "office"
head = "chen"
liaison = "xu"
[[sections]]
id = "preferential"
name = "拥军优抚科"
liaison = "wang"
head = "li"
leader_in_charge = "chen"
"#;

impl Project {
    /// A config dir like [`Project::new`] with file mail, whose yuqing.toml also holds [`ORG`].
    pub fn with_org(sources: &str) -> Self {
        let p = Project::new(sources, FILE_MAIL);
        p.write("yuqing.toml", format!("{ORG}\n[storage]\npath = \"state/yuqing.db\"\n{FILE_MAIL}"));
        p
    }
}

// ---------------------------------------------------------------- a daemon whose log is read

/// `yuqing run` in the background with its stderr collected as it is written (a full pipe
/// would block the daemon), killed on drop.
pub struct Daemon {
    pub child: Child,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    pub fn start(p: &Project) -> Self {
        Self::start_with(p.command().arg("run"))
    }

    pub fn start_with(cmd: &mut Command) -> Self {
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn daemon");
        let log: Arc<Mutex<String>> = Arc::default();
        let mut stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().expect("log").push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Daemon { child, log }
    }

    /// The daemon, once its `[http]` endpoint listens and a source run made an event
    /// (generous limits: the suite runs many daemons at once on a small machine).
    pub fn start_with_an_event(p: &Project) -> Self {
        let mut daemon = Self::start(p);
        daemon.wait_log(Duration::from_secs(60), "http endpoint listening", 1);
        let deadline = Instant::now() + Duration::from_secs(90);
        while !p.store().recent_events(1).map(|e| !e.is_empty()).unwrap_or(false) {
            assert!(daemon.running(), "the daemon exited:\n{}", daemon.log());
            assert!(Instant::now() < deadline, "no event after 90 s; the daemon said:\n{}", daemon.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        daemon
    }

    /// Everything the daemon wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    /// Waits until the log contains `needle` at least `times` times.
    pub fn wait_log(&mut self, limit: Duration, needle: &str, times: usize) {
        let deadline = Instant::now() + limit;
        while self.log().matches(needle).count() < times {
            assert!(self.running(), "the daemon exited while waiting for {needle:?}:\n{}", self.log());
            assert!(Instant::now() < deadline, "timed out waiting for {needle:?} x{times} in:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args(["-s", signal, &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success(), "kill -s {signal}");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(status, body)` of a GET to the daemon's endpoint on loopback.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return (0, String::new()) };
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}
