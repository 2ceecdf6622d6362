//! `{{ var }}` templates, rendered by minijinja with strict undefined variables and a fuel limit.

use crate::domain::data::{DataContext, Reads};
use crate::domain::number;
use minijinja::value::{Enumerator, Object, ObjectRepr, Value as JValue};
use minijinja::{Environment, Output, State, UndefinedBehavior};
use std::sync::{Arc, LazyLock};

/// Instructions one rendering may spend: bounds a template such as a huge loop.
const FUEL: u64 = 1_000_000;

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(64);
    env.set_formatter(format_value);
    env
});

/// Writes a value into the output: a computed float (`{{ 6 / 2 }}`) the way every other number
/// is written (see [`crate::domain::number`]): `3`, not minijinja's `3.0`.
fn format_value(out: &mut Output, state: &mut State, value: &JValue) -> Result<(), minijinja::Error> {
    if value.is_number()
        && !value.is_integer()
        && let Ok(x) = f64::try_from(value.clone())
    {
        return out.write_str(&number::format_f64(x)).map_err(minijinja::Error::from);
    }
    minijinja::escape_formatter(out, state, value)
}

/// Whether a text uses template syntax at all.
#[must_use]
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// Parses a template without rendering it.
///
/// # Errors
/// The parser's message when the syntax is wrong.
pub fn check(source: &str) -> Result<(), String> {
    ENV.template_from_str(source).map(|_| ()).map_err(|e| describe(&e))
}

/// What a template reads (see [`Reads`]). `nodes["<id>"]` with a literal id counts as reading that
/// node; the template must parse ([`check`] first).
#[must_use]
pub fn reads(source: &str) -> Reads {
    // minijinja reports attribute chains (`nodes.a.output`) but not literal subscripts, which
    // UUID ids need: give each `nodes["<id>"]` a placeholder attribute name first.
    static SUBSCRIPT: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r#"\bnodes\s*\[\s*(?:"([^"\\]*)"|'([^'\\]*)')\s*\]"#).unwrap_or_else(|e| unreachable!("{e}"))
    });
    let mut literal_ids: Vec<String> = Vec::new();
    let rewritten = SUBSCRIPT.replace_all(source, |c: &regex::Captures<'_>| {
        let id = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
        literal_ids.push(id.to_owned());
        format!("nodes.{PLACEHOLDER}{}", literal_ids.len() - 1)
    });
    let mut reads = Reads::default();
    let Ok(template) = ENV.template_from_str(&rewritten) else { return reads };
    let mut paths: Vec<String> = template.undeclared_variables(true).into_iter().collect();
    paths.sort();
    for path in paths {
        let mut segments = path.split('.');
        match (segments.next(), segments.next()) {
            (Some("nodes"), Some(id)) => match id.strip_prefix(PLACEHOLDER).and_then(|k| k.parse::<usize>().ok()) {
                Some(k) => reads.node(&literal_ids[k]),
                None => reads.node(id),
            },
            (Some("nodes"), None) => reads.dynamic_nodes = true,
            (Some("variables"), Some(name)) => reads.variable(name),
            (Some("variables"), None) => {}
            // Workspace secrets, revealed when the node runs: not variables of the workflow.
            (Some("secrets"), _) => {}
            (Some(name), _) if ENV.globals().all(|(global, _)| global != name) => reads.variable(name),
            _ => {}
        }
    }
    reads
}

/// Attribute name standing for the `k`-th literal subscript; not a valid node id (ids start with
/// a letter or `_`, and a UUID has no `_`), so it cannot clash.
const PLACEHOLDER: &str = "__oxify_subscript_";

/// Renders a template over the data.
///
/// # Errors
/// A message naming the missing variable when one is undefined, else the engine's message.
pub fn render(source: &str, data: &DataContext) -> Result<String, String> {
    let root = JValue::from_object(Root(data.clone()));
    ENV.render_str(source, root).map_err(|e| {
        if e.kind() == minijinja::ErrorKind::UndefinedError
            && let Some(missing) = first_missing(source, data)
        {
            return format!("template references `{missing}`, which is not defined");
        }
        describe(&e)
    })
}

/// The first variable path a template uses that the data cannot resolve.
fn first_missing(source: &str, data: &DataContext) -> Option<String> {
    let template = ENV.template_from_str(source).ok()?;
    let mut used: Vec<String> = template.undeclared_variables(true).into_iter().collect();
    used.sort();
    used.into_iter().find(|path| data.lookup(path).is_none())
}

fn describe(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(detail) => format!("{}: {detail} (line {})", e.kind(), e.line().unwrap_or(1)),
        None => e.to_string(),
    }
}

/// The template root: variables by name, plus `variables` and `nodes`, converted only when used.
#[derive(Debug)]
struct Root(DataContext);

impl Object for Root {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let data = &self.0;
        match key.as_str()? {
            "nodes" => Some(JValue::from_object(Nodes(data.clone()))),
            "variables" => Some(JValue::from(minijinja::value::Serde(data.variables.as_ref()))),
            "secrets" => Some(JValue::from(minijinja::value::Serde(data.secrets.as_ref()))),
            name => data.variables.get(name).map(|v| JValue::from(minijinja::value::Serde(v))),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<JValue> = self.0.variables.keys().map(|k| JValue::from(k.as_str())).collect();
        keys.extend([JValue::from("nodes"), JValue::from("secrets"), JValue::from("variables")]);
        Enumerator::Values(keys)
    }
}

/// `nodes.<id>` for every finished node: `{"output": ...}`.
#[derive(Debug)]
struct Nodes(DataContext);

impl Object for Nodes {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let output = self.0.outputs.get(key.as_str()?)?;
        Some(JValue::from(minijinja::value::Serde(serde_json::json!({ "output": output.as_ref() }))))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.outputs.iter().map(|(id, _)| JValue::from(id.as_str())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::data::tests::context;
    use serde_json::{Value, json};

    #[test]
    fn renders_variables_without_json_quotes() {
        let ctx = context(json!({"user_query": "weather in Tokyo"}), &[]);
        assert_eq!(render("Q: {{ user_query }}", &ctx).unwrap(), "Q: weather in Tokyo");
        assert_eq!(render("Q: {{user_query}}", &ctx).unwrap(), "Q: weather in Tokyo");
    }

    #[test]
    fn renders_node_outputs_and_nested_fields() {
        let ctx = context(json!({}), &[("fetch_docs", json!({"text": "doc", "n": 2}))]);
        assert_eq!(
            render("{{ nodes.fetch_docs.output.text }} x{{ nodes.fetch_docs.output.n }}", &ctx).unwrap(),
            "doc x2"
        );
        assert_eq!(render("{{ nodes['fetch_docs'].output.text }}", &ctx).unwrap(), "doc");
    }

    #[test]
    fn the_readme_examples_render() {
        let ctx = context(json!({"tier": "gold", "q": "x"}), &[("search", json!({"items": [1, 2, 3]}))]);
        let out = render(
            "{% if tier == \"gold\" %}Priority.{% endif %} {{ nodes.search.output.items | length }} {{ variables | tojson }}",
            &ctx,
        );
        assert_eq!(out.unwrap(), r#"Priority. 3 {"q": "x", "tier": "gold"}"#);
    }

    #[test]
    fn missing_variable_fails_and_names_it() {
        let ctx = context(json!({"a": 1}), &[]);
        let err = render("Hi {{ user_query }}", &ctx).unwrap_err();
        assert!(err.contains("`user_query`"), "{err}");
        let err = render("{{ nodes.absent.output }}", &ctx).unwrap_err();
        assert!(err.contains("nodes.absent"), "{err}");
    }

    #[test]
    fn syntax_errors_are_found_without_rendering() {
        assert!(check("Hello {{ name }}").is_ok());
        let err = check("Hello {{ name").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn runaway_template_runs_out_of_fuel() {
        let ctx = context(json!({}), &[]);
        let err = render("{% for i in range(100000) %}{% for j in range(100) %}x{% endfor %}{% endfor %}", &ctx);
        assert!(err.is_err());
    }

    #[test]
    fn numbers_render_the_same_however_they_were_spelled() {
        let vars: Value = serde_json::from_str(r#"{"a": 3, "b": 3.0, "c": 0.1, "d": 2.5}"#).unwrap();
        let ctx = context(vars, &[("n", json!({"x": 3.0}))]);
        assert_eq!(render("{{ a }} {{ b }} {{ c }} {{ d }}", &ctx).unwrap(), "3 3 0.1 2.5");
        assert_eq!(render("{{ 6 / 2 }} {{ 7 / 2 }} {{ 0.1 + 0.2 }}", &ctx).unwrap(), "3 3.5 0.30000000000000004");
        assert_eq!(render("{{ b * 2 }}|{{ nodes.n.output.x }}", &ctx).unwrap(), "6|3");
    }

    #[test]
    fn reads_names_the_nodes_and_variables_a_template_uses() {
        let r = reads(
            "{{ nodes.fetch.output.text }} {{ nodes['9b2d5c1e-0000-4000-8000-000000000001'].output }} \
             {{ nodes[\"other\"].output.x }} {{ user_query }} {{ variables.tier }} {{ range(3) | length }}",
        );
        let mut nodes = r.nodes.clone();
        nodes.sort();
        assert_eq!(nodes, vec!["9b2d5c1e-0000-4000-8000-000000000001", "fetch", "other"]);
        let mut variables = r.variables.clone();
        variables.sort();
        assert_eq!(variables, vec!["tier", "user_query"]);
        assert!(!r.dynamic_nodes);
    }

    #[test]
    fn reads_sees_nodes_used_without_a_literal_id() {
        assert!(reads("{{ nodes | length }}").dynamic_nodes);
        assert!(reads("{% for id in nodes %}{{ id }}{% endfor %}").dynamic_nodes);
        assert!(reads("{{ nodes[which].output }}").dynamic_nodes);
        assert!(!reads("{% set nodes = [1] %}{{ nodes | length }}").dynamic_nodes, "a local named nodes");
    }

    #[test]
    fn reads_skips_loop_variables_and_locals() {
        let r = reads("{% for item in items %}{{ item.name }}{{ loop.index }}{% endfor %}{% set x = 1 %}{{ x }}");
        assert_eq!(r.variables, vec!["items"]);
    }

    #[test]
    fn plain_text_is_not_a_template() {
        assert!(!is_template("Say YES"));
        assert!(is_template("Say {{ word }}"));
    }
}
