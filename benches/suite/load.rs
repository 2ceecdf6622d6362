//! A closed-loop load generator: C clients, each sending its next request when the last one
//! answered, for a bounded time and count.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct Load {
    pub count: usize,
    pub errors: usize,
    pub seconds: f64,
    pub latencies_ms: Vec<f64>,
}

impl Load {
    pub fn per_second(&self) -> f64 {
        self.count as f64 / self.seconds
    }
}

/// Runs `clients` loops of `request` until `duration` passes or `max` requests were sent.
pub async fn closed_loop<F, Fut>(clients: usize, duration: Duration, max: usize, request: F) -> Load
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let (sent, stop) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (request, sent, stop) = (request.clone(), sent.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0);
            loop {
                let n = sent.fetch_add(1, Ordering::Relaxed);
                if n >= max || stop.load(Ordering::Relaxed) || start.elapsed() >= duration {
                    break;
                }
                let t = Instant::now();
                if request(n).await {
                    lat.push(t.elapsed().as_secs_f64() * 1e3);
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((lat, e)) = t.await {
            all.extend(lat);
            errors += e;
        }
    }
    stop.store(true, Ordering::Relaxed);
    Load { count: all.len(), errors, seconds: start.elapsed().as_secs_f64(), latencies_ms: all }
}
