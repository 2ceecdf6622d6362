//! Read connections, used on the blocking thread pool one read at a time (WAL lets them read
//! while the writer writes).

use super::errors::store_error;
use crate::ports::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub(super) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

impl ReadPool {
    pub(super) fn new(path: PathBuf, max_idle: usize) -> Arc<Self> {
        Arc::new(Self { path, idle: Mutex::default(), max_idle: max_idle.max(1) })
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(store_error)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(store_error)?;
        Ok(conn)
    }

    /// Runs `read` on a read connection, off the async runtime.
    pub(super) async fn read<T, F>(self: &Arc<Self>, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = self.clone();
        tokio::task::spawn_blocking(move || {
            let taken = readers.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let conn = match taken {
                Some(conn) => conn,
                None => readers.open()?,
            };
            let result = read(&conn);
            let mut idle = readers.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < readers.max_idle {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Internal(format!("a database read panicked: {e}")))?
    }
}
