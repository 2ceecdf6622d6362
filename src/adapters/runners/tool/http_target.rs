//! Where an HTTP tool sends its request: the seed's fallback reads `server_id` as an http(s) base
//! URL and `tool_name` as `"METHOD /path"`, the path below the base, with `{name}` placeholders
//! taken from the parameters.

use crate::ports::ConfigProblem;
use reqwest::{Method, Url};

/// Methods an HTTP tool may use.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// An HTTP tool's method, base URL and path template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTarget {
    pub method: Method,
    /// The base URL without a trailing slash, query or fragment.
    pub base: String,
    /// Starts with `/`; may hold `{name}` placeholders.
    pub path: String,
}

impl HttpTarget {
    /// Reads a Tool node's `server_id` and `tool_name`. `Ok(None)` when `server_id` is not an
    /// http(s) URL, that is when it names an MCP server.
    ///
    /// # Errors
    /// A malformed `tool_name` or base URL, naming the field at fault.
    pub fn parse(server_id: &str, tool_name: &str) -> Result<Option<Self>, ConfigProblem> {
        let server_id = server_id.trim();
        let lower = server_id.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Ok(None);
        }
        let base = Url::parse(server_id)
            .map_err(|e| ConfigProblem::at("server_id", format!("server_id '{server_id}' is not a URL: {e}")))?;
        if base.host_str().is_none_or(str::is_empty) {
            return Err(ConfigProblem::at("server_id", format!("server_id '{server_id}' has no host")));
        }
        if base.query().is_some()
            || base.fragment().is_some()
            || !base.username().is_empty()
            || base.password().is_some()
        {
            return Err(ConfigProblem::at(
                "server_id",
                format!(
                    "server_id '{server_id}' must be a base URL without user, query or fragment (parameters go in `parameters`, credentials in `headers`)"
                ),
            ));
        }
        let form = "expected \"METHOD /path\", such as \"GET /status\" or \"POST /items/{id}\"";
        let (method, path) = tool_name
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(|| ConfigProblem::at("tool_name", format!("tool_name '{tool_name}' has no path; {form}")))?;
        let method = method.to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(ConfigProblem::at(
                "tool_name",
                format!(
                    "tool_name '{tool_name}': {method} is not a method an HTTP tool can use ({})",
                    METHODS.join(", ")
                ),
            ));
        }
        let path = path.trim();
        if !path.starts_with('/') || path.contains(char::is_whitespace) || path.contains(['?', '#']) {
            return Err(ConfigProblem::at(
                "tool_name",
                format!(
                    "tool_name '{tool_name}': the path must start with / and hold no blanks, query or fragment; {form}"
                ),
            ));
        }
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|e| ConfigProblem::at("tool_name", format!("tool_name '{tool_name}': {e}")))?;
        let base = base.as_str().trim_end_matches('/').to_owned();
        Ok(Some(Self { method, base, path: path.to_owned() }))
    }

    /// Whether the parameters go in the query (else they are the JSON body).
    #[must_use]
    pub fn parameters_in_query(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS)
    }

    /// The names of the path's `{name}` placeholders, in order.
    #[must_use]
    pub fn placeholders(&self) -> Vec<&str> {
        self.path.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_fallback_form_is_read() {
        let t = HttpTarget::parse("http://127.0.0.1:9000/", "GET /status").unwrap().unwrap();
        assert_eq!((t.method.as_str(), t.base.as_str(), t.path.as_str()), ("GET", "http://127.0.0.1:9000", "/status"));
        let t = HttpTarget::parse(" https://api.example.com/v1 ", "post  /items/{id}/tags/{tag}").unwrap().unwrap();
        assert_eq!((&t.method, t.base.as_str()), (&Method::POST, "https://api.example.com/v1"));
        assert_eq!(t.placeholders(), ["id", "tag"]);
        assert!(!t.parameters_in_query());
    }

    #[test]
    fn a_server_name_is_not_an_http_tool() {
        assert_eq!(HttpTarget::parse("github", "create_issue").unwrap(), None);
    }

    #[test]
    fn malformed_tool_names_and_bases_name_their_field() {
        for (server, tool, field, text) in [
            ("http://h", "status", "tool_name", "has no path"),
            ("http://h", "FETCH /x", "tool_name", "FETCH is not a method"),
            ("http://h", "GET x", "tool_name", "must start with /"),
            ("http://h", "GET /x?a=1", "tool_name", "no blanks, query or fragment"),
            ("http://", "GET /x", "server_id", "is not a URL"),
            ("http://h/?key=1", "GET /x", "server_id", "without user, query or fragment"),
            ("http://user:pw@h", "GET /x", "server_id", "without user, query or fragment"),
        ] {
            let p = HttpTarget::parse(server, tool).unwrap_err();
            assert_eq!(p.field.as_deref(), Some(field), "{server} {tool}");
            assert!(p.problem.contains(text), "{}", p.problem);
        }
    }
}
