//! The request an HTTP tool call makes from its (rendered) arguments and headers: path
//! placeholders filled in and encoded, the other arguments as query parameters or the JSON body.
//! A tool loop that calls HTTP tools with a model's arguments builds its requests the same way.

use super::http_target::HttpTarget;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::{Map, Value};

/// Headers a tool may not set: they describe the connection or the body, which the client
/// manages (and `Host` would let a tool pick a virtual host the URL does not name).
const MANAGED_HEADERS: [&str; 10] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
];

/// One HTTP tool call, ready to send.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    /// The JSON body, for methods that send one.
    pub body: Option<Value>,
}

/// Why a header name cannot be set by a tool, if it cannot.
#[must_use]
pub fn header_name_problem(name: &str) -> Option<String> {
    match HeaderName::from_bytes(name.as_bytes()) {
        Err(_) => Some(format!("'{name}' is not a header name")),
        Ok(h) if MANAGED_HEADERS.contains(&h.as_str()) => {
            Some(format!("header '{name}' is set by the client and cannot be given"))
        }
        Ok(_) => None,
    }
}

impl HttpRequest {
    /// The request `target` makes with `arguments` (an object, or null for none) and `headers`.
    ///
    /// # Errors
    /// A missing path parameter, arguments a query cannot carry, a header that cannot be sent.
    pub fn build(target: &HttpTarget, arguments: Value, headers: &[(String, String)]) -> Result<Self, String> {
        let mut arguments = match arguments {
            Value::Null => Map::new(),
            Value::Object(map) => map,
            other if !target.parameters_in_query() && target.placeholders().is_empty() => {
                // A body may be any JSON value.
                return Self::with(target, target_url(target, &mut Map::new())?, Some(other), headers);
            }
            other => {
                return Err(format!(
                    "parameters must be an object for {} {} (got {})",
                    target.method,
                    target.path,
                    kind(&other)
                ));
            }
        };
        let mut url = target_url(target, &mut arguments)?;
        let body = if target.parameters_in_query() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in &arguments {
                match value {
                    Value::Null => {}
                    Value::Array(items) => {
                        for item in items {
                            pairs.append_pair(name, &text(item));
                        }
                    }
                    other => {
                        pairs.append_pair(name, &text(other));
                    }
                }
            }
            drop(pairs);
            if url.query() == Some("") {
                url.set_query(None);
            }
            None
        } else {
            Some(Value::Object(arguments))
        };
        Self::with(target, url, body, headers)
    }

    fn with(target: &HttpTarget, url: Url, body: Option<Value>, headers: &[(String, String)]) -> Result<Self, String> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            if let Some(problem) = header_name_problem(name) {
                return Err(problem);
            }
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                format!("header '{name}' has a value that cannot be sent (a line break or control character)")
            })?;
            map.append(header, value);
        }
        Ok(Self { method: target.method.clone(), url, headers: map, body })
    }
}

/// The base URL with the path appended, each `{name}` replaced by that argument (taken out of
/// `arguments`) and every segment percent-encoded.
fn target_url(target: &HttpTarget, arguments: &mut Map<String, Value>) -> Result<Url, String> {
    let mut url = Url::parse(&target.base).map_err(|e| format!("{}: {e}", target.base))?;
    let mut segments_out = Vec::new();
    for segment in target.path.trim_start_matches('/').split('/') {
        let mut filled = String::new();
        let mut rest = segment;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else { break };
            let name = &rest[open + 1..open + close];
            let value = arguments
                .remove(name)
                .filter(|v| !v.is_null())
                .ok_or_else(|| format!("the path {} needs the parameter `{name}`, which is missing", target.path))?;
            filled.push_str(&rest[..open]);
            filled.push_str(&text(&value));
            rest = &rest[open + close + 1..];
        }
        filled.push_str(rest);
        segments_out.push(filled);
    }
    url.path_segments_mut()
        .map_err(|()| format!("{} cannot take a path", target.base))?
        .pop_if_empty()
        .extend(segments_out.iter().map(String::as_str));
    Ok(url)
}

/// A value as text in a URL: strings as they are, other scalars as JSON, objects and arrays as
/// JSON text.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target(base: &str, tool: &str) -> HttpTarget {
        HttpTarget::parse(base, tool).unwrap().unwrap()
    }

    #[test]
    fn get_arguments_go_in_the_query_and_path_placeholders_are_filled_and_encoded() {
        let t = target("https://api.example.com/v1/", "GET /users/{id}/files/{name}");
        let r = HttpRequest::build(
            &t,
            json!({"id": 42, "name": "a b/c", "q": "x&y", "tags": ["a", 1], "skip": null, "f": {"k": true}}),
            &[],
        )
        .unwrap();
        assert_eq!(
            r.url.as_str(),
            "https://api.example.com/v1/users/42/files/a%20b%2Fc?f=%7B%22k%22%3Atrue%7D&q=x%26y&tags=a&tags=1"
        );
        assert!(r.body.is_none());
        let bare = HttpRequest::build(&target("http://h:9000", "GET /status"), Value::Null, &[]).unwrap();
        assert_eq!(bare.url.as_str(), "http://h:9000/status");
    }

    #[test]
    fn other_methods_send_the_arguments_as_a_json_body() {
        let r =
            HttpRequest::build(&target("http://h", "POST /items/{id}"), json!({"id": "7", "name": "n"}), &[]).unwrap();
        assert_eq!(r.url.as_str(), "http://h/items/7");
        assert_eq!(r.body, Some(json!({"name": "n"})));
        let list = HttpRequest::build(&target("http://h", "PUT /bulk"), json!([1, 2]), &[]).unwrap();
        assert_eq!(list.body, Some(json!([1, 2])));
    }

    #[test]
    fn bad_arguments_and_headers_are_refused_with_a_reason() {
        let e = HttpRequest::build(&target("http://h", "GET /users/{id}"), json!({}), &[]).unwrap_err();
        assert_eq!(e, "the path /users/{id} needs the parameter `id`, which is missing");
        let e = HttpRequest::build(&target("http://h", "GET /x"), json!([1]), &[]).unwrap_err();
        assert_eq!(e, "parameters must be an object for GET /x (got an array)");
        let t = target("http://h", "GET /x");
        let e = HttpRequest::build(&t, Value::Null, &[("Host".into(), "evil".into())]).unwrap_err();
        assert!(e.contains("set by the client"), "{e}");
        let e = HttpRequest::build(&t, Value::Null, &[("X-Key".into(), "a\r\nb".into())]).unwrap_err();
        assert!(e.contains("cannot be sent"), "{e}");
        let ok = HttpRequest::build(&t, Value::Null, &[("X-Api-Key".into(), "k".into())]).unwrap();
        assert_eq!(ok.headers["x-api-key"], "k");
    }
}
