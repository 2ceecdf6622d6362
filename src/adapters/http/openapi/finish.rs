//! What the annotations cannot say, added to the generated document: a description for every
//! response (OpenAPI requires one), the error responses every operation can give, request
//! examples the server accepts, an optional execute body, links from a created resource to the
//! operations on it, a named schema per node kind, and exact shapes where the generated schema
//! is looser than what the server accepts.

use serde_json::{Map, Value, json};

/// The example workflow of the README (and of Swagger UI's "Try it out").
const GREETER: &str = include_str!("greeter.json");

/// Every `error` kind the API answers with.
pub const ERROR_KINDS: [&str; 16] = [
    "ValidationError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "RateLimited",
    "NotFound",
    "MethodNotAllowed",
    "ConflictError",
    "InvalidState",
    "PreconditionFailed",
    "IdempotencyKeyReused",
    "RequestTimeout",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "InternalError",
    "ServiceUnavailable",
];

/// The document as served.
#[must_use]
pub fn finish(mut doc: Value) -> Value {
    for item in doc["paths"].as_object_mut().into_iter().flatten().map(|(_, item)| item) {
        for (method, operation) in item.as_object_mut().into_iter().flatten() {
            headers_are_never_null(operation);
            complete_responses(operation, method);
            let id = operation["operationId"].as_str().unwrap_or_default().to_owned();
            request_examples(operation, &id);
            links(operation, &id);
        }
    }
    super::security::secure(&mut doc);
    let schemas = &mut doc["components"]["schemas"];
    super::unions::name_variants(schemas);
    exact_shapes(schemas);
    doc
}

/// An optional header is absent or a string, never JSON `null` (which the derive makes of an
/// `Option`): a client told it may send `null` would send the text `null`. Headers with a
/// grammar get it as a pattern.
fn headers_are_never_null(operation: &mut Value) {
    let parameters = operation.get_mut("parameters").and_then(Value::as_array_mut);
    for parameter in parameters.into_iter().flatten() {
        if parameter["in"] != "header" {
            continue;
        }
        let pattern = match parameter["name"].as_str() {
            Some("If-Match" | "If-None-Match") => Some(crate::adapters::http::preconditions::CONDITION_PATTERN),
            Some("Idempotency-Key") => Some(crate::adapters::http::idempotency::KEY_PATTERN),
            _ => None,
        };
        if let Some(pattern) = pattern {
            parameter["schema"]["pattern"] = json!(pattern);
        }
        if let Some(types) = parameter.pointer_mut("/schema/type").and_then(Value::as_array_mut) {
            types.retain(|t| t != "null");
            if let [only] = types.as_slice() {
                let only = only.clone();
                parameter["schema"]["type"] = only;
            }
        }
    }
}

/// What each error status means, said once for every operation.
fn error_description(status: &str) -> Option<&'static str> {
    Some(match status {
        "400" => {
            "`BadRequest`: malformed JSON, a malformed id in the path, a bad query parameter or a reserved variable name; `ValidationError`: a workflow that breaks a rule, every problem in `details`"
        }
        "404" => "`NotFound`: no such workflow, execution or version",
        "408" => "`RequestTimeout`: the body did not arrive within `OXIFY_BODY_TIMEOUT_SECS`",
        "409" => "`ConflictError`: a workflow with this id exists; `InvalidState`: the execution already finished",
        "412" => "`PreconditionFailed`: `If-Match` names another version than the current one; nothing was changed",
        "413" => "`PayloadTooLarge`: the body is larger than `OXIFY_MAX_BODY_BYTES`",
        "415" => "`UnsupportedMediaType`: a body without `Content-Type: application/json`",
        "422" => "`ValidationError`: the body does not have the expected shape; `details[0].path` says where",
        "500" => "`InternalError`: a bug; the server log has the details",
        "503" => "`ServiceUnavailable`: the storage is unreachable, full or read-only (the message says which)",
        _ => return None,
    })
}

fn success_description(status: &str) -> &'static str {
    match status {
        "201" => "Created",
        "202" => "Accepted",
        "204" => "No content",
        _ => "OK",
    }
}

/// Every response described; the error responses any operation can give added.
fn complete_responses(operation: &mut Value, method: &str) {
    let has_body = operation.get("requestBody").is_some();
    let responses = operation["responses"].as_object_mut().expect("every operation has responses");
    let mut extra = vec!["500", "503"];
    if has_body {
        extra.extend(["408", "413", "415", "422"]);
    }
    if method != "get" || responses.contains_key("400") {
        extra.push("400");
    }
    for status in extra {
        responses.entry(status).or_insert_with(error_response);
    }
    for (status, response) in responses.iter_mut() {
        let described = response.get("description").and_then(Value::as_str).is_some_and(|d| !d.is_empty());
        if !described {
            let text = error_description(status).unwrap_or_else(|| success_description(status));
            response["description"] = json!(text);
        }
    }
}

fn error_response() -> Value {
    json!({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}})
}

/// Examples the server accepts as they are; the execute body may be left out.
fn request_examples(operation: &mut Value, id: &str) {
    let Some(content) = operation.pointer_mut("/requestBody/content/application~1json") else { return };
    match id {
        "create_workflow" | "update_workflow" => {
            content["example"] = serde_json::from_str(GREETER).unwrap_or(Value::Null);
        }
        "execute_workflow" => {
            content["schema"] = json!({"$ref": "#/components/schemas/ExecuteRequest"});
            content["example"] = json!({"variables": {"name": "Ada", "orders": 12}});
            operation["requestBody"]["required"] = json!(false);
            operation["requestBody"]["description"] =
                json!("Optional: without a body the run starts with no variables and no budget.");
        }
        _ => {}
    }
}

/// Links from a created workflow or a started execution to the operations on it, so that
/// stateful testers and generated clients can chain them. (Versions and executions of a
/// workflow stay readable after it is deleted, so they are not linked as parts of it.)
fn links(operation: &mut Value, id: &str) {
    let id_from = |field: &str| json!({"id": format!("$response.body#/{field}")});
    let (status, targets): (&str, Vec<(&str, &str, Value)>) = match id {
        "create_workflow" => (
            "201",
            vec![
                ("GetWorkflow", "get_workflow", id_from("id")),
                ("UpdateWorkflow", "update_workflow", id_from("id")),
                ("DeleteWorkflow", "delete_workflow", id_from("id")),
                ("ExecuteWorkflow", "execute_workflow", id_from("id")),
            ],
        ),
        "execute_workflow" => (
            "202",
            vec![
                ("GetExecution", "get_execution", id_from("execution_id")),
                ("CancelExecution", "cancel_execution", id_from("execution_id")),
                ("StreamExecution", "stream_execution", id_from("execution_id")),
            ],
        ),
        _ => return,
    };
    let all: Map<String, Value> = targets
        .into_iter()
        .map(|(name, target, parameters)| (name.to_owned(), json!({"operationId": target, "parameters": parameters})))
        .collect();
    operation["responses"][status]["links"] = Value::Object(all);
}

/// Where the generated schemas are looser than the server.
fn exact_shapes(schemas: &mut Value) {
    schemas["ErrorBody"]["properties"]["error"] = json!({
        "type": "string", "enum": ERROR_KINDS,
        "description": "What went wrong, as a kind a client can branch on"
    });
    // A node result's kind is one of the node kinds' names.
    let kinds: Vec<Value> = schemas
        .pointer("/NodeKind/discriminator/mapping")
        .and_then(Value::as_object)
        .map_or_else(Vec::new, |m| m.keys().map(|k| json!(k)).collect());
    schemas["NodeResultBody"]["properties"]["kind"] = json!({"type": "string", "enum": kinds});
    // Reserved names are refused (400): say so in the schema.
    schemas["ExecuteRequest"]["properties"]["variables"]["propertyNames"] =
        json!({"type": "string", "not": {"enum": crate::domain::data::RESERVED_NAMES}});
}
