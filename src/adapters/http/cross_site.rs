//! No request from another site can change anything. A browser lets any page send "simple"
//! requests (a form post, a `text/plain` or empty body) to any server, without asking it first;
//! with anonymous access on, or if a dashboard ever uses cookies, such a request would act with
//! the visitor's rights. So state-changing requests (POST, PUT, PATCH, DELETE) that a browser
//! marks as coming from another site (`Sec-Fetch-Site: cross-site`, or an `Origin` that is
//! neither this server's nor listed in `OXIFY_CORS_ORIGINS`) are refused with 403. Requests
//! without those headers (curl, programs) are not from a browser and pass.

use super::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The origins allowed besides the server's own.
#[derive(Clone, Debug, Default)]
pub struct AllowedOrigins {
    any: bool,
    listed: Vec<String>,
}

impl AllowedOrigins {
    /// From `OXIFY_CORS_ORIGINS` (normalised): `*` allows every origin.
    #[must_use]
    pub fn new(cors_origins: &[String]) -> Self {
        Self {
            any: cors_origins.iter().any(|o| o == "*"),
            listed: cors_origins.iter().filter_map(|o| normalise(o)).collect(),
        }
    }
}

/// An origin as `scheme://host[:port]` in lower case without a default port, or `None` when it is
/// not one (`null`, garbage).
fn normalise(origin: &str) -> Option<String> {
    let url = reqwest::Url::parse(origin.trim()).ok()?;
    url.host_str()?;
    Some(url.origin().ascii_serialization())
}

/// Whether `origin` names this server as the request's `Host` header does (host and port; the
/// scheme is not known behind a proxy that ends TLS).
fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return false };
    let Ok(url) = reqwest::Url::parse(origin) else { return false };
    let Some(origin_host) = url.host_str() else { return false };
    let authority = match url.port() {
        Some(port) => format!("{origin_host}:{port}"),
        None => origin_host.to_owned(),
    };
    let host = host.trim().to_ascii_lowercase();
    let default_port = if url.scheme() == "https" { ":443" } else { ":80" };
    let host = host.strip_suffix(default_port).unwrap_or(&host);
    authority == host
}

/// Why the request must be refused, if it must.
fn refusal(method: &Method, headers: &HeaderMap, allowed: &AllowedOrigins) -> Option<String> {
    if !matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE) || allowed.any {
        return None;
    }
    let origin = headers.get(header::ORIGIN).map(|o| o.to_str().unwrap_or("(unreadable)"));
    if let Some(origin) = origin
        && normalise(origin).is_some_and(|o| allowed.listed.contains(&o))
    {
        return None;
    }
    let cross_site = headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    match origin {
        Some(origin) if !same_origin(origin, headers) => Some(format!(
            "a request from another site may not change anything: its origin {origin} is neither this server nor listed in OXIFY_CORS_ORIGINS"
        )),
        _ if cross_site => Some(
            "a request from another site (Sec-Fetch-Site: cross-site) may not change anything; list its origin in OXIFY_CORS_ORIGINS to allow it"
                .into(),
        ),
        _ => None,
    }
}

/// The middleware.
pub async fn refuse_cross_site(State(allowed): State<Arc<AllowedOrigins>>, request: Request, next: Next) -> Response {
    match refusal(request.method(), request.headers(), &allowed) {
        Some(message) => ApiError::forbidden(message).into_response(),
        None => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn browsers_from_other_sites_may_read_but_not_write() {
        let allowed = AllowedOrigins::new(&["https://ui.example".into()]);
        let post = Method::POST;
        let at = |origin: &str| headers(&[("host", "api.example:3000"), ("origin", origin)]);
        assert!(refusal(&post, &at("https://evil.example"), &allowed).is_some());
        assert!(refusal(&post, &at("null"), &allowed).is_some());
        assert!(refusal(&Method::GET, &at("https://evil.example"), &allowed).is_none());
        assert!(refusal(&post, &at("http://api.example:3000"), &allowed).is_none(), "same origin");
        assert!(refusal(&post, &at("https://UI.example:443/"), &allowed).is_none(), "listed");
        let fetch = headers(&[("host", "api.example"), ("sec-fetch-site", "cross-site")]);
        assert!(refusal(&Method::DELETE, &fetch, &allowed).is_some());
        let same = headers(&[("host", "api.example"), ("sec-fetch-site", "same-origin")]);
        assert!(refusal(&Method::DELETE, &same, &allowed).is_none());
        assert!(refusal(&post, &headers(&[("host", "api.example")]), &allowed).is_none(), "curl sends neither");
        let defaults = headers(&[("host", "api.example:80"), ("origin", "http://api.example")]);
        assert!(refusal(&post, &defaults, &allowed).is_none(), "default ports are the same origin");
        assert!(refusal(&post, &at("https://evil.example"), &AllowedOrigins::new(&["*".into()])).is_none());
    }
}
