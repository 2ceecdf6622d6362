//! Storage adapters, one per backend.

mod memory;
pub(crate) mod sql_common;
mod sqlite;

pub use memory::InMemoryStore;
pub use sqlite::SqliteStore;
