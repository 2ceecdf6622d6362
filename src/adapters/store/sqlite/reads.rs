//! The read statements, run on a read connection.

use super::codec::{self, EXECUTION_COLUMNS, col, micros};
use super::errors::store_error;
use crate::domain::access::Scope;
use crate::domain::execution::{Execution, ExecutionEvent, NodeResult};
use crate::domain::ids::{ExecutionId, WorkflowId, WorkspaceId};
use crate::domain::workflow::WorkflowMetadata;
use crate::ports::{Cursor, ExecutionFilter, Page, PageRequest, StoreError, VersionInfo, WorkflowSummary};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

fn all<T>(
    c: &Connection,
    sql: &str,
    args: Vec<Sql>,
    mut map: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(store_error)?;
    let mut rows = stmt.query(params_from_iter(args)).map_err(store_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(store_error)? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// The workflow's workspace and its latest version (`None` once deleted), if the id was ever used.
pub(super) fn head(c: &Connection, id: WorkflowId) -> Result<Option<super::latest::Head>, StoreError> {
    let row: Option<(String, i64, Option<i64>)> = c
        .prepare_cached("SELECT workspace_id, latest_version, deleted_at FROM workflows WHERE id = ?1")
        .and_then(|mut s| s.query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
        .map_err(store_error)?;
    row.map(|(ws, latest, deleted)| {
        let ws: WorkspaceId = codec::parse(&ws, "workspace id")?;
        Ok((ws, deleted.is_none().then(|| codec::u32_of(latest))))
    })
    .transpose()
}

pub(super) fn definition(c: &Connection, id: WorkflowId, version: u32) -> Result<Option<String>, StoreError> {
    c.prepare_cached("SELECT definition FROM workflow_versions WHERE workflow_id = ?1 AND version = ?2")
        .and_then(|mut s| s.query_row(params![id.to_string(), i64::from(version)], |r| r.get(0)).optional())
        .map_err(store_error)
}

fn metadata(json: &str) -> Result<WorkflowMetadata, StoreError> {
    serde_json::from_str(json).map_err(codec::corrupt)
}

pub(super) fn list_versions(c: &Connection, scope: Scope, id: WorkflowId) -> Result<Vec<VersionInfo>, StoreError> {
    let sql = "SELECT v.version, v.metadata, v.saved_at FROM workflow_versions v JOIN workflows w ON w.id = v.workflow_id \
               WHERE v.workflow_id = ?1 AND w.workspace_id = ?2 ORDER BY v.version";
    let args = vec![Sql::Text(id.to_string()), Sql::Text(scope.workspace().to_string())];
    let versions = all(c, sql, args, |row| {
        let m = metadata(&col::<String>(row, "metadata")?)?;
        Ok(VersionInfo {
            version: codec::u32_of(col(row, "version")?),
            saved_at: codec::time(col(row, "saved_at")?)?,
            name: m.name,
            label: m.version,
            change_description: m.change_description,
        })
    })?;
    if versions.is_empty() { Err(StoreError::not_found("workflow", id)) } else { Ok(versions) }
}

/// Adds the keyset condition and the limit (one more than asked, to know whether a page follows).
fn keyset(sql: &mut String, args: &mut Vec<Sql>, prefix: &str, page: PageRequest) {
    if let Some(after) = page.after {
        sql.push_str(&format!(" AND ({prefix}created_at, {prefix}id) < (?{}, ?{})", args.len() + 1, args.len() + 2));
        args.push(Sql::Integer(micros(after.created_at)));
        args.push(Sql::Text(after.id.to_string()));
    }
    sql.push_str(&format!(" ORDER BY {prefix}created_at DESC, {prefix}id DESC LIMIT ?{}", args.len() + 1));
    args.push(Sql::Integer(i64::from(page.limit) + 1));
}

fn paged<T>(mut items: Vec<T>, limit: u32, total: i64, key: impl Fn(&T) -> Cursor) -> Page<T> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next = if more { items.last().map(key) } else { None };
    Page { items, total: u64::try_from(total).unwrap_or(0), next }
}

pub(super) fn list_workflows(
    c: &Connection,
    scope: Scope,
    page: PageRequest,
) -> Result<Page<WorkflowSummary>, StoreError> {
    let mut sql = String::from(
        "SELECT w.id, w.created_at, w.latest_version, v.metadata, v.node_count, v.edge_count FROM workflows w \
         JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.latest_version \
         WHERE w.workspace_id = ?1 AND w.deleted_at IS NULL",
    );
    let workspace = scope.workspace().to_string();
    let mut args = vec![Sql::Text(workspace.clone())];
    keyset(&mut sql, &mut args, "w.", page);
    let items = all(c, &sql, args, |row| {
        let summary = WorkflowSummary {
            metadata: metadata(&col::<String>(row, "metadata")?)?,
            version: codec::u32_of(col(row, "latest_version")?),
            node_count: usize::try_from(col::<i64>(row, "node_count")?).unwrap_or(0),
            edge_count: usize::try_from(col::<i64>(row, "edge_count")?).unwrap_or(0),
        };
        Ok((summary, col::<i64>(row, "created_at")?))
    })?;
    let total: i64 = c
        .query_row("SELECT COUNT(*) FROM workflows WHERE workspace_id = ?1 AND deleted_at IS NULL", [workspace], |r| {
            r.get(0)
        })
        .map_err(store_error)?;
    let page = paged(items, page.limit, total, |(s, created)| Cursor {
        created_at: codec::time(*created).unwrap_or_default(),
        id: s.metadata.id.0,
    });
    Ok(Page { items: page.items.into_iter().map(|(s, _)| s).collect(), total: page.total, next: page.next })
}

fn scoped(scope: Scope, id: ExecutionId) -> Vec<Sql> {
    vec![Sql::Text(id.to_string()), Sql::Text(scope.workspace().to_string())]
}

pub(super) fn get_execution(c: &Connection, scope: Scope, id: ExecutionId) -> Result<Execution, StoreError> {
    let sql = format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = ?1 AND workspace_id = ?2");
    all(c, &sql, scoped(scope, id), codec::execution)?.pop().ok_or_else(|| StoreError::not_found("execution", id))
}

fn exists(c: &Connection, scope: Scope, id: ExecutionId) -> Result<(), StoreError> {
    let found: Option<i64> = c
        .prepare_cached("SELECT 1 FROM executions WHERE id = ?1 AND workspace_id = ?2")
        .and_then(|mut s| s.query_row(params_from_iter(scoped(scope, id)), |r| r.get(0)).optional())
        .map_err(store_error)?;
    found.map(|_| ()).ok_or_else(|| StoreError::not_found("execution", id))
}

pub(super) fn node_results(c: &Connection, scope: Scope, id: ExecutionId) -> Result<Vec<NodeResult>, StoreError> {
    // Checked first: results of another workspace's execution must not be read at all.
    exists(c, scope, id)?;
    all(
        c,
        "SELECT * FROM node_results WHERE execution_id = ?1 ORDER BY position",
        vec![Sql::Text(id.to_string())],
        codec::node_result,
    )
}

pub(super) fn events_after(
    c: &Connection,
    scope: Scope,
    id: ExecutionId,
    after: u64,
    limit: u32,
) -> Result<Vec<ExecutionEvent>, StoreError> {
    exists(c, scope, id)?;
    let args = vec![
        Sql::Text(id.to_string()),
        Sql::Integer(i64::try_from(after).unwrap_or(i64::MAX)),
        Sql::Integer(i64::from(limit)),
    ];
    let sql = "SELECT * FROM execution_events WHERE execution_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3";
    all(c, sql, args, |row| codec::event(row, id))
}

pub(super) fn list_executions(
    c: &Connection,
    scope: Scope,
    filter: ExecutionFilter,
    page: PageRequest,
) -> Result<Page<Execution>, StoreError> {
    let mut sql = format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE workspace_id = ?1");
    let mut count_sql = String::from("SELECT COALESCE(SUM(n), 0) FROM execution_counts WHERE workspace_id = ?1");
    let workspace = Sql::Text(scope.workspace().to_string());
    let (mut args, mut count_args) = (vec![workspace.clone()], vec![workspace]);
    if let Some(w) = filter.workflow_id {
        sql.push_str(&format!(" AND workflow_id = ?{}", args.len() + 1));
        count_sql.push_str(&format!(" AND workflow_id = ?{}", count_args.len() + 1));
        args.push(Sql::Text(w.to_string()));
        count_args.push(Sql::Text(w.to_string()));
    }
    if let Some(s) = filter.state {
        sql.push_str(&format!(" AND state = ?{}", args.len() + 1));
        count_sql.push_str(&format!(" AND state = ?{}", count_args.len() + 1));
        args.push(Sql::Text(s.as_str().into()));
        count_args.push(Sql::Text(s.as_str().into()));
    }
    if let Some(parent) = filter.parent {
        // Children are few: their total is counted, not kept in the counters.
        sql.push_str(&format!(" AND parent_execution_id = ?{}", args.len() + 1));
        args.push(Sql::Text(parent.to_string()));
        let conditions = sql.split_once(" WHERE ").map_or("0 = 1", |(_, w)| w);
        count_sql = format!("SELECT COUNT(*) FROM executions WHERE {conditions}");
        count_args = args.clone();
    }
    keyset(&mut sql, &mut args, "", page);
    // Limit 0 asks for the total only.
    let items = if page.limit == 0 { Vec::new() } else { all(c, &sql, args, codec::execution)? };
    let total: i64 = c
        .prepare_cached(&count_sql)
        .and_then(|mut s| s.query_row(params_from_iter(count_args), |r| r.get(0)))
        .map_err(store_error)?;
    Ok(paged(items, page.limit, total, |e| Cursor { created_at: e.created_at, id: e.id.0 }))
}
