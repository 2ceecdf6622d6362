//! The Code runner: runs a node's script on a blocking thread under its limits and returns the
//! seed's output shape, `{"runtime", "output", "result"}`; compiles scripts when a workflow is
//! saved, so a syntax error is a validation problem naming the node and `kind.config.code`.

use super::js_engine::JsScripts;
use super::language::Language;
use super::limits::{CodeLimits, Stop, StopReason};
use super::rhai_engine::RhaiScripts;
use super::script::{ScriptData, ScriptEngine, bad_input_name};
use crate::domain::workflow::{Node, NodeKind};
use crate::ports::{ConfigProblem, NodeInput, NodeOutput, NodeRunner, RunnerError};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// When a node has its own `timeout_config`, the executor's timer at that deadline gets this
/// head start over the script's own, so the node's `timeout_action` decides what follows.
const EXECUTOR_FIRST: Duration = Duration::from_millis(25);

/// How long after its deadline a script's thread may take to notice it before the node is failed
/// without waiting further (the thread stops at its next poll of the stop signal).
const BACKSTOP: Duration = Duration::from_millis(250);

/// Runs `Code` nodes.
pub struct CodeRunner {
    limits: CodeLimits,
    rhai: Arc<RhaiScripts>,
    javascript: Arc<JsScripts>,
}

impl CodeRunner {
    #[must_use]
    pub fn new(limits: CodeLimits) -> Self {
        Self { limits, rhai: Arc::new(RhaiScripts::new()), javascript: Arc::new(JsScripts) }
    }

    fn engine(&self, language: Language) -> Arc<dyn ScriptEngine> {
        match language {
            Language::Rhai => self.rhai.clone(),
            Language::JavaScript => self.javascript.clone(),
        }
    }

    fn too_long(&self, code: &str) -> Option<String> {
        (code.len() > self.limits.max_code_bytes).then(|| {
            format!("the code is {} bytes long; at most {} are accepted", code.len(), self.limits.max_code_bytes)
        })
    }
}

#[async_trait::async_trait]
impl NodeRunner for CodeRunner {
    async fn run(&self, input: NodeInput, cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        let node = input.node();
        let NodeKind::Code(config) = &node.kind else {
            return Err(RunnerError::Permanent(format!("node {} is not a Code node", node.id)));
        };
        let engine = self.engine(Language::of(&config.runtime).map_err(RunnerError::Permanent)?);
        if let Some(problem) = self.too_long(&config.code) {
            return Err(RunnerError::Permanent(problem));
        }
        let data = ScriptData::gather(&config.inputs, &input.data).map_err(RunnerError::Permanent)?;
        let (nominal, timeout) = match &node.timeout_config {
            Some(t) => (
                Duration::from_millis(t.execution_timeout_ms),
                Duration::from_millis(t.execution_timeout_ms) + EXECUTOR_FIRST,
            ),
            None => (self.limits.default_timeout, self.limits.default_timeout),
        };
        let stop = Stop::after(timeout);
        // However this future ends (cancelled, timed out by the executor, dropped), the script
        // stops with it instead of running on in its thread.
        let _abandon = stop.abandon_on_drop();
        let mut task = {
            let (code, limits, stop) = (config.code.clone(), self.limits, stop.clone());
            tokio::task::spawn_blocking(move || engine.run(&code, &data, &limits, &stop))
        };
        let cancelled = || RunnerError::Permanent("cancelled".into());
        let joined = tokio::select! {
            joined = &mut task => joined,
            () = cancel.cancelled() => return Err(cancelled()),
            () = tokio::time::sleep(timeout) => {
                // The engines read this flag more often than the clock.
                stop.expire();
                tokio::select! {
                    joined = &mut task => joined,
                    () = cancel.cancelled() => return Err(cancelled()),
                    () = tokio::time::sleep(BACKSTOP) => return Err(past_deadline(nominal)),
                }
            }
        };
        match joined {
            Err(e) => Err(RunnerError::Permanent(format!("the script's thread failed: {e}"))),
            Ok(Ok(result)) => Ok(NodeOutput::of(json!({
                "runtime": config.runtime,
                "output": config.output,
                "result": result,
            }))),
            Ok(Err(e)) => Err(match stop.reason() {
                Some(StopReason::Deadline) => past_deadline(nominal),
                Some(StopReason::Abandoned) => cancelled(),
                None if e.line.is_some() => RunnerError::Permanent(format!("script error at {e}")),
                None => RunnerError::Permanent(format!("script error: {e}")),
            }),
        }
    }

    fn check(&self, node: &Node) -> Vec<ConfigProblem> {
        let NodeKind::Code(config) = &node.kind else { return Vec::new() };
        let id = &node.id;
        let mut problems = Vec::new();
        for (k, name) in config.inputs.iter().enumerate() {
            if let Some(problem) = bad_input_name(name) {
                problems.push(ConfigProblem::at(format!("inputs[{k}]"), format!("Node {id}: {problem}")));
            }
        }
        let language = match Language::of(&config.runtime) {
            Ok(language) => language,
            Err(problem) => {
                problems.push(ConfigProblem::at("runtime", format!("Node {id}: {problem}")));
                return problems;
            }
        };
        if let Some(problem) = self.too_long(&config.code) {
            problems.push(ConfigProblem::at("code", format!("Node {id}: {problem}")));
        } else if !config.code.trim().is_empty()
            && let Err(e) = self.engine(language).check(&config.code, &self.limits)
        {
            let runtime = config.runtime.trim();
            problems.push(ConfigProblem::at("code", format!("Node {id}: the {runtime} code does not compile: {e}")));
        }
        problems
    }
}

fn past_deadline(timeout: Duration) -> RunnerError {
    RunnerError::Permanent(format!(
        "the script ran past its deadline of {} ms and was stopped (timeout_config.execution_timeout_ms sets another)",
        timeout.as_millis()
    ))
}
