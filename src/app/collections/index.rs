//! A collection's vectors held in process for exact search: normalized, in one contiguous
//! buffer, scored by SIMD-friendly dot products (cosine similarity). Kept in step with the store
//! on every write made through this process.

use crate::domain::vectors::{Chunk, dot, matches, normalized};
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// A chunk without its vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub document_id: String,
    pub index: u32,
    pub text: String,
    pub metadata: Map<String, Value>,
}

/// One search hit.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub entry: Entry,
    /// Cosine similarity, -1 to 1.
    pub score: f32,
}

/// Exact search over normalized vectors.
#[derive(Debug, Default)]
pub struct FlatIndex {
    dimension: usize,
    entries: Vec<Entry>,
    vectors: Vec<f32>,
}

impl FlatIndex {
    #[must_use]
    pub fn new(dimension: usize, chunks: Vec<Chunk>) -> Self {
        let mut index = Self { dimension, entries: Vec::new(), vectors: Vec::new() };
        index.add(chunks);
        index
    }

    fn add(&mut self, chunks: Vec<Chunk>) {
        for chunk in chunks {
            self.vectors.extend(normalized(&chunk.vector));
            self.entries.push(Entry {
                document_id: chunk.document_id,
                index: chunk.index,
                text: chunk.text,
                metadata: chunk.metadata,
            });
        }
    }

    /// Drops the chunks of `documents`.
    pub fn remove(&mut self, documents: &[&str]) {
        let d = self.dimension;
        let mut kept = 0;
        for i in 0..self.entries.len() {
            if documents.contains(&self.entries[i].document_id.as_str()) {
                continue;
            }
            if kept != i {
                self.entries.swap(kept, i);
                self.vectors.copy_within(i * d..(i + 1) * d, kept * d);
            }
            kept += 1;
        }
        self.entries.truncate(kept);
        self.vectors.truncate(kept * d);
    }

    /// Replaces the chunks of the documents `chunks` belong to.
    pub fn replace(&mut self, chunks: Vec<Chunk>) {
        let mut documents: Vec<String> = chunks.iter().map(|c| c.document_id.clone()).collect();
        documents.dedup();
        self.remove(&documents.iter().map(String::as_str).collect::<Vec<_>>());
        self.add(chunks);
    }

    #[must_use]
    pub fn chunks(&self) -> usize {
        self.entries.len()
    }

    #[must_use]
    pub fn documents(&self) -> usize {
        let mut ids: Vec<&str> = self.entries.iter().map(|e| e.document_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    /// The `top_k` chunks most similar to `query` (any length-`dimension` vector), best first,
    /// those scoring below `threshold` and those whose metadata does not match `filter` left out.
    #[must_use]
    pub fn search(&self, query: &[f32], top_k: usize, threshold: Option<f32>, filter: &Map<String, Value>) -> Vec<Hit> {
        let query = normalized(query);
        let d = self.dimension;
        let mut scored: Vec<(f32, usize)> = (0..self.entries.len())
            .filter(|&i| filter.is_empty() || matches(&self.entries[i].metadata, filter))
            .map(|i| (dot(&query, &self.vectors[i * d..(i + 1) * d]), i))
            .filter(|(score, _)| threshold.is_none_or(|t| *score >= t))
            .collect();
        let by_score = |a: &(f32, usize), b: &(f32, usize)| b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal);
        if scored.len() > top_k && top_k > 0 {
            scored.select_nth_unstable_by(top_k - 1, by_score);
        }
        scored.truncate(top_k);
        scored.sort_by(by_score);
        scored.into_iter().map(|(score, i)| Hit { entry: self.entries[i].clone(), score }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chunk(doc: &str, index: u32, vector: Vec<f32>, lang: &str) -> Chunk {
        Chunk {
            document_id: doc.into(),
            index,
            text: format!("{doc} {index}"),
            metadata: json!({"lang": lang}).as_object().unwrap().clone(),
            vector,
        }
    }

    #[test]
    fn search_ranks_by_cosine_and_applies_threshold_and_filter() {
        let index = FlatIndex::new(
            2,
            vec![
                chunk("a", 0, vec![1.0, 0.0], "en"),
                chunk("b", 0, vec![0.7, 0.7], "fr"),
                chunk("c", 0, vec![0.0, 1.0], "en"),
            ],
        );
        let hits = index.search(&[2.0, 0.1], 2, None, &Map::new());
        assert_eq!(hits.iter().map(|h| h.entry.document_id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(hits[0].score > 0.99);
        assert_eq!(index.search(&[1.0, 0.0], 5, Some(0.5), &Map::new()).len(), 2);
        let en = json!({"lang": "en"}).as_object().unwrap().clone();
        assert_eq!(index.search(&[0.7, 0.7], 5, None, &en).len(), 2);
    }

    #[test]
    fn replacing_a_document_drops_its_old_chunks() {
        let mut index =
            FlatIndex::new(2, vec![chunk("a", 0, vec![1.0, 0.0], "en"), chunk("a", 1, vec![0.0, 1.0], "en")]);
        index.replace(vec![chunk("a", 0, vec![0.5, 0.5], "en"), chunk("b", 0, vec![1.0, 1.0], "en")]);
        assert_eq!((index.chunks(), index.documents()), (2, 2));
        index.remove(&["a"]);
        let hits = index.search(&[1.0, 1.0], 10, None, &Map::new());
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].entry.document_id, "b");
    }
}
