//! The store shared by the daemon's tasks: one connection behind a mutex, used from a
//! blocking task so that SQLite never stalls the async runtime. Whoever takes it for
//! anything but a source run commits the open group of runs first ([`lock_flushed`]), so
//! nothing is read for sending, or written beside them, before they are durable.

use std::sync::{Arc, Mutex, MutexGuard};

use super::{Store, StoreError};

/// Runs a store operation on the blocking pool, after committing any open group of runs.
pub async fn with_store<T, F>(store: &Arc<Mutex<Store>>, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = lock_flushed(&store)?;
        f(&mut guard)
    })
    .await
    .map_err(|e| StoreError::Task(e.to_string()))?
}

/// The shared store, locked, with its open group of source runs committed.
pub fn lock_flushed(store: &Mutex<Store>) -> Result<MutexGuard<'_, Store>, StoreError> {
    let mut guard = store.lock().map_err(|_| StoreError::Poisoned)?;
    guard.flush()?;
    Ok(guard)
}
