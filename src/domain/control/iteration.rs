//! Loops and try/catch whose bodies are templates (the seed's behaviour), evaluated inline: what
//! a Loop iterates over is also what a Loop over a child workflow iterates over.

use crate::domain::data::DataContext;
use crate::domain::expr::Expr;
use crate::domain::template;
use crate::domain::workflow::{LoopConfig, LoopType, TryCatchConfig};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// What a Loop iterates over.
#[derive(Clone, Debug, PartialEq)]
pub enum Items {
    /// ForEach: these items.
    List(Vec<Value>),
    /// Repeat: this many times.
    Count(u32),
    /// While: as long as the condition holds.
    While(String),
}

/// The items of a Loop, read from the data. A ForEach whose collection is longer than
/// `max_iterations`, or a Repeat asking for more, fails: a loop never stops early as a success.
///
/// # Errors
/// A collection that is missing or not a list, a count that is not a whole number, too many
/// iterations.
pub fn items(config: &LoopConfig, data: &DataContext) -> Result<Items, String> {
    let max = config.max_iterations;
    let items = match &config.loop_type {
        LoopType::ForEach { collection_path, .. } => {
            let path = collection_path.trim().trim_start_matches("{{").trim_end_matches("}}").trim();
            match data.lookup(path) {
                Some(Value::Array(items)) => Items::List(items),
                Some(other) => return Err(format!("collection_path `{path}` is not a list: {other}")),
                None => return Err(format!("collection_path `{path}` names nothing")),
            }
        }
        LoopType::Repeat { count, .. } => {
            let text = if template::is_template(count) { template::render(count, data)? } else { count.clone() };
            let n: u32 = text.trim().parse().map_err(|_| format!("count `{}` is not a whole number", text.trim()))?;
            Items::Count(n)
        }
        LoopType::While { condition, .. } => Items::While(condition.clone()),
    };
    let asked = match &items {
        Items::List(list) => list.len(),
        Items::Count(n) => *n as usize,
        Items::While(_) => 0,
    };
    if asked > max as usize {
        return Err(format!("the loop asks for {asked} iterations, more than max_iterations ({max})"));
    }
    Ok(items)
}

/// The variables one iteration sees: the loop's item and index variables.
#[must_use]
pub fn iteration_variables(config: &LoopConfig, index: u32, item: Option<&Value>) -> Map<String, Value> {
    let mut vars = Map::new();
    match &config.loop_type {
        LoopType::ForEach { item_variable, index_variable, .. } => {
            vars.insert(item_variable.clone(), item.cloned().unwrap_or(Value::Null));
            if let Some(name) = index_variable {
                vars.insert(name.clone(), json!(index));
            }
        }
        LoopType::Repeat { index_variable, .. } => {
            if let Some(name) = index_variable {
                vars.insert(name.clone(), json!(index));
            }
        }
        LoopType::While { counter_variable, .. } => {
            if let Some(name) = counter_variable {
                vars.insert(name.clone(), json!(index));
            }
        }
    }
    vars
}

/// The data with extra variables on top (the extra win).
#[must_use]
pub fn with_variables(data: &DataContext, extra: Map<String, Value>) -> DataContext {
    let mut variables = data.variables.as_ref().clone();
    variables.extend(extra);
    DataContext { variables: Arc::new(variables), outputs: data.outputs.clone(), secrets: data.secrets.clone() }
}

/// Whether a While loop goes on for iteration `index` (its condition sees the counter and the
/// results so far as `results`).
///
/// # Errors
/// The condition's error, or a result that is not a bool.
pub fn while_holds(
    condition: &str,
    config: &LoopConfig,
    data: &DataContext,
    index: u32,
    results: &[Value],
) -> Result<bool, String> {
    let mut extra = iteration_variables(config, index, None);
    extra.insert("results".into(), Value::Array(results.to_vec()));
    Expr::compile(condition)?.evaluate_bool(&with_variables(data, extra))
}

/// A Loop whose body is a template: renders it once per iteration, results in order.
///
/// # Errors
/// A body that fails to render, or more iterations than `max_iterations`.
pub fn template_loop(config: &LoopConfig, data: &DataContext) -> Result<Value, String> {
    let body = match &config.loop_type {
        LoopType::ForEach { body_expression, .. }
        | LoopType::While { body_expression, .. }
        | LoopType::Repeat { body_expression, .. } => body_expression,
    };
    let mut results: Vec<Value> = Vec::new();
    let render = |index: u32, item: Option<&Value>| {
        let scope = with_variables(data, iteration_variables(config, index, item));
        template::render(body, &scope).map_err(|e| format!("iteration {index}: {e}"))
    };
    match items(config, data)? {
        Items::List(list) => {
            for (index, item) in (0u32..).zip(&list) {
                results.push(Value::String(render(index, Some(item))?));
            }
        }
        Items::Count(n) => {
            for index in 0..n {
                results.push(Value::String(render(index, None)?));
            }
        }
        Items::While(condition) => {
            let mut index = 0u32;
            while while_holds(&condition, config, data, index, &results)? {
                if index >= config.max_iterations {
                    return Err(format!(
                        "the loop was still going after max_iterations ({}): its condition never turned false",
                        config.max_iterations
                    ));
                }
                results.push(Value::String(render(index, None)?));
                index += 1;
            }
        }
    }
    Ok(json!({"iterations": results.len(), "results": results}))
}

/// A TryCatch (the seed's): renders `try_expression`; if that fails, renders
/// `catch_expression` with the error as `error_variable`; renders `finally_expression` either
/// way. With `rethrow`, a caught error still fails the node (after catch and finally ran).
///
/// # Errors
/// The try's error with `rethrow` or without a catch, or an error of the catch or finally.
pub fn try_catch(config: &TryCatchConfig, data: &DataContext) -> Result<Value, String> {
    let tried = template::render(&config.try_expression, data);
    let finally = |data: &DataContext| {
        config
            .finally_expression
            .as_deref()
            .map(|f| template::render(f, data).map_err(|e| format!("finally: {e}")))
            .transpose()
    };
    match tried {
        Ok(result) => Ok(json!({"result": result, "caught": false, "finally": finally(data)?})),
        Err(error) => {
            let Some(catch) = &config.catch_expression else {
                finally(data)?;
                return Err(error);
            };
            let mut extra = Map::new();
            extra.insert(config.error_variable.clone(), Value::String(error.clone()));
            let scope = with_variables(data, extra);
            let caught = template::render(catch, &scope).map_err(|e| format!("catch: {e}"))?;
            let finally = finally(&scope)?;
            if config.rethrow {
                return Err(format!("{error} (rethrown after catch)"));
            }
            Ok(json!({"result": caught, "caught": true, "error": error, "finally": finally}))
        }
    }
}
