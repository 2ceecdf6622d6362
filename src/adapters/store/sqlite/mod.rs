//! SQLite storage (`sqlite://path/to/file.db`), the embedded default: WAL mode, a busy timeout,
//! foreign keys on, synchronous commits, one writer task that groups concurrent writes into one
//! transaction, and a pool of readers. A lock file keeps a second process off the same database.

mod apply;
mod codec;
mod reads;
mod writer;
mod writes;

use super::sql_common::{VersionCache, encode_workflow, store_error};
use crate::domain::execution::{Execution, ExecutionEvent, ExecutionUpdate, NodeResult};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::domain::valid::ValidWorkflow;
use crate::ports::{
    ExecutionFilter, ExecutionStore, Lease, Page, PageRequest, StoreError, VersionInfo, VersionedWorkflow,
    WorkflowStore, WorkflowSummary,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqlitePool};
use std::fs::File;
use std::str::FromStr;
use std::time::Duration;
use writer::Writer;
use writes::NewVersion;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// Workflows and executions in one SQLite file.
pub struct SqliteStore {
    reads: SqlitePool,
    writer: Writer,
    cache: VersionCache,
    _lock: Option<File>,
}

impl SqliteStore {
    /// Opens (creating it if needed) and migrates the database at `url`.
    ///
    /// # Errors
    /// A message for a bad URL, a file another process holds, or a database that cannot be opened.
    pub async fn open(url: &str, readers: u32) -> Result<Self, String> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| format!("bad SQLite URL: {e}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let filename = options.get_filename().to_path_buf();
        let in_memory = filename.as_os_str().is_empty() || filename.to_string_lossy().contains(":memory:");
        let lock = if in_memory { None } else { Some(lock_file(&filename)?) };
        let mut conn = options.connect().await.map_err(|e| e.to_string())?;
        MIGRATOR.run(&mut conn).await.map_err(|e| format!("migrating the database failed: {e}"))?;
        let reads = SqlitePoolOptions::new()
            .max_connections(readers.max(1))
            .connect_with(options.read_only(!in_memory))
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self { reads, writer: Writer::start(conn), cache: VersionCache::default(), _lock: lock })
    }
}

/// Takes an exclusive lock on `<database>.lock`, held as long as the store lives, so that two
/// processes never run (and resume) the same executions.
fn lock_file(db: &std::path::Path) -> Result<File, String> {
    let mut path = db.as_os_str().to_owned();
    path.push(".lock");
    let file =
        File::create(&path).map_err(|e| format!("cannot create the lock file {}: {e}", path.to_string_lossy()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(_) => Err(format!("{} is in use by another oxify-api process", db.display())),
    }
}

fn new_version(workflow: &ValidWorkflow) -> Result<NewVersion, StoreError> {
    let wf = workflow.workflow();
    let (metadata, definition) = encode_workflow(wf)?;
    Ok(NewVersion {
        id: wf.metadata.id,
        metadata,
        definition,
        node_count: i64::try_from(wf.nodes.len()).unwrap_or(i64::MAX),
        edge_count: i64::try_from(wf.edges.len()).unwrap_or(i64::MAX),
        created_at: codec::micros(wf.metadata.created_at),
        saved_at: codec::micros(wf.metadata.updated_at),
    })
}

#[async_trait::async_trait]
impl WorkflowStore for SqliteStore {
    async fn create(&self, workflow: &ValidWorkflow) -> Result<u32, StoreError> {
        let v = new_version(workflow)?;
        let version = self.writer.write(move |c| Box::pin(async move { writes::create_workflow(c, &v).await })).await?;
        self.cache.insert(version, workflow);
        Ok(version)
    }

    async fn update(&self, workflow: &ValidWorkflow) -> Result<u32, StoreError> {
        let v = new_version(workflow)?;
        let version = self.writer.write(move |c| Box::pin(async move { writes::update_workflow(c, &v).await })).await?;
        self.cache.insert(version, workflow);
        Ok(version)
    }

    async fn get(&self, id: WorkflowId) -> Result<VersionedWorkflow, StoreError> {
        let version =
            reads::latest_version(&self.reads, id).await?.ok_or_else(|| StoreError::not_found("workflow", id))?;
        self.get_version(id, version).await
    }

    async fn get_version(&self, id: WorkflowId, version: u32) -> Result<VersionedWorkflow, StoreError> {
        let mut json = None;
        if self.cache.get_or_parse(id, version, || None)?.is_none() {
            json = reads::definition(&self.reads, id, version).await?;
        }
        self.cache
            .get_or_parse(id, version, || json)?
            .map(|workflow| VersionedWorkflow { version, workflow })
            .ok_or_else(|| StoreError::not_found("workflow version", format!("{id} v{version}")))
    }

    async fn delete(&self, id: WorkflowId) -> Result<(), StoreError> {
        self.writer.write(move |c| Box::pin(async move { writes::delete_workflow(c, id).await })).await
    }

    async fn list(&self, page: PageRequest) -> Result<Page<WorkflowSummary>, StoreError> {
        reads::list_workflows(&self.reads, page).await
    }

    async fn list_versions(&self, id: WorkflowId) -> Result<Vec<VersionInfo>, StoreError> {
        reads::list_versions(&self.reads, id).await
    }
}

#[async_trait::async_trait]
impl ExecutionStore for SqliteStore {
    async fn create(&self, execution: &Execution, lease: &Lease) -> Result<(), StoreError> {
        let (e, lease) = (execution.clone(), lease.clone());
        self.writer.write(move |c| Box::pin(async move { writes::create_execution(c, &e, &lease).await })).await
    }

    async fn get(&self, id: ExecutionId) -> Result<Execution, StoreError> {
        reads::get_execution(&self.reads, id).await
    }

    async fn node_results(&self, id: ExecutionId) -> Result<Vec<NodeResult>, StoreError> {
        reads::node_results(&self.reads, id).await
    }

    async fn list(&self, filter: ExecutionFilter, page: PageRequest) -> Result<Page<Execution>, StoreError> {
        reads::list_executions(&self.reads, filter, page).await
    }

    async fn apply<'a>(
        &self,
        id: ExecutionId,
        lease: Option<&'a Lease>,
        update: &ExecutionUpdate,
    ) -> Result<Vec<ExecutionEvent>, StoreError> {
        let (lease, update) = (lease.cloned(), update.clone());
        self.writer.write(move |c| Box::pin(async move { apply::apply(c, id, lease.as_ref(), &update).await })).await
    }

    async fn claim(&self, lease: &Lease, limit: u32, steal: bool) -> Result<Vec<Execution>, StoreError> {
        let lease = lease.clone();
        self.writer.write(move |c| Box::pin(async move { writes::claim(c, &lease, limit, steal).await })).await
    }

    async fn renew(&self, lease: &Lease, ids: &[ExecutionId]) -> Result<Vec<ExecutionId>, StoreError> {
        let (lease, ids) = (lease.clone(), ids.to_vec());
        self.writer.write(move |c| Box::pin(async move { writes::renew(c, &lease, &ids).await })).await
    }

    async fn release(&self, lease: &Lease, ids: &[ExecutionId]) -> Result<(), StoreError> {
        let (lease, ids) = (lease.clone(), ids.to_vec());
        self.writer.write(move |c| Box::pin(async move { writes::release(c, &lease, &ids).await })).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.reads.acquire().await.map_err(store_error)?;
        conn.ping().await.map_err(store_error)
    }

    async fn events_after(&self, id: ExecutionId, after: u64, limit: u32) -> Result<Vec<ExecutionEvent>, StoreError> {
        reads::events_after(&self.reads, id, after, limit).await
    }
}
