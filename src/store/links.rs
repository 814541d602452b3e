//! What one-click links need from the database: the signing key (32 random bytes made on
//! first use) and the log of links used, so a replayed link is recognised.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

/// A link that was used: what it did, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkUse {
    pub outcome: String,
    pub at: DateTime<Utc>,
}

impl Store {
    /// The key one-click links are signed with, made from the system's random source the
    /// first time it is asked for.
    pub fn link_key(&mut self) -> Result<Vec<u8>, StoreError> {
        let tx = self.begin()?;
        let found: Option<Vec<u8>> =
            tx.query_row("SELECT value FROM keys WHERE name = 'links'", [], |r| r.get(0)).optional()?;
        if let Some(key) = found {
            return Ok(key);
        }
        let mut key = vec![0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
            .map_err(|_| StoreError::Corrupt("the system random source failed".into()))?;
        tx.execute("INSERT INTO keys (name, value) VALUES ('links', ?1)", [&key])?;
        tx.commit()?;
        Ok(key)
    }

    /// The use of a link (by the hash of its token), if it was used.
    pub fn link_use(&self, token_hash: &str) -> Result<Option<LinkUse>, StoreError> {
        Ok(self
            .lite()?
            .query_row("SELECT outcome, at FROM link_uses WHERE token_hash = ?1", [token_hash], |r| {
                Ok(LinkUse { outcome: r.get(0)?, at: DateTime::from_timestamp(r.get(1)?, 0).unwrap_or_default() })
            })
            .optional()?)
    }

    /// Records that a link was used and what it did.
    pub fn record_link_use(
        &mut self,
        token_hash: &str,
        (event_id, person, action): (i64, &str, &str),
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.lite()?.execute(
            "INSERT OR IGNORE INTO link_uses (token_hash, event_id, person, action, outcome, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![token_hash, event_id, person, action, outcome, now.timestamp()],
        )?;
        Ok(())
    }
}

impl Store {
    /// Whether the database answers (for health checks).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.lite()?.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }
}
