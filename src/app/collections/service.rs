//! The collections use cases: make and drop collections, upsert documents (split, embedded by
//! the collection's model, stored, indexed), delete them, and search. Every call is confined to
//! the caller's workspace.

use super::index::{Entry, FlatIndex, Hit};
use super::split;
use crate::app::error::ServiceError;
use crate::domain::access::Scope;
use crate::domain::budget::Budget;
use crate::domain::ids::WorkspaceId;
use crate::domain::usage::Usage;
use crate::domain::vectors::{
    Chunk, Collection, EmbeddingModel, MAX_DIMENSION, MAX_TOP_K, VectorBackend, document_id_problem, name_problem,
    vector_problem,
};
use crate::ports::{
    Clock, EmbedRequest, Embedder, Retrieval, RetrievalRequest, Retrieved, RunnerError, StoreError, VectorIndex,
    VectorQuery, VectorStore,
};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;

/// Retries of a 429 or 5xx when embedding for a request (outside the executor).
const API_RETRIES: u32 = 3;
/// Most documents in one upsert.
pub const MAX_DOCUMENTS: usize = 1000;

/// A collection to make.
#[derive(Clone, Debug, Default)]
pub struct NewCollection {
    pub name: String,
    pub description: Option<String>,
    /// Required without an embedding model; else learned from the model when absent.
    pub dimension: Option<usize>,
    pub embedding: Option<EmbeddingModel>,
    pub chunk_size: Option<usize>,
    pub chunk_overlap: Option<usize>,
    /// Where its chunks live (default: the embedded store).
    pub store: VectorBackend,
}

/// A collection with its size.
#[derive(Clone, Debug)]
pub struct CollectionStats {
    pub collection: Collection,
    pub documents: usize,
    pub chunks: usize,
}

/// A document to upsert: text (split and embedded) or one precomputed vector (with optional
/// text kept beside it).
#[derive(Clone, Debug, Default)]
pub struct Document {
    pub id: String,
    pub text: Option<String>,
    pub vector: Option<Vec<f32>>,
    pub metadata: Map<String, Value>,
}

/// What an upsert did.
#[derive(Clone, Debug, Default)]
pub struct Upserted {
    pub documents: usize,
    pub chunks: usize,
    /// The embedding calls' usage, if any were made.
    pub usage: Option<Usage>,
}

/// What to search with.
#[derive(Clone, Debug)]
pub enum Query {
    Text(String),
    Vector(Vec<f32>),
}

/// A search.
#[derive(Clone, Debug)]
pub struct Search {
    pub query: Query,
    pub top_k: usize,
    pub score_threshold: Option<f32>,
    /// Metadata keys with the values they must equal.
    pub filter: Map<String, Value>,
}

/// Who pays for a search's embedding: an execution's budget and secrets, or nobody (an API call).
#[derive(Default)]
pub struct Payer<'a> {
    pub budget: Option<&'a Arc<Mutex<Budget>>>,
    pub secrets: Option<&'a Map<String, Value>>,
    pub retries: u32,
}

/// A collection's index and the store state it reflects.
struct Loaded {
    /// Which collection of this name (one deleted and made again is another).
    created_at: chrono::DateTime<chrono::Utc>,
    /// The store's revision it reflects.
    revision: u64,
    index: FlatIndex,
}

impl Loaded {
    fn current(&self, collection: &Collection) -> bool {
        self.created_at == collection.created_at && self.revision == collection.revision
    }
}

type Slot = Arc<RwLock<Option<Loaded>>>;

/// The collections of every workspace, with an in-process index per collection in use.
pub struct CollectionService {
    store: Arc<dyn VectorStore>,
    embedder: Option<Arc<dyn Embedder>>,
    clock: Arc<dyn Clock>,
    indexes: Mutex<HashMap<(WorkspaceId, String), Slot>>,
    /// The external vector databases this server is configured for.
    external: HashMap<VectorBackend, Arc<dyn VectorIndex>>,
}

fn bad(message: impl Into<String>) -> ServiceError {
    ServiceError::BadRequest(message.into())
}

/// An embedding failure as the API reports it.
fn embedding_error(e: RunnerError) -> ServiceError {
    match e {
        RunnerError::Retryable { message, .. } => ServiceError::Unavailable(format!("embedding failed: {message}")),
        other => bad(format!("embedding failed: {other}")),
    }
}

impl CollectionService {
    #[must_use]
    pub fn new(store: Arc<dyn VectorStore>, embedder: Option<Arc<dyn Embedder>>, clock: Arc<dyn Clock>) -> Self {
        Self { store, embedder, clock, indexes: Mutex::default(), external: HashMap::new() }
    }

    /// Adds an external vector database collections can be made on.
    #[must_use]
    pub fn with_index(mut self, index: Arc<dyn VectorIndex>) -> Self {
        self.external.insert(index.backend(), index);
        self
    }

    /// The stores collections can be made on here: the embedded one and those configured.
    #[must_use]
    pub fn backends(&self) -> Vec<VectorBackend> {
        VectorBackend::ALL
            .into_iter()
            .filter(|b| *b == VectorBackend::Embedded || self.external.contains_key(b))
            .collect()
    }

    /// The external database holding `store`'s chunks (`None` for the embedded store).
    fn external(&self, store: VectorBackend) -> Result<Option<&Arc<dyn VectorIndex>>, ServiceError> {
        if store == VectorBackend::Embedded {
            return Ok(None);
        }
        self.external.get(&store).map(Some).ok_or_else(|| {
            ServiceError::Unavailable(format!("this server is not configured for {} collections", store.as_str()))
        })
    }

    fn slot(&self, scope: Scope, name: &str) -> Slot {
        let mut all = self.indexes.lock().unwrap_or_else(PoisonError::into_inner);
        all.entry((scope.workspace(), name.to_owned())).or_default().clone()
    }

    fn forget(&self, scope: Scope, name: &str) {
        self.indexes.lock().unwrap_or_else(PoisonError::into_inner).remove(&(scope.workspace(), name.to_owned()));
    }

    async fn collection(&self, scope: Scope, name: &str) -> Result<Collection, ServiceError> {
        self.store
            .collection(scope, name)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("Collection {name} not found")))
    }

    fn embedder(&self) -> Result<&Arc<dyn Embedder>, ServiceError> {
        self.embedder.as_ref().ok_or_else(|| ServiceError::Unavailable("this server has no embedding models".into()))
    }

    async fn embed(
        &self,
        model: &EmbeddingModel,
        inputs: &[String],
        payer: &Payer<'_>,
        cancel: &CancellationToken,
    ) -> Result<(Vec<Vec<f32>>, Option<Usage>), RunnerError> {
        let Some(embedder) = self.embedder.as_ref() else {
            return Err(RunnerError::Permanent("this server has no embedding models".into()));
        };
        let none = Map::new();
        let request = EmbedRequest {
            provider: &model.provider,
            model: &model.model,
            secrets: payer.secrets.unwrap_or(&none),
            inputs,
            budget: payer.budget,
            retries: payer.retries,
        };
        let embedded = embedder.embed(request, cancel).await?;
        Ok((embedded.vectors, embedded.usage))
    }

    /// Makes a collection. Without `dimension`, one probe text is embedded to learn it.
    ///
    /// # Errors
    /// A bad name, dimension, chunking or model (400), a name taken (409), the model failing.
    pub async fn create(&self, scope: Scope, new: NewCollection) -> Result<Collection, ServiceError> {
        if let Some(problem) = name_problem(&new.name) {
            return Err(bad(problem));
        }
        let size = new.chunk_size.unwrap_or(split::DEFAULT_CHUNK_SIZE);
        let overlap = new.chunk_overlap.unwrap_or(split::DEFAULT_CHUNK_OVERLAP.min(size / 2));
        if let Some(problem) = split::problem(size, overlap) {
            return Err(bad(problem));
        }
        if let Some(model) = &new.embedding {
            if model.model.trim().is_empty() {
                return Err(bad("embedding.model is empty"));
            }
            if let Some(problem) = self.embedder()?.problem(&model.provider) {
                return Err(bad(format!("embedding.provider: {problem}")));
            }
        }
        if !self.backends().contains(&new.store) {
            let names: Vec<&str> = self.backends().iter().map(|b| b.as_str()).collect();
            return Err(bad(format!(
                "store '{}' is not configured on this server; it has: {}",
                new.store.as_str(),
                names.join(", ")
            )));
        }
        let dimension = match (new.dimension, &new.embedding) {
            (Some(d), _) => d,
            (None, Some(model)) => {
                let payer = Payer { retries: API_RETRIES, ..Payer::default() };
                let (vectors, _) = self
                    .embed(model, &["dimension probe".to_owned()], &payer, &CancellationToken::new())
                    .await
                    .map_err(embedding_error)?;
                vectors.first().map_or(0, Vec::len)
            }
            (None, None) => return Err(bad("a collection without an embedding model needs its dimension")),
        };
        if dimension == 0 || dimension > MAX_DIMENSION {
            return Err(bad(format!("dimension must be 1 to {MAX_DIMENSION}, got {dimension}")));
        }
        let collection = Collection {
            name: new.name,
            description: new.description,
            dimension,
            embedding: new.embedding,
            chunk_size: size,
            chunk_overlap: overlap,
            created_at: chrono::SubsecRound::trunc_subsecs(self.clock.now(), 6),
            revision: 0,
            store: new.store,
        };
        self.store.create_collection(scope, &collection).await?;
        if let Some(index) = self.external(collection.store)? {
            // The catalog row first: a name taken is refused before the database is touched.
            if let Err(e) = index.create(scope, &collection).await {
                if let Err(undo) = self.store.delete_collection(scope, &collection.name).await {
                    tracing::warn!(error = %undo, "a collection whose store failed stays in the catalog");
                }
                return Err(e.into());
            }
        }
        self.forget(scope, &collection.name);
        Ok(collection)
    }

    /// # Errors
    /// Storage failures.
    pub async fn list(&self, scope: Scope) -> Result<Vec<Collection>, ServiceError> {
        Ok(self.store.collections(scope).await?)
    }

    /// A collection with its document and chunk counts.
    ///
    /// # Errors
    /// 404 for a collection the workspace does not have.
    pub async fn get(&self, scope: Scope, name: &str) -> Result<CollectionStats, ServiceError> {
        let collection = self.collection(scope, name).await?;
        if let Some(index) = self.external(collection.store)? {
            let (documents, chunks) = index.counts(scope, &collection).await?;
            return Ok(CollectionStats { collection, documents, chunks });
        }
        let slot = self.loaded(scope, &collection).await?;
        let loaded = slot.read().await;
        let (documents, chunks) = loaded.as_ref().map_or((0, 0), |l| (l.index.documents(), l.index.chunks()));
        Ok(CollectionStats { collection, documents, chunks })
    }

    /// # Errors
    /// 404 for a collection the workspace does not have.
    pub async fn delete(&self, scope: Scope, name: &str) -> Result<(), ServiceError> {
        let collection = self.collection(scope, name).await?;
        if let Some(index) = self.external(collection.store)? {
            self.store.delete_collection(scope, name).await?;
            return Ok(index.drop_collection(scope, &collection).await?);
        }
        let slot = self.slot(scope, name);
        let mut loaded = slot.write().await;
        let deleted = self.store.delete_collection(scope, name).await;
        *loaded = None;
        self.forget(scope, name);
        Ok(deleted?)
    }

    /// The collection's index, (re)loaded from the store when this process has none that
    /// reflects `collection` as just read (another server may have written to it). The chunks
    /// are read after `collection`: an index may reflect more than its revision says, never
    /// less, so at worst it is loaded once more.
    async fn loaded(&self, scope: Scope, collection: &Collection) -> Result<Slot, ServiceError> {
        let slot = self.slot(scope, &collection.name);
        if slot.read().await.as_ref().is_some_and(|l| l.current(collection)) {
            return Ok(slot);
        }
        let mut loaded = slot.write().await;
        if !loaded.as_ref().is_some_and(|l| l.current(collection)) {
            let chunks = self.store.chunks(scope, &collection.name).await?;
            *loaded = Some(Loaded {
                created_at: collection.created_at,
                revision: collection.revision,
                index: FlatIndex::new(collection.dimension, chunks),
            });
        }
        drop(loaded);
        Ok(slot)
    }

    /// After a write through this process took the store to `revision`: the index follows with
    /// `apply` when it was exactly one write behind, else it is dropped, to be loaded again.
    fn follow(loaded: &mut Option<Loaded>, collection: &Collection, revision: u64, apply: impl FnOnce(&mut FlatIndex)) {
        match loaded.as_mut() {
            Some(l) if l.created_at == collection.created_at && l.revision + 1 == revision => {
                apply(&mut l.index);
                l.revision = revision;
            }
            _ => *loaded = None,
        }
    }

    /// Upserts documents: each replaces every chunk its id had before.
    ///
    /// # Errors
    /// 404 for an unknown collection; 400 for a bad id, empty text, a vector of the wrong
    /// dimension, text to embed in a collection without a model; the model failing.
    pub async fn upsert(&self, scope: Scope, name: &str, documents: Vec<Document>) -> Result<Upserted, ServiceError> {
        let collection = self.collection(scope, name).await?;
        if documents.is_empty() || documents.len() > MAX_DOCUMENTS {
            return Err(bad(format!("an upsert has 1 to {MAX_DOCUMENTS} documents, got {}", documents.len())));
        }
        let mut seen = std::collections::HashSet::new();
        let mut pieces: Vec<(usize, String)> = Vec::new();
        for (i, d) in documents.iter().enumerate() {
            let at = |m: String| bad(format!("documents[{i}]: {m}"));
            if let Some(problem) = document_id_problem(&d.id) {
                return Err(at(problem));
            }
            if !seen.insert(d.id.as_str()) {
                return Err(at(format!("document id '{}' appears twice", d.id)));
            }
            if d.text.as_deref().is_some_and(|t| t.contains('\0')) {
                return Err(at("text holds a NUL character".into()));
            }
            match (&d.vector, &d.text) {
                (Some(v), _) => {
                    if let Some(problem) = vector_problem(v, collection.dimension) {
                        return Err(at(problem));
                    }
                }
                (None, Some(text)) if text.trim().is_empty() => return Err(at("text is empty".into())),
                (None, Some(text)) => {
                    if collection.embedding.is_none() {
                        return Err(at(format!(
                            "collection {name} has no embedding model: give each document its vector"
                        )));
                    }
                    pieces.extend(
                        split::split(text, collection.chunk_size, collection.chunk_overlap).into_iter().map(|c| (i, c)),
                    );
                }
                (None, None) => return Err(at("a document needs text or a vector".into())),
            }
        }
        let mut usage = None;
        let mut embedded = Vec::new();
        if let (Some(model), false) = (&collection.embedding, pieces.is_empty()) {
            let texts: Vec<String> = pieces.iter().map(|(_, t)| t.clone()).collect();
            let payer = Payer { retries: API_RETRIES, ..Payer::default() };
            let (vectors, used) =
                self.embed(model, &texts, &payer, &CancellationToken::new()).await.map_err(embedding_error)?;
            if let Some(v) = vectors.iter().find(|v| v.len() != collection.dimension) {
                return Err(bad(format!(
                    "model {} gives vectors of {} dimensions; collection {name} has {}",
                    model.model,
                    v.len(),
                    collection.dimension
                )));
            }
            usage = used;
            embedded = vectors;
        }
        let mut chunks = Vec::new();
        let mut embedded = pieces.into_iter().zip(embedded).peekable();
        for (i, d) in documents.iter().enumerate() {
            if let Some(vector) = &d.vector {
                let text = d.text.clone().unwrap_or_default();
                chunks.push(Chunk {
                    document_id: d.id.clone(),
                    index: 0,
                    text,
                    metadata: d.metadata.clone(),
                    vector: vector.clone(),
                });
                continue;
            }
            let mut n = 0;
            while let Some(((_, text), vector)) = embedded.next_if(|((owner, _), _)| *owner == i) {
                chunks.push(Chunk { document_id: d.id.clone(), index: n, text, metadata: d.metadata.clone(), vector });
                n += 1;
            }
        }
        if let Some(index) = self.external(collection.store)? {
            index.put(scope, &collection, &chunks).await?;
            return Ok(Upserted { documents: documents.len(), chunks: chunks.len(), usage });
        }
        // The write lock makes this process's writes reach the index in the store's order.
        let slot = self.slot(scope, name);
        let mut loaded = slot.write().await;
        let revision = self.store.put_documents(scope, name, &chunks).await?;
        let count = chunks.len();
        Self::follow(&mut loaded, &collection, revision, |index| index.replace(chunks));
        Ok(Upserted { documents: documents.len(), chunks: count, usage })
    }

    /// Deletes a document's chunks.
    ///
    /// # Errors
    /// 404 for an unknown collection or document.
    pub async fn delete_document(&self, scope: Scope, name: &str, id: &str) -> Result<(), ServiceError> {
        let collection = self.collection(scope, name).await?;
        if let Some(index) = self.external(collection.store)? {
            return Ok(index.delete_document(scope, &collection, id).await?);
        }
        let slot = self.slot(scope, name);
        let mut loaded = slot.write().await;
        let revision = self.store.delete_document(scope, name, id).await?;
        Self::follow(&mut loaded, &collection, revision, |index| index.remove(&[id]));
        Ok(())
    }

    /// Searches a collection from an API request.
    ///
    /// # Errors
    /// 404 for an unknown collection; 400 for a bad query; the model failing.
    pub async fn search(
        &self,
        scope: Scope,
        name: &str,
        search: Search,
    ) -> Result<(Vec<Hit>, Option<Usage>), ServiceError> {
        let payer = Payer { retries: API_RETRIES, ..Payer::default() };
        self.find(scope, name, None, search, &payer, &CancellationToken::new()).await.map_err(|e| match e {
            Found::Service(e) => e,
            Found::Embedding(e) => embedding_error(e),
        })
    }

    /// Searches for a node, whose `db_type` must be the collection's store: failures as a
    /// runner reports them.
    ///
    /// # Errors
    /// Permanent for an unknown collection, another store or a bad query; the model's failures
    /// as they are.
    pub async fn search_for_node(
        &self,
        scope: Scope,
        name: &str,
        db_type: VectorBackend,
        search: Search,
        payer: &Payer<'_>,
        cancel: &CancellationToken,
    ) -> Result<(Vec<Hit>, Option<Usage>), RunnerError> {
        self.find(scope, name, Some(db_type), search, payer, cancel).await.map_err(|e| match e {
            Found::Embedding(e) => e,
            Found::Service(ServiceError::Unavailable(m) | ServiceError::Internal(m)) => RunnerError::retryable(m),
            Found::Service(e) => RunnerError::Permanent(e.to_string()),
        })
    }

    async fn find(
        &self,
        scope: Scope,
        name: &str,
        expected: Option<VectorBackend>,
        search: Search,
        payer: &Payer<'_>,
        cancel: &CancellationToken,
    ) -> Result<(Vec<Hit>, Option<Usage>), Found> {
        let collection = self.collection(scope, name).await?;
        if let Some(wanted) = expected.filter(|b| *b != collection.store) {
            return Err(bad(format!(
                "collection {name} is on the {} store, not {}: set db_type to '{}'",
                collection.store.as_str(),
                wanted.as_str(),
                collection.store.as_str()
            ))
            .into());
        }
        if search.top_k == 0 || search.top_k > MAX_TOP_K {
            return Err(bad(format!("top_k must be 1 to {MAX_TOP_K}, got {}", search.top_k)).into());
        }
        if search.score_threshold.is_some_and(|t| !(-1.0..=1.0).contains(&t)) {
            return Err(bad("score_threshold must be between -1 and 1 (cosine similarity)").into());
        }
        let (vector, usage) = match search.query {
            Query::Vector(v) => (v, None),
            Query::Text(text) if text.trim().is_empty() => return Err(bad("the query text is empty").into()),
            Query::Text(text) => {
                let Some(model) = &collection.embedding else {
                    return Err(
                        bad(format!("collection {name} has no embedding model: search it with a vector")).into()
                    );
                };
                let (mut vectors, usage) = self.embed(model, &[text], payer, cancel).await.map_err(Found::Embedding)?;
                (vectors.pop().unwrap_or_default(), usage)
            }
        };
        if let Some(problem) = vector_problem(&vector, collection.dimension) {
            return Err(bad(format!("query: {problem}")).into());
        }
        if let Some(index) = self.external(collection.store)? {
            let query = VectorQuery {
                vector: &vector,
                top_k: search.top_k,
                score_threshold: search.score_threshold,
                filter: &search.filter,
            };
            let found = index.search(scope, &collection, query).await?;
            let hits = found
                .into_iter()
                .map(|c| Hit {
                    entry: Entry { document_id: c.document_id, index: c.index, text: c.text, metadata: c.metadata },
                    score: c.score,
                })
                .collect();
            return Ok((hits, usage));
        }
        let slot = self.loaded(scope, &collection).await?;
        let loaded = slot.read().await;
        let hits = loaded
            .as_ref()
            .map(|l| l.index.search(&vector, search.top_k, search.score_threshold, &search.filter))
            .unwrap_or_default();
        Ok((hits, usage))
    }
}

/// A search's failure, before it is told as an API or a runner error.
enum Found {
    Service(ServiceError),
    Embedding(RunnerError),
}

impl From<ServiceError> for Found {
    fn from(e: ServiceError) -> Self {
        Self::Service(e)
    }
}

impl From<StoreError> for Found {
    fn from(e: StoreError) -> Self {
        Self::Service(e.into())
    }
}

#[async_trait::async_trait]
impl Retrieval for CollectionService {
    async fn retrieve(
        &self,
        request: RetrievalRequest<'_>,
        cancel: &CancellationToken,
    ) -> Result<(Vec<Retrieved>, Option<Usage>), RunnerError> {
        let search = Search {
            query: Query::Text(request.query.to_owned()),
            top_k: request.top_k,
            score_threshold: request.score_threshold,
            filter: Map::new(),
        };
        let payer = Payer { budget: Some(request.budget), secrets: Some(request.secrets), retries: 0 };
        let (hits, usage) =
            self.search_for_node(request.scope, request.collection, request.db_type, search, &payer, cancel).await?;
        let found = hits
            .into_iter()
            .map(|h| Retrieved {
                document_id: h.entry.document_id,
                chunk_index: h.entry.index,
                text: h.entry.text,
                metadata: h.entry.metadata,
                score: h.score,
            })
            .collect();
        Ok((found, usage))
    }
}
