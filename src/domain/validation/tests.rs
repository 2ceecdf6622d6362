use super::*;
use crate::domain::ids::WorkflowId;
use crate::domain::workflow::WorkflowDraft;
use serde_json::{Value, json};

pub(crate) fn workflow(nodes: Value, edges: Value) -> Workflow {
    let draft: WorkflowDraft =
        serde_json::from_value(json!({"metadata": {"name": "t"}, "nodes": nodes, "edges": edges})).unwrap();
    let now = chrono::Utc::now();
    draft.complete(WorkflowId::generate(), now, now)
}

pub(crate) fn node(id: &str, kind: Value) -> Value {
    json!({"id": id, "name": id.to_uppercase(), "kind": kind})
}

pub(crate) fn edge(from: &str, to: &str) -> Value {
    json!({"from": from, "to": to})
}

fn start(id: &str) -> Value {
    node(id, json!({"type": "Start"}))
}

fn end(id: &str) -> Value {
    node(id, json!({"type": "End"}))
}

fn if_else(id: &str, expression: &str, t: &str, f: &str) -> Value {
    node(id, json!({"type": "IfElse", "config": {"expression": expression, "true_branch": t, "false_branch": f}}))
}

fn problems(nodes: Value, edges: Value) -> Vec<Problem> {
    validate(workflow(nodes, edges)).map(|_| ()).unwrap_err().problems
}

fn messages(nodes: Value, edges: Value) -> Vec<String> {
    problems(nodes, edges).into_iter().map(|p| p.problem).collect()
}

fn assert_valid(nodes: Value, edges: Value) -> ValidWorkflow {
    validate(workflow(nodes, edges)).unwrap_or_else(|e| panic!("expected valid, got {:?}", e.problems))
}

#[test]
fn seed_examples_are_valid() {
    for file in ["start-llm-end.json", "ifelse-branching.json", "start-llm-end-ollama.json"] {
        let text = std::fs::read_to_string(format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let wf: Workflow = serde_json::from_str(&text).unwrap();
        assert!(validate(wf).is_ok(), "{file}");
    }
}

#[test]
fn empty_workflow_is_rejected() {
    assert_eq!(messages(json!([]), json!([])), vec!["Workflow has no nodes"]);
}

#[test]
fn workflow_without_start_node_is_rejected() {
    let m = messages(json!([end("e")]), json!([]));
    assert!(m.contains(&"Workflow has no start node".to_string()), "{m:?}");
}

#[test]
fn start_to_end_is_valid_and_several_starts_are_allowed() {
    assert_valid(json!([start("s"), end("e")]), json!([edge("s", "e")]));
    assert_valid(json!([start("a"), start("b"), end("e")]), json!([edge("a", "e"), edge("b", "e")]));
}

#[test]
fn duplicate_node_ids_are_reported_as_duplicates_not_as_a_cycle() {
    let p = problems(json!([start("s"), end("e"), end("e")]), json!([edge("s", "e")]));
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].path, "workflow.nodes[2].id");
    assert!(p[0].problem.contains("Duplicate node id 'e'"));
}

#[test]
fn malformed_node_ids_are_rejected() {
    let p = problems(json!([start("s"), end("bad id")]), json!([edge("s", "bad id")]));
    assert_eq!(p[0].path, "workflow.nodes[1].id");
}

#[test]
fn edge_to_unknown_node_is_rejected_with_its_path() {
    let p = problems(json!([start("s"), end("e")]), json!([edge("s", "e"), edge("s", "ghost")]));
    assert_eq!(p[0].path, "workflow.edges[1].to");
    assert_eq!(p[0].problem, "Edge references non-existent node: ghost");
}

#[test]
fn edges_into_a_start_or_out_of_an_end_are_rejected() {
    let m = messages(json!([start("s"), start("s2"), end("e")]), json!([edge("s", "s2"), edge("s2", "e")]));
    assert!(m.iter().any(|m| m.contains("Edge into Start node 's2'")), "{m:?}");
    let m = messages(
        json!([
            start("s"),
            end("e"),
            node(
                "x",
                json!({"type": "Parallel", "config": {"strategy": "WaitAll", "tasks": [{"id": "a", "expression": "x"}]}})
            )
        ]),
        json!([edge("s", "e"), edge("e", "x")]),
    );
    assert!(m.iter().any(|m| m.contains("Edge out of End node 'e'")), "{m:?}");
}

#[test]
fn cycle_through_three_nodes_is_rejected_naming_its_nodes() {
    let p = |id: &str| {
        node(
            id,
            json!({"type": "Parallel", "config": {"strategy": "WaitAll", "tasks": [{"id": "t", "expression": "x"}]}}),
        )
    };
    let m = messages(
        json!([start("s"), p("a"), p("b"), p("c"), end("e")]),
        json!([edge("s", "a"), edge("a", "b"), edge("b", "c"), edge("c", "a"), edge("c", "e")]),
    );
    assert!(m.contains(&"Workflow contains a cycle: a -> b -> c -> a".to_string()), "{m:?}");
}

#[test]
fn self_loop_on_end_is_a_cycle() {
    let m = messages(json!([start("s"), end("e")]), json!([edge("s", "e"), edge("e", "e")]));
    assert!(m.iter().any(|m| m == "Workflow contains a cycle: e -> e"), "{m:?}");
}

#[test]
fn node_not_reachable_from_a_start_is_rejected() {
    let m = messages(json!([start("s"), end("e"), end("orphan")]), json!([edge("s", "e")]));
    assert_eq!(m, vec!["Node 'orphan' is not reachable from any Start node"]);
}

#[test]
fn if_else_branch_must_exist_and_be_a_direct_successor() {
    let m = messages(
        json!([start("s"), if_else("c", "true", "yes", "ghost"), end("yes"), end("no")]),
        json!([edge("s", "c"), edge("c", "yes"), edge("s", "no")]),
    );
    assert!(m.contains(&"Conditional node c has invalid branch: ghost".to_string()), "{m:?}");
    let m = messages(
        json!([start("s"), if_else("c", "true", "yes", "no"), end("yes"), end("no")]),
        json!([edge("s", "c"), edge("c", "yes"), edge("s", "no")]),
    );
    assert!(m.iter().any(|m| m.contains("branch no is not a direct successor")), "{m:?}");
}

#[test]
fn if_else_expression_must_compile() {
    let p = problems(
        json!([start("s"), if_else("c", "score >", "yes", "no"), end("yes"), end("no")]),
        json!([edge("s", "c"), edge("c", "yes"), edge("c", "no")]),
    );
    assert_eq!(p[0].path, "workflow.nodes[1].kind.config.expression");
    assert_eq!(p[0].node_id, Some(NodeId::from("c")));
}

fn switch(switch_on: &str, cases: Value, default: Value) -> Value {
    node("sw", json!({"type": "Switch", "config": {"switch_on": switch_on, "cases": cases, "default_case": default}}))
}

fn switch_messages(sw: Value) -> Vec<String> {
    messages(json!([start("s"), sw, end("a"), end("b")]), json!([edge("s", "sw"), edge("sw", "a"), edge("sw", "b")]))
}

#[test]
fn switch_rules_follow_the_seed_and_check_targets() {
    assert!(
        switch_messages(switch(" ", json!([{"match_value": "x", "action": "a"}]), json!(null)))
            .contains(&"Switch node sw has empty switch expression".to_string())
    );
    assert!(
        switch_messages(switch("status", json!([]), json!(null)))
            .contains(&"Switch node sw has no cases defined".to_string())
    );
    assert!(
        switch_messages(switch("status", json!([{"match_value": "", "action": "a"}]), json!("b")))
            .contains(&"Switch node sw case has empty match value".to_string())
    );
    let m = switch_messages(switch("status", json!([{"match_value": "regex:(", "action": "a"}]), json!("b")));
    assert!(m.iter().any(|m| m.contains("invalid regex")), "{m:?}");
    let m = switch_messages(switch("status", json!([{"match_value": "ok", "action": "all good"}]), json!(null)));
    assert!(m.iter().any(|m| m.contains("invalid branch: all good")), "{m:?}");
}

#[test]
fn switch_on_may_be_a_template_or_an_expression() {
    for on in ["{{ status }}", "status + 'x'"] {
        assert_valid(
            json!([
                start("s"),
                switch(on, json!([{"match_value": "ok", "action": "a"}]), json!("b")),
                end("a"),
                end("b")
            ]),
            json!([edge("s", "sw"), edge("sw", "a"), edge("sw", "b")]),
        );
    }
}

#[test]
fn parallel_form_and_approval_rules_follow_the_seed() {
    let one = |n: Value| messages(json!([start("s"), n]), json!([edge("s", "x")]));
    assert_eq!(
        one(node("x", json!({"type": "Parallel", "config": {"strategy": "Race", "tasks": []}}))),
        vec!["Parallel node x has no tasks defined"]
    );
    let dup = json!([{"id": "t", "expression": "a"}, {"id": "t", "expression": " "}]);
    let m = one(node("x", json!({"type": "Parallel", "config": {"strategy": "Race", "tasks": dup}})));
    assert_eq!(m, vec!["Parallel node x task 't' has empty expression", "Parallel node x has duplicate task ID: t"]);
    assert_eq!(
        one(node("x", json!({"type": "Approval", "config": {"message": ""}}))),
        vec!["Approval node x has empty message"]
    );
    assert_eq!(
        one(node("x", json!({"type": "Form", "config": {"title": "t", "fields": []}}))),
        vec!["Form node x has no fields defined"]
    );
}

#[test]
fn notify_urls_and_form_patterns_are_checked_at_save() {
    let one = |n: Value| problems(json!([start("s"), n]), json!([edge("s", "x")]));
    let p = one(node("x", json!({"type": "Approval", "config": {"message": "ok?", "notify_url": "ftp://x"}})));
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].path, "workflow.nodes[1].kind.config.notify_url");
    let fields = json!([{"id": "a", "label": "A", "field_type": "Text", "validation": "(unclosed"}]);
    let form = json!({"type": "Form", "config": {"title": "t", "fields": fields, "notify_url": "https://hooks.example.com/x"}});
    let p = one(node("x", form));
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].path, "workflow.nodes[1].kind.config.fields[0].validation");
    let fine =
        node("x", json!({"type": "Approval", "config": {"message": "ok?", "notify_url": "HTTPS://h.example.com"}}));
    assert_valid(json!([start("s"), fine]), json!([edge("s", "x")]));
}

#[test]
fn waits_and_form_fields_that_could_never_work_are_refused_at_save() {
    let one = |n: Value| problems(json!([start("s"), n]), json!([edge("s", "x")]));
    let paths = |p: Vec<super::Problem>| p.into_iter().map(|p| p.path).collect::<Vec<_>>();
    let approval = json!({"type": "Approval", "config": {"message": "ok?", "timeout_seconds": 9_223_372_036_854_775_807_u64, "quorum": 0}});
    assert_eq!(
        paths(one(node("x", approval))),
        ["workflow.nodes[1].kind.config.timeout_seconds", "workflow.nodes[1].kind.config.quorum"]
    );
    let fields = json!([
        {"id": "a b", "label": "Spaced", "field_type": "Text"},
        {"id": "pick", "label": "Pick", "field_type": "Select", "required": true, "options": []},
        {"id": "n", "label": "N", "field_type": "Number", "default_value": "abc"},
        {"id": "one", "label": "One", "field_type": "Radio", "options": ["x", "y"], "default_value": "z"},
        {"id": "pw", "label": "PW", "field_type": "Password", "default_value": "hunter22hunter22"},
        {"id": "ok", "label": "OK", "field_type": "Select", "options": ["x"], "default_value": "x"}
    ]);
    let form = json!({"type": "Form", "config": {"title": "t", "fields": fields, "timeout_seconds": 31_536_001}});
    let found = one(node("x", form));
    let text = format!("{found:?}");
    assert!(!text.contains("hunter22"), "a problem never repeats a password: {text}");
    assert_eq!(
        paths(found),
        [
            "workflow.nodes[1].kind.config.fields[0].id",
            "workflow.nodes[1].kind.config.fields[1].options",
            "workflow.nodes[1].kind.config.fields[2].default_value",
            "workflow.nodes[1].kind.config.fields[3].default_value",
            "workflow.nodes[1].kind.config.fields[4].default_value",
            "workflow.nodes[1].kind.config.timeout_seconds",
        ]
    );
    let year = json!({"type": "Approval", "config": {"message": "ok?", "timeout_seconds": 31_536_000, "quorum": 2}});
    assert_valid(json!([start("s"), node("x", year)]), json!([edge("s", "x")]));
}

#[test]
fn loop_try_catch_and_sub_workflow_rules_follow_the_seed() {
    let one = |n: Value| messages(json!([start("s"), n]), json!([edge("s", "x")]));
    let each = json!({"variant": "ForEach", "collection_path": "", "item_variable": "i", "body_expression": ""});
    assert_eq!(
        one(node("x", json!({"type": "Loop", "config": {"loop_type": each}}))),
        vec!["Loop node x has empty collection path", "Loop node x has empty body expression"]
    );
    let repeat = json!({"variant": "Repeat", "count": "many", "body_expression": "b"});
    assert!(one(node("x", json!({"type": "Loop", "config": {"loop_type": repeat}})))[0].contains("whole number"));
    let m = one(node("x", json!({"type": "TryCatch", "config": {"try_expression": " "}})));
    assert_eq!(m, vec!["TryCatch node x has empty try_expression"]);
    let m = one(node("x", json!({"type": "SubWorkflow", "config": {"workflow_path": ""}})));
    assert_eq!(m, vec!["SubWorkflow node x has empty workflow_path"]);
}

#[test]
fn llm_templates_must_parse_and_settings_be_in_range() {
    let llm = json!({"type": "LLM", "config": {"provider": "openai", "model": "m", "prompt_template": "Hi {{ name", "temperature": 3.0}});
    let p = problems(json!([start("s"), node("x", llm)]), json!([edge("s", "x")]));
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[0].path, "workflow.nodes[1].kind.config.prompt_template");
    assert_eq!(p[1].path, "workflow.nodes[1].kind.config.temperature");
}

#[test]
fn retry_and_timeout_settings_must_be_sane() {
    let mut n = node("x", json!({"type": "Approval", "config": {"message": "ok?"}}));
    n["retry_config"] =
        json!({"max_retries": 1000, "initial_delay_ms": 10, "backoff_multiplier": 0.5, "max_delay_ms": 1});
    n["timeout_config"] = json!({"execution_timeout_ms": 0});
    let p = problems(json!([start("s"), n]), json!([edge("s", "x")]));
    let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "workflow.nodes[1].retry_config.max_retries",
            "workflow.nodes[1].retry_config.backoff_multiplier",
            "workflow.nodes[1].retry_config.initial_delay_ms",
            "workflow.nodes[1].timeout_config.execution_timeout_ms"
        ]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let p = problems(
        json!([end("e"), if_else("c", "((", "e", "ghost"), end("e")]),
        json!([edge("c", "e"), edge("x", "e")]),
    );
    // no start, duplicate id, bad edge, unreachable nodes, bad expression, bad branch
    assert!(p.len() >= 5, "{p:?}");
}

#[test]
fn valid_workflow_exposes_routing_and_order() {
    let v = assert_valid(
        json!([start("s"), if_else("c", "x > 1", "yes", "no"), end("yes"), end("no")]),
        json!([edge("s", "c"), edge("c", "yes"), edge("c", "no")]),
    );
    assert_eq!(v.branch_targets(1), &[2, 3]);
    assert_eq!(v.topological_order(), &[0, 1, 2, 3]);
    assert!(matches!(v.compiled(1), crate::domain::valid::Compiled::IfElse { true_target: 2, false_target: 3, .. }));
}
