//! The store shared by the daemon's tasks: one connection behind a mutex, used from a
//! blocking task so that SQLite never stalls the async runtime. Its source runs share
//! write transactions (`store::group`); what must not see them uncommitted (the outbox,
//! any other transaction) commits them first inside the store.

use std::sync::{Arc, Mutex};

use super::{Store, StoreError};

/// Runs a store operation on the blocking pool.
pub async fn with_store<T, F>(store: &Arc<Mutex<Store>>, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = store.lock().map_err(|_| StoreError::Poisoned)?;
        f(&mut guard)
    })
    .await
    .map_err(|e| StoreError::Task(e.to_string()))?
}
