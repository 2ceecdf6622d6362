//! Validation problems: each names the node (when there is one) and the JSON path of the bad value.

use crate::domain::ids::NodeId;
use serde::Serialize;
use std::fmt;
use utoipa::ToSchema;

/// One thing wrong with a workflow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// The node's id as written (which may be the malformed id the problem is about).
    #[schema(value_type = Option<String>)]
    pub node_id: Option<NodeId>,
    /// Where in the request body, e.g. `workflow.nodes[2].kind.config.expression`.
    pub path: String,
    pub problem: String,
}

/// Every problem found in a workflow, in document order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [] => f.write_str("workflow is invalid"),
            [one] => f.write_str(&one.problem),
            [first, rest @ ..] => write!(f, "{} (and {} more problems, see details)", first.problem, rest.len()),
        }
    }
}

/// Collects problems while a workflow is checked.
#[derive(Default)]
pub(crate) struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn node(&mut self, node_id: &NodeId, path: impl Into<String>, problem: impl Into<String>) {
        self.0.push(Problem { node_id: Some(node_id.clone()), path: path.into(), problem: problem.into() });
    }

    pub fn general(&mut self, path: impl Into<String>, problem: impl Into<String>) {
        self.0.push(Problem { node_id: None, path: path.into(), problem: problem.into() });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The JSON path of node `i`.
pub(crate) fn node_path(i: usize) -> String {
    format!("workflow.nodes[{i}]")
}

/// The JSON path of a field of node `i`'s config.
pub(crate) fn config_path(i: usize, field: &str) -> String {
    format!("workflow.nodes[{i}].kind.config.{field}")
}
