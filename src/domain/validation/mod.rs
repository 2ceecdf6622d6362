//! Turns a workflow as received into a [`ValidWorkflow`], reporting every problem at once.

mod config_rules;
mod problem;
mod references;

pub use problem::{Problem, ValidationError};

use crate::domain::graph::{Graph, NodeIndex};
use crate::domain::ids::NodeId;
use crate::domain::inputs::InputSchema;
use crate::domain::valid::ValidWorkflow;
use crate::domain::workflow::{NodeKind, Workflow};
use problem::{Problems, node_path};
use std::sync::Arc;

/// Which rules apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rules {
    /// Everything, for a workflow being saved.
    Save,
    /// What running needs (graph, compiled routing, the input schema), for a version stored
    /// earlier: a rule added since must not make old versions, or the executions that ran
    /// them, unreadable.
    Stored,
}

/// Checks a workflow: at least one Start node, unique well-formed node ids, edges between existing
/// nodes, none into a Start or out of an End, no cycle, every node reachable from a Start, branch
/// targets that are direct successors, well-formed node configs (templates parse, expressions
/// compile, required fields present), a usable `input_schema`, expressions whose types are not
/// known to be wrong, and node outputs read only from nodes upstream of the reader.
///
/// # Errors
/// Every problem found, in document order.
pub fn validate(workflow: Workflow) -> Result<ValidWorkflow, ValidationError> {
    check(workflow, Rules::Save)
}

/// Rebuilds a workflow version that was valid when it was stored, without the rules added since
/// (see [`Rules::Stored`]).
///
/// # Errors
/// When it cannot be run at all (its graph or routing no longer compiles).
pub fn restore(workflow: Workflow) -> Result<ValidWorkflow, ValidationError> {
    check(workflow, Rules::Stored)
}

fn check(workflow: Workflow, rules: Rules) -> Result<ValidWorkflow, ValidationError> {
    let mut problems = Problems::default();
    if workflow.nodes.is_empty() {
        problems.general("workflow.nodes", "Workflow has no nodes");
        return Err(ValidationError { problems: problems.0 });
    }
    let index = index_nodes(&workflow, &mut problems);
    let edges = resolve_edges(&workflow, &index, &mut problems);
    let starts: Vec<usize> = starts(&workflow);
    if starts.is_empty() {
        problems.general("workflow.nodes", "Workflow has no start node");
    }
    let inputs = input_schema(&workflow, &mut problems);
    let declared = inputs.as_ref().map(InputSchema::declared).unwrap_or_default();
    let graph = Graph::new(Arc::new(index), workflow.nodes.len(), &edges);
    let topo = check_shape(&workflow, &graph, &starts, &mut problems);
    let (compiled, reads) = config_rules::check_nodes(&workflow, &graph, &declared, rules, &mut problems);
    if let Some(topo) = &topo {
        references::check(&workflow, &graph, topo, &reads, &mut problems);
    }
    match (problems.is_empty(), topo) {
        (true, Some(topo)) => Ok(ValidWorkflow::new(workflow, graph, topo, compiled, inputs)),
        _ => Err(ValidationError { problems: problems.0 }),
    }
}

fn input_schema(workflow: &Workflow, problems: &mut Problems) -> Option<InputSchema> {
    let schema = workflow.input_schema.as_ref()?;
    match InputSchema::compile(schema) {
        Ok(compiled) => Some(compiled),
        Err(found) => {
            for (at, problem) in found {
                problems.general(format!("workflow.input_schema{at}"), problem);
            }
            None
        }
    }
}

fn index_nodes(workflow: &Workflow, problems: &mut Problems) -> NodeIndex {
    let mut index = NodeIndex::with_capacity_and_hasher(workflow.nodes.len(), Default::default());
    for (i, node) in workflow.nodes.iter().enumerate() {
        if let Some(p) = node.id.problem() {
            problems.node(&node.id, format!("{}.id", node_path(i)), p);
        }
        if let Some(&first) = index.get(&node.id) {
            problems.node(
                &node.id,
                format!("{}.id", node_path(i)),
                format!("Duplicate node id '{}': nodes[{first}] already uses it", node.id),
            );
        } else {
            index.insert(node.id.clone(), i);
        }
    }
    index
}

fn resolve_edges(workflow: &Workflow, index: &NodeIndex, problems: &mut Problems) -> Vec<(usize, usize)> {
    let mut edges = Vec::with_capacity(workflow.edges.len());
    for (i, edge) in workflow.edges.iter().enumerate() {
        let mut end = |id: &NodeId, field: &str| {
            let found = index.get(id).copied();
            if found.is_none() {
                problems.general(
                    format!("workflow.edges[{i}].{field}"),
                    format!("Edge references non-existent node: {id}"),
                );
            }
            found
        };
        let (Some(from), Some(to)) = (end(&edge.from, "from"), end(&edge.to, "to")) else {
            continue;
        };
        if matches!(workflow.nodes[to].kind, NodeKind::Start) {
            problems.node(
                &edge.to,
                format!("workflow.edges[{i}].to"),
                format!("Edge into Start node '{}': a Start node cannot have incoming edges", edge.to),
            );
        }
        if matches!(workflow.nodes[from].kind, NodeKind::End) {
            problems.node(
                &edge.from,
                format!("workflow.edges[{i}].from"),
                format!("Edge out of End node '{}': an End node cannot have outgoing edges", edge.from),
            );
        }
        edges.push((from, to));
    }
    edges
}

fn starts(workflow: &Workflow) -> Vec<usize> {
    workflow.nodes.iter().enumerate().filter(|(_, n)| matches!(n.kind, NodeKind::Start)).map(|(i, _)| i).collect()
}

/// Reports cycles and unreachable nodes; returns a topological order when there is no cycle.
fn check_shape(workflow: &Workflow, graph: &Graph, starts: &[usize], problems: &mut Problems) -> Option<Vec<usize>> {
    let topo = match graph.topological_order() {
        Ok(order) => Some(order),
        Err(cycle) => {
            let names: Vec<&str> = cycle.iter().map(|&i| workflow.nodes[i].id.as_str()).collect();
            let first = &workflow.nodes[cycle[0]].id;
            problems.node(first, "workflow.edges", format!("Workflow contains a cycle: {}", names.join(" -> ")));
            None
        }
    };
    if !starts.is_empty() {
        let reachable = graph.reachable_from(starts);
        // A duplicate of an id is already reported; edges only ever reach its first holder.
        let first_holder = |i: usize| graph.index.get(&workflow.nodes[i].id) == Some(&i);
        for (i, node) in workflow.nodes.iter().enumerate().filter(|&(i, _)| !reachable[i] && first_holder(i)) {
            problems.node(&node.id, node_path(i), format!("Node '{}' is not reachable from any Start node", node.id));
        }
    }
    topo
}

#[cfg(test)]
mod reads_tests;
#[cfg(test)]
pub(crate) mod tests;
