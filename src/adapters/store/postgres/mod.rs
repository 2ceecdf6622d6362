//! Postgres storage (`postgres://user:password@host/db`), for several server processes sharing one
//! database: a connection pool, one transaction per atomic write, row locks to order the writers of
//! an execution, and leases timed by the database's clock.

mod api_key_sql;
mod apply;
mod audit;
mod codec;
pub(super) mod errors;
mod files;
mod human_tasks;
mod idempotency;
mod identities;
mod identity_sql;
mod leases;
mod mcp_servers;
mod nul;
mod reads;
mod secrets;
mod vectors;
mod writes;

use super::json_columns::encode_workflow;
use super::version_cache::VersionCache;
use crate::domain::access::Scope;
use crate::domain::execution::{Execution, ExecutionEvent, ExecutionUpdate, NodeResult};
use crate::domain::ids::{ExecutionId, WorkflowId, WorkspaceId};
use crate::domain::valid::ValidWorkflow;
use crate::ports::{
    ExecutionFilter, ExecutionLog, ExecutionRecords, ExpectedVersion, Lease, Leases, Page, PageRequest, StoreError,
    StoreHealth, VersionInfo, VersionedWorkflow, WorkflowStore, WorkflowSummary,
};
use errors::store_error;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool, Postgres, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use writes::NewVersion;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// How long to wait for a connection, so that an unreachable server fails start-up (and requests)
/// quickly instead of hanging.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Workflows and executions in a Postgres database, shareable by several processes.
pub struct PostgresStore {
    pool: PgPool,
    cache: VersionCache,
    /// The workspace of each workflow id seen. Exact in any process: an id never changes
    /// workspace (another workspace cannot take it over, even once deleted).
    owners: std::sync::Mutex<std::collections::HashMap<WorkflowId, WorkspaceId>>,
}

impl PostgresStore {
    /// Connects a pool of at most `max_connections` and migrates the database at `url`.
    ///
    /// # Errors
    /// A message for a bad URL, an unreachable server or a failed migration.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, String> {
        let options = PgConnectOptions::from_str(url).map_err(|e| format!("bad Postgres URL: {e}"))?;
        // One plain connection first: the pool would retry a refused connection until its timeout
        // and then report only that it timed out, hiding the reason.
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
            .await
            .map_err(|_| format!("cannot connect: no answer within {} s", CONNECT_TIMEOUT.as_secs()))?
            .map_err(|e| format!("cannot connect: {e}"))?;
        // The migrator holds an advisory lock, so processes starting together migrate one at a time.
        MIGRATOR.run(&mut conn).await.map_err(|e| format!("migrating the database failed: {e}"))?;
        let _ = conn.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        Ok(Self { pool, cache: VersionCache::default(), owners: std::sync::Mutex::default() })
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(store_error)
    }

    /// Whether workflow `id` belongs to `scope`'s workspace.
    async fn owns(&self, scope: Scope, id: WorkflowId) -> Result<bool, StoreError> {
        let known = self.owners.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&id).copied();
        let owner = match known {
            Some(owner) => Some(owner),
            None => {
                let found = reads::owner(&self.pool, id).await?;
                if let Some(owner) = found {
                    self.owners.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, owner);
                }
                found
            }
        };
        Ok(owner == Some(scope.workspace()))
    }
}

/// Commits a transaction after its work succeeded, or rolls it back. The rollback is awaited
/// rather than left to the pool, so the work's row locks are gone by the time the caller hears
/// of the failure.
async fn finish<T>(tx: Transaction<'static, Postgres>, work: Result<T, StoreError>) -> Result<T, StoreError> {
    match work {
        Ok(value) => tx.commit().await.map(|()| value).map_err(store_error),
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

fn new_version(workflow: &ValidWorkflow) -> Result<NewVersion, StoreError> {
    let wf = workflow.workflow();
    let (metadata, definition) = encode_workflow(wf)?;
    let too_big = |what: &str| StoreError::Internal(format!("a workflow with more than {} {what}", i32::MAX));
    Ok(NewVersion {
        id: wf.metadata.id,
        metadata,
        definition,
        node_count: i32::try_from(wf.nodes.len()).map_err(|_| too_big("nodes"))?,
        edge_count: i32::try_from(wf.edges.len()).map_err(|_| too_big("edges"))?,
        created_at: wf.metadata.created_at,
        saved_at: wf.metadata.updated_at,
    })
}

#[async_trait::async_trait]
impl WorkflowStore for PostgresStore {
    async fn create(&self, scope: Scope, workflow: &ValidWorkflow) -> Result<u32, StoreError> {
        let v = new_version(workflow)?;
        let mut tx = self.begin().await?;
        let written = writes::create_workflow(&mut tx, scope, &v).await;
        let version = finish(tx, written).await?;
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
        let mut tx = self.begin().await?;
        let written = writes::update_workflow(&mut tx, scope, &v, expected).await;
        let version = finish(tx, written).await?;
        self.cache.insert(version, workflow);
        Ok(version)
    }

    async fn get(&self, scope: Scope, id: WorkflowId) -> Result<VersionedWorkflow, StoreError> {
        let version =
            reads::latest_version(&self.pool, scope, id).await?.ok_or_else(|| StoreError::not_found("workflow", id))?;
        self.get_version(scope, id, version).await
    }

    async fn get_version(&self, scope: Scope, id: WorkflowId, version: u32) -> Result<VersionedWorkflow, StoreError> {
        if !self.owns(scope, id).await? {
            return Err(StoreError::not_found("workflow version", format!("{id} v{version}")));
        }
        let mut json = None;
        if self.cache.get_or_parse(id, version, || None)?.is_none() {
            json = reads::definition(&self.pool, id, version).await?;
        }
        self.cache
            .get_or_parse(id, version, || json)?
            .map(|workflow| VersionedWorkflow { version, workflow })
            .ok_or_else(|| StoreError::not_found("workflow version", format!("{id} v{version}")))
    }

    async fn delete(&self, scope: Scope, id: WorkflowId, expected: &ExpectedVersion) -> Result<(), StoreError> {
        // One conditional UPDATE, atomic on its own: no transaction needed.
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        writes::delete_workflow(&mut conn, scope, id, expected).await
    }

    async fn list(&self, scope: Scope, page: PageRequest) -> Result<Page<WorkflowSummary>, StoreError> {
        reads::list_workflows(&self.pool, scope, page).await
    }

    async fn list_versions(&self, scope: Scope, id: WorkflowId) -> Result<Vec<VersionInfo>, StoreError> {
        reads::list_versions(&self.pool, scope, id).await
    }
}

#[async_trait::async_trait]
impl ExecutionRecords for PostgresStore {
    async fn get(&self, scope: Scope, id: ExecutionId) -> Result<Execution, StoreError> {
        reads::get_execution(&self.pool, scope, id).await
    }

    async fn node_results(&self, scope: Scope, id: ExecutionId) -> Result<Vec<NodeResult>, StoreError> {
        reads::node_results(&self.pool, scope, id).await
    }

    async fn list(
        &self,
        scope: Scope,
        filter: ExecutionFilter,
        page: PageRequest,
    ) -> Result<Page<Execution>, StoreError> {
        reads::list_executions(&self.pool, scope, filter, page).await
    }
}

#[async_trait::async_trait]
impl ExecutionLog for PostgresStore {
    async fn apply<'a>(
        &self,
        scope: Scope,
        id: ExecutionId,
        lease: Option<&'a Lease>,
        update: &ExecutionUpdate,
    ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError> {
        let mut tx = self.begin().await?;
        let stored = apply::apply(&mut tx, scope, id, lease, update).await;
        finish(tx, stored).await
    }

    async fn create_with(
        &self,
        execution: &Execution,
        lease: &Lease,
        first: &ExecutionUpdate,
    ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError> {
        let mut tx = self.begin().await?;
        let stored = match writes::create_execution(&mut tx, execution, lease).await {
            Ok(()) => apply::apply(&mut tx, execution.scope(), execution.id, Some(lease), first).await,
            Err(e) => Err(e),
        };
        finish(tx, stored).await
    }

    async fn events_after(
        &self,
        scope: Scope,
        id: ExecutionId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<ExecutionEvent>, StoreError> {
        reads::events_after(&self.pool, scope, id, after, limit).await
    }
}

#[async_trait::async_trait]
impl Leases for PostgresStore {
    async fn claim(&self, lease: &Lease, limit: u32, steal: bool) -> Result<Vec<Execution>, StoreError> {
        leases::claim(&self.pool, lease, limit, steal).await
    }

    async fn renew(&self, lease: &Lease, ids: &[ExecutionId]) -> Result<Vec<ExecutionId>, StoreError> {
        leases::renew(&self.pool, lease, ids).await
    }

    async fn release(&self, lease: &Lease, ids: &[ExecutionId]) -> Result<(), StoreError> {
        leases::release(&self.pool, lease, ids).await
    }
}

#[async_trait::async_trait]
impl StoreHealth for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        conn.ping().await.map_err(store_error)
    }
}
