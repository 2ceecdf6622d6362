//! Save-time checks of what templates and expressions read: node outputs (exist, upstream),
//! declared inputs and expression types.

use super::tests::{edge, node, workflow};
use super::*;
use serde_json::{Value, json};

fn llm(id: &str, prompt: &str) -> Value {
    node(id, json!({"type": "LLM", "config": {"provider": "openai", "model": "m", "prompt_template": prompt}}))
}

fn problems_of(wf: Workflow) -> Vec<Problem> {
    validate(wf).map(|_| ()).unwrap_err().problems
}

#[test]
fn a_template_reading_a_node_that_does_not_exist_is_refused_with_its_path() {
    let wf = workflow(
        json!([node("start", json!({"type": "Start"})), llm("answer", "Use {{ nodes.ghost.output.text }}")]),
        json!([edge("start", "answer")]),
    );
    let p = problems_of(wf);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].node_id.as_ref().map(NodeId::as_str), Some("answer"));
    assert_eq!(p[0].path, "workflow.nodes[1].kind.config.prompt_template");
    assert!(p[0].problem.contains("no node 'ghost' exists"), "{}", p[0].problem);
}

#[test]
fn reading_a_sibling_is_refused_whatever_the_order_of_the_edges() {
    let nodes = json!([
        node("start", json!({"type": "Start"})),
        llm("a", "first"),
        llm("b", "after {{ nodes.a.output.response }}"),
    ]);
    for edges in [json!([edge("start", "a"), edge("start", "b")]), json!([edge("start", "b"), edge("start", "a")])] {
        let p = problems_of(workflow(nodes.clone(), edges));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].problem.contains("'a' is not upstream of 'b'"), "{}", p[0].problem);
    }
    let chained = workflow(nodes, json!([edge("start", "a"), edge("a", "b")]));
    assert!(validate(chained).is_ok(), "a is upstream once a -> b exists");
}

#[test]
fn reading_a_node_downstream_or_itself_is_refused() {
    let nodes = json!([
        node("start", json!({"type": "Start"})),
        llm("a", "{{ nodes.b.output.response }}"),
        llm("b", "{{ nodes.b.output.response }}"),
    ]);
    let p = problems_of(workflow(nodes, json!([edge("start", "a"), edge("a", "b")])));
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].problem.contains("'b' is not upstream of 'a'"));
    assert!(p[1].problem.contains("its own output"));
}

#[test]
fn expressions_and_literal_ids_are_checked_too() {
    let uuid = "7d7c1f7e-5b1e-4d3c-9a51-0f3f1c7a0b11";
    let nodes = json!([
        node("start", json!({"type": "Start"})),
        llm(uuid, "hi"),
        node(
            "check",
            json!({"type": "IfElse", "config": {
            "expression": format!("nodes[\"{uuid}\"].output.ok && nodes.ghost.output.ok"),
            "true_branch": "yes", "false_branch": "no"}})
        ),
        llm("yes", "{{ nodes['ghost2'].output }}"),
        node("no", json!({"type": "End"})),
    ]);
    let edges = json!([edge("start", uuid), edge(uuid, "check"), edge("check", "yes"), edge("check", "no")]);
    let messages: Vec<String> = problems_of(workflow(nodes, edges)).into_iter().map(|p| p.problem).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].contains("nodes.ghost,"), "{messages:?}");
    assert!(messages[1].contains("nodes.ghost2,"), "{messages:?}");
}

#[test]
fn nodes_read_without_a_literal_id_are_refused() {
    let wf = workflow(
        json!([node("start", json!({"type": "Start"})), llm("a", "{{ nodes | tojson }}")]),
        json!([edge("start", "a")]),
    );
    assert!(problems_of(wf)[0].problem.contains("without a literal node id"));
}

#[test]
fn a_constant_that_is_not_a_bool_is_no_if_else_condition() {
    for (expression, yields) in [("\"yes\"", "a string"), ("1", "an int"), ("'a' + 'b'", "a string")] {
        let wf = workflow(
            json!([
                node("start", json!({"type": "Start"})),
                node(
                    "check",
                    json!({"type": "IfElse", "config": {
                    "expression": expression, "true_branch": "a", "false_branch": "b"}})
                ),
                node("a", json!({"type": "End"})),
                node("b", json!({"type": "End"})),
            ]),
            json!([edge("start", "check"), edge("check", "a"), edge("check", "b")]),
        );
        let p = problems_of(wf);
        assert_eq!(p[0].path, "workflow.nodes[1].kind.config.expression");
        assert!(p[0].problem.contains(&format!("must yield a bool, but yields {yields}")), "{}", p[0].problem);
    }
}

fn typed(schema: Value, expression: &str, prompt: &str) -> Workflow {
    let mut wf = workflow(
        json!([
            node("start", json!({"type": "Start"})),
            node(
                "check",
                json!({"type": "IfElse", "config": {
                "expression": expression, "true_branch": "a", "false_branch": "b"}})
            ),
            llm("a", prompt),
            node("b", json!({"type": "End"})),
        ]),
        json!([edge("start", "check"), edge("check", "a"), edge("check", "b")]),
    );
    wf.input_schema = Some(schema);
    wf
}

fn id_schema() -> Value {
    json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "n": {"type": "integer"}}})
}

#[test]
fn expressions_are_type_checked_against_declared_inputs() {
    let p = problems_of(typed(id_schema(), "id == 123", "hi"));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].problem.contains("compares a string with an int"), "{}", p[0].problem);
    assert!(validate(typed(id_schema(), "id == '123' && n > 2", "{{ id }} {{ n }}")).is_ok());
}

#[test]
fn with_declared_inputs_templates_and_expressions_read_only_declared_names() {
    let p = problems_of(typed(id_schema(), "idd == 'x'", "{{ user_query }}"));
    let messages: Vec<&str> = p.iter().map(|p| p.problem.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].contains("reads `idd`"));
    assert!(messages[1].contains("reads `user_query`"));
}

#[test]
fn a_broken_input_schema_is_reported_at_its_path() {
    let p = problems_of(typed(json!({"type": "object", "properties": {"n": {"type": 7}}}), "true", "hi"));
    assert!(p.iter().any(|p| p.path.starts_with("workflow.input_schema")), "{p:?}");
    let p = problems_of(typed(json!(["not", "an", "object"]), "true", "hi"));
    assert_eq!(p[0].path, "workflow.input_schema");
}

#[test]
fn a_stored_version_is_restored_without_rules_added_since() {
    let stale = workflow(
        json!([node("start", json!({"type": "Start"})), llm("a", "{{ nodes.ghost.output }}")]),
        json!([edge("start", "a")]),
    );
    assert!(validate(stale.clone()).is_err());
    assert!(restore(stale).is_ok(), "a version saved before the reference rule still loads");
}

#[test]
fn the_input_schema_round_trips_and_is_absent_when_not_declared() {
    let wf = typed(id_schema(), "true", "hi");
    let text = serde_json::to_value(&wf).unwrap();
    assert_eq!(text["input_schema"], id_schema());
    let plain = workflow(json!([node("s", json!({"type": "Start"}))]), json!([]));
    assert!(serde_json::to_value(&plain).unwrap().get("input_schema").is_none());
}
