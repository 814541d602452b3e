//! `yuqing db migrate-to`: copies every table of an SQLite store into an empty PostgreSQL
//! database, ids included, in one PostgreSQL transaction read from one SQLite snapshot
//! (safe while the daemon runs); identity sequences continue after the copied ids; each
//! table's row count is compared before the commit, and any difference rolls it all back.

use std::path::Path;

use postgres::types::ToSql;
use rusqlite::types::Value;

use super::PgError;

/// Every SQLite table, parents before the tables that refer to them. The search index is
/// not copied: PostgreSQL's triggers rebuild it as `event_documents` arrives.
pub const TABLES: &[&str] = &[
    "source_state",
    "documents",
    "document_keys",
    "hits",
    "flags",
    "export_files",
    "engagement",
    "comments",
    "events",
    "event_documents",
    "event_actions",
    "alerts",
    "alert_attempts",
    "notifications",
    "keys",
    "link_uses",
    "daemon_state",
    "briefings_sent",
    "console_users",
    "console_sessions",
    "console_forms_used",
    "policy_scans",
    "policy_documents",
    "policy_levels",
];

/// Rows per INSERT (the widest table, `alerts`, has 19 columns: far below the 65535 parameters).
const BATCH: usize = 500;

/// What was copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Each table with its rows (equal on both sides).
    pub tables: Vec<(String, i64)>,
    /// Rows of the PostgreSQL search table, rebuilt from `event_documents`.
    pub search_rows: i64,
    /// Whether pg_trgm indexes the search table.
    pub trigram: bool,
}

/// One value on its way to PostgreSQL, typed by the target column.
enum Cell {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl Cell {
    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Cell::Int(v) => v,
            Cell::Real(v) => v,
            Cell::Text(v) => v,
            Cell::Bytes(v) => v,
        }
    }
}

fn cell(pg_type: &str, value: Value, table: &str, column: &str) -> Result<Cell, PgError> {
    let bad = || {
        PgError::Store(crate::store::StoreError::Corrupt(format!("{table}.{column} holds a value of the wrong type")))
    };
    Ok(match (pg_type, value) {
        ("bigint", Value::Null) => Cell::Int(None),
        ("bigint", Value::Integer(i)) => Cell::Int(Some(i)),
        ("double precision", Value::Null) => Cell::Real(None),
        ("double precision", Value::Real(f)) => Cell::Real(Some(f)),
        #[allow(clippy::cast_precision_loss)] // SQLite stores whole REALs as integers
        ("double precision", Value::Integer(i)) => Cell::Real(Some(i as f64)),
        ("text", Value::Null) => Cell::Text(None),
        ("text", Value::Text(s)) => Cell::Text(Some(s)),
        ("text", Value::Integer(i)) => Cell::Text(Some(i.to_string())),
        ("text", Value::Real(f)) => Cell::Text(Some(f.to_string())),
        ("bytea", Value::Null) => Cell::Bytes(None),
        ("bytea", Value::Blob(b)) => Cell::Bytes(Some(b)),
        ("bytea", Value::Text(s)) => Cell::Bytes(Some(s.into_bytes())),
        _ => return Err(bad()),
    })
}

/// Copies the SQLite store at `sqlite` into the database `client` is connected to, after
/// bringing both schemas up to date. A target holding any row is refused unless `force`,
/// which empties it first (in the same transaction).
pub fn copy_sqlite(sqlite: &Path, client: &mut postgres::Client, force: bool) -> Result<CopyReport, PgError> {
    if !sqlite.exists() {
        return Err(PgError::Store(crate::store::StoreError::Missing(sqlite.to_path_buf())));
    }
    // Opening migrates an older file to the schema the PostgreSQL one mirrors.
    drop(crate::store::Store::open(sqlite)?);
    let mut source = rusqlite::Connection::open_with_flags(sqlite, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    source.busy_timeout(std::time::Duration::from_secs(10))?;
    let snapshot = source.transaction()?;

    super::migrations::migrate(client)?;
    let mut tx = client.transaction()?;
    if force {
        let all: Vec<String> = TABLES
            .iter()
            .chain(&["document_search"])
            .chain(super::migrations::PG_ONLY_TABLES)
            .map(|t| format!("\"{t}\""))
            .collect();
        tx.batch_execute(&format!("TRUNCATE {} RESTART IDENTITY CASCADE", all.join(", ")))?;
    } else {
        for table in TABLES.iter().chain(&["document_search"]) {
            let rows: i64 = tx.query_one(&format!("SELECT count(*) FROM \"{table}\""), &[])?.get(0);
            if rows > 0 {
                return Err(PgError::NotEmpty { table: (*table).to_string(), rows });
            }
        }
    }

    let mut tables = Vec::new();
    for table in TABLES {
        let columns = target_columns(&mut tx, table)?;
        let source_columns: Vec<String> = snapshot
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if let Some(column) = source_columns.iter().find(|c| !columns.iter().any(|(n, _)| n == *c)) {
            return Err(PgError::SchemaDrift { table: (*table).to_string(), column: column.clone() });
        }
        // Columns the target has and the source lacks keep their defaults.
        let columns: Vec<(String, String)> = columns.into_iter().filter(|(n, _)| source_columns.contains(n)).collect();
        let list = columns.iter().map(|(n, _)| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
        let mut select = snapshot.prepare(&format!("SELECT {list} FROM \"{table}\""))?;
        let mut rows = select.query([])?;
        let mut batch: Vec<Cell> = Vec::new();
        let mut copied = 0i64;
        while let Some(row) = rows.next()? {
            for (i, (name, ty)) in columns.iter().enumerate() {
                batch.push(cell(ty, row.get::<_, Value>(i)?, table, name)?);
            }
            if batch.len() >= BATCH * columns.len() {
                copied += insert(&mut tx, table, &list, columns.len(), &batch)?;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            copied += insert(&mut tx, table, &list, columns.len(), &batch)?;
        }
        let source_rows: i64 = snapshot.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| r.get(0))?;
        let target_rows: i64 = tx.query_one(&format!("SELECT count(*) FROM \"{table}\""), &[])?.get(0);
        if source_rows != target_rows || copied != target_rows {
            return Err(PgError::CountMismatch { table: (*table).to_string(), source_rows, target_rows });
        }
        if columns.iter().any(|(n, _)| n == "id") && identity(&mut tx, table)? {
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT max(id) FROM \"{table}\"), 1),
                                   (SELECT max(id) FROM \"{table}\") IS NOT NULL)"
                ),
                &[],
            )?;
        }
        tables.push(((*table).to_string(), target_rows));
    }
    let search_rows: i64 = tx.query_one("SELECT count(*) FROM document_search", &[])?.get(0);
    tx.commit()?;
    let trigram = super::migrations::has_trigram_index(client)?;
    Ok(CopyReport { tables, search_rows, trigram })
}

/// The target table's columns with their types, in table order.
fn target_columns(tx: &mut postgres::Transaction<'_>, table: &str) -> Result<Vec<(String, String)>, PgError> {
    Ok(tx
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

fn identity(tx: &mut postgres::Transaction<'_>, table: &str) -> Result<bool, PgError> {
    let row = tx.query_one(
        "SELECT count(*) FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'id' AND is_identity = 'YES'",
        &[&table],
    )?;
    Ok(row.get::<_, i64>(0) > 0)
}

fn insert(
    tx: &mut postgres::Transaction<'_>,
    table: &str,
    list: &str,
    width: usize,
    cells: &[Cell],
) -> Result<i64, PgError> {
    let rows = cells.len() / width;
    let mut sql = format!("INSERT INTO \"{table}\" ({list}) VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", r * width + c + 1));
        }
        sql.push(')');
    }
    let params: Vec<&(dyn ToSql + Sync)> = cells.iter().map(Cell::param).collect();
    let n = tx.execute(&sql, &params)?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table of the SQLite schema is copied (a new table must be added to TABLES, and
    /// to the PostgreSQL schema).
    #[test]
    fn every_sqlite_table_is_listed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("y.db");
        drop(crate::store::Store::open(&path).expect("open"));
        let conn = rusqlite::Connection::open(&path).expect("open");
        let mut names: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table'
                 AND name NOT LIKE 'document_search%' AND name NOT LIKE 'sqlite_%'",
            )
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("names");
        names.sort();
        let mut listed: Vec<String> = TABLES.iter().map(|t| (*t).to_string()).collect();
        listed.sort();
        assert_eq!(names, listed);
    }
}
