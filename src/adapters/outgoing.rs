//! Outgoing HTTP: the one client builder every call to another server goes through, so that what
//! keeps credentials safe holds for all of them. Redirects are followed only within the origin
//! the request was sent to: a credential header (`Authorization`, `x-api-key`, any other) never
//! follows a redirect to another scheme, host or port, whatever the provider.

use reqwest::redirect::{Attempt, Policy};
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
