//! A real PostgreSQL for the tests: Debian's `postgresql` package, started by
//! scripts/pg.sh in a temporary directory on loopback (or the server named by
//! YUQING_TEST_PG_URL), shared by the tests of one binary running at the same time, and a
//! new empty database per test. Where PostgreSQL is not installed, [`cluster`] says so on
//! stderr and returns None: the test passes without running.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// A server shared by the tests running at the same time, stopped when the last drops it.
pub struct Cluster {
    pub base: String,
    /// scripts/pg.sh's directory; None for a server given by YUQING_TEST_PG_URL.
    dir: Option<tempfile::TempDir>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = Command::new(script()).arg("stop").arg(dir.path()).status();
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg.sh")
}

static SHARED: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());

/// The server, or None (with a message) where PostgreSQL is not installed.
pub fn cluster() -> Option<Arc<Cluster>> {
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = shared.upgrade() {
        return Some(c);
    }
    let cluster = if let Ok(url) = std::env::var("YUQING_TEST_PG_URL") {
        Cluster { base: url, dir: None }
    } else {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new(script()).arg("start").arg(dir.path()).output().expect("run scripts/pg.sh");
        if out.status.code() == Some(69) {
            eprintln!(
                "SKIPPED: PostgreSQL is not installed (Debian package `postgresql`; scripts/test.sh installs it): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        assert!(out.status.success(), "scripts/pg.sh start failed: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let base = stdout.trim().strip_prefix("export YUQING_TEST_PG_URL=").expect("url line").to_string();
        Cluster { base, dir: Some(dir) }
    };
    let cluster = Arc::new(cluster);
    *shared = Arc::downgrade(&cluster);
    Some(cluster)
}

static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// A new empty database on the server; its URL.
pub fn database(cluster: &Cluster) -> String {
    let name = format!("t{}_{}", std::process::id(), DATABASES.fetch_add(1, Ordering::SeqCst));
    let mut admin = postgres::Client::connect(&cluster.base, postgres::NoTls).expect("connect");
    admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create database");
    let (prefix, _) = cluster.base.rsplit_once('/').expect("database in url");
    format!("{prefix}/{name}")
}

pub fn connect(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("connect")
}
