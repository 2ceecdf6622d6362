//! The RAG workflow end to end on the external vector stores: a collection made on pgvector (the
//! test Postgres) or on Chroma (a `chroma run` server started here), documents embedded by the
//! fake provider, then Start -> Retriever (`db_type` naming the store) -> LLM -> End.

#[path = "../store_contract/chroma_server.rs"]
mod chroma_server;

use crate::provider::openai;
use crate::*;
use serde_json::json;

const DOCUMENTS: [(&str, &str); 3] = [
    ("paris", "Paris is the capital of France. It lies on the Seine."),
    ("tokyo", "Tokyo is the capital of Japan and its largest city."),
    ("rust", "Rust is a programming language focused on memory safety."),
];

async fn answers_from(h: &Harness, store: &str) {
    let body =
        json!({"name": "kb", "store": store, "embedding": {"provider": "openai", "model": "text-embedding-3-small"}});
    let (status, made) = h.post("/api/v1/vectors/collections", body).await;
    assert_eq!((status, made["store"].as_str()), (201, Some(store)), "{made}");
    let documents: Vec<Value> =
        DOCUMENTS.iter().map(|(id, text)| json!({"id": id, "text": text, "metadata": {"lang": "en"}})).collect();
    let (status, upserted) = h.post("/api/v1/vectors/collections/kb/vectors", json!({"documents": documents})).await;
    assert_eq!((status, upserted["chunks"].clone()), (200, json!(3)), "{upserted}");
    h.provider.script([openai("The capital of France is Paris.")]);
    let retriever = json!({"id": "retrieve", "name": "Retrieve", "kind": {"type": "Retriever", "config": {
        "db_type": store, "collection": "kb", "query": "{{ question }}", "top_k": 2, "score_threshold": 0.3}}});
    let prompt = "Context:\n{{ nodes.retrieve.output.context }}\n\nQuestion: {{ question }}";
    let wf = chain(vec![retriever, llm("answer", "openai", prompt, json!({}))]);
    let run =
        h.finished(&h.start(wf, json!({"variables": {"question": "What is the capital of France?"}})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    let found = &node(&run, "retrieve")["output"]["results"];
    assert_eq!(found[0]["document_id"], "paris", "{found}");
    assert_eq!(
        (found[0]["text"].as_str(), found[0]["metadata"].clone()),
        (Some(DOCUMENTS[0].1), json!({"lang": "en"}))
    );
    assert!(h.provider.requests().last().unwrap().body.to_string().contains("Paris is the capital"), "in the prompt");
    // A Retriever naming another store than the collection's fails clearly.
    let wrong = json!({"id": "retrieve", "name": "Retrieve", "kind": {"type": "Retriever", "config": {
        "db_type": "embedded", "collection": "kb", "query": "{{ question }}", "top_k": 2}}});
    let run = h.finished(&h.start(chain(vec![wrong]), json!({"variables": {"question": "q"}})).await).await;
    assert_eq!(run["state"], "Failed");
    let error = node(&run, "retrieve")["error"].as_str().unwrap().to_owned();
    assert!(error.contains(&format!("set db_type to '{store}'")), "{error}");
}

#[tokio::test]
#[cfg_attr(not(oxify_test_postgres), ignore = "needs OXIFY_TEST_POSTGRES_URL at build time (.ci/run sets it)")]
async fn the_rag_workflow_runs_on_pgvector() {
    let url = std::env::var("OXIFY_TEST_POSTGRES_URL")
        .ok()
        .or_else(|| option_env!("OXIFY_TEST_POSTGRES_URL").map(str::to_owned))
        .unwrap();
    let h = harness(|c| c.pgvector_url = Some(url)).await;
    answers_from(&h, "pgvector").await;
}

#[tokio::test]
async fn the_rag_workflow_runs_on_chroma() {
    let server = match chroma_server::start().await {
        Ok(server) => server,
        Err(reason) => {
            eprintln!("Chroma case skipped: {reason}");
            return;
        }
    };
    let url = server.url.clone();
    let h = harness(|c| c.chroma_url = Some(url)).await;
    answers_from(&h, "chroma").await;
}
