//! A collection's vectors held in process for exact search: normalized, in one contiguous
//! buffer, scored by SIMD-friendly dot products (cosine similarity). A search first scans an i8
//! copy of every vector (a quarter of the bytes: the scan is bound by memory bandwidth), keeps
//! the best candidates by that estimate, and scores those exactly in f32; the estimate's error
//! is far smaller than the margin the candidates leave, so results match an exact scan (the
//! benchmark measures recall against brute force). Kept in step with the store on every write
//! made through this process.

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
    /// Each vector quantized to i8, `dimension` per entry.
    codes: Vec<i8>,
    /// Per entry, what its codes were multiplied by (127 / its largest component).
    scales: Vec<f32>,
}

/// Candidates kept from the i8 scan beyond `top_k`, scored exactly.
const EXTRA_CANDIDATES: usize = 100;

/// `vector` as i8 codes, each component times `127 / max |component|`, and that factor.
fn quantize(vector: &[f32]) -> (impl Iterator<Item = i8> + '_, f32) {
    let max = vector.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if max == 0.0 { 1.0 } else { 127.0 / max };
    #[allow(clippy::cast_possible_truncation)] // |x * scale| <= 127 by construction
    (vector.iter().map(move |x| (x * scale).round() as i8), scale)
}

/// The dot product of i8 codes, in sixteen i32 lanes the compiler turns into SIMD.
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut lanes = [0i32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: i32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| i32::from(*x) * i32::from(*y)).sum();
    for (x, y) in ca.zip(cb) {
        for (lane, (p, q)) in lanes.iter_mut().zip(x.iter().zip(y)) {
            *lane += i32::from(*p) * i32::from(*q);
        }
    }
    lanes.iter().sum::<i32>() + tail
}

impl FlatIndex {
    #[must_use]
    pub fn new(dimension: usize, chunks: Vec<Chunk>) -> Self {
        let mut index =
            Self { dimension, entries: Vec::new(), vectors: Vec::new(), codes: Vec::new(), scales: Vec::new() };
        index.add(chunks);
        index
    }

    fn add(&mut self, chunks: Vec<Chunk>) {
        for chunk in chunks {
            let vector = normalized(&chunk.vector);
            let (codes, scale) = quantize(&vector);
            self.codes.extend(codes);
            self.scales.push(scale);
            self.vectors.extend(vector);
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
                self.codes.copy_within(i * d..(i + 1) * d, kept * d);
                self.scales[kept] = self.scales[i];
            }
            kept += 1;
        }
        self.entries.truncate(kept);
        self.vectors.truncate(kept * d);
        self.codes.truncate(kept * d);
        self.scales.truncate(kept);
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
        let (codes, query_scale) = quantize(&query);
        let codes: Vec<i8> = codes.collect();
        let d = self.dimension;
        let by_score = |a: &(f32, usize), b: &(f32, usize)| b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal);
        #[allow(clippy::cast_precision_loss)] // an estimate; exact scores follow
        let mut estimated: Vec<(f32, usize)> = (0..self.entries.len())
            .filter(|&i| filter.is_empty() || matches(&self.entries[i].metadata, filter))
            .map(|i| (dot_i8(&codes, &self.codes[i * d..(i + 1) * d]) as f32 / (query_scale * self.scales[i]), i))
            .collect();
        let candidates = top_k.saturating_add(EXTRA_CANDIDATES);
        if estimated.len() > candidates {
            estimated.select_nth_unstable_by(candidates - 1, by_score);
            estimated.truncate(candidates);
        }
        let mut scored: Vec<(f32, usize)> = estimated
            .into_iter()
            .map(|(_, i)| (dot(&query, &self.vectors[i * d..(i + 1) * d]), i))
            .filter(|(score, _)| threshold.is_none_or(|t| *score >= t))
            .collect();
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
    fn the_quantized_scan_finds_what_an_exact_scan_finds() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let vectors: Vec<Vec<f32>> = (0..2000).map(|_| (0..64).map(|_| next()).collect()).collect();
        let chunks = vectors.iter().enumerate().map(|(i, v)| chunk(&format!("d{i}"), 0, v.clone(), "en")).collect();
        let index = FlatIndex::new(64, chunks);
        for _ in 0..20 {
            let query: Vec<f32> = (0..64).map(|_| next()).collect();
            let q = normalized(&query);
            let mut exact: Vec<(f32, usize)> =
                vectors.iter().enumerate().map(|(i, v)| (dot(&q, &normalized(v)), i)).collect();
            exact.sort_by(|a, b| b.0.total_cmp(&a.0));
            let hits = index.search(&query, 10, None, &Map::new());
            let want: Vec<String> = exact[..10].iter().map(|(_, i)| format!("d{i}")).collect();
            let got: Vec<String> = hits.iter().map(|h| h.entry.document_id.clone()).collect();
            assert_eq!(got, want);
            assert!((hits[0].score - exact[0].0).abs() < 1e-5, "scores are exact, not estimates");
        }
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
