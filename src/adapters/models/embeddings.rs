//! Embeddings over the OpenAI-compatible `POST {base}/embeddings` (OpenAI, Ollama's `/v1`,
//! vLLM, llama.cpp, LM Studio...): inputs in batches of [`BATCH`], each batch through the
//! governor and reserved against the execution's budget when there is one, 429 and 5xx retried
//! here when the caller asks (waiting as `Retry-After` says), usage summed and priced.

use super::gateway::ModelGateway;
use super::reply::Tokens;
use super::reservation::Reservation;
use super::settings::Protocol;
use super::transport;
use crate::domain::budget::Budget;
use crate::domain::usage::Usage;
use crate::ports::{EmbedRequest, Embedded, Embedder, RunnerError};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Inputs sent in one request (OpenAI accepts up to 2048).
pub const BATCH: usize = 64;

/// First wait before retrying a batch the provider refused for now, doubled each time, unless
/// the provider said how long (`Retry-After`).
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// Longest input sent, in bytes (a chunk is far smaller; this only bounds a mistaken call).
const MAX_INPUT_BYTES: usize = 64 * 1024;

#[async_trait::async_trait]
impl Embedder for ModelGateway {
    async fn embed<'a>(&self, request: EmbedRequest<'a>, cancel: &CancellationToken) -> Result<Embedded, RunnerError> {
        self.embed_unredacted(&request, cancel).await.map_err(|e| self.redactor().error(e))
    }

    fn problem(&self, provider: &str) -> Option<String> {
        match self.endpoint(provider) {
            Err(problem) => Some(problem),
            Ok((_, endpoint)) if endpoint.protocol == Protocol::Anthropic => Some(format!(
                "provider {} has no embeddings API: use openai, ollama or local (any OpenAI-compatible server)",
                provider.trim()
            )),
            Ok((name, endpoint)) => (endpoint.key_required && endpoint.api_key.is_none())
                .then(|| format!("provider {name} needs {} on the server, which is not set", endpoint.key_variable)),
        }
    }
}

impl ModelGateway {
    async fn embed_unredacted(
        &self,
        request: &EmbedRequest<'_>,
        cancel: &CancellationToken,
    ) -> Result<Embedded, RunnerError> {
        let (provider, endpoint) = self.endpoint(request.provider).map_err(RunnerError::Permanent)?;
        if endpoint.protocol == Protocol::Anthropic {
            return Err(RunnerError::Permanent(format!("provider {provider} has no embeddings API")));
        }
        if let Some(i) = request.inputs.iter().position(|t| t.trim().is_empty()) {
            return Err(RunnerError::Permanent(format!("input {i} is empty: there is nothing to embed")));
        }
        if let Some(i) = request.inputs.iter().position(|t| t.len() > MAX_INPUT_BYTES) {
            return Err(RunnerError::Permanent(format!("input {i} is longer than {MAX_INPUT_BYTES} bytes")));
        }
        let workspace_key = request.secrets.get(endpoint.key_variable).and_then(Value::as_str);
        let api_key = workspace_key.or(endpoint.api_key.as_deref());
        if api_key.is_none() && endpoint.key_required {
            return Err(RunnerError::Permanent(format!(
                "provider {provider} needs {} on the server",
                endpoint.key_variable
            )));
        }
        let price = self.settings.price(provider, request.model);
        let unlimited = Arc::new(Mutex::new(Budget::default()));
        let budget = request.budget.unwrap_or(&unlimited);
        let url = format!("{}/embeddings", endpoint.base_url);
        let mut out = Embedded { vectors: Vec::with_capacity(request.inputs.len()), usage: None };
        for batch in request.inputs.chunks(BATCH) {
            let estimate = estimate(batch);
            let cost = price.map(|p| f64::from(estimate) * p.input / 1e6);
            let mut attempt = 0;
            let (vectors, tokens) = loop {
                let reservation = Reservation::take(budget, u64::from(estimate), cost)?;
                let call = async {
                    let _pass = self.governor.admit(provider, request.model, estimate).await;
                    let mut http = self.client.post(&url).json(&json!({"model": request.model, "input": batch}));
                    if let Some(key) = api_key {
                        http = http.bearer_auth(key);
                    }
                    let response = transport::send(http, provider).await?;
                    parse(&transport::json_body(response, provider).await?, batch.len(), provider)
                };
                let result = tokio::select! {
                    result = call => result,
                    () = cancel.cancelled() => return Err(RunnerError::Permanent("cancelled".into())),
                };
                match result {
                    Ok((vectors, tokens)) => {
                        reservation.settle(tokens.usage(price));
                        break (vectors, tokens);
                    }
                    Err(e) if e.is_retryable() && attempt < request.retries => {
                        drop(reservation);
                        let wait = e.retry_after().unwrap_or(FIRST_BACKOFF * 2u32.saturating_pow(attempt));
                        attempt += 1;
                        tokio::select! {
                            () = tokio::time::sleep(wait) => {}
                            () = cancel.cancelled() => return Err(RunnerError::Permanent("cancelled".into())),
                        }
                    }
                    Err(e) => return Err(e),
                }
            };
            out.vectors.extend(vectors);
            let usage = tokens.usage(price);
            out.usage = Some(out.usage.map_or(usage, |u: Usage| u.plus(usage)));
        }
        Ok(out)
    }
}

/// About four characters per token.
fn estimate(batch: &[String]) -> u32 {
    u32::try_from(batch.iter().map(|t| t.len().div_ceil(4)).sum::<usize>()).unwrap_or(u32::MAX)
}

/// The vectors of `{"data": [{"index", "embedding": [...]}], "usage": {"prompt_tokens"}}`, put
/// in input order by `index`.
fn parse(body: &Value, expected: usize, provider: &str) -> Result<(Vec<Vec<f32>>, Tokens), RunnerError> {
    let bad = |what: &str| RunnerError::Permanent(format!("{provider} sent an embeddings answer {what}"));
    let data = body.get("data").and_then(Value::as_array).ok_or_else(|| bad("without data"))?;
    if data.len() != expected {
        return Err(bad(&format!("with {} vectors for {expected} inputs", data.len())));
    }
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; expected];
    for (position, item) in data.iter().enumerate() {
        let index = item.get("index").and_then(Value::as_u64).map_or(position, |i| i as usize);
        let numbers = item.get("embedding").and_then(Value::as_array).ok_or_else(|| bad("without an embedding"))?;
        #[allow(clippy::cast_possible_truncation)]
        let vector: Vec<f32> = numbers
            .iter()
            .map(|n| n.as_f64().map(|f| f as f32))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("with a non-number"))?;
        if vector.is_empty() || vector.iter().any(|f| !f.is_finite()) {
            return Err(bad("with an empty or non-finite vector"));
        }
        let slot = vectors.get_mut(index).ok_or_else(|| bad(&format!("with index {index}")))?;
        *slot = Some(vector);
    }
    let vectors: Vec<Vec<f32>> = vectors.into_iter().collect::<Option<_>>().ok_or_else(|| bad("missing an index"))?;
    if vectors.iter().any(|v| v.len() != vectors[0].len()) {
        return Err(bad("with vectors of different lengths"));
    }
    let usage = body.get("usage").unwrap_or(&Value::Null);
    let input = transport::token_count(usage.get("prompt_tokens").or_else(|| usage.get("total_tokens")));
    Ok((vectors, Tokens { input, output: 0 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_come_back_in_input_order_with_their_usage() {
        let body = json!({"object": "list", "data": [
            {"object": "embedding", "index": 1, "embedding": [0.0, 1.0]},
            {"object": "embedding", "index": 0, "embedding": [1.0, 0.5]}
        ], "model": "m", "usage": {"prompt_tokens": 7, "total_tokens": 7}});
        let (vectors, tokens) = parse(&body, 2, "openai").unwrap();
        assert_eq!(vectors, vec![vec![1.0, 0.5], vec![0.0, 1.0]]);
        assert_eq!(tokens, Tokens { input: 7, output: 0 });
    }

    #[test]
    fn a_wrong_count_or_ragged_vectors_are_refused() {
        let one = json!({"data": [{"index": 0, "embedding": [1.0]}]});
        assert!(parse(&one, 2, "openai").is_err());
        let ragged = json!({"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0, 2.0]}]});
        assert!(parse(&ragged, 2, "openai").unwrap_err().to_string().contains("different lengths"));
    }
}
