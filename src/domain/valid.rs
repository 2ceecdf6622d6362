//! A workflow that passed validation, with its graph and compiled conditions. It can only be built
//! by [`crate::domain::validation::validate`], so holding one proves the workflow is runnable.

use crate::domain::expr::Expr;
use crate::domain::graph::Graph;
use crate::domain::ids::{NodeId, WorkflowId};
use crate::domain::inputs::InputSchema;
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

/// How a `Switch` case matches the switched-on value.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// The value's text is this text; or, when this text is a JSON number, the value is (or
    /// spells) the same number: `"3"` matches `3`, `3.0` and `"3.0"`, never `"03"`.
    Exact { text: String, number: Option<f64> },
    /// The value's text matches the regular expression.
    Regex(regex::Regex),
}

impl Matcher {
    /// A case's `match_value` without the `regex:` prefix.
    #[must_use]
    pub fn exact(text: &str) -> Self {
        Self::Exact { text: text.to_owned(), number: json_number(text) }
    }

    /// Whether the switched-on `value`, whose text is `text`, matches.
    #[must_use]
    pub fn matches(&self, value: &serde_json::Value, text: &str) -> bool {
        match self {
            Self::Exact { text: expected, number } => {
                expected == text
                    || number.is_some_and(|n| {
                        let actual = match value {
                            serde_json::Value::Number(v) => v.as_f64(),
                            serde_json::Value::String(s) => json_number(s),
                            _ => None,
                        };
                        actual == Some(n)
                    })
            }
            Self::Regex(r) => r.is_match(text),
        }
    }
}

/// The number a text spells in JSON's grammar (so `03`, `0x1F` and ` 3` spell none).
fn json_number(text: &str) -> Option<f64> {
    serde_json::from_str::<serde_json::Number>(text).ok().and_then(|n| n.as_f64())
}

#[derive(Debug)]
struct Inner {
    workflow: Workflow,
    graph: Graph,
    topo: Vec<usize>,
    compiled: Vec<Compiled>,
    branch_targets: Vec<Vec<usize>>,
    inputs: Option<InputSchema>,
    /// Node names, shared by every record of every run of this version.
    names: Vec<Arc<str>>,
    /// The workspace secrets each node's configuration refers to (`secrets.NAME`).
    secret_refs: Vec<Arc<[String]>>,
}

/// A validated workflow; cheap to clone.
#[derive(Clone, Debug)]
pub struct ValidWorkflow(Arc<Inner>);

impl ValidWorkflow {
    pub(crate) fn new(
        workflow: Workflow,
        graph: Graph,
        topo: Vec<usize>,
        compiled: Vec<Compiled>,
        inputs: Option<InputSchema>,
    ) -> Self {
        let branch_targets = compiled
            .iter()
            .zip(&workflow.nodes)
            .map(|(c, node)| {
                let mut t = match c {
                    Compiled::Plain => Vec::new(),
                    Compiled::IfElse { true_target, false_target, .. } => vec![*true_target, *false_target],
                    Compiled::Switch { cases, default, .. } => cases.iter().map(|(_, t)| *t).chain(*default).collect(),
                };
                // An error route is a branch too: taken only when the node fails.
                t.extend(node.on_error.as_ref().and_then(|r| graph.index.get(&r.route_to).copied()));
                t.sort_unstable();
                t.dedup();
                t
            })
            .collect();
        let names = workflow.nodes.iter().map(|n| Arc::from(n.name.as_str())).collect();
        let secret_refs = workflow
            .nodes
            .iter()
            .map(|n| serde_json::to_value(&n.kind).map(|v| crate::domain::secrets::references(&v)).unwrap_or_default())
            .map(Arc::from)
            .collect();
        Self(Arc::new(Inner { workflow, graph, topo, compiled, branch_targets, inputs, names, secret_refs }))
    }

    /// The workspace secrets node `idx` refers to, sorted.
    #[must_use]
    pub fn secrets_of(&self, idx: usize) -> &Arc<[String]> {
        &self.0.secret_refs[idx]
    }

    /// Node `idx`'s name, shared rather than copied.
    #[must_use]
    pub fn name_of(&self, idx: usize) -> &Arc<str> {
        &self.0.names[idx]
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

    /// The successors a branching node chooses among, and the target of a node's error route
    /// (empty for other nodes).
    #[must_use]
    pub fn branch_targets(&self, idx: usize) -> &[usize] {
        &self.0.branch_targets[idx]
    }

    /// The declared inputs, if the workflow declares them.
    #[must_use]
    pub fn inputs(&self) -> Option<&InputSchema> {
        self.0.inputs.as_ref()
    }

    /// The node a failure of node `idx` is routed to, if it has an error route.
    #[must_use]
    pub fn error_route(&self, idx: usize) -> Option<usize> {
        self.node(idx).on_error.as_ref().and_then(|r| self.index_of(&r.route_to))
    }

    /// Node indices in a topological order.
    #[must_use]
    pub fn topological_order(&self) -> &[usize] {
        &self.0.topo
    }
}
