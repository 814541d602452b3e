//! The dialect layer (issue 19): one SQL text, written for SQLite with `?N` placeholders, runs
//! on rusqlite as it is and on PostgreSQL rewritten once per connection ([`to_postgres`]:
//! `?N` → `$N`, `INSERT OR IGNORE` → `INSERT … ON CONFLICT DO NOTHING`). [`Exec`] is one
//! connection or transaction of either backend; [`Db`] adds transactions. Parameters are any
//! value both clients can bind ([`Param`]: i64, f64, text, their `Option`s) and columns any
//! value both can read ([`Column`]).
//!
//! What portable SQL must keep to (the PostgreSQL schema is the SQLite one with BIGINT for
//! every INTEGER, so the values are the same): booleans are 0/1 BIGINTs (bind `i64`, compare
//! `= 1`); a parameter whose type PostgreSQL cannot take from a column is cast
//! (`CAST(?4 AS BIGINT)`); numbers are concatenated as `CAST(x AS TEXT)`; new ids come from
//! `RETURNING id` (SQLite ≥ 3.35), never `last_insert_rowid()`. What is not portable (the
//! claim's row locks, two-argument `max()`, FTS5) is written per [`Dialect`] by the caller.
//!
//! The SQLite side uses rusqlite's statement cache and adds only a small slice of parameter
//! references per call; the ingest path (`store::ingest`) goes through it too.

use super::StoreError;

/// Which SQL the connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Why an SQL text cannot be rewritten for PostgreSQL (a bug in the text, not in the data).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DialectError {
    #[error("placeholder without a number at byte {0} (write ?1, ?2, …)")]
    BarePlaceholder(usize),
    #[error("unterminated string literal")]
    Unterminated,
    #[error("{0} has no PostgreSQL form here; write the statement per dialect")]
    Unsupported(&'static str),
}

/// `sql` for PostgreSQL: `?N` → `$N` outside string literals and quoted names, and
/// `INSERT OR IGNORE INTO …` → `INSERT INTO … ON CONFLICT DO NOTHING` (before a trailing
/// `RETURNING`). `INSERT OR REPLACE` needs a conflict target and is refused.
pub fn to_postgres(sql: &str) -> Result<String, DialectError> {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 24);
    // The first three words (their ends in `out`, upper-cased) and where a RETURNING starts.
    let mut head: Vec<(usize, String)> = Vec::with_capacity(3);
    let mut returning: Option<usize> = None;
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"') => {
                let end = sql[i + 1..].find(char::from(quote)).ok_or(DialectError::Unterminated)? + i + 1;
                out.push_str(&sql[i..=end]);
                i = end + 1;
            }
            b'?' => {
                let digits = sql[i + 1..].bytes().take_while(u8::is_ascii_digit).count();
                if digits == 0 {
                    return Err(DialectError::BarePlaceholder(i));
                }
                out.push('$');
                out.push_str(&sql[i + 1..i + 1 + digits]);
                i += 1 + digits;
            }
            b if b.is_ascii_alphabetic() => {
                let len = sql[i..].bytes().take_while(|&b| ident(b)).count();
                let word = &sql[i..i + len];
                let boundary = i == 0 || !ident(bytes[i - 1]);
                if boundary && word.eq_ignore_ascii_case("RETURNING") {
                    returning = Some(out.len());
                }
                out.push_str(word);
                if head.len() < 3 {
                    head.push((out.len(), word.to_ascii_uppercase()));
                }
                i += len;
            }
            _ => {
                // Up to the next byte that matters (all ASCII, so a UTF-8 boundary).
                let run = sql[i..]
                    .bytes()
                    .position(|b| matches!(b, b'\'' | b'"' | b'?') || b.is_ascii_alphabetic())
                    .unwrap_or(sql.len() - i);
                out.push_str(&sql[i..i + run]);
                i += run;
            }
        }
    }
    let words: Vec<&str> = head.iter().map(|(_, w)| w.as_str()).collect();
    match words.as_slice() {
        ["INSERT", "OR", "IGNORE"] => {
            let clause = " ON CONFLICT DO NOTHING";
            let (insert_end, ignore_end) = (head[0].0, head[2].0);
            let (body, tail) = match returning {
                Some(at) => (&out[ignore_end..at], &out[at..]),
                None => (&out[ignore_end..], ""),
            };
            let body = body.trim_end().trim_end_matches(';').trim_end();
            let mut rewritten = format!("{}{body}{clause}", out[..insert_end].trim_start());
            if !tail.is_empty() {
                rewritten.push(' ');
                rewritten.push_str(tail);
            }
            Ok(rewritten)
        }
        ["INSERT", "OR", "REPLACE"] | ["REPLACE", ..] => Err(DialectError::Unsupported("INSERT OR REPLACE")),
        _ => Ok(out),
    }
}

/// A value both clients can bind.
pub trait Param: Sync {
    fn sqlite(&self) -> &dyn rusqlite::ToSql;
    fn pg(&self) -> &(dyn postgres::types::ToSql + Sync);
}

impl<T: rusqlite::ToSql + postgres::types::ToSql + Sync> Param for T {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn pg(&self) -> &(dyn postgres::types::ToSql + Sync) {
        self
    }
}

/// A value both clients can read from a column.
pub trait Column: rusqlite::types::FromSql + for<'a> postgres::types::FromSql<'a> {}
impl<T: rusqlite::types::FromSql + for<'a> postgres::types::FromSql<'a>> Column for T {}

/// One result row of either backend.
pub enum Row<'a, 's> {
    Sqlite(&'a rusqlite::Row<'s>),
    Postgres(&'a postgres::Row),
}

impl Row<'_, '_> {
    /// Column `idx` (from 0).
    pub fn get<T: Column>(&self, idx: usize) -> Result<T, StoreError> {
        match self {
            Row::Sqlite(r) => Ok(r.get(idx)?),
            Row::Postgres(r) => Ok(r.try_get(idx)?),
        }
    }
}

/// Runs statements on one connection or transaction.
pub trait Exec {
    fn dialect(&self) -> Dialect;
    /// Rows changed.
    fn execute(&mut self, sql: &str, params: &[&dyn Param]) -> Result<usize, StoreError>;
    /// Calls `each` for every row, in order.
    fn each(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        each: &mut dyn FnMut(&Row<'_, '_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

impl dyn Exec + '_ {
    /// Every row, mapped.
    pub fn rows<T>(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        mut map: impl FnMut(&Row<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.each(sql, params, &mut |r| {
            out.push(map(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row, mapped, if there is one.
    pub fn first<T>(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        mut map: impl FnMut(&Row<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut out = None;
        self.each(sql, params, &mut |r| {
            if out.is_none() {
                out = Some(map(r)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row, which must exist (an aggregate, a row just inserted `RETURNING`).
    pub fn one<T>(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        map: impl FnMut(&Row<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.first(sql, params, map)?.ok_or_else(|| StoreError::NoRow(first_line(sql)))
    }
}

fn first_line(sql: &str) -> String {
    sql.trim().lines().next().unwrap_or_default().to_string()
}

/// A connection that also runs transactions.
pub trait Db: Exec {
    /// Runs `f` in one transaction, committed when it returns `Ok`, rolled back otherwise.
    fn transaction(&mut self, f: &mut dyn FnMut(&mut dyn Exec) -> Result<(), StoreError>) -> Result<(), StoreError>;
}

/// [`Db::transaction`] for a closure with a result.
pub fn in_tx<R>(db: &mut dyn Db, f: impl FnOnce(&mut dyn Exec) -> Result<R, StoreError>) -> Result<R, StoreError> {
    let mut f = Some(f);
    let mut out = None;
    db.transaction(&mut |tx| {
        let f = f.take().ok_or_else(|| StoreError::Task("transaction body ran twice".into()))?;
        out = Some(f(tx)?);
        Ok(())
    })?;
    out.ok_or_else(|| StoreError::Task("transaction body did not run".into()))
}

/// An SQLite connection (or the connection of an open transaction).
pub struct Sqlite<'c>(pub &'c rusqlite::Connection);

impl Exec for Sqlite<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[&dyn Param]) -> Result<usize, StoreError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(params.iter().map(|p| p.sqlite())))?)
    }

    fn each(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        each: &mut dyn FnMut(&Row<'_, '_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter().map(|p| p.sqlite())))?;
        while let Some(row) = rows.next()? {
            each(&Row::Sqlite(row))?;
        }
        Ok(())
    }
}

impl Db for Sqlite<'_> {
    fn transaction(&mut self, f: &mut dyn FnMut(&mut dyn Exec) -> Result<(), StoreError>) -> Result<(), StoreError> {
        // Inside the daemon's open group of source runs (`store::group`) a savepoint of it,
        // committed with the group: a source's 304s or notice go with its runs. (The outbox
        // commits the group before its own work, so its transactions never nest.)
        if !self.0.is_autocommit() {
            self.0.execute_batch("SAVEPOINT nested")?;
            return match f(&mut Sqlite(self.0)) {
                Ok(()) => Ok(self.0.execute_batch("RELEASE nested")?),
                Err(e) => {
                    self.0.execute_batch("ROLLBACK TO nested; RELEASE nested")?;
                    Err(e)
                }
            };
        }
        // DEFERRED, as `Connection::transaction`; the store's callers hold the only writer.
        let tx = self.0.unchecked_transaction()?;
        f(&mut Sqlite(&tx))?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_dollars_outside_literals() {
        assert_eq!(
            to_postgres("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND \"?x\" = ?12").as_deref(),
            Ok("SELECT a FROM t WHERE b = $1 AND c = '?2' AND \"?x\" = $12")
        );
        assert_eq!(to_postgres("SELECT 1 WHERE x = ?"), Err(DialectError::BarePlaceholder(19)));
        assert_eq!(to_postgres("SELECT 'open"), Err(DialectError::Unterminated));
        assert_eq!(to_postgres("SELECT '网传？' || ?1").as_deref(), Ok("SELECT '网传？' || $1"));
    }

    #[test]
    fn insert_or_ignore_becomes_on_conflict_do_nothing() {
        assert_eq!(
            to_postgres("INSERT OR IGNORE INTO k (a, b) VALUES (?1, ?2)").as_deref(),
            Ok("INSERT INTO k (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        );
        assert_eq!(
            to_postgres("\n  insert or ignore into k (a) VALUES (?1)\n  RETURNING id").as_deref(),
            Ok("insert into k (a) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id")
        );
        // A column named like the keyword is not the clause.
        assert_eq!(
            to_postgres("INSERT OR IGNORE INTO k (returning_x) VALUES (?1);").as_deref(),
            Ok("INSERT INTO k (returning_x) VALUES ($1) ON CONFLICT DO NOTHING")
        );
        assert_eq!(
            to_postgres("INSERT OR REPLACE INTO k VALUES (?1)"),
            Err(DialectError::Unsupported("INSERT OR REPLACE"))
        );
        let plain = "INSERT INTO k (a) VALUES (?1) ON CONFLICT(a) DO UPDATE SET a = ?1 RETURNING id";
        assert_eq!(
            to_postgres(plain).as_deref(),
            Ok("INSERT INTO k (a) VALUES ($1) ON CONFLICT(a) DO UPDATE SET a = $1 RETURNING id")
        );
    }

    #[test]
    fn one_text_runs_on_sqlite_through_the_layer() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE k (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER)").expect("table");
        let mut db = Sqlite(&conn);
        let db: &mut dyn Db = &mut db;
        let id = in_tx(db, |tx| {
            tx.one("INSERT OR IGNORE INTO k (name, n) VALUES (?1, ?2) RETURNING id", &[&"a", &Some(3i64)], |r| {
                r.get::<i64>(0)
            })
        })
        .expect("insert");
        assert_eq!(id, 1);
        let again = db.execute("INSERT OR IGNORE INTO k (name, n) VALUES (?1, ?2)", &[&"a", &4i64]).expect("ignored");
        assert_eq!(again, 0);
        let e: &mut dyn Exec = db;
        let rows: Vec<(String, Option<i64>)> =
            e.rows("SELECT name, n FROM k WHERE id >= ?1", &[&1i64], |r| Ok((r.get(0)?, r.get(1)?))).expect("rows");
        assert_eq!(rows, vec![("a".to_string(), Some(3))]);
        assert!(matches!(
            e.one("SELECT n FROM k WHERE id = ?1", &[&9i64], |r| r.get::<i64>(0)),
            Err(StoreError::NoRow(_))
        ));
        // A failed body rolls back.
        let failed: Result<(), StoreError> = in_tx(db, |tx| {
            tx.execute("INSERT INTO k (name) VALUES (?1)", &[&"b"])?;
            Err(StoreError::Corrupt("stop".into()))
        });
        assert!(failed.is_err());
        let e: &mut dyn Exec = db;
        assert_eq!(e.one("SELECT count(*) FROM k", &[], |r| r.get::<i64>(0)).expect("count"), 1);
    }
}
