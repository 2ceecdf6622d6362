//! Property: the order nodes and edges are listed in cannot change whether a workflow is valid,
//! nor any run's outcome. Random valid workflows (branching, joins, runner nodes running
//! concurrently, templates reading upstream outputs) are saved and run as written and with their
//! nodes and edges shuffled; the final state and every node's status and output must agree.

use super::support::{app, code, create, edge, execute, finished, node, start, workflow};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A random DAG: node 0 is the Start, every other node has one or two parents among earlier
/// nodes, so every node is reachable and there is no cycle.
struct Shape {
    parents: Vec<Vec<usize>>,
    children: Vec<Vec<usize>>,
}

fn shape(rng: &mut fastrand::Rng, n: usize) -> Shape {
    let mut parents = vec![Vec::new(); n];
    let mut children = vec![Vec::new(); n];
    for (i, mine) in parents.iter_mut().enumerate().skip(1) {
        let count = if i > 1 && rng.bool() { 2 } else { 1 };
        while mine.len() < count {
            let p = rng.usize(0..i);
            if !mine.contains(&p) {
                mine.push(p);
                children[p].push(i);
            }
        }
    }
    Shape { parents, children }
}

fn id(i: usize) -> String {
    format!("n{i}")
}

/// A template that reads one parent: guarded when the node has several (one may be skipped).
fn read_parent(shape: &Shape, i: usize, rng: &mut fastrand::Rng) -> String {
    let p = id(shape.parents[i][rng.usize(0..shape.parents[i].len())]);
    if shape.parents[i].len() == 1 {
        format!("{{{{ nodes.{p}.output | tojson }}}}")
    } else {
        format!("{{{{ nodes.{p}.output | tojson if nodes.{p} is defined else 'skipped' }}}}")
    }
}

fn build(seed: u64) -> (Value, Value) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let n = rng.usize(3..14);
    let shape = shape(&mut rng, n);
    let mut nodes = vec![start(&id(0))];
    for i in 1..n {
        let kids = &shape.children[i];
        let text = format!("{} score={{{{ score }}}}", read_parent(&shape, i, &mut rng));
        let kind = match (rng.u8(0..4), kids.len()) {
            (0, 2..) => json!({"type": "IfElse", "config": {
                "expression": format!("score > {}", rng.i32(0..100)),
                "true_branch": id(kids[0]), "false_branch": id(kids[1])}}),
            (1, 2..) => json!({"type": "Switch", "config": {"switch_on": "tier", "cases": [
                {"match_value": "gold", "action": id(kids[0])}, {"match_value": "silver", "action": id(kids[1])}]}}),
            (2, _) => {
                nodes.push(code(&id(i), &format!("echo {text}")));
                continue;
            }
            (_, 0) if rng.bool() => json!({"type": "End"}),
            _ => {
                json!({"type": "Parallel", "config": {"strategy": "WaitAll", "tasks": [{"id": "t", "expression": text}]}})
            }
        };
        nodes.push(node(&id(i), kind));
    }
    let edges: Vec<Value> = (1..n).flat_map(|i| shape.parents[i].iter().map(move |&p| edge(&id(p), &id(i)))).collect();
    let variables = json!({"score": rng.i32(0..100), "tier": if rng.bool() { "gold" } else { "silver" }});
    (workflow(Value::Array(nodes), Value::Array(edges)), variables)
}

fn shuffled(body: &Value, seed: u64) -> Value {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut body = body.clone();
    for list in ["nodes", "edges"] {
        if let Some(items) = body["workflow"][list].as_array_mut() {
            rng.shuffle(items);
        }
    }
    body
}

/// State, then every node's status and output, by node id.
fn outcome(execution: &Value) -> (Value, BTreeMap<String, (Value, Value)>) {
    let nodes = execution["node_results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| (r["node_id"].as_str().unwrap_or_default().to_owned(), (r["status"].clone(), r["output"].clone())))
        .collect();
    (execution["state"].clone(), nodes)
}

async fn run(body: &Value, variables: &Value) -> (Value, BTreeMap<String, (Value, Value)>) {
    let app = app();
    let workflow_id = create(&app, body.clone()).await;
    let execution_id = execute(&app, &workflow_id, variables.clone()).await;
    outcome(&finished(&app, &execution_id).await)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn shuffling_nodes_and_edges_changes_no_outcome(seed in any::<u64>()) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (body, variables) = build(seed);
        let (as_written, reordered) = runtime.block_on(async {
            (run(&body, &variables).await, run(&shuffled(&body, seed), &variables).await)
        });
        prop_assert_eq!(&as_written.0, &json!("Completed"), "{}", body);
        prop_assert_eq!(as_written, reordered);
    }

    #[test]
    fn shuffling_nodes_and_edges_changes_no_validation_verdict(seed in any::<u64>()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (mut body, _) = build(seed);
        // Make one node read a node that is not upstream of it (the last node never is).
        let nodes = body["workflow"]["nodes"].as_array_mut().unwrap();
        let last = nodes.len() - 1;
        nodes[1]["kind"] = json!({"type": "Parallel", "config": {"strategy": "WaitAll", "tasks": [
            {"id": "t", "expression": format!("{{{{ nodes.n{last}.output }}}}")}]}});
        let verdict = |body: Value| runtime.block_on(async move {
            let reply = super::support::post(&app(), "/api/v1/workflows", body).await;
            let mut problems: Vec<(String, String)> = reply.body["details"].as_array().into_iter().flatten()
                .map(|p| (p["node_id"].to_string(), p["problem"].to_string()))
                .collect();
            problems.sort();
            (reply.status, problems)
        });
        let as_written = verdict(body.clone());
        prop_assert_eq!(as_written.0.as_u16(), 400);
        prop_assert_eq!(as_written, verdict(shuffled(&body, seed)));
    }
}
