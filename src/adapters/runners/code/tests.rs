//! The sandbox, engine by engine: results, errors with positions, and every limit.

use super::js_engine::JsScripts;
use super::limits::{CodeLimits, Stop};
use super::rhai_engine::RhaiScripts;
use super::script::{ScriptData, ScriptEngine, ScriptError};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn data() -> ScriptData {
    let Value::Object(variables) = json!({"question": "six times seven", "n": 6}) else { unreachable!() };
    ScriptData {
        variables: Arc::new(variables),
        secrets: Arc::default(),
        outputs: vec![("fetch-docs".into(), Arc::new(json!({"text": "doc", "count": 7})))],
        inputs: vec![("n".into(), json!(6))],
    }
}

fn limits() -> CodeLimits {
    CodeLimits { memory_bytes: 16 * 1024 * 1024, ..CodeLimits::default() }
}

fn run(engine: &dyn ScriptEngine, code: &str) -> Result<Value, ScriptError> {
    engine.run(code, &data(), &limits(), &Stop::after(Duration::from_secs(10)))
}

/// How soon after its deadline a script must have stopped.
const STOP_BOUND: Duration = Duration::from_millis(100);

/// Runs `code` with a deadline of `deadline` and checks it stops within [`STOP_BOUND`] of it.
/// On this shared 2-core machine a thread can lose the CPU for longer than the bound, so the
/// run is tried up to three times: a broken stop misses every time, a starved thread rarely.
fn stops_in_time(name: &str, engine: &dyn ScriptEngine, code: &str, deadline: Duration) {
    let mut late = Vec::new();
    for _ in 0..3 {
        let stop = Stop::after(deadline);
        let started = Instant::now();
        engine.run(code, &data(), &limits(), &stop).expect_err("the script is stopped");
        late.push(started.elapsed().saturating_sub(deadline));
        if late.last().is_some_and(|l| *l < STOP_BOUND) {
            return;
        }
    }
    panic!("{name}: stopped {late:?} after its deadline");
}

#[test]
fn scripts_see_variables_inputs_and_node_outputs_and_return_json() {
    let rhai = RhaiScripts::new();
    let result = run(
        &rhai,
        r#"let x = n * 7; #{ answer: x, q: variables.question, doc: nodes["fetch-docs"].output.text, seed: node_fetch_docs.count, list: [1, 2.5, true, ()] }"#,
    );
    assert_eq!(
        result.unwrap(),
        json!({"answer": 42, "q": "six times seven", "doc": "doc", "seed": 7, "list": [1, 2.5, true, null]})
    );
    let js = run(
        &JsScripts,
        r#"const x = n * 7; ({ answer: x, q: variables.question, doc: nodes["fetch-docs"].output.text, list: [1, 2.5, true, null] })"#,
    );
    assert_eq!(js.unwrap(), json!({"answer": 42, "q": "six times seven", "doc": "doc", "list": [1, 2.5, true, null]}));
    assert_eq!(run(&JsScripts, "let y = 1;").unwrap(), Value::Null, "a script ending in a statement returns null");
    assert_eq!(run(&rhai, "let x = 40; x + 2").unwrap(), json!(42), "the seed catalog's script");
}

#[test]
fn errors_say_where_they_happened() {
    let rhai = RhaiScripts::new();
    let e = run(&rhai, "let a = 1;\nlet b = a * #{};").unwrap_err();
    assert_eq!((e.line, e.column), (Some(2), Some(11)), "{e}");
    assert!(e.message.contains("Function not found"), "{e}");
    let e = run(&JsScripts, "const a = 1;\n  a.b.c;").unwrap_err();
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.column.is_some(), "{e}");
    assert!(e.message.starts_with("TypeError"), "{e}");
    let e = run(&JsScripts, "throw new Error('nope')").unwrap_err();
    assert_eq!((e.message.as_str(), e.line), ("Error: nope", Some(1)));
}

#[test]
fn syntax_errors_are_found_without_running_anything() {
    for (name, engine, code) in [
        ("rhai", &RhaiScripts::new() as &dyn ScriptEngine, "let x = 1;\nlet = 2;"),
        ("javascript", &JsScripts, "let x = 1;\nlet = 2;"),
    ] {
        let e = engine.check(code, &limits()).unwrap_err();
        assert_eq!(e.line, Some(2), "{name}: {e}");
        assert!(e.column.is_some(), "{name}: {e}");
    }
    // Compiling does not run: an endless loop compiles at once.
    let started = Instant::now();
    RhaiScripts::new().check("loop {}", &limits()).unwrap();
    JsScripts.check("while (true) {}", &limits()).unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn an_endless_loop_stops_within_100_ms_of_its_deadline() {
    let rhai = RhaiScripts::new();
    for (name, engine, code) in
        [("rhai", &rhai as &dyn ScriptEngine, "loop {}"), ("javascript", &JsScripts, "while (true) {}")]
    {
        stops_in_time(name, engine, code, Duration::from_millis(300));
    }
}

#[test]
fn a_loop_that_catches_every_error_still_stops() {
    let rhai = RhaiScripts::new();
    let rhai_code = "loop { try { loop { let x = 1; } } catch (e) { } }";
    let js_code = "while (true) { try { while (true) {} } catch (e) {} finally { } }";
    for (name, engine, code) in [("rhai", &rhai as &dyn ScriptEngine, rhai_code), ("javascript", &JsScripts, js_code)] {
        stops_in_time(name, engine, code, Duration::from_millis(300));
    }
}

#[test]
fn an_allocation_bomb_hits_the_memory_cap() {
    let rhai = RhaiScripts::new();
    for (name, engine, code) in [
        ("rhai string", &rhai as &dyn ScriptEngine, r#"let s = "x"; loop { s += s; }"#),
        ("rhai array", &rhai, "let a = [1, 2, 3]; loop { a += a; }"),
        ("rhai map", &rhai, "let m = #{ a: 1 }; loop { m = #{ x: m, y: m }; }"),
        ("rhai nested", &rhai, "let a = [1]; loop { a = [a, a]; }"),
        (
            "javascript string",
            &JsScripts,
            r#"let n = 1; const keep = []; while (true) { keep.push("x".repeat(n)); n *= 2; }"#,
        ),
        ("javascript array", &JsScripts, "const a = []; while (true) { a.push(new Array(1000).fill(1)); }"),
    ] {
        let started = Instant::now();
        let e = engine.run(code, &data(), &limits(), &Stop::after(Duration::from_secs(20))).unwrap_err();
        assert!(e.message.contains("memory cap"), "{name}: {e}");
        assert!(started.elapsed() < Duration::from_secs(10), "{name}: the cap, not the deadline, stopped it");
    }
}

#[test]
fn a_bomb_that_catches_out_of_memory_still_stops_at_its_deadline() {
    let code = "const keep = []; while (true) { try { keep.push(new Array(100000).fill(keep.length)); } catch (e) {} }";
    stops_in_time("javascript", &JsScripts, code, Duration::from_millis(500));
}

#[test]
fn runaway_recursion_is_stopped() {
    let rhai = RhaiScripts::new();
    let e = run(&rhai, "fn f(n) { f(n + 1) } f(0)").unwrap_err();
    assert!(e.message.contains("nested deeper than 64"), "{e}");
    let e = run(&JsScripts, "function f(n) { return f(n + 1) } f(0)").unwrap_err();
    assert!(e.message.contains("nested too deep"), "{e}");
    // Caught at every level (which doubles the work at each), it ends at its deadline.
    let code = "function f(n) { try { return f(n + 1) } catch (e) { return f(n + 1) } } f(0)";
    stops_in_time("javascript", &JsScripts, code, Duration::from_millis(300));
}

#[test]
fn the_operation_limit_stops_long_work_before_the_deadline() {
    let small = CodeLimits { rhai_max_operations: 100_000, js_max_operations: 100_000, ..limits() };
    let stop = Stop::after(Duration::from_secs(30));
    let e = RhaiScripts::new().run("let i = 0; loop { i += 1; }", &data(), &small, &stop).unwrap_err();
    assert!(e.message.contains("more than 100000 operations"), "{e}");
    let e = JsScripts.run("let i = 0; while (true) { i++ }", &data(), &small, &stop).unwrap_err();
    assert!(e.message.contains("more than 100000 operations"), "{e}");
}

#[test]
fn there_is_no_file_network_process_or_clock_access() {
    let rhai = RhaiScripts::new();
    for code in [r#"import "/etc/passwd" as p; p"#, r#"eval("40 + 2")"#, "timestamp()", "sleep(5.0)", "sleep(5)"] {
        let started = Instant::now();
        assert!(run(&rhai, code).is_err(), "rhai ran {code}");
        assert!(started.elapsed() < Duration::from_secs(2), "{code}");
    }
    let js = run(
        &JsScripts,
        "[typeof require, typeof process, typeof fetch, typeof XMLHttpRequest, typeof Date, typeof performance, typeof setTimeout, typeof std, typeof os, typeof Deno]",
    );
    assert_eq!(js.unwrap(), Value::from(vec!["undefined"; 10]));
    assert!(run(&JsScripts, r#"import * as os from "os"; os"#).is_err(), "a static import");
    // A dynamic import is a promise no one settles: nothing is loaded.
    assert_eq!(run(&JsScripts, r#"import("/etc/passwd")"#).unwrap(), json!({}));
    assert_eq!(run(&JsScripts, "(async () => 1)()").unwrap(), json!({}));
}

#[test]
fn each_run_starts_clean() {
    run(&JsScripts, "globalThis.leak = 1; Object.prototype.polluted = true").unwrap();
    assert_eq!(run(&JsScripts, "[typeof leak, ({}).polluted === undefined]").unwrap(), json!(["undefined", true]));
}

#[test]
fn results_without_json_are_errors_not_panics() {
    let e = run(&JsScripts, "const a = {}; a.self = a; a").unwrap_err();
    assert!(e.message.contains("cannot be turned into JSON"), "{e}");
    assert!(run(&JsScripts, "10n").is_err());
    assert_eq!(run(&RhaiScripts::new(), "()").unwrap(), Value::Null);
}

#[test]
fn a_run_stopped_before_it_starts_or_without_room_to_start_fails_cleanly() {
    let stopped = Stop::after(Duration::from_secs(10));
    stopped.abandon();
    let e = JsScripts.run("1", &data(), &limits(), &stopped).unwrap_err();
    assert_eq!(e.message, "the script was stopped before it started");
    let tiny = CodeLimits { memory_bytes: 1, ..limits() };
    let e = JsScripts.run("1", &data(), &tiny, &Stop::after(Duration::from_secs(10))).unwrap_err();
    assert!(!e.message.is_empty());
}
