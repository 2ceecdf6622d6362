//! Event streams under fan-out: S subscribers on one execution of N LLM nodes (answered at once
//! by a fake provider on loopback), measuring delivery latency and checking nothing is lost.

#[path = "../../tests/llm/provider.rs"]
#[allow(dead_code)]
mod provider;

use crate::http::create;
use crate::report::{Report, Row};
use crate::servers;
use crate::stats::{Sample, percentile};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{Value, json};

fn chain(n: usize) -> Value {
    let mut nodes = vec![json!({"id": "start", "name": "Start", "kind": {"type": "Start"}})];
    let mut edges = Vec::new();
    let mut prev = "start".to_owned();
    for i in 0..n {
        let id = format!("n{i}");
        nodes.push(json!({"id": id, "name": id, "kind": {"type": "LLM", "config": {"provider": "openai", "model": "m",
            "prompt_template": "hi", "extra_params": {"stream": false}}}}));
        edges.push(json!({"from": prev, "to": id}));
        prev = id;
    }
    nodes.push(json!({"id": "end", "name": "End", "kind": {"type": "End"}}));
    edges.push(json!({"from": prev, "to": "end"}));
    json!({"workflow": {"metadata": {"name": "sse"}, "nodes": nodes, "edges": edges}})
}

struct Seen {
    seqs: Vec<u64>,
    latencies_ms: Vec<f64>,
}

async fn subscribe(url: String) -> Seen {
    let connected = chrono::Utc::now();
    let reply = reqwest::get(url).await.expect("subscribe");
    let mut stream = reply.bytes_stream().eventsource();
    let mut seen = Seen { seqs: Vec::new(), latencies_ms: Vec::new() };
    while let Some(Ok(event)) = stream.next().await {
        if event.event == "message" {
            continue;
        }
        let now = chrono::Utc::now();
        if let Ok(seq) = event.id.parse::<u64>() {
            seen.seqs.push(seq);
        }
        let data: Value = serde_json::from_str(&event.data).unwrap_or_default();
        let at = data["timestamp"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        if let Some(at) = at.filter(|at| *at > connected) {
            seen.latencies_ms.push((now - at.with_timezone(&chrono::Utc)).num_microseconds().unwrap_or(0) as f64 / 1e3);
        }
    }
    seen
}

pub async fn run(report: &mut Report, subscribers: &[usize], nodes: usize, rounds: usize) {
    let (fake, fake_url) = provider::Provider::start().await;
    fake.always(provider::Reply::OpenAiWhole { text: "ok".into(), usage: (1, 1) });
    let server = servers::oxify("memory://", Some(&format!("{fake_url}/v1")));
    let http = reqwest::Client::new();
    let workflow = create(&http, &server.url, &chain(nodes)).await;
    for &s in subscribers {
        let (mut p50, mut p99, mut lost_total) = (Vec::new(), Vec::new(), 0usize);
        for _ in 0..rounds {
            let run: Value = http
                .post(format!("{}/api/v1/workflows/{workflow}/execute", server.url))
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let id = run["execution_id"].as_str().unwrap().to_owned();
            let url = format!("{}/api/v1/executions/{id}/stream", server.url);
            let tasks: Vec<_> = (0..s).map(|_| tokio::spawn(subscribe(url.clone()))).collect();
            let mut latencies = Vec::new();
            let mut expected = 0;
            let mut all = Vec::new();
            for t in tasks {
                let seen = t.await.unwrap();
                expected = expected.max(seen.seqs.last().copied().unwrap_or(0));
                latencies.extend(seen.latencies_ms);
                all.push(seen.seqs);
            }
            for seqs in all {
                let want: Vec<u64> = (1..=expected).collect();
                if seqs != want {
                    lost_total += 1;
                }
            }
            p50.push(percentile(&mut latencies, 50.0));
            p99.push(percentile(&mut latencies, 99.0));
        }
        report.add(Row::new(
            "SSE",
            format!("{s} subscribers, {nodes}-node execution: delivery p50"),
            Sample(p50),
            "ms",
            false,
        ));
        report.add(
            Row::new("SSE", format!("{s} subscribers, {nodes}-node execution: delivery p99"), Sample(p99), "ms", false)
                .target("zero lost events"),
        );
        report.note(format!(
            "SSE with {s} subscribers: {lost_total} subscriber(s) over {rounds} rounds missed or repeated an event"
        ));
    }
}
