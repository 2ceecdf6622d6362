//! Nodes that run child executions: a SubWorkflow (one child) and a Loop over a `body_workflow`
//! (one child per item). What they do next is decided here from the run's state alone, so a run
//! resumed from its log takes up exactly where it stopped: finished items are not run again.

use super::state::RunState;
use crate::domain::control::iteration::{self, Items};
use crate::domain::data::DataContext;
use crate::domain::execution::ExecutionState;
use crate::domain::template;
use crate::domain::workflow::{ItemFailure, LoopConfig, LoopType, NodeKind, SubWorkflowConfig};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A child execution to start for a node.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildSpec {
    /// The Loop item (0 for a SubWorkflow).
    pub item: u32,
    pub variables: Map<String, Value>,
}

/// What a composite node does next.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Start these children.
    Start(Vec<ChildSpec>),
    /// Wait for children already started.
    Wait,
    /// The node is done: it succeeds with this output.
    Complete(Value),
    /// The node fails; children still running are to be cancelled.
    Fail(String),
}

/// The stored workflow a composite node runs, and the version pinned, if any.
#[must_use]
pub fn target(kind: &NodeKind) -> Option<(&str, Option<u32>)> {
    match kind {
        NodeKind::SubWorkflow(c) => Some((c.workflow_path.trim(), c.version)),
        NodeKind::Loop(LoopConfig { body_workflow: Some(id), body_workflow_version, .. }) => {
            Some((id.trim(), *body_workflow_version))
        }
        _ => None,
    }
}

/// Whether the node runs child executions.
#[must_use]
pub fn is_composite(kind: &NodeKind) -> bool {
    target(kind).is_some()
}

/// What composite node `idx` does next, given its children so far.
#[must_use]
pub fn next_step(state: &RunState, idx: usize) -> Step {
    let node = state.workflow().node(idx);
    match &node.kind {
        NodeKind::SubWorkflow(config) => sub_workflow(state, idx, config),
        NodeKind::Loop(config) => match loop_step(state, idx, config) {
            Ok(step) => step,
            Err(e) => Step::Fail(e),
        },
        _ => Step::Fail(format!("node {} runs no child executions", node.id)),
    }
}

fn sub_workflow(state: &RunState, idx: usize, config: &SubWorkflowConfig) -> Step {
    let children = &state.node(idx).children;
    let Some(result) = children.finished.get(&0) else {
        if children.started.contains_key(&0) {
            return Step::Wait;
        }
        return match mapped_variables(config, state.data()) {
            Ok(variables) => Step::Start(vec![ChildSpec { item: 0, variables }]),
            Err(e) => Step::Fail(e),
        };
    };
    if result.state != ExecutionState::Completed {
        return Step::Fail(child_failure(result.execution_id, result.state, result.error.as_deref()));
    }
    let output = result.output.as_deref().cloned().unwrap_or(Value::Null);
    let mut out = json!({"execution_id": result.execution_id, "output": output});
    if let Some(name) = config.output_variable.as_deref().filter(|n| !n.trim().is_empty()) {
        out[name] = output;
    }
    Step::Complete(out)
}

fn child_failure(id: crate::domain::ids::ExecutionId, state: ExecutionState, error: Option<&str>) -> String {
    match error {
        Some(e) => format!("child execution {id} ended {state}: {e}"),
        None => format!("child execution {id} ended {state}"),
    }
}

/// The child's variables: the parent's with `inherit_context`, then each input mapping. A
/// mapping that is exactly one `{{ path }}` keeps the type of what it names (a number stays a
/// number); any other template is rendered as text.
///
/// # Errors
/// A mapping that fails to render.
pub fn mapped_variables(config: &SubWorkflowConfig, data: &DataContext) -> Result<Map<String, Value>, String> {
    let mut variables = if config.inherit_context { data.variables.as_ref().clone() } else { Map::new() };
    for (name, mapping) in &config.input_mappings {
        let value = single_path(mapping)
            .and_then(|path| data.lookup(path))
            .map_or_else(|| template::render(mapping, data).map(Value::String), Ok)
            .map_err(|e| format!("input_mappings.{name}: {e}"))?;
        variables.insert(name.clone(), value);
    }
    Ok(variables)
}

/// `path` when the template is exactly `{{ path }}` with a plain dotted path.
fn single_path(mapping: &str) -> Option<&str> {
    let inner = mapping.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let plain = !inner.is_empty() && inner.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    plain.then_some(inner)
}

fn loop_step(state: &RunState, idx: usize, config: &LoopConfig) -> Result<Step, String> {
    let data = state.data();
    let children = &state.node(idx).children;
    let policy = config.on_item_failure.unwrap_or_default();
    if policy == ItemFailure::FailFast
        && let Some(failed) = children.finished.values().find(|r| r.state != ExecutionState::Completed)
    {
        return Ok(Step::Fail(child_failure(failed.execution_id, failed.state, failed.error.as_deref())));
    }
    let base = if config.inherit_context { data.variables.as_ref().clone() } else { Map::new() };
    let spec = |item: u32, value: Option<&Value>| {
        let mut variables = base.clone();
        variables.extend(iteration::iteration_variables(config, item, value));
        ChildSpec { item, variables }
    };
    let running = children.running().len();
    match iteration::items(config, data)? {
        Items::While(condition) => {
            if running > 0 {
                return Ok(Step::Wait);
            }
            let done = u32::try_from(children.finished.len()).unwrap_or(u32::MAX);
            let results = results_in_order(&children.finished, policy);
            if !iteration::while_holds(&condition, config, data, done, &results)? {
                return Ok(Step::Complete(loop_output(&children.finished, policy, done)));
            }
            if done >= config.max_iterations {
                return Err(format!(
                    "the loop was still going after max_iterations ({}): its condition never turned false",
                    config.max_iterations
                ));
            }
            Ok(Step::Start(vec![spec(done, None)]))
        }
        items => {
            let (total, list) = match items {
                Items::List(list) => (u32::try_from(list.len()).unwrap_or(u32::MAX), Some(list)),
                Items::Count(n) => (n, None),
                Items::While(_) => unreachable!("handled above"),
            };
            let finished = u32::try_from(children.finished.len()).unwrap_or(u32::MAX);
            if finished >= total {
                return Ok(Step::Complete(loop_output(&children.finished, policy, total)));
            }
            let concurrency = match &config.loop_type {
                LoopType::ForEach { parallel: true, max_concurrency, .. } => max_concurrency.unwrap_or(total).max(1),
                _ => 1,
            } as usize;
            let free = concurrency.saturating_sub(running);
            let starts: Vec<ChildSpec> = (0..total)
                .filter(|i| !children.started.contains_key(i))
                .take(free)
                .map(|i| spec(i, list.as_ref().and_then(|l| l.get(i as usize))))
                .collect();
            Ok(if starts.is_empty() { Step::Wait } else { Step::Start(starts) })
        }
    }
}

fn results_in_order(finished: &BTreeMap<u32, super::ChildResult>, policy: ItemFailure) -> Vec<Value> {
    finished
        .values()
        .filter_map(|r| match (r.state == ExecutionState::Completed, policy) {
            (true, _) => Some(r.output.as_deref().cloned().unwrap_or(Value::Null)),
            (false, ItemFailure::Skip) => None,
            (false, _) => Some(json!({"error": child_failure(r.execution_id, r.state, r.error.as_deref()),
                                      "execution_id": r.execution_id})),
        })
        .collect()
}

/// A finished Loop's output: the items' outputs in item order.
fn loop_output(finished: &BTreeMap<u32, super::ChildResult>, policy: ItemFailure, total: u32) -> Value {
    let failed = finished.values().filter(|r| r.state != ExecutionState::Completed).count();
    let executions: Vec<Value> = finished.values().map(|r| json!(r.execution_id)).collect();
    json!({
        "iterations": total,
        "results": results_in_order(finished, policy),
        "failed": failed,
        "executions": executions,
    })
}

/// How far a Loop has come: (completed, failed, total), for `loop_progress` events.
#[must_use]
pub fn progress(state: &RunState, idx: usize) -> Option<(u32, u32, u32)> {
    let NodeKind::Loop(config) = &state.workflow().node(idx).kind else { return None };
    let children = &state.node(idx).children;
    let failed = children.finished.values().filter(|r| r.state != ExecutionState::Completed).count();
    let done = children.finished.len() - failed;
    let total = match iteration::items(config, state.data()).ok()? {
        Items::List(list) => list.len(),
        Items::Count(n) => n as usize,
        Items::While(_) => children.started.len(),
    };
    let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    Some((n(done), n(failed), n(total)))
}

/// The child of `item` a composite node starts (the same on every call, so a child lost in a
/// crash between recording it and creating it is created again as it was meant).
///
/// # Errors
/// The node's inputs cannot be computed (a mapping fails to render, the collection is gone).
pub fn spec_for(state: &RunState, idx: usize, item: u32) -> Result<ChildSpec, String> {
    let data = state.data();
    match &state.workflow().node(idx).kind {
        NodeKind::SubWorkflow(config) => Ok(ChildSpec { item, variables: mapped_variables(config, data)? }),
        NodeKind::Loop(config) => {
            let mut variables = if config.inherit_context { data.variables.as_ref().clone() } else { Map::new() };
            let value = match iteration::items(config, data)? {
                Items::List(list) => list.get(item as usize).cloned(),
                _ => None,
            };
            variables.extend(iteration::iteration_variables(config, item, value.as_ref()));
            Ok(ChildSpec { item, variables })
        }
        _ => Err(format!("node {} runs no child executions", state.workflow().node(idx).id)),
    }
}
