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
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

impl PgConn {
    pub fn new(client: postgres::Client) -> PgConn {
        PgConn { client, statements: HashMap::new() }
    }

    /// The client, for what the layer does not cover (migrations, advisory locks).
    pub fn client(&mut self) -> &mut postgres::Client {
        &mut self.client
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
        On { client: &mut self.client, statements: &mut self.statements }.execute(sql, params)
    }

    fn each(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        each: &mut dyn FnMut(&Row<'_, '_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        On { client: &mut self.client, statements: &mut self.statements }.each(sql, params, each)
    }
}

impl Db for PgConn {
    fn transaction(&mut self, f: &mut dyn FnMut(&mut dyn Exec) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        f(&mut On { client: &mut tx, statements: &mut self.statements })?;
        tx.commit()?;
        Ok(())
    }
}
