//! Disk usage of the database: its file sizes and the free space on its filesystem, for
//! `yuqing status`, the daemon's low-disk notice and (later) `/metrics`. Reads the
//! filesystem only; decides nothing.
//!
//! SQLite only: it measures the database file at `[storage] path` and its `-wal`. A
//! PostgreSQL database's disk is the server's, not measured here; the daemon and commands
//! refuse `[storage] url` before calling this (see `cli`), and `/metrics` reads the path.

use std::path::Path;

pub use crate::model::DiskUsage;

/// Measures the database at `path` (the file may not exist yet: sizes are then 0, and the
/// free space is that of the directory it will be created in).
pub fn usage(path: &Path) -> std::io::Result<DiskUsage> {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = path.as_os_str().to_os_string();
    wal.push("-wal");
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) if parent.exists() => parent,
        Some(_) | None => Path::new("."),
    };
    let (available, total) = free_space(dir)?;
    Ok(DiskUsage { database: size(path), wal: size(Path::new(&wal)), available, total })
}

/// (available, total) bytes of the filesystem holding `dir`.
fn free_space(dir: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c_path` is a valid NUL-terminated string and `stat` points to writable memory
    // of the right type; statvfs fills it completely when it returns 0.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so the struct is initialised.
    let stat = unsafe { stat.assume_init() };
    // The field types differ between platforms (u32 on some 32-bit ones).
    #[allow(clippy::useless_conversion)]
    let (fragment, avail, blocks) = (u64::from(stat.f_frsize), u64::from(stat.f_bavail), u64::from(stat.f_blocks));
    Ok((avail.saturating_mul(fragment), blocks.saturating_mul(fragment)))
}

pub use crate::util::human;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_file_and_its_filesystem() {
        let dir = tempfile::tempdir().expect("test setup");
        let db = dir.path().join("x.db");
        std::fs::write(&db, vec![0u8; 8192]).expect("test setup");
        let u = usage(&db).expect("test setup");
        assert_eq!((u.database, u.wal), (8192, 0));
        assert!(u.total >= u.available && u.total > 0, "{u:?}");
        assert!(!u.is_low(0));
        assert!(u.is_low(u64::MAX / (1024 * 1024)));
    }

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
