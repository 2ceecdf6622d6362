//! Code nodes: the seed's runtimes and output shape, JavaScript, errors with positions, save-time
//! compilation, deadlines and cancellation, through the real server and the runner itself.

use crate::{attempt, attempt_with, chain, code, config, harness, node, prepared};
use oxify_api::ports::RunnerError;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn the_seed_catalog_code_node_runs_with_the_seed_output_shape() {
    let h = harness(config()).await;
    let catalog: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../fixtures/node-kinds-catalog.json")).expect("the catalog");
    let mut seed = catalog.into_iter().find(|n| n["kind"]["type"] == "Code").expect("a Code node");
    seed["id"] = json!("seed");
    let run = h.finished(&h.start(chain(vec![seed]), json!({})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(node(&run, "seed")["output"], json!({"runtime": "rust", "output": "answer", "result": 42}));
}

#[tokio::test]
async fn scripts_read_variables_inputs_and_upstream_outputs_in_both_languages() {
    let h = harness(config()).await;
    let js = code(
        "count",
        "javascript",
        "({ words: question.split(' ').length, first: variables.question.split(' ')[0] })",
        &["question"],
    );
    let rhai = code(
        "double",
        "rhai",
        "let n = nodes.count.output.result.words; #{ doubled: n * 2, seed_binding: node_count.result.first, limit: limit }",
        &["limit"],
    );
    let run = h
        .finished(&h.start(chain(vec![js, rhai]), json!({"question": "what is six times seven", "limit": 3})).await)
        .await;
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(node(&run, "count")["output"]["result"], json!({"words": 5, "first": "what"}));
    assert_eq!(
        node(&run, "double")["output"],
        json!({"runtime": "rhai", "output": "out", "result": {"doubled": 10, "seed_binding": "what", "limit": 3}})
    );
}

#[tokio::test]
async fn a_syntax_error_is_refused_at_save_naming_the_node_the_path_and_where() {
    let h = harness(config()).await;
    for (runtime, source) in
        [("rhai", "let x = 1;\nlet = 2;"), ("rust", "let x = 1;\nlet = 2;"), ("javascript", "const x = 1;\nconst = 2;")]
    {
        let (status, body) = h.post("/api/v1/workflows", chain(vec![code("broken", runtime, source, &[])])).await;
        assert_eq!(status, 400, "{runtime}: {body}");
        assert_eq!(body["error"], "ValidationError");
        let problem = &body["details"][0];
        assert_eq!(problem["node_id"], "broken");
        assert_eq!(problem["path"], "workflow.nodes[1].kind.config.code");
        let text = problem["problem"].as_str().expect("a problem");
        assert!(text.contains(&format!("the {runtime} code does not compile: line 2, column ")), "{text}");
    }
}

#[tokio::test]
async fn unknown_runtimes_and_unusable_input_names_are_refused_at_save() {
    let h = harness(config()).await;
    let mut bad = code("c", "python", "1", &["ok", "2bad", "nodes"]);
    let (status, body) = h.post("/api/v1/workflows", chain(vec![bad.clone()])).await;
    assert_eq!(status, 400, "{body}");
    let paths: Vec<&str> = body["details"].as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "workflow.nodes[1].kind.config.inputs[1]",
            "workflow.nodes[1].kind.config.inputs[2]",
            "workflow.nodes[1].kind.config.runtime"
        ]
    );
    assert!(body["details"][2]["problem"].as_str().unwrap().contains("unknown runtime 'python'; expected rhai, rust"));
    bad["kind"]["config"]["runtime"] = json!("javascript");
    bad["kind"]["config"]["code"] = json!("x".repeat(300 * 1024));
    bad["kind"]["config"]["inputs"] = json!([]);
    let (status, body) = h.post("/api/v1/workflows", chain(vec![bad])).await;
    assert_eq!(status, 400);
    assert!(body["details"][0]["problem"].as_str().unwrap().contains("at most 262144 are accepted"), "{body}");
}

#[tokio::test]
async fn a_script_error_fails_the_node_at_once_with_its_line_and_column() {
    let h = harness(config()).await;
    let mut failing = code("c", "rhai", "let a = 1;\nlet b = a * #{};", &[]);
    failing["retry_config"] =
        json!({"max_retries": 3, "initial_delay_ms": 10, "backoff_multiplier": 2.0, "max_delay_ms": 100});
    let run = h.finished(&h.start(chain(vec![failing]), json!({})).await).await;
    assert_eq!(run["state"], "Failed");
    let result = node(&run, "c");
    assert!(
        result["error"].as_str().unwrap().starts_with("script error at line 2, column 11: Function not found"),
        "{result}"
    );
    assert_eq!(result["attempts"], 1, "a script error is not retried");
    let thrown = attempt(&config(), code("c", "javascript", "\n\n  throw new TypeError('bad')", &[]), json!({})).await;
    // QuickJS places an error where it was made: the `TypeError(...)` call.
    assert_eq!(thrown, Err(RunnerError::Permanent("script error at line 3, column 13: TypeError: bad".into())));
}

#[tokio::test]
async fn an_input_that_is_not_a_variable_is_a_permanent_failure() {
    let missing = attempt(&config(), code("c", "rhai", "x", &["x"]), json!({"y": 1})).await;
    assert_eq!(missing, Err(RunnerError::Permanent("input `x` is not a variable of this execution".into())));
}

#[tokio::test]
async fn an_endless_loop_ends_at_the_nodes_timeout_through_the_executor() {
    let h = harness(config()).await;
    for (runtime, source) in [("javascript", "while (true) {}"), ("rhai", "loop {}")] {
        let mut spinning = code("spin", runtime, source, &[]);
        spinning["timeout_config"] = json!({"execution_timeout_ms": 300});
        let started = Instant::now();
        let run = h.finished(&h.start(chain(vec![spinning]), json!({})).await).await;
        assert_eq!(run["state"], "Failed", "{run}");
        assert_eq!(node(&run, "spin")["error"], "timed out after 300 ms", "{runtime}");
        assert!(started.elapsed() < Duration::from_secs(2), "{runtime}: {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn without_a_node_timeout_the_code_deadline_applies_and_the_script_stops_within_100_ms() {
    let mut short = config();
    short.code_timeout_ms = 300;
    for (runtime, source) in [
        ("javascript", "while (true) { try { while (true) {} } catch (e) {} }"),
        ("rhai", "loop { try { loop {} } catch {} }"),
    ] {
        // Up to three tries: on this shared machine a thread may lose the CPU for longer than the
        // bound now and then; a stop that does not work misses every time.
        let mut took = Vec::new();
        for _ in 0..3 {
            let (runner, input) = prepared(&short, code("spin", runtime, source, &[]), json!({}));
            let started = Instant::now();
            let result = runner.run(input, CancellationToken::new()).await;
            took.push(started.elapsed());
            let Err(RunnerError::Permanent(message)) = result else { panic!("{runtime}: {result:?}") };
            assert!(message.starts_with("the script ran past its deadline of 300 ms"), "{message}");
            if took.last().is_some_and(|t| *t < Duration::from_millis(400)) {
                break;
            }
        }
        assert!(took.last().is_some_and(|t| *t < Duration::from_millis(400)), "{runtime}: {took:?}");
    }
}

#[tokio::test]
async fn a_cancelled_script_stops_at_once() {
    for (runtime, source) in [("javascript", "while (true) {}"), ("rhai", "loop {}")] {
        let cancel = CancellationToken::new();
        let call = tokio::spawn(attempt_with(config(), code("spin", runtime, source, &[]), json!({}), cancel.clone()));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!call.is_finished(), "{runtime}: the loop ended by itself");
        let cancelled_at = Instant::now();
        cancel.cancel();
        let result = call.await.expect("no panic");
        assert_eq!(result, Err(RunnerError::Permanent("cancelled".into())), "{runtime}");
        assert!(cancelled_at.elapsed() < Duration::from_millis(100), "{runtime}: {:?}", cancelled_at.elapsed());
    }
}

#[tokio::test]
async fn a_memory_bomb_fails_the_node_naming_the_cap() {
    let mut small = config();
    small.code_memory_mb = 8;
    for (runtime, source) in [
        ("javascript", "const keep = []; while (true) keep.push(new Array(10000).fill(keep.length));"),
        ("rhai", r#"let s = "bomb"; loop { s += s; }"#),
    ] {
        let result = attempt(&small, code("bomb", runtime, source, &[]), json!({})).await;
        let Err(RunnerError::Permanent(message)) = result else { panic!("{runtime}: {result:?}") };
        assert!(message.contains("memory cap of 8388608 bytes"), "{runtime}: {message}");
    }
}
