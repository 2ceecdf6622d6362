//! Approvals and forms in memory.

use super::InMemoryStore;
use crate::domain::access::Scope;
use crate::domain::human::{Delivery, DeliveryState, HumanTask, TaskState};
use crate::domain::ids::{ExecutionId, TaskId};
use crate::ports::{Cursor, HumanTaskStore, Page, PageRequest, StoreError, TaskFilter};
use chrono::{DateTime, Utc};

#[async_trait::async_trait]
impl HumanTaskStore for InMemoryStore {
    async fn create_task(&self, task: &HumanTask) -> Result<bool, StoreError> {
        let mut inner = self.write();
        if inner.tasks.contains_key(&task.id) {
            return Ok(false);
        }
        inner.tasks.insert(task.id, task.clone());
        Ok(true)
    }

    async fn task(&self, scope: Scope, id: TaskId) -> Result<HumanTask, StoreError> {
        self.read()
            .tasks
            .get(&id)
            .filter(|t| t.workspace_id == scope.workspace())
            .cloned()
            .ok_or_else(|| StoreError::not_found("request", id))
    }

    async fn tasks(&self, scope: Scope, filter: TaskFilter, page: PageRequest) -> Result<Page<HumanTask>, StoreError> {
        let inner = self.read();
        let mut found: Vec<&HumanTask> = inner
            .tasks
            .values()
            .filter(|t| t.workspace_id == scope.workspace())
            .filter(|t| t.matches(filter.kind, filter.state, filter.workflow_id, filter.execution_id))
            .collect();
        found.sort_by_key(|t| std::cmp::Reverse((t.created_at, t.id)));
        let total = found.len() as u64;
        let after = |t: &&HumanTask| page.after.is_none_or(|c| (t.created_at, t.id.0) < (c.created_at, c.id));
        let items: Vec<HumanTask> = found.into_iter().filter(after).take(page.limit as usize + 1).cloned().collect();
        Ok(paged(items, page.limit, total))
    }

    async fn update_task(&self, scope: Scope, task: &HumanTask, expected_revision: u32) -> Result<(), StoreError> {
        let mut inner = self.write();
        let stored = inner
            .tasks
            .get_mut(&task.id)
            .filter(|t| t.workspace_id == scope.workspace())
            .ok_or_else(|| StoreError::not_found("request", task.id))?;
        if stored.revision != expected_revision || stored.state.is_final() {
            return Err(StoreError::VersionMismatch {
                entity: "request",
                id: task.id.to_string(),
                current: stored.revision,
            });
        }
        (stored.state, stored.decisions, stored.response, stored.sealed, stored.decided_at, stored.revision) = (
            task.state,
            task.decisions.clone(),
            task.response.clone(),
            task.sealed.clone(),
            task.decided_at,
            task.revision,
        );
        Ok(())
    }

    async fn close_tasks(
        &self,
        scope: Scope,
        execution_id: ExecutionId,
        only: Option<TaskId>,
        state: TaskState,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut inner = self.write();
        let mut n = 0;
        for t in inner.tasks.values_mut() {
            if t.workspace_id == scope.workspace()
                && t.execution_id == execution_id
                && only.is_none_or(|id| id == t.id)
                && t.state == TaskState::Pending
            {
                (t.state, t.decided_at) = (state, Some(at));
                n += 1;
            }
        }
        Ok(n)
    }

    async fn due_notifications(
        &self,
        now: DateTime<Utc>,
        claim: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<HumanTask>, StoreError> {
        let mut inner = self.write();
        let inner = &mut *inner;
        let mut due: Vec<(DateTime<Utc>, TaskId)> = inner
            .tasks
            .values()
            .filter_map(|t| {
                let d = t.notify.as_ref().filter(|d| d.state == DeliveryState::Pending)?;
                let at = inner.notify_claims.get(&t.id).copied().or(d.next_attempt_at)?;
                (at <= now).then_some((at, t.id))
            })
            .collect();
        due.sort();
        due.truncate(limit as usize);
        Ok(due
            .into_iter()
            .filter_map(|(_, id)| {
                inner.notify_claims.insert(id, now + claim);
                inner.tasks.get(&id).cloned()
            })
            .collect())
    }

    async fn record_notification(&self, scope: Scope, id: TaskId, delivery: &Delivery) -> Result<(), StoreError> {
        let mut inner = self.write();
        let stored = inner
            .tasks
            .get_mut(&id)
            .filter(|t| t.workspace_id == scope.workspace())
            .ok_or_else(|| StoreError::not_found("request", id))?;
        stored.notify = Some(delivery.clone());
        inner.notify_claims.remove(&id);
        Ok(())
    }
}

/// A page from up to `limit + 1` items (the extra one says a next page exists).
pub(crate) fn paged(mut items: Vec<HumanTask>, limit: u32, total: u64) -> Page<HumanTask> {
    let next = (items.len() > limit as usize).then(|| {
        items.truncate(limit as usize);
        items.last().map(|t| Cursor { created_at: t.created_at, id: t.id.0 })
    });
    Page { items, total, next: next.flatten() }
}
