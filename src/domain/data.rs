//! What a running node can see: the execution's input variables and the outputs of finished nodes.
//!
//! Outputs live in write-once slots shared by every node of an execution, so handing the data to a
//! node costs two reference-count increments, whatever the size of the workflow or its payloads.

use crate::domain::graph::NodeIndex;
use crate::domain::ids::NodeId;
use serde_json::{Map, Value};
use std::sync::{Arc, OnceLock};

/// Names with a meaning of their own in templates and expressions; variables may not use them.
pub const RESERVED_NAMES: [&str; 3] = ["nodes", "secrets", "variables"];

/// The outputs of an execution's nodes, each set at most once, by node index.
#[derive(Debug)]
pub struct NodeOutputs {
    index: Arc<NodeIndex>,
    slots: Box<[OnceLock<Arc<Value>>]>,
}

impl NodeOutputs {
    #[must_use]
    pub fn new(index: Arc<NodeIndex>) -> Self {
        let slots = (0..index.len()).map(|_| OnceLock::new()).collect();
        Self { index, slots }
    }

    /// Records the output of node `idx`; a second output for the same node is ignored.
    pub fn set(&self, idx: usize, output: Arc<Value>) {
        // A node's output is final once recorded; keeping the first makes retries harmless.
        let _ = self.slots[idx].set(output);
    }

    /// The output of the node with this id, if it finished successfully.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&Arc<Value>> {
        self.index.get(id).and_then(|&i| self.slots[i].get())
    }

    /// Every finished node's id and output.
    pub fn iter(&self) -> impl Iterator<Item = (&NodeId, &Arc<Value>)> {
        self.index.iter().filter_map(|(id, &i)| self.slots[i].get().map(|v| (id, v)))
    }
}

/// What a template or an expression reads, found without running it: the node outputs it names,
/// whether it reads `nodes` other than through a literal id, and the variables it names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    /// Ids of `nodes.<id>` and `nodes["<id>"]`, in the order first seen.
    pub nodes: Vec<String>,
    /// `nodes` iterated, passed whole, or indexed with something other than a literal.
    pub dynamic_nodes: bool,
    /// Top-level variable names, plain (`user_query`) or through `variables.<name>`.
    pub variables: Vec<String>,
}

impl Reads {
    pub(crate) fn node(&mut self, id: &str) {
        if !self.nodes.iter().any(|n| n == id) {
            self.nodes.push(id.to_owned());
        }
    }

    pub(crate) fn variable(&mut self, name: &str) {
        if !self.variables.iter().any(|n| n == name) {
            self.variables.push(name.to_owned());
        }
    }
}

/// The data a node's templates and expressions are evaluated over.
#[derive(Clone, Debug)]
pub struct DataContext {
    pub variables: Arc<Map<String, Value>>,
    pub outputs: Arc<NodeOutputs>,
    /// The workspace secrets one node attempt refers to (`secrets.NAME`), revealed for that
    /// attempt only; empty everywhere else.
    pub secrets: Arc<Map<String, Value>>,
}

impl DataContext {
    /// Resolves a dotted path such as `user_query`, `variables.user_query` or
    /// `nodes.fetch_docs.output.text`; `None` when any segment is missing.
    #[must_use]
    pub fn lookup(&self, path: &str) -> Option<Value> {
        let mut segments = path.split('.');
        let first = segments.next()?;
        let mut current: Value = match first {
            "nodes" => {
                let id = segments.next()?;
                let output = self.outputs.get(id)?;
                match segments.next() {
                    None => return Some(serde_json::json!({ "output": output.as_ref() })),
                    Some("output") => output.as_ref().clone(),
                    Some(_) => return None,
                }
            }
            "variables" => Value::Object(self.variables.as_ref().clone()),
            "secrets" => Value::Object(self.secrets.as_ref().clone()),
            name => self.variables.get(name)?.clone(),
        };
        for segment in segments {
            current = match current {
                Value::Object(mut map) => map.remove(segment)?,
                Value::Array(mut items) => {
                    let i: usize = segment.parse().ok()?;
                    if i < items.len() {
                        items.swap_remove(i)
                    } else {
                        return None;
                    }
                }
                _ => return None,
            };
        }
        Some(current)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn context(variables: Value, outputs: &[(&str, Value)]) -> DataContext {
        let index: NodeIndex = outputs.iter().enumerate().map(|(i, (id, _))| (NodeId::from(*id), i)).collect();
        let slots = NodeOutputs::new(Arc::new(index));
        for (i, (_, v)) in outputs.iter().enumerate() {
            if !v.is_null() {
                slots.set(i, Arc::new(v.clone()));
            }
        }
        DataContext {
            variables: Arc::new(variables.as_object().unwrap().clone()),
            outputs: Arc::new(slots),
            secrets: Arc::default(),
        }
    }

    #[test]
    fn lookup_reaches_variables_and_node_outputs() {
        let ctx = context(json!({"q": "hi", "n": [1, 2]}), &[("fetch", json!({"text": "doc"}))]);
        assert_eq!(ctx.lookup("q"), Some(json!("hi")));
        assert_eq!(ctx.lookup("variables.n.1"), Some(json!(2)));
        assert_eq!(ctx.lookup("nodes.fetch.output.text"), Some(json!("doc")));
        assert_eq!(ctx.lookup("nodes.fetch.output.missing"), None);
        assert_eq!(ctx.lookup("nodes.other.output"), None);
        assert_eq!(ctx.lookup("missing"), None);
    }

    #[test]
    fn an_output_is_recorded_once() {
        let ctx = context(json!({}), &[("a", Value::Null)]);
        ctx.outputs.set(0, Arc::new(json!(1)));
        ctx.outputs.set(0, Arc::new(json!(2)));
        assert_eq!(ctx.outputs.get("a").map(|v| v.as_ref().clone()), Some(json!(1)));
    }
}
