//! The benchmark suite: see BENCHMARKS.md.

mod engine;
mod stats;

use stats::{interleave, seconds};

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = 3;
    for n in [10, 100, 1000, 10000] {
        if quick && n > 1000 {
            continue;
        }
        let wf = engine::chain(n);
        let ours = engine::Engine::new(0, 16);
        ours.register(&wf).await;
        let (a, b) = interleave(
            rounds,
            || async { seconds(ours.run(&wf)).await.0 * 1e6 / n as f64 },
            || async { seconds(engine::floor_run(&wf)).await.0 * 1e6 / n as f64 },
        )
        .await;
        println!(
            "chain {n}: ours {} floor {} ratio {:.1}x",
            a.show("µs/node"),
            b.show("µs/node"),
            a.median() / b.median()
        );
    }
}
