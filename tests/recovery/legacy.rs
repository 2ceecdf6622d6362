//! Databases written by the previous schema (migration 0003, events stored as SSE text: see
//! `tests/fixtures/legacy/README.md`) are upgraded at start; their executions still read, stream
//! and resume.

use super::provider::{Provider, openai};
use super::{get, kill_9, postgres_url, start, wait_until};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/legacy");

fn by_variable(list: &Value) -> HashMap<String, Value> {
    list["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["execution_id"].as_str().unwrap().to_owned(), e.clone()))
        .collect()
}

async fn execution_named(base: &str, name: &str) -> Value {
    let list = get(&format!("{base}/api/v1/executions?limit=50")).await;
    for id in by_variable(&list).keys() {
        let run = get(&format!("{base}/api/v1/executions/{id}")).await;
        if run["variables"]["name"] == name {
            return run;
        }
    }
    panic!("no execution of {name} in {list}");
}

async fn stream(base: &str, execution: &str) -> Vec<(String, Value)> {
    let reply = reqwest::get(format!("{base}/api/v1/executions/{execution}/stream")).await.unwrap();
    assert_eq!(reply.status(), 200);
    let frames = reply.bytes_stream().eventsource().map(|e| e.unwrap());
    tokio::time::timeout(std::time::Duration::from_secs(20), frames.collect::<Vec<_>>())
        .await
        .expect("the stream ends")
        .into_iter()
        .filter(|e| e.event != "node_output_delta")
        .map(|e| (e.event, serde_json::from_str(&e.data).unwrap()))
        .collect()
}

async fn upgraded_database_reads_streams_and_resumes(database_url: &str) {
    let (provider, provider_url) = Provider::start().await;
    provider.always(openai("resumed answer"));
    let mut server = start(database_url, &provider_url);
    let base = server.url.clone();

    let list = get(&format!("{base}/api/v1/executions?limit=50")).await;
    assert_eq!(list["total"], 5, "{list}");

    let ada = execution_named(&base, "Ada").await;
    assert_eq!(ada["state"], "Completed");
    let gold = ada["node_results"].as_array().unwrap().iter().find(|r| r["node_id"] == "gold").unwrap();
    assert_eq!(gold["usage"]["total_tokens"], 16, "usage moved beside the output: {gold}");
    assert_eq!(ada["usage"]["total_tokens"], 16);
    let frames = stream(&base, ada["execution_id"].as_str().unwrap()).await;
    let names: Vec<&str> = frames.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"execution_started"));
    assert_eq!(names.last(), Some(&"execution_completed"));
    let gold_done = frames.iter().find(|(n, d)| n == "node_completed" && d["node_id"] == "gold").unwrap();
    assert_eq!(gold_done.1["node_name"], "Gold", "node names rendered from the workflow");
    assert_eq!(gold_done.1["kind"], "LLM");
    assert!(gold_done.1["output"]["response"].as_str().unwrap().contains("gold Ada"));

    let bob = execution_named(&base, "Bob").await;
    let other_skip = bob["node_results"].as_array().unwrap().iter().find(|r| r["node_id"] == "gold").unwrap();
    assert_eq!(other_skip["status"], "Skipped");
    assert_eq!(execution_named(&base, "Cy").await["state"], "Failed");
    assert_eq!(execution_named(&base, "Dee").await["state"], "Cancelled");

    // Eve was in flight at the kill: `second` runs again, `first` is not run twice.
    let eve = execution_named(&base, "Eve").await;
    let url = format!("{base}/api/v1/executions/{}", eve["execution_id"].as_str().unwrap());
    let done = wait_until(&url, |run| run["state"] == "Completed" || run["state"] == "Failed").await;
    assert_eq!(done["state"], "Completed", "{done}");
    let prompts: Vec<String> = provider
        .requests()
        .iter()
        .map(|r| r.body["messages"][0]["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(prompts, ["hang Eve"], "only the node in flight at the kill runs again");
    let second = done["node_results"].as_array().unwrap().iter().find(|r| r["node_id"] == "second").unwrap();
    assert_eq!(second["attempts"], 2);
    let frames = stream(&base, eve["execution_id"].as_str().unwrap()).await;
    let names: Vec<&str> = frames.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"execution_resumed"), "{names:?}");
    assert_eq!(names.last(), Some(&"execution_completed"));
    kill_9(&mut server);
}

#[tokio::test]
async fn a_sqlite_database_of_the_previous_schema_is_upgraded_and_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("legacy.db");
    std::fs::copy(Path::new(FIXTURES).join("v0003.sqlite"), &file).unwrap();
    upgraded_database_reads_streams_and_resumes(&format!("sqlite://{}", file.display())).await;
}

#[tokio::test]
#[cfg_attr(not(oxify_test_postgres), ignore = "needs OXIFY_TEST_POSTGRES_URL at build time (.ci/run sets it)")]
async fn a_postgres_database_of_the_previous_schema_is_upgraded_and_resumed() {
    let url = postgres_url().await;
    let dump = std::fs::read_to_string(Path::new(FIXTURES).join("v0003.postgres.sql")).unwrap();
    // The dump names its tables `public.x`; restore it into this test's own schema instead.
    let schema = url.rsplit("search_path%3D").next().unwrap().to_owned();
    let dump = dump.replace("public.", &format!("{schema}."));
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(dump)).execute(&mut conn).await.unwrap();
    upgraded_database_reads_streams_and_resumes(&url).await;
}
