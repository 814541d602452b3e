//! The store: the only code that speaks SQL. SQLite is the default backend; PostgreSQL
//! (`pg`) runs the operations ported so far behind the dialect layer (`sql`): the outbox
//! (`delivery`), the source state of every poll with the source leases (`sources`:
//! validators, health, 304s, failures, health notices, every source's state), the ingest
//! path (`ingest`: [`Store::commit_run`], [`Store::commit_documents`] and [`Store::unseen`]
//! — documents, keys, hits, flags, negativity, events with their grade, the alerts and
//! SMS/IM extras queued with them, a successful run's source state; on SQLite the ingest
//! writes run inside `Store::in_run`, group commit, `group`), and the response workflow
//! (`workflow`: actions and their withdrawals, downgrades, mutes, the delivery's guard, an
//! event's state and the ladder's events; `workflow::apply`'s checks still take a `Store`),
//! the briefing log (`briefings`: a due time claimed once), retention (`retention`: prune,
//! its dry run, the daemon's flags), the policy watch (`policies`: scans, documents,
//! levels, a change recorded once), the console's rows (`console`), the CLI's reads
//! (`read`), the gauges (`gauges`), the reports' reads (`report`), search (`search`:
//! FTS5 on SQLite, `ILIKE` over the search table on PostgreSQL), events (`events`: the
//! index's seeds, event reads, splits, regrades), export files (`exports`: commits,
//! re-judged posts, engagement, comments) and `event show`'s timeline (`timeline`).
//! SQLite only: group commit (`group`) and the file checks of `maintenance` and `disk`.
//!
//! One file, WAL journal, a busy timeout, versioned migrations. The daemon keeps a single
//! writer `Store` behind a mutex; readers (`yuqing hits`, `yuqing sources`) open their own
//! connection. Everything a source run produces — new documents, their keys, hits and
//! queued alerts, and the source's new cache validators — is written in one transaction,
//! so a crash leaves either all of it or none. Times are stored as Unix seconds (UTC).

mod briefings;
mod console;
mod delivery;
pub mod disk;
mod events;
mod exports;
mod gauges;
mod group;
mod ids;
mod ingest;
mod instances;
mod links;
pub mod maintenance;
mod migrations;
mod outbox;
pub mod pg;
mod policies;
mod read;
mod report;
mod retention;
mod search;
mod shared;
mod sources;
pub mod sql;
mod timeline;
mod workflow;

pub use console::{ConsoleSession, EventSignals};
pub use delivery::{Lease, Outbox};
pub use search::{SearchHit, SearchQuery};
pub use shared::with_store;
pub use sources::{DueSource, SourceStates, lease_secs_for};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

pub use briefings::{BriefingLogged, BriefingRecord};

/// A stored unix time (seconds) as a time; 1970 for a value out of range.
fn time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}
pub use events::{EventSummary, PathStep};
pub use exports::{ExportBatch, ExportCommitted};
pub use gauges::Gauges;
pub use group::GroupPolicy;
pub use ids::EVENT_ID_BLOCK;
pub use links::LinkUse;
pub use outbox::{AttemptRow, OutboxFilter, OutboxRow, OutboxStatus};
pub use policies::{NewPolicyLevel, PolicyDocument, PolicyLevelRow, PolicyMatch, PolicyScan, ScannedDocument};
pub use read::{HitRow, SourceState};
pub use report::{ActionRecord, ReportEvent};
pub use retention::{PruneReport, Retention};
pub use timeline::{ActionEntry, AlertEntry, EventDetail, Timeline};
pub use workflow::{Action, Downgraded, EventState, LadderEvent, Withdraw, Workflow};

use crate::detect::events::Assignment;
use crate::model::Validators;
use crate::model::{AlertMessage, Document, Flag, Hit, Negativity, SourceNotice};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the state directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("database schema version {found} is newer than this program knows ({known}); upgrade yuqing")]
    TooNew { found: usize, known: usize },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL error: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("SQL not portable: {0}")]
    Dialect(#[from] sql::DialectError),
    #[error("expected a row that is not there: {0}")]
    NoRow(String),
    #[error("corrupt value in the database: {0}")]
    Corrupt(String),
    #[error("the database {0} does not exist")]
    Missing(PathBuf),
    #[error("{0} already exists; choose a new file name")]
    TargetExists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the database stayed locked; try again")]
    Busy,
    #[error("the database lock is poisoned (a previous writer panicked)")]
    Poisoned,
    #[error("database task failed: {0}")]
    Task(String),
    #[error("this operation is not available on PostgreSQL yet ({0})")]
    NotOnPostgres(String),
}

impl StoreError {
    /// The message for staff: what went wrong in Chinese, SQLite's or the system's words after.
    pub fn describe_zh(&self) -> String {
        match self {
            StoreError::CreateDir { path, source } => {
                format!(
                    "无法创建数据目录 {}：{}；请检查 yuqing.toml 中 [storage] path 的目录（{source}）",
                    path.display(),
                    io_zh(source)
                )
            }
            StoreError::TooNew { found, known } => {
                format!("数据库结构版本 {found} 比本程序支持的 {known} 新，请升级 yuqing")
            }
            StoreError::Sqlite(e) => format!("{}（SQLite：{e}）", sqlite_zh(e)),
            StoreError::Postgres(e) => format!("PostgreSQL 数据库操作失败（{}）", pg::pg_detail(e)),
            StoreError::Dialect(e) => format!("程序内部的 SQL 无法转换为 PostgreSQL 语句，请报告此问题（{e}）"),
            StoreError::NoRow(m) => format!("数据库中缺少应有的记录（{m}）"),
            StoreError::Corrupt(m) => format!("数据库中的数据已损坏（{m}）"),
            StoreError::Missing(path) => format!("数据库 {} 不存在", path.display()),
            StoreError::TargetExists(path) => format!("{} 已存在，未覆盖；请换一个文件名", path.display()),
            StoreError::Io { path, source } => format!("无法写入 {}：{}（{source}）", path.display(), io_zh(source)),
            StoreError::Busy => "数据库一直被其他程序锁定，请稍后再试".into(),
            StoreError::Poisoned => "数据库连接在一次写入崩溃后不可再用，请重启 yuqing".into(),
            StoreError::Task(m) => format!("数据库操作中断（{m}）"),
            StoreError::NotOnPostgres(at) => {
                format!("此功能暂不支持 PostgreSQL 存储，请改用 SQLite（[storage] path）或升级 yuqing（{at}）")
            }
        }
    }

    /// Whether SQLite says the file is damaged (or not a database at all).
    pub fn is_corruption(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(e.code, rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            }
            StoreError::Corrupt(_) => true,
            _ => false,
        }
    }
}

/// What an I/O error means, in Chinese.
fn io_zh(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => "路径或其所在目录不存在",
        K::PermissionDenied => "没有权限（守护进程的用户需要可写）",
        K::StorageFull => "磁盘已满",
        K::ReadOnlyFilesystem => "文件系统是只读的",
        K::AlreadyExists | K::NotADirectory => "路径中有一个同名的文件，不是目录",
        _ => "读写失败",
    }
}

/// What a SQLite error means, in Chinese.
fn sqlite_zh(e: &rusqlite::Error) -> &'static str {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::CannotOpen) => "无法打开或创建数据库文件：请检查路径所在目录是否存在、是否可写",
        Some(C::ReadOnly) => "数据库是只读的：请检查文件权限",
        Some(C::PermissionDenied) => "没有权限访问数据库文件",
        Some(C::DiskFull) => "磁盘已满",
        Some(C::DatabaseBusy | C::DatabaseLocked) => "数据库被其他程序锁定，请稍后再试",
        Some(C::DatabaseCorrupt | C::NotADatabase) => "数据库文件已损坏，或不是数据库",
        Some(C::SystemIoFailure) => "读写数据库文件失败（磁盘或文件系统错误）",
        _ => "数据库操作失败",
    }
}

/// A new document with its hits and, if it should alert, the rendered alert.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub document: Document,
    pub hits: Vec<Hit>,
    pub flags: Vec<Flag>,
    pub negativity: Option<Negativity>,
    /// Why it is 待核实 (to verify), when it is ([`crate::rumour::settle`]).
    pub to_verify: Option<String>,
    /// The event a matched document joined or started.
    pub event: Option<Assignment>,
    pub alert: Option<AlertMessage>,
    /// SMS and IM notifications about its event (per `[delivery]`), queued with the alert.
    pub extra: Vec<AlertMessage>,
}

/// What one committed source run added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Committed {
    pub documents: usize,
    pub hits: usize,
    pub alerts: usize,
}

impl std::ops::AddAssign for Committed {
    fn add_assign(&mut self, more: Committed) {
        self.documents += more.documents;
        self.hits += more.hits;
        self.alerts += more.alerts;
    }
}

pub struct Store {
    conn: Conn,
    /// Set on the daemon's SQLite store: its source runs share transactions ([`group`]).
    group: Option<group::Grouping>,
}

/// The connection a store speaks through: an SQLite file, or a PostgreSQL database with the
/// lease its claims take (outbox rows, source runs). The PostgreSQL client needs `&mut` even
/// to read, where `Store`'s reads take `&self`, so it sits in a `RefCell`: a store is used by
/// one thread at a time (the daemon's is behind a mutex), and a handle (`outbox()`,
/// `sources()`, `workflow()`, [`Store::db`]) holds the connection while it lives.
enum Conn {
    Sqlite(Connection),
    Postgres { conn: Box<std::cell::RefCell<pg::conn::PgConn>>, lease: Lease },
}

/// The connection of a store behind the dialect layer, for one operation ([`Store::db`]).
pub(crate) enum DbRef<'a> {
    Sqlite(sql::Sqlite<'a>),
    Postgres(std::cell::RefMut<'a, pg::conn::PgConn>),
}

impl DbRef<'_> {
    pub(crate) fn db(&mut self) -> &mut dyn sql::Db {
        match self {
            DbRef::Sqlite(s) => s,
            DbRef::Postgres(c) => &mut **c,
        }
    }

    /// The connection for statements (`rows`, `first`, `one`, `execute`).
    pub(crate) fn exec(&mut self) -> &mut dyn sql::Exec {
        self.db()
    }
}

/// The WAL is copied back into the database after this many pages (SQLite's default:
/// 1000, 4 MB), each checkpoint with an fsync. A cold poll of 10,000 feeds writes about
/// 2.8 GB through the WAL; checkpointing a tenth as often wrote 7 % less and synced a tenth
/// as often, for a WAL file of up to ~40 MB between checkpoints (BENCHMARKS.md; the time
/// saved was within the shared VM's noise).
const WAL_CHECKPOINT_PAGES: i64 = 10_000;

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|source| StoreError::CreateDir { path: parent.to_path_buf(), source })?;
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        set_wal(&conn)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrations::migrate(&mut conn)?;
        Ok(Self { conn: Conn::Sqlite(conn), group: None })
    }

    /// Connects to a PostgreSQL database and brings its schema up to date; its claims
    /// (outbox rows, source runs) are taken under `lease`.
    pub fn connect_postgres(url: &pg::PgUrl, lease: Lease) -> Result<Self, pg::PgError> {
        Store::with_pg_client(url.connect()?, lease)
    }

    /// A store on a connected PostgreSQL client, its schema migrated.
    pub fn with_pg_client(mut client: postgres::Client, lease: Lease) -> Result<Self, pg::PgError> {
        pg::migrations::migrate(&mut client)?;
        let conn = Box::new(std::cell::RefCell::new(pg::conn::PgConn::new(client)));
        Ok(Self { conn: Conn::Postgres { conn, lease }, group: None })
    }

    /// Which SQL this store speaks.
    pub fn dialect(&self) -> sql::Dialect {
        match self.conn {
            Conn::Sqlite(_) => sql::Dialect::Sqlite,
            Conn::Postgres { .. } => sql::Dialect::Postgres,
        }
    }

    /// The connection behind the dialect layer. Does not commit an open group of source
    /// runs (reads see its rows); a write outside the ingest path calls [`Store::flush`]
    /// first, as [`Store::write`] does.
    pub(crate) fn db(&self) -> DbRef<'_> {
        match &self.conn {
            Conn::Sqlite(c) => DbRef::Sqlite(sql::Sqlite(c)),
            Conn::Postgres { conn, .. } => DbRef::Postgres(conn.borrow_mut()),
        }
    }

    /// Runs `write` in one transaction on either backend, committing an open group of
    /// source runs first. For writes outside the ingest path.
    pub(crate) fn write<R>(
        &self,
        write: impl FnOnce(&mut dyn sql::Exec) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.flush()?;
        sql::in_tx(self.db().db(), write)
    }

    /// The SQLite connection, for the operations not yet written for both backends; on
    /// PostgreSQL they fail with [`StoreError::NotOnPostgres`] naming the caller.
    #[track_caller]
    fn lite(&self) -> Result<&Connection, StoreError> {
        match &self.conn {
            Conn::Sqlite(c) => Ok(c),
            Conn::Postgres { .. } => Err(StoreError::NotOnPostgres(std::panic::Location::caller().to_string())),
        }
    }

    /// [`Store::lite`], mutably (transactions).
    #[track_caller]
    fn lite_mut(&mut self) -> Result<&mut Connection, StoreError> {
        match &mut self.conn {
            Conn::Sqlite(c) => Ok(c),
            Conn::Postgres { .. } => Err(StoreError::NotOnPostgres(std::panic::Location::caller().to_string())),
        }
    }

    /// The validators to send with the next conditional GET of a source.
    pub fn validators(&self, source_id: &str) -> Result<Validators, StoreError> {
        self.sources().validators(source_id)
    }

    /// How many entries the source's last successful run parsed, if it ever had one.
    pub fn last_entries(&self, source_id: &str) -> Result<Option<u64>, StoreError> {
        self.sources().last_entries(source_id)
    }

    /// The last time a run of the source was attempted, if ever.
    pub fn last_attempt(&self, source_id: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.sources().last_attempt(source_id)
    }

    /// Keeps only documents none of whose keys has been seen before.
    pub fn unseen(&self, documents: Vec<Document>) -> Result<Vec<Document>, StoreError> {
        let conn = match &self.conn {
            Conn::Sqlite(conn) => conn,
            Conn::Postgres { conn, .. } => return ingest::unseen(&mut *conn.borrow_mut(), documents),
        };
        // One read transaction for all lookups: one lock instead of one per statement (an
        // open group of runs is one already, and holds keys not yet committed).
        let tx = match conn.is_autocommit() {
            true => Some(conn.unchecked_transaction()?),
            false => None,
        };
        let out = ingest::unseen(&mut sql::Sqlite(conn), documents)?;
        if let Some(tx) = tx {
            tx.finish()?;
        }
        Ok(out)
    }

    /// Stores one batch of a run's new documents in one transaction (checked again inside
    /// it), with their keys, hits and alerts, but not the source's state: a run of many
    /// documents commits them in bounded batches and its state with the last
    /// ([`Store::commit_run`]). The source's `last_new_at` moves when any was new.
    pub fn commit_documents(
        &mut self,
        source_id: &str,
        batch: &[NewDocument],
        now: DateTime<Utc>,
    ) -> Result<Committed, StoreError> {
        self.in_run(|tx| ingest::documents(tx, source_id, batch, now.timestamp()))
    }

    /// Stores a successful run in one transaction: documents not seen before (checked
    /// again inside the transaction), their keys, hits and alerts, and the source's state.
    pub fn commit_run(
        &mut self,
        source_id: &str,
        batch: &[NewDocument],
        entries: usize,
        validators: &Validators,
        now: DateTime<Utc>,
    ) -> Result<Committed, StoreError> {
        self.in_run(|tx| ingest::run(tx, source_id, batch, entries, validators, now.timestamp()))
    }

    /// Records a run that found nothing new (HTTP 304): a success, validators unchanged.
    pub fn record_not_modified(&mut self, source_id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.sources().record_not_modified(source_id, now)
    }

    /// [`SourceStates::record_not_modified_many`]: many 304s in one transaction, times only
    /// moving forward.
    pub fn record_not_modified_many(&mut self, runs: &[(String, DateTime<Utc>)]) -> Result<(), StoreError> {
        self.sources().record_not_modified_many(runs)
    }

    /// What a run needs before it fetches, in one read: the validators for a conditional
    /// GET and the source's health (for the notices after a 304, which writes nothing else).
    pub fn poll_state(&self, source_id: &str) -> Result<(Validators, Health), StoreError> {
        self.sources().poll_state(source_id)
    }

    /// Records a failed run: the error, when, and one more consecutive failure.
    pub fn record_failure(&mut self, source_id: &str, error: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.sources().record_failure(source_id, error, now)
    }

    /// A source's health as far as notices are concerned.
    pub fn health(&self, source_id: &str) -> Result<Health, StoreError> {
        self.sources().health(source_id)
    }

    /// [`SourceStates::notify_source`]: a source notice queued once per episode.
    pub fn notify_source(
        &mut self,
        source_id: &str,
        notice: SourceNotice,
        message: &AlertMessage,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.sources().notify_source(source_id, notice, message, now)
    }

    /// Clears the silence flag once a source has new documents again.
    pub fn clear_silence(&mut self, source_id: &str) -> Result<(), StoreError> {
        self.sources().clear_silence(source_id)
    }
}

/// What [`Store::health`] reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub consecutive_failures: u32,
    pub failing_notified: bool,
    pub silent_notified: bool,
    /// When a run last stored new documents.
    pub last_new_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// Switches the database to WAL. SQLite answers SQLITE_BUSY at once, without calling the
/// busy handler, when another connection is switching the same new file at that moment
/// (the daemon and a CLI command starting together), so retry for up to 10 s.
fn set_wal(conn: &Connection) -> Result<(), StoreError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other.map_err(StoreError::from),
        }
    }
}

#[cfg(test)]
mod tests;
