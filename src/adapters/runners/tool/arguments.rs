//! Rendering a Tool node's `parameters` and `headers` over the run's data: every string in the
//! parameters that uses template syntax is rendered, and one that is only `{{ path }}` becomes the
//! value at that path with its JSON type (a number stays a number, an object an object).
//!
//! Headers are templates over the same data, `{{ secrets.NAME }}` included: the executor reveals
//! the secrets a node's configuration names for that attempt only (in `data.secrets`) and
//! redacts them from whatever the attempt produces, the answer echoing a header included.

use crate::domain::data::DataContext;
use crate::domain::template;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// A string that is a single `{{ dotted.path }}` and nothing else.
static WHOLE_VALUE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\s*\}\}$")
        .unwrap_or_else(|e| unreachable!("{e}"))
});

/// `parameters` with its templates rendered.
///
/// # Errors
/// The first template that fails, with its path (`parameters.filter.name: ...`).
pub fn render_parameters(parameters: &Value, data: &DataContext) -> Result<Value, String> {
    render_value(parameters, data, "parameters")
}

fn render_value(value: &Value, data: &DataContext, path: &str) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) if template::is_template(text) => {
            if let Some(whole) = WHOLE_VALUE.captures(text.trim()).and_then(|c| data.lookup(&c[1])) {
                return Ok(whole);
            }
            Value::String(template::render(text, data).map_err(|e| format!("{path}: {e}"))?)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(k, item)| render_value(item, data, &format!("{path}[{k}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| Ok((key.clone(), render_value(item, data, &format!("{path}.{key}"))?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// The headers with their values rendered, in name order.
///
/// # Errors
/// The first template that fails, with its header.
pub fn render_headers(headers: &BTreeMap<String, String>, data: &DataContext) -> Result<Vec<(String, String)>, String> {
    headers
        .iter()
        .map(|(name, value)| {
            let rendered = if template::is_template(value) {
                template::render(value, data).map_err(|e| format!("headers.{name}: {e}"))?
            } else {
                value.clone()
            };
            Ok((name.clone(), rendered))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::data::tests::context;
    use serde_json::json;

    #[test]
    fn templates_inside_json_values_render_and_a_lone_reference_keeps_its_type() {
        let data =
            context(json!({"n": 3, "q": "rust", "filter": {"lang": "en"}}), &[("search", json!({"hits": [1, 2]}))]);
        let rendered = render_parameters(
            &json!({
                "limit": "{{ n }}",
                "query": "about {{ q }}",
                "filter": "{{filter}}",
                "hits": "{{ nodes.search.output.hits }}",
                "nested": [{"x": "{{ q | upper }}"}, 5, null],
                "plain": "no template"
            }),
            &data,
        )
        .unwrap();
        assert_eq!(
            rendered,
            json!({
                "limit": 3, "query": "about rust", "filter": {"lang": "en"}, "hits": [1, 2],
                "nested": [{"x": "RUST"}, 5, null], "plain": "no template"
            })
        );
        let e = render_parameters(&json!({"a": ["{{ missing }}"]}), &data).unwrap_err();
        assert!(e.starts_with("parameters.a[0]: ") && e.contains("missing"), "{e}");
    }

    #[test]
    fn header_values_render() {
        let data = context(json!({"token": "abc"}), &[]);
        let headers = BTreeMap::from([("Authorization".to_owned(), "Bearer {{ token }}".to_owned())]);
        assert_eq!(render_headers(&headers, &data).unwrap(), [("Authorization".to_owned(), "Bearer abc".to_owned())]);
    }
}
