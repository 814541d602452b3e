//! The instances sharing a PostgreSQL database, as far as the store cares: what an instance
//! that died on this host still holds. A lease names its holder `host:pid:start`
//! (`daemon::instance_name`); a daemon killed with SIGKILL (or by the OOM killer) leaves its
//! source leases and claimed outbox rows held until they run out, minutes later. When the
//! daemon starts again (systemd restarts it), it releases the leases of holders on its own
//! host whose process no longer exists, so their sources and alerts go on at once. Leases
//! of other hosts are left to run out: this host cannot tell whether they live.

use super::sql::{Dialect, Exec};
use super::{Store, StoreError};

impl Store {
    /// Releases every source lease and outbox claim held by an instance on `host` (other
    /// than `me`) whose process `alive` says is gone. Returns the holders released. On
    /// SQLite (one daemon per file, nothing leased) nothing.
    pub fn release_dead_holders(
        &self,
        host: &str,
        me: &str,
        alive: impl Fn(u32) -> bool,
    ) -> Result<Vec<String>, StoreError> {
        if self.dialect() == Dialect::Sqlite {
            return Ok(Vec::new());
        }
        let prefix = format!("{}:%", host.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let mut db = self.db();
        let exec: &mut dyn Exec = db.exec();
        let holders: Vec<String> = exec.rows(
            "SELECT lease_owner FROM source_leases WHERE lease_owner LIKE ?1
             UNION SELECT lease_owner FROM alerts WHERE lease_owner LIKE ?1 AND status = 'pending'",
            &[&prefix],
            |r| r.get(0),
        )?;
        let mut released = Vec::new();
        for holder in holders.into_iter().filter(|h| h != me) {
            let pid = holder
                .strip_prefix(host)
                .and_then(|rest| rest.strip_prefix(':'))
                .and_then(|rest| rest.split(':').next().and_then(|p| p.parse::<u32>().ok()));
            // A name this build did not write, or a process still running: leave it.
            if pid.is_none_or(&alive) {
                continue;
            }
            // The slot it was running stays undone: any instance may claim it again.
            exec.execute(
                "UPDATE source_leases SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?1",
                &[&holder],
            )?;
            exec.execute(
                "UPDATE alerts SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?1",
                &[&holder],
            )?;
            released.push(holder);
        }
        Ok(released)
    }
}
