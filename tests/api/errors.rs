//! Every client mistake gets the error format, and never a 5xx.

use crate::support::*;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::routing::get as get_route;
use oxify_api::adapters::http::{HttpSettings, layers};
use serde_json::json;

fn assert_error(reply: &Reply, status: StatusCode, kind: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.body["error"], kind, "{}", reply.text);
    assert!(reply.body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

fn raw(method: Method, uri: &str, content_type: Option<&str>, body: &str) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    req.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn malformed_json_is_400() {
    let reply =
        send_request(&app(), raw(Method::POST, "/api/v1/workflows", Some("application/json"), "{\"workflow\": ")).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "BadRequest");
    assert!(reply.body["message"].as_str().unwrap().contains("not valid JSON"));
    // A cut body whose first key is one the route does not know is still a 400, not a shape
    // error about that key.
    for (path, body) in [("/api/v1/secrets", "{\"a\":"), ("/api/v1/workflows", "{\"unknown\": [1, ")] {
        let reply = send_request(&app(), raw(Method::POST, path, Some("application/json"), body)).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "BadRequest");
        assert!(reply.body["message"].as_str().unwrap().contains("not valid JSON"), "{}", reply.text);
    }
}

#[tokio::test]
async fn wrong_shape_is_422_with_the_json_path() {
    let body =
        json!({"workflow": {"metadata": {"name": "x"}, "nodes": [{"id": "a", "name": "A", "kind": {"type": "Llm"}}]}});
    let reply = post(&app(), "/api/v1/workflows", body).await;
    assert_error(&reply, StatusCode::UNPROCESSABLE_ENTITY, "ValidationError");
    assert_eq!(reply.body["details"][0]["path"], "workflow.nodes[0].kind.type");
    assert!(reply.body["message"].as_str().unwrap().contains("unknown variant `Llm`"));
}

#[tokio::test]
async fn a_bare_workflow_without_its_envelope_is_422_naming_the_field() {
    let reply = post(&app(), "/api/v1/workflows", json!({"metadata": {"name": "x"}, "nodes": [], "edges": []})).await;
    assert_error(&reply, StatusCode::UNPROCESSABLE_ENTITY, "ValidationError");
    assert!(reply.body["message"].as_str().unwrap().contains("missing field `workflow`"));
}

#[tokio::test]
async fn wrong_or_missing_content_type_is_415() {
    let app = app();
    let body = chain("sleep 1").to_string();
    let reply = send_request(&app, raw(Method::POST, "/api/v1/workflows", Some("text/plain"), &body)).await;
    assert_error(&reply, StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType");
    let reply = send_request(&app, raw(Method::POST, "/api/v1/workflows", None, &body)).await;
    assert_error(&reply, StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType");
}

#[tokio::test]
async fn oversized_body_is_413() {
    let app = router_with(&services(), HttpSettings { max_body_bytes: 1024, ..HttpSettings::default() });
    let mut body = chain("sleep 1");
    body["workflow"]["metadata"]["description"] = json!("x".repeat(4096));
    let reply = post(&app, "/api/v1/workflows", body).await;
    assert_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge");
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_use_the_error_format() {
    let app = app();
    assert_error(&get(&app, "/api/v1/nothing").await, StatusCode::NOT_FOUND, "NotFound");
    let reply = send(&app, Method::PATCH, "/api/v1/workflows", None).await;
    assert_error(&reply, StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed");
}

#[tokio::test]
async fn bad_ids_in_paths_are_400() {
    let app = app();
    for uri in ["/api/v1/workflows/not-a-uuid", "/api/v1/executions/123", "/api/v1/executions/x/stream"] {
        assert_error(&get(&app, uri).await, StatusCode::BAD_REQUEST, "BadRequest");
    }
    let reply = post(&app, "/api/v1/workflows/nope/execute", json!({})).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "BadRequest");
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let app = app();
    let missing = "00000000-0000-4000-8000-000000000000";
    assert_error(&get(&app, &format!("/api/v1/workflows/{missing}")).await, StatusCode::NOT_FOUND, "NotFound");
    assert_error(&get(&app, &format!("/api/v1/executions/{missing}")).await, StatusCode::NOT_FOUND, "NotFound");
    assert_error(&get(&app, &format!("/api/v1/executions/{missing}/stream")).await, StatusCode::NOT_FOUND, "NotFound");
    let reply = post(&app, &format!("/api/v1/executions/{missing}/cancel"), json!({})).await;
    assert_error(&reply, StatusCode::NOT_FOUND, "NotFound");
    let reply = post(&app, &format!("/api/v1/workflows/{missing}/execute"), json!({})).await;
    assert_error(&reply, StatusCode::NOT_FOUND, "NotFound");
}

#[tokio::test]
async fn bad_query_parameters_are_400() {
    let app = app();
    for uri in [
        "/api/v1/workflows?limit=0",
        "/api/v1/workflows?limit=abc",
        "/api/v1/workflows?cursor=garbage",
        "/api/v1/executions?state=Done",
        "/api/v1/executions?workflow_id=nope",
    ] {
        assert_error(&get(&app, uri).await, StatusCode::BAD_REQUEST, "BadRequest");
    }
}

async fn boom(uri: axum::http::Uri) -> &'static str {
    assert_eq!(uri.path(), "/never", "secret internal detail");
    "unreachable"
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_in_the_error_format_that_reveals_nothing() {
    let router = Router::new().route("/boom", get_route(boom));
    let app = layers::apply(router, &[], 1024);
    let reply = get(&app, "/boom").await;
    assert_error(&reply, StatusCode::INTERNAL_SERVER_ERROR, "InternalError");
    assert!(!reply.text.contains("secret"));
}
