use super::*;
use crate::domain::validation::tests::{edge, node, workflow};
use crate::domain::validation::validate;
use serde_json::{Value, json};

fn plain(id: &str) -> Value {
    node(id, json!({"type": "Parallel", "config": {"strategy": "WaitAll", "tasks": [{"id": "t", "expression": "x"}]}}))
}

fn valid(nodes: Value, edges: Value) -> ValidWorkflow {
    validate(workflow(nodes, edges)).unwrap()
}

fn idx(wf: &ValidWorkflow, id: &str) -> usize {
    wf.index_of(&id.into()).unwrap()
}

/// Runs every ready node to success (routing branch nodes to `routes`), returning the run order.
fn run_all(wf: &ValidWorkflow, plan: &mut Plan, routes: &[(&str, &str)]) -> Vec<String> {
    let mut order = Vec::new();
    while let Some(i) = plan.next_ready() {
        plan.start(i).unwrap();
        let id = wf.node(i).id.to_string();
        let taken: Vec<usize> = routes.iter().filter(|(from, _)| *from == id).map(|(_, to)| idx(wf, to)).collect();
        plan.succeed(wf, i, &taken).unwrap();
        order.push(id);
    }
    order
}

fn start(id: &str) -> Value {
    node(id, json!({"type": "Start"}))
}

fn end(id: &str) -> Value {
    node(id, json!({"type": "End"}))
}

#[test]
fn chain_runs_one_node_at_a_time_in_order() {
    let wf = valid(
        json!([start("s"), plain("a"), plain("b"), end("e")]),
        json!([edge("s", "a"), edge("a", "b"), edge("b", "e")]),
    );
    let mut plan = Plan::new(&wf);
    let s = plan.next_ready().unwrap();
    assert_eq!(plan.next_ready(), None);
    plan.start(s).unwrap();
    assert_eq!(plan.next_ready(), None, "a waits for s");
    plan.succeed(&wf, s, &[]).unwrap();
    assert_eq!(plan.next_ready(), Some(idx(&wf, "a")));
    let mut plan = Plan::new(&wf);
    assert_eq!(run_all(&wf, &mut plan, &[]), ["s", "a", "b", "e"]);
    assert!(plan.is_finished());
}

#[test]
fn diamond_join_waits_for_both_branches() {
    let wf = valid(
        json!([start("s"), plain("a"), plain("b"), end("e")]),
        json!([edge("s", "a"), edge("s", "b"), edge("a", "e"), edge("b", "e")]),
    );
    let mut plan = Plan::new(&wf);
    let s = plan.next_ready().unwrap();
    plan.start(s).unwrap();
    plan.succeed(&wf, s, &[]).unwrap();
    let (a, b) = (plan.next_ready().unwrap(), plan.next_ready().unwrap());
    assert_eq!((a, b), (idx(&wf, "a"), idx(&wf, "b")), "both branches ready at once");
    plan.start(a).unwrap();
    plan.start(b).unwrap();
    plan.succeed(&wf, a, &[]).unwrap();
    assert_eq!(plan.next_ready(), None, "join waits for b");
    plan.succeed(&wf, b, &[]).unwrap();
    assert_eq!(plan.next_ready(), Some(idx(&wf, "e")));
}

#[test]
fn fan_out_fan_in_readies_all_branches_then_the_join() {
    let n = 50;
    let mut nodes = vec![start("s"), end("e")];
    let mut edges = Vec::new();
    for i in 0..n {
        let id = format!("w{i}");
        nodes.push(plain(&id));
        edges.push(edge("s", &id));
        edges.push(edge(&id, "e"));
    }
    let wf = valid(Value::Array(nodes), Value::Array(edges));
    let mut plan = Plan::new(&wf);
    let s = plan.next_ready().unwrap();
    plan.start(s).unwrap();
    plan.succeed(&wf, s, &[]).unwrap();
    let workers: Vec<usize> = std::iter::from_fn(|| plan.next_ready()).collect();
    assert_eq!(workers.len(), n);
    for &w in &workers {
        plan.start(w).unwrap();
    }
    for &w in &workers {
        assert_eq!(plan.next_ready(), None);
        plan.succeed(&wf, w, &[]).unwrap();
    }
    assert_eq!(plan.next_ready(), Some(idx(&wf, "e")));
}

fn if_else_workflow() -> ValidWorkflow {
    let check =
        node("c", json!({"type": "IfElse", "config": {"expression": "x", "true_branch": "yes", "false_branch": "no"}}));
    valid(
        json!([start("s"), check, plain("yes"), plain("no"), plain("after_no"), end("e")]),
        json!([
            edge("s", "c"),
            edge("c", "yes"),
            edge("c", "no"),
            edge("no", "after_no"),
            edge("yes", "e"),
            edge("after_no", "e")
        ]),
    )
}

#[test]
fn branch_not_taken_is_skipped_with_its_descendants() {
    let wf = if_else_workflow();
    let mut plan = Plan::new(&wf);
    let order = run_all(&wf, &mut plan, &[("c", "yes")]);
    assert_eq!(order, ["s", "c", "yes", "e"]);
    let skipped: Vec<&str> = plan.take_skipped().into_iter().map(|i| wf.node(i).id.as_str()).collect();
    assert_eq!(skipped, ["no", "after_no"]);
    assert!(plan.is_finished());
}

#[test]
fn join_waits_only_for_branches_still_alive() {
    let wf = if_else_workflow();
    let mut plan = Plan::new(&wf);
    let order = run_all(&wf, &mut plan, &[("c", "no")]);
    assert_eq!(order, ["s", "c", "no", "after_no", "e"], "e runs although yes was skipped");
    assert_eq!(plan.status(idx(&wf, "yes")), NodeStatus::Skipped);
}

#[test]
fn skipped_branch_node_still_runs_when_reachable_another_way() {
    let check =
        node("c", json!({"type": "IfElse", "config": {"expression": "x", "true_branch": "yes", "false_branch": "no"}}));
    let wf = valid(
        json!([start("s"), check, plain("yes"), plain("no"), end("e")]),
        json!([edge("s", "c"), edge("c", "yes"), edge("c", "no"), edge("s", "no"), edge("yes", "e"), edge("no", "e")]),
    );
    let mut plan = Plan::new(&wf);
    let order = run_all(&wf, &mut plan, &[("c", "yes")]);
    assert!(order.contains(&"no".to_string()), "no has a live edge from s: {order:?}");
}

#[test]
fn switch_routes_to_one_case_and_skips_the_others() {
    let sw = node(
        "sw",
        json!({"type": "Switch", "config": {"switch_on": "v", "cases": [{"match_value": "a", "action": "a"}, {"match_value": "b", "action": "b"}], "default_case": "d"}}),
    );
    let wf = valid(
        json!([start("s"), sw, plain("a"), plain("b"), plain("d"), end("e")]),
        json!([
            edge("s", "sw"),
            edge("sw", "a"),
            edge("sw", "b"),
            edge("sw", "d"),
            edge("a", "e"),
            edge("b", "e"),
            edge("d", "e")
        ]),
    );
    let mut plan = Plan::new(&wf);
    assert_eq!(run_all(&wf, &mut plan, &[("sw", "d")]), ["s", "sw", "d", "e"]);
    let mut plan = Plan::new(&wf);
    assert_eq!(run_all(&wf, &mut plan, &[]), ["s", "sw"], "no case taken: everything after is skipped");
    assert!(plan.is_finished());
}

#[test]
fn timed_out_node_skipped_skips_what_only_it_leads_to() {
    let wf = valid(
        json!([start("s"), plain("a"), plain("b"), end("e")]),
        json!([edge("s", "a"), edge("a", "b"), edge("b", "e")]),
    );
    let mut plan = Plan::new(&wf);
    let s = plan.next_ready().unwrap();
    plan.start(s).unwrap();
    plan.succeed(&wf, s, &[]).unwrap();
    let a = plan.next_ready().unwrap();
    plan.start(a).unwrap();
    plan.skip(&wf, a).unwrap();
    assert_eq!(plan.take_skipped().len(), 2, "b and e, not a itself");
    assert!(plan.is_finished());
}

#[test]
fn illegal_moves_are_refused() {
    let wf = valid(json!([start("s"), end("e")]), json!([edge("s", "e")]));
    let mut plan = Plan::new(&wf);
    let e = idx(&wf, "e");
    assert!(plan.start(e).is_err(), "e is not ready");
    let s = plan.next_ready().unwrap();
    assert!(plan.succeed(&wf, s, &[]).is_err(), "s never started");
    plan.start(s).unwrap();
    plan.fail(s).unwrap();
    assert!(plan.succeed(&wf, s, &[]).is_err(), "s already failed");
}

#[test]
fn interrupted_node_is_requeued_for_a_new_attempt() {
    let wf = valid(json!([start("s"), end("e")]), json!([edge("s", "e")]));
    let mut plan = Plan::new(&wf);
    let s = plan.next_ready().unwrap();
    plan.start(s).unwrap();
    plan.requeue(s).unwrap();
    assert_eq!(plan.next_ready(), Some(s));
    assert_eq!(plan.running().count(), 0);
}
