//! What a workflow produces: the outputs of the nodes that feed its End nodes.

use super::state::RunState;
use crate::domain::execution::NodeStatus;
use crate::domain::workflow::NodeKind;
use serde_json::{Map, Value};

/// A completed run's output: an object keyed by node id, holding the output of every node that
/// succeeded and feeds an End node that ran (`{"answer": {"response": ...}}`). A workflow without
/// End nodes outputs its sinks (nodes without successors) that succeeded. Nodes whose branch was
/// not taken are absent.
#[must_use]
pub fn workflow_output(state: &RunState) -> Value {
    let wf = state.workflow();
    let graph = wf.graph();
    let ends: Vec<usize> = (0..wf.len()).filter(|&i| matches!(wf.node(i).kind, NodeKind::End)).collect();
    let mut feeding: Vec<usize> = if ends.is_empty() {
        (0..wf.len()).filter(|&i| graph.successors[i].is_empty()).collect()
    } else {
        (0..wf.len())
            .filter(|&i| {
                graph.successors[i].iter().any(|&s| ends.contains(&s) && state.status(s) == NodeStatus::Succeeded)
            })
            .collect()
    };
    feeding.sort_unstable();
    let mut output = Map::new();
    for idx in feeding.into_iter().filter(|&i| state.status(i) == NodeStatus::Succeeded) {
        if let Some(value) = &state.node(idx).output {
            output.insert(wf.node(idx).id.to_string(), value.as_ref().clone());
        }
    }
    Value::Object(output)
}
