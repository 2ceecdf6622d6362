//! A workflow's declared inputs: a JSON Schema object at `workflow.input_schema` naming the
//! variables an execution takes (types, `required`, `default`s, `description`s, `enum`s).
//! `execute` fills the defaults and checks the variables against it; templates and expressions
//! are checked against it when the workflow is saved. A workflow without one takes any variables.

use crate::domain::expr::types::{Declared, Type};
use crate::domain::validation::Problem;
use serde_json::{Map, Value};
use std::sync::Arc;

/// A compiled input schema (JSON Schema 2020-12 unless `$schema` names another draft; formats
/// such as `email` and `date-time` are checked; no `$ref` is ever fetched).
#[derive(Clone)]
pub struct InputSchema {
    schema: Arc<Value>,
    validator: Arc<jsonschema::Validator>,
}

impl std::fmt::Debug for InputSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputSchema").field("schema", &self.schema).finish_non_exhaustive()
    }
}

/// A problem with the schema itself: where in it (a JSON path below `input_schema`), and what.
pub type SchemaProblem = (String, String);

impl InputSchema {
    /// Compiles a schema, reporting every problem: not an object schema, a reserved or invalid
    /// property, a schema the validator refuses, a `default` its own property refuses.
    ///
    /// # Errors
    /// Every problem found, each with its path below `input_schema`.
    pub fn compile(schema: &Value) -> Result<Self, Vec<SchemaProblem>> {
        let mut problems = Vec::new();
        let Some(object) = schema.as_object() else {
            return Err(vec![(String::new(), "input_schema must be a JSON Schema object".into())]);
        };
        if object.get("type").is_some_and(|t| t != "object") {
            problems.push((".type".into(), "input_schema must describe an object: \"type\": \"object\"".into()));
        }
        let properties = object.get("properties").and_then(Value::as_object);
        for (name, property) in properties.into_iter().flatten() {
            if crate::domain::data::RESERVED_NAMES.contains(&name.as_str()) {
                problems.push((
                    format!(".properties.{name}"),
                    format!("'{name}' is reserved (templates use it for {name}.<...>); rename the input"),
                ));
            }
            if let Some(default) = property.get("default") {
                match jsonschema::options().should_validate_formats(true).build(property) {
                    Ok(v) => {
                        if let Some(e) = v.iter_errors(default).next() {
                            problems
                                .push((format!(".properties.{name}.default"), format!("default does not fit: {e}")));
                        }
                    }
                    Err(e) => problems.push((format!(".properties.{name}"), e.to_string())),
                }
            }
        }
        let validator = match jsonschema::options().should_validate_formats(true).build(schema) {
            Ok(v) => Some(v),
            Err(e) => {
                let at = e.schema_path().as_str().replace('/', ".");
                problems.push((at, format!("not a valid JSON Schema: {e}")));
                None
            }
        };
        match validator {
            Some(validator) if problems.is_empty() => {
                Ok(Self { schema: Arc::new(schema.clone()), validator: Arc::new(validator) })
            }
            _ => Err(problems),
        }
    }

    #[must_use]
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// The variable types templates and expressions are checked against.
    #[must_use]
    pub fn declared(&self) -> Declared {
        match Type::of_schema(&self.schema) {
            Type::Map(variables) => Declared { variables, strict: true },
            _ => Declared { variables: Default::default(), strict: true },
        }
    }

    /// Fills in the `default` of every declared property that is missing (also inside objects
    /// that are present), then checks the variables.
    ///
    /// # Errors
    /// Every problem, each with its path (`variables.items[2].name`).
    pub fn apply(&self, variables: &mut Map<String, Value>) -> Result<(), Vec<Problem>> {
        fill_defaults(&self.schema, variables);
        let instance = Value::Object(std::mem::take(variables));
        let problems: Vec<Problem> = self
            .validator
            .iter_errors(&instance)
            .map(|e| {
                let path = path_of(e.instance_path().as_str());
                let text: String = e.masked().to_string().chars().take(500).collect();
                Problem { node_id: None, problem: format!("{path}: {text}"), path }
            })
            .collect();
        if let Value::Object(map) = instance {
            *variables = map;
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }
}

fn fill_defaults(schema: &Value, object: &mut Map<String, Value>) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return };
    for (name, property) in properties {
        match object.get_mut(name) {
            None => {
                if let Some(default) = property.get("default") {
                    object.insert(name.clone(), default.clone());
                }
            }
            Some(Value::Object(inner)) => fill_defaults(property, inner),
            Some(_) => {}
        }
    }
}

/// `/items/2/name` as `variables.items[2].name`.
fn path_of(pointer: &str) -> String {
    let mut path = String::from("variables");
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.parse::<usize>().is_ok() {
            path.push_str(&format!("[{segment}]"));
        } else {
            path.push('.');
            path.push_str(&segment);
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> InputSchema {
        InputSchema::compile(&json!({
            "type": "object",
            "required": ["id", "email"],
            "properties": {
                "id": {"type": "string", "description": "Customer id"},
                "email": {"type": "string", "format": "email"},
                "tier": {"enum": ["gold", "silver"], "default": "silver"},
                "limits": {"type": "object", "properties": {"max": {"type": "integer", "default": 10}}},
                "items": {"type": "array", "items": {"type": "object", "required": ["name"]}}
            }
        }))
        .unwrap()
    }

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn defaults_are_filled_and_valid_variables_pass() {
        let mut v = vars(json!({"id": "c1", "email": "a@b.example", "limits": {}}));
        schema().apply(&mut v).unwrap();
        assert_eq!(v["tier"], "silver");
        assert_eq!(v["limits"]["max"], 10);
    }

    #[test]
    fn every_problem_is_listed_with_its_path() {
        let mut v = vars(json!({"id": 123, "email": "not an email", "tier": "bronze", "items": [{"name": "x"}, {}]}));
        let problems = schema().apply(&mut v).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        for expected in ["variables.id", "variables.email", "variables.tier", "variables.items[1]"] {
            assert!(paths.contains(&expected), "{expected} in {paths:?}");
        }
        let mut v = vars(json!({}));
        let missing = schema().apply(&mut v).unwrap_err();
        assert!(missing.iter().any(|p| p.problem.contains("id")), "{missing:?}");
    }

    #[test]
    fn schema_mistakes_are_reported_with_their_place() {
        let bad = InputSchema::compile(&json!({"type": "array"})).unwrap_err();
        assert_eq!(bad[0].0, ".type");
        let bad = InputSchema::compile(&json!({"type": "object", "properties": {"nodes": {}}})).unwrap_err();
        assert!(bad[0].1.contains("reserved"));
        let bad =
            InputSchema::compile(&json!({"properties": {"n": {"type": "integer", "default": "ten"}}})).unwrap_err();
        assert_eq!(bad[0].0, ".properties.n.default");
        assert!(InputSchema::compile(&json!({"properties": {"n": {"type": "nonsense"}}})).is_err());
        assert!(InputSchema::compile(&json!("object")).is_err());
    }

    #[test]
    fn remote_references_are_never_fetched() {
        let remote = json!({"type": "object", "properties": {"x": {"$ref": "http://127.0.0.1:9/schema.json"}}});
        assert!(InputSchema::compile(&remote).is_err());
    }

    #[test]
    fn declared_types_come_from_the_properties() {
        let d = schema().declared();
        assert!(d.strict);
        assert_eq!(d.variables["id"], Type::String);
        assert_eq!(d.variables["tier"], Type::String);
    }
}
