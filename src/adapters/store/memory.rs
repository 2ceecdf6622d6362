//! Everything in process memory (`memory://`): fast, and gone when the process stops.

use crate::domain::access::Scope;
use crate::domain::execution::{Execution, ExecutionEvent, ExecutionState, ExecutionUpdate, NewEvent, NodeResult};
use crate::domain::ids::{ExecutionId, NodeId, WorkflowId, WorkspaceId};
use crate::domain::valid::ValidWorkflow;
use crate::ports::{
    Cursor, ExecutionFilter, ExecutionLog, ExecutionRecords, ExpectedVersion, Lease, Leases, Page, PageRequest,
    StoreError, StoreHealth, VersionInfo, VersionedWorkflow, WorkflowStore, WorkflowSummary,
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;
use uuid::Uuid;

mod audit;
mod files;
mod human_tasks;
pub(crate) use human_tasks::paged as paged_tasks;
mod idempotency;
mod identities;
mod mcp_servers;
mod secrets;
mod vectors;

type OrderKey = (DateTime<Utc>, Uuid);

/// Maps keyed by ids or small tuples, looked up on every write: foldhash is cheaper than SipHash
/// on such keys, and nothing here is keyed by what a client chose freely.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Workflows and executions in memory behind one lock (never held across an await).
#[derive(Default)]
pub struct InMemoryStore {
    inner: RwLock<Inner>,
    /// Workspaces, users, memberships, API keys and settings, under a lock of their own.
    identities: identities::Identities,
}

#[derive(Default)]
struct Inner {
    workflows: HashMap<WorkflowId, WorkflowEntry>,
    /// Live workflows of each workspace, by creation.
    workflow_order: HashMap<WorkspaceId, BTreeSet<OrderKey>>,
    /// Boxed, so that growing the map moves pointers rather than whole entries.
    executions: FastMap<ExecutionId, Box<ExecutionEntry>>,
    /// Executions of each workspace, by creation.
    execution_order: HashMap<WorkspaceId, BTreeSet<OrderKey>>,
    /// Executions per (workspace, workflow, state) filter, so a list's `total` costs no scan.
    counts: Counts,
    /// Idempotency keys, under the same lock as the executions they started.
    keys: idempotency::Keys,
    /// Sealed secrets by workspace and name.
    secrets: HashMap<(WorkspaceId, String), crate::ports::SealedSecret>,
    /// Registered MCP servers by workspace and name.
    mcp_servers: HashMap<(WorkspaceId, String), crate::domain::mcp::McpServer>,
    /// Audit entries of each workspace, oldest first.
    audit: HashMap<WorkspaceId, Vec<crate::ports::AuditEntry>>,
    /// Vector collections by workspace and name.
    vectors: vectors::Collections,
    /// Uploaded files by id.
    files: files::Files,
    /// Approvals and forms.
    tasks: HashMap<crate::domain::ids::TaskId, crate::domain::human::HumanTask>,
    /// Notifications being delivered, and until when their deliverer holds them.
    notify_claims: HashMap<crate::domain::ids::TaskId, chrono::DateTime<chrono::Utc>>,
}

type CountKey = (WorkspaceId, Option<WorkflowId>, Option<ExecutionState>);

type Counts = FastMap<CountKey, u64>;

struct WorkflowEntry {
    workspace: WorkspaceId,
    versions: Vec<ValidWorkflow>,
    order: OrderKey,
    deleted: bool,
}

struct ExecutionEntry {
    execution: Execution,
    owner: Option<(String, Instant)>,
    /// When a parked execution may be claimed again.
    wake_at: Option<DateTime<Utc>>,
    results: Vec<NodeResult>,
    /// Where each node's result sits in `results`, while results can still change (emptied once
    /// the execution ended: a finished run's results are final).
    result_index: FastMap<NodeId, usize>,
    /// In the `Arc`s they were published in: one allocation per event, shared with the bus (an
    /// event streamed live keeps its wire rendering here, and replays reuse it).
    events: Vec<Arc<ExecutionEvent>>,
}

impl InMemoryStore {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn versioned(entry: &WorkflowEntry, version: u32) -> Option<VersionedWorkflow> {
    let workflow = entry.versions.get(usize::try_from(version).ok()?.checked_sub(1)?)?.clone();
    Some(VersionedWorkflow { version, workflow })
}

fn latest_version(entry: &WorkflowEntry) -> u32 {
    u32::try_from(entry.versions.len()).unwrap_or(u32::MAX)
}

fn latest(entry: &WorkflowEntry) -> VersionedWorkflow {
    VersionedWorkflow { version: latest_version(entry), workflow: entry.versions[entry.versions.len() - 1].clone() }
}

/// The live workflow a conditional write may change (checked under the write lock, so the check
/// and the write are one step).
fn writable<'a>(
    inner: &'a mut Inner,
    scope: Scope,
    id: WorkflowId,
    expected: &ExpectedVersion,
) -> Result<&'a mut WorkflowEntry, StoreError> {
    let entry = inner
        .workflows
        .get_mut(&id)
        .filter(|e| !e.deleted && e.workspace == scope.workspace())
        .ok_or_else(|| StoreError::not_found("workflow", id))?;
    let current = latest_version(entry);
    if expected.admits(current) { Ok(entry) } else { Err(StoreError::version_mismatch("workflow", id, current)) }
}

/// Walks `order` newest first from the cursor, keeping items `pick` returns, one page's worth.
fn page_of<T>(
    order: &BTreeSet<OrderKey>,
    page: PageRequest,
    total: u64,
    mut pick: impl FnMut(&OrderKey) -> Option<T>,
) -> Page<T> {
    if page.limit == 0 {
        // The total only: walking the list for items nobody asked for would cost a scan.
        return Page { items: Vec::new(), total, next: None };
    }
    let upper = page.after.map(|c| (c.created_at, c.id));
    let candidates = order.iter().rev().filter(|k| upper.is_none_or(|u| **k < u));
    let limit = page.limit as usize;
    let mut items = Vec::with_capacity(limit.min(1024));
    let mut last = None;
    let mut more = false;
    for key in candidates {
        if let Some(item) = pick(key) {
            if items.len() == limit {
                more = true;
                break;
            }
            items.push(item);
            last = Some(*key);
        }
    }
    let next = if more { last.map(|(created_at, id)| Cursor { created_at, id }) } else { None };
    Page { items, total, next }
}

#[async_trait::async_trait]
impl WorkflowStore for InMemoryStore {
    async fn create(&self, scope: Scope, workflow: &ValidWorkflow) -> Result<u32, StoreError> {
        let mut inner = self.write();
        let id = workflow.id();
        let order = (workflow.workflow().metadata.created_at, id.0);
        match inner.workflows.get_mut(&id) {
            Some(entry) if !entry.deleted || entry.workspace != scope.workspace() => {
                return Err(StoreError::Conflict(format!("a workflow with id {id} already exists")));
            }
            Some(entry) => {
                // A deleted id comes back as a new version, so old executions keep theirs.
                entry.versions.push(workflow.clone());
                entry.deleted = false;
                entry.order = order;
            }
            None => {
                let entry = WorkflowEntry {
                    workspace: scope.workspace(),
                    versions: vec![workflow.clone()],
                    order,
                    deleted: false,
                };
                inner.workflows.insert(id, entry);
            }
        }
        inner.workflow_order.entry(scope.workspace()).or_default().insert(order);
        Ok(latest(&inner.workflows[&id]).version)
    }

    async fn update(
        &self,
        scope: Scope,
        workflow: &ValidWorkflow,
        expected: &ExpectedVersion,
    ) -> Result<u32, StoreError> {
        let mut inner = self.write();
        let entry = writable(&mut inner, scope, workflow.id(), expected)?;
        entry.versions.push(workflow.clone());
        Ok(latest(entry).version)
    }

    async fn get(&self, scope: Scope, id: WorkflowId) -> Result<VersionedWorkflow, StoreError> {
        let inner = self.read();
        inner
            .workflows
            .get(&id)
            .filter(|e| !e.deleted && e.workspace == scope.workspace())
            .map(latest)
            .ok_or_else(|| StoreError::not_found("workflow", id))
    }

    async fn get_version(&self, scope: Scope, id: WorkflowId, version: u32) -> Result<VersionedWorkflow, StoreError> {
        let inner = self.read();
        inner
            .workflows
            .get(&id)
            .filter(|e| e.workspace == scope.workspace())
            .and_then(|e| versioned(e, version))
            .ok_or_else(|| StoreError::not_found("workflow version", format!("{id} v{version}")))
    }

    async fn delete(&self, scope: Scope, id: WorkflowId, expected: &ExpectedVersion) -> Result<(), StoreError> {
        let mut inner = self.write();
        let entry = writable(&mut inner, scope, id, expected)?;
        entry.deleted = true;
        let order = entry.order;
        if let Some(live) = inner.workflow_order.get_mut(&scope.workspace()) {
            live.remove(&order);
        }
        Ok(())
    }

    async fn list_versions(&self, scope: Scope, id: WorkflowId) -> Result<Vec<VersionInfo>, StoreError> {
        let inner = self.read();
        let entry = inner
            .workflows
            .get(&id)
            .filter(|e| e.workspace == scope.workspace())
            .ok_or_else(|| StoreError::not_found("workflow", id))?;
        Ok(entry
            .versions
            .iter()
            .zip(1u32..)
            .map(|(v, version)| {
                let m = &v.workflow().metadata;
                VersionInfo {
                    version,
                    saved_at: m.updated_at,
                    name: m.name.clone(),
                    label: m.version.clone(),
                    change_description: m.change_description.clone(),
                }
            })
            .collect())
    }

    async fn list(&self, scope: Scope, page: PageRequest) -> Result<Page<WorkflowSummary>, StoreError> {
        let inner = self.read();
        let Some(order) = inner.workflow_order.get(&scope.workspace()) else {
            return Ok(Page { items: Vec::new(), total: 0, next: None });
        };
        let total = order.len() as u64;
        Ok(page_of(order, page, total, |(_, id)| {
            let v = latest(&inner.workflows[&WorkflowId(*id)]);
            let wf = v.workflow.workflow();
            Some(WorkflowSummary {
                metadata: wf.metadata.clone(),
                version: v.version,
                node_count: wf.nodes.len(),
                edge_count: wf.edges.len(),
            })
        }))
    }
}

fn count_keys(e: &Execution) -> [CountKey; 4] {
    let (ws, w, s) = (e.workspace_id, Some(e.workflow_id), Some(e.state));
    [(ws, None, None), (ws, w, None), (ws, None, s), (ws, w, s)]
}

fn recount(counts: &mut Counts, e: &Execution, delta: i64) {
    for key in count_keys(e) {
        let c = counts.entry(key).or_default();
        *c = c.saturating_add_signed(delta);
    }
}

impl Inner {
    fn create(&mut self, execution: &Execution, lease: &Lease) -> Result<(), StoreError> {
        let inner = self;
        if inner.executions.contains_key(&execution.id) {
            return Err(StoreError::Conflict(format!("execution {} already exists", execution.id)));
        }
        recount(&mut inner.counts, execution, 1);
        inner.execution_order.entry(execution.workspace_id).or_default().insert((execution.created_at, execution.id.0));
        let entry = ExecutionEntry {
            execution: execution.clone(),
            owner: Some((lease.owner.clone(), Instant::now() + lease.ttl)),
            wake_at: None,
            results: Vec::new(),
            result_index: FastMap::default(),
            events: Vec::new(),
        };
        inner.executions.insert(execution.id, Box::new(entry));
        Ok(())
    }

    fn apply(
        &mut self,
        scope: Scope,
        id: ExecutionId,
        lease: Option<&Lease>,
        update: &ExecutionUpdate,
    ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError> {
        let inner = self;
        let entry = inner.scoped_mut(scope, id)?;
        if let Some(lease) = lease
            && entry.owner.as_ref().is_none_or(|(owner, _)| *owner != lease.owner)
        {
            return Err(StoreError::LeaseLost(format!("execution {id} is owned by another process")));
        }
        let logged = entry.events.len() as u64;
        if update.expect_last_seq.is_some_and(|expected| expected != logged) {
            return Err(StoreError::Stale { last_seq: logged });
        }
        if let Some(target) = &update.signal
            && inner.scoped(scope, target.execution_id).is_err()
        {
            return Err(StoreError::not_found("execution", target.execution_id));
        }
        let entry = inner.executions.get_mut(&id).ok_or_else(|| StoreError::not_found("execution", id))?;
        if let Some(lease) = lease {
            let expires = Instant::now() + lease.ttl;
            match &mut entry.owner {
                // Checked above: it is this lease's owner; only its expiry moves.
                Some((_, at)) => *at = expires,
                None => entry.owner = Some((lease.owner.clone(), expires)),
            }
        }
        if let Some(change) = &update.state {
            if change.state.is_terminal() || change.state == ExecutionState::Paused {
                entry.owner = None;
            }
            entry.wake_at = change.wake_at.filter(|_| change.state == ExecutionState::Paused);
        }
        if let Some(change) = &update.state {
            let new = &mut entry.execution;
            recount(&mut inner.counts, new, -1);
            new.state = change.state;
            new.error.clone_from(&change.error);
            new.started_at = change.started_at.or(new.started_at);
            new.completed_at = change.completed_at.or(new.completed_at);
            if let Some(output) = &change.output {
                new.output = Some(output.clone());
            }
            recount(&mut inner.counts, new, 1);
        }
        entry.results.reserve(update.node_results.len());
        for result in update.node_results.iter().cloned() {
            let at = match entry.result_index.get(&result.node_id) {
                Some(&i) => Some(i),
                // The index of an ended execution is gone: look its result up the slow way.
                None if entry.result_index.is_empty() => entry.results.iter().position(|r| r.node_id == result.node_id),
                None => None,
            };
            match at {
                Some(i) => entry.results[i] = result,
                None => {
                    entry.result_index.insert(result.node_id.clone(), entry.results.len());
                    entry.results.push(result);
                }
            }
        }
        if entry.execution.state.is_terminal() {
            entry.result_index = FastMap::default();
        }
        let first_seq = entry.events.len() as u64 + 1;
        let mut stored: Vec<Arc<ExecutionEvent>> = update
            .events
            .iter()
            .cloned()
            .zip(first_seq..)
            .map(|(event, seq)| Arc::new(event.stored(id, seq)))
            .collect();
        entry.events.extend(stored.iter().cloned());
        if let Some(signal) = &update.signal
            && let Some(target) = inner.executions.get_mut(&signal.execution_id)
            && !target.execution.state.is_terminal()
        {
            let event = NewEvent {
                event: signal.event.clone(),
                state: target.execution.state,
                node_results_count: u32::try_from(target.results.iter().filter(|r| r.status.is_terminal()).count())
                    .unwrap_or(u32::MAX),
                at: signal.at,
            }
            .stored(signal.execution_id, target.events.len() as u64 + 1);
            if target.execution.state == ExecutionState::Paused {
                target.wake_at = Some(signal.at);
            }
            let event = Arc::new(event);
            target.events.push(event.clone());
            stored.push(event);
        }
        Ok(stored)
    }

    /// The entry of execution `id`, when it belongs to `scope`.
    fn scoped(&self, scope: Scope, id: ExecutionId) -> Result<&ExecutionEntry, StoreError> {
        self.executions
            .get(&id)
            .map(AsRef::as_ref)
            .filter(|e| e.execution.workspace_id == scope.workspace())
            .ok_or_else(|| StoreError::not_found("execution", id))
    }

    fn scoped_mut(&mut self, scope: Scope, id: ExecutionId) -> Result<&mut ExecutionEntry, StoreError> {
        self.executions
            .get_mut(&id)
            .map(AsMut::as_mut)
            .filter(|e| e.execution.workspace_id == scope.workspace())
            .ok_or_else(|| StoreError::not_found("execution", id))
    }
}

#[async_trait::async_trait]
impl ExecutionRecords for InMemoryStore {
    async fn get(&self, scope: Scope, id: ExecutionId) -> Result<Execution, StoreError> {
        self.read().scoped(scope, id).map(|e| e.execution.clone())
    }

    async fn node_results(&self, scope: Scope, id: ExecutionId) -> Result<Vec<NodeResult>, StoreError> {
        self.read().scoped(scope, id).map(|e| e.results.clone())
    }

    async fn list(
        &self,
        scope: Scope,
        filter: ExecutionFilter,
        page: PageRequest,
    ) -> Result<Page<Execution>, StoreError> {
        let inner = self.read();
        let Some(order) = inner.execution_order.get(&scope.workspace()) else {
            return Ok(Page { items: Vec::new(), total: 0, next: None });
        };
        let keep = |e: &Execution| {
            e.workspace_id == scope.workspace()
                && filter.workflow_id.is_none_or(|w| w == e.workflow_id)
                && filter.state.is_none_or(|s| s == e.state)
                && filter.parent.is_none_or(|p| e.parent.as_ref().is_some_and(|l| l.execution_id == p))
        };
        let total = match filter.parent {
            // Children are few: their total is counted, not kept in the counters.
            Some(_) => inner.executions.values().filter(|e| keep(&e.execution)).count() as u64,
            None => inner.counts.get(&(scope.workspace(), filter.workflow_id, filter.state)).copied().unwrap_or(0),
        };
        Ok(page_of(order, page, total, |(_, id)| {
            let e = &inner.executions[&ExecutionId(*id)].execution;
            keep(e).then(|| e.clone())
        }))
    }
}

#[async_trait::async_trait]
impl ExecutionLog for InMemoryStore {
    async fn apply<'a>(
        &self,
        scope: Scope,
        id: ExecutionId,
        lease: Option<&'a Lease>,
        update: &ExecutionUpdate,
    ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError> {
        self.write().apply(scope, id, lease, update)
    }

    async fn create_with(
        &self,
        execution: &Execution,
        lease: &Lease,
        first: &ExecutionUpdate,
    ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError> {
        let mut inner = self.write();
        inner.create(execution, lease)?;
        inner.apply(execution.scope(), execution.id, Some(lease), first)
    }

    async fn events_after(
        &self,
        scope: Scope,
        id: ExecutionId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<ExecutionEvent>, StoreError> {
        let inner = self.read();
        let entry = inner.scoped(scope, id)?;
        let start = usize::try_from(after).unwrap_or(usize::MAX).min(entry.events.len());
        Ok(entry.events[start..].iter().take(limit as usize).map(|e| ExecutionEvent::clone(e)).collect())
    }
}

#[async_trait::async_trait]
impl Leases for InMemoryStore {
    async fn claim(&self, lease: &Lease, limit: u32, steal: bool) -> Result<Vec<Execution>, StoreError> {
        let mut inner = self.write();
        let now = Instant::now();
        let wall = Utc::now();
        let mut orphans: Vec<&mut ExecutionEntry> = inner
            .executions
            .values_mut()
            .map(AsMut::as_mut)
            .filter(|e| match e.execution.state {
                ExecutionState::Pending | ExecutionState::Running => {
                    steal || e.owner.as_ref().is_none_or(|(_, expires)| *expires <= now)
                }
                ExecutionState::Paused => {
                    e.wake_at.is_some_and(|w| w <= wall) && e.owner.as_ref().is_none_or(|(_, x)| *x <= now)
                }
                _ => false,
            })
            .collect();
        orphans.sort_by_key(|e| (e.execution.created_at, e.execution.id));
        Ok(orphans
            .into_iter()
            .take(limit as usize)
            .map(|e| {
                e.owner = Some((lease.owner.clone(), now + lease.ttl));
                e.execution.clone()
            })
            .collect())
    }

    async fn renew(&self, lease: &Lease, ids: &[ExecutionId]) -> Result<Vec<ExecutionId>, StoreError> {
        let mut inner = self.write();
        let expires = Instant::now() + lease.ttl;
        let mut kept = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(e) =
                inner.executions.get_mut(id).filter(|e| e.owner.as_ref().is_some_and(|(o, _)| *o == lease.owner))
            {
                e.owner = Some((lease.owner.clone(), expires));
                kept.push(*id);
            }
        }
        Ok(kept)
    }

    async fn release(&self, lease: &Lease, ids: &[ExecutionId]) -> Result<(), StoreError> {
        let mut inner = self.write();
        for id in ids {
            if let Some(e) =
                inner.executions.get_mut(id).filter(|e| e.owner.as_ref().is_some_and(|(o, _)| *o == lease.owner))
            {
                e.owner = None;
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl StoreHealth for InMemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
