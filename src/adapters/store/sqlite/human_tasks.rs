//! Approvals and forms in SQLite.

use super::SqliteStore;
use super::codec::{corrupt, micros, time};
use super::errors::store_error;
use crate::domain::access::Scope;
use crate::domain::human::{Delivery, DeliveryState, HumanTask, TaskKind, TaskState};
use crate::domain::ids::{ExecutionId, NodeId, TaskId};
use crate::ports::{HumanTaskStore, Page, PageRequest, StoreError, TaskFilter};
use chrono::{DateTime, Utc};
use rusqlite::types::Value as Sql;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};

const COLUMNS: &str = "id, workspace_id, kind, state, execution_id, workflow_id, node_id, request, approvers, quorum, \
     allow_initiator, started_by, decisions, response, sealed, created_at, expires_at, decided_at, revision, notify, \
     notify_due";

fn text<T: serde::Serialize + ?Sized>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(format!("cannot encode JSON: {e}")))
}

fn get<T: rusqlite::types::FromSql>(row: &Row<'_>, name: &str) -> Result<T, StoreError> {
    row.get(name).map_err(|e| corrupt(format!("column {name}: {e}")))
}

fn parsed<T: std::str::FromStr>(row: &Row<'_>, name: &str) -> Result<T, StoreError> {
    get::<String>(row, name)?.parse().map_err(|_| corrupt(format!("column {name}")))
}

fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(corrupt)
}

fn task(row: &Row<'_>) -> Result<HumanTask, StoreError> {
    Ok(HumanTask {
        id: parsed(row, "id")?,
        workspace_id: parsed(row, "workspace_id")?,
        kind: TaskKind::parse(&get::<String>(row, "kind")?).ok_or_else(|| corrupt("kind"))?,
        state: TaskState::parse(&get::<String>(row, "state")?).ok_or_else(|| corrupt("state"))?,
        execution_id: parsed(row, "execution_id")?,
        workflow_id: parsed(row, "workflow_id")?,
        node_id: NodeId::new(get::<String>(row, "node_id")?),
        request: json(&get::<String>(row, "request")?)?,
        approvers: json(&get::<String>(row, "approvers")?)?,
        quorum: u32::try_from(get::<i64>(row, "quorum")?).unwrap_or(1),
        allow_initiator: get::<i64>(row, "allow_initiator")? != 0,
        started_by: get(row, "started_by")?,
        decisions: json(&get::<String>(row, "decisions")?)?,
        response: get::<Option<String>>(row, "response")?.as_deref().map(json).transpose()?,
        sealed: get(row, "sealed")?,
        created_at: time(get(row, "created_at")?)?,
        expires_at: get::<Option<i64>>(row, "expires_at")?.map(time).transpose()?,
        decided_at: get::<Option<i64>>(row, "decided_at")?.map(time).transpose()?,
        revision: u32::try_from(get::<i64>(row, "revision")?).unwrap_or(0),
        notify: get::<Option<String>>(row, "notify")?.as_deref().map(json).transpose()?,
    })
}

#[async_trait::async_trait]
impl HumanTaskStore for SqliteStore {
    async fn create_task(&self, t: &HumanTask) -> Result<bool, StoreError> {
        let values = vec![
            Sql::Text(t.id.to_string()),
            Sql::Text(t.workspace_id.to_string()),
            Sql::Text(t.kind.as_str().into()),
            Sql::Text(t.state.as_str().into()),
            Sql::Text(t.execution_id.to_string()),
            Sql::Text(t.workflow_id.to_string()),
            Sql::Text(t.node_id.to_string()),
            Sql::Text(text(&t.request)?),
            Sql::Text(text(&t.approvers)?),
            Sql::Integer(i64::from(t.quorum)),
            Sql::Integer(i64::from(t.allow_initiator)),
            t.started_by.clone().map_or(Sql::Null, Sql::Text),
            Sql::Text(text(&t.decisions)?),
            t.response.as_ref().map(text).transpose()?.map_or(Sql::Null, Sql::Text),
            t.sealed.clone().map_or(Sql::Null, Sql::Blob),
            Sql::Integer(micros(t.created_at)),
            t.expires_at.map_or(Sql::Null, |x| Sql::Integer(micros(x))),
            t.decided_at.map_or(Sql::Null, |x| Sql::Integer(micros(x))),
            Sql::Integer(i64::from(t.revision)),
            t.notify.as_ref().map(text).transpose()?.map_or(Sql::Null, Sql::Text),
            due(t.notify.as_ref()).map_or(Sql::Null, Sql::Integer),
        ];
        self.writer
            .write(move |c| {
                let sql = format!(
                    "INSERT INTO human_tasks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, \
                     ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21) ON CONFLICT (id) DO NOTHING"
                );
                let n = c.prepare_cached(&sql).and_then(|mut s| s.execute(params_from_iter(values))).map_err(store_error)?;
                Ok(n == 1)
            })
            .await
    }

    async fn task(&self, scope: Scope, id: TaskId) -> Result<HumanTask, StoreError> {
        let (ws, key) = (scope.workspace().to_string(), id.to_string());
        self.readers
            .read(move |c| {
                let sql = format!("SELECT {COLUMNS} FROM human_tasks WHERE id = ?1 AND workspace_id = ?2");
                let mut st = c.prepare_cached(&sql).map_err(store_error)?;
                let found = st.query_row(params![key, ws], |r| Ok(task(r))).optional().map_err(store_error)?;
                found.ok_or_else(|| StoreError::not_found("request", id))?
            })
            .await
    }

    async fn tasks(&self, scope: Scope, filter: TaskFilter, page: PageRequest) -> Result<Page<HumanTask>, StoreError> {
        let ws = scope.workspace().to_string();
        self.readers
            .read(move |c| {
                let mut clauses = vec!["workspace_id = ?".to_owned()];
                let mut values = vec![Sql::Text(ws)];
                if let Some(k) = filter.kind {
                    clauses.push("kind = ?".into());
                    values.push(Sql::Text(k.as_str().into()));
                }
                if let Some(s) = filter.state {
                    clauses.push("state = ?".into());
                    values.push(Sql::Text(s.as_str().into()));
                }
                if let Some(w) = filter.workflow_id {
                    clauses.push("workflow_id = ?".into());
                    values.push(Sql::Text(w.to_string()));
                }
                if let Some(e) = filter.execution_id {
                    clauses.push("execution_id = ?".into());
                    values.push(Sql::Text(e.to_string()));
                }
                let wher = clauses.join(" AND ");
                let total: i64 = c
                    .prepare(&format!("SELECT COUNT(*) FROM human_tasks WHERE {wher}"))
                    .and_then(|mut s| s.query_row(params_from_iter(values.iter()), |r| r.get(0)))
                    .map_err(store_error)?;
                if page.limit == 0 {
                    return Ok(Page { items: Vec::new(), total: u64::try_from(total).unwrap_or(0), next: None });
                }
                let mut wher = wher;
                if let Some(after) = page.after {
                    wher.push_str(" AND (created_at < ? OR (created_at = ? AND id < ?))");
                    values.extend([
                        Sql::Integer(micros(after.created_at)),
                        Sql::Integer(micros(after.created_at)),
                        Sql::Text(after.id.to_string()),
                    ]);
                }
                values.push(Sql::Integer(i64::from(page.limit) + 1));
                let sql =
                    format!("SELECT {COLUMNS} FROM human_tasks WHERE {wher} ORDER BY created_at DESC, id DESC LIMIT ?");
                let mut st = c.prepare(&sql).map_err(store_error)?;
                let rows = st.query_map(params_from_iter(values.iter()), |r| Ok(task(r))).map_err(store_error)?;
                let mut items = Vec::new();
                for row in rows {
                    items.push(row.map_err(store_error)??);
                }
                Ok(crate::adapters::store::memory_paged(items, page.limit, u64::try_from(total).unwrap_or(0)))
            })
            .await
    }

    async fn update_task(&self, scope: Scope, t: &HumanTask, expected_revision: u32) -> Result<(), StoreError> {
        let (ws, key, id) = (scope.workspace().to_string(), t.id.to_string(), t.id);
        let values = (
            t.state.as_str(),
            text(&t.decisions)?,
            t.response.as_ref().map(text).transpose()?,
            t.sealed.clone(),
            t.decided_at.map(micros),
            i64::from(t.revision),
        );
        self.writer
            .write(move |c| {
                let n = c
                    .prepare_cached(
                        "UPDATE human_tasks SET state = ?3, decisions = ?4, response = ?5, sealed = ?6, decided_at = ?7, \
                         revision = ?8 WHERE id = ?1 AND workspace_id = ?2 AND revision = ?9 AND state = 'Pending'",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            key,
                            ws,
                            values.0,
                            values.1,
                            values.2,
                            values.3,
                            values.4,
                            values.5,
                            i64::from(expected_revision)
                        ])
                    })
                    .map_err(store_error)?;
                if n == 1 {
                    return Ok(());
                }
                let current: Option<i64> = c
                    .prepare_cached("SELECT revision FROM human_tasks WHERE id = ?1 AND workspace_id = ?2")
                    .and_then(|mut s| s.query_row(params![key, ws], |r| r.get(0)).optional())
                    .map_err(store_error)?;
                match current {
                    None => Err(StoreError::not_found("request", id)),
                    Some(current) => Err(StoreError::VersionMismatch {
                        entity: "request",
                        id: key,
                        current: u32::try_from(current).unwrap_or(0),
                    }),
                }
            })
            .await
    }

    async fn close_tasks(
        &self,
        scope: Scope,
        execution_id: ExecutionId,
        only: Option<TaskId>,
        state: TaskState,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (ws, exec, only) = (scope.workspace().to_string(), execution_id.to_string(), only.map(|t| t.to_string()));
        self.writer
            .write(move |c| {
                let n = c
                    .prepare_cached(
                        "UPDATE human_tasks SET state = ?3, decided_at = ?4 WHERE workspace_id = ?1 AND execution_id = ?2 \
                         AND state = 'Pending' AND (?5 IS NULL OR id = ?5)",
                    )
                    .and_then(|mut s| s.execute(params![ws, exec, state.as_str(), micros(at), only]))
                    .map_err(store_error)?;
                Ok(n as u64)
            })
            .await
    }

    async fn due_notifications(
        &self,
        now: DateTime<Utc>,
        claim: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<HumanTask>, StoreError> {
        let (now, until) = (micros(now), micros(now + claim));
        self.writer
            .write(move |c| {
                // One writer: the select and the claim below cannot interleave with another's.
                let sql = format!(
                    "UPDATE human_tasks SET notify_due = ?2 WHERE id IN (SELECT id FROM human_tasks WHERE notify_due <= ?1 \
                     ORDER BY notify_due LIMIT ?3) RETURNING {COLUMNS}"
                );
                let mut st = c.prepare_cached(&sql).map_err(store_error)?;
                let rows = st.query_map(params![now, until, i64::from(limit)], |r| Ok(task(r))).map_err(store_error)?;
                let mut found = Vec::new();
                for row in rows {
                    found.push(row.map_err(store_error)??);
                }
                Ok(found)
            })
            .await
    }

    async fn record_notification(&self, scope: Scope, id: TaskId, delivery: &Delivery) -> Result<(), StoreError> {
        let (ws, key) = (scope.workspace().to_string(), id.to_string());
        let values = (text(delivery)?, due(Some(delivery)));
        self.writer
            .write(move |c| {
                let n = c
                    .prepare_cached(
                        "UPDATE human_tasks SET notify = ?3, notify_due = ?4 WHERE id = ?1 AND workspace_id = ?2",
                    )
                    .and_then(|mut s| s.execute(params![key, ws, values.0, values.1]))
                    .map_err(store_error)?;
                if n == 1 { Ok(()) } else { Err(StoreError::not_found("request", id)) }
            })
            .await
    }
}

/// When a notification's next attempt is due, in Unix microseconds (none once it is final).
fn due(d: Option<&Delivery>) -> Option<i64> {
    d.filter(|d| d.state == DeliveryState::Pending).and_then(|d| d.next_attempt_at).map(micros)
}
