//! The backends the contract runs against, each fresh per test.

use super::Stores;
use oxify_api::adapters::store::{InMemoryStore, SqliteStore};
use std::sync::Arc;

pub fn memory() -> Stores {
    let store = Arc::new(InMemoryStore::new());
    Stores { workflows: store.clone(), executions: store, _keep: Box::new(()) }
}

pub async fn sqlite() -> Stores {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("contract.db").display());
    let store = Arc::new(SqliteStore::open(&url, 4).await.unwrap());
    Stores { workflows: store.clone(), executions: store, _keep: Box::new(dir) }
}

/// `None` when `OXIFY_TEST_POSTGRES_URL` is not set.
pub async fn postgres() -> Option<Stores> {
    let _url = std::env::var("OXIFY_TEST_POSTGRES_URL").ok()?;
    panic!("OXIFY_TEST_POSTGRES_URL is set but the Postgres adapter is not built yet");
}
