//! Postgres refuses the NUL character in `text` and `jsonb`, which SQLite and JSON allow. Rather
//! than fail a step (and every retry of it) on data a model or a user produced, NULs become
//! U+FFFD (the replacement character) before they reach Postgres.

use crate::domain::execution::{Execution, ExecutionUpdate};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;

const REPLACEMENT: &str = "\u{FFFD}";

fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

fn clean_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace('\0', REPLACEMENT)),
        Value::Array(items) => Value::Array(items.iter().map(clean_value).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.replace('\0', REPLACEMENT), clean_value(v))).collect())
        }
        other => other.clone(),
    }
}

fn clean_str(s: &str) -> String {
    s.replace('\0', REPLACEMENT)
}

/// A workflow's JSON text without NULs (a NUL appears in JSON text only as the escape `\u0000`).
pub(super) fn json_text(text: String) -> String {
    if !text.contains("\\u0000") {
        return text;
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(v) if has_nul(&v) => clean_value(&v).to_string(),
        _ => text,
    }
}

pub(super) fn execution(e: &Execution) -> Cow<'_, Execution> {
    let dirty = e.variables.iter().any(|(k, v)| k.contains('\0') || has_nul(v))
        || e.error.as_deref().is_some_and(|s| s.contains('\0'));
    if !dirty {
        return Cow::Borrowed(e);
    }
    let mut clean = e.clone();
    clean.variables = Arc::new(e.variables.iter().map(|(k, v)| (clean_str(k), clean_value(v))).collect());
    clean.error = e.error.as_deref().map(clean_str);
    Cow::Owned(clean)
}

pub(super) fn update(u: &ExecutionUpdate) -> Cow<'_, ExecutionUpdate> {
    let text_dirty = |s: &Option<String>| s.as_deref().is_some_and(|s| s.contains('\0'));
    let dirty = u.state.as_ref().is_some_and(|c| text_dirty(&c.error))
        || u.node_results
            .iter()
            .any(|r| text_dirty(&r.error) || r.node_name.contains('\0') || r.output.as_deref().is_some_and(has_nul))
        || u.events.iter().any(|e| e.data.contains('\0'));
    if !dirty {
        return Cow::Borrowed(u);
    }
    let mut clean = u.clone();
    if let Some(change) = &mut clean.state {
        change.error = change.error.as_deref().map(clean_str);
    }
    for r in &mut clean.node_results {
        r.error = r.error.as_deref().map(clean_str);
        r.node_name = clean_str(&r.node_name);
        r.output = r.output.as_deref().map(|o| Arc::new(clean_value(o)));
    }
    for e in &mut clean.events {
        e.data = clean_str(&e.data).into();
    }
    Cow::Owned(clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nuls_are_replaced_everywhere_and_clean_data_is_untouched() {
        let dirty = json!({"a\u{0}": ["x\u{0}y", {"k": "\u{0}"}], "n": 1});
        assert_eq!(clean_value(&dirty), json!({"a\u{FFFD}": ["x\u{FFFD}y", {"k": "\u{FFFD}"}], "n": 1}));
        assert_eq!(json_text(dirty.to_string()), clean_value(&dirty).to_string());
        let literal = json!({"text": "a backslash-u: \\u0000"}).to_string();
        assert_eq!(json_text(literal.clone()), literal, "an escaped backslash is not a NUL");
    }
}
