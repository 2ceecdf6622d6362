//! Vector collection routes (the seed's `/api/v1/vectors/...`): collections per workspace,
//! documents upserted as text (split and embedded by the collection's model) or as vectors,
//! and similarity search. Reads need the Read role, writes the Write role; a collection of
//! another workspace does not exist here (404).

use super::AppState;
use super::caller::{Caller, Writer};
use super::dto::MessageResponse;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use crate::app::collections::{CollectionStats, Document, NewCollection, Query, Search};
use crate::domain::usage::Usage;
use crate::domain::vectors::{Collection, EmbeddingModel, VectorBackend};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// An embedding model: a provider the server knows and one of its models.
#[derive(Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingBody {
    /// `openai`, `ollama` or `local` (any OpenAI-compatible `/embeddings` server).
    #[schema(example = "openai")]
    pub provider: String,
    #[schema(example = "text-embedding-3-small")]
    pub model: String,
}

/// A collection to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCollectionRequest {
    /// 1 to 64 letters, digits, `-`, `_` or `.`, starting with a letter or digit; unique in the
    /// workspace.
    #[schema(example = "docs")]
    pub name: String,
    pub description: Option<String>,
    /// Every vector's length, 1 to 8192. Required without `embedding`; with one, learned from
    /// the model (one probe call) when absent.
    pub dimension: Option<usize>,
    /// The model that embeds documents and query texts, fixed for the collection's life.
    /// Without one, documents and queries must come as vectors.
    pub embedding: Option<EmbeddingBody>,
    /// Characters per chunk when a document is split (default 1000, at most 16000).
    pub chunk_size: Option<usize>,
    /// Characters shared by neighbouring chunks (default 100; less than `chunk_size`).
    pub chunk_overlap: Option<usize>,
    /// Where its chunks live, fixed for its life: `embedded` (default; the server's own
    /// storage), `pgvector` (a Postgres server with the pgvector extension) or `chroma` (a
    /// Chroma server), as configured on this server. A Retriever node's `db_type` must name it.
    #[schema(example = "embedded")]
    pub store: Option<String>,
}

/// A collection.
#[derive(Serialize, ToSchema)]
pub struct CollectionBody {
    pub name: String,
    pub description: Option<String>,
    pub dimension: usize,
    pub embedding: Option<EmbeddingBody>,
    pub chunk_size: usize,
    pub chunk_overlap: usize,
    /// Always `cosine`.
    pub metric: &'static str,
    /// `embedded`, `pgvector` or `chroma`.
    pub store: &'static str,
    pub created_at: DateTime<Utc>,
    /// Documents stored (in `GET /api/v1/vectors/collections/{name}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documents: Option<usize>,
    /// Chunks stored (in `GET /api/v1/vectors/collections/{name}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<usize>,
}

impl From<Collection> for CollectionBody {
    fn from(c: Collection) -> Self {
        Self {
            name: c.name,
            description: c.description,
            dimension: c.dimension,
            embedding: c.embedding.map(|e| EmbeddingBody { provider: e.provider, model: e.model }),
            chunk_size: c.chunk_size,
            chunk_overlap: c.chunk_overlap,
            metric: "cosine",
            store: c.store.as_str(),
            created_at: c.created_at,
            documents: None,
            chunks: None,
        }
    }
}

impl From<CollectionStats> for CollectionBody {
    fn from(s: CollectionStats) -> Self {
        Self { documents: Some(s.documents), chunks: Some(s.chunks), ..s.collection.into() }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CollectionList {
    pub collections: Vec<CollectionBody>,
    pub total: u64,
}

/// One document to upsert: `text` (split into chunks, each embedded by the collection's
/// model) or `vector` (stored as one chunk, with `text` kept beside it if given).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentBody {
    /// Unique in the collection; upserting it again replaces all its chunks.
    #[schema(example = "faq-1")]
    pub id: String,
    pub text: Option<String>,
    /// Exactly the collection's dimension.
    pub vector: Option<Vec<f32>>,
    /// Kept with every chunk; searches filter on it by equality.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

/// Documents to upsert (1 to 1000).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpsertRequest {
    pub documents: Vec<DocumentBody>,
}

/// What an upsert stored.
#[derive(Serialize, ToSchema)]
pub struct UpsertBody {
    pub documents: usize,
    pub chunks: usize,
    /// The embedding calls' tokens (and cost when the model's price is configured).
    pub usage: Option<Usage>,
}

/// A search: `query` text (embedded by the collection's model) or a `vector`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    pub query: Option<String>,
    pub vector: Option<Vec<f32>>,
    /// Results wanted, 1 to 1000 (default 5).
    pub top_k: Option<usize>,
    /// Least cosine similarity kept, -1 to 1.
    pub score_threshold: Option<f32>,
    /// Metadata keys and the values they must equal.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub filter: Map<String, Value>,
}

/// One chunk found.
#[derive(Serialize, ToSchema)]
pub struct SearchHit {
    /// `<document id>#<chunk index>`.
    pub id: String,
    pub document_id: String,
    pub chunk_index: u32,
    pub text: String,
    /// Cosine similarity, -1 to 1.
    pub score: f32,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

/// The chunks found, best first.
#[derive(Serialize, ToSchema)]
pub struct SearchBody {
    pub results: Vec<SearchHit>,
    /// The query's embedding tokens, when a text was embedded.
    pub usage: Option<Usage>,
}

/// Makes a collection in the caller's workspace. Needs the Write role.
#[utoipa::path(
    post, path = "/api/v1/vectors/collections", tag = "vectors", request_body = CreateCollectionRequest,
    responses(
        (status = 201, body = CollectionBody),
        (status = 400, description = "Bad name, dimension, chunking, model or store", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, description = "The embedding model or the store is unavailable (pgvector: the extension is missing)", body = ErrorBody),
    )
)]
pub async fn create_collection(
    State(state): State<AppState>,
    Writer(scope): Writer,
    caller: Caller,
    ApiJson(request): ApiJson<CreateCollectionRequest>,
) -> Result<(StatusCode, Json<CollectionBody>), ApiError> {
    let store = match request.store.as_deref() {
        None => VectorBackend::Embedded,
        Some(name) => VectorBackend::parse(name).ok_or_else(|| {
            ApiError::bad_request(format!("store '{name}' is unknown: expected embedded, pgvector or chroma"))
        })?,
    };
    let new = NewCollection {
        store,
        name: request.name,
        description: request.description,
        dimension: request.dimension,
        embedding: request.embedding.map(|e| EmbeddingModel { provider: e.provider, model: e.model }),
        chunk_size: request.chunk_size,
        chunk_overlap: request.chunk_overlap,
    };
    let collection = state.collections.create(scope, new).await?;
    state.audit.record(&caller.0, "collection.created", Some(collection.name.clone()), serde_json::json!({})).await;
    Ok((StatusCode::CREATED, Json(collection.into())))
}

/// The workspace's collections, by name.
#[utoipa::path(
    get, path = "/api/v1/vectors/collections", tag = "vectors",
    responses((status = 200, body = CollectionList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn list_collections(State(state): State<AppState>, caller: Caller) -> Result<Json<CollectionList>, ApiError> {
    let collections: Vec<CollectionBody> =
        state.collections.list(caller.scope()).await?.into_iter().map(Into::into).collect();
    Ok(Json(CollectionList { total: collections.len() as u64, collections }))
}

/// One collection, with its document and chunk counts.
#[utoipa::path(
    get, path = "/api/v1/vectors/collections/{name}", tag = "vectors", params(("name" = String, Path)),
    responses(
        (status = 200, body = CollectionBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn get_collection(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<CollectionBody>, ApiError> {
    Ok(Json(state.collections.get(caller.scope(), &name).await?.into()))
}

/// Deletes a collection and everything in it. Needs the Write role.
#[utoipa::path(
    delete, path = "/api/v1/vectors/collections/{name}", tag = "vectors", params(("name" = String, Path)),
    responses(
        (status = 200, body = MessageResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn delete_collection(
    State(state): State<AppState>,
    Writer(scope): Writer,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<MessageResponse>, ApiError> {
    state.collections.delete(scope, &name).await?;
    state.audit.record(&caller.0, "collection.deleted", Some(name), serde_json::json!({})).await;
    Ok(Json(MessageResponse { message: "Collection deleted successfully".into() }))
}

/// Upserts documents: each is split and embedded (or taken as its vector) and replaces every
/// chunk its id had. Idempotent: sending the same documents again changes nothing; a large
/// set can be sent in parts and a failed part sent again. Needs the Write role.
#[utoipa::path(
    post, path = "/api/v1/vectors/collections/{name}/vectors", tag = "vectors", params(("name" = String, Path)),
    request_body = UpsertRequest,
    responses(
        (status = 200, body = UpsertBody),
        (status = 400, description = "A bad id, empty text, a vector of the wrong dimension, a failed embedding", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, description = "The embedding model is unavailable for now", body = ErrorBody),
    )
)]
pub async fn upsert_vectors(
    State(state): State<AppState>,
    Writer(scope): Writer,
    ApiPath(name): ApiPath<String>,
    ApiJson(request): ApiJson<UpsertRequest>,
) -> Result<Json<UpsertBody>, ApiError> {
    let documents = request
        .documents
        .into_iter()
        .map(|d| Document { id: d.id, text: d.text, vector: d.vector, metadata: d.metadata })
        .collect();
    let done = state.collections.upsert(scope, &name, documents).await?;
    Ok(Json(UpsertBody { documents: done.documents, chunks: done.chunks, usage: done.usage }))
}

/// Deletes one document (all its chunks). Needs the Write role.
#[utoipa::path(
    delete, path = "/api/v1/vectors/collections/{name}/vectors/{id}", tag = "vectors",
    params(("name" = String, Path), ("id" = String, Path, description = "The document id")),
    responses(
        (status = 200, body = MessageResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn delete_vector(
    State(state): State<AppState>,
    Writer(scope): Writer,
    ApiPath((name, id)): ApiPath<(String, String)>,
) -> Result<Json<MessageResponse>, ApiError> {
    state.collections.delete_document(scope, &name, &id).await?;
    Ok(Json(MessageResponse { message: "Document deleted successfully".into() }))
}

/// Searches a collection by cosine similarity.
#[utoipa::path(
    post, path = "/api/v1/vectors/collections/{name}/search", tag = "vectors", params(("name" = String, Path)),
    request_body = SearchRequest,
    responses(
        (status = 200, body = SearchBody),
        (status = 400, description = "No query, both, empty text, a vector of the wrong dimension", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    )
)]
pub async fn search_collection(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(request): ApiJson<SearchRequest>,
) -> Result<Json<SearchBody>, ApiError> {
    let query = match (request.query, request.vector) {
        (Some(text), None) => Query::Text(text),
        (None, Some(vector)) => Query::Vector(vector),
        _ => return Err(ApiError::bad_request("a search has either query (a text) or vector, not both")),
    };
    let search = Search {
        query,
        top_k: request.top_k.unwrap_or(5),
        score_threshold: request.score_threshold,
        filter: request.filter,
    };
    let (hits, usage) = state.collections.search(caller.scope(), &name, search).await?;
    let results = hits
        .into_iter()
        .map(|h| SearchHit {
            id: format!("{}#{}", h.entry.document_id, h.entry.index),
            document_id: h.entry.document_id,
            chunk_index: h.entry.index,
            text: h.entry.text,
            score: h.score,
            metadata: h.entry.metadata,
        })
        .collect();
    Ok(Json(SearchBody { results, usage }))
}
