//! How oxify's collections and chunks are named in Chroma: one Chroma collection per workspace
//! and collection name, metadata keys kept apart from ours.

use crate::domain::access::Scope;
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// The chunk's document id, in a chunk's Chroma metadata.
pub const DOCUMENT: &str = "oxify:document";
/// The chunk's index in its document.
pub const CHUNK: &str = "oxify:chunk";
/// Each metadata key is kept as `j:<key>` holding the value's JSON text, so any JSON value (an
/// object, a list, null) survives and filters compare exactly, by that text.
const KEY_PREFIX: &str = "j:";

/// `oxify-<workspace id in hex>-<name in hex>`: only letters and digits from the caller's name,
/// within Chroma's rules (3 to 512 characters of `[a-zA-Z0-9._-]`, starting and ending with a
/// letter or digit), and no two workspaces or names alike.
pub fn collection_name(scope: Scope, name: &str) -> String {
    let mut out = format!("oxify-{}-", scope.workspace().0.simple());
    for b in name.as_bytes() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A chunk's metadata as Chroma keeps it, with its document id and index.
pub fn to_chroma(metadata: &Map<String, Value>, document: &str, chunk: u32) -> Map<String, Value> {
    let mut out: Map<String, Value> =
        metadata.iter().map(|(k, v)| (format!("{KEY_PREFIX}{k}"), Value::String(v.to_string()))).collect();
    out.insert(DOCUMENT.into(), Value::String(document.into()));
    out.insert(CHUNK.into(), Value::from(chunk));
    out
}

/// The metadata a chunk was stored with, its document id and index; `None` when Chroma's
/// entry was not written by this server.
pub fn from_chroma(stored: &Map<String, Value>) -> Option<(Map<String, Value>, String, u32)> {
    let document = stored.get(DOCUMENT)?.as_str()?.to_owned();
    let chunk = u32::try_from(stored.get(CHUNK)?.as_u64()?).ok()?;
    let mut metadata = Map::new();
    for (k, v) in stored {
        if let (Some(key), Some(text)) = (k.strip_prefix(KEY_PREFIX), v.as_str()) {
            metadata.insert(key.to_owned(), serde_json::from_str(text).ok()?);
        }
    }
    Some((metadata, document, chunk))
}

/// A `where` clause: every filter key equal to its value (`None` without a filter).
pub fn filter(filter: &Map<String, Value>) -> Option<Value> {
    let terms: Vec<Value> = filter
        .iter()
        .map(|(k, v)| {
            let mut term = Map::new();
            term.insert(format!("{KEY_PREFIX}{k}"), serde_json::json!({"$eq": v.to_string()}));
            Value::Object(term)
        })
        .collect();
    (!terms.is_empty()).then(|| serde_json::json!({"$and": terms}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::WorkspaceId;
    use serde_json::json;

    #[test]
    fn names_are_hex_and_differ_per_workspace() {
        let (a, b) = (Scope::new(WorkspaceId::generate()), Scope::new(WorkspaceId::generate()));
        let n = collection_name(a, "docs.v1");
        assert!(n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && n.ends_with("646f63732e7631"), "{n}");
        assert_ne!(n, collection_name(b, "docs.v1"));
        assert_ne!(collection_name(a, "a-b"), collection_name(a, "a_b"));
    }

    #[test]
    fn metadata_of_any_shape_comes_back_as_it_went() {
        let meta = json!({"lang": "en", "n": 2, "nested": {"a": [1, 2.5]}, "none": null, "oxify:document": "x"});
        let meta = meta.as_object().unwrap().clone();
        let stored = to_chroma(&meta, "doc", 3);
        assert!(stored.values().all(|v| v.is_string() || v.is_number()), "Chroma keeps scalars only");
        assert_eq!(from_chroma(&stored), Some((meta, "doc".into(), 3)));
    }

    #[test]
    fn filters_compare_json_text() {
        let f = json!({"lang": "en"}).as_object().unwrap().clone();
        assert_eq!(filter(&f), Some(json!({"$and": [{"j:lang": {"$eq": "\"en\""}}]})));
        assert_eq!(filter(&Map::new()), None);
    }
}
