//! Crash-proof executions, end to end: the real binary is killed with SIGKILL in the middle of an
//! execution of slow LLM nodes (served by a fake provider on loopback), started again on the same
//! database, and must finish the execution by itself without running a finished node twice.
//! Against SQLite always, against Postgres when `OXIFY_TEST_POSTGRES_URL` is set (ignored otherwise).

#[path = "../llm/provider.rs"]
#[allow(dead_code)]
mod provider;

mod human;
mod legacy;
mod map;

use eventsource_stream::Eventsource;
use futures::StreamExt;
use provider::{Provider, Reply, openai};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_oxify-api");
const STEPS: usize = 6;

struct Running {
    child: Child,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(database_url: &str, provider_url: &str) -> Running {
    let mut child = Command::new(BIN)
        .args(["--host", "127.0.0.1", "--port", "0", "--database-url", database_url, "--lease-secs", "2"])
        .env("OPENAI_BASE_URL", format!("{provider_url}/v1"))
        .env("OXIFY_OLLAMA_URL", format!("{provider_url}/v1"))
        .env("OPENAI_API_KEY", "sk-test")
        .env("OXIFY_LOG_LEVEL", "warn")
        .env("OXIFY_ALLOW_ANONYMOUS", "true")
        // A key of their own, so that no key file is written into the working directory.
        .env("OXIFY_SECRETS_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("oxify-api listening on ")
        .unwrap_or_else(|| panic!("unexpected output: {line}"))
        .to_owned();
    Running { child, url }
}

fn kill_9(running: &mut Running) {
    let pid = running.child.id().to_string();
    assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    running.child.wait().unwrap();
}

/// Start, `STEPS` LLM nodes in a row, End; step i's prompt is `step i` followed by `tail` (a template).
fn slow_chain(tail: &str) -> Value {
    let mut nodes = vec![json!({"id": "start", "name": "Start", "kind": {"type": "Start"}})];
    let mut edges = Vec::new();
    let mut previous = "start".to_owned();
    for i in 1..=STEPS {
        let id = format!("step{i}");
        nodes.push(json!({"id": id, "name": format!("Step {i}"), "kind": {"type": "LLM", "config": {
            "provider": "openai", "model": "m", "prompt_template": format!("step {i}{tail}")}}}));
        edges.push(json!({"from": previous, "to": id}));
        previous = id;
    }
    nodes.push(json!({"id": "end", "name": "End", "kind": {"type": "End"}}));
    edges.push(json!({"from": previous, "to": "end"}));
    json!({"workflow": {"metadata": {"name": "slow chain"}, "nodes": nodes, "edges": edges}})
}

async fn get(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn post(url: &str, body: Value) -> Value {
    reqwest::Client::new().post(url).json(&body).send().await.unwrap().json().await.unwrap()
}

fn succeeded(run: &Value) -> usize {
    run["node_results"]
        .as_array()
        .map_or(0, |r| r.iter().filter(|n| n["status"] == "Succeeded" && n["kind"] == "LLM").count())
}

async fn wait_until(url: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..3000 {
        last = get(url).await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let shown: String = last.to_string().chars().take(3000).collect();
    panic!("condition never met for {url}; last seen: {shown}");
}

/// Calls per prompt the provider received.
fn calls(provider: &Provider) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for r in provider.requests() {
        *counts.entry(r.body["messages"][0]["content"].as_str().unwrap_or_default().to_owned()).or_insert(0) += 1;
    }
    counts
}

/// Text every backend must give back exactly, or a resumed run sends other prompts than the first.
const ODD: &str = "nul\u{0} sep\u{2028} bom\u{FEFF} dle\u{10}0 😀";

async fn crash_and_resume(database_url: &str) {
    let (provider, provider_url) = Provider::start().await;
    provider.always(Reply::Slow(Duration::from_millis(250), Box::new(openai("done"))));
    let mut first = start(database_url, &provider_url);
    let wf = post(&format!("{}/api/v1/workflows", first.url), slow_chain(" {{ q }}")).await;
    let wf_id = wf["id"].as_str().unwrap_or_else(|| panic!("{wf}")).to_owned();
    let run = post(&format!("{}/api/v1/workflows/{wf_id}/execute", first.url), json!({"variables": {"q": ODD}})).await;
    let execution = run["execution_id"].as_str().unwrap().to_owned();
    let execution_url = format!("{}/api/v1/executions/{execution}", first.url);
    wait_until(&execution_url, |run| succeeded(run) >= 2).await;
    kill_9(&mut first);
    let before_restart = calls(&provider);

    let second = start(database_url, &provider_url);
    let execution_url = format!("{}/api/v1/executions/{execution}", second.url);
    let run = wait_until(&execution_url, |run| run["state"] == "Completed" || run["state"] == "Failed").await;
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(succeeded(&run), STEPS);
    assert_eq!(run["variables"]["q"], ODD, "the variables as given");
    let counts = calls(&provider);
    let prompts: Vec<String> = (1..=STEPS).map(|i| format!("step {i} {ODD}")).collect();
    for sent in counts.keys() {
        assert!(prompts.contains(sent), "a resumed node rendered another prompt than its first attempt: {sent:?}");
    }
    let mut rerun = 0;
    for i in 1..=STEPS {
        let prompt = format!("step {i} {ODD}");
        let node = run["node_results"].as_array().unwrap().iter().find(|n| n["node_id"] == format!("step{i}")).unwrap();
        let n = counts.get(&prompt).copied().unwrap_or(0);
        assert_eq!(node["attempts"].as_u64().unwrap() as usize, n, "step {i}: one attempt recorded per call: {run}");
        if n == 2 {
            rerun += 1;
            assert_eq!(before_restart.get(&prompt), Some(&1), "only a node in flight at the kill runs again");
        } else {
            assert_eq!(n, 1, "step {i} ran {n} times");
        }
    }
    assert!(rerun <= 1, "one node was in flight at most");
    let events: Vec<String> = {
        let reply = reqwest::get(format!("{execution_url}/stream")).await.unwrap();
        let stream = reply.bytes_stream().eventsource().map(|e| e.unwrap().event);
        tokio::time::timeout(Duration::from_secs(20), stream.collect()).await.unwrap()
    };
    assert!(events.contains(&"execution_resumed".to_owned()), "{events:?}");
    assert_eq!(events.iter().filter(|e| *e == "execution_started").count(), 1);
    assert_eq!(events.last().map(String::as_str), Some("execution_completed"), "one frame per event, terminal last");
}

#[tokio::test]
async fn sqlite_execution_survives_sigkill_and_finishes_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    crash_and_resume(&format!("sqlite://{}", dir.path().join("crash.db").display())).await;
}

#[tokio::test]
#[cfg_attr(not(oxify_test_postgres), ignore = "needs OXIFY_TEST_POSTGRES_URL at build time (.ci/run sets it)")]
async fn postgres_execution_survives_sigkill_and_finishes_after_restart() {
    let url = postgres_url().await;
    crash_and_resume(&url).await;
}

/// A fresh schema on the server named by `OXIFY_TEST_POSTGRES_URL`, as a database URL.
async fn postgres_url() -> String {
    let base = std::env::var("OXIFY_TEST_POSTGRES_URL")
        .ok()
        .or_else(|| option_env!("OXIFY_TEST_POSTGRES_URL").map(str::to_owned))
        .filter(|url| !url.is_empty())
        .expect("OXIFY_TEST_POSTGRES_URL must name a Postgres server for the Postgres tests");
    let schema = format!("crash_{}", uuid::Uuid::new_v4().simple());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("OXIFY_TEST_POSTGRES_URL is set but unreachable: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut conn).await.unwrap();
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-c%20search_path%3D{schema}")
}

#[tokio::test]
async fn a_restarted_server_replays_a_stream_from_last_event_id() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("replay.db").display());
    let (provider, provider_url) = Provider::start().await;
    provider.always(openai("done"));
    let mut first = start(&database, &provider_url);
    let wf = post(&format!("{}/api/v1/workflows", first.url), slow_chain("")).await;
    let run = post(&format!("{}/api/v1/workflows/{}/execute", first.url, wf["id"].as_str().unwrap()), json!({})).await;
    let execution = run["execution_id"].as_str().unwrap().to_owned();
    let stream_of = |base: &str| format!("{base}/api/v1/executions/{execution}/stream");
    let all: Vec<(String, String)> = {
        let reply = reqwest::get(stream_of(&first.url)).await.unwrap();
        let frames = reply.bytes_stream().eventsource().map(|e| e.unwrap());
        // Partial output is live only; the stored log is what a restart can replay.
        frames.filter(|e| std::future::ready(e.event != "node_output_delta")).map(|e| (e.id, e.event)).collect().await
    };
    kill_9(&mut first);
    let second = start(&database, &provider_url);
    let from = all.len() / 2;
    let after: u64 = all[from].0.parse().unwrap();
    let reply = reqwest::Client::new()
        .get(stream_of(&second.url))
        .header("Last-Event-ID", after.to_string())
        .send()
        .await
        .unwrap();
    let rest: Vec<(String, String)> =
        reply.bytes_stream().eventsource().map(|e| e.unwrap()).map(|e| (e.id, e.event)).collect().await;
    let expected: Vec<(String, String)> =
        all.into_iter().filter(|(id, _)| id.parse::<u64>().unwrap() > after).collect();
    assert_eq!(rest, expected, "exactly the events after {after}, from the stored log");
}

#[tokio::test]
#[cfg_attr(not(oxify_test_postgres), ignore = "needs OXIFY_TEST_POSTGRES_URL at build time (.ci/run sets it)")]
async fn a_stream_on_another_process_follows_an_execution_to_its_end() {
    let url = postgres_url().await;
    let (provider, provider_url) = Provider::start().await;
    provider.always(Reply::Slow(Duration::from_millis(150), Box::new(openai("done"))));
    let (runner, watcher) = (start(&url, &provider_url), start(&url, &provider_url));
    let wf = post(&format!("{}/api/v1/workflows", runner.url), slow_chain("")).await;
    let run = post(&format!("{}/api/v1/workflows/{}/execute", runner.url, wf["id"].as_str().unwrap()), json!({})).await;
    let execution = run["execution_id"].as_str().unwrap().to_owned();
    let reply = reqwest::get(format!("{}/api/v1/executions/{execution}/stream", watcher.url)).await.unwrap();
    let named: Vec<String> = tokio::time::timeout(
        Duration::from_secs(30),
        reply
            .bytes_stream()
            .eventsource()
            .map(|e| e.unwrap())
            .filter(|e| std::future::ready(e.event != "message"))
            .map(|e| e.event)
            .collect(),
    )
    .await
    .expect("the stream on the other process ends");
    assert_eq!(named.last().map(String::as_str), Some("execution_completed"), "{named:?}");
    assert_eq!(named.iter().filter(|e| *e == "node_completed").count(), STEPS + 2);
}
