//! Partial output is not lost on a client that opens the stream late or reconnects while the
//! node still runs: the server keeps the deltas of running attempts and replays them in place.

use crate::provider::Reply;
use crate::*;
use eventsource_stream::{Event, Eventsource};
use futures::StreamExt;
use serde_json::json;
use std::time::Duration;

const PIECES: [&str; 6] = ["Once ", "upon ", "a ", "time ", "there ", "was."];

/// Starts one LLM node whose provider sends three pieces at once, then one per `pause`; returns
/// once the provider has answered (the first deltas are out before anyone listens).
async fn started(h: &Harness, pause: Duration) -> String {
    let pieces = PIECES.map(String::from).to_vec();
    h.provider.script([Reply::OpenAiBurst { pieces, burst: 3, pause, usage: (5, 6) }]);
    let execution = h.start(chain(vec![llm("story", "openai", "Tell a story", json!({}))]), json!({})).await;
    for _ in 0..500 {
        if !h.provider.requests().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Let the burst reach the executor.
    tokio::time::sleep(Duration::from_millis(150)).await;
    execution
}

fn delta_text(e: &Event) -> String {
    serde_json::from_str::<Value>(&e.data).unwrap()["delta"].as_str().unwrap().to_owned()
}

async fn open(h: &Harness, execution: &str, last_event_id: Option<&str>) -> futures::stream::BoxStream<'static, Event> {
    let mut request = h.http.get(format!("{}/api/v1/executions/{execution}/stream", h.base));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let reply = request.send().await.unwrap();
    assert_eq!(reply.status(), 200);
    reply.bytes_stream().eventsource().map(Result::unwrap).boxed()
}

#[tokio::test]
async fn a_client_that_connects_after_the_first_deltas_gets_every_delta_in_place() {
    let h = harness(|_| {}).await;
    let execution = started(&h, Duration::from_millis(400)).await;
    let events: Vec<Event> =
        tokio::time::timeout(Duration::from_secs(30), open(&h, &execution, None).await.collect()).await.unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    let deltas: Vec<String> = events.iter().filter(|e| e.event == "node_output_delta").map(delta_text).collect();
    assert_eq!(deltas, PIECES, "every delta once, in order: {names:?}");
    let of_story = |name: &str| events.iter().position(|e| e.event == name && about(e, "story")).unwrap();
    let (started_at, completed_at) = (of_story("node_started"), of_story("node_completed"));
    let first_delta = names.iter().position(|n| *n == "node_output_delta").unwrap();
    let last_delta = names.iter().rposition(|n| *n == "node_output_delta").unwrap();
    assert!(started_at < first_delta && last_delta < completed_at, "{names:?}");
    let indexes: Vec<u64> = events
        .iter()
        .filter(|e| e.event == "node_output_delta")
        .map(|e| serde_json::from_str::<Value>(&e.data).unwrap()["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [1, 2, 3, 4, 5, 6]);
    assert_ids_increase(&events);
}

#[tokio::test]
async fn a_client_that_reconnects_mid_answer_resumes_after_the_last_delta_it_read() {
    let h = harness(|_| {}).await;
    let execution = started(&h, Duration::from_millis(400)).await;
    let mut first = open(&h, &execution, None).await;
    let mut seen = Vec::new();
    while seen.iter().filter(|e: &&Event| e.event == "node_output_delta").count() < 4 {
        seen.push(tokio::time::timeout(Duration::from_secs(30), first.next()).await.unwrap().unwrap());
    }
    drop(first);
    let last_id = seen.last().unwrap().id.clone();
    assert!(last_id.contains('.'), "a delta's id: {last_id}");
    let rest: Vec<Event> =
        tokio::time::timeout(Duration::from_secs(30), open(&h, &execution, Some(&last_id)).await.collect())
            .await
            .unwrap();
    let all: Vec<Event> = seen.into_iter().chain(rest).collect();
    let deltas: Vec<String> = all.iter().filter(|e| e.event == "node_output_delta").map(delta_text).collect();
    assert_eq!(deltas, PIECES, "nothing repeated, nothing missing");
    assert_eq!(all.iter().filter(|e| e.event == "node_started" && about(e, "story")).count(), 1);
    assert_eq!(all.last().unwrap().event, "execution_completed");
    assert_ids_increase(&all);
}

#[tokio::test]
async fn after_the_node_completes_its_output_is_in_the_stored_events_only() {
    let h = harness(|_| {}).await;
    let execution = started(&h, Duration::from_millis(10)).await;
    h.finished(&execution).await;
    let events = h.events(&execution).await;
    assert!(events.iter().all(|e| e.event != "node_output_delta"), "deltas are live only");
    let completed = events.iter().find(|e| e.event == "node_completed" && about(e, "story")).unwrap();
    let data: Value = serde_json::from_str(&completed.data).unwrap();
    assert_eq!(data["output"]["response"], PIECES.concat(), "{data}");
}

fn about(e: &Event, node: &str) -> bool {
    serde_json::from_str::<Value>(&e.data).unwrap()["node_id"] == node
}

/// Ids as the stream sends them (`12`, `12.3`) only grow, so that any of them resumes exactly.
fn assert_ids_increase(events: &[Event]) {
    let key = |id: &str| {
        let (seq, delta) = id.split_once('.').unwrap_or((id, "0"));
        (seq.parse::<u64>().unwrap(), delta.parse::<u64>().unwrap())
    };
    let ids: Vec<(u64, u64)> = events.iter().map(|e| key(&e.id)).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}
