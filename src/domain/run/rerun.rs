//! Rerunning an execution from one node: a new run reuses the recorded outputs of every node
//! that is not downstream of that node (nothing upstream runs, or is paid for, twice) and runs
//! the rest.

use super::event::RunEvent;
use crate::domain::execution::ExecutionEvent;
use crate::domain::ids::{ExecutionId, NodeId};
use crate::domain::valid::ValidWorkflow;
use std::collections::HashMap;
use std::sync::Arc;

/// The events that start a rerun of `old` from node `from`: for every node `from` does not
/// lead to that succeeded in the old run, its start and its completion with the recorded output
/// (marked `reused_from`), in topological order, so each is ready when its turn comes.
///
/// # Errors
/// When `from` is not a node of the workflow.
pub fn seeds(
    wf: &ValidWorkflow,
    old: ExecutionId,
    log: &[ExecutionEvent],
    from: &NodeId,
) -> Result<Vec<RunEvent>, String> {
    let from = wf.index_of(from).ok_or_else(|| format!("from_node '{from}' is not a node of this workflow version"))?;
    let downstream = wf.graph().reachable_from(&[from]);
    let mut completed: HashMap<&NodeId, &RunEvent> = HashMap::new();
    for stored in log {
        if let RunEvent::NodeCompleted { node_id, .. } = &stored.event {
            completed.insert(node_id, &stored.event);
        }
    }
    let mut seeds = Vec::new();
    for &idx in wf.topological_order() {
        if downstream[idx] {
            continue;
        }
        let Some(RunEvent::NodeCompleted { node_id, attempt, output, taken, duration_ms, .. }) =
            completed.get(&wf.node(idx).id).copied()
        else {
            continue;
        };
        seeds.push(RunEvent::NodeStarted { node_id: node_id.clone(), attempt: *attempt });
        seeds.push(RunEvent::NodeCompleted {
            node_id: node_id.clone(),
            attempt: *attempt,
            output: Arc::clone(output),
            taken: taken.clone(),
            duration_ms: *duration_ms,
            reused_from: Some(old),
        });
    }
    Ok(seeds)
}
