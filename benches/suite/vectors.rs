//! Vector search on the embedded store's in-process index (`app::collections::FlatIndex`):
//! latency p50/p99 of top-10 searches over 10k and 100k random 768-dimension vectors, against a
//! plain brute-force search in the same run (cosine in f64 over unnormalized vectors, full sort),
//! whose results also give the index's recall@10. Upsert throughput through the collections use
//! case on memory storage with precomputed vectors (embedding time separated out: none is spent).

use crate::report::{Report, Row};
use crate::stats::{Sample, percentile};
use oxify_api::adapters::clock::SystemClock;
use oxify_api::adapters::store::InMemoryStore;
use oxify_api::app::collections::{CollectionService, Document, FlatIndex, NewCollection};
use oxify_api::domain::access::Scope;
use oxify_api::domain::vectors::Chunk;
use serde_json::Map;
use std::sync::Arc;
use std::time::Instant;

const DIMENSION: usize = 768;
const TOP_K: usize = 10;

/// A small deterministic generator (xorshift), so every run searches the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }

    fn vector(&mut self) -> Vec<f32> {
        (0..DIMENSION).map(|_| self.next()).collect()
    }
}

fn brute_force(vectors: &[Vec<f32>], query: &[f32]) -> Vec<usize> {
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let q = norm(query);
    let mut scored: Vec<(f64, usize)> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| (v.iter().zip(query).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum::<f64>() / (norm(v) * q), i))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(TOP_K).map(|(_, i)| i).collect()
}

pub fn run(report: &mut Report, sizes: &[usize], queries: usize) {
    for &size in sizes {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ size as u64);
        let vectors: Vec<Vec<f32>> = (0..size).map(|_| rng.vector()).collect();
        let chunks = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| Chunk {
                document_id: format!("d{i}"),
                index: 0,
                text: String::new(),
                metadata: Map::new(),
                vector: v.clone(),
            })
            .collect();
        let index = FlatIndex::new(DIMENSION, chunks);
        let (mut ours, mut theirs, mut hits) = (Vec::new(), Vec::new(), 0usize);
        for _ in 0..queries {
            let query = rng.vector();
            let started = Instant::now();
            let found = index.search(&query, TOP_K, None, &Map::new());
            ours.push(started.elapsed().as_secs_f64() * 1000.0);
            let started = Instant::now();
            let exact = brute_force(&vectors, &query);
            theirs.push(started.elapsed().as_secs_f64() * 1000.0);
            hits += found.iter().filter(|h| exact.iter().any(|i| h.entry.document_id == format!("d{i}"))).count();
        }
        for (name, p) in [("p50", 50.0), ("p99", 99.0)] {
            let row = Row::new(
                "Vectors",
                format!("search top {TOP_K} of {size} vectors of {DIMENSION} dimensions, {name}"),
                Sample(vec![percentile(&mut ours.clone(), p)]),
                "ms",
                false,
            )
            .against("brute force (f64 cosine, full sort)", Sample(vec![percentile(&mut theirs.clone(), p)]));
            report.add(if name == "p99" && size >= 100_000 { row.target("< 10 ms") } else { row });
        }
        let recall = hits as f64 / (queries * TOP_K) as f64;
        report.add(Row::new(
            "Vectors",
            format!("recall@{TOP_K} at {size} vectors (exact index)"),
            Sample(vec![recall]),
            "",
            true,
        ));
    }
}

/// Documents a second upserted with precomputed vectors (no embedding), 100 per request.
pub async fn upserts(report: &mut Report, total: usize) {
    let service = CollectionService::new(Arc::new(InMemoryStore::new()), None, Arc::new(SystemClock));
    let new = NewCollection { name: "bench".into(), dimension: Some(DIMENSION), ..NewCollection::default() };
    service.create(Scope::DEFAULT, new).await.expect("collection");
    let mut rng = Rng(7);
    let started = Instant::now();
    for part in 0..total / 100 {
        let documents = (0..100)
            .map(|i| Document {
                id: format!("d{part}-{i}"),
                text: None,
                vector: Some(rng.vector()),
                metadata: Map::new(),
            })
            .collect();
        service.upsert(Scope::DEFAULT, "bench", documents).await.expect("upsert");
    }
    let per_s = total as f64 / started.elapsed().as_secs_f64();
    report.add(Row::new(
        "Vectors",
        format!("upsert {DIMENSION}-d vectors, 100 per request, memory storage, no embedding"),
        Sample(vec![per_s]),
        "docs/s",
        true,
    ));
}
