//! Node outputs read by templates and expressions: each must name a node that exists and that
//! always finishes before the reader starts (an ancestor). Reading a sibling's output would make
//! the run's outcome depend on which node the scheduler happened to start first, that is, on the
//! order nodes and edges are listed in the document.

use super::problem::{Problems, config_path};
use crate::domain::data::Reads;
use crate::domain::graph::Graph;
use crate::domain::workflow::Workflow;

/// What one config field of a node reads.
pub(super) struct FieldReads {
    pub field: String,
    pub reads: Reads,
}

/// Reports references to nodes that do not exist, to the node itself, to nodes that are not
/// upstream of the reader, and uses of `nodes` without a literal id.
pub(super) fn check(
    workflow: &Workflow,
    graph: &Graph,
    topo: &[usize],
    reads: &[Vec<FieldReads>],
    problems: &mut Problems,
) {
    // (target, reader, field, id, place) for every reference to an existing other node.
    let mut edges: Vec<(usize, usize, &str, &str, usize)> = Vec::new();
    // (reader, place, message): sorted at the end, so problems come in document order.
    let mut found: Vec<(usize, usize, String, String)> = Vec::new();
    let mut place = 0;
    for (reader, fields) in reads.iter().enumerate() {
        let node = &workflow.nodes[reader].id;
        for FieldReads { field, reads } in fields {
            let path = config_path(reader, field);
            place += 1;
            if reads.dynamic_nodes {
                found.push((
                    reader,
                    place,
                    path.clone(),
                    format!(
                        "Node {node}: {field} uses `nodes` without a literal node id; read outputs as \
                         nodes.<id> or nodes[\"<id>\"], so the server can check they are computed first"
                    ),
                ));
            }
            for id in &reads.nodes {
                place += 1;
                let message = match graph.index.get(id.as_str()) {
                    None => format!("Node {node}: {field} reads nodes.{id}, but no node '{id}' exists"),
                    Some(&target) if target == reader => {
                        format!("Node {node}: {field} reads its own output (nodes.{id}), which does not exist yet")
                    }
                    Some(&target) => {
                        edges.push((target, reader, field, id, place));
                        continue;
                    }
                };
                found.push((reader, place, path.clone(), message));
            }
        }
    }
    let upstream = graph.reaches(topo, &edges.iter().map(|&(t, r, ..)| (t, r)).collect::<Vec<_>>());
    for (&(_, reader, field, id, place), ok) in edges.iter().zip(upstream) {
        if !ok {
            let node = &workflow.nodes[reader].id;
            let message = format!(
                "Node {node}: {field} reads nodes.{id}, but '{id}' is not upstream of '{node}': it may run after it \
                 or on another branch; add a path {id} -> ... -> {node}"
            );
            found.push((reader, place, config_path(reader, field), message));
        }
    }
    found.sort_by_key(|&(reader, place, ..)| (reader, place));
    for (reader, _, path, message) in found {
        problems.node(&workflow.nodes[reader].id, path, message);
    }
}
