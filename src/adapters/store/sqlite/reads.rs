//! The read statements, run on a read connection.

use super::codec::{self, EXECUTION_COLUMNS, col, micros};
use super::errors::store_error;
use crate::domain::execution::{Execution, ExecutionEvent, NodeResult};
use crate::domain::ids::{ExecutionId, WorkflowId};
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

pub(super) fn latest_version(c: &Connection, id: WorkflowId) -> Result<Option<u32>, StoreError> {
    let v: Option<i64> = c
        .prepare_cached("SELECT latest_version FROM workflows WHERE id = ?1 AND deleted_at IS NULL")
        .and_then(|mut s| s.query_row([id.to_string()], |r| r.get(0)).optional())
        .map_err(store_error)?;
    Ok(v.map(codec::u32_of))
}

pub(super) fn definition(c: &Connection, id: WorkflowId, version: u32) -> Result<Option<String>, StoreError> {
    c.prepare_cached("SELECT definition FROM workflow_versions WHERE workflow_id = ?1 AND version = ?2")
        .and_then(|mut s| s.query_row(params![id.to_string(), i64::from(version)], |r| r.get(0)).optional())
        .map_err(store_error)
}

fn metadata(json: &str) -> Result<WorkflowMetadata, StoreError> {
    serde_json::from_str(json).map_err(codec::corrupt)
}

pub(super) fn list_versions(c: &Connection, id: WorkflowId) -> Result<Vec<VersionInfo>, StoreError> {
    let sql = "SELECT version, metadata, saved_at FROM workflow_versions WHERE workflow_id = ?1 ORDER BY version";
    let versions = all(c, sql, vec![Sql::Text(id.to_string())], |row| {
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

pub(super) fn list_workflows(c: &Connection, page: PageRequest) -> Result<Page<WorkflowSummary>, StoreError> {
    let mut sql = String::from(
        "SELECT w.id, w.created_at, w.latest_version, v.metadata, v.node_count, v.edge_count FROM workflows w \
         JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.latest_version WHERE w.deleted_at IS NULL",
    );
    let mut args = Vec::new();
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
        .query_row("SELECT COUNT(*) FROM workflows WHERE deleted_at IS NULL", [], |r| r.get(0))
        .map_err(store_error)?;
    let page = paged(items, page.limit, total, |(s, created)| Cursor {
        created_at: codec::time(*created).unwrap_or_default(),
        id: s.metadata.id.0,
    });
    Ok(Page { items: page.items.into_iter().map(|(s, _)| s).collect(), total: page.total, next: page.next })
}

pub(super) fn get_execution(c: &Connection, id: ExecutionId) -> Result<Execution, StoreError> {
    let sql = format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = ?1");
    all(c, &sql, vec![Sql::Text(id.to_string())], codec::execution)?
        .pop()
        .ok_or_else(|| StoreError::not_found("execution", id))
}

fn exists(c: &Connection, id: ExecutionId) -> Result<(), StoreError> {
    let found: Option<i64> = c
        .prepare_cached("SELECT 1 FROM executions WHERE id = ?1")
        .and_then(|mut s| s.query_row([id.to_string()], |r| r.get(0)).optional())
        .map_err(store_error)?;
    found.map(|_| ()).ok_or_else(|| StoreError::not_found("execution", id))
}

pub(super) fn node_results(c: &Connection, id: ExecutionId) -> Result<Vec<NodeResult>, StoreError> {
    let results = all(
        c,
        "SELECT * FROM node_results WHERE execution_id = ?1 ORDER BY position",
        vec![Sql::Text(id.to_string())],
        codec::node_result,
    )?;
    if results.is_empty() {
        exists(c, id)?;
    }
    Ok(results)
}

pub(super) fn events_after(
    c: &Connection,
    id: ExecutionId,
    after: u64,
    limit: u32,
) -> Result<Vec<ExecutionEvent>, StoreError> {
    let args = vec![
        Sql::Text(id.to_string()),
        Sql::Integer(i64::try_from(after).unwrap_or(i64::MAX)),
        Sql::Integer(i64::from(limit)),
    ];
    let sql = "SELECT * FROM execution_events WHERE execution_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3";
    let events = all(c, sql, args, |row| codec::event(row, id))?;
    if events.is_empty() {
        exists(c, id)?;
    }
    Ok(events)
}

pub(super) fn list_executions(
    c: &Connection,
    filter: ExecutionFilter,
    page: PageRequest,
) -> Result<Page<Execution>, StoreError> {
    let mut sql = format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE 1 = 1");
    let mut count_sql = String::from("SELECT COALESCE(SUM(n), 0) FROM execution_counts WHERE 1 = 1");
    let (mut args, mut count_args) = (Vec::new(), Vec::new());
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
        let conditions = sql.split_once(" WHERE ").map_or("1 = 1", |(_, w)| w);
        count_sql = format!("SELECT COUNT(*) FROM executions WHERE {conditions}");
        count_args = args.clone();
    }
    keyset(&mut sql, &mut args, "", page);
    let items = all(c, &sql, args, codec::execution)?;
    let total: i64 = c
        .prepare_cached(&count_sql)
        .and_then(|mut s| s.query_row(params_from_iter(count_args), |r| r.get(0)))
        .map_err(store_error)?;
    Ok(paged(items, page.limit, total, |e| Cursor { created_at: e.created_at, id: e.id.0 }))
}
