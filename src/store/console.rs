//! The web console's rows: password hashes per `[[people]]` id, sessions (by the hash of
//! their token) and used form tokens, and the detectors' signals an event page shows.
//! Hashing and token checks live in `console`; this is SQL only, one text for both backends.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub person: String,
    /// The secret the session's form tokens are signed with (hex).
    pub form_key: String,
    pub expires_at: DateTime<Utc>,
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

impl Store {
    /// Sets (or replaces) a person's password hash; their sessions end.
    pub fn set_console_password(&mut self, person: &str, hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO console_users (person, hash, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(person) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at",
                &[&person, &hash, &now.timestamp()],
            )?;
            tx.execute("DELETE FROM console_sessions WHERE person = ?1", &[&person])?;
            Ok(())
        })
    }

    pub fn console_password(&self, person: &str) -> Result<Option<String>, StoreError> {
        self.db().exec().first("SELECT hash FROM console_users WHERE person = ?1", &[&person], |r| r.get(0))
    }

    /// A new session; expired ones are removed on the way.
    pub fn create_console_session(
        &mut self,
        token_hash: &str,
        session: &ConsoleSession,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let week_ago = (now - chrono::Duration::days(7)).timestamp();
        self.write(|tx| {
            tx.execute("DELETE FROM console_sessions WHERE expires_at <= ?1", &[&now.timestamp()])?;
            tx.execute("DELETE FROM console_forms_used WHERE at <= ?1", &[&week_ago])?;
            tx.execute(
                "INSERT INTO console_sessions (token_hash, person, form_key, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                &[&token_hash, &session.person, &session.form_key, &now.timestamp(), &session.expires_at.timestamp()],
            )?;
            Ok(())
        })
    }

    /// The session with this token hash, if it has not expired at `now`.
    pub fn console_session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<ConsoleSession>, StoreError> {
        self.db().exec().first(
            "SELECT person, form_key, expires_at FROM console_sessions WHERE token_hash = ?1 AND expires_at > ?2",
            &[&token_hash, &now.timestamp()],
            |r| Ok(ConsoleSession { person: r.get(0)?, form_key: r.get(1)?, expires_at: at(r.get(2)?) }),
        )
    }

    pub fn end_console_session(&mut self, token_hash: &str) -> Result<(), StoreError> {
        self.db().exec().execute("DELETE FROM console_sessions WHERE token_hash = ?1", &[&token_hash])?;
        Ok(())
    }

    /// Records a form token as used; `false` when it was used before (on PostgreSQL a
    /// second daemon's racing insert of the same token waits for the first and adds nothing).
    pub fn use_console_form(&mut self, token_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let n = self.db().exec().execute(
            "INSERT OR IGNORE INTO console_forms_used (token_hash, at) VALUES (?1, ?2)",
            &[&token_hash, &now.timestamp()],
        )?;
        Ok(n == 1)
    }
}

/// What the detectors said about an event's documents: each Art. 7 flag with its cues, and
/// each scored document's negativity with the words that drove it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventSignals {
    /// (document id, flag kind as stored, reasons).
    pub flags: Vec<(i64, String, Vec<String>)>,
    /// (document id, negativity 0–1, drivers), most negative first.
    pub negativity: Vec<(i64, f64, Vec<String>)>,
    /// (document id, why it is 待核实), by document.
    pub to_verify: Vec<(i64, String)>,
}

impl Store {
    pub fn event_signals(&self, event_id: i64) -> Result<EventSignals, StoreError> {
        let list = |json: Option<String>| -> Vec<String> {
            json.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default()
        };
        let mut db = self.db();
        let flags = db.exec().rows(
            "SELECT f.document_id, f.kind, f.reasons FROM flags f
             JOIN event_documents ed ON ed.document_id = f.document_id
             WHERE ed.event_id = ?1 ORDER BY f.document_id, f.kind",
            &[&event_id],
            |r| Ok((r.get(0)?, r.get(1)?, list(r.get(2)?))),
        )?;
        let negativity = db.exec().rows(
            "SELECT d.id, d.negativity, d.negativity_drivers FROM documents d
             JOIN event_documents ed ON ed.document_id = d.id
             WHERE ed.event_id = ?1 AND d.negativity IS NOT NULL ORDER BY d.negativity DESC, d.id LIMIT 10",
            &[&event_id],
            |r| Ok((r.get(0)?, r.get(1)?, list(r.get(2)?))),
        )?;
        let to_verify = db.exec().rows(
            "SELECT d.id, d.to_verify FROM documents d
             JOIN event_documents ed ON ed.document_id = d.id
             WHERE ed.event_id = ?1 AND d.to_verify IS NOT NULL ORDER BY d.id",
            &[&event_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(EventSignals { flags, negativity, to_verify })
    }
}
