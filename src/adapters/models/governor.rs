//! Rate governor: per provider, and per model where configured, at most N requests in flight,
//! R requests and T tokens per minute. A large fan-out waits its turn here instead of hitting
//! the provider and collecting 429s.

use super::settings::{Limits, LlmSettings};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

struct Gate {
    permits: Option<Arc<Semaphore>>,
    requests: Option<DefaultDirectRateLimiter>,
    tokens: Option<(DefaultDirectRateLimiter, NonZeroU32)>,
}

impl Gate {
    fn new(limits: Limits) -> Self {
        let per_minute = |n: u32| NonZeroU32::new(n).map(|n| (RateLimiter::direct(Quota::per_minute(n)), n));
        Self {
            permits: limits.concurrency.map(|n| Arc::new(Semaphore::new(n as usize))),
            requests: limits.requests_per_minute.and_then(per_minute).map(|(l, _)| l),
            tokens: limits.tokens_per_minute.and_then(per_minute),
        }
    }

    async fn pass(&self, tokens: u32) -> Option<OwnedSemaphorePermit> {
        let permit = match &self.permits {
            Some(s) => s.clone().acquire_owned().await.ok(),
            None => None,
        };
        if let Some(requests) = &self.requests {
            requests.until_ready().await;
        }
        if let Some((limiter, capacity)) = &self.tokens {
            // A call larger than a whole minute's allowance waits for a full bucket, no more.
            let n = NonZeroU32::new(tokens.clamp(1, capacity.get())).unwrap_or(*capacity);
            let _ = limiter.until_n_ready(n).await;
        }
        permit
    }
}

/// Admits LLM calls according to the configured limits.
pub(crate) struct Governor {
    limits: HashMap<String, Limits>,
    default_concurrency: u32,
    gates: Mutex<HashMap<String, Arc<Gate>>>,
}

/// Held for the duration of a call.
pub(crate) struct Pass {
    _permits: Vec<OwnedSemaphorePermit>,
}

impl Governor {
    pub(crate) fn new(settings: &LlmSettings) -> Self {
        Self {
            limits: settings.limits.clone(),
            default_concurrency: settings.default_concurrency,
            gates: Mutex::default(),
        }
    }

    /// Waits until a call of about `tokens` tokens to `provider`/`model` may go.
    pub(crate) async fn admit(&self, provider: &str, model: &str, tokens: u32) -> Pass {
        let model_key = format!("{provider}/{model}");
        let mut gates = Vec::with_capacity(2);
        if let Some(gate) = self.gate(&model_key, None) {
            gates.push(gate);
        }
        let fallback = Limits { concurrency: Some(self.default_concurrency), ..Limits::default() };
        if let Some(gate) = self.gate(provider, Some(fallback)) {
            gates.push(gate);
        }
        let mut permits = Vec::new();
        for gate in gates {
            permits.extend(gate.pass(tokens).await);
        }
        Pass { _permits: permits }
    }

    fn gate(&self, key: &str, fallback: Option<Limits>) -> Option<Arc<Gate>> {
        let mut gates = self.gates.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(gate) = gates.get(key) {
            return Some(gate.clone());
        }
        let limits = self.limits.get(key).copied().or(fallback)?;
        let gate = Arc::new(Gate::new(limits));
        gates.insert(key.to_owned(), gate.clone());
        Some(gate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrency_is_capped_per_provider_and_per_model() {
        let mut settings = LlmSettings { default_concurrency: 4, ..LlmSettings::default() };
        settings.limits.insert("openai/big".into(), Limits { concurrency: Some(2), ..Limits::default() });
        let governor = Arc::new(Governor::new(&settings));
        let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut tasks = Vec::new();
        for i in 0..12 {
            let (g, now, max) = (governor.clone(), now.clone(), max.clone());
            tasks.push(tokio::spawn(async move {
                let model = if i % 2 == 0 { "big" } else { "small" };
                let _pass = g.admit("openai", model, 10).await;
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
                now.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(max.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn requests_per_minute_hold_back_a_burst() {
        let mut settings = LlmSettings { default_concurrency: 100, ..LlmSettings::default() };
        settings.limits.insert(
            "openai".into(),
            Limits { requests_per_minute: Some(600), concurrency: Some(100), ..Limits::default() },
        );
        let governor = Governor::new(&settings);
        for _ in 0..600 {
            drop(governor.admit("openai", "m", 1).await);
        }
        let waited = tokio::time::timeout(Duration::from_millis(50), governor.admit("openai", "m", 1)).await;
        assert!(waited.is_err(), "the 601st request in a minute waits");
    }
}
