//! The collections contract on every vector store: embedded (on each catalog store), pgvector
//! (on the test Postgres, when it has the extension) and Chroma (a real server installed from
//! PyPI and started here). The same cases run on each: search with threshold and filters,
//! idempotent upserts, whole-document replacement, bad dimensions, unknown collections and
//! another workspace's collections (404), and the Retriever's `db_type` matching the store.

use super::backends::test_postgres_url;
use super::{Stores, WS};
use oxify_api::adapters::chroma::ChromaIndex;
use oxify_api::adapters::clock::SystemClock;
use oxify_api::adapters::store::{InMemoryStore, PgvectorIndex};
use oxify_api::app::collections::{CollectionService, Document, NewCollection, Query, Search};
use oxify_api::app::error::ServiceError;
use oxify_api::domain::access::Scope;
use oxify_api::domain::budget::Budget;
use oxify_api::domain::ids::WorkspaceId;
use oxify_api::domain::vectors::VectorBackend;
use oxify_api::ports::{Retrieval, RetrievalRequest, RunnerError, VectorIndex, VectorStore};
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

fn meta(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn doc(id: &str, vector: Vec<f32>, lang: &str) -> Document {
    Document {
        id: id.into(),
        text: Some(format!("text of {id} — naïve")),
        vector: Some(vector),
        metadata: meta(json!({"lang": lang, "tags": {"year": 2024, "list": [1, 2.5]}})),
    }
}

fn by_vector(vector: Vec<f32>, top_k: usize) -> Search {
    Search { query: Query::Vector(vector), top_k, score_threshold: None, filter: Map::new() }
}

async fn found(service: &CollectionService, scope: Scope, search: Search) -> Vec<String> {
    let (hits, _) = service.search(scope, "docs", search).await.unwrap();
    hits.into_iter().map(|h| h.entry.document_id).collect()
}

fn not_found<T: std::fmt::Debug>(result: Result<T, ServiceError>, what: &str) {
    assert!(matches!(result, Err(ServiceError::NotFound(_))), "{what}: {result:?}");
}

fn bad<T: std::fmt::Debug>(result: Result<T, ServiceError>, needle: &str) {
    assert!(matches!(&result, Err(ServiceError::BadRequest(m)) if m.contains(needle)), "{needle}: {result:?}");
}

/// The contract, on collections made on `store` (in fresh workspaces, so runs never meet).
pub async fn collections_contract(service: &CollectionService, store: VectorBackend) {
    let (ws, stranger) = (Scope::new(WorkspaceId::generate()), Scope::new(WorkspaceId::generate()));
    let new = |dimension| NewCollection {
        name: "docs".into(),
        dimension: Some(dimension),
        store,
        ..NewCollection::default()
    };
    let made = service.create(ws, new(3)).await.unwrap();
    assert_eq!(made.store, store);
    assert_eq!(service.list(ws).await.unwrap()[0].store, store, "the catalog keeps the store");
    let taken = service.create(ws, new(3)).await;
    assert!(matches!(taken, Err(ServiceError::Conflict(_))), "{taken:?}");

    let documents = vec![
        doc("east", vec![1.0, 0.0, 0.0], "en"),
        doc("north", vec![0.0, 1.0, 0.0], "en"),
        doc("northeast", vec![1.0, 1.0, 0.0], "fr"),
        doc("up", vec![0.0, 0.0, 5.0], "en"),
    ];
    assert_eq!(service.upsert(ws, "docs", documents.clone()).await.unwrap().chunks, 4);
    assert_eq!(service.upsert(ws, "docs", documents).await.unwrap().chunks, 4, "the same upsert again");
    let stats = service.get(ws, "docs").await.unwrap();
    assert_eq!((stats.documents, stats.chunks), (4, 4), "idempotent: still four");

    assert_eq!(found(service, ws, by_vector(vec![0.9, 0.2, 0.0], 2)).await, ["east", "northeast"]);
    let (hits, _) = service.search(ws, "docs", by_vector(vec![3.0, 0.0, 0.0], 1)).await.unwrap();
    assert!((hits[0].score - 1.0).abs() < 1e-4, "cosine, whatever the length: {}", hits[0].score);
    assert_eq!(hits[0].entry.text, "text of east — naïve");
    assert_eq!(hits[0].entry.metadata, doc("east", vec![], "en").metadata, "metadata of any shape, exactly");
    let near = Search { score_threshold: Some(0.5), ..by_vector(vec![1.0, 0.0, 0.0], 10) };
    assert_eq!(found(service, ws, near).await, ["east", "northeast"], "cos 0.707 kept, 0 left out");
    let french = Search { filter: meta(json!({"lang": "fr"})), ..by_vector(vec![0.0, 0.0, 1.0], 10) };
    assert_eq!(found(service, ws, french).await, ["northeast"]);
    let nested = Search {
        filter: meta(json!({"lang": "en", "tags": {"year": 2024, "list": [1, 2.5]}})),
        ..by_vector(vec![1.0, 0.1, 0.0], 10)
    };
    assert_eq!(found(service, ws, nested).await, ["east", "north", "up"], "nested values compare whole");
    let none = Search { filter: meta(json!({"lang": "de"})), ..by_vector(vec![1.0, 0.0, 0.0], 10) };
    assert!(found(service, ws, none).await.is_empty());

    // A document upserted again keeps only its new chunks.
    let mut split = doc("east", vec![0.0, 1.0, 0.1], "de");
    split.id = "east".into();
    service.upsert(ws, "docs", vec![split]).await.unwrap();
    let german = Search { filter: meta(json!({"lang": "de"})), ..by_vector(vec![0.0, 1.0, 0.0], 10) };
    assert_eq!(found(service, ws, german).await, ["east"]);
    assert_eq!(service.get(ws, "docs").await.unwrap().chunks, 4);

    bad(service.upsert(ws, "docs", vec![doc("x", vec![1.0, 0.0], "en")]).await, "2 dimensions");
    bad(service.search(ws, "docs", by_vector(vec![1.0, 0.0], 3)).await, "2 dimensions");
    not_found(service.search(ws, "nothing", by_vector(vec![1.0, 0.0, 0.0], 3)).await, "unknown collection");
    not_found(service.upsert(ws, "nothing", vec![doc("x", vec![1.0, 0.0, 0.0], "en")]).await, "unknown upsert");

    // Another workspace sees none of it, and its own collection of that name is apart.
    not_found(service.get(stranger, "docs").await, "another's get");
    not_found(service.search(stranger, "docs", by_vector(vec![1.0, 0.0, 0.0], 3)).await, "another's search");
    not_found(service.upsert(stranger, "docs", vec![doc("x", vec![1.0, 0.0, 0.0], "en")]).await, "another's upsert");
    not_found(service.delete_document(stranger, "docs", "north").await, "another's document");
    not_found(service.delete(stranger, "docs").await, "another's delete");
    service.create(stranger, new(3)).await.unwrap();
    service.upsert(stranger, "docs", vec![doc("theirs", vec![1.0, 0.0, 0.0], "en")]).await.unwrap();
    assert_eq!(found(service, stranger, by_vector(vec![1.0, 0.0, 0.0], 10)).await, ["theirs"]);
    assert_eq!(service.get(ws, "docs").await.unwrap().documents, 4, "ours untouched");

    // The Retriever's db_type must be the collection's store.
    let budget = Arc::new(Mutex::new(Budget::default()));
    let secrets = Map::new();
    let other = if store == VectorBackend::Embedded { VectorBackend::Pgvector } else { VectorBackend::Embedded };
    let request = RetrievalRequest {
        scope: ws,
        collection: "docs",
        db_type: other,
        query: "east",
        top_k: 3,
        score_threshold: None,
        budget: &budget,
        secrets: &secrets,
    };
    let mismatch = service.retrieve(request, &CancellationToken::new()).await;
    assert!(
        matches!(&mismatch, Err(RunnerError::Permanent(m)) if m.contains(&format!("set db_type to '{}'", store.as_str()))),
        "{mismatch:?}"
    );

    service.delete_document(ws, "docs", "north").await.unwrap();
    not_found(service.delete_document(ws, "docs", "north").await, "deleted twice");
    assert_eq!(found(service, ws, by_vector(vec![0.0, 1.0, 0.0], 10)).await.len(), 3);
    service.delete(ws, "docs").await.unwrap();
    not_found(service.get(ws, "docs").await, "deleted collection");
    service.create(ws, new(2)).await.unwrap();
    assert_eq!(service.get(ws, "docs").await.unwrap().chunks, 0, "made again: empty, with its new dimension");
    service.upsert(ws, "docs", vec![doc("flat", vec![1.0, 0.0], "en")]).await.unwrap();
    assert_eq!(found(service, ws, by_vector(vec![1.0, 0.0], 10)).await, ["flat"]);
    assert_eq!(found(service, stranger, by_vector(vec![1.0, 0.0, 0.0], 10)).await, ["theirs"]);
    service.delete(ws, "docs").await.unwrap();
    service.delete(stranger, "docs").await.unwrap();
}

/// The embedded store, over each catalog store of the contract.
pub async fn the_collections_contract_holds_on_the_embedded_store(s: Stores) {
    let service = CollectionService::new(s.vectors.clone(), None, Arc::new(SystemClock));
    collections_contract(&service, VectorBackend::Embedded).await;
    let _ = WS;
}

/// A service with its catalog in `catalog` and `index` as its one external store.
fn with_index(catalog: Arc<dyn VectorStore>, index: Arc<dyn VectorIndex>) -> CollectionService {
    CollectionService::new(catalog, None, Arc::new(SystemClock)).with_index(index)
}

/// Whether the test Postgres can have pgvector (the extension's files are installed there).
async fn pgvector_available(url: &str) -> bool {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url).await.expect("the test Postgres is reachable");
    let row: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        .fetch_optional(&mut c)
        .await
        .unwrap();
    row.is_some()
}

/// pgvector on the test Postgres, the catalog in memory or in that Postgres itself. Without the
/// extension installed there, making a pgvector collection must fail saying so.
pub async fn the_collections_contract_holds_on_pgvector(catalog: Arc<dyn VectorStore>) {
    let url = test_postgres_url();
    let index: Arc<dyn VectorIndex> = Arc::new(PgvectorIndex::connect_lazy(&url, 4).unwrap());
    let service = with_index(catalog, index);
    if !pgvector_available(&url).await {
        let new = NewCollection {
            name: "docs".into(),
            dimension: Some(3),
            store: VectorBackend::Pgvector,
            ..NewCollection::default()
        };
        let ws = Scope::new(WorkspaceId::generate());
        let refused = service.create(ws, new).await;
        assert!(
            matches!(&refused, Err(ServiceError::Unavailable(m)) if m.contains("no pgvector extension")),
            "{refused:?}"
        );
        not_found(service.get(ws, "docs").await, "a refused collection is not kept");
        eprintln!("pgvector cases skipped: the test Postgres has no pgvector extension (the refusal was checked)");
        return;
    }
    collections_contract(&service, VectorBackend::Pgvector).await;
}

/// A collection on a store the server is not configured for is refused naming what it has.
pub async fn a_store_not_configured_is_refused() {
    let service = CollectionService::new(Arc::new(InMemoryStore::new()), None, Arc::new(SystemClock));
    let new = NewCollection {
        name: "docs".into(),
        dimension: Some(3),
        store: VectorBackend::Chroma,
        ..NewCollection::default()
    };
    bad(service.create(Scope::new(WorkspaceId::generate()), new).await, "it has: embedded");
}

pub fn memory_catalog() -> Arc<dyn VectorStore> {
    Arc::new(InMemoryStore::new())
}

pub fn chroma_service(url: &str) -> CollectionService {
    with_index(memory_catalog(), Arc::new(ChromaIndex::new(url).unwrap()))
}
