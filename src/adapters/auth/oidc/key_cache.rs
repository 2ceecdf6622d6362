//! The issuer's signing keys: found through its discovery document, fetched from its
//! `jwks_uri`, kept until they are older than the refresh interval (then fetched again before
//! use; on failure the old keys serve on), and fetched again for a key id they lack, no more
//! often than the minimum gap. Fetches are single-flight: concurrent requests wait for one.

use super::{OidcError, OidcSettings};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Largest discovery document or key set read (a real one is a few kilobytes).
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

struct Fetched {
    keys: Arc<JwkSet>,
    at: Instant,
}

pub(super) struct KeyCache {
    http: reqwest::Client,
    issuer: String,
    refresh_every: Duration,
    min_gap: Duration,
    current: RwLock<Option<Fetched>>,
    /// Held while fetching.
    fetching: Mutex<FetchState>,
}

#[derive(Default)]
struct FetchState {
    /// From the discovery document, once read.
    jwks_uri: Option<String>,
    last_attempt: Option<Instant>,
    last_error: Option<OidcError>,
}

/// How long a failed first fetch answers for itself before the issuer is asked again, so that
/// requests during an outage fail at once instead of each waiting for a timeout.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(2);

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl KeyCache {
    pub(super) fn new(settings: &OidcSettings) -> Result<Self, String> {
        Ok(Self {
            http: crate::adapters::outgoing::client()?,
            issuer: settings.issuer.clone(),
            refresh_every: settings.refresh_every,
            min_gap: settings.min_refresh_gap,
            current: RwLock::new(None),
            fetching: Mutex::new(FetchState::default()),
        })
    }

    fn cached(&self) -> Option<(Arc<JwkSet>, Duration)> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().map(|f| (f.keys.clone(), f.at.elapsed()))
    }

    /// The key that checks a token signed with `alg` under `kid`.
    pub(super) async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, OidcError> {
        let keys = match self.cached() {
            Some((keys, age)) if age < self.refresh_every => keys,
            stale => match self.refresh(None).await {
                Ok(keys) => keys,
                Err(e) => match stale {
                    Some((old, _)) => {
                        tracing::warn!(error = %e, "refreshing the OpenID Connect keys failed; the cached ones serve on");
                        old
                    }
                    None => return Err(e),
                },
            },
        };
        if let Some(jwk) = pick(&keys, kid, alg) {
            return decoding_key(jwk);
        }
        // A key id we do not know: the issuer may have rotated its keys since we fetched them.
        let keys = self.refresh(Some(self.min_gap)).await?;
        let jwk = pick(&keys, kid, alg)
            .ok_or_else(|| OidcError::Refused("the token's signing key is not among the issuer's keys".into()))?;
        decoding_key(jwk)
    }

    /// Fetches the keys, unless that is not needed after all: another fetch finished while we
    /// waited for ours, the keys are fresh (`gap` None: a refresh for age), or the last fetch
    /// started less than `gap` ago (an unknown key id). One fetch at a time; a fetch that failed
    /// less than [`RETRY_AFTER_FAILURE`] ago is not tried again yet.
    async fn refresh(&self, gap: Option<Duration>) -> Result<Arc<JwkSet>, OidcError> {
        let requested = Instant::now();
        let mut state = self.fetching.lock().await;
        let last = state.last_attempt;
        match self.cached() {
            Some((keys, age)) => {
                let fetched_meanwhile = last.is_some_and(|t| t >= requested);
                let needless = match gap {
                    None => age < self.refresh_every,
                    Some(gap) => last.is_some_and(|t| t.elapsed() < gap),
                };
                if fetched_meanwhile || needless {
                    return Ok(keys);
                }
            }
            None => {
                if let Some(error) =
                    state.last_error.clone().filter(|_| last.is_some_and(|t| t.elapsed() < RETRY_AFTER_FAILURE))
                {
                    return Err(error);
                }
            }
        }
        state.last_attempt = Some(Instant::now());
        let fetched = self.fetch(&mut state.jwks_uri).await;
        state.last_error = fetched.as_ref().err().cloned();
        let keys = Arc::new(fetched?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) =
            Some(Fetched { keys: keys.clone(), at: Instant::now() });
        tracing::debug!(keys = keys.keys.len(), "fetched the OpenID Connect issuer's keys");
        Ok(keys)
    }

    /// The key set, discovering where it is first when that is not known yet.
    async fn fetch(&self, jwks_uri: &mut Option<String>) -> Result<JwkSet, OidcError> {
        let uri = match jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let uri = self.discover().await?;
                *jwks_uri = Some(uri.clone());
                uri
            }
        };
        self.fetch_json(&uri, "key set").await
    }

    async fn discover(&self) -> Result<String, OidcError> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'));
        let found: Discovery = self.fetch_json(&url, "discovery document").await?;
        if found.issuer != self.issuer {
            return Err(OidcError::Unavailable(format!(
                "the OpenID Connect discovery document names the issuer '{}', not '{}' as configured",
                found.issuer, self.issuer
            )));
        }
        Ok(found.jwks_uri)
    }

    async fn fetch_json<T: serde::de::DeserializeOwned>(&self, url: &str, what: &str) -> Result<T, OidcError> {
        let unavailable =
            |why: String| OidcError::Unavailable(format!("cannot fetch the OpenID Connect {what}: {why}"));
        let response = self
            .http
            .get(url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("the issuer answered {}", response.status())));
        }
        if response.content_length().is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64) {
            return Err(unavailable("it is larger than 1 MiB".into()));
        }
        let body = response.bytes().await.map_err(|e| unavailable(e.without_url().to_string()))?;
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(unavailable("it is larger than 1 MiB".into()));
        }
        serde_json::from_slice(&body).map_err(|e| unavailable(format!("it is not what was expected ({e})")))
    }
}

/// The key named by `kid`, or without one the only key that fits `alg`; never a key whose kind
/// or declared algorithm does not fit (an HMAC "key" published by the issuer, say).
fn pick<'a>(keys: &'a JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    match kid {
        Some(kid) => keys.find(kid).filter(|k| fits(k, alg)),
        None => {
            let mut fitting = keys.keys.iter().filter(|k| fits(k, alg));
            let only = fitting.next()?;
            fitting.next().is_none().then_some(only)
        }
    }
}

fn fits(key: &Jwk, alg: Algorithm) -> bool {
    let declared_ok = key.common.key_algorithm.is_none_or(|declared| match alg {
        Algorithm::RS256 => declared == KeyAlgorithm::RS256,
        Algorithm::ES256 => declared == KeyAlgorithm::ES256,
        _ => false,
    });
    let kind_ok = match (&key.algorithm, alg) {
        (AlgorithmParameters::RSA(_), Algorithm::RS256) => true,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => p.curve == EllipticCurve::P256,
        _ => false,
    };
    declared_ok && kind_ok
}

fn decoding_key(jwk: &Jwk) -> Result<DecodingKey, OidcError> {
    DecodingKey::from_jwk(jwk).map_err(|_| OidcError::Refused("the issuer's key for this token is malformed".into()))
}
