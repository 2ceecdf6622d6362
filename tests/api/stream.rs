//! End to end: a real server on a free port, a real HTTP client, a real SSE client.

use crate::support::{chain, code, edge, end, start, workflow};
use eventsource_stream::{Event, Eventsource};
use futures::StreamExt;
use oxify_api::startup::server::Server;
use serde_json::{Value, json};
use std::time::Duration;

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(server: &Server) -> Self {
        Self { http: reqwest::Client::new(), base: format!("http://{}", server.addr()) }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let reply = self.http.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        assert!(reply.status().is_success(), "{}", reply.status());
        reply.json().await.unwrap()
    }

    async fn start(&self, body: Value) -> String {
        let id = self.post("/api/v1/workflows", body).await["id"].as_str().unwrap().to_owned();
        let run = self.post(&format!("/api/v1/workflows/{id}/execute"), json!({"variables": {"who": "Ada"}})).await;
        run["execution_id"].as_str().unwrap().to_owned()
    }

    fn stream_request(&self, execution: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}/api/v1/executions/{execution}/stream", self.base))
    }

    /// Every SSE event until the server closes the stream.
    async fn events(&self, request: reqwest::RequestBuilder) -> Vec<Event> {
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.headers()["x-accel-buffering"], "no");
        let stream = reply.bytes_stream().eventsource();
        tokio::time::timeout(Duration::from_secs(20), stream.map(Result::unwrap).collect())
            .await
            .expect("stream closes")
    }
}

fn named(events: &[Event]) -> Vec<(&str, &str)> {
    events.iter().filter(|e| e.event != "message").map(|e| (e.event.as_str(), e.id.as_str())).collect()
}

fn slow_workflow() -> Value {
    workflow(
        json!([start("s"), code("a", "sleep 200"), code("b", "echo hi {{ who }}"), end("e")]),
        json!([edge("s", "a"), edge("a", "b"), edge("b", "e")]),
    )
}

#[tokio::test]
async fn a_live_client_follows_an_execution_to_its_end() {
    let server = crate::support::spawn_server(|_| {}).await;
    let client = Client::new(&server);
    let execution = client.start(slow_workflow()).await;
    let events = client.events(client.stream_request(&execution)).await;
    let kinds: Vec<&str> = named(&events).into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds.first(), Some(&"execution_started"));
    assert_eq!(kinds.last(), Some(&"execution_completed"), "terminal frame, then the stream closed");
    assert_eq!(kinds.iter().filter(|k| **k == "node_completed").count(), 4);
    let b_done = events.iter().find(|e| e.event == "node_completed" && e.data.contains("\"node_id\":\"b\"")).unwrap();
    let data: Value = serde_json::from_str(&b_done.data).unwrap();
    assert_eq!(data["output"], "hi Ada");
    assert_eq!(data["node_name"], "B");
    assert!(events.iter().all(|e| e.event != "message"), "one named frame per event, no second frame");
    let last: Value = serde_json::from_str(&events.last().unwrap().data).unwrap();
    for field in ["execution_id", "workflow_id", "state", "node_results_count", "timestamp"] {
        assert!(last.get(field).is_some(), "the seed's field {field} is in every frame");
    }
    assert_eq!(last["state"], "Completed");
    assert_eq!(last["node_results_count"], 4);
    let ids: Vec<u64> = events.iter().map(|e| e.id.parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "one frame per id, ids only go up");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn seed_clients_choose_the_seeds_unnamed_frames() {
    let server = crate::support::spawn_server(|_| {}).await;
    let client = Client::new(&server);
    let execution = client.start(slow_workflow()).await;
    let url = format!("{}/api/v1/executions/{execution}/stream?format=seed", client.base);
    let seed = client.events(client.http.get(&url)).await;
    let full = client.events(client.stream_request(&execution)).await;
    assert_eq!(seed.len(), full.len(), "one frame per event in either format");
    assert!(seed.iter().all(|e| e.event == "message"), "unnamed frames");
    for (s, f) in seed.iter().zip(&full) {
        assert_eq!(s.id, f.id);
        let data: Value = serde_json::from_str(&s.data).unwrap();
        let keys: Vec<&str> = data.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["execution_id", "node_results_count", "state", "timestamp", "workflow_id"]);
    }
    let bad = client.http.get(format!("{url}x")).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_cut_after_any_frame_resumes_exactly_there_in_either_format() {
    let server = crate::support::spawn_server(|_| {}).await;
    let client = Client::new(&server);
    let execution = client.start(slow_workflow()).await;
    for format in ["events", "seed"] {
        let url = format!("{}/api/v1/executions/{execution}/stream?format={format}", client.base);
        let full = client.events(client.http.get(&url)).await;
        let frame = |e: &Event| (e.event.clone(), e.id.clone(), e.data.clone());
        for cut in 0..full.len() - 1 {
            let by_header = client.events(client.http.get(&url).header("Last-Event-ID", &full[cut].id)).await;
            let query = format!("{url}&last_event_id={}", full[cut].id);
            let by_query = client.events(client.http.get(&query)).await;
            let expected: Vec<_> = full[cut + 1..].iter().map(frame).collect();
            assert_eq!(by_header.iter().map(frame).collect::<Vec<_>>(), expected, "{format}, cut after {cut}");
            assert_eq!(by_query.iter().map(frame).collect::<Vec<_>>(), expected, "{format}, query, cut after {cut}");
        }
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn reconnecting_with_last_event_id_gets_exactly_what_was_missed() {
    let server = crate::support::spawn_server(|_| {}).await;
    let client = Client::new(&server);
    let execution = client.start(slow_workflow()).await;
    // First connection: read until node a has started, then drop it.
    let reply = client.stream_request(&execution).send().await.unwrap();
    let mut stream = reply.bytes_stream().eventsource();
    let mut seen = Vec::new();
    while let Some(event) = stream.next().await {
        let event = event.unwrap();
        let stop = event.event == "node_started" && event.data.contains("\"node_id\":\"a\"");
        seen.push(event);
        if stop {
            break;
        }
    }
    drop(stream);
    let last_id = seen.last().unwrap().id.clone();
    let rest = client.events(client.stream_request(&execution).header("Last-Event-ID", &last_id)).await;
    let full = client.events(client.stream_request(&execution)).await;
    let resumed: Vec<&str> = named(&rest).into_iter().map(|(_, id)| id).collect();
    let expected: Vec<&str> = named(&full)
        .into_iter()
        .map(|(_, id)| id)
        .filter(|id| id.parse::<u64>().unwrap() > last_id.parse().unwrap())
        .collect();
    assert_eq!(resumed, expected, "exactly the events after {last_id}, none twice");
    let first_resumed: u64 = resumed[0].parse().unwrap();
    assert_eq!(first_resumed, last_id.parse::<u64>().unwrap() + 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_late_subscriber_gets_the_history_and_a_finished_one_is_told_to_stop() {
    let server = crate::support::spawn_server(|_| {}).await;
    let client = Client::new(&server);
    let execution = client.start(chain("sleep 1")).await;
    let first = client.events(client.stream_request(&execution)).await;
    let second = client.events(client.stream_request(&execution)).await;
    assert_eq!(named(&first), named(&second), "history replays the same events with the same ids");
    let last = first.last().unwrap().id.clone();
    let reply = client.stream_request(&execution).header("Last-Event-ID", last).send().await.unwrap();
    assert_eq!(reply.status(), 204, "nothing more: EventSource stops reconnecting");
    let by_query = client
        .events(client.http.get(format!("{}/api/v1/executions/{execution}/stream?last_event_id=2", client.base)))
        .await;
    assert_eq!(by_query.first().unwrap().id, "3");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn keep_alive_comments_flow_while_nothing_happens() {
    let server = crate::support::spawn_server(|c| c.sse_keepalive_secs = 1).await;
    let client = Client::new(&server);
    let execution = client.start(chain("sleep 2500")).await;
    let reply = client.stream_request(&execution).send().await.unwrap();
    let body = tokio::time::timeout(Duration::from_secs(20), reply.text()).await.unwrap().unwrap();
    assert!(body.lines().any(|l| l.starts_with(':')), "a keep-alive comment arrived:\n{body}");
    assert!(body.contains("event: execution_completed"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_lets_running_executions_finish() {
    let server = crate::support::spawn_server(|c| c.shutdown_grace_secs = 10).await;
    let client = Client::new(&server);
    let execution = client.start(chain("sleep 500")).await;
    let stream = client.stream_request(&execution).send().await.unwrap();
    server.shutdown_trigger().cancel();
    let events: Vec<Event> = stream.bytes_stream().eventsource().map(Result::unwrap).collect().await;
    assert_eq!(events.iter().rev().find(|e| e.event != "message").unwrap().event, "execution_completed");
    tokio::time::timeout(Duration::from_secs(10), server.wait()).await.expect("server stops").unwrap();
}

#[tokio::test]
async fn shutdown_past_the_grace_period_marks_executions_interrupted() {
    let server = crate::support::spawn_server(|c| c.shutdown_grace_secs = 0).await;
    let client = Client::new(&server);
    let execution = client.start(chain("sleep 60000")).await;
    let stream = client.stream_request(&execution).send().await.unwrap();
    server.shutdown_trigger().cancel();
    let events: Vec<Event> = stream.bytes_stream().eventsource().map(Result::unwrap).collect().await;
    let last = events.iter().rev().find(|e| e.event != "message").unwrap();
    assert_eq!(last.event, "execution_failed");
    assert!(last.data.contains("interrupted"));
    tokio::time::timeout(Duration::from_secs(10), server.wait()).await.expect("server stops").unwrap();
}

#[tokio::test]
async fn a_last_event_id_beyond_the_log_is_refused_naming_the_last_id() {
    let server = crate::support::spawn_server(|_| {}).await;
    let client = Client::new(&server);
    let execution = client.start(chain("sleep 300")).await;
    for request in [
        client.stream_request(&execution).header("Last-Event-ID", "999"),
        client.http.get(format!("{}/api/v1/executions/{execution}/stream?last_event_id=999", client.base)),
    ] {
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), 400);
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["error"], "BadRequest");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("999") && message.contains("last event id is "), "{message}");
    }
    // Caught up exactly is fine: the stream goes on to the terminal event.
    let all = client.events(client.stream_request(&execution)).await;
    let first_id = all.iter().find(|e| !e.id.is_empty()).unwrap().id.clone();
    let resumed = client.events(client.stream_request(&execution).header("Last-Event-ID", first_id)).await;
    assert_eq!(resumed.iter().rev().find(|e| e.event != "message").unwrap().event, "execution_completed");
    // Finished, and asked beyond the end: still refused, not a silent 204.
    let reply = client.stream_request(&execution).header("Last-Event-ID", "999").send().await.unwrap();
    assert_eq!(reply.status(), 400);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_with_durable_storage_ends_streams_with_a_resumable_frame() {
    use oxify_api::app::executor::ExecutorLimits;
    use oxify_api::app::runner_registry::RunnerRegistry;
    use oxify_api::app::services::Services;
    use oxify_api::domain::workflow::NodeKindTag;
    use oxify_api::startup::config::Config;
    use oxify_api::startup::wiring;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("oxify.db").display());
    let runners = RunnerRegistry::new().with(NodeKindTag::Code, std::sync::Arc::new(crate::support::ScriptRunner));
    let ports = wiring::open(&url, 2, runners).await.unwrap();
    let services = Services::assemble(ports, ExecutorLimits::default(), Duration::from_secs(30));
    let mut config = Config::defaults();
    (config.host, config.port, config.shutdown_grace_secs) = ("127.0.0.1".into(), 0, 0);
    config.access.allow_anonymous = true;
    let server = Server::start(&config, services).await.unwrap();
    let client = Client::new(&server);
    let execution = client.start(chain("sleep 60000")).await;
    let stream = client.stream_request(&execution).send().await.unwrap();
    server.shutdown_trigger().cancel();
    let events: Vec<Event> = tokio::time::timeout(
        Duration::from_secs(20),
        stream.bytes_stream().eventsource().map(Result::unwrap).collect(),
    )
    .await
    .expect("the stream closes");
    let last = events.last().unwrap();
    assert_eq!(last.event, "stream_interrupted", "{events:?}");
    let data: Value = serde_json::from_str(&last.data).unwrap();
    let last_logged = &events[events.len() - 2];
    // The frame carries no id of its own: the client's last event id stays on the last event.
    assert_eq!(last.id, last_logged.id);
    assert_eq!(data["last_event_id"], last_logged.id);
    assert_eq!(data["resumable"], true);
    tokio::time::timeout(Duration::from_secs(10), server.wait()).await.expect("server stops").unwrap();
}
