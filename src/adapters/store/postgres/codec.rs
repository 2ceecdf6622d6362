//! Rows to domain values and back: native UUIDs and times, JSON as serde_json's text, free text
//! through the NUL escape, plus the checked narrowing between Postgres's signed integers and the
//! domain's unsigned counts.

use super::nul::{unescape, unescape_opt};
use crate::adapters::store::json_columns::ExecutionOptions;
use crate::domain::execution::{Execution, ExecutionEvent, ExecutionState, NewEvent, NodeResult, ParentLink};
use crate::domain::ids::{ExecutionId, NodeId, WorkflowId};
use crate::domain::run::RunEvent;
use crate::ports::{Lease, StoreError};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::types::PgInterval;
use sqlx::postgres::{PgRow, Postgres};
use sqlx::{Decode, Row, Type};
use std::str::FromStr;
use std::sync::Arc;
use uuid::Uuid;

pub(super) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("stored data is corrupt: {what}"))
}

pub(super) fn col<'r, T: Decode<'r, Postgres> + Type<Postgres>>(row: &'r PgRow, name: &str) -> Result<T, StoreError> {
    row.try_get(name).map_err(|e| corrupt(format!("column {name}: {e}")))
}

/// A JSON column: serde_json's text (never `jsonb`, which cannot hold `\u0000`).
pub(super) fn json<T: serde::de::DeserializeOwned>(row: &PgRow, name: &str) -> Result<T, StoreError> {
    serde_json::from_str(&col::<String>(row, name)?).map_err(|e| corrupt(format!("column {name}: {e}")))
}

/// A nullable JSON column: SQL NULL is `None`, the JSON text `null` is `Some(Value::Null)`.
pub(super) fn json_opt(row: &PgRow, name: &str) -> Result<Option<Value>, StoreError> {
    col::<Option<String>>(row, name)?
        .map(|text| serde_json::from_str(&text).map_err(|e| corrupt(format!("column {name}: {e}"))))
        .transpose()
}

/// JSON for a JSON column.
pub(super) fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(format!("cannot encode JSON: {e}")))
}

fn parse<T: FromStr>(text: &str, what: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| corrupt(format!("{what} '{text}': {e}")))
}

/// A stored INTEGER as the domain's `u32`; a negative one can only come from outside the adapter.
pub(super) fn u32_of(v: i32) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| corrupt(format!("negative count {v}")))
}

/// A domain count as an INTEGER column; counts past `i32::MAX` do not occur, so saturating is safe.
pub(super) fn int(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

pub(super) fn usize_of(v: i32) -> Result<usize, StoreError> {
    usize::try_from(v).map_err(|_| corrupt(format!("negative count {v}")))
}

/// The lease's time to live, added to the database's `now()` so that every process measures
/// expiry on the same clock. Sub-microsecond precision is dropped (INTERVAL cannot hold it).
pub(super) fn ttl(lease: &Lease) -> PgInterval {
    let microseconds = i64::try_from(lease.ttl.as_micros()).unwrap_or(i64::MAX / 2);
    PgInterval { months: 0, days: 0, microseconds }
}

pub(super) const EXECUTION_COLUMNS: &str = "id, workflow_id, workflow_version, state, error, variables, options, \
     created_at, started_at, completed_at, parent_execution_id, parent_node_id, parent_item, depth, rerun_of, output, \
     workspace_id";

pub(super) fn execution(row: &PgRow) -> Result<Execution, StoreError> {
    let variables = match json::<Value>(row, "variables")? {
        Value::Object(map) => map,
        _ => return Err(corrupt("variables are not an object")),
    };
    let options = json::<ExecutionOptions>(row, "options")?;
    Ok(Execution {
        id: ExecutionId(col::<Uuid>(row, "id")?),
        workspace_id: crate::domain::ids::WorkspaceId(col::<Uuid>(row, "workspace_id")?),
        workflow_id: WorkflowId(col::<Uuid>(row, "workflow_id")?),
        workflow_version: u32_of(col(row, "workflow_version")?)?,
        state: parse::<ExecutionState>(&col::<String>(row, "state")?, "state")?,
        error: unescape_opt(col(row, "error")?),
        variables: Arc::new(variables),
        budget: options.budget,
        started_by: options.started_by,
        created_at: col(row, "created_at")?,
        started_at: col(row, "started_at")?,
        completed_at: col(row, "completed_at")?,
        parent: match col::<Option<Uuid>>(row, "parent_execution_id")? {
            Some(parent) => Some(ParentLink {
                execution_id: ExecutionId(parent),
                node_id: NodeId::new(unescape_opt(col(row, "parent_node_id")?).unwrap_or_default()),
                item: col::<Option<i32>>(row, "parent_item")?.map(u32_of).transpose()?,
            }),
            None => None,
        },
        depth: u32_of(col(row, "depth")?)?,
        rerun_of: col::<Option<Uuid>>(row, "rerun_of")?.map(ExecutionId),
        output: json_opt(row, "output")?.map(Arc::new),
    })
}

pub(super) fn node_result(row: &PgRow) -> Result<NodeResult, StoreError> {
    Ok(NodeResult {
        node_id: NodeId::new(unescape(col(row, "node_id")?)),
        node_name: unescape(col(row, "node_name")?).into(),
        kind: unescape(col(row, "kind")?).into(),
        status: parse(&col::<String>(row, "status")?, "node status")?,
        output: json_opt(row, "output")?.map(Arc::new),
        error: unescape_opt(col(row, "error")?),
        attempts: u32_of(col(row, "attempts")?)?,
        started_at: col(row, "started_at")?,
        completed_at: col(row, "completed_at")?,
        usage: json_opt(row, "usage")?
            .map(|u| serde_json::from_value(u).map_err(|e| corrupt(format!("usage: {e}"))))
            .transpose()?,
    })
}

pub(super) fn event(row: &PgRow, execution_id: ExecutionId) -> Result<ExecutionEvent, StoreError> {
    let node_id = unescape_opt(col(row, "node_id")?);
    let kind: String = col(row, "kind")?;
    let data = unescape(col(row, "data")?);
    let event = RunEvent::from_stored(&kind, node_id.as_deref(), &data).map_err(corrupt)?;
    let seq = u64::try_from(col::<i64>(row, "seq")?).map_err(corrupt)?;
    Ok(NewEvent {
        event,
        state: parse(&col::<String>(row, "state")?, "state")?,
        node_results_count: u32_of(col(row, "node_results_count")?)?,
        at: col::<DateTime<Utc>>(row, "at")?,
    }
    .stored(execution_id, seq))
}
