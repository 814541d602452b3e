//! One daemon per database: `yuqing run` holds an exclusive lock on a file beside the
//! database (`<db>.lock`, holding its PID) for the life of the process. The kernel releases
//! it when the process ends, crashed or not, so a stale file never blocks a restart. A
//! second daemon is refused with the PID of the first; `run --once` and `fetch` still run
//! beside a daemon but leave delivery to it, so no alert is sent twice.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock held by the running daemon; released on drop (and by the kernel on exit).
#[derive(Debug)]
pub struct DaemonLock {
    _file: File,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "另一个 yuqing 守护进程（PID {pid}）正在使用这个数据库（{db}）；同一数据库只能运行一个守护进程。先停止它（systemctl stop yuqing 或 kill {pid}），或为本进程配置另一个 [storage] path"
    )]
    Held { pid: String, db: String },
    #[error("无法创建守护进程锁文件 {path}（{source}）")]
    Io { path: String, source: std::io::Error },
}

/// The lock file of the database at `db`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

impl DaemonLock {
    /// Takes the lock for the database at `db`, or says who holds it.
    pub fn acquire(db: &Path) -> Result<Self, LockError> {
        let path = lock_path(db);
        let io = |source| LockError::Io { path: path.display().to_string(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = File::options().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Held { pid: read_pid(&mut file), db: db.display().to_string() });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(DaemonLock { _file: file, path })
    }

    /// The PID of the daemon holding the lock for `db`, if one runs now. Never blocks
    /// and never takes the lock for longer than the look.
    pub fn holder(db: &Path) -> Option<String> {
        let mut file = File::options().read(true).write(true).open(lock_path(db)).ok()?;
        match file.try_lock() {
            Ok(()) => None,
            Err(TryLockError::WouldBlock) => Some(read_pid(&mut file)),
            Err(TryLockError::Error(_)) => None,
        }
    }
}

fn read_pid(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    match text.trim() {
        "" => "未知".to_string(),
        pid => pid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_first_ones_pid_and_freed_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("state/yuqing.db");
        assert_eq!(DaemonLock::holder(&db), None, "no lock file yet");
        let first = DaemonLock::acquire(&db).expect("first");
        assert_eq!(first.path, dir.path().join("state/yuqing.db.lock"));
        let me = std::process::id().to_string();
        assert_eq!(DaemonLock::holder(&db).as_deref(), Some(me.as_str()));
        match DaemonLock::acquire(&db) {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, me),
            other => panic!("{other:?}"),
        }
        drop(first);
        assert_eq!(DaemonLock::holder(&db), None, "released");
        assert!(DaemonLock::acquire(&db).is_ok(), "a stale file does not block");
    }
}
