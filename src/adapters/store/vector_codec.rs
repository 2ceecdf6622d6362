//! How the SQL stores keep a vector (little-endian f32 bytes) and a chunk's metadata (JSON text).

use crate::domain::vectors::VectorBackend;
use crate::ports::StoreError;
use serde_json::{Map, Value};

pub(super) fn vector_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|f| f.to_le_bytes()).collect()
}

pub(super) fn vector_of(bytes: &[u8]) -> Result<Vec<f32>, StoreError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(StoreError::Internal(format!("a stored vector has {} bytes, not a multiple of 4", bytes.len())));
    }
    Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

pub(super) fn metadata_text(metadata: &Map<String, Value>) -> String {
    Value::Object(metadata.clone()).to_string()
}

pub(super) fn metadata_of(text: &str) -> Result<Map<String, Value>, StoreError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(StoreError::Internal("a stored chunk's metadata is not a JSON object".into())),
    }
}

/// A collection's stored `store` column.
pub(super) fn backend_of(name: &str) -> Result<VectorBackend, StoreError> {
    VectorBackend::parse(name).ok_or_else(|| StoreError::Internal(format!("a collection's store is '{name}', unknown")))
}
