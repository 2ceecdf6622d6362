//! A named schema for each variant of the API's unions (`LLMKind`, `IfElseKind`, `ForEachLoop`,
//! `UseDefaultAction`, ...) with a discriminator where there is a tag, instead of the anonymous
//! variants the derive gives (which generators name `NodeKindType0` to `NodeKindType14`).

use serde_json::{Map, Value, json};

/// Names every union's variants.
pub fn name_variants(schemas: &mut Value) {
    tagged(schemas, "NodeKind", "type", "Kind", "What a node does: `{\"type\": \"<Kind>\", \"config\": {...}}`.");
    tagged(schemas, "LoopType", "variant", "Loop", "How a `Loop` node iterates, by `variant`.");
    timeout_action(schemas);
}

/// Replaces the inline variants of `union`, each told apart by the single value of its `tag`
/// property, with references to schemas named `<value><suffix>`.
fn tagged(schemas: &mut Value, union: &str, tag: &str, suffix: &str, description: &str) {
    let Some(variants) = schemas[union]["oneOf"].as_array().cloned() else { return };
    let mut refs = Vec::new();
    let mut mapping = Map::new();
    for mut variant in variants {
        let pointer = format!("/properties/{tag}/enum/0");
        let Some(value) = variant.pointer(&pointer).and_then(Value::as_str).map(str::to_owned) else { continue };
        let name = format!("{value}{suffix}");
        let reference = format!("#/components/schemas/{name}");
        if union == "NodeKind" && variant.pointer("/properties/config").is_none() {
            // Start and End take no config; `null` is accepted for the seed's sake.
            variant["properties"]["config"] = json!({"type": "null", "description": "Start and End take no config"});
        }
        variant["title"] = json!(name);
        schemas[&name] = variant;
        refs.push(json!({"$ref": reference}));
        mapping.insert(value, json!(reference));
    }
    schemas[union] = json!({
        "description": description,
        "oneOf": refs,
        "discriminator": {"propertyName": tag, "mapping": mapping},
    });
}

/// `"Fail"`, `"Skip"` or `{"UseDefault": "text"}`: one enum of names and one named object.
fn timeout_action(schemas: &mut Value) {
    if schemas.get("TimeoutAction").is_none() {
        return;
    }
    schemas["TimeoutActionName"] = json!({
        "type": "string", "enum": ["Fail", "Skip"],
        "description": "`Fail`: the node fails (and with it the execution); `Skip`: the node is skipped, and so are the nodes only it leads to."
    });
    schemas["UseDefaultAction"] = json!({
        "type": "object", "required": ["UseDefault"], "title": "UseDefaultAction", "additionalProperties": false,
        "properties": {"UseDefault": {"type": "string", "description": "The node succeeds with this text as its output."}},
        "description": "The node succeeds with a fixed text."
    });
    schemas["TimeoutAction"] = json!({
        "description": "What a timed-out node does once its retries are spent.",
        "oneOf": [{"$ref": "#/components/schemas/TimeoutActionName"}, {"$ref": "#/components/schemas/UseDefaultAction"}]
    });
}
