//! The in-process engine suite: chains, fan-outs, a lattice, sequential executions and payloads,
//! each against the honest floor executor and, in a full run, LangGraph on the same shape.

use crate::engine::{self, Engine, Floor, on_worker};
use crate::peers;
use crate::report::{Report, Row};
use crate::stats::{Sample, interleave};
use oxify_api::domain::ids::WorkflowId;
use oxify_api::domain::valid::ValidWorkflow;
use oxify_api::domain::validation::validate;
use std::sync::Arc;

pub struct Options {
    pub quick: bool,
    pub peers: bool,
    pub rounds: usize,
}

fn langgraph_us_per_node(shape: &str, n: &str, rounds: usize) -> Option<Sample> {
    let runs: Vec<f64> = (0..rounds).filter_map(|_| peers::langgraph(shape, n)?.get("us_per_node")?.as_f64()).collect();
    (!runs.is_empty()).then_some(Sample(runs))
}

/// How many executions of a graph of `nodes` nodes one sample averages: enough that a sample
/// lasts a few milliseconds whatever the size.
fn repeats(nodes: usize) -> usize {
    (20_000 / nodes.max(1)).clamp(1, 2_000)
}

/// Our engine running `wf` `repeats` times in a row on a runtime worker: seconds per execution
/// times `scale`.
async fn ours_on_worker(ours: &Arc<Engine>, wf: &Arc<ValidWorkflow>, repeats: usize, scale: f64) -> f64 {
    let (ours, wf) = (ours.clone(), wf.clone());
    on_worker(move || async move {
        for _ in 0..repeats {
            ours.run(&wf).await;
        }
    })
    .await
        * scale
        / repeats as f64
}

/// The floor running its graph `repeats` times in a row on a runtime worker: seconds per run
/// times `scale`.
async fn floor_on_worker(floor: &Arc<Floor>, repeats: usize, scale: f64) -> f64 {
    let floor = floor.clone();
    on_worker(move || async move {
        for _ in 0..repeats {
            floor.run().await;
        }
    })
    .await
        * scale
        / repeats as f64
}

async fn per_node(report: &mut Report, o: &Options, shape: &'static str, n: usize) {
    let wf = Arc::new(if shape == "chain" { engine::chain(n) } else { engine::fan(n) });
    let ours = Arc::new(Engine::new(0, n.max(16)));
    ours.register(&wf).await;
    ours.run(&wf).await;
    let floor = Arc::new(Floor::new(&wf));
    let k = repeats(n);
    let nodes = engine::nodes(&wf) as f64;
    // One round each, not counted: the first shape measured would otherwise also pay for a cold
    // heap and caches.
    ours_on_worker(&ours, &wf, k, 1.0).await;
    floor_on_worker(&floor, k, 1.0).await;
    let (a, b) =
        interleave(o.rounds, || ours_on_worker(&ours, &wf, k, 1e6 / nodes), || floor_on_worker(&floor, k, 1e6 / nodes))
            .await;
    let case = if shape == "chain" { format!("chain of {n} no-op nodes") } else { format!("fan-out 1 -> {n} -> 1") };
    report.add(
        Row::new("Engine", case.clone(), a.clone(), "µs/node", false)
            .against("honest floor executor", b)
            .target("within 3x of it"),
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
        let wf = Arc::new(engine::lattice(side, side));
        let ours = Arc::new(Engine::new(0, 64));
        ours.register(&wf).await;
        let floor_engine = Arc::new(Floor::new(&wf));
        let k = repeats(side * side);
        let (run, floor) =
            interleave(o.rounds, || ours_on_worker(&ours, &wf, k, 1e3), || floor_on_worker(&floor_engine, k, 1e3))
                .await;
        per_node.push(run.median() / (side * side) as f64);
        report.add(Row::new("Engine", format!("lattice {side}x{side}: validation"), Sample(validation), "ms", false));
        report.add(
            Row::new("Engine", format!("lattice {side}x{side}: run"), run.clone(), "ms", false)
                .against("honest floor executor", floor),
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
    let wf = Arc::new(engine::chain(1));
    let ours = Arc::new(Engine::new(0, 16));
    ours.register(&wf).await;
    let k = if o.quick { 200 } else { 1000 };
    let mut runs = Vec::new();
    for _ in 0..o.rounds {
        runs.push(1.0 / ours_on_worker(&ours, &wf, k, 1.0).await);
    }
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
        let wf = Arc::new(engine::chain(10));
        let ours = Arc::new(Engine::new(bytes, 16));
        ours.register(&wf).await;
        let k = (10 * 1024 * 1024 / (bytes * 10)).clamp(1, 100);
        let mut runs = Vec::new();
        for _ in 0..o.rounds {
            runs.push(ours_on_worker(&ours, &wf, k, 1.0).await);
        }
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

/// Runs our engine on one shape (`chain:N`, `fan:N` or `lattice:N`, then `:runs`) for a profiler.
pub async fn profile(spec: &str) {
    let parts: Vec<&str> = spec.split(':').collect();
    let (shape, n, runs) = match parts[..] {
        [shape, n, runs] => (shape, n.parse().expect("a size"), runs.parse().expect("a count of runs")),
        _ => panic!("--profile SHAPE:N:RUNS, such as chain:1000:500"),
    };
    let wf = Arc::new(match shape {
        "chain" => engine::chain(n),
        "fan" => engine::fan(n),
        "lattice" => engine::lattice(n, n),
        other => panic!("unknown shape {other}"),
    });
    let ours = Arc::new(Engine::new(0, n.max(16)));
    ours.register(&wf).await;
    let nodes = engine::nodes(&wf) as f64;
    let floor = Arc::new(Floor::new(&wf));
    let per_node = |before: usize| (crate::alloc::allocations() - before) as f64 / (runs as f64 * nodes);
    let before = crate::alloc::allocations();
    let ours = ours_on_worker(&ours, &wf, runs, 1e6 / nodes).await;
    let ours_allocs = per_node(before);
    let before = crate::alloc::allocations();
    let floor = floor_on_worker(&floor, runs, 1e6 / nodes).await;
    let floor_allocs = per_node(before);
    println!(
        "{spec}: {ours:.2} µs/node on average, {ours_allocs:.1} allocations/node; \
         the floor {floor:.2} µs/node, {floor_allocs:.1} allocations/node"
    );
}
