//! Schema migrations, applied in order at open; `PRAGMA user_version` records how many
//! have run. Append new steps; never edit a released one.

use rusqlite::{Connection, TransactionBehavior};

const MIGRATIONS: &[&str] = &[
    // 1: sources' fetch state, documents with their identity keys, hits, the alert outbox.
    r#"
    CREATE TABLE source_state (
        source_id            TEXT PRIMARY KEY,
        last_attempt_at      INTEGER,
        last_success_at      INTEGER,
        last_error           TEXT,
        last_error_at        INTEGER,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        etag                 TEXT,
        last_modified        TEXT
    );
    CREATE TABLE documents (
        id           INTEGER PRIMARY KEY,
        source_id    TEXT NOT NULL,
        fingerprint  TEXT NOT NULL,
        link         TEXT,
        guid         TEXT,
        title        TEXT NOT NULL,
        text         TEXT NOT NULL,
        author       TEXT,
        published_at INTEGER,
        fetched_at   INTEGER NOT NULL
    );
    CREATE INDEX documents_by_source ON documents(source_id, fetched_at);
    CREATE TABLE document_keys (
        key         TEXT PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES documents(id)
    ) WITHOUT ROWID;
    CREATE TABLE hits (
        id          INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES documents(id),
        list        TEXT NOT NULL,
        term        TEXT NOT NULL,
        field       TEXT NOT NULL CHECK (field IN ('title', 'text')),
        start       INTEGER NOT NULL,
        end         INTEGER NOT NULL
    );
    CREATE INDEX hits_by_document ON hits(document_id);
    CREATE TABLE alerts (
        id              INTEGER PRIMARY KEY,
        document_id     INTEGER NOT NULL REFERENCES documents(id),
        channel         TEXT NOT NULL,
        recipients      TEXT NOT NULL,
        subject         TEXT NOT NULL,
        body_text       TEXT NOT NULL,
        body_html       TEXT NOT NULL,
        status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        sent_at         INTEGER
    );
    CREATE INDEX alerts_due ON alerts(status, next_attempt_at);
    "#,
    // 2: how many entries a source's last successful run saw (an HTML list that suddenly
    // matches nothing means the site changed).
    r#"
    ALTER TABLE source_state ADD COLUMN last_entries INTEGER;
    "#,
    // 3: source health notices. Alerts may concern a source rather than a document
    // (`kind`), so document_id becomes nullable (SQLite needs a table rebuild for that);
    // the flags make each notice go out once per episode.
    r#"
    CREATE TABLE alerts_v3 (
        id              INTEGER PRIMARY KEY,
        kind            TEXT NOT NULL DEFAULT 'document'
                        CHECK (kind IN ('document', 'source_failing', 'source_recovered', 'source_silent')),
        document_id     INTEGER REFERENCES documents(id),
        source_id       TEXT,
        channel         TEXT NOT NULL,
        recipients      TEXT NOT NULL,
        subject         TEXT NOT NULL,
        body_text       TEXT NOT NULL,
        body_html       TEXT NOT NULL,
        status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        sent_at         INTEGER
    );
    INSERT INTO alerts_v3 (id, document_id, channel, recipients, subject, body_text, body_html, status, attempts,
                           next_attempt_at, last_error, created_at, sent_at)
        SELECT id, document_id, channel, recipients, subject, body_text, body_html, status, attempts,
               next_attempt_at, last_error, created_at, sent_at FROM alerts;
    DROP TABLE alerts;
    ALTER TABLE alerts_v3 RENAME TO alerts;
    CREATE INDEX alerts_due ON alerts(status, next_attempt_at);
    ALTER TABLE source_state ADD COLUMN last_new_at INTEGER;
    ALTER TABLE source_state ADD COLUMN failing_notified INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE source_state ADD COLUMN silent_notified INTEGER NOT NULL DEFAULT 0;
    "#,
    // 4: export folders. Each file is processed once (by content hash); engagement counts
    // are kept as a time series; comments are kept with their post's key.
    r#"
    CREATE TABLE export_files (
        source_id    TEXT NOT NULL,
        sha256       TEXT NOT NULL,
        path         TEXT NOT NULL,
        processed_at INTEGER NOT NULL,
        posts        INTEGER NOT NULL,
        comments     INTEGER NOT NULL,
        bad_rows     INTEGER NOT NULL,
        PRIMARY KEY (source_id, sha256)
    ) WITHOUT ROWID;
    CREATE TABLE engagement (
        document_id INTEGER NOT NULL REFERENCES documents(id),
        observed_at INTEGER NOT NULL,
        reposts     INTEGER,
        comments    INTEGER,
        likes       INTEGER,
        reads       INTEGER,
        shares      INTEGER
    );
    CREATE INDEX engagement_by_document ON engagement(document_id, observed_at);
    CREATE TABLE comments (
        source_id    TEXT NOT NULL,
        comment_id   TEXT NOT NULL,
        post_key     TEXT NOT NULL,
        author       TEXT,
        text         TEXT NOT NULL,
        published_at INTEGER,
        likes        INTEGER,
        PRIMARY KEY (source_id, comment_id)
    ) WITHOUT ROWID;
    CREATE INDEX comments_by_post ON comments(post_key);
    "#,
    // 5: the state a followed article page reported (deleted, violation, unavailable).
    r#"
    ALTER TABLE documents ADD COLUMN page_state TEXT;
    "#,
    // 6: the Art. 7 flags of a document, with the cues that raised them (JSON list).
    r#"
    CREATE TABLE flags (
        document_id INTEGER NOT NULL REFERENCES documents(id),
        kind        TEXT NOT NULL CHECK (kind IN ('rumour', 'distortion', 'misunderstanding', 'doubt')),
        reasons     TEXT NOT NULL
    );
    CREATE INDEX flags_by_document ON flags(document_id);
    "#,
    // 7: negativity score and the words that drove it (JSON list).
    r#"
    ALTER TABLE documents ADD COLUMN negativity REAL;
    ALTER TABLE documents ADD COLUMN negativity_drivers TEXT;
    "#,
    // 8: hits may be in the author field (`author:` rules); SQLite cannot alter a CHECK,
    // so the table is rebuilt with its rows.
    r#"
    CREATE TABLE hits_new (
        id          INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES documents(id),
        list        TEXT NOT NULL,
        term        TEXT NOT NULL,
        field       TEXT NOT NULL CHECK (field IN ('title', 'text', 'author')),
        start       INTEGER NOT NULL,
        end         INTEGER NOT NULL
    );
    INSERT INTO hits_new SELECT id, document_id, list, term, field, start, end FROM hits;
    DROP TABLE hits;
    ALTER TABLE hits_new RENAME TO hits;
    CREATE INDEX hits_by_document ON hits(document_id);
    "#,
    // 9: events (Art. 13): one story across sources and time, its propagation path, and
    // the alerts about it.
    r#"
    CREATE TABLE events (
        id                INTEGER PRIMARY KEY,
        title             TEXT NOT NULL,
        first_document_id INTEGER NOT NULL REFERENCES documents(id),
        first_source_id   TEXT NOT NULL,
        first_seen_at     INTEGER NOT NULL,
        last_seen_at      INTEGER NOT NULL,
        documents         INTEGER NOT NULL,
        sources           INTEGER NOT NULL,
        created_at        INTEGER NOT NULL
    );
    CREATE INDEX events_by_last_seen ON events(last_seen_at);
    CREATE TABLE event_documents (
        document_id INTEGER PRIMARY KEY REFERENCES documents(id),
        event_id    INTEGER NOT NULL REFERENCES events(id),
        source_id   TEXT NOT NULL,
        seen_at     INTEGER NOT NULL,
        similarity  REAL NOT NULL
    );
    CREATE INDEX event_documents_by_event ON event_documents(event_id, seen_at);
    ALTER TABLE alerts ADD COLUMN event_id INTEGER REFERENCES events(id);
    CREATE INDEX alerts_by_event ON alerts(event_id);
    "#,
    // 10: an event's grade (I…IV; text order is severity order) and why (JSON list).
    r#"
    ALTER TABLE events ADD COLUMN grade TEXT CHECK (grade IN ('I', 'II', 'III', 'IV'));
    ALTER TABLE events ADD COLUMN grade_reasons TEXT;
    "#,
    // 11: the response workflow: the owning section, every action taken on an event (the
    // audit trail), and the notification log that makes each ladder step go out once.
    r#"
    ALTER TABLE events ADD COLUMN owner TEXT;
    CREATE TABLE event_actions (
        id       INTEGER PRIMARY KEY,
        event_id INTEGER NOT NULL REFERENCES events(id),
        action   TEXT NOT NULL CHECK (action IN ('accept', 'transfer', 'feedback', 'close')),
        actor    TEXT NOT NULL,
        -- transfer: the new section; feedback: the kind of response (online, expert, …)
        target   TEXT,
        -- feedback: where the response was published
        link     TEXT,
        note     TEXT,
        at       INTEGER NOT NULL
    );
    CREATE INDEX event_actions_by_event ON event_actions(event_id, at);
    CREATE TABLE notifications (
        event_id INTEGER NOT NULL REFERENCES events(id),
        person   TEXT NOT NULL,
        step     INTEGER NOT NULL,
        channel  TEXT NOT NULL,
        alert_id INTEGER,
        at       INTEGER NOT NULL,
        PRIMARY KEY (event_id, person, step, channel)
    ) WITHOUT ROWID;
    "#,
    // 12: human decisions and dropped alerts. Actions gain downgrade (a recorded decision:
    // `target` is the new grade) and mute (`target` is the end time, unix seconds); an event
    // remembers the grade it was downgraded from (automatic grading may rise above it only)
    // and when its grade last changed;
    // an alert may be dropped (inhibited: its event rose to I/II before it went out) or dead
    // (given up after the last attempt). SQLite cannot alter a CHECK, so both tables are rebuilt.
    r#"
    CREATE TABLE event_actions_v12 (
        id       INTEGER PRIMARY KEY,
        event_id INTEGER NOT NULL REFERENCES events(id),
        action   TEXT NOT NULL
                 CHECK (action IN ('accept', 'transfer', 'feedback', 'close', 'downgrade', 'mute')),
        actor    TEXT NOT NULL,
        target   TEXT,
        link     TEXT,
        note     TEXT,
        at       INTEGER NOT NULL
    );
    INSERT INTO event_actions_v12 SELECT id, event_id, action, actor, target, link, note, at FROM event_actions;
    DROP TABLE event_actions;
    ALTER TABLE event_actions_v12 RENAME TO event_actions;
    CREATE INDEX event_actions_by_event ON event_actions(event_id, at);
    ALTER TABLE events ADD COLUMN downgraded_from TEXT CHECK (downgraded_from IN ('I', 'II', 'III', 'IV'));
    -- when the grade last changed after the event's creation (a rise, or a downgrade): the
    -- escalation ladder of the new grade starts there
    ALTER TABLE events ADD COLUMN graded_at INTEGER;
    CREATE TABLE alerts_v12 (
        id              INTEGER PRIMARY KEY,
        kind            TEXT NOT NULL DEFAULT 'document'
                        CHECK (kind IN ('document', 'source_failing', 'source_recovered', 'source_silent')),
        document_id     INTEGER REFERENCES documents(id),
        source_id       TEXT,
        channel         TEXT NOT NULL,
        recipients      TEXT NOT NULL,
        subject         TEXT NOT NULL,
        body_text       TEXT NOT NULL,
        body_html       TEXT NOT NULL,
        status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dropped', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        sent_at         INTEGER,
        event_id        INTEGER REFERENCES events(id)
    );
    INSERT INTO alerts_v12 (id, kind, document_id, source_id, channel, recipients, subject, body_text, body_html,
                            status, attempts, next_attempt_at, last_error, created_at, sent_at, event_id)
        SELECT id, kind, document_id, source_id, channel, recipients, subject, body_text, body_html,
               status, attempts, next_attempt_at, last_error, created_at, sent_at, event_id FROM alerts;
    DROP TABLE alerts;
    ALTER TABLE alerts_v12 RENAME TO alerts;
    CREATE INDEX alerts_due ON alerts(status, next_attempt_at);
    CREATE INDEX alerts_by_event ON alerts(event_id);
    "#,
    // 13: one-click links: the HMAC key they are signed with (made on first use, so it
    // lives with the data it guards, never in config) and each link used, so a second
    // click changes nothing.
    r#"
    CREATE TABLE keys (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE link_uses (
        token_hash TEXT PRIMARY KEY,
        event_id   INTEGER NOT NULL,
        person     TEXT NOT NULL,
        action     TEXT NOT NULL,
        outcome    TEXT NOT NULL,
        at         INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 14: the outbox's audit trail and dead letters: every delivery attempt with the
    // provider's answer and message id; a notice kind for alerts given up on; and small
    // daemon state (the admin is told of dead letters once per episode). The alert kinds gain
    // `briefing` (定期通报), `outbox_dead` and `config_invalid` (a reload that failed);
    // `briefings_sent` logs each briefing's due time once, in the transaction that queues its
    // alert (`alert_id` NULL when there was nothing to report).
    // Retention (ops): a pruned document's identity keys stay (so a feed still listing it never
    // re-alerts), which needs `document_keys.document_id` nullable (a rebuild); alerts gain the
    // kind `disk_low` and an index by document for pruning; `daemon_state` holds the daemon's
    // own flags (disk notice sent, last prune).
    r#"
    CREATE TABLE alert_attempts (
        id          INTEGER PRIMARY KEY,
        alert_id    INTEGER NOT NULL REFERENCES alerts(id),
        at          INTEGER NOT NULL,
        ok          INTEGER NOT NULL,
        -- the provider's answer or the error, verbatim
        detail      TEXT,
        provider_id TEXT
    );
    CREATE INDEX alert_attempts_by_alert ON alert_attempts(alert_id, at);
    CREATE TABLE document_keys_v14 (
        key         TEXT PRIMARY KEY,
        -- NULL once the document was pruned: the key still marks the item as seen
        document_id INTEGER REFERENCES documents(id)
    ) WITHOUT ROWID;
    INSERT INTO document_keys_v14 (key, document_id) SELECT key, document_id FROM document_keys;
    DROP TABLE document_keys;
    ALTER TABLE document_keys_v14 RENAME TO document_keys;
    CREATE INDEX document_keys_by_document ON document_keys(document_id);
    CREATE TABLE alerts_v14 (
        id              INTEGER PRIMARY KEY,
        kind            TEXT NOT NULL DEFAULT 'document'
                        CHECK (kind IN ('document', 'source_failing', 'source_recovered', 'source_silent',
                                        'briefing', 'outbox_dead', 'config_invalid', 'disk_low')),
        document_id     INTEGER REFERENCES documents(id),
        source_id       TEXT,
        channel         TEXT NOT NULL,
        recipients      TEXT NOT NULL,
        subject         TEXT NOT NULL,
        body_text       TEXT NOT NULL,
        body_html       TEXT NOT NULL,
        status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dropped', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        sent_at         INTEGER,
        event_id        INTEGER REFERENCES events(id)
    );
    INSERT INTO alerts_v14 (id, kind, document_id, source_id, channel, recipients, subject, body_text, body_html,
                            status, attempts, next_attempt_at, last_error, created_at, sent_at, event_id)
        SELECT id, kind, document_id, source_id, channel, recipients, subject, body_text, body_html,
               status, attempts, next_attempt_at, last_error, created_at, sent_at, event_id FROM alerts;
    DROP TABLE alerts;
    ALTER TABLE alerts_v14 RENAME TO alerts;
    CREATE INDEX alerts_due ON alerts(status, next_attempt_at);
    CREATE INDEX alerts_by_event ON alerts(event_id);
    CREATE INDEX alerts_by_document ON alerts(document_id);
    CREATE TABLE daemon_state (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE briefings_sent (
        briefing_id  TEXT NOT NULL,
        due_at       INTEGER NOT NULL,
        period_start INTEGER NOT NULL,
        events       INTEGER NOT NULL,
        open         INTEGER NOT NULL,
        alert_id     INTEGER,
        at           INTEGER NOT NULL,
        PRIMARY KEY (briefing_id, due_at)
    ) WITHOUT ROWID;
    "#,
    // 15: digests. `held` says why a pending alert was held back (quiet hours, a robot's rate
    // limit, the SMS cap); held alerts that come due together are merged per recipient into one
    // message. `delivered_to` lists the recipients a digest already reached, so a retry for the
    // others never repeats it to them; `digest_id` is the first alert of the digest that
    // delivered it (the SMS cap counts messages, not the alerts merged into them).
    r#"
    ALTER TABLE alerts ADD COLUMN held TEXT CHECK (held IN ('quiet', 'rate', 'cap'));
    ALTER TABLE alerts ADD COLUMN delivered_to TEXT;
    ALTER TABLE alerts ADD COLUMN digest_id INTEGER;
    "#,
    // 16: the workflow as a state machine, and splits: a closed event is reopened by its own
    // recorded action (`reopen`), so closed means "the latest close is later than the latest
    // reopen"; a person takes a wrongly merged document out of an event (`split`: on the old
    // event `target` is the document id, on the event it then belongs to `from:<old id>`).
    r#"
    CREATE TABLE event_actions_v16 (
        id       INTEGER PRIMARY KEY,
        event_id INTEGER NOT NULL REFERENCES events(id),
        action   TEXT NOT NULL
                 CHECK (action IN ('accept', 'transfer', 'feedback', 'close', 'downgrade', 'mute', 'reopen', 'split')),
        actor    TEXT NOT NULL,
        target   TEXT,
        link     TEXT,
        note     TEXT,
        at       INTEGER NOT NULL
    );
    INSERT INTO event_actions_v16 SELECT id, event_id, action, actor, target, link, note, at FROM event_actions;
    DROP TABLE event_actions;
    ALTER TABLE event_actions_v16 RENAME TO event_actions;
    CREATE INDEX event_actions_by_event ON event_actions(event_id, at);
    "#,
    // 17: why a document joined its event: the wording it shares with the earlier copy it
    // resembles most ("、"-separated; NULL for an event's first document and older rows).
    r#"
    ALTER TABLE event_documents ADD COLUMN evidence TEXT;
    "#,
    // 18: the web console. A person's password hash (argon2, set by `yuqing user passwd`),
    // signed-in sessions (only the token's hash is kept, with the session's form secret and
    // its expiry), and each form token used, so a replayed form changes nothing.
    r#"
    CREATE TABLE console_users (
        person     TEXT PRIMARY KEY,
        hash       TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE console_sessions (
        token_hash TEXT PRIMARY KEY,
        person     TEXT NOT NULL,
        form_key   TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE console_forms_used (
        token_hash TEXT PRIMARY KEY,
        at         INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 19: search. The title and text of every document that is part of an event, in an FTS5
    // index with the trigram tokenizer (Chinese has no spaces between words; any three
    // characters in a row are a term). Contentless (the text stays in `documents`), rowid =
    // document id; kept in step with `event_documents` by triggers, so a split or a prune
    // never leaves a stale entry. Documents in no event are not indexed: search serves 舆情.
    r#"
    CREATE VIRTUAL TABLE document_search USING fts5(title, text, content='', contentless_delete=1, tokenize='trigram');
    INSERT INTO document_search (rowid, title, text)
        SELECT d.id, d.title, d.text FROM documents d JOIN event_documents ed ON ed.document_id = d.id;
    CREATE TRIGGER document_search_add AFTER INSERT ON event_documents BEGIN
        INSERT INTO document_search (rowid, title, text)
            SELECT id, title, text FROM documents WHERE id = new.document_id;
    END;
    CREATE TRIGGER document_search_remove AFTER DELETE ON event_documents BEGIN
        DELETE FROM document_search WHERE rowid = old.document_id;
    END;
    "#,
    // 20: the joint assessment (会商研判, Art. 8/13) of an event is a workflow action:
    // `target` is the trend (up, flat, down), `note` the nature, the risks and the proposed
    // handling as staff wrote them. SQLite cannot alter a CHECK, so the table is rebuilt.
    r#"
    CREATE TABLE event_actions_v20 (
        id       INTEGER PRIMARY KEY,
        event_id INTEGER NOT NULL REFERENCES events(id),
        action   TEXT NOT NULL
                 CHECK (action IN ('accept', 'transfer', 'feedback', 'close', 'downgrade', 'mute', 'reopen', 'split', 'assess')),
        actor    TEXT NOT NULL,
        target   TEXT,
        link     TEXT,
        note     TEXT,
        at       INTEGER NOT NULL
    );
    INSERT INTO event_actions_v20 SELECT id, event_id, action, actor, target, link, note, at FROM event_actions;
    DROP TABLE event_actions;
    ALTER TABLE event_actions_v20 RENAME TO event_actions;
    CREATE INDEX event_actions_by_event ON event_actions(event_id, at);
    "#,
    // 21: the policy risk watch (Art. 8 重大政策舆情风险评估). `policy_scans` says which
    // selection (terms and groups) a policy's documents were found with and how far the
    // documents were read; `policy_documents` the documents about it with the terms and groups
    // found (JSON lists); `policy_levels` each change of its risk level, with the reasons and
    // the day they come from. A rise is told to the policy's section: alerts gain the kind
    // `policy_risk` (SQLite cannot alter a CHECK, so `alerts` is rebuilt with every column;
    // `migrate` runs with foreign keys off, so `alert_attempts` keeps pointing at it).
    r#"
    CREATE TABLE policy_scans (
        policy_id  TEXT PRIMARY KEY,
        selection  TEXT NOT NULL,
        scanned_to INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE policy_documents (
        policy_id   TEXT NOT NULL,
        document_id INTEGER NOT NULL REFERENCES documents(id),
        terms       TEXT NOT NULL,
        groups      TEXT NOT NULL,
        PRIMARY KEY (policy_id, document_id)
    ) WITHOUT ROWID;
    CREATE INDEX policy_documents_by_document ON policy_documents(document_id);
    CREATE TABLE policy_levels (
        id        INTEGER PRIMARY KEY,
        policy_id TEXT NOT NULL,
        level     TEXT NOT NULL CHECK (level IN ('low', 'medium', 'high')),
        reasons   TEXT NOT NULL,
        day       TEXT NOT NULL,
        alert_id  INTEGER,
        at        INTEGER NOT NULL
    );
    CREATE INDEX policy_levels_by_policy ON policy_levels(policy_id, id);
    CREATE TABLE alerts_v21 (
        id              INTEGER PRIMARY KEY,
        kind            TEXT NOT NULL DEFAULT 'document'
                        CHECK (kind IN ('document', 'source_failing', 'source_recovered', 'source_silent',
                                        'briefing', 'outbox_dead', 'config_invalid', 'disk_low', 'policy_risk')),
        document_id     INTEGER REFERENCES documents(id),
        source_id       TEXT,
        channel         TEXT NOT NULL,
        recipients      TEXT NOT NULL,
        subject         TEXT NOT NULL,
        body_text       TEXT NOT NULL,
        body_html       TEXT NOT NULL,
        status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dropped', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        sent_at         INTEGER,
        event_id        INTEGER REFERENCES events(id),
        held            TEXT CHECK (held IN ('quiet', 'rate', 'cap')),
        delivered_to    TEXT,
        digest_id       INTEGER
    );
    INSERT INTO alerts_v21 (id, kind, document_id, source_id, channel, recipients, subject, body_text, body_html,
                            status, attempts, next_attempt_at, last_error, created_at, sent_at, event_id,
                            held, delivered_to, digest_id)
        SELECT id, kind, document_id, source_id, channel, recipients, subject, body_text, body_html,
               status, attempts, next_attempt_at, last_error, created_at, sent_at, event_id,
               held, delivered_to, digest_id FROM alerts;
    DROP TABLE alerts;
    ALTER TABLE alerts_v21 RENAME TO alerts;
    CREATE INDEX alerts_due ON alerts(status, next_attempt_at);
    CREATE INDEX alerts_by_event ON alerts(event_id);
    CREATE INDEX alerts_by_document ON alerts(document_id);
    "#,
    // 22: why a document is 待核实 (to verify) when it is not flagged 谣言: the model puts it
    // in its band, or a 谣言 cue fired that the model did not confirm (`rumour::settle`).
    r#"
    ALTER TABLE documents ADD COLUMN to_verify TEXT;
    "#,
];

/// Number of migrations this build knows.
pub const LATEST: usize = MIGRATIONS.len();

pub fn migrate(conn: &mut Connection) -> Result<(), super::StoreError> {
    // A table rebuild (create the new table, copy, drop the old one, rename) drops a table
    // that others refer to (`alerts` ← `alert_attempts`): with foreign keys on, the drop's
    // implicit delete would fail on the referring rows. SQLite's procedure: foreign keys off
    // (only possible outside a transaction), rebuild, `foreign_key_check`, back on.
    let enforced: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    if enforced {
        conn.pragma_update(None, "foreign_keys", "OFF")?;
    }
    let result = migrate_unchecked(conn);
    if enforced {
        conn.pragma_update(None, "foreign_keys", "ON")?;
    }
    result
}

fn migrate_unchecked(conn: &mut Connection) -> Result<(), super::StoreError> {
    // Take the write lock before reading the version: two processes opening a new
    // database at once (the daemon and `yuqing sources`) must not both migrate it.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > LATEST {
        return Err(super::StoreError::TooNew { found: current, known: LATEST });
    }
    if current == LATEST {
        return Ok(());
    }
    for sql in MIGRATIONS.iter().skip(current) {
        tx.execute_batch(sql)?;
    }
    // What the rebuilds touched must still hold together.
    let broken: i64 =
        tx.query_row("SELECT count(*) FROM pragma_foreign_key_check('alert_attempts')", [], |r| r.get(0))?;
    if broken > 0 {
        return Err(super::StoreError::Corrupt(format!(
            "{broken} delivery attempts refer to no alert after migrating"
        )));
    }
    tx.pragma_update(None, "user_version", i64::try_from(LATEST).unwrap_or(i64::MAX))?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 14 rebuilds `alerts`: rows queued under 13 survive with every column, and the
    /// new kind `briefing` is accepted while unknown kinds are still refused.
    #[test]
    fn the_briefing_kind_migration_keeps_queued_alerts() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.pragma_update(None, "foreign_keys", "ON").expect("fk");
        let tx = conn.transaction().expect("tx");
        for sql in &MIGRATIONS[..13] {
            tx.execute_batch(sql).expect("migration");
        }
        tx.pragma_update(None, "user_version", 13).expect("version");
        tx.commit().expect("commit");
        conn.execute(
            "INSERT INTO alerts (kind, source_id, channel, recipients, subject, body_text, body_html, status, attempts,
                                 next_attempt_at, last_error, created_at)
             VALUES ('source_failing', 'a', 'email', '[]', 's', 't', 'h', 'dead', 3, 5, 'boom', 4)",
            [],
        )
        .expect("old alert");
        migrate(&mut conn).expect("migrate");
        let row: (String, String, String, i64, Option<String>) = conn
            .query_row("SELECT kind, source_id, status, attempts, last_error FROM alerts WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .expect("kept");
        assert_eq!(row, ("source_failing".into(), "a".into(), "dead".into(), 3, Some("boom".into())));
        let insert = |kind: &str| {
            conn.execute(
                "INSERT INTO alerts (kind, channel, recipients, subject, body_text, body_html, next_attempt_at, created_at)
                 VALUES (?1, 'email', '[]', 's', 't', 'h', 0, 0)",
                [kind],
            )
        };
        assert!(insert("briefing").is_ok());
        assert!(insert("gossip").is_err());
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('alerts_due', 'alerts_by_event')",
                [],
                |r| r.get(0),
            )
            .expect("indexes");
        assert_eq!(indexes, 2);
    }

    /// Migration 21 rebuilds `alerts` under rows of `alert_attempts` that refer to it (an
    /// existing database with a delivery history): they survive and still refer to their
    /// alert, the digest columns are kept, and `policy_risk` is a kind.
    #[test]
    fn the_policy_kind_migration_keeps_attempts_pointing_at_their_alerts() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.pragma_update(None, "foreign_keys", "ON").expect("fk");
        let tx = conn.transaction().expect("tx");
        for sql in &MIGRATIONS[..20] {
            tx.execute_batch(sql).expect("migration");
        }
        tx.pragma_update(None, "user_version", 20).expect("version");
        tx.commit().expect("commit");
        conn.execute(
            "INSERT INTO alerts (kind, channel, recipients, subject, body_text, body_html, status, attempts,
                                 next_attempt_at, created_at, held, delivered_to, digest_id)
             VALUES ('briefing', 'email', '[]', 's', 't', 'h', 'sent', 1, 5, 4, 'quiet', '[\"a\"]', 1)",
            [],
        )
        .expect("old alert");
        conn.execute("INSERT INTO alert_attempts (alert_id, at, ok, detail) VALUES (1, 5, 1, '250 ok')", [])
            .expect("attempt");
        migrate(&mut conn).expect("migrate");
        let fk: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).expect("fk");
        assert!(fk, "foreign keys are on again");
        let row: (String, Option<String>, Option<String>, Option<i64>) = conn
            .query_row(
                "SELECT a.kind, a.held, a.delivered_to, a.digest_id FROM alert_attempts t JOIN alerts a ON a.id = t.alert_id",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .expect("attempt joined to its alert");
        assert_eq!(row, ("briefing".into(), Some("quiet".into()), Some("[\"a\"]".into()), Some(1)));
        conn.execute(
            "INSERT INTO alerts (kind, channel, recipients, subject, body_text, body_html, next_attempt_at, created_at)
             VALUES ('policy_risk', 'email', '[]', 's', 't', 'h', 0, 0)",
            [],
        )
        .expect("policy_risk is a kind");
        assert!(conn.execute("INSERT INTO alert_attempts (alert_id, at, ok) VALUES (99, 5, 1)", []).is_err());
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index'
                 AND name IN ('alerts_due', 'alerts_by_event', 'alerts_by_document')",
                [],
                |r| r.get(0),
            )
            .expect("indexes");
        assert_eq!(indexes, 3);
    }
}
