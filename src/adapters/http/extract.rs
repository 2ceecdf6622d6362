//! Extractors whose rejections speak the API's error format: JSON bodies (with the JSON path of
//! a shape error), path ids and query strings.

use super::error::ApiError;
use super::serve::BodyTimeout;
use crate::domain::validation::Problem;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

/// A JSON request body (`Content-Type: application/json` required).
pub struct ApiJson<T>(pub T);

/// A JSON request body that may be empty, in which case it is `T::default()`.
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let bytes = body_bytes(req, state).await?;
        require_json(&headers)?;
        parse(&bytes).map(Self)
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        require_json(&headers)?;
        parse(&bytes).map(Self)
    }
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if let Some(timeout) = cause::<BodyTimeout>(&rejection) {
            ApiError::new(StatusCode::REQUEST_TIMEOUT, "RequestTimeout", timeout.to_string())
        } else if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                "request body is larger than the configured limit (OXIFY_MAX_BODY_BYTES)",
            )
        } else {
            ApiError::bad_request(format!("could not read the request body: {rejection}"))
        }
    })
}

/// The first error of type `E` in the chain of `error`'s causes.
fn cause<'a, E: std::error::Error + 'static>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")) {
        Ok(())
    } else {
        let shown = if content_type.is_empty() { "none" } else { content_type };
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!("expected Content-Type: application/json, got {shown}"),
        ))
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    if value.is_ok() {
        de.end().map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))?;
    }
    value.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let at = if path == "." { String::new() } else { format!(" at {path}") };
        let unprocessable = |message: String, problem: String| ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            kind: "ValidationError",
            message,
            details: Some(vec![Problem { node_id: None, path: path.clone(), problem }]),
            headers: Vec::new(),
        };
        if is_lone_surrogate(&inner) {
            // Well-formed JSON, but a string no Rust (or Unicode) text can hold: say which one.
            let problem = format!("{inner}: a \\u escape between \\ud800 and \\udfff must be half of a surrogate pair");
            unprocessable(format!("request body has a string that is not Unicode text{at}: {problem}"), problem)
        } else if let Some(syntax) = syntax_error(bytes) {
            // A shape error can come first (`{"a":` names an unknown field before the end), but a
            // body that is not JSON at all is the client's 400, whatever else is wrong with it.
            ApiError::bad_request(format!("request body is not valid JSON: {syntax}"))
        } else if inner.classify() == serde_json::error::Category::Data {
            unprocessable(format!("request body does not have the expected shape{at}: {inner}"), inner.to_string())
        } else {
            ApiError::bad_request(format!("request body is not valid JSON: {inner}"))
        }
    })
}

/// Why `bytes` are not JSON at all, if they are not (a lone surrogate escape counts as JSON).
fn syntax_error(bytes: &[u8]) -> Option<serde_json::Error> {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).err().filter(|e| !is_lone_surrogate(e))
}

/// serde_json refuses `"\ud800"` (a surrogate escape without its pair) as a syntax error, though
/// the JSON grammar allows it (RFC 8259 section 8.2). Its messages are the only way to tell.
fn is_lone_surrogate(e: &serde_json::Error) -> bool {
    let message = e.to_string();
    message.contains("lone leading surrogate") || message.contains("unexpected end of hex escape")
}

/// Path parameters; a malformed id is a 400 in the API's format.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| Self(v))
            .map_err(|e| ApiError::bad_request(format!("invalid path parameter: {}", e.body_text())))
    }
}

/// Query parameters; a malformed one is a 400 in the API's format.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Self(v))
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {}", e.body_text())))
    }
}
