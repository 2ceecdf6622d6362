//! Vector collections: a workspace's named sets of chunks (a document's text pieces, each with
//! its vector), with the embedding model and dimension fixed when the collection is made.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Longest collection name.
pub const MAX_NAME: usize = 64;
/// Most dimensions a vector may have.
pub const MAX_DIMENSION: usize = 8192;
/// Most results one search returns.
pub const MAX_TOP_K: usize = 1000;
/// Longest document id.
pub const MAX_DOCUMENT_ID: usize = 256;

/// A collection as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Collection {
    pub name: String,
    pub description: Option<String>,
    /// Every vector's length.
    pub dimension: usize,
    /// The model that embeds its texts (`None`: only precomputed vectors are accepted).
    pub embedding: Option<EmbeddingModel>,
    /// Characters per chunk when documents are split.
    pub chunk_size: usize,
    /// Characters shared by neighbouring chunks.
    pub chunk_overlap: usize,
    pub created_at: DateTime<Utc>,
    /// Writes to its chunks so far (0 when made). An index built from the chunks read after
    /// seeing revision `r` is stale once the store has another: this is how a server notices
    /// another server's writes to a shared database.
    pub revision: u64,
    /// Where its chunks live and are searched.
    pub store: VectorBackend,
}

/// Where a collection's chunks live: fixed when the collection is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum VectorBackend {
    /// The server's own storage, searched in process.
    #[default]
    Embedded,
    /// A table with a pgvector column on a Postgres server, searched there.
    Pgvector,
    /// A Chroma server, over its HTTP API.
    Chroma,
}

impl VectorBackend {
    pub const ALL: [Self; 3] = [Self::Embedded, Self::Pgvector, Self::Chroma];

    /// Its name on the wire (`embedded`, `pgvector`, `chroma`), also the Retriever's `db_type`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Pgvector => "pgvector",
            Self::Chroma => "chroma",
        }
    }

    /// The backend a name means, in any case; `default` is the embedded store (a seed value).
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "embedded" | "default" => Some(Self::Embedded),
            "pgvector" => Some(Self::Pgvector),
            "chroma" => Some(Self::Chroma),
            _ => None,
        }
    }
}

/// A provider (`openai`, `ollama`, `local`) and one of its embedding models.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddingModel {
    pub provider: String,
    pub model: String,
}

/// One piece of a document, with its vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    pub document_id: String,
    /// Its place in the document, from 0.
    pub index: u32,
    pub text: String,
    pub metadata: Map<String, Value>,
    pub vector: Vec<f32>,
}

impl Chunk {
    /// `<document id>#<index>`: unique in its collection.
    #[must_use]
    pub fn id(&self) -> String {
        format!("{}#{}", self.document_id, self.index)
    }
}

/// Why a collection name is not one: letters, digits, `-`, `_` and `.`, starting with a letter
/// or digit, at most [`MAX_NAME`].
#[must_use]
pub fn name_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    (!ok).then(|| {
        format!(
            "collection name '{name}' is not one: 1 to {MAX_NAME} letters, digits, '-', '_' or '.', starting with a letter or digit"
        )
    })
}

/// Why a document id is not one: 1 to [`MAX_DOCUMENT_ID`] bytes, no control characters.
#[must_use]
pub fn document_id_problem(id: &str) -> Option<String> {
    let ok = !id.trim().is_empty() && id.len() <= MAX_DOCUMENT_ID && !id.chars().any(char::is_control);
    (!ok).then(|| format!("document id '{id}' is not one: 1 to {MAX_DOCUMENT_ID} bytes without control characters"))
}

/// Why `vector` does not fit a collection of `dimension`.
#[must_use]
pub fn vector_problem(vector: &[f32], dimension: usize) -> Option<String> {
    if vector.len() != dimension {
        return Some(format!("the vector has {} dimensions; this collection's have {dimension}", vector.len()));
    }
    if vector.iter().any(|f| !f.is_finite()) {
        return Some("the vector holds a number that is not finite".into());
    }
    (vector.iter().all(|f| *f == 0.0)).then(|| "the vector is all zeros: it has no direction to compare".into())
}

/// Whether `metadata` has every `filter` key with an equal value.
#[must_use]
pub fn matches(metadata: &Map<String, Value>, filter: &Map<String, Value>) -> bool {
    filter.iter().all(|(k, v)| metadata.get(k) == Some(v))
}

/// The vector scaled to length 1 (cosine similarity is then a dot product).
#[must_use]
pub fn normalized(vector: &[f32]) -> Vec<f32> {
    let norm = vector.iter().map(|f| f * f).sum::<f32>().sqrt();
    if norm == 0.0 { vector.to_vec() } else { vector.iter().map(|f| f / norm).collect() }
}

/// The dot product, in eight lanes the compiler turns into SIMD.
#[must_use]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for (lane, (p, q)) in lanes.iter_mut().zip(x.iter().zip(y)) {
            *lane += p * q;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn backends_are_named_as_the_retriever_names_them() {
        for b in VectorBackend::ALL {
            assert_eq!(VectorBackend::parse(b.as_str()), Some(b));
        }
        assert_eq!(VectorBackend::parse(" Default"), Some(VectorBackend::Embedded));
        assert_eq!(VectorBackend::parse("qdrant"), None);
    }

    #[test]
    fn names_are_short_and_plain() {
        assert!(name_problem("docs-2026.v1_a").is_none());
        for bad in ["", "-docs", "a b", "ü", &"x".repeat(65)] {
            assert!(name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn a_vector_of_another_dimension_or_without_direction_is_refused() {
        assert!(vector_problem(&[1.0, 0.0], 2).is_none());
        assert!(vector_problem(&[1.0], 2).unwrap().contains("1 dimensions"));
        assert!(vector_problem(&[0.0, 0.0], 2).is_some());
        assert!(vector_problem(&[f32::NAN, 1.0], 2).is_some());
    }

    #[test]
    fn cosine_of_normalized_vectors_is_their_dot_product() {
        let a = normalized(&[3.0; 19]);
        assert!((dot(&a, &a) - 1.0).abs() < 1e-5);
        let b = normalized(&[1.0, 0.0, 0.0]);
        let c = normalized(&[0.0, 2.0, 0.0]);
        assert!(dot(&b, &c).abs() < 1e-7);
    }

    #[test]
    fn filters_match_on_equal_values() {
        let meta = json!({"lang": "en", "year": 2024}).as_object().unwrap().clone();
        assert!(matches(&meta, &json!({"lang": "en"}).as_object().unwrap().clone()));
        assert!(!matches(&meta, &json!({"lang": "fr"}).as_object().unwrap().clone()));
        assert!(!matches(&meta, &json!({"topic": "x"}).as_object().unwrap().clone()));
    }
}
