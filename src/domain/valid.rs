//! A workflow that passed validation, with its graph and compiled conditions. It can only be built
//! by [`crate::domain::validation::validate`], so holding one proves the workflow is runnable.

use crate::domain::expr::Expr;
use crate::domain::graph::Graph;
use crate::domain::ids::{NodeId, WorkflowId};
use crate::domain::workflow::{Node, Workflow};
use std::sync::Arc;

/// The compiled routing of a branching node.
#[derive(Clone, Debug)]
pub enum Compiled {
    /// Nothing to compile: the node does not route.
    Plain,
    IfElse {
        expr: Expr,
        true_target: usize,
        false_target: usize,
    },
    Switch {
        on: SwitchOn,
        cases: Vec<(Matcher, usize)>,
        default: Option<usize>,
    },
}

/// What a `Switch` node switches on.
#[derive(Clone, Debug)]
pub enum SwitchOn {
    Expr(Expr),
    Template(String),
}

/// How a `Switch` case matches the switched-on value (as text).
#[derive(Clone, Debug)]
pub enum Matcher {
    Exact(String),
    Regex(regex::Regex),
}

impl Matcher {
    #[must_use]
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Self::Exact(v) => v == text,
            Self::Regex(r) => r.is_match(text),
        }
    }
}

#[derive(Debug)]
struct Inner {
    workflow: Workflow,
    graph: Graph,
    topo: Vec<usize>,
    compiled: Vec<Compiled>,
    branch_targets: Vec<Vec<usize>>,
}

/// A validated workflow; cheap to clone.
#[derive(Clone, Debug)]
pub struct ValidWorkflow(Arc<Inner>);

impl ValidWorkflow {
    pub(crate) fn new(workflow: Workflow, graph: Graph, topo: Vec<usize>, compiled: Vec<Compiled>) -> Self {
        let branch_targets = compiled
            .iter()
            .map(|c| match c {
                Compiled::Plain => Vec::new(),
                Compiled::IfElse { true_target, false_target, .. } => vec![*true_target, *false_target],
                Compiled::Switch { cases, default, .. } => {
                    let mut t: Vec<usize> = cases.iter().map(|(_, t)| *t).chain(*default).collect();
                    t.sort_unstable();
                    t.dedup();
                    t
                }
            })
            .collect();
        Self(Arc::new(Inner { workflow, graph, topo, compiled, branch_targets }))
    }

    #[must_use]
    pub fn workflow(&self) -> &Workflow {
        &self.0.workflow
    }

    #[must_use]
    pub fn id(&self) -> WorkflowId {
        self.0.workflow.metadata.id
    }

    #[must_use]
    pub fn graph(&self) -> &Graph {
        &self.0.graph
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.0.workflow.nodes.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.workflow.nodes.is_empty()
    }

    #[must_use]
    pub fn node(&self, idx: usize) -> &Node {
        &self.0.workflow.nodes[idx]
    }

    #[must_use]
    pub fn index_of(&self, id: &NodeId) -> Option<usize> {
        self.0.graph.index.get(id).copied()
    }

    #[must_use]
    pub fn compiled(&self, idx: usize) -> &Compiled {
        &self.0.compiled[idx]
    }

    /// The successors a branching node chooses among (empty for other nodes).
    #[must_use]
    pub fn branch_targets(&self, idx: usize) -> &[usize] {
        &self.0.branch_targets[idx]
    }

    /// Node indices in a topological order.
    #[must_use]
    pub fn topological_order(&self) -> &[usize] {
        &self.0.topo
    }
}
