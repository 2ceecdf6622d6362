//! Retrieval-augmented generation end to end: a collection embedded by the fake provider's
//! `/v1/embeddings`, documents upserted over HTTP, then Start -> Retriever -> LLM -> End with the
//! retrieved chunks in the LLM's prompt and its answer streamed.

use crate::provider::{EMBEDDING_DIMENSION, Reply, embedding, openai};
use crate::*;
use serde_json::json;

const DOCUMENTS: [(&str, &str, &str); 3] = [
    ("paris", "Paris is the capital of France. It lies on the Seine.", "geography"),
    ("tokyo", "Tokyo is the capital of Japan and its largest city.", "geography"),
    ("rust", "Rust is a programming language focused on memory safety.", "software"),
];

fn retriever(collection: &str, top_k: usize) -> Value {
    json!({"id": "retrieve", "name": "Retrieve", "kind": {"type": "Retriever", "config": {
        "db_type": "embedded", "collection": collection, "query": "{{ question }}", "top_k": top_k, "score_threshold": 0.3
    }}})
}

async fn knowledge_base(h: &Harness) {
    let (status, made) = h
        .post(
            "/api/v1/vectors/collections",
            json!({"name": "kb", "embedding": {"provider": "openai", "model": "text-embedding-3-small"}}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["dimension"], EMBEDDING_DIMENSION, "learned from the model");
    let documents: Vec<Value> = DOCUMENTS
        .iter()
        .map(|(id, text, topic)| json!({"id": id, "text": text, "metadata": {"topic": topic}}))
        .collect();
    let (status, upserted) = h.post("/api/v1/vectors/collections/kb/vectors", json!({"documents": documents})).await;
    assert_eq!(status, 200, "{upserted}");
    assert_eq!((upserted["documents"].clone(), upserted["chunks"].clone()), (json!(3), json!(3)));
    assert!(upserted["usage"]["input_tokens"].as_u64().unwrap() > 10, "{upserted}");
}

#[tokio::test]
async fn start_retriever_llm_end_answers_from_the_retrieved_chunks() {
    let h = harness(|c| c.llm_prices = "text-embedding-3-small=1.0/0;test-model=1.0/2.0".into()).await;
    knowledge_base(&h).await;
    let before = h.provider.requests().len();
    h.provider.script([openai("The capital of France is Paris.")]);
    let prompt =
        "Answer from the context.\n\nContext:\n{{ nodes.retrieve.output.context }}\n\nQuestion: {{ question }}";
    let wf = chain(vec![retriever("kb", 2), llm("answer", "openai", prompt, json!({}))]);
    let execution = h.start(wf, json!({"variables": {"question": "What is the capital of France?"}})).await;
    let events = h.events(&execution).await;
    let streamed: String = events
        .iter()
        .filter(|e| e.event == "node_output_delta")
        .map(|e| serde_json::from_str::<Value>(&e.data).unwrap()["delta"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(streamed, "The capital of France is Paris.");
    let run = h.finished(&execution).await;
    assert_eq!(run["state"], "Completed", "{run}");
    let found = &node(&run, "retrieve")["output"];
    let ids: Vec<&str> =
        found["results"].as_array().unwrap().iter().map(|r| r["document_id"].as_str().unwrap()).collect();
    let query = embedding("What is the capital of France?");
    let mut expected: Vec<(f64, &str)> = DOCUMENTS
        .iter()
        .map(|(id, text, _)| (cosine(&query, &embedding(text)), *id))
        .filter(|(score, _)| *score >= 0.3)
        .collect();
    expected.sort_by(|a, b| b.0.total_cmp(&a.0));
    expected.truncate(2);
    assert_eq!(expected[0].1, "paris", "the fake model puts Paris first");
    assert_eq!(ids, expected.iter().map(|(_, id)| *id).collect::<Vec<_>>(), "by score, over the threshold, top 2");
    assert_eq!(found["results"][0]["metadata"], json!({"topic": "geography"}));
    assert_eq!(found["results"][0]["text"], DOCUMENTS[0].1);
    assert_eq!(found["results"][0]["id"], "paris#0");
    let score = found["results"][0]["score"].as_f64().unwrap();
    assert!((score - expected[0].0).abs() < 1e-4, "cosine similarity: {score} vs {}", expected[0].0);
    let retrieve_usage = &node(&run, "retrieve")["usage"];
    assert_eq!(retrieve_usage["input_tokens"], 6, "the query's tokens, as the provider counted them");
    assert!((retrieve_usage["cost_usd"].as_f64().unwrap() - 6e-6).abs() < 1e-12, "priced: {retrieve_usage}");
    let sent = &h.provider.requests()[before..];
    assert_eq!(sent[0].path, "/v1/embeddings");
    assert_eq!(sent[0].body["input"], json!(["What is the capital of France?"]));
    assert_eq!(sent[0].headers["authorization"], format!("Bearer {OPENAI_KEY}").as_str());
    assert_eq!(sent[1].path, "/v1/chat/completions");
    let asked = sent[1].body["messages"][0]["content"].as_str().unwrap();
    assert!(asked.contains(DOCUMENTS[0].1) && asked.ends_with("Question: What is the capital of France?"), "{asked}");
    let total = run["usage"]["total_tokens"].as_u64().unwrap();
    assert_eq!(total, 6 + 12 + 4, "the execution's usage counts the embedding and the chat");
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

#[tokio::test]
async fn embeddings_are_batched_and_a_busy_provider_is_retried() {
    let h = harness(|_| {}).await;
    let (status, _) = h
        .post(
            "/api/v1/vectors/collections",
            json!({"name": "big", "dimension": EMBEDDING_DIMENSION,
            "embedding": {"provider": "openai", "model": "m"}}),
        )
        .await;
    assert_eq!(status, 201);
    h.provider.script_embeddings([
        Reply::Status { code: 429, retry_after: Some("0".into()), message: "slow down".into() },
        Reply::Status { code: 503, retry_after: None, message: "overloaded".into() },
    ]);
    let documents: Vec<Value> = (0..150)
        .map(|i| json!({"id": format!("d{i}"), "text": format!("document number {i} about topic{}", i % 7)}))
        .collect();
    let (status, upserted) = h.post("/api/v1/vectors/collections/big/vectors", json!({"documents": documents})).await;
    assert_eq!(status, 200, "{upserted}");
    assert_eq!(upserted["chunks"], 150);
    let batches: Vec<usize> = h
        .provider
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/embeddings")
        .map(|r| r.body["input"].as_array().unwrap().len())
        .collect();
    assert_eq!(batches, [64, 64, 64, 64, 22], "two refused tries of the first batch, then 64 + 64 + 22");
    let (status, found) = h
        .post("/api/v1/vectors/collections/big/search", json!({"query": "document number 42 about topic0", "top_k": 3}))
        .await;
    assert_eq!(status, 200, "{found}");
    // The fake model may give another document the same vector (a word in the same bucket).
    let exact = found["results"].as_array().unwrap().iter().find(|r| r["document_id"] == "d42").expect("d42 is found");
    assert!(exact["score"].as_f64().unwrap() > 0.9999, "{found}");
}

#[tokio::test]
async fn a_retriever_fails_clearly_on_an_unknown_collection_and_is_refused_for_other_databases() {
    let h = harness(|_| {}).await;
    let run =
        h.finished(&h.start(chain(vec![retriever("nowhere", 3)]), json!({"variables": {"question": "q"}})).await).await;
    assert_eq!(run["state"], "Failed");
    assert!(node(&run, "retrieve")["error"].as_str().unwrap().contains("Collection nowhere not found"), "{run}");
    let mut qdrant = retriever("kb", 3);
    qdrant["kind"]["config"]["db_type"] = json!("qdrant");
    let (status, refused) = h.post("/api/v1/workflows", chain(vec![qdrant])).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("this server supports"), "{refused}");
    // This server (on memory, without OXIFY_PGVECTOR_URL or OXIFY_CHROMA_URL) has neither.
    for db_type in ["pgvector", "chroma"] {
        let mut external = retriever("kb", 3);
        external["kind"]["config"]["db_type"] = json!(db_type);
        let (status, refused) = h.post("/api/v1/workflows", chain(vec![external])).await;
        assert_eq!(status, 400, "{refused}");
        assert!(refused.to_string().contains(&format!("db_type '{db_type}' is not configured")), "{refused}");
    }
}
