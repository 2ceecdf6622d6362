//! End to end through HTTP, per storage backend: clients that each start a trivial 3-node
//! execution and follow its event stream to the end, then start the next; against the raw
//! commit loop of the same backend.

use crate::floors;
use crate::http::{create, trivial_workflow};
use crate::load::closed_loop;
use crate::report::{Report, Row};
use crate::servers;
use crate::stats::Sample;
use serde_json::{Value, json};
use std::time::Duration;

pub struct Backend {
    pub name: &'static str,
    pub url: String,
    /// Single-row commits per second of the same database, measured right before each round.
    pub floor: Option<Box<dyn Fn() -> futures::future::BoxFuture<'static, f64> + Send + Sync>>,
}

/// Executions per second that `clients` clients complete in `seconds`.
pub async fn executions_per_s(base: &str, workflow: &str, clients: usize, seconds: f64) -> f64 {
    let client = reqwest::Client::builder().pool_max_idle_per_host(512).build().unwrap();
    let (base, workflow) = (base.to_owned(), workflow.to_owned());
    let load = closed_loop(clients, Duration::from_secs_f64(seconds), usize::MAX, move |_| {
        let (client, base, workflow) = (client.clone(), base.clone(), workflow.clone());
        async move {
            let Ok(reply) =
                client.post(format!("{base}/api/v1/workflows/{workflow}/execute")).json(&json!({})).send().await
            else {
                return false;
            };
            let Ok(started) = reply.json::<Value>().await else { return false };
            let Some(id) = started["execution_id"].as_str() else { return false };
            let Ok(stream) = client.get(format!("{base}/api/v1/executions/{id}/stream")).send().await else {
                return false;
            };
            stream.text().await.is_ok_and(|t| t.contains("execution_completed"))
        }
    })
    .await;
    assert_eq!(load.errors, 0, "every execution completes");
    load.per_second()
}

pub async fn run(
    report: &mut Report,
    backends: Vec<Backend>,
    clients: &[usize],
    rounds: usize,
    seconds: f64,
) -> Vec<(String, usize, Sample)> {
    let mut measured = Vec::new();
    for backend in backends {
        let server = servers::oxify(&backend.url, None);
        let http = reqwest::Client::new();
        let workflow = create(&http, &server.url, &trivial_workflow()).await;
        for &c in clients {
            let (mut ours, mut floor) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                ours.push(executions_per_s(&server.url, &workflow, c, seconds).await);
                if let Some(f) = &backend.floor {
                    floor.push(f().await);
                }
            }
            let mut row = Row::new(
                "End to end",
                format!("{}: trivial 3-node executions, {c} clients", backend.name),
                Sample(ours.clone()),
                "exec/s",
                true,
            );
            if !floor.is_empty() {
                let target = if backend.name == "sqlite" { ">= 0.5x the raw commit loop" } else { "" };
                row = row.against(format!("raw {} commit loop", backend.name), Sample(floor)).target(target);
            }
            report.add(row);
            measured.push((backend.name.to_owned(), c, Sample(ours)));
        }
    }
    measured
}

/// SQLite in a fresh directory on the benchmark disk, with its commit-loop floor beside it.
pub fn sqlite_backend(dir: &std::path::Path, seconds: f64) -> Backend {
    let floor_path = dir.join("floor.db");
    Backend {
        name: "sqlite",
        url: format!("sqlite://{}", dir.join("e2e.db").display()),
        floor: Some(Box::new(move || {
            let p = floor_path.clone();
            Box::pin(async move { floors::sqlite_commits_per_s(&p, Duration::from_secs_f64(seconds), 100_000).await })
        })),
    }
}

pub fn postgres_backend(url: String, schema_url: String, seconds: f64) -> Backend {
    Backend {
        name: "postgres",
        url: schema_url,
        floor: Some(Box::new(move || {
            let u = url.clone();
            Box::pin(async move { floors::postgres_commits_per_s(&u, Duration::from_secs_f64(seconds), 100_000).await })
        })),
    }
}
