//! Vector collections over HTTP with precomputed vectors (the embedding routes are exercised
//! end to end against a fake provider in the `llm` tests): the shapes, idempotent upserts,
//! search options, and every bad input answered in the error format.

use super::support::{app, get, post, send};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

async fn made(app: &axum::Router, name: &str, dimension: usize) {
    let reply = post(app, "/api/v1/vectors/collections", json!({"name": name, "dimension": dimension})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

fn bad(reply: &super::support::Reply, status: StatusCode, says: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert!(reply.body["message"].as_str().unwrap_or_default().contains(says), "{}", reply.text);
    assert!(reply.body["error"].is_string(), "the project's error format: {}", reply.text);
}

#[tokio::test]
async fn collections_are_made_listed_read_and_deleted() {
    let app = app();
    let reply =
        post(&app, "/api/v1/vectors/collections", json!({"name": "notes", "dimension": 3, "description": "mine"}))
            .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["metric"], "cosine");
    assert_eq!(reply.body["store"], "embedded", "the default store");
    assert_eq!((reply.body["dimension"].clone(), reply.body["embedding"].clone()), (json!(3), Value::Null));
    assert_eq!((reply.body["chunk_size"].clone(), reply.body["chunk_overlap"].clone()), (json!(1000), json!(100)));
    made(&app, "alpha", 2).await;
    let listed = get(&app, "/api/v1/vectors/collections").await;
    let names: Vec<&str> =
        listed.body["collections"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!((names, listed.body["total"].clone()), (vec!["alpha", "notes"], json!(2)));
    let docs =
        json!({"documents": [{"id": "a", "vector": [1, 0, 0]}, {"id": "b", "vector": [0, 1, 0], "text": "bee"}]});
    assert_eq!(post(&app, "/api/v1/vectors/collections/notes/vectors", docs).await.status, StatusCode::OK);
    let one = get(&app, "/api/v1/vectors/collections/notes").await;
    assert_eq!((one.body["documents"].clone(), one.body["chunks"].clone()), (json!(2), json!(2)), "{}", one.text);
    let deleted = send(&app, Method::DELETE, "/api/v1/vectors/collections/notes", None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    bad(&get(&app, "/api/v1/vectors/collections/notes").await, StatusCode::NOT_FOUND, "Collection notes not found");
    bad(&send(&app, Method::DELETE, "/api/v1/vectors/collections/notes", None).await, StatusCode::NOT_FOUND, "notes");
}

#[tokio::test]
async fn upserts_are_idempotent_by_document_id_and_search_honours_its_options() {
    let app = app();
    made(&app, "kb", 2).await;
    let docs = json!({"documents": [
        {"id": "east", "vector": [1, 0], "text": "east", "metadata": {"side": "right"}},
        {"id": "north", "vector": [0, 1], "text": "north", "metadata": {"side": "up"}},
        {"id": "ne", "vector": [1, 1], "text": "north-east", "metadata": {"side": "right"}}
    ]});
    for _ in 0..2 {
        let reply = post(&app, "/api/v1/vectors/collections/kb/vectors", docs.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.body, json!({"documents": 3, "chunks": 3, "usage": null}));
    }
    assert_eq!(get(&app, "/api/v1/vectors/collections/kb").await.body["chunks"], 3, "sent twice, stored once");
    let moved = json!({"documents": [{"id": "east", "vector": [-1, 0], "text": "west now"}]});
    assert_eq!(post(&app, "/api/v1/vectors/collections/kb/vectors", moved).await.status, StatusCode::OK);
    let found = post(&app, "/api/v1/vectors/collections/kb/search", json!({"vector": [1, 0.1], "top_k": 2})).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    let ids: Vec<&str> = found.body["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["ne#0", "north#0"], "east was replaced by a vector pointing west");
    assert_eq!(found.body["results"][0]["metadata"], json!({"side": "right"}));
    let filtered = json!({"vector": [1, 0], "filter": {"side": "right"}, "top_k": 10});
    let found = post(&app, "/api/v1/vectors/collections/kb/search", filtered).await;
    let texts: Vec<&str> =
        found.body["results"].as_array().unwrap().iter().map(|r| r["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["north-east"], "east, upserted again without metadata, lost its own");
    let above = json!({"vector": [1, 0], "score_threshold": 0.5});
    let found = post(&app, "/api/v1/vectors/collections/kb/search", above).await;
    assert_eq!(found.body["results"].as_array().unwrap().len(), 1, "{}", found.text);
    let gone = send(&app, Method::DELETE, "/api/v1/vectors/collections/kb/vectors/ne", None).await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.text);
    bad(
        &send(&app, Method::DELETE, "/api/v1/vectors/collections/kb/vectors/ne", None).await,
        StatusCode::NOT_FOUND,
        "ne",
    );
    assert_eq!(get(&app, "/api/v1/vectors/collections/kb").await.body["documents"], 2);
}

#[tokio::test]
async fn bad_input_is_refused_with_a_clear_message() {
    let app = app();
    made(&app, "kb", 3).await;
    let upsert = |docs: Value| {
        let app = app.clone();
        async move { post(&app, "/api/v1/vectors/collections/kb/vectors", json!({"documents": docs})).await }
    };
    bad(
        &upsert(json!([{"id": "x", "vector": [1, 2]}])).await,
        StatusCode::BAD_REQUEST,
        "2 dimensions; this collection's have 3",
    );
    bad(&upsert(json!([{"id": "x", "text": "  "}])).await, StatusCode::BAD_REQUEST, "documents[0]: text is empty");
    bad(&upsert(json!([{"id": "x", "text": "words"}])).await, StatusCode::BAD_REQUEST, "no embedding model");
    bad(&upsert(json!([{"id": "x"}])).await, StatusCode::BAD_REQUEST, "needs text or a vector");
    bad(&upsert(json!([{"id": "", "vector": [1, 0, 0]}])).await, StatusCode::BAD_REQUEST, "document id");
    bad(&upsert(json!([{"id": "x", "vector": [0, 0, 0]}])).await, StatusCode::BAD_REQUEST, "all zeros");
    let twice = json!([{"id": "x", "vector": [1, 0, 0]}, {"id": "x", "vector": [0, 1, 0]}]);
    bad(&upsert(twice).await, StatusCode::BAD_REQUEST, "appears twice");
    bad(&upsert(json!([])).await, StatusCode::BAD_REQUEST, "1 to 1000 documents");
    assert_eq!(get(&app, "/api/v1/vectors/collections/kb").await.body["chunks"], 0, "a refused upsert stores nothing");
    let search = |body: Value| {
        let app = app.clone();
        async move { post(&app, "/api/v1/vectors/collections/kb/search", body).await }
    };
    bad(&search(json!({"vector": [1, 0]})).await, StatusCode::BAD_REQUEST, "query: the vector has 2 dimensions");
    bad(&search(json!({})).await, StatusCode::BAD_REQUEST, "either query");
    bad(&search(json!({"query": "a", "vector": [1, 0, 0]})).await, StatusCode::BAD_REQUEST, "either query");
    bad(&search(json!({"vector": [1, 0, 0], "top_k": 0})).await, StatusCode::BAD_REQUEST, "top_k must be 1 to 1000");
    bad(&search(json!({"vector": [1, 0, 0], "score_threshold": 2})).await, StatusCode::BAD_REQUEST, "between -1 and 1");
    bad(&search(json!({"query": " "})).await, StatusCode::BAD_REQUEST, "the query text is empty");
    bad(
        &post(&app, "/api/v1/vectors/collections/nope/search", json!({"vector": [1]})).await,
        StatusCode::NOT_FOUND,
        "nope",
    );
    bad(&upsert(json!([])).await, StatusCode::BAD_REQUEST, "documents");
    let create = |body: Value| {
        let app = app.clone();
        async move { post(&app, "/api/v1/vectors/collections", body).await }
    };
    bad(&create(json!({"name": "kb", "dimension": 3})).await, StatusCode::CONFLICT, "already exists");
    bad(&create(json!({"name": "a b", "dimension": 3})).await, StatusCode::BAD_REQUEST, "collection name");
    bad(&create(json!({"name": "x"})).await, StatusCode::BAD_REQUEST, "needs its dimension");
    bad(&create(json!({"name": "x", "dimension": 0})).await, StatusCode::BAD_REQUEST, "dimension must be 1 to 8192");
    bad(
        &create(json!({"name": "x", "dimension": 3, "chunk_size": 10, "chunk_overlap": 10})).await,
        StatusCode::BAD_REQUEST,
        "chunk_overlap",
    );
    bad(
        &create(json!({"name": "x", "dimension": 3, "store": "qdrant"})).await,
        StatusCode::BAD_REQUEST,
        "store 'qdrant' is unknown",
    );
    bad(
        &create(json!({"name": "x", "dimension": 3, "store": "pgvector"})).await,
        StatusCode::BAD_REQUEST,
        "store 'pgvector' is not configured on this server; it has: embedded",
    );
    let unknown = create(json!({"name": "x", "dimension": 3, "metric": "l2"})).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused: {}", unknown.text);
}
