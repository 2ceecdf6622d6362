//! The backends the contract runs against, each fresh per test.

use super::Stores;
use oxify_api::adapters::store::{InMemoryStore, PostgresStore, SqliteStore};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::sync::Arc;
use std::time::Duration;

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

/// `None` when `OXIFY_TEST_POSTGRES_URL` is not set. Otherwise a store in a schema of its own, so
/// that tests run in parallel on one database; an unreachable server fails the test.
pub async fn postgres() -> Option<Stores> {
    let url = std::env::var("OXIFY_TEST_POSTGRES_URL").ok()?;
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = admin(&url).await;
    // The name is ours (a UUID in hex), and identifiers cannot be bound.
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut admin).await.unwrap();
    let _ = admin.close().await;
    let guard = DropSchema { url: url.clone(), schema: schema.clone() };
    let store = PostgresStore::open(&in_schema(&url, &schema), 4)
        .await
        .unwrap_or_else(|e| panic!("cannot open the Postgres store in schema {schema}: {e}"));
    let store = Arc::new(store);
    Some(Stores { workflows: store.clone(), executions: store, _keep: Box::new(guard) })
}

async fn admin(url: &str) -> PgConnection {
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(url)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!("OXIFY_TEST_POSTGRES_URL is set but Postgres is unreachable: {e}"),
        Err(_) => panic!("OXIFY_TEST_POSTGRES_URL is set but Postgres did not answer within 10 s"),
    }
}

/// The URL with `search_path` set to `schema` for every connection (libpq's `options` parameter,
/// which sqlx's `PgConnectOptions` reads too), so the migrations and the store live in it.
fn in_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

/// Drops the test's schema when the test ends, passed or failed.
struct DropSchema {
    url: String,
    schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        // Drop cannot await, and the test's runtime may be the current thread: use another one.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&url).await.ok()?;
                let _ = sqlx::query("SET lock_timeout = '5s'").execute(&mut conn).await;
                let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                let _ = sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await;
                conn.close().await.ok()
            })
        });
        let _ = cleanup.join();
    }
}
