//! The node kinds without their configs: a key for whatever is chosen per kind (the runner that
//! serves it, its default retry policy), so that naming a kind is checked by the compiler and a
//! typo (`"Llm"` for `"LLM"`) cannot register a runner no node ever reaches.

use super::NodeKind;
use std::fmt;

/// A node kind, config left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeKindTag {
    Start,
    End,
    Llm,
    Retriever,
    Code,
    IfElse,
    Tool,
    Loop,
    TryCatch,
    SubWorkflow,
    Switch,
    Parallel,
    Approval,
    Form,
    Vision,
}

impl NodeKindTag {
    pub const ALL: [Self; 15] = [
        Self::Start,
        Self::End,
        Self::Llm,
        Self::Retriever,
        Self::Code,
        Self::IfElse,
        Self::Tool,
        Self::Loop,
        Self::TryCatch,
        Self::SubWorkflow,
        Self::Switch,
        Self::Parallel,
        Self::Approval,
        Self::Form,
        Self::Vision,
    ];

    /// The wire name of the kind (`"LLM"`, `"IfElse"`, ...), as in `{"type": "LLM"}`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Start => "Start",
            Self::End => "End",
            Self::Llm => "LLM",
            Self::Retriever => "Retriever",
            Self::Code => "Code",
            Self::IfElse => "IfElse",
            Self::Tool => "Tool",
            Self::Loop => "Loop",
            Self::TryCatch => "TryCatch",
            Self::SubWorkflow => "SubWorkflow",
            Self::Switch => "Switch",
            Self::Parallel => "Parallel",
            Self::Approval => "Approval",
            Self::Form => "Form",
            Self::Vision => "Vision",
        }
    }
}

impl fmt::Display for NodeKindTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl NodeKind {
    /// The kind without its config.
    #[must_use]
    pub fn tag(&self) -> NodeKindTag {
        match self {
            Self::Start => NodeKindTag::Start,
            Self::End => NodeKindTag::End,
            Self::Llm(_) => NodeKindTag::Llm,
            Self::Retriever(_) => NodeKindTag::Retriever,
            Self::Code(_) => NodeKindTag::Code,
            Self::IfElse(_) => NodeKindTag::IfElse,
            Self::Tool(_) => NodeKindTag::Tool,
            Self::Loop(_) => NodeKindTag::Loop,
            Self::TryCatch(_) => NodeKindTag::TryCatch,
            Self::SubWorkflow(_) => NodeKindTag::SubWorkflow,
            Self::Switch(_) => NodeKindTag::Switch,
            Self::Parallel(_) => NodeKindTag::Parallel,
            Self::Approval(_) => NodeKindTag::Approval,
            Self::Form(_) => NodeKindTag::Form,
            Self::Vision(_) => NodeKindTag::Vision,
        }
    }

    /// The wire name of the kind (`"LLM"`, `"IfElse"`, ...).
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.tag().name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn every_kind_of_the_seed_catalog_has_the_tag_its_wire_name_says() {
        let catalog: Vec<Value> =
            serde_json::from_str(include_str!("../../../tests/fixtures/node-kinds-catalog.json")).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for node in catalog {
            let kind: NodeKind = serde_json::from_value(node["kind"].clone()).unwrap();
            assert_eq!(kind.tag().name(), node["kind"]["type"], "{kind:?}");
            seen.insert(kind.tag());
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), NodeKindTag::ALL, "every tag, in declaration order");
    }
}
