//! Rows to domain values and back: UUIDs as text, times as Unix microseconds, JSON as text.

use crate::adapters::store::json_columns::ExecutionOptions;
use crate::domain::execution::{Execution, ExecutionEvent, ExecutionState, NewEvent, NodeResult, ParentLink};
use crate::domain::ids::{ExecutionId, NodeId, WorkflowId};
use crate::domain::run::RunEvent;
use crate::ports::StoreError;
use chrono::{DateTime, Utc};
use rusqlite::Row;
use rusqlite::types::FromSql;
use serde_json::Value;
use std::str::FromStr;
use std::sync::Arc;

pub(super) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(super) fn time(m: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(m).ok_or_else(|| corrupt(format!("time {m} out of range")))
}

fn opt_time(m: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    m.map(time).transpose()
}

pub(super) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("stored data is corrupt: {what}"))
}

pub(super) fn col<T: FromSql>(row: &Row<'_>, name: &str) -> Result<T, StoreError> {
    row.get(name).map_err(|e| corrupt(format!("column {name}: {e}")))
}

pub(super) fn parse<T: FromStr>(text: &str, what: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| corrupt(format!("{what} '{text}': {e}")))
}

fn json(text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("JSON: {e}")))
}

pub(super) fn u32_of(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

pub(super) const EXECUTION_COLUMNS: &str = "id, workflow_id, workflow_version, state, error, variables, options, \
     created_at, started_at, completed_at, parent_execution_id, parent_node_id, parent_item, depth, rerun_of, output, \
     workspace_id";

pub(super) fn execution(row: &Row<'_>) -> Result<Execution, StoreError> {
    let variables = match json(&col::<String>(row, "variables")?)? {
        Value::Object(map) => map,
        _ => return Err(corrupt("variables are not an object")),
    };
    let options: ExecutionOptions = serde_json::from_str(&col::<String>(row, "options")?).map_err(corrupt)?;
    Ok(Execution {
        id: ExecutionId(parse(&col::<String>(row, "id")?, "execution id")?),
        workspace_id: parse(&col::<String>(row, "workspace_id")?, "workspace id")?,
        workflow_id: WorkflowId(parse(&col::<String>(row, "workflow_id")?, "workflow id")?),
        workflow_version: u32_of(col(row, "workflow_version")?),
        state: parse::<ExecutionState>(&col::<String>(row, "state")?, "state")?,
        error: col(row, "error")?,
        variables: Arc::new(variables),
        budget: options.budget,
        started_by: options.started_by,
        created_at: time(col(row, "created_at")?)?,
        started_at: opt_time(col(row, "started_at")?)?,
        completed_at: opt_time(col(row, "completed_at")?)?,
        parent: match col::<Option<String>>(row, "parent_execution_id")? {
            Some(parent) => Some(ParentLink {
                execution_id: ExecutionId(parse(&parent, "parent execution id")?),
                node_id: NodeId::new(col::<Option<String>>(row, "parent_node_id")?.unwrap_or_default()),
                item: col::<Option<i64>>(row, "parent_item")?.map(u32_of),
            }),
            None => None,
        },
        depth: u32_of(col(row, "depth")?),
        rerun_of: col::<Option<String>>(row, "rerun_of")?
            .map(|r| parse(&r, "rerun_of").map(ExecutionId))
            .transpose()?,
        output: col::<Option<String>>(row, "output")?.as_deref().map(json).transpose()?.map(Arc::new),
    })
}

pub(super) fn node_result(row: &Row<'_>) -> Result<NodeResult, StoreError> {
    let output: Option<String> = col(row, "output")?;
    Ok(NodeResult {
        node_id: NodeId::new(col::<String>(row, "node_id")?),
        node_name: col::<String>(row, "node_name")?.into(),
        kind: col::<String>(row, "kind")?.into(),
        status: parse(&col::<String>(row, "status")?, "node status")?,
        output: output.as_deref().map(json).transpose()?.map(Arc::new),
        error: col(row, "error")?,
        attempts: u32_of(col(row, "attempts")?),
        started_at: opt_time(col(row, "started_at")?)?,
        completed_at: opt_time(col(row, "completed_at")?)?,
        usage: col::<Option<String>>(row, "usage")?
            .map(|u| serde_json::from_str(&u).map_err(|e| corrupt(format!("usage: {e}"))))
            .transpose()?,
    })
}

pub(super) fn event(row: &Row<'_>, execution_id: ExecutionId) -> Result<ExecutionEvent, StoreError> {
    let node_id: Option<String> = col(row, "node_id")?;
    let kind: String = col(row, "kind")?;
    let data: String = col(row, "data")?;
    let event = RunEvent::from_stored(&kind, node_id.as_deref(), &data).map_err(corrupt)?;
    Ok(NewEvent {
        event,
        state: parse(&col::<String>(row, "state")?, "state")?,
        node_results_count: u32_of(col(row, "node_results_count")?),
        at: time(col(row, "at")?)?,
    }
    .stored(execution_id, u64::try_from(col::<i64>(row, "seq")?).map_err(corrupt)?))
}
