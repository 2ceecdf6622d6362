//! Rhai scripts (the seed's `rhai` and `rust` runtimes): a fresh engine per run over packages
//! built once, without the clock (`no_time`), `eval`, modules, `sleep` or output, and with the
//! limits of [`CodeLimits`]; the stop signal is polled at every operation.

use super::limits::{CodeLimits, Stop};
use super::script::{ScriptData, ScriptEngine, ScriptError};
use rhai::packages::{Package, StandardPackage};
use rhai::{Dynamic, Engine, EvalAltResult, FuncRegistration, Module, OptimizationLevel, Scope, Shared};
use serde_json::Value;

/// Operations between two clock reads of the stop signal (its flag, which the runner's timer
/// sets at the deadline, is read at every operation): cheap, and well under a millisecond apart.
const CLOCK_EVERY: u64 = 1024;

/// Nesting of expressions at the top level and in functions at most; deeper source is refused
/// when it is compiled, before it can overflow the parser's stack.
const MAX_EXPR_DEPTH: usize = 64;
const MAX_FUNCTION_EXPR_DEPTH: usize = 32;

/// Runs Rhai scripts.
pub struct RhaiScripts {
    standard: Shared<Module>,
    /// Functions of the standard packages that must not run here, replaced.
    overrides: Shared<Module>,
}

impl Default for RhaiScripts {
    fn default() -> Self {
        Self::new()
    }
}

impl RhaiScripts {
    #[must_use]
    pub fn new() -> Self {
        let mut overrides = Module::new();
        // `sleep` would block the thread beyond any deadline, out of the stop signal's reach.
        FuncRegistration::new("sleep").set_into_module(&mut overrides, |_: rhai::FLOAT| refuse_sleep());
        FuncRegistration::new("sleep").set_into_module(&mut overrides, |_: rhai::INT| refuse_sleep());
        Self { standard: StandardPackage::new().as_shared_module(), overrides: overrides.into() }
    }

    fn engine(&self, limits: &CodeLimits, stop: Option<Stop>) -> Engine {
        let mut engine = Engine::new_raw();
        engine.register_global_module(self.standard.clone());
        engine.register_global_module(self.overrides.clone());
        // No evaluation of the script at compile time (a save must not run anything).
        engine.set_optimization_level(OptimizationLevel::None);
        engine.set_max_operations(limits.rhai_max_operations);
        engine.set_max_call_levels(limits.max_call_depth);
        engine.set_max_expr_depths(MAX_EXPR_DEPTH, MAX_FUNCTION_EXPR_DEPTH);
        engine.set_max_string_size(limits.rhai_string_bytes());
        engine.set_max_array_size(limits.rhai_array_items());
        engine.set_max_map_size(limits.rhai_map_entries());
        // No module resolver is set (Engine::new would read files), and none may load.
        engine.set_max_modules(0);
        engine.disable_symbol("eval");
        if let Some(stop) = stop {
            engine.on_progress(move |ops| {
                (stop.flagged() || (ops % CLOCK_EVERY == 0 && stop.reached())).then_some(Dynamic::UNIT)
            });
        }
        engine
    }
}

fn refuse_sleep() -> Result<(), Box<EvalAltResult>> {
    Err("sleep is not available in scripts".into())
}

impl ScriptEngine for RhaiScripts {
    fn check(&self, code: &str, limits: &CodeLimits) -> Result<(), ScriptError> {
        self.engine(limits, None).compile(code).map(drop).map_err(|e| parse_error(&e))
    }

    fn run(&self, code: &str, data: &ScriptData, limits: &CodeLimits, stop: &Stop) -> Result<Value, ScriptError> {
        let engine = self.engine(limits, Some(stop.clone()));
        let ast = engine.compile(code).map_err(|e| parse_error(&e))?;
        let mut scope = scope(data)?;
        let result = engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast).map_err(|e| eval_error(*e, limits))?;
        rhai::serde::from_dynamic::<Value>(&result).map_err(|e| {
            ScriptError::new(format!("the script's result cannot be turned into JSON: {}", e.unwrap_inner()))
        })
    }
}

/// `variables`, `nodes`, `secrets`, the inputs by name, and each finished node's output as
/// `node_<id>` (the seed's binding, with every character of the id that is not a letter or a
/// digit as `_`).
fn scope(data: &ScriptData) -> Result<Scope<'static>, ScriptError> {
    let mut scope = Scope::new();
    scope.push("variables", dynamic("the variables", data.variables.as_ref())?);
    scope.push("nodes", dynamic("the node outputs", &data.nodes())?);
    scope.push("secrets", dynamic("the secrets", data.secrets.as_ref())?);
    for (id, output) in &data.outputs {
        let name: String = id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        scope.push(format!("node_{name}"), dynamic("a node output", output.as_ref())?);
    }
    for (name, value) in &data.inputs {
        scope.push(name.clone(), dynamic("an input", value)?);
    }
    Ok(scope)
}

fn dynamic<T: serde::Serialize + ?Sized>(what: &str, value: &T) -> Result<Dynamic, ScriptError> {
    rhai::serde::to_dynamic(value).map_err(|e| ScriptError::new(format!("{what} cannot be given to the script: {e}")))
}

fn parse_error(e: &rhai::ParseError) -> ScriptError {
    let position = e.position();
    ScriptError { message: e.err_type().to_string(), line: position.line(), column: position.position() }
}

fn eval_error(mut e: EvalAltResult, limits: &CodeLimits) -> ScriptError {
    let position = e.take_position();
    let message = match &e {
        EvalAltResult::ErrorTooManyOperations(..) => {
            format!("the script ran more than {} operations", limits.rhai_max_operations)
        }
        EvalAltResult::ErrorStackOverflow(..) => {
            format!("calls nested deeper than {} levels (runaway recursion?)", limits.max_call_depth)
        }
        EvalAltResult::ErrorDataTooLarge(what, ..) => {
            format!("{what} beyond the memory cap of {} bytes", limits.memory_bytes)
        }
        EvalAltResult::ErrorTerminated(..) => "the script was stopped".to_owned(),
        other => other.to_string(),
    };
    ScriptError { message, line: position.line(), column: position.position() }
}
