//! Approvals and forms in Postgres.

use super::PostgresStore;
use super::codec::{col, corrupt, json, json_opt, json_text};
use super::errors::store_error;
use super::nul;
use crate::domain::access::Scope;
use crate::domain::human::{Delivery, DeliveryState, HumanTask, TaskKind, TaskState};
use crate::domain::ids::{ExecutionId, NodeId, TaskId, WorkflowId, WorkspaceId};
use crate::ports::{HumanTaskStore, Page, PageRequest, StoreError, TaskFilter};
use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgRow;
use uuid::Uuid;

const COLUMNS: &str = "id, workspace_id, kind, state, execution_id, workflow_id, node_id, request, approvers, quorum, \
     allow_initiator, started_by, decisions, response, sealed, created_at, expires_at, decided_at, revision, notify, \
     notify_due";

fn task(row: &PgRow) -> Result<HumanTask, StoreError> {
    Ok(HumanTask {
        id: TaskId(col::<Uuid>(row, "id")?),
        workspace_id: WorkspaceId(col::<Uuid>(row, "workspace_id")?),
        kind: TaskKind::parse(&col::<String>(row, "kind")?).ok_or_else(|| corrupt("kind"))?,
        state: TaskState::parse(&col::<String>(row, "state")?).ok_or_else(|| corrupt("state"))?,
        execution_id: ExecutionId(col::<Uuid>(row, "execution_id")?),
        workflow_id: WorkflowId(col::<Uuid>(row, "workflow_id")?),
        node_id: NodeId::new(nul::unescape(col(row, "node_id")?)),
        request: json(row, "request")?,
        approvers: json(row, "approvers")?,
        quorum: u32::try_from(col::<i32>(row, "quorum")?).unwrap_or(1),
        allow_initiator: col(row, "allow_initiator")?,
        started_by: nul::unescape_opt(col(row, "started_by")?),
        decisions: json(row, "decisions")?,
        response: json_opt(row, "response")?,
        sealed: col(row, "sealed")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
        decided_at: col(row, "decided_at")?,
        revision: u32::try_from(col::<i32>(row, "revision")?).unwrap_or(0),
        notify: json_opt(row, "notify")?.map(serde_json::from_value).transpose().map_err(corrupt)?,
    })
}

fn int(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

#[async_trait::async_trait]
impl HumanTaskStore for PostgresStore {
    async fn create_task(&self, t: &HumanTask) -> Result<bool, StoreError> {
        let sql = format!(
            "INSERT INTO human_tasks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16, $17, $18, $19, $20, $21) ON CONFLICT (id) DO NOTHING"
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(t.id.0)
            .bind(t.workspace_id.0)
            .bind(t.kind.as_str())
            .bind(t.state.as_str())
            .bind(t.execution_id.0)
            .bind(t.workflow_id.0)
            .bind(nul::escape(t.node_id.as_str()))
            .bind(json_text(&t.request)?)
            .bind(json_text(&t.approvers)?)
            .bind(int(t.quorum))
            .bind(t.allow_initiator)
            .bind(t.started_by.as_deref().map(nul::escape))
            .bind(json_text(&t.decisions)?)
            .bind(t.response.as_ref().map(json_text).transpose()?)
            .bind(&t.sealed)
            .bind(t.created_at)
            .bind(t.expires_at)
            .bind(t.decided_at)
            .bind(int(t.revision))
            .bind(t.notify.as_ref().map(json_text).transpose()?)
            .bind(due(t.notify.as_ref()))
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn task(&self, scope: Scope, id: TaskId) -> Result<HumanTask, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM human_tasks WHERE id = $1 AND workspace_id = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.0)
            .bind(scope.workspace().0)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        task(&row.ok_or_else(|| StoreError::not_found("request", id))?)
    }

    async fn tasks(&self, scope: Scope, filter: TaskFilter, page: PageRequest) -> Result<Page<HumanTask>, StoreError> {
        let wher = "workspace_id = $1 AND ($2::TEXT IS NULL OR kind = $2) AND ($3::TEXT IS NULL OR state = $3) \
                    AND ($4::UUID IS NULL OR workflow_id = $4) AND ($5::UUID IS NULL OR execution_id = $5)";
        let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM human_tasks WHERE {wher}")))
            .bind(scope.workspace().0)
            .bind(filter.kind.map(TaskKind::as_str))
            .bind(filter.state.map(TaskState::as_str))
            .bind(filter.workflow_id.map(|w| w.0))
            .bind(filter.execution_id.map(|e| e.0))
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        let total = u64::try_from(total).unwrap_or(0);
        if page.limit == 0 {
            return Ok(Page { items: Vec::new(), total, next: None });
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM human_tasks WHERE {wher} AND ($6::TIMESTAMPTZ IS NULL OR (created_at, id) < ($6, $7)) \
             ORDER BY created_at DESC, id DESC LIMIT $8"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(scope.workspace().0)
            .bind(filter.kind.map(TaskKind::as_str))
            .bind(filter.state.map(TaskState::as_str))
            .bind(filter.workflow_id.map(|w| w.0))
            .bind(filter.execution_id.map(|e| e.0))
            .bind(page.after.map(|c| c.created_at))
            .bind(page.after.map(|c| c.id))
            .bind(i64::from(page.limit) + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        let items = rows.iter().map(task).collect::<Result<Vec<_>, _>>()?;
        Ok(crate::adapters::store::memory_paged(items, page.limit, total))
    }

    async fn update_task(&self, scope: Scope, t: &HumanTask, expected_revision: u32) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE human_tasks SET state = $3, decisions = $4, response = $5, sealed = $6, decided_at = $7, \
             revision = $8 WHERE id = $1 AND workspace_id = $2 AND revision = $9 AND state = 'Pending'",
        )
        .bind(t.id.0)
        .bind(scope.workspace().0)
        .bind(t.state.as_str())
        .bind(json_text(&t.decisions)?)
        .bind(t.response.as_ref().map(json_text).transpose()?)
        .bind(&t.sealed)
        .bind(t.decided_at)
        .bind(int(t.revision))
        .bind(int(expected_revision))
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let current: Option<i32> =
            sqlx::query_scalar("SELECT revision FROM human_tasks WHERE id = $1 AND workspace_id = $2")
                .bind(t.id.0)
                .bind(scope.workspace().0)
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
        match current {
            None => Err(StoreError::not_found("request", t.id)),
            Some(current) => Err(StoreError::VersionMismatch {
                entity: "request",
                id: t.id.to_string(),
                current: u32::try_from(current).unwrap_or(0),
            }),
        }
    }

    async fn close_tasks(
        &self,
        scope: Scope,
        execution_id: ExecutionId,
        only: Option<TaskId>,
        state: TaskState,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE human_tasks SET state = $3, decided_at = $4 WHERE workspace_id = $1 AND execution_id = $2 \
             AND state = 'Pending' AND ($5::UUID IS NULL OR id = $5)",
        )
        .bind(scope.workspace().0)
        .bind(execution_id.0)
        .bind(state.as_str())
        .bind(at)
        .bind(only.map(|t| t.0))
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected())
    }

    async fn due_notifications(
        &self,
        now: DateTime<Utc>,
        claim: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<HumanTask>, StoreError> {
        // SKIP LOCKED: processes sweeping at once claim different rows instead of waiting.
        let sql = format!(
            "UPDATE human_tasks SET notify_due = $2 WHERE id IN (SELECT id FROM human_tasks WHERE notify_due <= $1 \
             ORDER BY notify_due LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING {COLUMNS}"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .bind(now + claim)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter().map(task).collect()
    }

    async fn record_notification(&self, scope: Scope, id: TaskId, delivery: &Delivery) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE human_tasks SET notify = $3, notify_due = $4 WHERE id = $1 AND workspace_id = $2")
                .bind(id.0)
                .bind(scope.workspace().0)
                .bind(json_text(delivery)?)
                .bind(due(Some(delivery)))
                .execute(&self.pool)
                .await
                .map_err(store_error)?;
        if done.rows_affected() == 1 { Ok(()) } else { Err(StoreError::not_found("request", id)) }
    }
}

/// When a notification's next attempt is due (none once it is final).
fn due(d: Option<&Delivery>) -> Option<DateTime<Utc>> {
    d.filter(|d| d.state == DeliveryState::Pending).and_then(|d| d.next_attempt_at)
}
