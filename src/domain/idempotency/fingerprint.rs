//! The fingerprint of a request: what a retry must repeat for its key to answer it. Two requests
//! that mean the same run have the same fingerprint however the client spelled them: an omitted
//! body and `{}`, `3` and `3.0`, keys in any order.

use crate::domain::budget::BudgetLimits;
use crate::domain::ids::WorkflowId;
use crate::domain::number;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// SHA-256 of a request's canonical form, as 64 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of "execute `workflow_id` with these variables and limits", as the request
    /// was parsed (serde defaults filled in), before the workflow's input defaults: a retry is
    /// recognised by what the client sent, whatever the workflow became meanwhile.
    #[must_use]
    pub fn of_execute(workflow_id: WorkflowId, variables: &Map<String, Value>, budget: &BudgetLimits) -> Self {
        let request = json!({
            "workflow_id": workflow_id,
            "variables": Value::Object(variables.clone()),
            "max_tokens": budget.max_tokens,
            "max_cost_usd": budget.max_cost_usd,
        });
        // The operation's name first, so that fingerprints of other endpoints never coincide.
        let mut text = String::from("execute/v1\n");
        write_canonical(&request, &mut text);
        let mut hex = String::with_capacity(64);
        for byte in Sha256::digest(text.as_bytes()) {
            let _ = write!(hex, "{byte:02x}");
        }
        Self(hex)
    }

    /// A fingerprint as a store keeps it.
    #[must_use]
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Compact JSON with object keys sorted and every number in its one spelling
/// ([`number::format_number`]), so that equal values have equal text.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Number(n) => out.push_str(&number::format_number(n)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        // null, booleans and strings (quoted and escaped by serde_json).
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(workflow_id: WorkflowId, variables: &str, budget: BudgetLimits) -> Fingerprint {
        let vars: Map<String, Value> = serde_json::from_str(variables).unwrap();
        Fingerprint::of_execute(workflow_id, &vars, &budget)
    }

    #[test]
    fn a_number_spelled_differently_and_keys_in_another_order_fingerprint_the_same() {
        let wf = WorkflowId::generate();
        let none = BudgetLimits::default();
        let a = of(wf, r#"{"n": 3, "x": {"b": [1.0, 2.50], "a": "3.0"}}"#, none);
        let b = of(wf, r#"{"x": {"a": "3.0", "b": [1, 2.5e0]}, "n": 3.0}"#, none);
        assert_eq!(a, b);
        assert_eq!(a.as_str().len(), 64);
        assert_ne!(a, of(wf, r#"{"n": 3, "x": {"b": [1, 2.5], "a": 3}}"#, none), "a string is not a number");
    }

    #[test]
    fn the_workflow_the_variables_and_the_limits_all_count() {
        let wf = WorkflowId::generate();
        let none = BudgetLimits::default();
        let base = of(wf, r#"{"q": "hi"}"#, none);
        assert_ne!(base, of(WorkflowId::generate(), r#"{"q": "hi"}"#, none));
        assert_ne!(base, of(wf, r#"{"q": "hi "}"#, none));
        assert_ne!(base, of(wf, r#"{"q": "hi", "extra": null}"#, none), "an explicit null is a variable");
        let capped = BudgetLimits { max_tokens: Some(10), max_cost_usd: None };
        assert_ne!(base, of(wf, r#"{"q": "hi"}"#, capped));
        let priced = BudgetLimits { max_tokens: None, max_cost_usd: Some(0.5) };
        assert_eq!(of(wf, "{}", priced), of(wf, "{}", BudgetLimits { max_cost_usd: Some(0.50), ..priced }));
    }

    #[test]
    fn canonical_text_sorts_keys_and_spells_numbers_once() {
        let mut out = String::new();
        write_canonical(
            &serde_json::from_str(r#"{"b": [3.0, 1e21, "é\n"], "a": {"d": null, "c": true}}"#).unwrap(),
            &mut out,
        );
        assert_eq!(out, r#"{"a":{"c":true,"d":null},"b":[3,1e+21,"é\n"]}"#);
    }
}
