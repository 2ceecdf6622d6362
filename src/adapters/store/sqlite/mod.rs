//! SQLite storage (`sqlite://path/to/file.db`), the embedded default: WAL mode, a busy timeout,
//! foreign keys on, synchronous commits, one writer thread that groups concurrent writes into one
//! transaction, and read connections on the blocking pool. A lock file keeps a second process off
//! the same database, which also lets this process cache what only it can change.

mod api_key_sql;
mod apply;
mod audit;
mod codec;
mod errors;
mod files;
mod human_tasks;
mod idempotency;
mod identities;
mod identity_sql;
mod latest;
mod mcp_servers;
mod migrate;
mod read_pool;
mod reads;
mod secrets;
mod vectors;
mod writer_thread;
mod writes;

use super::json_columns::encode_workflow;
use super::version_cache::VersionCache;
use crate::domain::access::Scope;
use crate::domain::execution::{Execution, ExecutionEvent, ExecutionUpdate, NodeResult};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::domain::valid::ValidWorkflow;
use crate::ports::{
    ExecutionFilter, ExecutionLog, ExecutionRecords, ExpectedVersion, Lease, Leases, Page, PageRequest, StoreError,
    StoreHealth, VersionInfo, VersionedWorkflow, WorkflowStore, WorkflowSummary,
};
use latest::LatestVersions;
use read_pool::ReadPool;
use rusqlite::{Connection, OpenFlags};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use writer_thread::WriterThread;
use writes::NewVersion;

/// Workflows and executions in one SQLite file.
pub struct SqliteStore {
    readers: Arc<ReadPool>,
    writer: WriterThread,
    cache: VersionCache,
    /// Latest version of each workflow: only this process writes the file.
    latest: LatestVersions,
    _lock: File,
}

/// The file a `sqlite://` URL names (`sqlite://oxify.db`, `sqlite:///var/lib/oxify.db`).
fn path_of(url: &str) -> Result<PathBuf, String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or("a SQLite URL starts with sqlite://")?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return Err("name a database file (use memory:// for an in-memory store)".into());
    }
    let path = PathBuf::from(path);
    // The file is created on first start, its directory is not: say so rather than let SQLite
    // report "unable to open database file".
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        let what = if dir.exists() { "is not a directory" } else { "does not exist" };
        return Err(format!("directory {} {what}; create it, or name another file", dir.display()));
    }
    Ok(path)
}

fn open_writer(path: &Path) -> Result<Connection, String> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| e.to_string())?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("cannot switch the database to WAL mode (it stays in {mode} mode)"));
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;").map_err(|e| e.to_string())?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating it if needed) and migrates the database at `url`.
    ///
    /// # Errors
    /// A message for a bad URL, a file another process holds, or a database that cannot be opened.
    pub async fn open(url: &str, readers: u32) -> Result<Self, String> {
        let path = path_of(url)?;
        let lock = lock_file(&path)?;
        let writer_path = path.clone();
        let conn = tokio::task::spawn_blocking(move || {
            let conn = open_writer(&writer_path)?;
            migrate::run(&conn)?;
            Ok::<_, String>(conn)
        })
        .await
        .map_err(|e| e.to_string())??;
        Ok(Self {
            readers: ReadPool::new(path, readers as usize),
            writer: WriterThread::start(conn)?,
            cache: VersionCache::default(),
            latest: LatestVersions::default(),
            _lock: lock,
        })
    }

    /// Runs a workflow write, recording its outcome (the latest version, `None` once deleted)
    /// in commit order.
    async fn write_workflow<T, F>(
        &self,
        scope: Scope,
        id: WorkflowId,
        work: F,
        latest: fn(&T) -> Option<u32>,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let cache = self.latest.clone();
        self.writer.write_then(work, move |done| cache.committed(id, (scope.workspace(), latest(done)))).await
    }

    /// The latest version of a live workflow of `scope`, from the cache or the database.
    async fn head(&self, scope: Scope, id: WorkflowId) -> Result<Option<latest::Head>, StoreError> {
        if let Some(head) = self.latest.get(id) {
            return Ok(Some(head).filter(|(ws, _)| *ws == scope.workspace()));
        }
        let found = self.readers.read(move |c| reads::head(c, id)).await?;
        if let Some(head) = found {
            self.latest.read(id, head);
        }
        Ok(found.filter(|(ws, _)| *ws == scope.workspace()))
    }
}

/// Takes an exclusive lock on `<database>.lock`, held as long as the store lives, so that two
/// processes never run (and resume) the same executions.
fn lock_file(db: &Path) -> Result<File, String> {
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
    async fn create(&self, scope: Scope, workflow: &ValidWorkflow) -> Result<u32, StoreError> {
        let v = new_version(workflow)?;
        let version = self
            .write_workflow(scope, workflow.id(), move |c| writes::create_workflow(c, scope, &v), |v| Some(*v))
            .await?;
        self.cache.insert(version, workflow);
        Ok(version)
    }

    async fn update(
        &self,
        scope: Scope,
        workflow: &ValidWorkflow,
        expected: &ExpectedVersion,
    ) -> Result<u32, StoreError> {
        let v = new_version(workflow)?;
        let expected = expected.clone();
        let version = self
            .write_workflow(
                scope,
                workflow.id(),
                move |c| writes::update_workflow(c, scope, &v, &expected),
                |v| Some(*v),
            )
            .await?;
        self.cache.insert(version, workflow);
        Ok(version)
    }

    async fn get(&self, scope: Scope, id: WorkflowId) -> Result<VersionedWorkflow, StoreError> {
        match self.head(scope, id).await? {
            Some((_, Some(version))) => self.get_version(scope, id, version).await,
            _ => Err(StoreError::not_found("workflow", id)),
        }
    }

    async fn get_version(&self, scope: Scope, id: WorkflowId, version: u32) -> Result<VersionedWorkflow, StoreError> {
        if self.head(scope, id).await?.is_none() {
            return Err(StoreError::not_found("workflow version", format!("{id} v{version}")));
        }
        let mut json = None;
        if self.cache.get_or_parse(id, version, || None)?.is_none() {
            json = self.readers.read(move |c| reads::definition(c, id, version)).await?;
        }
        self.cache
            .get_or_parse(id, version, || json)?
            .map(|workflow| VersionedWorkflow { version, workflow })
            .ok_or_else(|| StoreError::not_found("workflow version", format!("{id} v{version}")))
    }

    async fn delete(&self, scope: Scope, id: WorkflowId, expected: &ExpectedVersion) -> Result<(), StoreError> {
        let expected = expected.clone();
        self.write_workflow(scope, id, move |c| writes::delete_workflow(c, scope, id, &expected), |()| None).await
    }

    async fn list(&self, scope: Scope, page: PageRequest) -> Result<Page<WorkflowSummary>, StoreError> {
        self.readers.read(move |c| reads::list_workflows(c, scope, page)).await
    }

    async fn list_versions(&self, scope: Scope, id: WorkflowId) -> Result<Vec<VersionInfo>, StoreError> {
        self.readers.read(move |c| reads::list_versions(c, scope, id)).await
    }
}

#[async_trait::async_trait]
impl ExecutionRecords for SqliteStore {
    async fn get(&self, scope: Scope, id: ExecutionId) -> Result<Execution, StoreError> {
        self.readers.read(move |c| reads::get_execution(c, scope, id)).await
    }

    async fn node_results(&self, scope: Scope, id: ExecutionId) -> Result<Vec<NodeResult>, StoreError> {
        self.readers.read(move |c| reads::node_results(c, scope, id)).await
    }

    async fn list(
        &self,
        scope: Scope,
        filter: ExecutionFilter,
        page: PageRequest,
    ) -> Result<Page<Execution>, StoreError> {
        self.readers.read(move |c| reads::list_executions(c, scope, filter, page)).await
    }
}

#[async_trait::async_trait]
impl ExecutionLog for SqliteStore {
    async fn apply<'a>(
        &self,
        scope: Scope,
        id: ExecutionId,
        lease: Option<&'a Lease>,
        update: &ExecutionUpdate,
    ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError> {
        let (lease, update) = (lease.cloned(), update.clone());
        self.writer.write(move |c| apply::apply(c, scope, id, lease.as_ref(), &update)).await
    }

    async fn create_with(
        &self,
        execution: &Execution,
        lease: &Lease,
        first: &ExecutionUpdate,
    ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError> {
        let (e, lease, first) = (execution.clone(), lease.clone(), first.clone());
        self.writer
            .write(move |c| {
                writes::create_execution(c, &e, &lease)?;
                apply::apply(c, e.scope(), e.id, Some(&lease), &first)
            })
            .await
    }

    async fn events_after(
        &self,
        scope: Scope,
        id: ExecutionId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<ExecutionEvent>, StoreError> {
        self.readers.read(move |c| reads::events_after(c, scope, id, after, limit)).await
    }
}

#[async_trait::async_trait]
impl Leases for SqliteStore {
    async fn claim(&self, lease: &Lease, limit: u32, steal: bool) -> Result<Vec<Execution>, StoreError> {
        let lease = lease.clone();
        self.writer.write(move |c| writes::claim(c, &lease, limit, steal)).await
    }

    async fn renew(&self, lease: &Lease, ids: &[ExecutionId]) -> Result<Vec<ExecutionId>, StoreError> {
        let (lease, ids) = (lease.clone(), ids.to_vec());
        self.writer.write(move |c| writes::renew(c, &lease, &ids)).await
    }

    async fn release(&self, lease: &Lease, ids: &[ExecutionId]) -> Result<(), StoreError> {
        let (lease, ids) = (lease.clone(), ids.to_vec());
        self.writer.write(move |c| writes::release(c, &lease, &ids)).await
    }
}

#[async_trait::async_trait]
impl StoreHealth for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.readers
            .read(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).map(|_| ()).map_err(errors::store_error))
            .await
    }
}
