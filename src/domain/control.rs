//! Nodes the engine evaluates itself, without effects: Start, End, IfElse, Switch, Parallel
//! (whose tasks are templates), and Loop and TryCatch with template bodies. Their results depend
//! only on the data, so they run inline.

pub mod iteration;

use crate::domain::data::DataContext;
use crate::domain::valid::{Compiled, SwitchOn, ValidWorkflow};
use crate::domain::workflow::{NodeKind, ParallelConfig, ParallelStrategy};
use crate::domain::{number, template};
use serde_json::{Map, Value, json};

/// What a control node produced: its output and, for a branching node, the targets it chose.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlOutput {
    pub output: Value,
    pub taken: Vec<usize>,
}

/// Whether the engine evaluates this kind itself (no runner needed). A Parallel with
/// `max_concurrency` or `timeout_ms` runs its tasks as real concurrent work (a runner); a Loop
/// over a `body_workflow` runs child executions.
#[must_use]
pub fn is_control(kind: &NodeKind) -> bool {
    match kind {
        NodeKind::Start | NodeKind::End | NodeKind::IfElse(_) | NodeKind::Switch(_) | NodeKind::TryCatch(_) => true,
        NodeKind::Parallel(c) => c.max_concurrency.is_none() && c.timeout_ms.is_none(),
        NodeKind::Loop(c) => c.body_workflow.is_none(),
        _ => false,
    }
}

/// Evaluates control node `idx`; `None` for kinds that need a runner.
#[must_use]
pub fn evaluate(workflow: &ValidWorkflow, idx: usize, data: &DataContext) -> Option<Result<ControlOutput, String>> {
    let node = workflow.node(idx);
    let id_of = |i: usize| workflow.node(i).id.to_string();
    let result = match (&node.kind, workflow.compiled(idx)) {
        (NodeKind::Start | NodeKind::End, _) => Ok(ControlOutput { output: json!({}), taken: Vec::new() }),
        (NodeKind::IfElse(_), Compiled::IfElse { expr, true_target, false_target }) => {
            expr.evaluate_bool(data).map(|met| {
                let target = if met { *true_target } else { *false_target };
                ControlOutput {
                    output: json!({
                        "expression": expr.source(),
                        "condition_met": met,
                        "next_branch": if met { "true" } else { "false" },
                        "next_node": id_of(target),
                    }),
                    taken: vec![target],
                }
            })
        }
        (NodeKind::Switch(_), Compiled::Switch { on, cases, default }) => switch_value(on, data).map(|value| {
            let text = number::text_of(&value);
            let matched = cases.iter().position(|(m, _)| m.matches(&value, &text));
            let target = matched.map(|k| cases[k].1).or(*default);
            ControlOutput {
                output: json!({"value": text, "matched_case": matched, "next_node": target.map(id_of)}),
                taken: target.into_iter().collect(),
            }
        }),
        (NodeKind::Parallel(config), _) if is_control(&node.kind) => {
            parallel(config, data).map(|output| ControlOutput { output, taken: Vec::new() })
        }
        (NodeKind::Loop(config), _) if config.body_workflow.is_none() => {
            iteration::template_loop(config, data).map(|output| ControlOutput { output, taken: Vec::new() })
        }
        (NodeKind::TryCatch(config), _) => {
            iteration::try_catch(config, data).map(|output| ControlOutput { output, taken: Vec::new() })
        }
        _ => return None,
    };
    Some(result)
}

fn switch_value(on: &SwitchOn, data: &DataContext) -> Result<Value, String> {
    match on {
        SwitchOn::Template(t) => template::render(t, data).map(Value::String),
        SwitchOn::Expr(e) => e.evaluate(data),
    }
}

fn parallel(config: &ParallelConfig, data: &DataContext) -> Result<Value, String> {
    let rendered: Vec<(&str, Result<String, String>)> =
        config.tasks.iter().map(|t| (t.id.as_str(), template::render(&t.expression, data))).collect();
    combine(config.strategy, rendered)
}

/// Combines the outcomes of a Parallel node's tasks, in task order, as its strategy says.
///
/// # Errors
/// `WaitAll` with a failed task; `Race` where every task failed.
pub fn combine(strategy: ParallelStrategy, rendered: Vec<(&str, Result<String, String>)>) -> Result<Value, String> {
    let config_strategy = strategy;
    let mut results = Map::new();
    match config_strategy {
        ParallelStrategy::WaitAll => {
            for (id, r) in rendered {
                let value = r.map_err(|e| format!("task '{id}' failed: {e}"))?;
                results.insert(id.into(), json!({"status": "fulfilled", "value": value}));
            }
        }
        ParallelStrategy::AllSettled => {
            for (id, r) in rendered {
                let entry = match r {
                    Ok(value) => json!({"status": "fulfilled", "value": value}),
                    Err(error) => json!({"status": "rejected", "error": error}),
                };
                results.insert(id.into(), entry);
            }
        }
        ParallelStrategy::Race => {
            let mut errors = Vec::new();
            let winner = rendered.into_iter().find_map(|(id, r)| match r {
                Ok(value) => Some((id, value)),
                Err(e) => {
                    errors.push(format!("task '{id}': {e}"));
                    None
                }
            });
            let (id, value) = winner.ok_or_else(|| format!("every task failed: {}", errors.join("; ")))?;
            results.insert(id.into(), json!({"status": "fulfilled", "value": value}));
            return Ok(json!({"strategy": "Race", "winner": id, "results": results}));
        }
    }
    Ok(json!({"strategy": config_strategy, "results": results}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::data::{DataContext, NodeOutputs};
    use crate::domain::validation::tests::{edge, node, workflow};
    use crate::domain::validation::validate;
    use std::sync::Arc;

    fn data_for(wf: &ValidWorkflow, vars: Value) -> DataContext {
        DataContext {
            variables: Arc::new(vars.as_object().unwrap().clone()),
            outputs: Arc::new(NodeOutputs::new(wf.graph().index.clone())),
            secrets: Arc::default(),
        }
    }

    fn branching(kind: Value) -> ValidWorkflow {
        let nodes = json!([
            node("s", json!({"type": "Start"})),
            node("c", kind),
            node("a", json!({"type": "End"})),
            node("b", json!({"type": "End"}))
        ]);
        validate(workflow(nodes, json!([edge("s", "c"), edge("c", "a"), edge("c", "b")]))).unwrap()
    }

    #[test]
    fn if_else_routes_on_its_condition() {
        let wf = branching(
            json!({"type": "IfElse", "config": {"expression": "score > 0.5", "true_branch": "a", "false_branch": "b"}}),
        );
        let out = evaluate(&wf, 1, &data_for(&wf, json!({"score": 0.9}))).unwrap().unwrap();
        assert_eq!(out.taken, vec![2]);
        assert_eq!(out.output["next_node"], "a");
        assert_eq!(out.output["condition_met"], true);
        let out = evaluate(&wf, 1, &data_for(&wf, json!({"score": 0.1}))).unwrap().unwrap();
        assert_eq!(out.taken, vec![3]);
    }

    #[test]
    fn if_else_with_missing_variable_fails_with_its_name() {
        let wf = branching(
            json!({"type": "IfElse", "config": {"expression": "score > 0.5", "true_branch": "a", "false_branch": "b"}}),
        );
        let err = evaluate(&wf, 1, &data_for(&wf, json!({}))).unwrap().unwrap_err();
        assert!(err.contains("score"), "{err}");
    }

    #[test]
    fn switch_matches_exact_then_regex_then_default() {
        let kind = json!({"type": "Switch", "config": {"switch_on": "{{ status }}", "cases": [
            {"match_value": "ok", "action": "a"}, {"match_value": "regex:^err", "action": "b"}], "default_case": "a"}});
        let wf = branching(kind);
        let run = |status: &str| evaluate(&wf, 1, &data_for(&wf, json!({"status": status}))).unwrap().unwrap();
        assert_eq!(run("ok").taken, vec![2]);
        assert_eq!(run("error: disk").taken, vec![3]);
        let other = run("weird");
        assert_eq!(other.taken, vec![2]);
        assert_eq!(other.output["matched_case"], Value::Null);
    }

    #[test]
    fn switch_on_an_expression_compares_its_text() {
        let kind = json!({"type": "Switch", "config": {"switch_on": "count * 2", "cases": [{"match_value": "4", "action": "b"}]}});
        let wf = branching(kind);
        assert_eq!(evaluate(&wf, 1, &data_for(&wf, json!({"count": 2}))).unwrap().unwrap().taken, vec![3]);
        assert!(evaluate(&wf, 1, &data_for(&wf, json!({"count": 1}))).unwrap().unwrap().taken.is_empty());
    }

    fn switch_on_count(match_value: &str) -> ValidWorkflow {
        branching(json!({"type": "Switch", "config": {"switch_on": "count", "cases": [
            {"match_value": match_value, "action": "a"}], "default_case": "b"}}))
    }

    fn routed(wf: &ValidWorkflow, vars: &str) -> Vec<usize> {
        let vars: Value = serde_json::from_str(vars).unwrap();
        evaluate(wf, 1, &data_for(wf, vars)).unwrap().unwrap().taken
    }

    #[test]
    fn switch_routes_a_number_the_same_however_the_client_spelled_it() {
        let wf = switch_on_count("3");
        for vars in [r#"{"count": 3}"#, r#"{"count": 3.0}"#, r#"{"count": 30e-1}"#] {
            assert_eq!(routed(&wf, vars), vec![2], "{vars}");
        }
        assert_eq!(routed(&wf, r#"{"count": 3.5}"#), vec![3]);
        let out = evaluate(&wf, 1, &data_for(&wf, serde_json::from_str(r#"{"count": 3.0}"#).unwrap())).unwrap();
        assert_eq!(out.unwrap().output["value"], "3");
    }

    #[test]
    fn a_numeric_case_matches_the_same_number_in_any_spelling() {
        let wf = switch_on_count("3.0");
        assert_eq!(routed(&wf, r#"{"count": 3}"#), vec![2]);
        assert_eq!(routed(&wf, r#"{"count": "3"}"#), vec![2], "text spelling the number");
        assert_eq!(routed(&wf, r#"{"count": "03"}"#), vec![3], "not a JSON number: compared as text");
        let wf = switch_on_count("0.5");
        assert_eq!(routed(&wf, r#"{"count": 0.5}"#), vec![2]);
        assert_eq!(routed(&wf, r#"{"count": 5e-1}"#), vec![2]);
    }

    #[test]
    fn a_template_switch_renders_numbers_canonically() {
        let kind = json!({"type": "Switch", "config": {"switch_on": "{{ count * 2 }}", "cases": [
            {"match_value": "6", "action": "a"}], "default_case": "b"}});
        let wf = branching(kind);
        assert_eq!(routed(&wf, r#"{"count": 3.0}"#), vec![2]);
        assert_eq!(routed(&wf, r#"{"count": 3}"#), vec![2]);
    }

    #[test]
    fn parallel_tasks_write_numbers_canonically() {
        let kind = json!({"type": "Parallel", "config": {"strategy": "WaitAll", "tasks": [
            {"id": "t", "expression": "{{ n }}/{{ n / 2 }}"}]}});
        let wf =
            validate(workflow(json!([node("s", json!({"type": "Start"})), node("p", kind)]), json!([edge("s", "p")])))
                .unwrap();
        let out = evaluate(&wf, 1, &data_for(&wf, serde_json::from_str(r#"{"n": 8.0}"#).unwrap())).unwrap().unwrap();
        assert_eq!(out.output["results"]["t"]["value"], "8/4");
    }

    fn parallel_node(strategy: &str) -> ValidWorkflow {
        let kind = json!({"type": "Parallel", "config": {"strategy": strategy, "tasks": [
            {"id": "greet", "expression": "hi {{ name }}"}, {"id": "bad", "expression": "{{ missing }}"}]}});
        validate(workflow(json!([node("s", json!({"type": "Start"})), node("p", kind)]), json!([edge("s", "p")])))
            .unwrap()
    }

    #[test]
    fn parallel_strategies_combine_task_results() {
        let wf = parallel_node("AllSettled");
        let out = evaluate(&wf, 1, &data_for(&wf, json!({"name": "Ada"}))).unwrap().unwrap().output;
        assert_eq!(out["results"]["greet"]["value"], "hi Ada");
        assert_eq!(out["results"]["bad"]["status"], "rejected");
        let wf = parallel_node("WaitAll");
        assert!(evaluate(&wf, 1, &data_for(&wf, json!({"name": "Ada"}))).unwrap().is_err());
        let wf = parallel_node("Race");
        let out = evaluate(&wf, 1, &data_for(&wf, json!({"name": "Ada"}))).unwrap().unwrap().output;
        assert_eq!(out["winner"], "greet");
    }

    #[test]
    fn effectful_kinds_are_not_evaluated_here() {
        let llm = json!({"type": "LLM", "config": {"provider": "openai", "model": "m", "prompt_template": "x"}});
        let wf =
            validate(workflow(json!([node("s", json!({"type": "Start"})), node("l", llm)]), json!([edge("s", "l")])))
                .unwrap();
        assert!(evaluate(&wf, 1, &data_for(&wf, json!({}))).is_none());
        assert!(!is_control(&wf.node(1).kind));
    }
}
