//! What one-click links need from the database: the signing key (32 random bytes made on
//! first use) and the log of links used, so a replayed link is recognised. Both backends.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};

/// A link that was used: what it did, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkUse {
    pub outcome: String,
    pub at: DateTime<Utc>,
}

impl Store {
    /// The key one-click links are signed with, made from the system's random source the
    /// first time it is asked for (several daemons on one database agree on the first).
    pub fn link_key(&mut self) -> Result<Vec<u8>, StoreError> {
        self.write(|tx| {
            let found: Option<Vec<u8>> = tx.first("SELECT value FROM keys WHERE name = 'links'", &[], |r| r.get(0))?;
            if let Some(key) = found {
                return Ok(key);
            }
            let mut key = vec![0u8; 32];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
                .map_err(|_| StoreError::Corrupt("the system random source failed".into()))?;
            tx.execute("INSERT OR IGNORE INTO keys (name, value) VALUES ('links', ?1)", &[&key])?;
            // Another daemon's key, if it stored one first.
            tx.one("SELECT value FROM keys WHERE name = 'links'", &[], |r| r.get(0))
        })
    }

    /// The use of a link (by the hash of its token), if it was used.
    pub fn link_use(&self, token_hash: &str) -> Result<Option<LinkUse>, StoreError> {
        self.db().exec().first("SELECT outcome, at FROM link_uses WHERE token_hash = ?1", &[&token_hash], |r| {
            Ok(LinkUse { outcome: r.get(0)?, at: DateTime::from_timestamp(r.get(1)?, 0).unwrap_or_default() })
        })
    }

    /// Records that a link was used and what it did.
    pub fn record_link_use(
        &mut self,
        token_hash: &str,
        (event_id, person, action): (i64, &str, &str),
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.db().exec().execute(
            "INSERT OR IGNORE INTO link_uses (token_hash, event_id, person, action, outcome, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            &[&token_hash, &event_id, &person, &action, &outcome, &now.timestamp()],
        )?;
        Ok(())
    }
}

impl Store {
    /// Whether the database answers (for health checks).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.db().exec().one("SELECT CAST(1 AS BIGINT)", &[], |r| r.get::<i64>(0))?;
        Ok(())
    }
}
