//! Event ids when several daemons share a PostgreSQL database. On SQLite one daemon holds
//! the file, so its event index counts on from the largest stored id (as it always did).
//! On PostgreSQL two instances counting that way would give two stories the same id, and
//! the event upsert (`store::ingest`) would merge them; instead each instance reserves a
//! block of [`EVENT_ID_BLOCK`] ids from the sequence `event_id_blocks` (`pg::migrations`
//! step 4: block `b` is ids `b·N … b·N + N − 1`) and its index hands them out
//! (`detect::events::EventIndex::add_ids`). A block is reserved under a transaction-scoped
//! advisory lock that also moves the sequence past the stored ids, so a database filled by
//! `yuqing db migrate-to` (ids up to the copy's largest) hands out only new ones. Ids left
//! in a block when an instance stops are never used: gaps, not collisions.

use super::sql::{Dialect, in_tx};
use super::{Store, StoreError};

/// Ids per reserved block.
pub const EVENT_ID_BLOCK: i64 = 100;

/// Serialises reservations (the sequence itself is atomic; the lock keeps the catch-up to
/// the stored ids from moving it backwards under another reservation).
const EVENT_IDS_LOCK: i64 = 0x7975_7169_6e67_0002;

impl Store {
    /// A block of unused event ids `[start, end)` for this instance's event index, on
    /// PostgreSQL; `None` on SQLite, whose index counts on by itself.
    pub fn reserve_event_ids(&self) -> Result<Option<(i64, i64)>, StoreError> {
        if self.dialect() == Dialect::Sqlite {
            return Ok(None);
        }
        let block = in_tx(self.db().db(), |tx| {
            tx.execute("SELECT pg_advisory_xact_lock(?1)", &[&EVENT_IDS_LOCK])?;
            let block: i64 = tx.one("SELECT nextval('event_id_blocks')", &[], |r| r.get(0))?;
            let stored: i64 = tx.one("SELECT coalesce(max(id), 0) FROM events", &[], |r| r.get(0))?;
            if block.saturating_mul(EVENT_ID_BLOCK) > stored {
                return Ok(block);
            }
            // Ids copied in (or made before the blocks): start past them.
            let past = stored / EVENT_ID_BLOCK + 1;
            tx.one("SELECT setval('event_id_blocks', ?1)", &[&past], |r| r.get::<i64>(0))
        })?;
        let start = block.saturating_mul(EVENT_ID_BLOCK);
        Ok(Some((start, start.saturating_add(EVENT_ID_BLOCK))))
    }
}
