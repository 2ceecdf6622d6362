//! The HTTP clients every call to another server goes through, so that what keeps credentials
//! and internal services safe holds for all of them. Redirects are followed only within the
//! origin the request was sent to: a credential header (`Authorization`, `x-api-key`, any other)
//! never follows a redirect to another scheme, host or port, whatever the provider.

use super::guard::AddressGuard;
use super::resolver::GuardedResolver;
use reqwest::redirect::{Attempt, Policy};
use std::sync::Arc;
use std::time::Duration;

/// Redirects followed at most, within one origin.
const MAX_REDIRECTS: usize = 5;

/// A client for calls to other servers (model providers and whatever comes later).
///
/// # Errors
/// When the client cannot be built (no TLS backend).
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("oxify-api/", env!("CARGO_PKG_VERSION")))
        .redirect(Policy::custom(same_origin_only))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// A client for addresses a workflow author chose (a node's own base URL, an HTTP tool): it
/// connects only where `guard` permits, with names resolved through [`GuardedResolver`] and no
/// proxy (a proxy would resolve the name itself, out of the guard's sight). `redirects` says
/// what to do with redirects; a caller that follows them itself passes [`Policy::none`] and
/// checks each target with [`AddressGuard::check_url`].
///
/// # Errors
/// When the client cannot be built (no TLS backend).
pub fn guarded_client(guard: Arc<AddressGuard>, redirects: Policy) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("oxify-api/", env!("CARGO_PKG_VERSION")))
        .no_proxy()
        .dns_resolver(GuardedResolver::new(guard))
        .redirect(redirects)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// The redirect policy of guarded clients that let reqwest follow redirects: within the
/// origin, each target checked by `guard` (an IP literal here; a name as it resolves).
#[must_use]
pub fn same_origin_guarded(guard: Arc<AddressGuard>) -> Policy {
    Policy::custom(move |attempt| match guard.check_url(attempt.url()) {
        Err(refused) => attempt.error(refused),
        Ok(()) => same_origin_only(attempt),
    })
}

/// Follows a redirect only to the origin of the first request; otherwise the redirect response
/// itself is the answer (and the caller reports it).
fn same_origin_only(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    let first = attempt.previous().first().map(reqwest::Url::origin);
    if attempt.previous().len() > MAX_REDIRECTS || first.is_none_or(|origin| origin != attempt.url().origin()) {
        attempt.stop()
    } else {
        attempt.follow()
    }
}

/// The origin a redirect response points to, for messages (`http://host:port`, no path or query).
#[must_use]
pub fn redirect_target(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| response.url().join(l).ok())
        .map_or_else(|| "an address it did not give".into(), |url| url.origin().ascii_serialization())
}
