//! Request limits (governor's GCRA): every principal (a user or an API key; anonymous and
//! unauthenticated requests by client address) gets `OXIFY_RATE_LIMIT_PER_MIN` requests a
//! minute, and each client address `OXIFY_AUTH_RATE_LIMIT_PER_MIN` attempts at `login` and
//! `register` (guessing passwords, mass sign-ups). Past a limit the answer is 429 `RateLimited`
//! with `Retry-After`. Memory stays bounded: idle keys are dropped every few thousand requests.

use super::AppState;
use super::caller::Caller;
use super::client_address::client_address;
use super::error::ApiError;
use crate::domain::access::Subject;
use crate::domain::ids::{ApiKeyId, UserId};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Requests between two sweeps of idle keys.
const SWEEP_EVERY: u64 = 4096;

/// Whom a limit counts requests of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    User(UserId),
    Program(ApiKeyId),
    Address(IpAddr),
    /// No socket address (a router called directly, in tests): one shared budget.
    Unknown,
}

/// The limits of one router.
pub struct Limits {
    per_principal: Option<DefaultKeyedRateLimiter<Key>>,
    sign_in: Option<DefaultKeyedRateLimiter<Key>>,
    trusted_proxies: Vec<IpNet>,
    requests: AtomicU64,
}

impl Limits {
    /// `per_minute` requests per principal and `sign_in_per_minute` sign-in attempts per client
    /// address, each allowed in a burst; 0 turns a limit off.
    #[must_use]
    pub fn new(per_minute: u32, sign_in_per_minute: u32, trusted_proxies: Vec<IpNet>) -> Self {
        let limiter = |n: u32| NonZeroU32::new(n).map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        Self {
            per_principal: limiter(per_minute),
            sign_in: limiter(sign_in_per_minute),
            trusted_proxies,
            requests: AtomicU64::new(0),
        }
    }

    fn sweep_now_and_then(&self) {
        if self.requests.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            for limiter in [&self.per_principal, &self.sign_in].into_iter().flatten() {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
    }
}

/// 429 with the seconds until the next request would be let in, or `None` when it is let in.
fn too_many(limiter: &DefaultKeyedRateLimiter<Key>, key: &Key, what: &str) -> Option<Response> {
    match limiter.check_key(key) {
        Ok(()) => None,
        Err(not_until) => {
            let wait = not_until.wait_time_from(limiter.clock().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let secs = secs.max(1);
            let error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RateLimited",
                format!("too many requests {what}; retry in {secs} s"),
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from(secs));
            Some(error.into_response())
        }
    }
}

fn is_sign_in(request: &Request) -> bool {
    request.method() == Method::POST && matches!(request.uri().path(), "/api/v1/auth/login" | "/api/v1/auth/register")
}

/// The middleware. With the per-principal limit on, it authenticates requests that carry
/// credentials (the handlers then reuse the result); credentials it cannot accept count against
/// the client's address, and the handler reports why they were refused.
pub async fn limit(State((state, limits)): State<(AppState, Arc<Limits>)>, request: Request, next: Next) -> Response {
    limits.sweep_now_and_then();
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let address = client_address(peer, request.headers(), &limits.trusted_proxies).map_or(Key::Unknown, Key::Address);
    if let Some(sign_in) = &limits.sign_in
        && is_sign_in(&request)
        && let Some(refused) = too_many(sign_in, &address, "to sign in or register from this address")
    {
        return refused;
    }
    let Some(per_principal) = &limits.per_principal else { return next.run(request).await };
    let (mut parts, body) = request.into_parts();
    let key = if parts.headers.contains_key(header::AUTHORIZATION) {
        match Caller::from_request_parts(&mut parts, &state).await {
            Ok(Caller(principal)) => match principal.subject {
                Subject::User(user) => Key::User(user),
                Subject::ApiKey(key) => Key::Program(key),
                Subject::Anonymous | Subject::System => address,
            },
            Err(_) => address,
        }
    } else {
        address
    };
    let what =
        if matches!(key, Key::User(_) | Key::Program(_)) { "with these credentials" } else { "from this address" };
    if let Some(refused) = too_many(per_principal, &key, what) {
        return refused;
    }
    next.run(Request::from_parts(parts, body)).await
}
