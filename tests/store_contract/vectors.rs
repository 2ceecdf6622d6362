//! Vector collections: kept per workspace by name, documents replaced whole, every write counted
//! in the collection's revision (how a server notices another's writes), vectors and metadata
//! kept exactly; and the collections use cases over each store, including two servers sharing one.

use super::backends::reopen;
use super::{Stores, WS, at};
use oxify_api::adapters::clock::SystemClock;
use oxify_api::app::collections::{CollectionService, Document, NewCollection, Query, Search};
use oxify_api::app::error::ServiceError;
use oxify_api::domain::access::Scope;
use oxify_api::domain::ids::WorkspaceId;
use oxify_api::domain::vectors::{Chunk, Collection};
use oxify_api::ports::StoreError;
use serde_json::{Map, Value, json};
use std::sync::Arc;

fn collection(name: &str, dimension: usize) -> Collection {
    Collection {
        name: name.into(),
        description: Some(format!("about {name}")),
        dimension,
        embedding: None,
        chunk_size: 500,
        chunk_overlap: 50,
        created_at: at(1),
        revision: 0,
        store: oxify_api::domain::vectors::VectorBackend::Embedded,
    }
}

fn meta(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn chunk(doc: &str, index: u32, vector: Vec<f32>) -> Chunk {
    Chunk {
        document_id: doc.into(),
        index,
        text: format!("{doc} part {index} — naïve 日本語"),
        metadata: meta(json!({"doc": doc, "n": index, "nested": {"a": [1, 2.5]}})),
        vector,
    }
}

fn other() -> Scope {
    Scope::new(WorkspaceId::generate())
}

fn missing<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    assert!(matches!(result, Err(StoreError::NotFound { .. })), "{what}: {result:?}");
}

pub async fn collections_are_kept_per_workspace_by_name(s: Stores) {
    let b = other();
    s.vectors.create_collection(WS, &collection("zeta", 3)).await.unwrap();
    s.vectors.create_collection(WS, &collection("alpha", 4)).await.unwrap();
    let taken = s.vectors.create_collection(WS, &collection("alpha", 8)).await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    s.vectors.create_collection(b, &collection("alpha", 2)).await.unwrap();
    let names: Vec<String> = s.vectors.collections(WS).await.unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["alpha", "zeta"]);
    assert_eq!(s.vectors.collection(WS, "alpha").await.unwrap().unwrap(), collection("alpha", 4));
    assert_eq!(s.vectors.collection(b, "alpha").await.unwrap().unwrap().dimension, 2);
    assert!(s.vectors.collection(b, "zeta").await.unwrap().is_none(), "another workspace's is not there");
    missing(s.vectors.put_documents(b, "zeta", &[chunk("d", 0, vec![1.0, 0.0, 0.0])]).await, "put");
    missing(s.vectors.chunks(b, "zeta").await, "chunks");
    missing(s.vectors.delete_collection(b, "zeta").await, "delete");
    s.vectors.put_documents(WS, "zeta", &[chunk("d", 0, vec![1.0, 0.0, 0.0])]).await.unwrap();
    missing(s.vectors.delete_document(b, "zeta", "d").await, "delete_document");
    s.vectors.delete_collection(WS, "zeta").await.unwrap();
    missing(s.vectors.delete_collection(WS, "zeta").await, "deleted twice");
    assert!(s.vectors.collection(WS, "zeta").await.unwrap().is_none());
    s.vectors.create_collection(WS, &collection("zeta", 3)).await.unwrap();
    assert!(s.vectors.chunks(WS, "zeta").await.unwrap().is_empty(), "a collection made again starts empty");
    assert_eq!(s.vectors.collections(b).await.unwrap().len(), 1);
}

pub async fn documents_are_replaced_whole_and_counted_in_revisions(s: Stores) {
    s.vectors.create_collection(WS, &collection("c", 2)).await.unwrap();
    let first = [chunk("a", 0, vec![1.0, 0.0]), chunk("a", 1, vec![0.0, 1.0]), chunk("a", 2, vec![1.0, 1.0])];
    assert_eq!(s.vectors.put_documents(WS, "c", &first).await.unwrap(), 1);
    assert_eq!(s.vectors.put_documents(WS, "c", &[chunk("b", 0, vec![0.5, 0.5])]).await.unwrap(), 2);
    let again = [chunk("a", 0, vec![0.0, 2.0])];
    assert_eq!(s.vectors.put_documents(WS, "c", &again).await.unwrap(), 3, "a document upserted again");
    let stored = s.vectors.chunks(WS, "c").await.unwrap();
    let ids: Vec<String> = stored.iter().map(Chunk::id).collect();
    assert_eq!(ids, ["a#0", "b#0"], "a's old chunks 1 and 2 are gone");
    assert_eq!(stored[0].vector, [0.0, 2.0]);
    assert_eq!(s.vectors.collection(WS, "c").await.unwrap().unwrap().revision, 3);
    missing(s.vectors.delete_document(WS, "c", "nope").await, "unknown document");
    assert_eq!(s.vectors.collection(WS, "c").await.unwrap().unwrap().revision, 3, "a refused delete counts nothing");
    assert_eq!(s.vectors.delete_document(WS, "c", "a").await.unwrap(), 4);
    assert_eq!(s.vectors.chunks(WS, "c").await.unwrap().len(), 1);
    missing(s.vectors.put_documents(WS, "nope", &again).await, "unknown collection");
}

pub async fn chunks_survive_a_restart_exactly(s: Stores) {
    s.vectors.create_collection(WS, &collection("keep", 4)).await.unwrap();
    let awkward = vec![f32::MIN_POSITIVE, -0.0, 1.0e-38, 123_456.79];
    let written = [chunk("x", 0, awkward.clone()), chunk("x", 1, vec![-1.0, 0.25, 0.5, 0.75])];
    s.vectors.put_documents(WS, "keep", &written).await.unwrap();
    let s = reopen(s).await;
    let stored = s.vectors.chunks(WS, "keep").await.unwrap();
    assert_eq!(stored, written, "text, metadata and every bit of each vector");
    assert_eq!(
        stored[0].vector.iter().map(|f| f.to_bits()).collect::<Vec<_>>(),
        awkward.iter().map(|f| f.to_bits()).collect::<Vec<_>>()
    );
    let c = s.vectors.collection(WS, "keep").await.unwrap().unwrap();
    assert_eq!((c.created_at, c.revision, c.description.as_deref()), (at(1), 1, Some("about keep")));
}

fn service(s: &Stores) -> CollectionService {
    CollectionService::new(s.vectors.clone(), None, Arc::new(SystemClock))
}

fn doc(id: &str, vector: Vec<f32>, lang: &str) -> Document {
    Document {
        id: id.into(),
        text: Some(format!("text of {id}")),
        vector: Some(vector),
        metadata: meta(json!({"lang": lang})),
    }
}

fn by_vector(vector: Vec<f32>, top_k: usize) -> Search {
    Search { query: Query::Vector(vector), top_k, score_threshold: None, filter: Map::new() }
}

async fn found(service: &CollectionService, scope: Scope, search: Search) -> Vec<String> {
    let (hits, _) = service.search(scope, "docs", search).await.unwrap();
    hits.into_iter().map(|h| h.entry.document_id).collect()
}

async fn made(service: &CollectionService, scope: Scope, dimension: usize) {
    let new = NewCollection { name: "docs".into(), dimension: Some(dimension), ..NewCollection::default() };
    service.create(scope, new).await.unwrap();
}

pub async fn collections_search_by_cosine_with_threshold_and_filter(s: Stores) {
    let service = service(&s);
    made(&service, WS, 3).await;
    let documents = vec![
        doc("east", vec![1.0, 0.0, 0.0], "en"),
        doc("north", vec![0.0, 1.0, 0.0], "en"),
        doc("northeast", vec![1.0, 1.0, 0.0], "fr"),
        doc("up", vec![0.0, 0.0, 5.0], "en"),
    ];
    let done = service.upsert(WS, "docs", documents.clone()).await.unwrap();
    assert_eq!((done.documents, done.chunks), (4, 4));
    assert_eq!(service.upsert(WS, "docs", documents).await.unwrap().chunks, 4, "the same upsert again");
    assert_eq!(service.get(WS, "docs").await.unwrap().chunks, 4, "idempotent: still four");
    assert_eq!(found(&service, WS, by_vector(vec![0.9, 0.2, 0.0], 2)).await, ["east", "northeast"]);
    let (hits, usage) = service.search(WS, "docs", by_vector(vec![3.0, 0.0, 0.0], 1)).await.unwrap();
    assert!((hits[0].score - 1.0).abs() < 1e-6 && usage.is_none(), "cosine, whatever the length");
    assert_eq!(hits[0].entry.text, "text of east");
    let near = Search { score_threshold: Some(0.5), ..by_vector(vec![1.0, 0.0, 0.0], 10) };
    assert_eq!(found(&service, WS, near).await, ["east", "northeast"], "cos 0.707 kept, 0 left out");
    let french = Search { filter: meta(json!({"lang": "fr"})), ..by_vector(vec![0.0, 0.0, 1.0], 10) };
    assert_eq!(found(&service, WS, french).await, ["northeast"]);
    let wrong = service.search(WS, "docs", by_vector(vec![1.0, 0.0], 3)).await;
    assert!(matches!(&wrong, Err(ServiceError::BadRequest(m)) if m.contains("2 dimensions")), "{wrong:?}");
    let stranger = service.search(other(), "docs", by_vector(vec![1.0, 0.0, 0.0], 3)).await;
    assert!(matches!(stranger, Err(ServiceError::NotFound(_))), "another workspace's collection is not found");
    let no_model =
        service.search(WS, "docs", Search { query: Query::Text("east".into()), ..by_vector(vec![], 3) }).await;
    assert!(matches!(&no_model, Err(ServiceError::BadRequest(m)) if m.contains("no embedding model")), "{no_model:?}");
    service.delete_document(WS, "docs", "east").await.unwrap();
    assert_eq!(found(&service, WS, by_vector(vec![1.0, 0.0, 0.0], 1)).await, ["northeast"]);
}

pub async fn a_second_server_sees_the_first_servers_writes(s: Stores) {
    // Two servers on one database (each with its own in-process index), or one server after a
    // restart on the memory store: what one writes, the other finds.
    let (one, two) = (service(&s), service(&s));
    made(&one, WS, 2).await;
    one.upsert(WS, "docs", vec![doc("a", vec![1.0, 0.0], "en")]).await.unwrap();
    assert_eq!(found(&two, WS, by_vector(vec![1.0, 0.0], 5)).await, ["a"], "two loads its index");
    one.upsert(WS, "docs", vec![doc("b", vec![0.9, 0.1], "en")]).await.unwrap();
    assert_eq!(found(&two, WS, by_vector(vec![1.0, 0.0], 5)).await, ["a", "b"], "two notices one's upsert");
    two.upsert(WS, "docs", vec![doc("c", vec![0.8, 0.2], "en")]).await.unwrap();
    one.delete_document(WS, "docs", "a").await.unwrap();
    assert_eq!(found(&one, WS, by_vector(vec![1.0, 0.0], 5)).await, ["b", "c"], "one missed two's write: reloaded");
    assert_eq!(found(&two, WS, by_vector(vec![1.0, 0.0], 5)).await, ["b", "c"]);
    two.delete(WS, "docs").await.unwrap();
    made(&two, WS, 2).await;
    two.upsert(WS, "docs", vec![doc("z", vec![0.0, 1.0], "en")]).await.unwrap();
    assert_eq!(found(&one, WS, by_vector(vec![1.0, 0.0], 5)).await, ["z"], "a collection made again is another");
}

pub async fn concurrent_upserts_of_one_collection_count_every_revision(s: Stores) {
    let service = Arc::new(service(&s));
    made(&service, WS, 2).await;
    let mut tasks = Vec::new();
    for t in 0..4 {
        let (one, store) = (service.clone(), s.vectors.clone());
        tasks.push(tokio::spawn(async move {
            for k in 0..5 {
                let id = format!("t{t}-{k}");
                if t % 2 == 0 {
                    one.upsert(WS, "docs", vec![doc(&id, vec![1.0, k as f32], "en")]).await.unwrap();
                } else {
                    // Straight to the store, as another server would.
                    store.put_documents(WS, "docs", &[chunk(&id, 0, vec![1.0, k as f32])]).await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.vectors.collection(WS, "docs").await.unwrap().unwrap().revision, 20);
    assert_eq!(found(&service, WS, by_vector(vec![1.0, 0.0], 100)).await.len(), 20, "the index has every document");
}
