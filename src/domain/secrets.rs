//! Secret names and where node configurations refer to them (`{{ secrets.NAME }}`).
//!
//! A secret's value never enters the domain: runs receive values only for the attempt that
//! needs them, and what the attempt produces is redacted before it is stored.

use serde_json::Value;

/// Longest secret name.
pub const MAX_NAME_LEN: usize = 64;

/// Largest secret value, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Why `name` is not a secret name, or `None` when it is: a letter or `_`, then letters, digits
/// and `_`, at most [`MAX_NAME_LEN`] characters (so that `{{ secrets.NAME }}` can name it).
#[must_use]
pub fn name_problem(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if name.len() > MAX_NAME_LEN {
        Some(format!("a secret name has at most {MAX_NAME_LEN} characters"))
    } else if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Some(format!("'{name}' is not a secret name: use letters, digits and '_', starting with a letter or '_'"))
    } else {
        None
    }
}

/// The secret names `value`'s strings refer to as `secrets.NAME` (in templates), sorted and
/// without repeats.
#[must_use]
pub fn references(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect(value, &mut found);
    found.sort();
    found.dedup();
    found
}

fn collect(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(at) = rest.find("secrets.") {
                let before = rest[..at].chars().next_back();
                let tail = &rest[at + "secrets.".len()..];
                let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
                // `mysecrets.x` is another name; `secrets.` alone names nothing.
                if end > 0 && before.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')) {
                    found.push(tail[..end].to_owned());
                }
                rest = &tail[end..];
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, found)),
        Value::Object(map) => map.values().for_each(|v| collect(v, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_identifiers() {
        for ok in ["TOKEN", "_x", "a1_B2", &"a".repeat(64)] {
            assert_eq!(name_problem(ok), None, "{ok}");
        }
        for bad in ["", "1abc", "a-b", "a.b", "a b", "é", &"a".repeat(65)] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn references_are_found_in_every_string_of_a_config() {
        let config = json!({
            "prompt_template": "Use {{ secrets.API_TOKEN }} and {{secrets.other}}; again {{ secrets.API_TOKEN }}",
            "headers": {"Authorization": "Bearer {{ secrets.BEARER }}"},
            "list": ["{{ mysecrets.NOT }}", "{{ x.secrets.NOT_EITHER }}", "secrets.", "{{ secrets.a1 | upper }}"],
        });
        assert_eq!(references(&config), ["API_TOKEN", "BEARER", "a1", "other"]);
        assert!(references(&json!({"n": 1, "s": "no secrets here"})).is_empty());
    }
}
