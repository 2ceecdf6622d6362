//! Around the API: health, OpenAPI, Swagger UI, compression, CORS, request ids.

use crate::support::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use oxify_api::adapters::http::HttpSettings;
use serde_json::json;

#[tokio::test]
async fn health_reports_healthy_and_the_version() {
    let reply = get(&app(), "/health").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!({"status": "healthy", "version": env!("CARGO_PKG_VERSION")}));
}

#[tokio::test]
async fn openapi_document_covers_every_route_and_schema() {
    let doc = get(&app(), "/api-docs/openapi.json").await.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/health", "get"),
        ("/api/v1/workflows", "post"),
        ("/api/v1/workflows", "get"),
        ("/api/v1/workflows/{id}", "get"),
        ("/api/v1/workflows/{id}", "put"),
        ("/api/v1/workflows/{id}", "delete"),
        ("/api/v1/workflows/{id}/execute", "post"),
        ("/api/v1/workflows/{id}/executions", "get"),
        ("/api/v1/workflows/{id}/versions", "get"),
        ("/api/v1/workflows/{id}/versions/{workflow_version}", "get"),
        ("/api/v1/executions", "get"),
        ("/api/v1/executions/{id}", "get"),
        ("/api/v1/executions/{id}/cancel", "post"),
        ("/api/v1/executions/{id}/stream", "get"),
    ];
    for (path, method) in expected {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} missing");
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "ErrorBody",
        "Problem",
        "Workflow",
        "WorkflowRequest",
        "NodeKind",
        "LlmConfig",
        "SwitchConfig",
        "ExecutionResponse",
        "NodeResultBody",
        "ExecutionState",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
}

#[tokio::test]
async fn every_response_is_described_and_every_union_variant_is_named() {
    let doc = get(&app(), "/api-docs/openapi.json").await.body;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                let description = response["description"].as_str().unwrap_or_default();
                assert!(!description.is_empty(), "{method} {path} {status} has no description");
            }
        }
    }
    let schemas = &doc["components"]["schemas"];
    for union in ["NodeKind", "LoopType", "TimeoutAction"] {
        for variant in schemas[union]["oneOf"].as_array().unwrap() {
            assert!(variant["$ref"].is_string(), "{union} has an anonymous variant: {variant}");
        }
    }
    assert_eq!(schemas["NodeKind"]["discriminator"]["mapping"]["LLM"], "#/components/schemas/LLMKind");
    let position = &schemas["Node"]["properties"]["position"];
    assert_eq!((position["minItems"].as_u64(), position["maxItems"].as_u64()), (Some(2), Some(2)));
    let links = &doc["paths"]["/api/v1/workflows"]["post"]["responses"]["201"]["links"];
    assert_eq!(links["GetWorkflow"]["parameters"]["id"], "$response.body#/id");
    let execute = &doc["paths"]["/api/v1/workflows/{id}/execute"]["post"]["requestBody"];
    assert_eq!(execute["required"], false, "the execute body may be left out");
}

#[tokio::test]
async fn the_root_points_a_browser_to_the_documentation() {
    let reply = get(&app(), "/").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers["location"], "/swagger-ui/");
    assert_eq!(reply.body["openapi"], "/api-docs/openapi.json");
}

#[tokio::test]
async fn swagger_ui_is_served_without_internet() {
    let app = app();
    let redirect = get(&app, "/swagger-ui").await;
    assert!(redirect.status.is_redirection());
    assert_eq!(redirect.headers["location"], "/swagger-ui/");
    let page = get(&app, "/swagger-ui/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("swagger-ui"));
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-initializer.js"] {
        let reply = get(&app, &format!("/swagger-ui/{asset}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{asset}");
        assert!(reply.text.len() > 100, "{asset}");
    }
    assert!(get(&app, "/swagger-ui/swagger-initializer.js").await.text.contains("/api-docs/openapi.json"));
}

#[tokio::test]
async fn responses_are_compressed_when_asked_but_event_streams_never_are() {
    let app = app();
    for _ in 0..5 {
        create(&app, chain("sleep 1")).await;
    }
    for encoding in ["gzip", "br"] {
        let req = Request::get("/api/v1/workflows").header("accept-encoding", encoding).body(Body::empty()).unwrap();
        let reply = send_request(&app, req).await;
        assert_eq!(reply.headers["content-encoding"], encoding);
    }
    let id = create(&app, chain("sleep 1")).await;
    let execution = execute(&app, &id, json!({})).await;
    finished(&app, &execution).await;
    let req = Request::get(format!("/api/v1/executions/{execution}/stream"))
        .header("accept-encoding", "gzip")
        .body(Body::empty())
        .unwrap();
    let reply = send_request(&app, req).await;
    assert_eq!(reply.headers["content-type"], "text/event-stream");
    assert!(reply.headers.get("content-encoding").is_none());
    assert!(reply.text.contains("event: execution_completed"));
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let settings = HttpSettings { cors_origins: vec!["https://ui.example".into()], ..HttpSettings::default() };
    let app = router_with(&services(), settings);
    let ask = |origin: &str| Request::get("/health").header("origin", origin).body(Body::empty()).unwrap();
    let allowed = send_request(&app, ask("https://ui.example")).await;
    assert_eq!(allowed.headers["access-control-allow-origin"], "https://ui.example");
    let other = send_request(&app, ask("https://evil.example")).await;
    assert!(other.headers.get("access-control-allow-origin").is_none());
    let preflight = Request::options("/api/v1/workflows")
        .header("origin", "https://ui.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .body(Body::empty())
        .unwrap();
    let reply = send_request(&app, preflight).await;
    assert!(reply.status.is_success());
    assert!(reply.headers["access-control-allow-methods"].to_str().unwrap().contains("POST"));
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_a_given_one() {
    let app = app();
    let reply = get(&app, "/health").await;
    assert_eq!(reply.headers["x-request-id"].len(), 36);
    let req = Request::get("/nowhere").header("x-request-id", "trace-me-42").body(Body::empty()).unwrap();
    let reply = send_request(&app, req).await;
    assert_eq!(reply.headers["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn the_openapi_document_describes_every_event() {
    let doc = get(&app(), "/api-docs/openapi.json").await.body;
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["EventData"]["properties"]["node_results_count"].is_object(), "frame data described");
    let variants = schemas["RunEvent"]["oneOf"].as_array().expect("RunEvent is a union of its events");
    let mut names: Vec<String> =
        variants.iter().filter_map(|v| v["properties"]["type"]["enum"][0].as_str().map(str::to_owned)).collect();
    names.sort();
    let mut expected: Vec<String> =
        oxify_api::domain::execution::EventKind::ALL.iter().map(|k| k.as_str().to_owned()).collect();
    expected.sort();
    assert_eq!(names, expected, "one schema per event the stream can send");
}
