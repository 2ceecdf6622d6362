//! Workflow use cases: create, read, update (a new version), delete and list.

use super::error::ServiceError;
use super::runner_registry::RunnerRegistry;
use crate::domain::access::Scope;
use crate::domain::ids::WorkflowId;
use crate::domain::run::composite;
use crate::domain::valid::ValidWorkflow;
use crate::domain::validation::{Problem, ValidationError, validate};
use crate::domain::workflow::{NodeKind, Workflow, WorkflowDraft};
use crate::ports::{
    Clock, ExpectedVersion, McpTools, Page, PageRequest, SecretStore, StoreError, VersionInfo, VersionedWorkflow,
    WorkflowStore, WorkflowSummary,
};
use std::collections::HashSet;
use std::sync::Arc;

/// Workflows followed through child references when looking for a recursion.
const MAX_CHAIN: usize = 64;

/// Validates and stores workflows.
pub struct WorkflowService {
    store: Arc<dyn WorkflowStore>,
    clock: Arc<dyn Clock>,
    runners: RunnerRegistry,
    /// The registered MCP servers Tool nodes may name.
    mcp: Option<Arc<dyn McpTools>>,
    /// The workspaces' secrets, by name only.
    secrets: Option<Arc<dyn SecretStore>>,
}

impl WorkflowService {
    #[must_use]
    pub fn new(store: Arc<dyn WorkflowStore>, clock: Arc<dyn Clock>, runners: RunnerRegistry) -> Self {
        Self { store, clock, runners, mcp: None, secrets: None }
    }

    /// Problems a workspace secret solves (a provider key of its own) are not reported when the
    /// workspace in `secrets` holds it.
    #[must_use]
    pub fn with_secrets(mut self, secrets: Arc<dyn SecretStore>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Tool nodes naming an MCP server are checked against the workspace's servers in `mcp`.
    #[must_use]
    pub fn with_mcp(mut self, mcp: Arc<dyn McpTools>) -> Self {
        self.mcp = Some(mcp);
        self
    }

    /// The domain's rules, then what this server needs to run the nodes (providers, keys).
    async fn check(&self, scope: Scope, workflow: Workflow) -> Result<ValidWorkflow, ServiceError> {
        let valid = validate(workflow)?;
        let secrets: HashSet<String> = match &self.secrets {
            Some(store) => store.secrets(scope).await?.into_iter().map(|s| s.name).collect(),
            None => HashSet::new(),
        };
        let mut problems = self.runners.problems(&valid, |name| secrets.contains(name));
        problems.extend(self.child_problems(scope, &valid).await?);
        if let Some(mcp) = &self.mcp {
            problems.extend(super::mcp_check::tool_problems(mcp.as_ref(), scope, &valid).await);
        }
        if problems.is_empty() { Ok(valid) } else { Err(ValidationError { problems }.into()) }
    }

    /// What the stored workflows a workflow runs as children show: each must exist (at the
    /// version pinned), and none may lead back to this workflow (a recursion the document
    /// already shows; deeper chains are capped at run time).
    async fn child_problems(&self, scope: Scope, workflow: &ValidWorkflow) -> Result<Vec<Problem>, ServiceError> {
        let mut problems = Vec::new();
        let me = workflow.id();
        for (i, node) in workflow.workflow().nodes.iter().enumerate() {
            let Some((target, version)) = composite::target(&node.kind) else { continue };
            let Ok(target) = target.parse::<WorkflowId>() else { continue };
            let field = if matches!(node.kind, NodeKind::SubWorkflow(_)) { "workflow_path" } else { "body_workflow" };
            let path = format!("workflow.nodes[{i}].kind.config.{field}");
            let mut report = |problem: String| {
                problems.push(Problem { node_id: Some(node.id.clone()), path: path.clone(), problem });
            };
            if target == me {
                report(format!("Node {}: runs its own workflow as a child, which would never end", node.id));
                continue;
            }
            let found = match version {
                Some(v) => self.store.get_version(scope, target, v).await,
                None => self.store.get(scope, target).await,
            };
            match found {
                Ok(child) => {
                    if let Some(chain) = self.leads_back(scope, child.workflow, me).await? {
                        report(format!("Node {}: runs a child that runs this workflow again: {chain}", node.id));
                    }
                }
                Err(StoreError::NotFound { .. }) => report(match version {
                    Some(v) => format!("Node {}: workflow {target} has no version {v}", node.id),
                    None => format!("Node {}: no stored workflow has the id {target}", node.id),
                }),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(problems)
    }

    /// The chain of workflow ids from `from` back to `me` through child references (latest or
    /// pinned versions), if there is one. Bounded: a chain is followed for at most
    /// [`MAX_CHAIN`] workflows.
    async fn leads_back(
        &self,
        scope: Scope,
        from: ValidWorkflow,
        me: WorkflowId,
    ) -> Result<Option<String>, ServiceError> {
        let mut stack = vec![(from, vec![me])];
        let mut seen = std::collections::HashSet::new();
        while let Some((wf, path)) = stack.pop() {
            let mut path = path;
            path.push(wf.id());
            if !seen.insert(wf.id()) || seen.len() > MAX_CHAIN {
                continue;
            }
            for node in &wf.workflow().nodes {
                let Some((target, version)) = composite::target(&node.kind) else { continue };
                let Ok(target) = target.parse::<WorkflowId>() else { continue };
                if target == me {
                    path.push(me);
                    let chain: Vec<String> = path.iter().map(ToString::to_string).collect();
                    return Ok(Some(chain.join(" -> ")));
                }
                let next = match version {
                    Some(v) => self.store.get_version(scope, target, v).await,
                    None => self.store.get(scope, target).await,
                };
                match next {
                    Ok(next) => stack.push((next.workflow, path.clone())),
                    Err(StoreError::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(None)
    }

    /// Validates and stores a new workflow; the id is the draft's or a new one.
    ///
    /// # Errors
    /// `Validation` listing every problem; `Conflict` when the id is taken.
    #[tracing::instrument(skip_all, fields(workflow_id))]
    pub async fn create(&self, scope: Scope, draft: WorkflowDraft) -> Result<VersionedWorkflow, ServiceError> {
        let id = draft.metadata.id.unwrap_or_else(WorkflowId::generate);
        tracing::Span::current().record("workflow_id", tracing::field::display(id));
        let now = self.clock.now();
        let workflow = self.check(scope, draft.complete(id, now, now)).await?;
        let version = self.store.create(scope, &workflow).await?;
        Ok(VersionedWorkflow { version, workflow })
    }

    /// Validates and stores a new version of an existing workflow, provided its current version
    /// is one `expected` admits (the store checks that again, atomically with the write).
    ///
    /// # Errors
    /// `NotFound`; `PreconditionFailed` when `expected` does not admit the current version;
    /// `BadRequest` when the body names another id; `Validation`.
    #[tracing::instrument(skip_all, fields(workflow_id = %id))]
    pub async fn update(
        &self,
        scope: Scope,
        id: WorkflowId,
        draft: WorkflowDraft,
        expected: &ExpectedVersion,
    ) -> Result<VersionedWorkflow, ServiceError> {
        if let Some(other) = draft.metadata.id.filter(|other| *other != id) {
            return Err(ServiceError::BadRequest(format!(
                "workflow.metadata.id {other} does not match the id {id} in the path"
            )));
        }
        let current = self.store.get(scope, id).await?;
        // A stale request fails before its workflow is validated (RFC 9110 evaluates
        // preconditions before the method); this early check is only a shortcut.
        if !expected.admits(current.version) {
            return Err(StoreError::version_mismatch("workflow", id, current.version).into());
        }
        let created_at = current.workflow.workflow().metadata.created_at;
        let workflow = self.check(scope, draft.complete(id, created_at, self.clock.now())).await?;
        let version = self.store.update(scope, &workflow, expected).await?;
        Ok(VersionedWorkflow { version, workflow })
    }

    /// # Errors
    /// `NotFound`.
    pub async fn get(&self, scope: Scope, id: WorkflowId) -> Result<VersionedWorkflow, ServiceError> {
        Ok(self.store.get(scope, id).await?)
    }

    /// Deletes a workflow, provided `expected` admits its current version.
    ///
    /// # Errors
    /// `NotFound`; `PreconditionFailed` when `expected` does not admit the current version.
    #[tracing::instrument(skip_all, fields(workflow_id = %id))]
    pub async fn delete(&self, scope: Scope, id: WorkflowId, expected: &ExpectedVersion) -> Result<(), ServiceError> {
        Ok(self.store.delete(scope, id, expected).await?)
    }

    /// # Errors
    /// Storage failures.
    pub async fn list(&self, scope: Scope, page: PageRequest) -> Result<Page<WorkflowSummary>, ServiceError> {
        Ok(self.store.list(scope, page).await?)
    }

    /// Every stored version, oldest first (also of a deleted workflow: executions refer to them).
    ///
    /// # Errors
    /// `NotFound` when no workflow ever had this id.
    pub async fn versions(&self, scope: Scope, id: WorkflowId) -> Result<Vec<VersionInfo>, ServiceError> {
        Ok(self.store.list_versions(scope, id).await?)
    }

    /// One stored version.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn version(&self, scope: Scope, id: WorkflowId, version: u32) -> Result<VersionedWorkflow, ServiceError> {
        Ok(self.store.get_version(scope, id, version).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::validation::tests::{edge, node};
    use crate::ports::{MockClock, MockWorkflowStore, StoreError};
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn draft() -> WorkflowDraft {
        serde_json::from_value(json!({
            "metadata": {"name": "w"},
            "nodes": [node("s", json!({"type": "Start"})), node("e", json!({"type": "End"}))],
            "edges": [edge("s", "e")]
        }))
        .unwrap()
    }

    fn clock_at(seconds: i64) -> Arc<MockClock> {
        let mut clock = MockClock::new();
        clock.expect_now().returning(move || Utc.timestamp_opt(seconds, 0).unwrap());
        Arc::new(clock)
    }

    #[tokio::test]
    async fn an_unreachable_store_is_reported_as_unavailable() {
        let mut store = MockWorkflowStore::new();
        store.expect_create().times(1).returning(|_, _| Err(StoreError::Unavailable("connection refused".into())));
        let service = WorkflowService::new(Arc::new(store), clock_at(0), RunnerRegistry::new());
        let err = service.create(Scope::DEFAULT, draft()).await.unwrap_err();
        assert!(matches!(err, ServiceError::Unavailable(m) if m.contains("connection refused")));
    }

    #[tokio::test]
    async fn an_invalid_workflow_never_reaches_the_store() {
        let mut store = MockWorkflowStore::new();
        store.expect_create().times(0);
        let service = WorkflowService::new(Arc::new(store), clock_at(0), RunnerRegistry::new());
        let mut bad = draft();
        bad.nodes.clear();
        assert!(matches!(service.create(Scope::DEFAULT, bad).await, Err(ServiceError::Validation(_))));
    }

    #[tokio::test]
    async fn an_update_keeps_the_creation_time_and_stamps_the_update() {
        let created = crate::domain::validation::validate(draft().complete(
            WorkflowId::generate(),
            Utc.timestamp_opt(100, 0).unwrap(),
            Utc.timestamp_opt(100, 0).unwrap(),
        ))
        .unwrap();
        let id = created.id();
        let mut store = MockWorkflowStore::new();
        store.expect_get().returning(move |_, _| Ok(VersionedWorkflow { version: 1, workflow: created.clone() }));
        store
            .expect_update()
            .withf(|_, wf, expected| {
                let m = &wf.workflow().metadata;
                m.created_at.timestamp() == 100 && m.updated_at.timestamp() == 500 && *expected == ExpectedVersion::Any
            })
            .times(1)
            .returning(|_, _, _| Ok(2));
        let service = WorkflowService::new(Arc::new(store), clock_at(500), RunnerRegistry::new());
        assert_eq!(service.update(Scope::DEFAULT, id, draft(), &ExpectedVersion::Any).await.unwrap().version, 2);
    }

    fn stored_at_version(version: u32) -> MockWorkflowStore {
        let created = crate::domain::validation::validate(draft().complete(
            WorkflowId::generate(),
            Utc.timestamp_opt(100, 0).unwrap(),
            Utc.timestamp_opt(100, 0).unwrap(),
        ))
        .unwrap();
        let mut store = MockWorkflowStore::new();
        store.expect_get().returning(move |_, _| Ok(VersionedWorkflow { version, workflow: created.clone() }));
        store
    }

    #[tokio::test]
    async fn a_stale_update_fails_before_validation_and_never_writes() {
        let mut store = stored_at_version(3);
        store.expect_update().times(0);
        let service = WorkflowService::new(Arc::new(store), clock_at(500), RunnerRegistry::new());
        let mut invalid = draft();
        invalid.nodes.clear();
        let err = service
            .update(Scope::DEFAULT, WorkflowId::generate(), invalid, &ExpectedVersion::OneOf(vec![2]))
            .await
            .unwrap_err();
        assert!(matches!(&err, ServiceError::PreconditionFailed(m) if m.contains("now at version 3")), "{err:?}");
    }

    #[tokio::test]
    async fn a_conditional_delete_passes_its_expected_version_to_the_store() {
        let mut store = MockWorkflowStore::new();
        store
            .expect_delete()
            .withf(|_, _, e| *e == ExpectedVersion::OneOf(vec![2]))
            .times(1)
            .returning(|_, id, _| Err(StoreError::version_mismatch("workflow", id, 3)));
        let service = WorkflowService::new(Arc::new(store), clock_at(0), RunnerRegistry::new());
        let err =
            service.delete(Scope::DEFAULT, WorkflowId::generate(), &ExpectedVersion::OneOf(vec![2])).await.unwrap_err();
        assert!(matches!(err, ServiceError::PreconditionFailed(_)), "{err:?}");
    }

    #[tokio::test]
    async fn the_expected_version_reaches_the_store_which_has_the_last_word() {
        let mut store = stored_at_version(3);
        let expected = ExpectedVersion::OneOf(vec![3]);
        let passed = expected.clone();
        store
            .expect_update()
            .withf(move |_, _, e| *e == passed)
            .times(1)
            .returning(|_, wf, _| Err(StoreError::version_mismatch("workflow", wf.id(), 4)));
        let service = WorkflowService::new(Arc::new(store), clock_at(500), RunnerRegistry::new());
        let err = service.update(Scope::DEFAULT, WorkflowId::generate(), draft(), &expected).await.unwrap_err();
        assert!(matches!(&err, ServiceError::PreconditionFailed(m) if m.contains("now at version 4")), "{err:?}");
    }
}
