//! The benchmark suite (BENCHMARKS.md): `cargo bench --bench suite` for a full run that also
//! installs and measures the peers and writes BENCHMARKS.md; `-- --quick` for a check in about a
//! minute (printed only). Every server it starts binds 127.0.0.1 and is stopped at the end;
//! every load loop is bounded in count and time.

mod alloc;
mod approvals;
mod big_chain;
mod code;
mod e2e;
mod engine;
mod engine_suite;
mod floors;
mod growth;
mod http;
mod load;
mod memory;
mod parked;
mod peers;
mod report;
mod servers;
mod sse;
mod stack;
mod stats;
mod vectors;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

use report::{Report, Row};
use stats::Sample;
use std::path::PathBuf;
use std::time::Duration;

/// Where databases go: a directory on the real disk (not a tmpfs), so fsync costs what it costs.
pub fn bench_dir() -> PathBuf {
    let dir = PathBuf::from(std::env::var("OXIFY_BENCH_DIR").unwrap_or_else(|_| "/var/tmp/oxify-bench".into()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A fresh schema on the Postgres server named by `OXIFY_BENCH_POSTGRES_URL` (or the tests').
async fn postgres() -> Option<(String, String)> {
    let url = std::env::var("OXIFY_BENCH_POSTGRES_URL").or_else(|_| std::env::var("OXIFY_TEST_POSTGRES_URL")).ok()?;
    let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.ok()?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut conn).await.ok()?;
    let sep = if url.contains('?') { '&' } else { '?' };
    Some((url.clone(), format!("{url}{sep}options=-c%20search_path%3D{schema}")))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if servers::serve_mode(&args).await {
        return;
    }
    // `--profile chain:1000:500` runs only our engine on that shape (chain, fan, lattice) that
    // many times, for a profiler to watch.
    if let Some(spec) = args.iter().position(|a| a == "--profile").and_then(|i| args.get(i + 1)) {
        engine_suite::profile(spec).await;
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    // `--only engine,http` runs some suites (engine, memory, parked, approvals, big, code, vectors,
    // floors, http, e2e, sse, growth).
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').map(str::to_owned).collect());
    let wanted = |suite: &str| only.as_ref().is_none_or(|o| o.iter().any(|s| s == suite));
    let want_peers = !quick && !args.iter().any(|a| a == "--no-peers");
    let peers = want_peers && peers::setup();
    let rounds = 3;
    let seconds = if quick { 0.5 } else { 3.0 };
    let load_before = loadavg();
    let started = std::time::Instant::now();
    let mut report = Report::default();

    if wanted("engine") {
        engine_suite::run(&mut report, &engine_suite::Options { quick, peers, rounds }).await;
    }
    if wanted("memory") {
        memory::run(&mut report, if quick { 2_000 } else { 20_000 }).await;
    }
    if wanted("code") {
        code::run(&mut report, rounds).await;
    }
    if wanted("vectors") {
        vectors::run(&mut report, if quick { &[10_000] } else { &[10_000, 100_000] }, if quick { 50 } else { 300 });
        vectors::upserts(&mut report, if quick { 2_000 } else { 20_000 }).await;
    }

    let dir = tempfile::tempdir_in(bench_dir()).expect("dir");
    if wanted("parked") {
        let file = dir.path().join("parked.db");
        let mut backends = vec![
            parked::Backend { name: "memory", url: "memory://".into(), file: None },
            parked::Backend { name: "sqlite", url: format!("sqlite://{}", file.display()), file: Some(file) },
        ];
        if let Some((_, url)) = postgres().await {
            backends.push(parked::Backend { name: "postgres", url, file: None });
        }
        parked::run(&mut report, &backends, quick).await;
    }
    if wanted("approvals") {
        let file = dir.path().join("approvals.db");
        let mut backends = vec![
            parked::Backend { name: "memory", url: "memory://".into(), file: None },
            parked::Backend { name: "sqlite", url: format!("sqlite://{}", file.display()), file: Some(file) },
        ];
        if let Some((_, url)) = postgres().await {
            backends.push(parked::Backend { name: "postgres", url, file: None });
        }
        approvals::run(&mut report, &backends, quick).await;
    }
    if wanted("big") {
        big_chain::run(&mut report, dir.path()).await;
    }
    if wanted("floors") {
        let fsync = floors::fdatasync_per_s(dir.path().to_path_buf(), Duration::from_secs_f64(seconds), 50_000).await;
        report.add(Row::new("Floors", "fdatasync on the benchmark disk", Sample(vec![fsync]), "syncs/s", true));
    }
    if wanted("http") {
        http::run(&mut report, rounds, seconds).await;
    }

    let clients: &[usize] = if quick { &[1, 16] } else { &[1, 16, 64] };
    let mut backends = vec![
        e2e::Backend { name: "memory", url: "memory://".into(), floor: None },
        e2e::sqlite_backend(dir.path(), seconds),
    ];
    match postgres().await {
        Some((url, schema_url)) => backends.push(e2e::postgres_backend(url, schema_url, seconds)),
        None => report.note(
            "Postgres: no OXIFY_BENCH_POSTGRES_URL (or OXIFY_TEST_POSTGRES_URL); its end-to-end rows are missing",
        ),
    }
    let ours_e2e =
        if wanted("e2e") { e2e::run(&mut report, backends, clients, rounds, seconds).await } else { Vec::new() };
    if peers && wanted("e2e") {
        for (class, ours_backend) in [("memory", "memory"), ("sqlite", "sqlite")] {
            let mut by_clients: std::collections::HashMap<usize, Vec<f64>> = Default::default();
            for _ in 0..rounds {
                for line in peers::temporal(class, clients, if quick { 20 } else { 60 }) {
                    if let (Some(c), Some(v)) = (line["clients"].as_u64(), line["executions_per_s"].as_f64()) {
                        by_clients.entry(c as usize).or_default().push(v);
                    }
                }
            }
            for (name, c, ours) in ours_e2e.iter().filter(|(n, _, _)| n == ours_backend) {
                if let Some(t) = by_clients.get(c) {
                    let row = Row::new(
                        "End to end",
                        format!("{name}: trivial 3-node executions, {c} clients"),
                        ours.clone(),
                        "exec/s",
                        true,
                    );
                    report
                        .add(row.against(format!("Temporal dev server ({class})"), Sample(t.clone())).target(">= 50x"));
                }
            }
        }
    }

    let (subscribers, nodes): (&[usize], usize) = if quick { (&[1, 100], 100) } else { (&[1, 100, 1000], 1000) };
    if wanted("sse") {
        sse::run(&mut report, subscribers, nodes, rounds).await;
    }
    if wanted("growth") {
        growth::run(
            &mut report,
            if quick { &[1_000, 10_000] } else { &[1_000, 10_000, 100_000] },
            if quick { 50 } else { 300 },
        )
        .await;
    }

    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let header = format!(
        "Run {} ({} mode, {:.0} s), {cores} cores, load average before {load_before}, after {}.{}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        if quick { "quick" } else { "full" },
        started.elapsed().as_secs_f64(),
        loadavg(),
        if peers { format!(" Peers: {}.", peers::versions()) } else { " Peers not measured.".into() },
    );
    println!("\n{}", report.markdown(&header));
    if !quick && only.is_none() {
        let path = format!("{}/BENCHMARKS.md", env!("CARGO_MANIFEST_DIR"));
        if let Err(e) = report.write_into(&path, &header) {
            eprintln!("could not update BENCHMARKS.md: {e}");
        }
    }
}
