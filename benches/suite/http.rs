//! HTTP: reading a workflow, creating one and starting an execution, against the hello-world
//! route of a bare axum server, under the same closed-loop load.

use crate::load::{Load, closed_loop};
use crate::report::{Report, Row};
use crate::servers;
use crate::stats::{Sample, percentile};
use serde_json::{Value, json};
use std::time::Duration;

pub fn trivial_workflow() -> Value {
    json!({"workflow": {"metadata": {"name": "trivial"}, "nodes": [
        {"id": "start", "name": "Start", "kind": {"type": "Start"}},
        {"id": "work", "name": "Work", "kind": {"type": "Parallel", "config": {"strategy": "WaitAll", "tasks": [{"id": "t", "expression": "done"}]}}},
        {"id": "end", "name": "End", "kind": {"type": "End"}}],
      "edges": [{"from": "start", "to": "work"}, {"from": "work", "to": "end"}]}})
}

pub async fn create(client: &reqwest::Client, base: &str, body: &Value) -> String {
    let reply: Value =
        client.post(format!("{base}/api/v1/workflows")).json(body).send().await.unwrap().json().await.unwrap();
    reply["id"].as_str().unwrap_or_else(|| panic!("create failed: {reply}")).to_owned()
}

async fn load(
    client: reqwest::Client,
    clients: usize,
    seconds: f64,
    make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> Load {
    closed_loop(clients, Duration::from_secs_f64(seconds), usize::MAX, move |_| {
        let request = make(&client);
        async move { request.send().await.is_ok_and(|r| r.status().is_success()) }
    })
    .await
}

pub async fn run(report: &mut Report, rounds: usize, seconds: f64) {
    let dir = tempfile::tempdir_in(crate::bench_dir()).unwrap();
    let ours = servers::oxify(&format!("sqlite://{}", dir.path().join("http.db").display()), None);
    let floor = servers::hello();
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();
    let body = trivial_workflow();
    let wf = create(&client, &ours.url, &body).await;
    let clients = 32;
    type Make = Box<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>;
    let cases: Vec<(&str, Make, &str)> = vec![
        (
            "GET a workflow",
            Box::new({
                let u = format!("{}/api/v1/workflows/{wf}", ours.url);
                move |c: &reqwest::Client| c.get(&u)
            }),
            ">= 0.6x the hello-world route",
        ),
        (
            "create a workflow",
            Box::new({
                let (u, b) = (format!("{}/api/v1/workflows", ours.url), body.clone());
                move |c: &reqwest::Client| c.post(&u).json(&b)
            }),
            "",
        ),
        (
            "execute (202)",
            Box::new({
                let u = format!("{}/api/v1/workflows/{wf}/execute", ours.url);
                move |c: &reqwest::Client| c.post(&u).json(&json!({"variables": {}}))
            }),
            "",
        ),
    ];
    let hello_url = format!("{}/hello", floor.url);
    for (name, make, target) in cases {
        let make = std::sync::Arc::new(make);
        let (mut ours_rate, mut floor_rate, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let m = make.clone();
            let mut a = load(client.clone(), clients, seconds, move |c| m(c)).await;
            let u = hello_url.clone();
            let b = load(client.clone(), clients, seconds, move |c| c.get(&u)).await;
            ours_rate.push(a.per_second());
            floor_rate.push(b.per_second());
            p50.push(percentile(&mut a.latencies_ms, 50.0));
            p99.push(percentile(&mut a.latencies_ms, 99.0));
        }
        report.add(
            Row::new("HTTP", format!("{name}, {clients} clients"), Sample(ours_rate), "req/s", true)
                .against("hello-world route", Sample(floor_rate))
                .target(target),
        );
        report.add(Row::new("HTTP", format!("{name}: latency p50"), Sample(p50), "ms", false));
        report.add(Row::new("HTTP", format!("{name}: latency p99"), Sample(p99), "ms", false));
    }
}
