//! The in-process engine suite: chains, fan-outs, a lattice, sequential executions and payloads,
//! each against the minimal tokio executor and, in a full run, LangGraph on the same shape.

use crate::engine::{self, Engine};
use crate::peers;
use crate::report::{Report, Row};
use crate::stats::{Sample, interleave, seconds};
use oxify_api::domain::ids::WorkflowId;
use oxify_api::domain::validation::validate;

pub struct Options {
    pub quick: bool,
    pub peers: bool,
    pub rounds: usize,
}

fn langgraph_us_per_node(shape: &str, n: &str, rounds: usize) -> Option<Sample> {
    let runs: Vec<f64> = (0..rounds).filter_map(|_| peers::langgraph(shape, n)?.get("us_per_node")?.as_f64()).collect();
    (!runs.is_empty()).then_some(Sample(runs))
}

async fn per_node(report: &mut Report, o: &Options, shape: &'static str, n: usize) {
    let wf = if shape == "chain" { engine::chain(n) } else { engine::fan(n) };
    let ours = Engine::new(0, n.max(16));
    ours.register(&wf).await;
    ours.run(&wf).await;
    let nodes = engine::nodes(&wf) as f64;
    let (a, b) = interleave(
        o.rounds,
        || async { seconds(ours.run(&wf)).await.0 * 1e6 / nodes },
        || async { seconds(engine::floor_run(&wf)).await.0 * 1e6 / nodes },
    )
    .await;
    let case = if shape == "chain" { format!("chain of {n} no-op nodes") } else { format!("fan-out 1 -> {n} -> 1") };
    report.add(
        Row::new("Engine", case.clone(), a.clone(), "µs/node", false)
            .against("minimal tokio executor", b)
            .target("within 5x of it"),
    );
    if o.peers
        && let Some(lg) = langgraph_us_per_node(shape, &n.to_string(), o.rounds)
    {
        report.add(Row::new("Engine", case, a, "µs/node", false).against("LangGraph", lg).target(">= 100x faster"));
    }
}

async fn lattice(report: &mut Report, o: &Options) {
    let mut per_node = Vec::new();
    for side in [50usize, 100] {
        let draft = engine::lattice_json(side, side);
        let validation: Vec<f64> = (0..o.rounds)
            .map(|_| {
                let d = draft.clone();
                let now = chrono::Utc::now();
                let t = std::time::Instant::now();
                let _ = validate(d.complete(WorkflowId::generate(), now, now)).unwrap();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        let wf = engine::lattice(side, side);
        let ours = Engine::new(0, 64);
        ours.register(&wf).await;
        let (run, floor) = interleave(
            o.rounds,
            || async { seconds(ours.run(&wf)).await.0 * 1e3 },
            || async { seconds(engine::floor_run(&wf)).await.0 * 1e3 },
        )
        .await;
        per_node.push(run.median() / (side * side) as f64);
        report.add(Row::new("Engine", format!("lattice {side}x{side}: validation"), Sample(validation), "ms", false));
        report.add(
            Row::new("Engine", format!("lattice {side}x{side}: run"), run.clone(), "ms", false)
                .against("minimal tokio executor", floor),
        );
        if o.peers && side == 100 {
            let lg: Vec<f64> = (0..o.rounds)
                .filter_map(|_| Some(peers::langgraph("lattice", "100x100")?.get("median_s")?.as_f64()? * 1e3))
                .collect();
            if !lg.is_empty() {
                report.add(
                    Row::new("Engine", "lattice 100x100: run", run, "ms", false)
                        .against("LangGraph", Sample(lg))
                        .target(">= 100x faster"),
                );
            }
        }
    }
    report.add(
        Row::new(
            "Engine",
            "lattice: time per node, 100x100 over 50x50",
            Sample(vec![per_node[1] / per_node[0]]),
            "x",
            false,
        )
        .target("~1x (linear growth)"),
    );
}

async fn sequential(report: &mut Report, o: &Options) {
    let wf = engine::chain(1);
    let ours = Engine::new(0, 16);
    ours.register(&wf).await;
    let k = if o.quick { 200 } else { 1000 };
    let runs: Vec<f64> = {
        let mut v = Vec::new();
        for _ in 0..o.rounds {
            let (s, ()) = seconds(async {
                for _ in 0..k {
                    ours.run(&wf).await;
                }
            })
            .await;
            v.push(k as f64 / s);
        }
        v
    };
    let mut row = Row::new(
        "Engine",
        format!("{k} sequential executions of a 3-node workflow"),
        Sample(runs.clone()),
        "exec/s",
        true,
    );
    if o.peers {
        let lg: Vec<f64> = (0..o.rounds)
            .filter_map(|_| peers::langgraph("sequential", "1000")?.get("executions_per_s")?.as_f64())
            .collect();
        if !lg.is_empty() {
            row = row.against("LangGraph", Sample(lg)).target(">= 100x");
        }
    }
    report.add(row);
}

async fn payloads(report: &mut Report, o: &Options) {
    for (label, bytes) in [("1 KB", 1024usize), ("100 KB", 100 * 1024), ("1 MB", 1024 * 1024)] {
        let wf = engine::chain(10);
        let ours = Engine::new(bytes, 16);
        ours.register(&wf).await;
        let runs: Vec<f64> = {
            let mut v = Vec::new();
            for _ in 0..o.rounds {
                v.push(seconds(ours.run(&wf)).await.0);
            }
            v
        };
        let produced_mb = (bytes * 10) as f64 / (1024.0 * 1024.0);
        let per_mb: Vec<f64> = runs.iter().map(|s| s * 1e3 / produced_mb).collect();
        report.add(
            Row::new(
                "Engine",
                format!("{label} payload along a 10-node chain: cost per MB produced"),
                Sample(per_mb),
                "ms/MB",
                false,
            )
            .target("flat across sizes"),
        );
        if o.peers {
            let n = match bytes {
                1024 => "1K",
                102_400 => "100K",
                _ => "1M",
            };
            let lg: Vec<f64> = (0..o.rounds)
                .filter_map(|_| Some(peers::langgraph("payload", n)?.get("median_s")?.as_f64()? * 1e3))
                .collect();
            if !lg.is_empty() {
                let ms: Vec<f64> = runs.iter().map(|s| s * 1e3).collect();
                report.add(
                    Row::new("Engine", format!("{label} payload along a 10-node chain"), Sample(ms), "ms", false)
                        .against("LangGraph (no persistence)", Sample(lg)),
                );
            }
        }
    }
}

pub async fn run(report: &mut Report, o: &Options) {
    for n in [10, 100, 1000, 10_000] {
        if !(o.quick && n > 1000) {
            per_node(report, o, "chain", n).await;
        }
    }
    for n in [10, 100, 1000, 10_000] {
        if !(o.quick && n > 1000) {
            per_node(report, o, "fanout", n).await;
        }
    }
    lattice(report, o).await;
    sequential(report, o).await;
    payloads(report, o).await;
}
