//! Conditional requests against lost updates: `ETag` on reads and writes, `If-Match` on PUT and
//! DELETE (412 and nothing changed on a mismatch), `If-None-Match` on reads (304).

use crate::support::*;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

const MISSING: &str = "/api/v1/workflows/00000000-0000-4000-8000-000000000000";

async fn send_with(app: &Router, method: Method, uri: &str, headers: &[(&str, &str)], body: Option<Value>) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let body = match body {
        Some(v) => {
            req = req.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    send_request(app, req.body(body).unwrap()).await
}

async fn put_if(app: &Router, uri: &str, if_match: &str, script: &str) -> Reply {
    send_with(app, Method::PUT, uri, &[("if-match", if_match)], Some(chain(script))).await
}

async fn delete_if(app: &Router, uri: &str, if_match: &str) -> Reply {
    send_with(app, Method::DELETE, uri, &[("if-match", if_match)], None).await
}

/// A workflow at version 2 (`sleep 2`), and its URL.
async fn at_version_2(app: &Router) -> String {
    let uri = format!("/api/v1/workflows/{}", create(app, chain("sleep 1")).await);
    assert_eq!(send(app, Method::PUT, &uri, Some(chain("sleep 2"))).await.status, StatusCode::OK);
    uri
}

/// What a refused write must leave alone: the stored versions and the latest definition.
async fn snapshot(app: &Router, uri: &str) -> (Value, Value) {
    let versions = get(app, &format!("{uri}/versions")).await.body["total"].clone();
    (versions, get(app, uri).await.body)
}

fn assert_precondition_failed(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::PRECONDITION_FAILED, "{}", reply.text);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.body["error"], "PreconditionFailed");
    assert!(reply.body["message"].as_str().unwrap().contains("now at version 2"), "{}", reply.text);
}

#[tokio::test]
async fn reads_and_writes_carry_the_version_as_a_strong_etag() {
    let app = app();
    let created = post(&app, "/api/v1/workflows", chain("sleep 1")).await;
    assert_eq!(created.headers["etag"], "\"1\"");
    let uri = format!("/api/v1/workflows/{}", created.body["id"].as_str().unwrap());
    assert_eq!(get(&app, &uri).await.headers["etag"], "\"1\"");
    let updated = send(&app, Method::PUT, &uri, Some(chain("sleep 2"))).await;
    assert_eq!((updated.status, &updated.headers["etag"]), (StatusCode::OK, &"\"2\"".parse().unwrap()));
    assert_eq!(get(&app, &uri).await.headers["etag"], "\"2\"");
    assert_eq!(get(&app, &format!("{uri}/versions/1")).await.headers["etag"], "\"1\"", "that version's tag");
}

#[tokio::test]
async fn put_with_the_current_etag_stores_a_new_version() {
    let app = app();
    let uri = at_version_2(&app).await;
    let reply = put_if(&app, &uri, "\"2\"", "sleep 3").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.headers["etag"], "\"3\"");
    assert_eq!(get(&app, &uri).await.body["workflow"]["nodes"][1]["kind"]["config"]["code"], "sleep 3");
}

#[tokio::test]
async fn put_with_a_stale_etag_is_412_and_stores_nothing() {
    let app = app();
    let uri = at_version_2(&app).await;
    let before = snapshot(&app, &uri).await;
    assert_precondition_failed(&put_if(&app, &uri, "\"1\"", "sleep 9").await);
    assert_eq!(snapshot(&app, &uri).await, before, "no version added, the latest unchanged");
}

#[tokio::test]
async fn an_invalid_body_with_a_stale_etag_is_412_before_validation() {
    let app = app();
    let uri = at_version_2(&app).await;
    let reply =
        send_with(&app, Method::PUT, &uri, &[("if-match", "\"1\"")], Some(workflow(json!([]), json!([])))).await;
    assert_precondition_failed(&reply);
}

#[tokio::test]
async fn star_matches_any_existing_workflow() {
    let app = app();
    let uri = at_version_2(&app).await;
    assert_eq!(put_if(&app, &uri, "*", "sleep 3").await.status, StatusCode::OK);
    assert_eq!(delete_if(&app, &uri, "*").await.status, StatusCode::OK);
    assert_eq!(get(&app, &uri).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_list_matches_when_any_of_its_tags_does() {
    let app = app();
    let uri = at_version_2(&app).await;
    assert_precondition_failed(&put_if(&app, &uri, "\"1\", \"3\"", "sleep 9").await);
    assert_eq!(put_if(&app, &uri, "\"1\", \"2\"", "sleep 3").await.status, StatusCode::OK);
    let reply = send_with(&app, Method::DELETE, &uri, &[("if-match", "\"1\""), ("if-match", "\"3\"")], None).await;
    assert_eq!(reply.status, StatusCode::OK, "header lines combine into one list: {}", reply.text);
}

#[tokio::test]
async fn weak_tags_never_match_if_match() {
    let app = app();
    let uri = at_version_2(&app).await;
    let before = snapshot(&app, &uri).await;
    assert_precondition_failed(&put_if(&app, &uri, "W/\"2\"", "sleep 9").await);
    assert_precondition_failed(&delete_if(&app, &uri, "W/\"2\"").await);
    assert_eq!(snapshot(&app, &uri).await, before);
}

#[tokio::test]
async fn delete_with_a_stale_etag_is_412_and_the_workflow_stays() {
    let app = app();
    let uri = at_version_2(&app).await;
    let before = snapshot(&app, &uri).await;
    assert_precondition_failed(&delete_if(&app, &uri, "\"1\"").await);
    assert_eq!(snapshot(&app, &uri).await, before, "still there, unchanged");
    assert_eq!(get(&app, "/api/v1/workflows").await.body["total"], 1);
    assert_eq!(delete_if(&app, &uri, "\"2\"").await.status, StatusCode::OK);
    assert_eq!(get(&app, &uri).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_missing_workflow_is_404_whatever_if_match_says() {
    let app = app();
    for tag in ["*", "\"1\"", "W/\"1\""] {
        let reply = put_if(&app, MISSING, tag, "sleep 1").await;
        assert_eq!((reply.status, &reply.body["error"]), (StatusCode::NOT_FOUND, &json!("NotFound")), "{tag}");
        let reply = delete_if(&app, MISSING, tag).await;
        assert_eq!((reply.status, &reply.body["error"]), (StatusCode::NOT_FOUND, &json!("NotFound")), "{tag}");
    }
}

#[tokio::test]
async fn a_malformed_if_match_is_400_and_changes_nothing() {
    let app = app();
    let uri = at_version_2(&app).await;
    let before = snapshot(&app, &uri).await;
    for bad in ["2", "\"2", "*, \"2\"", "\"2\" \"3\"", "w/\"2\"", ""] {
        for reply in [put_if(&app, &uri, bad, "sleep 9").await, delete_if(&app, &uri, bad).await] {
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad:?}: {}", reply.text);
            assert_eq!(reply.body["error"], "BadRequest");
            assert!(reply.body["message"].as_str().unwrap().starts_with("malformed If-Match header"), "{}", reply.text);
        }
    }
    assert_eq!(snapshot(&app, &uri).await, before);
}

#[tokio::test]
async fn two_writers_with_the_same_etag_cannot_both_win() {
    let app = app();
    let uri = at_version_2(&app).await;
    let (a, b) = tokio::join!(put_if(&app, &uri, "\"2\"", "sleep 3"), put_if(&app, &uri, "\"2\"", "sleep 4"));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::PRECONDITION_FAILED]);
    assert_eq!(get(&app, &format!("{uri}/versions")).await.body["total"], 3);
}

#[tokio::test]
async fn if_none_match_answers_304_when_the_client_is_current() {
    let app = app();
    let uri = at_version_2(&app).await;
    for tag in ["\"2\"", "W/\"2\"", "\"1\", \"2\"", "*"] {
        let reply = send_with(&app, Method::GET, &uri, &[("if-none-match", tag)], None).await;
        assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "{tag}");
        assert_eq!(reply.headers["etag"], "\"2\"");
        assert!(reply.text.is_empty());
    }
    let stale = send_with(&app, Method::GET, &uri, &[("if-none-match", "\"1\"")], None).await;
    assert_eq!((stale.status, stale.body["workflow_version"].as_u64()), (StatusCode::OK, Some(2)));
    let old = send_with(&app, Method::GET, &format!("{uri}/versions/1"), &[("if-none-match", "\"1\"")], None).await;
    assert_eq!(old.status, StatusCode::NOT_MODIFIED);
    let bad = send_with(&app, Method::GET, &uri, &[("if-none-match", "2")], None).await;
    assert_eq!((bad.status, &bad.body["error"]), (StatusCode::BAD_REQUEST, &json!("BadRequest")));
    let missing = send_with(&app, Method::GET, MISSING, &[("if-none-match", "*")], None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_openapi_document_declares_the_headers_and_the_412() {
    let doc = get(&app(), "/api-docs/openapi.json").await.body;
    let item = &doc["paths"]["/api/v1/workflows/{id}"];
    for method in ["put", "delete"] {
        let params = item[method]["parameters"].as_array().unwrap();
        let if_match = params.iter().find(|p| p["name"] == "If-Match").expect("If-Match declared");
        assert_eq!((&if_match["in"], &if_match["required"]), (&json!("header"), &json!(false)), "{method}");
        assert!(item[method]["responses"]["412"].is_object(), "{method}");
    }
    assert!(item["get"]["responses"]["200"]["headers"]["ETag"].is_object());
    assert!(item["get"]["responses"]["304"].is_object());
    assert!(item["put"]["responses"]["200"]["headers"]["ETag"].is_object());
    assert!(doc["paths"]["/api/v1/workflows"]["post"]["responses"]["201"]["headers"]["ETag"].is_object());
    assert!(
        doc["paths"]["/api/v1/workflows/{id}/versions/{workflow_version}"]["get"]["responses"]["200"]["headers"]["ETag"]
            .is_object()
    );
}

#[tokio::test]
async fn a_browser_may_send_if_match_and_read_the_etag() {
    let settings = oxify_api::adapters::http::HttpSettings {
        cors_origins: vec!["https://ui.example".into()],
        ..oxify_api::adapters::http::HttpSettings::default()
    };
    let app = router_with(&services(), settings);
    let preflight = Request::options("/api/v1/workflows/x")
        .header("origin", "https://ui.example")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "if-match,content-type")
        .body(Body::empty())
        .unwrap();
    let reply = send_request(&app, preflight).await;
    assert!(reply.headers["access-control-allow-headers"].to_str().unwrap().contains("if-match"));
    let created =
        send_with(&app, Method::POST, "/api/v1/workflows", &[("origin", "https://ui.example")], Some(chain("sleep 1")))
            .await;
    assert!(created.headers["access-control-expose-headers"].to_str().unwrap().contains("etag"));
}

#[tokio::test]
async fn a_real_client_round_trips_the_etag_through_compression() {
    let server = spawn_server(|_| {}).await;
    let base = format!("http://{}", server.addr());
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{base}/api/v1/workflows"))
        .json(&chain("sleep 1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uri = format!("{base}/api/v1/workflows/{}", created["id"].as_str().unwrap());
    let read = http.get(&uri).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(read.headers()["content-encoding"], "gzip");
    let tag = read.headers()["etag"].clone();
    assert_eq!(tag, "\"1\"", "compression keeps the tag strong");
    let first = http.put(&uri).header("if-match", tag.clone()).json(&chain("sleep 2")).send().await.unwrap();
    assert_eq!(first.status(), reqwest::StatusCode::OK);
    let second = http.put(&uri).header("if-match", tag).json(&chain("sleep 3")).send().await.unwrap();
    assert_eq!(second.status(), reqwest::StatusCode::PRECONDITION_FAILED);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"], "PreconditionFailed");
    server.stop().await.unwrap();
}
