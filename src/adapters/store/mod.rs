//! Storage adapters, one per backend.

mod memory;
mod postgres;
pub(crate) mod sql_common;
mod sqlite;

pub use memory::InMemoryStore;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
