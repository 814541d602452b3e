//! Database maintenance for `yuqing db`: an online backup and an integrity check.
//!
//! Both open the file directly, without migrating it: a check must not write to a database
//! that may be damaged, and a backup copies the file as it is. Both work while the daemon
//! runs: WAL lets them read while it writes. The backup uses SQLite's online backup API in
//! one step, which reads one consistent snapshot; the copy is written to a temporary file
//! beside the target and renamed into place only when complete and checked.
//!
//! SQLite only: both take the database file's path, not a `Store`. A PostgreSQL database
//! (`[storage] url`) has no file here — back it up and check it with the server's tools
//! (`pg_dump`, `amcheck`); `yuqing db backup` / `db check` refuse such a config (exit 2)
//! before reaching this module, as every command that opens the store does (`cli`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// What a finished backup wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupReport {
    pub pages: u64,
    pub bytes: u64,
}

/// How long a backup waits for a lock before giving up.
const BACKUP_PATIENCE: Duration = Duration::from_secs(30);

/// Copies the database at `source` to `target` (which must not exist).
pub fn backup(source: &Path, target: &Path) -> Result<BackupReport, StoreError> {
    if target.exists() {
        return Err(StoreError::TargetExists(target.to_path_buf()));
    }
    let from = open_existing(source)?;
    from.busy_timeout(Duration::from_secs(10))?;
    let partial = partial_path(target);
    let _ = std::fs::remove_file(&partial);
    let result = copy_into(&from, &partial);
    let finished = result.and_then(|pages| {
        std::fs::rename(&partial, target)
            .map_err(|source| StoreError::Io { path: target.to_path_buf(), source })
            .map(|()| pages)
    });
    match finished {
        Ok(pages) => {
            let bytes = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
            Ok(BackupReport { pages, bytes })
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

fn copy_into(from: &Connection, path: &Path) -> Result<u64, StoreError> {
    let mut to = Connection::open(path)?;
    let pages = {
        let backup = Backup::new(from, &mut to)?;
        let deadline = Instant::now() + BACKUP_PATIENCE;
        loop {
            // -1: every page in one step, under one read transaction: a consistent snapshot
            // even while the daemon writes.
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::Busy | StepResult::Locked if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                StepResult::Busy | StepResult::Locked => return Err(StoreError::Busy),
                _ => {}
            }
        }
        u64::try_from(backup.progress().pagecount).unwrap_or(0)
    };
    // A standalone copy: one file, no -wal beside it.
    to.pragma_update(None, "journal_mode", "DELETE")?;
    let problems = check_connection(&to)?;
    if let Some(first) = problems.into_iter().next() {
        return Err(StoreError::Corrupt(format!("the backup copy failed its check: {first}")));
    }
    Ok(pages)
}

fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    target.with_file_name(name)
}

/// Runs `PRAGMA integrity_check` and `PRAGMA foreign_key_check` on the database at `path`;
/// every problem found, in SQLite's words (empty: the database is sound). A file too damaged
/// to be read at all is an error whose [`StoreError::is_corruption`] holds.
pub fn integrity_check(path: &Path) -> Result<Vec<String>, StoreError> {
    let conn = open_existing(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    check_connection(&conn)
}

fn check_connection(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    for row in stmt.query_map([], |r| r.get::<_, String>(0))? {
        let line = row?;
        if line != "ok" {
            problems.push(line);
        }
    }
    let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
    let rows =
        stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, String>(2)?)))?;
    for row in rows {
        let (table, rowid, parent) = row?;
        let rowid = rowid.map_or_else(|| "?".to_string(), |r| r.to_string());
        problems.push(format!("foreign key: row {rowid} of {table} points to a missing row of {parent}"));
    }
    Ok(problems)
}

/// Opens an existing database file read-write (WAL readers need the shared-memory file)
/// without creating one and without migrating it.
fn open_existing(path: &Path) -> Result<Connection, StoreError> {
    if !path.exists() {
        return Err(StoreError::Missing(path.to_path_buf()));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Ok(Connection::open_with_flags(path, flags)?)
}
