//! PostgreSQL as the second store backend (issue 19, experimental): the `[storage] url`,
//! its connection (the synchronous `postgres` client, like rusqlite used from blocking
//! threads; [`conn::PgConn`] behind the dialect layer), the schema ([`migrations`]) and the
//! one-off copy of an SQLite store into it ([`copy`]). A `Store` on PostgreSQL
//! (`Store::connect_postgres`) runs the operations written for both backends: the outbox
//! (`store::delivery`), the source state and leases (`store::sources`), the ingest path
//! (`store::ingest`, each commit one transaction; the search table follows
//! `event_documents` by its triggers) and the response workflow (`store::workflow`); the
//! others fail with `StoreError::NotOnPostgres`. Not safe yet for several daemons storing
//! documents: event ids come from each process's in-memory event index (`detect::events`),
//! so two daemons would give two stories the same id and the upsert would merge them.

pub mod conn;
pub mod copy;
pub mod listen;
pub mod migrations;

use std::fmt;

/// A `postgres://` URL from `[storage] url` or `yuqing db migrate-to`: parsed once, shown
/// only with its password hidden.
#[derive(Clone)]
pub struct PgUrl {
    raw: String,
    shown: String,
    config: postgres::Config,
}

/// Why a URL is not one this build can use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PgUrlError {
    #[error("not a postgres:// URL")]
    Scheme,
    #[error("invalid URL: {0}")]
    Syntax(String),
    #[error("TLS (sslmode={0}) is not supported yet")]
    Tls(String),
}

impl PgUrlError {
    pub fn describe_zh(&self) -> String {
        match self {
            PgUrlError::Scheme => {
                "应以 postgres:// 或 postgresql:// 开头，例如 postgres://yuqing@127.0.0.1:5432/yuqing".into()
            }
            PgUrlError::Syntax(e) => format!("无法解析（{e}）"),
            PgUrlError::Tls(mode) => format!(
                "暂不支持 TLS 连接（sslmode={mode}）：请连接本机或内网的 PostgreSQL，去掉 sslmode 或写 sslmode=disable"
            ),
        }
    }
}

impl PgUrl {
    pub fn parse(raw: &str) -> Result<PgUrl, PgUrlError> {
        let raw = raw.trim();
        if !(raw.starts_with("postgres://") || raw.starts_with("postgresql://")) {
            return Err(PgUrlError::Scheme);
        }
        let shown = redact(raw);
        // Parse without letting the password reach an error message.
        let config: postgres::Config =
            raw.parse().map_err(|e: postgres::Error| PgUrlError::Syntax(redact_in(&e.to_string(), raw)))?;
        let mode = query_value(raw, "sslmode");
        if let Some(mode) = mode.filter(|m| !matches!(m.as_str(), "disable" | "prefer" | "allow")) {
            return Err(PgUrlError::Tls(mode));
        }
        if config.get_hosts().is_empty() {
            return Err(PgUrlError::Syntax("没有主机名".into()));
        }
        Ok(PgUrl { raw: raw.to_string(), shown, config })
    }

    /// Connects without TLS (loopback or a trusted network; `sslmode=require` is refused at parse).
    pub fn connect(&self) -> Result<postgres::Client, PgError> {
        self.config.connect(postgres::NoTls).map_err(|source| PgError::Connect { url: self.shown.clone(), source })
    }

    /// The URL as typed, password included: only for handing to the client library.
    pub fn secret(&self) -> &str {
        &self.raw
    }
}

/// Always the redacted form: a `PgUrl` in a log or message never shows its password.
impl fmt::Display for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgUrl({})", self.shown)
    }
}

impl PartialEq for PgUrl {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`; also a `password=` query
/// parameter. Anything unparsable is shown as the scheme only.
pub fn redact(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return raw.split("://").next().map(|s| format!("{s}://…")).unwrap_or_default();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    if url.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" { "***".to_string() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// `message` with any password of `raw` replaced (the client library may quote the input).
fn redact_in(message: &str, raw: &str) -> String {
    let mut out = message.to_string();
    if let Ok(url) = url::Url::parse(raw) {
        if let Some(p) = url.password().filter(|p| !p.is_empty()) {
            out = out.replace(p, "***");
        }
        for (k, v) in url.query_pairs() {
            if k == "password" && !v.is_empty() {
                out = out.replace(v.as_ref(), "***");
            }
        }
    }
    out
}

fn query_value(raw: &str, key: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    url.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("cannot connect to {url}: {source}")]
    Connect { url: String, source: postgres::Error },
    #[error("PostgreSQL error: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store error: {0}")]
    Store(#[from] super::StoreError),
    #[error("PostgreSQL schema version {found} is newer than this program knows ({known}); upgrade yuqing")]
    TooNew { found: i64, known: i64 },
    #[error("the target database already holds data ({table}: {rows} rows)")]
    NotEmpty { table: String, rows: i64 },
    #[error("table {table}: {source_rows} rows in SQLite but {target_rows} copied")]
    CountMismatch { table: String, source_rows: i64, target_rows: i64 },
    #[error("SQLite table {table} has a column {column} the PostgreSQL schema lacks")]
    SchemaDrift { table: String, column: String },
}

impl PgError {
    pub fn describe_zh(&self) -> String {
        match self {
            PgError::Connect { url, source } => {
                format!("无法连接 PostgreSQL {url}：{}（{}）", connect_zh(source), pg_detail(source))
            }
            PgError::Postgres(e) => format!("PostgreSQL 出错（{}）", pg_detail(e)),
            PgError::Sqlite(e) => format!("读取 SQLite 数据库出错（{e}）"),
            PgError::Store(e) => e.describe_zh(),
            PgError::TooNew { found, known } => {
                format!("PostgreSQL 中的结构版本 {found} 比本程序支持的 {known} 新，请升级 yuqing")
            }
            PgError::NotEmpty { table, rows } => format!(
                "目标数据库已有数据（表 {table} 有 {rows} 行），未复制；请换一个空数据库，或确认可以清空后加 --force"
            ),
            PgError::CountMismatch { table, source_rows, target_rows } => {
                format!(
                    "表 {table} 核对失败：SQLite 有 {source_rows} 行，复制后为 {target_rows} 行；已回滚，目标数据库未改变"
                )
            }
            PgError::SchemaDrift { table, column } => {
                format!("SQLite 表 {table} 的列 {column} 在 PostgreSQL 结构中没有对应：请升级 yuqing")
            }
        }
    }
}

/// The server's own message (SQLSTATE and text) or the client's, never the URL.
pub(crate) fn pg_detail(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

fn connect_zh(e: &postgres::Error) -> &'static str {
    use postgres::error::SqlState;
    match e.code() {
        Some(c) if *c == SqlState::INVALID_PASSWORD || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
            "用户名或密码不对"
        }
        Some(c) if *c == SqlState::INVALID_CATALOG_NAME => "数据库不存在，请先用 createdb 建立",
        Some(_) => "服务器拒绝了连接",
        None => "连不上服务器：请检查主机、端口，以及 PostgreSQL 是否在运行",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        let url = PgUrl::parse("postgres://yuqing:s3cret@127.0.0.1:5432/yuqing").expect("parses");
        assert_eq!(url.to_string(), "postgres://yuqing:***@127.0.0.1:5432/yuqing");
        assert!(!format!("{url:?}").contains("s3cret"));
        let url =
            PgUrl::parse("postgres://yuqing@db.internal/yuqing?password=hunter2&connect_timeout=5").expect("parses");
        assert!(!url.to_string().contains("hunter2"), "{url}");
        assert!(url.to_string().contains("connect_timeout=5"));
    }

    #[test]
    fn other_schemes_and_tls_are_refused() {
        assert_eq!(PgUrl::parse("mysql://x@h/db"), Err(PgUrlError::Scheme));
        assert_eq!(PgUrl::parse("state/yuqing.db"), Err(PgUrlError::Scheme));
        assert_eq!(PgUrl::parse("postgres://u@h/db?sslmode=require"), Err(PgUrlError::Tls("require".into())));
        assert!(PgUrl::parse("postgres://u@h/db?sslmode=disable").is_ok());
        let bad = PgUrl::parse("postgres://u:pw9@h:notaport/db");
        assert!(matches!(&bad, Err(PgUrlError::Syntax(m)) if !m.contains("pw9")), "{bad:?}");
    }
}
