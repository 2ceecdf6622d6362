//! How to authenticate, in the document: two bearer schemes (the server's and an OpenID Connect
//! issuer's JWTs; API keys), required by every operation but the public ones (health, login,
//! register, where credentials are optional), and the answers every operation can give for
//! missing or refused credentials (401, 403) and for too many requests (429). Swagger UI's
//! "Authorize" button offers both schemes.

use serde_json::{Value, json};

/// Operations anyone may call without credentials.
const PUBLIC: [&str; 2] = ["health", "login"];
/// Operations that take credentials when sent but need none.
const OPTIONAL: [&str; 1] = ["register"];

/// Adds the security schemes, each operation's requirement and the access error responses.
pub fn secure(doc: &mut Value) {
    doc["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "A token from POST /api/v1/auth/login or /api/v1/auth/register, or (with single sign-on configured) a token of the OpenID Connect issuer. A user acts in their first workspace, or in the one named by the X-Oxify-Workspace header."
        },
        "api_key": {
            "type": "http", "scheme": "bearer", "bearerFormat": "oxk_<prefix>_<secret>",
            "description": "An API key from POST /api/v1/api-keys (or the admin key of the first start); it acts in its own workspace with its role."
        }
    });
    doc["security"] = json!([{"bearer": []}, {"api_key": []}]);
    for item in doc["paths"].as_object_mut().into_iter().flatten().map(|(_, item)| item) {
        for (_, operation) in item.as_object_mut().into_iter().flatten() {
            let id = operation["operationId"].as_str().unwrap_or_default().to_owned();
            if PUBLIC.contains(&id.as_str()) {
                operation["security"] = json!([]);
            } else if OPTIONAL.contains(&id.as_str()) {
                operation["security"] = json!([{}, {"bearer": []}, {"api_key": []}]);
                add(&mut operation["responses"], "401", unauthorized());
            } else {
                if let Some(object) = operation.as_object_mut() {
                    // The document's requirement applies.
                    object.remove("security");
                }
                let responses = &mut operation["responses"];
                add(responses, "401", unauthorized());
                add(
                    responses,
                    "403",
                    error(
                        "`Forbidden`: the caller's role in the workspace is too low, or a cross-site request tried to change something",
                    ),
                );
            }
            add(&mut operation["responses"], "429", rate_limited());
        }
    }
}

fn add(responses: &mut Value, status: &str, response: Value) {
    if let Some(map) = responses.as_object_mut() {
        map.entry(status).or_insert(response);
    }
}

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

fn unauthorized() -> Value {
    let mut response =
        error("`Unauthorized`: no credentials, or credentials that are malformed, expired, revoked or unknown");
    response["headers"] = json!({"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}});
    response
}

fn rate_limited() -> Value {
    let mut response = error(
        "`RateLimited`: too many requests from this principal or address (`OXIFY_RATE_LIMIT_PER_MIN`, `OXIFY_AUTH_RATE_LIMIT_PER_MIN`)",
    );
    response["headers"] =
        json!({"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 1}}});
    response
}
