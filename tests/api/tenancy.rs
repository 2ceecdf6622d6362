//! Workspaces and roles at the HTTP edge: every route of the OpenAPI document, called by
//! principals of two workspaces with each role and by nobody, answers as the rules say. Nothing
//! of workspace A is reachable from workspace B, by id, list, stream or version.

use super::support::{chain, router_authenticating, send_request, services};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use oxify_api::adapters::http::HttpSettings;
use oxify_api::domain::access::{Principal, Role, Subject};
use oxify_api::domain::identity::{ApiKeyRecord, ApiKeySecret, Workspace};
use oxify_api::domain::ids::{ApiKeyId, WorkspaceId};
use oxify_api::ports::{AuthError, Authenticator, Credentials};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Tokens standing for principals, as API keys would.
struct Tokens(HashMap<&'static str, Principal>);

#[async_trait::async_trait]
impl Authenticator for Tokens {
    async fn authenticate<'a>(&self, credentials: Credentials<'a>) -> Result<Principal, AuthError> {
        let token = credentials.bearer.ok_or(AuthError::Missing)?;
        self.0.get(token).copied().ok_or_else(|| AuthError::Invalid("unknown token".into()))
    }
}

fn tokens(a: WorkspaceId, b: WorkspaceId) -> Tokens {
    let as_role = |workspace, role| Principal { subject: Subject::ApiKey(ApiKeyId::generate()), workspace, role };
    Tokens(HashMap::from([
        ("a-read", as_role(a, Role::Read)),
        ("a-write", as_role(a, Role::Write)),
        ("a-admin", as_role(a, Role::Admin)),
        ("b-admin", as_role(b, Role::Admin)),
    ]))
}

async fn call(
    app: &Router,
    token: Option<&str>,
    method: &Method,
    uri: &str,
    body: Option<&Value>,
) -> (StatusCode, String) {
    let mut request = Request::builder().method(method.clone()).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        // A file upload: one `file` part holding this text.
        Some(b) if b.get("upload").is_some() => {
            let boundary = "matrix-boundary";
            request = request.header("content-type", format!("multipart/form-data; boundary={boundary}"));
            Body::from(format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n{}\r\n--{boundary}--\r\n",
                b["upload"].as_str().unwrap()
            ))
        }
        Some(b) => {
            request = request.header("content-type", "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let reply = send_request(app, request.body(body).unwrap()).await;
    (reply.status, reply.text)
}

/// Workspace A's workflow and finished execution, made by A's writer, and A's secret; an API
/// key of A; a user who may sign in (and whom A's admin may add).
struct Fixture {
    app: Router,
    workflow: String,
    execution: String,
    api_key: ApiKeyId,
    user: String,
    /// A's uploaded file, `file_<uuid>`.
    file: String,
    /// A pending approval and a pending form of A's.
    approval: String,
    form: String,
}

/// The fixture user's email and password.
const USER: (&str, &str) = ("matrix@example.com", "a matrix passphrase");

async fn fixture() -> Fixture {
    let services = services();
    for (id, name) in [(a_ws(), "A"), (b_ws(), "B")] {
        let workspace = Workspace { id, name: name.into(), created_at: chrono::Utc::now() };
        services.identities.create_workspace(&workspace, None).await.unwrap();
    }
    let api_key = a_key(&services).await;
    let app = router_authenticating(&services, HttpSettings::default(), Arc::new(tokens(a_ws(), b_ws())));
    let register = json!({"email": USER.0, "password": USER.1});
    let (status, text) = call(&app, None, &Method::POST, "/api/v1/auth/register", Some(&register)).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let user = serde_json::from_str::<Value>(&text).unwrap()["user"]["id"].as_str().unwrap().to_owned();
    let (status, text) = call(&app, Some("a-write"), &Method::POST, "/api/v1/workflows", Some(&chain("echo hi"))).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let workflow = serde_json::from_str::<Value>(&text).unwrap()["id"].as_str().unwrap().to_owned();
    let execute = format!("/api/v1/workflows/{workflow}/execute");
    let (status, text) = call(&app, Some("a-write"), &Method::POST, &execute, Some(&json!({}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    let execution = serde_json::from_str::<Value>(&text).unwrap()["execution_id"].as_str().unwrap().to_owned();
    for name in ["a-docs", "a-spare"] {
        let collection = json!({"name": name, "dimension": 2});
        let (status, text) =
            call(&app, Some("a-write"), &Method::POST, "/api/v1/vectors/collections", Some(&collection)).await;
        assert_eq!(status, StatusCode::CREATED, "{text}");
    }
    let document = json!({"documents": [{"id": "a-doc", "vector": [1, 0], "text": "A's document"}]});
    let (status, text) =
        call(&app, Some("a-write"), &Method::POST, "/api/v1/vectors/collections/a-docs/vectors", Some(&document)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (status, text) =
        call(&app, Some("a-write"), &Method::POST, "/api/v1/files", Some(&json!({"upload": "A's notes"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let file = serde_json::from_str::<Value>(&text).unwrap()["id"].as_str().unwrap().to_owned();
    let secret = json!({"name": "A_SECRET", "value": "a-secret-value-0001"});
    let (status, text) = call(&app, Some("a-admin"), &Method::POST, "/api/v1/secrets", Some(&secret)).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let server = mcp_server("a-calc");
    let (status, text) =
        call(&app, Some("a-admin"), &Method::POST, "/api/v1/mcp/servers/register", Some(&server)).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    for _ in 0..500 {
        let (_, text) =
            call(&app, Some("a-read"), &Method::GET, &format!("/api/v1/executions/{execution}"), None).await;
        if text.contains("\"Completed\"") {
            let approval = pending(
                &app,
                "approvals",
                human(json!({"type": "Approval", "config": {"message": "ok?", "allow_initiator": true}})),
            )
            .await;
            let form = pending(&app, "forms", human(json!({"type": "Form", "config": {"title": "T", "fields": [{"id": "x", "label": "X", "field_type": "Text"}]}}))).await;
            return Fixture { app, workflow, execution, api_key, user, file, approval, form };
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the fixture's execution never completed");
}

/// An API key of workspace A, stored as the server stores them.
/// Start -> (an Approval or Form node) -> End.
fn human(kind: Value) -> Value {
    let nodes = json!([{"id": "s", "name": "S", "kind": {"type": "Start"}}, {"id": "h", "name": "H", "kind": kind},
                       {"id": "e", "name": "E", "kind": {"type": "End"}}]);
    json!({"workflow": {"metadata": {"name": "human"}, "nodes": nodes, "edges": [{"from": "s", "to": "h"}, {"from": "h", "to": "e"}]}})
}

/// Runs `workflow` in A and returns the id of its pending request (`approvals` or `forms`).
async fn pending(app: &Router, kind: &str, workflow: Value) -> String {
    let (status, text) = call(app, Some("a-write"), &Method::POST, "/api/v1/workflows", Some(&workflow)).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let id = serde_json::from_str::<Value>(&text).unwrap()["id"].as_str().unwrap().to_owned();
    let execute = format!("/api/v1/workflows/{id}/execute");
    let (status, text) = call(app, Some("a-write"), &Method::POST, &execute, Some(&json!({}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    for _ in 0..500 {
        let (_, text) = call(app, Some("a-read"), &Method::GET, &format!("/api/v1/{kind}"), None).await;
        if let Some(id) = serde_json::from_str::<Value>(&text).unwrap()[kind][0]["id"].as_str() {
            return id.to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no pending {kind}");
}

async fn a_key(services: &oxify_api::app::services::Services) -> ApiKeyId {
    let secret = ApiKeySecret::from_random(&[7; oxify_api::domain::identity::api_key::RANDOM_BYTES]);
    let record = ApiKeyRecord {
        id: ApiKeyId::generate(),
        workspace: a_ws(),
        prefix: secret.prefix().to_owned(),
        hash: secret.hash(),
        name: "A's key".into(),
        role: Role::Read,
        created_at: chrono::Utc::now(),
        expires_at: None,
        revoked_at: None,
    };
    services.identities.create_api_key(&record).await.unwrap();
    record.id
}

fn a_ws() -> WorkspaceId {
    WorkspaceId(uuid::Uuid::from_u128(0xA))
}

fn b_ws() -> WorkspaceId {
    WorkspaceId(uuid::Uuid::from_u128(0xB))
}

/// A stdio MCP server (the test server) named `name`.
fn mcp_server(name: &str) -> Value {
    json!({"name": name, "transport": "stdio", "command": super::mcp_server::binary()})
}

/// Every (method, path template) of the served OpenAPI document.
async fn routes(app: &Router) -> Vec<(Method, String)> {
    let (status, text) = call(app, None, &Method::GET, "/api-docs/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if let Ok(m) = method.to_uppercase().parse::<Method>() {
                routes.push((m, path.clone()));
            }
        }
    }
    routes.sort_by(|x, y| (x.1.as_str(), x.0.as_str()).cmp(&(y.1.as_str(), y.0.as_str())));
    routes
}

/// A request to `path` about workspace A's resources, with a body that route accepts (a new
/// account's each time for register).
fn request_for(f: &Fixture, method: &Method, path: &str) -> (String, Option<Value>) {
    let a = a_ws().to_string();
    let key = f.api_key.to_string();
    let id = if path.starts_with("/api/v1/executions/") {
        &f.execution
    } else if path.starts_with("/api/v1/approvals/") {
        &f.approval
    } else if path.starts_with("/api/v1/forms/") {
        &f.form
    } else if path.starts_with("/api/v1/workspaces/") {
        &a
    } else if path.starts_with("/api/v1/api-keys/") {
        &key
    } else if path.starts_with("/api/v1/files/") {
        &f.file
    } else {
        &f.workflow
    };
    // A's collections: "a-spare" is the one deleted (the others' routes need "a-docs").
    let vectors = if *method == Method::DELETE && path == "/api/v1/vectors/collections/{name}" {
        Some(path.replace("{name}", "a-spare"))
    } else if path.starts_with("/api/v1/vectors/") {
        Some(path.replace("{name}", "a-docs").replace("{id}", "a-doc"))
    } else if path == "/api/v1/mcp/servers/unregister" {
        Some("/api/v1/mcp/servers/unregister?name=a-calc".to_owned())
    } else {
        None
    };
    let uri = vectors
        .unwrap_or_else(|| path.to_owned())
        .replace("{id}", id)
        .replace("{workflow_version}", "1")
        .replace("{name}", "A_SECRET")
        .replace("{user_id}", &f.user);
    let body = match (method.as_str(), path) {
        ("POST", "/api/v1/workflows") | ("PUT", "/api/v1/workflows/{id}") => Some(chain("echo again")),
        ("POST", "/api/v1/secrets") => Some(json!({"name": "A_SECRET", "value": "a-secret-value-0002"})),
        ("POST", "/api/v1/executions/{id}/rerun") => Some(json!({"from_node": "work"})),
        ("POST", "/api/v1/mcp/servers/register") => Some(mcp_server("a-calc-2")),
        ("POST", "/api/v1/mcp/tools") => Some(json!({"server": "a-calc"})),
        ("POST", "/api/v1/mcp/tools/invoke") => {
            Some(json!({"server": "a-calc", "tool": "add", "arguments": {"a": 1, "b": 2}}))
        }
        ("POST", "/api/v1/forms/{id}/submit") => Some(json!({"values": {"x": "hello"}})),
        ("POST", "/api/v1/auth/register") => {
            Some(json!({"email": format!("{}@example.com", uuid::Uuid::now_v7()), "password": "long enough"}))
        }
        ("POST", "/api/v1/auth/login") => Some(json!({"email": USER.0, "password": USER.1})),
        ("POST", "/api/v1/api-keys") => Some(json!({"name": "matrix", "role": "Read"})),
        ("POST", "/api/v1/workspaces") => Some(json!({"name": "matrix"})),
        ("POST", "/api/v1/workspaces/{id}/members") => Some(json!({"email": USER.0, "role": "Read"})),
        ("POST", "/api/v1/vectors/collections") => {
            Some(json!({"name": format!("m{}", uuid::Uuid::now_v7().simple()), "dimension": 2}))
        }
        ("POST", "/api/v1/vectors/collections/{name}/vectors") => {
            Some(json!({"documents": [{"id": "a-doc", "vector": [0.5, 0.5]}]}))
        }
        ("POST", "/api/v1/vectors/collections/{name}/search") => Some(json!({"vector": [1, 0]})),
        ("POST", "/api/v1/files") => Some(json!({"upload": "more notes"})),
        ("POST", _) => Some(json!({})),
        _ => None,
    };
    (uri, body)
}

/// Routes anyone may call (register takes credentials when sent, and checks them).
fn public(path: &str) -> bool {
    matches!(path, "/health" | "/api/v1/auth/login" | "/api/v1/auth/register")
}

/// Routes for signed-in users only: an API key, whatever its role, is refused (403).
fn users_only(method: &Method, path: &str) -> bool {
    *method == Method::POST && path == "/api/v1/workspaces"
}

/// Routes that name a resource of A by id, or an MCP server of A by name (the others list, or
/// create).
fn names_a_resource(path: &str) -> bool {
    path.contains("{id}")
        || path.contains("{name}")
        || path.starts_with("/api/v1/mcp/tools")
        || path == "/api/v1/mcp/servers/unregister"
}

/// The role a route needs: reading needs `Read`, except secrets' names (`Write`) and the audit
/// log (`Admin`); changing needs `Write`, except secrets (`Admin`); API keys and changes to
/// members need `Admin`; a vector search (a POST) only reads. MCP: registering and
/// unregistering servers need `Admin`, invoking a tool `Write`, listing servers, tools and stats
/// `Read`.
fn needs(method: &Method, path: &str) -> Role {
    match path {
        "/api/v1/mcp/servers/register" | "/api/v1/mcp/servers/unregister" => return Role::Admin,
        "/api/v1/mcp/tools/invoke" => return Role::Write,
        "/api/v1/mcp/tools" => return Role::Read,
        _ => {}
    }
    if path.ends_with("/search") {
        return Role::Read;
    }
    if path.starts_with("/api/v1/audit")
        || path.starts_with("/api/v1/api-keys")
        || (path.starts_with("/api/v1/workspaces/{id}/members") && *method != Method::GET)
    {
        return Role::Admin;
    }
    match (*method == Method::GET, path.starts_with("/api/v1/secrets")) {
        (true, false) => Role::Read,
        (true, true) | (false, false) => Role::Write,
        (false, true) => Role::Admin,
    }
}

#[tokio::test]
async fn every_route_answers_each_principal_as_the_rules_say() {
    let f = fixture().await;
    let routes = routes(&f.app).await;
    assert!(routes.len() >= 12, "{routes:?}");
    for (method, path) in &routes {
        let reads = *method == Method::GET;
        let (uri, _) = request_for(&f, method, path);
        let body = || request_for(&f, method, path).1;
        let (status, text) = call(&f.app, None, method, &uri, body().as_ref()).await;
        if public(path) {
            assert!(status.is_success(), "{method} {path} without credentials: {status} {text}");
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} without credentials: {text}");
            assert!(text.contains("\"Unauthorized\""), "{text}");
        }
        let (status, text) = call(&f.app, Some("not-a-token"), method, &uri, body().as_ref()).await;
        if !public(path) {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} with a bad token: {text}");
        }
        for (token, role) in [("a-read", Role::Read), ("a-write", Role::Write)] {
            if !reads && role == Role::Write {
                continue; // A's writes are tried below, on fixtures of their own.
            }
            let (status, text) = call(&f.app, Some(token), method, &uri, body().as_ref()).await;
            if role < needs(method, path) && !public(path) {
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as {token}: {text}");
                assert!(text.contains("\"Forbidden\""), "{text}");
            } else {
                assert!(
                    status.is_success() || status == StatusCode::NOT_MODIFIED,
                    "{method} {path} as {token}: {status} {text}"
                );
            }
        }
        // B's own secret gets a name of its own, so that B's later calls by name meet only A's.
        let body_b = match (method.as_str(), path.as_str()) {
            ("POST", "/api/v1/secrets") => Some(json!({"name": "B_OWN", "value": "b-own-value-0001"})),
            ("POST", "/api/v1/mcp/servers/register") => Some(mcp_server("b-own")),
            _ => body(),
        };
        let (status, text) = call(&f.app, Some("b-admin"), method, &uri, body_b.as_ref()).await;
        if users_only(method, path) {
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as B's admin (an API key): {text}");
        } else if names_a_resource(path) {
            // As if it did not exist: the answer B gets for an id nobody ever used.
            let ghost = path
                .replace("{id}", &uuid::Uuid::now_v7().to_string())
                .replace("{workflow_version}", "1")
                .replace("{name}", "NOBODY_USED_THIS");
            // An MCP server is named in the query or the body.
            let ghost =
                if path == "/api/v1/mcp/servers/unregister" { format!("{ghost}?name=nobody-used-this") } else { ghost };
            let ghost_body = body_b.as_ref().map(|b| {
                serde_json::from_str::<Value>(&b.to_string().replace("\"a-calc\"", "\"nobody-used-this\"")).unwrap()
            });
            let (nobody, nobody_text) = call(&f.app, Some("b-admin"), method, &ghost, ghost_body.as_ref()).await;
            assert_eq!(status, nobody, "{method} {path} as B's admin: {text}; for an unused id: {nobody_text}");
            if path != "/api/v1/workflows/{id}/executions" {
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path} as B's admin: {text}");
            }
        } else {
            assert!(status.is_success(), "{method} {path} as B's admin: {status} {text}");
        }
        // A 404 may repeat the id B sent; nothing else of A's may show.
        assert!(!text.contains("echo hi"), "{method} {path} showed A's workflow to B: {text}");
        if path == "/api/v1/secrets" && *method == Method::POST {
            assert_eq!(status, StatusCode::CREATED, "{text}");
        } else {
            assert!(
                !text.contains("A_SECRET") || path.contains("{name}"),
                "{method} {path} showed A's secret to B: {text}"
            );
        }
        assert!(!text.contains("a-secret-value"), "{method} {path} showed a secret's value: {text}");
        assert!(
            !text.contains("a-calc") || names_a_resource(path),
            "{method} {path} showed A's MCP server to B: {text}"
        );
        if !names_a_resource(path) {
            assert!(!text.contains(&f.execution), "{method} {path} showed A's execution to B: {text}");
            assert!(!text.contains(&f.workflow), "{method} {path} showed A's workflow to B: {text}");
        }
    }
    // Writes by A's writer and admin are allowed (their outcome depends on the state: a
    // finished execution cannot be cancelled).
    for (token, role) in [("a-admin", Role::Admin), ("a-write", Role::Write)] {
        let f = fixture().await;
        // Deletes last: the other writes need the workflow.
        let mut writes: Vec<_> = routes.iter().filter(|(m, p)| *m != Method::GET && !public(p)).collect();
        writes.sort_by_key(|(m, _)| *m == Method::DELETE);
        for (method, path) in writes {
            let (uri, body) = request_for(&f, method, path);
            let (status, text) = call(&f.app, Some(token), method, &uri, body.as_ref()).await;
            if role < needs(method, path) || users_only(method, path) {
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as {token}: {text}");
                continue;
            }
            assert!(
                ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&status),
                "{method} {path} as {token}: {status} {text}"
            );
        }
    }
}

#[tokio::test]
async fn a_workspace_lists_and_counts_only_its_own() {
    let f = fixture().await;
    // A has the chain's workflow and run, and one with an approval, one with a form.
    let per_workflow = format!("/api/v1/workflows/{}/executions", f.workflow);
    for (uri, a_has) in [
        ("/api/v1/workflows", 3),
        ("/api/v1/executions", 3),
        (per_workflow.as_str(), 1),
        ("/api/v1/approvals", 1),
        ("/api/v1/forms", 1),
    ] {
        let (status, text) = call(&f.app, Some("b-admin"), &Method::GET, uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["total"], 0, "{uri}: {text}");
        let (_, text) = call(&f.app, Some("a-read"), &Method::GET, uri, None).await;
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["total"], a_has, "{uri}: {text}");
    }
    // B may not reuse A's workflow id: it stays A's (a 409 that shows nothing of A's workflow).
    let mut taken = chain("echo b");
    taken["workflow"]["metadata"]["id"] = json!(f.workflow);
    let (status, text) = call(&f.app, Some("b-admin"), &Method::POST, "/api/v1/workflows", Some(&taken)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    let (_, text) =
        call(&f.app, Some("a-read"), &Method::GET, &format!("/api/v1/workflows/{}", f.workflow), None).await;
    assert!(text.contains("echo hi") && !text.contains("echo b"), "{text}");
}

#[tokio::test]
async fn a_reader_is_refused_before_the_body_is_read() {
    let f = fixture().await;
    let (status, text) =
        call(&f.app, Some("a-read"), &Method::POST, "/api/v1/workflows", Some(&json!({"not": "a workflow"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("Write"), "{text}");
}

#[tokio::test]
async fn a_workspace_past_its_executions_in_flight_is_told_to_retry() {
    use oxify_api::app::executor::ExecutorLimits;
    use oxify_api::app::services::Services;
    use oxify_api::startup::wiring;
    let runners = oxify_api::app::runner_registry::RunnerRegistry::new()
        .with(oxify_api::domain::workflow::NodeKindTag::Code, Arc::new(super::support::ScriptRunner));
    let limits = ExecutorLimits { max_in_flight_per_workspace: 2, ..ExecutorLimits::default() };
    let services = Services::assemble(wiring::in_memory(runners), limits, std::time::Duration::from_secs(30));
    let app = router_authenticating(&services, HttpSettings::default(), Arc::new(tokens(a_ws(), b_ws())));
    let (_, text) = call(&app, Some("a-write"), &Method::POST, "/api/v1/workflows", Some(&chain("sleep 5000"))).await;
    let id = serde_json::from_str::<Value>(&text).unwrap()["id"].as_str().unwrap().to_owned();
    let execute = format!("/api/v1/workflows/{id}/execute");
    for _ in 0..2 {
        let (status, text) = call(&app, Some("a-write"), &Method::POST, &execute, Some(&json!({}))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    }
    let request = Request::post(&execute)
        .header("authorization", "Bearer a-write")
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let third = send_request(&app, request).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS, "{}", third.text);
    assert_eq!(third.body["error"], "RateLimited");
    assert_eq!(third.headers["retry-after"], "1");
    // Another workspace has its own share.
    let (_, text) = call(&app, Some("b-admin"), &Method::POST, "/api/v1/workflows", Some(&chain("echo b"))).await;
    let theirs = serde_json::from_str::<Value>(&text).unwrap()["id"].as_str().unwrap().to_owned();
    let (status, text) =
        call(&app, Some("b-admin"), &Method::POST, &format!("/api/v1/workflows/{theirs}/execute"), Some(&json!({})))
            .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
}

#[tokio::test]
async fn deciding_an_approval_needs_a_listed_role_and_not_having_started_the_run() {
    let services = services();
    for (id, name) in [(a_ws(), "A"), (b_ws(), "B")] {
        let workspace = Workspace { id, name: name.into(), created_at: chrono::Utc::now() };
        services.identities.create_workspace(&workspace, None).await.unwrap();
    }
    let app = router_authenticating(&services, HttpSettings::default(), Arc::new(tokens(a_ws(), b_ws())));
    let approval =
        |approvers: Value| human(json!({"type": "Approval", "config": {"message": "ship?", "approvers": approvers}}));
    // Started by A's admin, decidable by admins only.
    let admins_only = started(&app, "a-admin", approval(json!(["Admin"]))).await;
    for (token, status) in
        [("a-read", StatusCode::FORBIDDEN), ("a-write", StatusCode::FORBIDDEN), ("b-admin", StatusCode::NOT_FOUND)]
    {
        let uri = format!("/api/v1/approvals/{admins_only}/approve");
        let (got, text) = call(&app, Some(token), &Method::POST, &uri, Some(&json!({}))).await;
        assert_eq!(got, status, "{token}: {text}");
    }
    // The admin started that run: by default they may not approve it either.
    let uri = format!("/api/v1/approvals/{admins_only}/approve");
    let (got, text) = call(&app, Some("a-admin"), &Method::POST, &uri, Some(&json!({}))).await;
    assert_eq!(got, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("started"), "{text}");
    // Started by A's writer, decidable by any writer: the admin decides.
    let anyone = started(&app, "a-write", approval(json!([]))).await;
    let (got, text) =
        call(&app, Some("a-admin"), &Method::POST, &format!("/api/v1/approvals/{anyone}/reject"), Some(&json!({})))
            .await;
    assert_eq!(got, StatusCode::OK, "{text}");
    let (got, text) =
        call(&app, Some("a-admin"), &Method::POST, &format!("/api/v1/approvals/{anyone}/approve"), Some(&json!({})))
            .await;
    assert_eq!(got, StatusCode::CONFLICT, "decided already: {text}");
}

/// Runs `workflow` in A as `token` and returns the id of its approval once it is pending.
async fn started(app: &Router, token: &str, workflow: Value) -> String {
    let (status, text) = call(app, Some(token), &Method::POST, "/api/v1/workflows", Some(&workflow)).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let id = serde_json::from_str::<Value>(&text).unwrap()["id"].as_str().unwrap().to_owned();
    let (status, text) =
        call(app, Some(token), &Method::POST, &format!("/api/v1/workflows/{id}/execute"), Some(&json!({}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    let execution = serde_json::from_str::<Value>(&text).unwrap()["execution_id"].as_str().unwrap().to_owned();
    for _ in 0..500 {
        let uri = format!("/api/v1/executions/{execution}/approvals");
        let (_, text) = call(app, Some("a-read"), &Method::GET, &uri, None).await;
        if let Some(id) = serde_json::from_str::<Value>(&text).unwrap()["approvals"][0]["id"].as_str() {
            return id.to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no pending approval for {execution}");
}
