//! Growth: list and get latency with 1k, 10k and 100k stored executions on SQLite (must stay
//! flat: keyset pages, counters for totals).

use crate::report::{Report, Row};
use crate::servers;
use crate::stats::{Sample, percentile};
use oxify_api::adapters::http::pagination::encode;
use oxify_api::adapters::store::SqliteStore;
use oxify_api::domain::access::Scope;
use oxify_api::domain::execution::{Execution, ExecutionState, ExecutionUpdate};
use oxify_api::domain::ids::WorkflowId;
use oxify_api::domain::validation::validate;
use oxify_api::domain::workflow::WorkflowDraft;
use oxify_api::ports::{Cursor, ExecutionLog, Lease, WorkflowStore};
use serde_json::{Map, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn populate(url: &str, workflow: WorkflowId, from: usize, to: usize, create_workflow: bool) -> Vec<Cursor> {
    let store = Arc::new(SqliteStore::open(url, 4).await.expect("open"));
    if create_workflow {
        let draft: WorkflowDraft = serde_json::from_value(json!({"metadata": {"id": workflow, "name": "growth"},
            "nodes": [{"id": "s", "name": "S", "kind": {"type": "Start"}}], "edges": []}))
        .unwrap();
        let now = chrono::Utc::now();
        WorkflowStore::create(store.as_ref(), Scope::DEFAULT, &validate(draft.complete(workflow, now, now)).unwrap())
            .await
            .unwrap();
    }
    let lease = Lease { owner: "bench".into(), ttl: Duration::from_secs(60) };
    let base = chrono::Utc::now() - chrono::Duration::days(1);
    let writers = 64;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (store, lease) = (store.clone(), lease.clone());
        tasks.push(tokio::spawn(async move {
            let mut cursors = Vec::new();
            for i in (from + w..to).step_by(writers) {
                let created = base + chrono::Duration::microseconds(i as i64 * 1000);
                let mut e = Execution::new(Scope::DEFAULT, workflow, 1, Map::new(), created);
                e.state = if i % 10 == 0 { ExecutionState::Failed } else { ExecutionState::Completed };
                ExecutionLog::create_with(store.as_ref(), &e, &lease, &ExecutionUpdate::default())
                    .await
                    .expect("create");
                cursors.push(Cursor { created_at: created, id: e.id.0 });
            }
            cursors
        }));
    }
    let mut cursors = Vec::new();
    for t in tasks {
        cursors.extend(t.await.unwrap());
    }
    cursors
}

async fn latency(client: &reqwest::Client, url: &str, n: usize) -> (f64, f64) {
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let reply = client.get(url).send().await.unwrap();
        assert!(reply.status().is_success(), "{url}: {}", reply.status());
        let _ = reply.bytes().await.unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    (percentile(&mut ms, 50.0), percentile(&mut ms, 99.0))
}

pub async fn run(report: &mut Report, sizes: &[usize], requests: usize) {
    let dir = tempfile::tempdir_in(crate::bench_dir()).unwrap();
    let url = format!("sqlite://{}", dir.path().join("growth.db").display());
    let workflow = WorkflowId::generate();
    let client = reqwest::Client::new();
    let mut cursors = Vec::new();
    let mut have = 0;
    let mut rows: Vec<(String, Vec<f64>)> = Vec::new();
    for &size in sizes {
        let t = Instant::now();
        cursors.extend(populate(&url, workflow, have, size, have == 0).await);
        report.note(format!("growth: stored {} executions in {:.1} s", size - have, t.elapsed().as_secs_f64()));
        have = size;
        cursors.sort_by_key(|c| (c.created_at, c.id));
        let server = servers::oxify(&url, None);
        let middle = encode(&cursors[cursors.len() / 2]);
        let some_id = cursors[cursors.len() / 3].id;
        let cases = [
            ("list executions, first page of 50", format!("{}/api/v1/executions?limit=50", server.url)),
            (
                "list executions, a page in the middle",
                format!("{}/api/v1/executions?limit=50&cursor={middle}", server.url),
            ),
            (
                "list Failed executions of one workflow",
                format!("{}/api/v1/workflows/{workflow}/executions?state=Failed&limit=50", server.url),
            ),
            ("get one execution", format!("{}/api/v1/executions/{some_id}", server.url)),
        ];
        for (name, case_url) in cases {
            let (p50, _) = latency(&client, &case_url, requests).await;
            match rows.iter_mut().find(|(n, _)| n == name) {
                Some((_, v)) => v.push(p50),
                None => rows.push((name.to_owned(), vec![p50])),
            }
        }
    }
    for (name, p50s) in rows {
        let shown: Vec<String> = sizes.iter().zip(&p50s).map(|(s, v)| format!("{}k: {v:.2} ms", s / 1000)).collect();
        let growth = p50s.last().unwrap_or(&f64::NAN) / p50s.first().unwrap_or(&f64::NAN);
        report.add(
            Row::new(
                "Growth",
                format!("{name}: p50 {}", shown.join(", ")),
                Sample(vec![growth]),
                "x from smallest to largest",
                false,
            )
            .target("flat (~1x)"),
        );
    }
}
