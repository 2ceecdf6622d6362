//! The backends the contract runs against, each fresh per test.

use super::{Backend, Stores};
use oxify_api::adapters::store::{InMemoryStore, PostgresStore, SqliteStore};
use oxify_api::ports::{
    AuditLog, ExecutionStore, FileStore, HumanTaskStore, IdempotencyStore, IdentityStore, McpServerStore, SecretStore,
    VectorStore, WorkflowStore,
};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

/// Every role of the contract played by one store.
fn of<S>(store: Arc<S>, backend: Backend, keep: Box<dyn Any + Send>) -> Stores
where
    S: WorkflowStore
        + ExecutionStore
        + IdempotencyStore
        + IdentityStore
        + SecretStore
        + McpServerStore
        + HumanTaskStore
        + AuditLog
        + VectorStore
        + FileStore
        + 'static,
{
    Stores {
        workflows: store.clone(),
        executions: store.clone(),
        idempotency: store.clone(),
        identities: store.clone(),
        secrets: store.clone(),
        mcp_servers: store.clone(),
        tasks: store.clone(),
        audit: store.clone(),
        vectors: store.clone(),
        files: store,
        backend,
        _keep: keep,
    }
}

pub fn memory() -> Stores {
    of(Arc::new(InMemoryStore::new()), Backend::Memory, Box::new(()))
}

pub async fn sqlite() -> Stores {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("contract.db").display());
    let store = Arc::new(SqliteStore::open(&url, 4).await.unwrap());
    of(store, Backend::Sqlite(url), Box::new(dir))
}

/// A store in a schema of its own on the server named by `OXIFY_TEST_POSTGRES_URL`, so that tests
/// run in parallel on one database. Without the variable (the tests are then ignored unless run
/// with `--ignored`) or with an unreachable server, the test fails.
pub async fn postgres() -> Stores {
    let (url, guard) = postgres_schema().await;
    let store = Arc::new(open_postgres(&url).await);
    of(store, Backend::Postgres(url), Box::new(guard))
}

/// `OXIFY_TEST_POSTGRES_URL` as set now, else as it was when the tests were built.
pub fn test_postgres_url() -> String {
    std::env::var("OXIFY_TEST_POSTGRES_URL")
        .ok()
        .or_else(|| option_env!("OXIFY_TEST_POSTGRES_URL").map(str::to_owned))
        .filter(|url| !url.is_empty())
        .expect("OXIFY_TEST_POSTGRES_URL must name a Postgres server for the Postgres tests")
}

/// A new empty schema on the test server, as a URL whose connections use it, and the guard that
/// drops it.
pub async fn postgres_schema() -> (String, impl Send + 'static) {
    let url = test_postgres_url();
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = admin(&url).await;
    // The name is ours (a UUID in hex), and identifiers cannot be bound.
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut admin).await.unwrap();
    let _ = admin.close().await;
    let guard = DropSchema { url: url.clone(), schema: schema.clone() };
    (in_schema(&url, &schema), guard)
}

pub async fn open_postgres(url: &str) -> PostgresStore {
    PostgresStore::open(url, 4).await.unwrap_or_else(|e| panic!("cannot open the Postgres store at {url}: {e}"))
}

/// The same data through a new store, as after a restart: whatever the old one cached in
/// memory cannot answer. The memory store has nothing else to reopen.
pub async fn reopen(s: Stores) -> Stores {
    if matches!(s.backend, Backend::Memory) {
        return s;
    }
    // The old store's handles (and a SQLite file's lock) are released before the new one opens.
    let (backend, keep) = parts(s);
    match &backend {
        Backend::Sqlite(url) => {
            let store = Arc::new(SqliteStore::open(url, 4).await.unwrap());
            of(store, backend, keep)
        }
        Backend::Postgres(url) => {
            let store = Arc::new(open_postgres(url).await);
            of(store, backend, keep)
        }
        Backend::Memory => unreachable!("returned above"),
    }
}

/// What outlives a store's handles: where its data is, and what keeps that place.
fn parts(s: Stores) -> (Backend, Box<dyn Any + Send>) {
    (s.backend, s._keep)
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
