//! The `Idempotency-Key` request header of execute (as Stripe and the IETF draft
//! `draft-ietf-httpapi-idempotency-key-header` describe it): reading it, and answering a request
//! that carries one, first time (202) or again (200 with `Idempotent-Replayed: true`).

use super::AppState;
use super::dto::ExecuteResponse;
use super::error::ApiError;
use crate::app::idempotency::KeyedRequest;
use crate::domain::access::Scope;
use crate::domain::budget::BudgetLimits;
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::ids::{ExecutionId, WorkflowId};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use std::borrow::Cow;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// What the header does, for the OpenAPI document.
pub const KEY_DESCRIPTION: &str = "Makes retrying safe: the first request with a key starts the \
    execution (202); the same request again within `OXIFY_IDEMPOTENCY_TTL_SECS` (default 24 h) \
    gets the same body with 200 and `Idempotent-Replayed: true`, and starts nothing, also after a \
    restart. The same key with another workflow or body is a 422. 1 to 255 visible ASCII \
    characters, such as a UUID; the draft's quoted form (`\"abc\"`) is the same key as `abc`. A \
    request that fails leaves the key unused";

/// The keys the server reads, as a pattern for the OpenAPI document: 1 to 255 visible ASCII
/// characters, bare or as a quoted string (with `\"` and `\\` escapes).
pub const KEY_PATTERN: &str = r#"^("([!#-\[\]-~]|\\["\\]){1,255}"|[!#-~][!-~]{0,254}|"|"[!-~]{0,253}[!#-~])$"#;

/// The request's `Idempotency-Key`, if it has one; a malformed one is a 400.
pub struct IdempotencyKeyHeader(pub Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKeyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        key_of(&parts.headers).map(Self)
    }
}

fn key_of(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let mut values = headers.get_all(&IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(ApiError::bad_request("send one Idempotency-Key header, not several"));
    }
    let bytes = unquote(value.as_bytes())?;
    IdempotencyKey::parse(&bytes).map(Some).map_err(ApiError::bad_request)
}

/// The key inside the draft's structured-field string (`"abc"`, with `\"` and `\\` escapes), or
/// the value as it is when it is not quoted, as Stripe's clients send it.
fn unquote(raw: &[u8]) -> Result<Cow<'_, [u8]>, ApiError> {
    let [b'"', inner @ .., b'"'] = raw else { return Ok(Cow::Borrowed(raw)) };
    let bad = |what: &str| ApiError::bad_request(format!("Idempotency-Key is a quoted string with {what}"));
    let mut key = Vec::with_capacity(inner.len());
    let mut bytes = inner.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' => match bytes.next() {
                Some(&escaped @ (b'"' | b'\\')) => key.push(escaped),
                _ => return Err(bad("a backslash that escapes neither `\"` nor `\\`")),
            },
            b'"' => return Err(bad("a `\"` inside that is not escaped")),
            b => key.push(b),
        }
    }
    Ok(Cow::Owned(key))
}

/// `Location` of an execution.
pub(super) fn location(execution_id: ExecutionId) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/executions/{execution_id}")) {
        headers.insert(header::LOCATION, location);
    }
    headers
}

/// Answers an execute request that has a key: 202 with a new execution, or 200 with the stored
/// body of the first request with this key.
pub(super) async fn execute_once(
    state: &AppState,
    scope: Scope,
    workflow_id: WorkflowId,
    key: IdempotencyKey,
    variables: Map<String, Value>,
    budget: BudgetLimits,
    started_by: Option<String>,
) -> Result<Response, ApiError> {
    let request = KeyedRequest { scope, key, workflow_id, variables, budget, started_by };
    let started = state
        .idempotency
        .start(request, |execution| serde_json::to_string(&ExecuteResponse::started(execution)))
        .await?;
    let mut headers = location(started.execution_id);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let status = if started.replayed {
        headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, headers, started.response).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_documented_pattern_accepts_exactly_what_the_server_reads(value in "[\"\\\\a! ~]{0,8}") {
            let headers = HeaderMap::from_iter([(IDEMPOTENCY_KEY, HeaderValue::from_str(&value).unwrap())]);
            let pattern = regex::Regex::new(KEY_PATTERN).unwrap();
            prop_assert_eq!(key_of(&headers).is_ok(), pattern.is_match(&value), "{:?}", value);
        }
    }

    #[test]
    fn the_documented_pattern_has_the_server_s_length_limit() {
        let pattern = regex::Regex::new(KEY_PATTERN).unwrap();
        for (len, ok) in [(255, true), (256, false)] {
            let value = "k".repeat(len);
            let headers = HeaderMap::from_iter([(IDEMPOTENCY_KEY, HeaderValue::from_str(&value).unwrap())]);
            assert_eq!(key_of(&headers).is_ok(), ok);
            assert_eq!(pattern.is_match(&value), ok);
        }
    }

    fn key(values: &[&[u8]]) -> Result<Option<String>, String> {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(&IDEMPOTENCY_KEY, HeaderValue::from_bytes(v).unwrap());
        }
        key_of(&headers).map(|k| k.map(|k| k.as_str().to_owned())).map_err(|e| e.message)
    }

    #[test]
    fn bare_and_quoted_keys_name_the_same_key() {
        assert_eq!(key(&[]), Ok(None));
        assert_eq!(key(&[b"abc-1"]), Ok(Some("abc-1".into())));
        assert_eq!(key(&[b"\"abc-1\""]), Ok(Some("abc-1".into())));
        assert_eq!(key(&[br#""a\"b\\c""#]), Ok(Some(r#"a"b\c"#.into())));
        assert_eq!(key(&[b"\"abc"]), Ok(Some("\"abc".into())), "not a quoted string: taken as it is");
    }

    #[test]
    fn malformed_keys_are_refused_saying_why() {
        assert!(key(&[b"a", b"b"]).unwrap_err().contains("one Idempotency-Key header"));
        assert!(key(&[b"\"\""]).unwrap_err().contains("empty"));
        assert!(key(&[b"\"a b\""]).unwrap_err().contains("a space"));
        assert!(key(&[br#""a\nb""#]).unwrap_err().contains("backslash"));
        assert!(key(&[br#""a"b""#]).unwrap_err().contains("not escaped"));
        assert!(key(&["ключ".as_bytes()]).unwrap_err().contains("non-ASCII"));
    }
}
