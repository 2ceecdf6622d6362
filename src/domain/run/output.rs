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
    let is_end = |i: usize| matches!(wf.node(i).kind, NodeKind::End);
    let has_ends = (0..wf.len()).any(is_end);
    let feeds = |i: usize| {
        if has_ends {
            graph.successors[i].iter().any(|&s| is_end(s) && state.status(s) == NodeStatus::Succeeded)
        } else {
            graph.successors[i].is_empty()
        }
    };
    let mut output = Map::new();
    for idx in (0..wf.len()).filter(|&i| feeds(i) && state.status(i) == NodeStatus::Succeeded) {
        if let Some(value) = &state.node(idx).output {
            output.insert(wf.node(idx).id.as_str().to_owned(), value.as_ref().clone());
        }
    }
    Value::Object(output)
}
