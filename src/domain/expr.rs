//! Conditions in CEL (Google's Common Expression Language): safe, side-effect free, JavaScript-like
//! syntax (`score > 0.5 && tier == "gold"`). Compiled once when a workflow is saved.

mod env;
mod reads;
pub mod types;

use crate::domain::data::{DataContext, Reads};
use env::ENV;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use types::{Declared, Type};

/// Longest expression accepted.
pub const MAX_EXPRESSION_LEN: usize = 4096;
/// Deepest bracket nesting accepted: the CEL parser recurses once per level.
pub const MAX_NESTING: usize = 32;

/// A compiled CEL expression and the top-level names it reads.
#[derive(Clone, Debug)]
pub struct Expr {
    source: String,
    program: Arc<cel::Program>,
    names: Vec<String>,
}

impl Expr {
    /// Compiles an expression.
    ///
    /// # Errors
    /// A message saying why the expression is empty, too long, too deep or does not parse.
    pub fn compile(source: &str) -> Result<Self, String> {
        if source.trim().is_empty() {
            return Err("expression is empty".into());
        }
        if source.len() > MAX_EXPRESSION_LEN {
            return Err(format!("expression is longer than {MAX_EXPRESSION_LEN} characters"));
        }
        if nesting(source) > MAX_NESTING {
            return Err(format!("expression nests brackets deeper than {MAX_NESTING} levels"));
        }
        let program = ENV.compile(source).map_err(|e| format!("expression does not parse: {e}"))?;
        let mut names: Vec<String> = program.references().variables().into_iter().map(str::to_owned).collect();
        names.sort();
        Ok(Self { source: source.to_owned(), program: Arc::new(program), names })
    }

    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Type mistakes visible before running (see [`types`]), each with its column; with
    /// `boolean`, also a result that cannot be a bool.
    #[must_use]
    pub fn type_problems(&self, declared: &Declared, boolean: bool) -> Vec<String> {
        let mut checker = types::Checker::new(declared);
        let result = checker.infer(self.program.expression());
        let info = self.program.source_info();
        let mut problems: Vec<String> = checker
            .problems
            .into_iter()
            .map(|(id, message)| match info.offset_for(id) {
                Some((start, _)) => format!("{message} (at column {})", start + 1),
                None => message,
            })
            .collect();
        if boolean && !matches!(result, Type::Bool | Type::Dyn) {
            problems.push(format!("must yield a bool, but yields {}", result.describe()));
        }
        problems
    }

    /// What the expression reads: node outputs, variables (see [`Reads`]).
    #[must_use]
    pub fn reads(&self) -> Reads {
        reads::collect(self.program.expression())
    }

    /// Evaluates the expression over the data; only the names it reads are converted.
    ///
    /// # Errors
    /// The evaluation error (an undefined name, a type mismatch, ...).
    pub fn evaluate(&self, data: &DataContext) -> Result<Value, String> {
        let mut ctx = cel::Context::with_env(ENV.clone());
        for name in &self.names {
            let value = match name.as_str() {
                "nodes" => Some(nodes_value(data)),
                "variables" => Some(object_to_cel(&data.variables)),
                other => data.variables.get(other).map(to_cel),
            };
            if let Some(value) = value {
                ctx.add_variable_from_value(name.as_str(), value);
            }
        }
        let result = self.program.execute(&ctx).map_err(|e| format!("expression `{}` failed: {e}", self.source))?;
        result.json().map_err(|e| format!("expression `{}` produced a value without JSON form: {e}", self.source))
    }

    /// Evaluates an expression that must yield a boolean.
    ///
    /// # Errors
    /// As [`Expr::evaluate`], or when the result is not a boolean.
    pub fn evaluate_bool(&self, data: &DataContext) -> Result<bool, String> {
        match self.evaluate(data)? {
            Value::Bool(b) => Ok(b),
            other => Err(format!("expression `{}` must yield a boolean, got {other}", self.source)),
        }
    }
}

fn nodes_value(data: &DataContext) -> cel::Value {
    let map: HashMap<String, cel::Value> = data
        .outputs
        .iter()
        .map(|(id, out)| {
            let entry: HashMap<String, cel::Value> = HashMap::from([("output".to_owned(), to_cel(out))]);
            (id.to_string(), entry.into())
        })
        .collect();
    map.into()
}

fn object_to_cel(object: &Map<String, Value>) -> cel::Value {
    let map: HashMap<String, cel::Value> = object.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
    map.into()
}

/// JSON to CEL, with whole numbers as CEL `int` (not `uint`), so `count * 2` works as written;
/// `3.0` is the whole number 3 too (see [`crate::domain::number`]).
fn to_cel(value: &Value) -> cel::Value {
    match value {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => cel::Value::Int(i),
            (None, Some(u), _) => cel::Value::UInt(u),
            (_, _, Some(x)) if x.fract() == 0.0 && x.abs() <= 9_007_199_254_740_992.0 => cel::Value::Int(x as i64),
            (_, _, x) => cel::Value::Float(x.unwrap_or(f64::NAN)),
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(object) => object_to_cel(object),
    }
}

fn nesting(source: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for c in source.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::data::tests::context;
    use serde_json::json;

    fn eval(src: &str, vars: Value) -> Result<Value, String> {
        Expr::compile(src)?.evaluate(&context(vars, &[("check", json!({"score": 0.9}))]))
    }

    #[test]
    fn seed_style_expressions_evaluate() {
        assert_eq!(eval("1 + 1 == 2", json!({})), Ok(json!(true)));
        assert_eq!(eval("score > 0.5", json!({"score": 0.7})), Ok(json!(true)));
        assert_eq!(eval("tier == 'gold' && count >= 3", json!({"tier": "gold", "count": 3})), Ok(json!(true)));
        assert_eq!(eval("x > 2 ? 'big' : 'small'", json!({"x": 1})), Ok(json!("small")));
    }

    #[test]
    fn the_readme_examples_evaluate() {
        let vars = json!({"user_query": "weather in Tokyo", "status": "ok", "email": "a@b.c"});
        assert_eq!(
            eval("user_query.contains('weather') || user_query.startsWith('forecast')", vars.clone()),
            Ok(json!(true))
        );
        assert_eq!(eval("status in ['ok', 'done']", vars.clone()), Ok(json!(true)));
        assert_eq!(eval("has(variables.email) ? 'known' : 'anonymous'", vars.clone()), Ok(json!("known")));
        assert_eq!(eval("user_query.matches('^weather')", vars.clone()), Ok(json!(true)));
        assert_eq!(eval("count * 2 == 4 && ratio > 0.5", json!({"count": 2, "ratio": 1})), Ok(json!(true)));
    }

    #[test]
    fn node_outputs_and_variables_map_are_reachable() {
        assert_eq!(eval("nodes.check.output.score > 0.5", json!({})), Ok(json!(true)));
        assert_eq!(eval("has(variables.q)", json!({"q": 1})), Ok(json!(true)));
        assert_eq!(eval("size(items) == 2", json!({"items": [1, 2]})), Ok(json!(true)));
    }

    #[test]
    fn undefined_names_fail_with_their_name() {
        let err = eval("missing > 1", json!({})).unwrap_err();
        assert!(err.contains("missing"), "{err}");
    }

    #[test]
    fn syntax_errors_are_caught_at_compile() {
        assert!(Expr::compile("score >").is_err());
        assert!(Expr::compile("  ").is_err());
        assert!(Expr::compile(&"1 + ".repeat(2000)).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert!(Expr::compile(&deep).unwrap_err().contains("nests"));
        let ok = format!("{}1{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert!(Expr::compile(&ok).is_ok());
    }

    #[test]
    fn a_number_compares_the_same_however_it_was_spelled() {
        let three_point_oh: Value = serde_json::from_str(r#"{"count": 3.0, "ratio": 1.5}"#).unwrap();
        assert_eq!(eval("count == 3", three_point_oh.clone()), Ok(json!(true)));
        assert_eq!(eval("count * 2 == 6", three_point_oh.clone()), Ok(json!(true)));
        assert_eq!(eval("count == 3.0", json!({"count": 3})), Ok(json!(true)));
        assert_eq!(eval("count != 3.0", json!({"count": 3})), Ok(json!(false)));
        assert_eq!(eval("ratio > 1", three_point_oh.clone()), Ok(json!(true)));
        assert_eq!(eval("ratio < 2 && ratio >= 1.5", three_point_oh), Ok(json!(true)));
        assert_eq!(eval("count in [1, 2, 3]", serde_json::from_str(r#"{"count": 3.0}"#).unwrap()), Ok(json!(true)));
        assert_eq!(eval("1u == 1 && 2.0 > 1u", json!({})), Ok(json!(true)));
    }

    #[test]
    fn evaluate_bool_rejects_non_booleans() {
        let e = Expr::compile("1 + 1").unwrap();
        assert!(e.evaluate_bool(&context(json!({}), &[])).unwrap_err().contains("boolean"));
    }
}

#[cfg(test)]
mod time_tests;
#[cfg(test)]
mod types_tests;
