//! JavaScript scripts through QuickJS (rquickjs): a fresh runtime per run, on the blocking thread
//! that runs it (a QuickJS runtime cannot move between threads), with a heap cap (kept by
//! [`CappedAllocator`], which also refuses memory to a stopped script), a native stack cap, and an
//! interrupt handler that stops the script at its stop signal or its operation limit (QuickJS
//! raises an error no `catch` can take). The global object has the language and its standard
//! objects, and nothing else: no `Date` or `performance` (the clock), no timers, no module
//! loader, no file or network access.

use super::js_allocator::{Budget, CappedAllocator};
use super::limits::{CodeLimits, JS_OPERATIONS_PER_POLL, Stop};
use super::script::{ScriptData, ScriptEngine, ScriptError};
use rquickjs::context::EvalOptions;
use rquickjs::context::intrinsic::{
    DOMException, Eval, Json, MapSet, Promise, Proxy, RegExp, RegExpCompiler, TypedArrays, WeakRef,
};
use rquickjs::{Context, Ctx, Runtime, qjs};
use serde_json::Value;
use std::cell::Cell;
use std::ffi::CString;
use std::rc::Rc;
use std::sync::LazyLock;

/// What a script's global object offers beyond the base objects: all of QuickJS's intrinsics
/// but `Date` and `performance`, the clock. (Leaving out others is not safe: QuickJS itself
/// reaches for `Promise` in `import()` and async functions, and for `DOMException` in `atob`,
/// and a missing one aborts the process.) Promises are never settled: no job queue runs.
type Intrinsics = (Eval, RegExpCompiler, RegExp, Json, MapSet, TypedArrays, Proxy, Promise, WeakRef, DOMException);

/// The file name errors name, and so where line and column are read from.
const FILE: &str = "script";

/// Runs JavaScript scripts.
#[derive(Default)]
pub struct JsScripts;

impl ScriptEngine for JsScripts {
    fn check(&self, code: &str, limits: &CodeLimits) -> Result<(), ScriptError> {
        let runtime = runtime(limits)?;
        let context = Context::custom::<Intrinsics>(&runtime).map_err(setup)?;
        context.with(|ctx| compile_only(&ctx, code))
    }

    fn run(&self, code: &str, data: &ScriptData, limits: &CodeLimits, stop: &Stop) -> Result<Value, ScriptError> {
        if stop.reached() {
            return Err(ScriptError::new("the script was stopped before it started"));
        }
        let budget = Budget::new(limits.memory_bytes, stop.clone());
        let runtime = Runtime::new_with_alloc(CappedAllocator::new(budget.clone())).map_err(setup)?;
        budget.arm();
        runtime.set_max_stack_size(limits.js_stack_bytes);
        let too_many_operations = Rc::new(Cell::new(false));
        let max_polls = limits.js_max_operations / JS_OPERATIONS_PER_POLL;
        let (mut polls, flag, stop) = (0_u64, too_many_operations.clone(), stop.clone());
        runtime.set_interrupt_handler(Some(Box::new(move || {
            polls += 1;
            let interrupt = if polls > max_polls {
                flag.set(true);
                true
            } else {
                stop.reached()
            };
            if interrupt {
                // The uncatchable error about to be thrown needs memory (see js_allocator).
                budget.grant();
            }
            interrupt
        })));
        let context = Context::custom::<Intrinsics>(&runtime).map_err(setup)?;
        context.with(|ctx| {
            let globals = ctx.globals();
            let give = |name: &str, value: &Value| {
                let parsed = ctx.json_parse(value.to_string()).map_err(|e| caught(&ctx, e, limits))?;
                globals.set(name, parsed).map_err(|e| caught(&ctx, e, limits))
            };
            give("variables", &Value::Object(data.variables.as_ref().clone()))?;
            give("nodes", &data.nodes())?;
            give("secrets", &Value::Object(data.secrets.as_ref().clone()))?;
            for (name, value) in &data.inputs {
                give(name, value)?;
            }
            let mut options = EvalOptions::default();
            options.filename = Some(FILE.to_owned());
            let result = ctx.eval_with_options::<rquickjs::Value, _>(code, options);
            let result = result.map_err(|e| {
                if too_many_operations.get() {
                    ScriptError::new(format!("the script ran more than {} operations", limits.js_max_operations))
                } else {
                    caught(&ctx, e, limits)
                }
            })?;
            let json = ctx.json_stringify(result).map_err(|e| {
                let mut e = caught(&ctx, e, limits);
                e.message = format!("the script's result cannot be turned into JSON: {}", e.message);
                e
            })?;
            match json {
                // `undefined` (a script ending in a statement) and functions have no JSON.
                None => Ok(Value::Null),
                Some(text) => {
                    let text = text.to_string().map_err(|e| ScriptError::new(e.to_string()))?;
                    serde_json::from_str(&text)
                        .map_err(|e| ScriptError::new(format!("the script's result is not JSON: {e}")))
                }
            }
        })
    }
}

/// A runtime with the memory and stack caps, for compiling.
fn runtime(limits: &CodeLimits) -> Result<Runtime, ScriptError> {
    let runtime = Runtime::new().map_err(setup)?;
    runtime.set_memory_limit(limits.memory_bytes);
    runtime.set_max_stack_size(limits.js_stack_bytes);
    Ok(runtime)
}

fn setup(e: rquickjs::Error) -> ScriptError {
    ScriptError::new(format!("the JavaScript runtime could not start: {e}"))
}

/// Compiles `code` as a strict global script without running it.
fn compile_only(ctx: &Ctx<'_>, code: &str) -> Result<(), ScriptError> {
    let source = CString::new(code).map_err(|_| ScriptError::new("the script contains a NUL character"))?;
    static FILE_C: LazyLock<CString> = LazyLock::new(|| CString::new(FILE).unwrap_or_default());
    let flags = qjs::JS_EVAL_TYPE_GLOBAL | qjs::JS_EVAL_FLAG_STRICT | qjs::JS_EVAL_FLAG_COMPILE_ONLY;
    // SAFETY: `ctx` is a live context of this thread's runtime; `source` and the file name are
    // NUL-terminated and outlive the call, and the length passed excludes the NUL, as `JS_Eval`
    // requires. The value returned is owned here: `Value::from_raw` takes it over and frees it
    // when dropped (the compiled function, or the exception marker, which holds nothing).
    let compiled = unsafe {
        let raw = qjs::JS_Eval(ctx.as_raw().as_ptr(), source.as_ptr(), code.len() as _, FILE_C.as_ptr(), flags as i32);
        rquickjs::Value::from_raw(ctx.clone(), raw)
    };
    if compiled.is_exception() { Err(thrown(ctx, &ctx.catch(), None)) } else { Ok(()) }
}

/// The exception behind an rquickjs error, described.
fn caught<'js>(ctx: &Ctx<'js>, error: rquickjs::Error, limits: &CodeLimits) -> ScriptError {
    match error {
        rquickjs::Error::Exception => thrown(ctx, &ctx.catch(), Some(limits)),
        other => ScriptError::new(other.to_string()),
    }
}

/// A thrown value as an error with its line and column (from the stack, `script:<line>:<col>`).
fn thrown<'js>(ctx: &Ctx<'js>, value: &rquickjs::Value<'js>, limits: Option<&CodeLimits>) -> ScriptError {
    let Some(exception) = value.as_exception() else {
        // `throw 3`, or `null` when QuickJS had no memory left to build an error.
        let text = ctx.json_stringify(value.clone()).ok().flatten().and_then(|s| s.to_string().ok());
        return ScriptError::new(match text {
            Some(t) if t != "null" => format!("uncaught {t}"),
            _ => out_of_memory(limits),
        });
    };
    let name = exception.get::<_, String>("name").unwrap_or_else(|_| "Error".into());
    let message = exception.message().unwrap_or_default();
    let message = match (name.as_str(), message.as_str()) {
        ("InternalError", "out of memory") => out_of_memory(limits),
        ("RangeError", m) if m.contains("stack") => format!("calls nested too deep ({m}; runaway recursion?)"),
        (name, m) => format!("{name}: {m}"),
    };
    let at = exception.stack().as_deref().and_then(position);
    match at {
        Some((line, column)) => ScriptError::at(message, line, column),
        None => ScriptError::new(message),
    }
}

fn out_of_memory(limits: Option<&CodeLimits>) -> String {
    match limits {
        Some(l) => format!("the script used more than its memory cap of {} bytes", l.memory_bytes),
        None => "out of memory".into(),
    }
}

/// The first `script:<line>:<column>` of a stack trace.
fn position(stack: &str) -> Option<(usize, usize)> {
    let marker = format!("{FILE}:");
    stack.match_indices(&marker).find_map(|(i, _)| {
        let rest = &stack[i + marker.len()..];
        let mut parts = rest.splitn(3, |c: char| !c.is_ascii_digit());
        let line = parts.next()?.parse().ok()?;
        let column = parts.next()?.parse().ok()?;
        Some((line, column))
    })
}
