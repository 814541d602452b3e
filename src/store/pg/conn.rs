//! One PostgreSQL connection behind the dialect layer ([`crate::store::sql`]): statements are
//! rewritten from their SQLite text and prepared once per connection (the cache is keyed by
//! the SQLite text), then reused by every call and transaction on it.

use std::collections::HashMap;

use postgres::GenericClient;
use postgres::types::ToSql;

use crate::store::StoreError;
use crate::store::sql::{Db, Dialect, Exec, Param, Row, to_postgres};

/// A client and its prepared statements.
pub struct PgConn {
    /// Always `Some` but while being dropped (see the `Drop`).
    client: Option<postgres::Client>,
    statements: HashMap<String, postgres::Statement>,
}

/// The synchronous client owns a small tokio runtime, which must not be dropped on a thread
/// that drives async tasks (tokio panics): the daemon's store may be dropped there at the
/// end of `run`. Such a drop hands the client to a plain thread to close.
impl Drop for PgConn {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else { return };
        if tokio::runtime::Handle::try_current().is_err() {
            return drop(client);
        }
        let _ = std::thread::spawn(move || drop(client)).join();
    }
}

impl PgConn {
    pub fn new(client: postgres::Client) -> PgConn {
        PgConn { client: Some(client), statements: HashMap::new() }
    }

    /// The client, for what the layer does not cover (migrations, advisory locks).
    pub fn client(&mut self) -> Result<&mut postgres::Client, StoreError> {
        self.client.as_mut().ok_or_else(|| StoreError::Task("the PostgreSQL connection is closed".into()))
    }

    /// The client and the statement cache, for one call.
    fn on(&mut self) -> Result<On<'_, postgres::Client>, StoreError> {
        let client =
            self.client.as_mut().ok_or_else(|| StoreError::Task("the PostgreSQL connection is closed".into()))?;
        Ok(On { client, statements: &mut self.statements })
    }
}

/// A client or a transaction on it, with the connection's statement cache.
struct On<'a, C: GenericClient> {
    client: &'a mut C,
    statements: &'a mut HashMap<String, postgres::Statement>,
}

impl<C: GenericClient> On<'_, C> {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let stmt = self.client.prepare(&to_postgres(sql)?)?;
        self.statements.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }
}

fn pg_params<'p>(params: &'p [&dyn Param]) -> Vec<&'p (dyn ToSql + Sync)> {
    params.iter().map(|p| p.pg()).collect()
}

impl<C: GenericClient> Exec for On<'_, C> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[&dyn Param]) -> Result<usize, StoreError> {
        let stmt = self.statement(sql)?;
        let n = self.client.execute(&stmt, &pg_params(params))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn each(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        each: &mut dyn FnMut(&Row<'_, '_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let stmt = self.statement(sql)?;
        for row in self.client.query(&stmt, &pg_params(params))? {
            each(&Row::Postgres(&row))?;
        }
        Ok(())
    }
}

impl Exec for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[&dyn Param]) -> Result<usize, StoreError> {
        self.on()?.execute(sql, params)
    }

    fn each(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        each: &mut dyn FnMut(&Row<'_, '_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.on()?.each(sql, params, each)
    }
}

impl Db for PgConn {
    fn transaction(&mut self, f: &mut dyn FnMut(&mut dyn Exec) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let client =
            self.client.as_mut().ok_or_else(|| StoreError::Task("the PostgreSQL connection is closed".into()))?;
        let mut tx = client.transaction()?;
        f(&mut On { client: &mut tx, statements: &mut self.statements })?;
        tx.commit()?;
        Ok(())
    }
}
