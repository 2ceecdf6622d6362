//! Per-node checks: required fields, templates that parse, expressions that compile, branch targets
//! that are direct successors, sane retry and timeout settings. Compiles routing on the way.

use super::Rules;
use super::problem::{Problems, config_path, node_path};
use super::references::FieldReads;
use crate::domain::expr::Expr;
use crate::domain::expr::types::{Declared, Type};
use crate::domain::graph::Graph;
use crate::domain::ids::NodeId;
use crate::domain::template;
use crate::domain::valid::{Compiled, Matcher, SwitchOn};
use crate::domain::workflow::{LoopType, Node, NodeKind, SwitchConfig, Workflow};
use std::collections::HashSet;

/// Most retries a node may ask for.
pub const MAX_RETRIES: u32 = 100;

/// Checks every node's config; returns its compiled routing and what each of its fields reads.
pub(super) fn check_nodes(
    workflow: &Workflow,
    graph: &Graph,
    declared: &Declared,
    rules: Rules,
    problems: &mut Problems,
) -> (Vec<Compiled>, Vec<Vec<FieldReads>>) {
    workflow
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let declared = with_locals(declared, node);
            let mut checker = Checker { i, node, graph, declared: &declared, rules, problems, reads: Vec::new() };
            checker.retry_and_timeout();
            let compiled = checker.kind();
            (compiled, checker.reads)
        })
        .unzip()
}

/// The declared variables plus the names a node binds for its own templates (a loop's item and
/// index, a try/catch's error), which are not inputs.
fn with_locals<'d>(declared: &'d Declared, node: &Node) -> std::borrow::Cow<'d, Declared> {
    let locals: Vec<&str> = match &node.kind {
        NodeKind::Loop(c) => match &c.loop_type {
            LoopType::ForEach { item_variable, index_variable, .. } => {
                std::iter::once(item_variable.as_str()).chain(index_variable.as_deref()).collect()
            }
            LoopType::While { counter_variable, .. } => counter_variable.as_deref().into_iter().collect(),
            LoopType::Repeat { index_variable, .. } => index_variable.as_deref().into_iter().collect(),
        },
        NodeKind::TryCatch(c) => vec![c.error_variable.as_str()],
        _ => Vec::new(),
    };
    if locals.is_empty() || !declared.strict {
        return std::borrow::Cow::Borrowed(declared);
    }
    let mut with = declared.clone();
    for name in locals {
        with.variables.entry(name.to_owned()).or_insert(Type::Dyn);
    }
    std::borrow::Cow::Owned(with)
}

/// The longest an Approval or Form may wait (`timeout_seconds`): a year, in seconds.
pub const MAX_WAIT_SECONDS: u64 = 365 * 24 * 3600;

struct Checker<'a> {
    i: usize,
    node: &'a Node,
    graph: &'a Graph,
    declared: &'a Declared,
    rules: Rules,
    problems: &'a mut Problems,
    reads: Vec<FieldReads>,
}

impl Checker<'_> {
    fn id(&self) -> &NodeId {
        &self.node.id
    }

    fn report(&mut self, field: &str, problem: String) {
        let path = config_path(self.i, field);
        self.problems.node(&self.node.id, path, problem);
    }

    fn non_blank(&mut self, field: &str, value: &str, problem: impl FnOnce() -> String) -> bool {
        let ok = !value.trim().is_empty();
        if !ok {
            self.report(field, problem());
        }
        ok
    }

    /// An Approval's or Form's `notify_url`: an absolute http(s) URL.
    fn notify_url(&mut self, url: Option<&str>) {
        let Some(url) = url else { return };
        let scheme_ok =
            ["http://", "https://"].iter().any(|s| url.len() > s.len() && url[..s.len()].eq_ignore_ascii_case(s));
        if !scheme_ok || url.contains(char::is_whitespace) {
            let (kind, id) = (self.node.kind.name(), self.id().clone());
            self.report("notify_url", format!("{kind} node {id}: notify_url must be an http:// or https:// URL"));
        }
    }

    /// An Approval's or Form's `timeout_seconds`: at most [`MAX_WAIT_SECONDS`].
    fn timeout_seconds(&mut self, timeout: Option<u64>) {
        if timeout.is_some_and(|t| t > MAX_WAIT_SECONDS) {
            let (kind, id) = (self.node.kind.name(), self.id().clone());
            self.report(
                "timeout_seconds",
                format!("{kind} node {id}: timeout_seconds must be at most {MAX_WAIT_SECONDS} (a year)"),
            );
        }
    }

    fn required(&mut self, field: &str, value: &str) -> bool {
        let (kind, id) = (self.node.kind.name(), self.id().clone());
        self.non_blank(field, value, || format!("{kind} node {id} has empty {field}"))
    }

    fn template(&mut self, field: &str, value: &str) {
        if let Err(e) = template::check(value) {
            let id = self.id().clone();
            self.report(field, format!("Node {id}: template in {field} does not parse: {e}"));
            return;
        }
        if self.rules == Rules::Stored {
            return;
        }
        let reads = template::reads(value);
        if self.declared.strict {
            let id = self.id().clone();
            for name in reads.variables.iter().filter(|v| !self.declared.variables.contains_key(v.as_str())) {
                let problem =
                    format!("Node {id}: {field} reads `{name}`, which the workflow's input_schema does not declare");
                self.report(field, problem);
            }
        }
        self.reads.push(FieldReads { field: field.to_owned(), reads });
    }

    /// Checks every string inside a JSON value that uses template syntax, each at its own path
    /// (`parameters.filter.name`, `parameters.ids[2]`).
    fn templates_in(&mut self, field: &str, value: &serde_json::Value) {
        match value {
            serde_json::Value::String(s) if template::is_template(s) => self.template(field, s),
            serde_json::Value::Array(items) => {
                for (k, item) in items.iter().enumerate() {
                    self.templates_in(&format!("{field}[{k}]"), item);
                }
            }
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    self.templates_in(&format!("{field}.{key}"), item);
                }
            }
            _ => {}
        }
    }

    /// Compiles an expression; at save, also checks its types (`boolean`: it must yield a bool).
    fn expr(&mut self, field: &str, source: &str, boolean: bool) -> Option<Expr> {
        let id = self.id().clone();
        let expr = Expr::compile(source).map_err(|e| self.report(field, format!("Node {id}: {field}: {e}"))).ok()?;
        if self.rules == Rules::Save {
            for problem in expr.type_problems(self.declared, boolean) {
                self.report(field, format!("Node {id}: {field}: {problem}"));
            }
            self.reads.push(FieldReads { field: field.to_owned(), reads: expr.reads() });
        }
        Some(expr)
    }

    /// Resolves a branch target: it must exist and be a direct successor of this node.
    fn target(&mut self, field: &str, target: &str) -> Option<usize> {
        let id = self.id().clone();
        let Some(&t) = self.graph.index.get(target) else {
            self.report(field, format!("Conditional node {id} has invalid branch: {target}"));
            return None;
        };
        if !self.graph.has_edge(self.i, t) {
            self.report(
                field,
                format!(
                    "Conditional node {id} branch {target} is not a direct successor: add an edge {id} -> {target}"
                ),
            );
            return None;
        }
        Some(t)
    }

    fn retry_and_timeout(&mut self) {
        let id = self.id().clone();
        if let Some(r) = &self.node.retry_config {
            let path = format!("{}.retry_config", node_path(self.i));
            if r.max_retries > MAX_RETRIES {
                self.problems.node(
                    &id,
                    format!("{path}.max_retries"),
                    format!("Node {id}: max_retries must be at most {MAX_RETRIES}"),
                );
            }
            if !r.backoff_multiplier.is_finite() || r.backoff_multiplier < 1.0 {
                self.problems.node(
                    &id,
                    format!("{path}.backoff_multiplier"),
                    format!("Node {id}: backoff_multiplier must be a number of at least 1.0"),
                );
            }
            if r.initial_delay_ms > r.max_delay_ms {
                self.problems.node(
                    &id,
                    format!("{path}.initial_delay_ms"),
                    format!("Node {id}: initial_delay_ms must not exceed max_delay_ms"),
                );
            }
        }
        if let Some(route) = &self.node.on_error {
            let path = format!("{}.on_error.route_to", node_path(self.i));
            match self.graph.index.get(&route.route_to) {
                None => self.problems.node(
                    &id,
                    path,
                    format!("Node {id}: on_error routes to '{}', which does not exist", route.route_to),
                ),
                Some(&t) if !self.graph.has_edge(self.i, t) => self.problems.node(
                    &id,
                    path,
                    format!(
                        "Node {id}: on_error.route_to '{}' is not a direct successor: add an edge {id} -> {}",
                        route.route_to, route.route_to
                    ),
                ),
                Some(_) if self.branch_targets().contains(&route.route_to.as_str()) => self.problems.node(
                    &id,
                    path,
                    format!(
                        "Node {id}: '{}' is already one of its branches; route errors to a node of its own",
                        route.route_to
                    ),
                ),
                Some(_) => {}
            }
        }
        if self.node.timeout_config.as_ref().is_some_and(|t| t.execution_timeout_ms == 0) {
            let path = format!("{}.timeout_config.execution_timeout_ms", node_path(self.i));
            self.problems.node(&id, path, format!("Node {id}: execution_timeout_ms must be at least 1"));
        }
    }

    /// The successors an IfElse or Switch names.
    fn branch_targets(&self) -> Vec<&str> {
        match &self.node.kind {
            NodeKind::IfElse(c) => vec![c.true_branch.as_str(), c.false_branch.as_str()],
            NodeKind::Switch(c) => c.cases.iter().map(|c| c.action.as_str()).chain(c.default_case.as_deref()).collect(),
            _ => Vec::new(),
        }
    }

    fn kind(&mut self) -> Compiled {
        match &self.node.kind {
            NodeKind::Start | NodeKind::End => {}
            NodeKind::Llm(c) => {
                self.required("provider", &c.provider);
                self.required("model", &c.model);
                if self.required("prompt_template", &c.prompt_template) {
                    self.template("prompt_template", &c.prompt_template);
                }
                if let Some(s) = &c.system_prompt {
                    self.template("system_prompt", s);
                }
                if c.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
                    self.report("temperature", format!("Node {}: temperature must be between 0 and 2", self.id()));
                }
                if c.max_tokens == Some(0) {
                    self.report("max_tokens", format!("Node {}: max_tokens must be at least 1", self.id()));
                }
            }
            NodeKind::Retriever(c) => {
                self.required("db_type", &c.db_type);
                self.required("collection", &c.collection);
                if self.required("query", &c.query) {
                    self.template("query", &c.query);
                }
                if c.top_k == 0 {
                    self.report("top_k", format!("Node {}: top_k must be at least 1", self.id()));
                }
            }
            NodeKind::Code(c) => {
                self.required("runtime", &c.runtime);
                self.required("code", &c.code);
                self.required("output", &c.output);
            }
            NodeKind::Tool(c) => {
                self.required("server_id", &c.server_id);
                self.required("tool_name", &c.tool_name);
                self.templates_in("parameters", &c.parameters);
                for (name, value) in &c.headers {
                    self.template(&format!("headers.{name}"), value);
                }
            }
            NodeKind::IfElse(c) => {
                let expr = self.expr("expression", &c.expression, true);
                let t = self.target("true_branch", c.true_branch.as_str());
                let f = self.target("false_branch", c.false_branch.as_str());
                if let (Some(expr), Some(true_target), Some(false_target)) = (expr, t, f) {
                    return Compiled::IfElse { expr, true_target, false_target };
                }
            }
            NodeKind::Switch(c) => return self.switch(c),
            NodeKind::Parallel(c) => {
                let id = self.id().clone();
                if c.tasks.is_empty() {
                    self.report("tasks", format!("Parallel node {id} has no tasks defined"));
                }
                let mut seen = HashSet::new();
                for (k, task) in c.tasks.iter().enumerate() {
                    let field = format!("tasks[{k}].expression");
                    if self.non_blank(&field, &task.expression, || {
                        format!("Parallel node {id} task '{}' has empty expression", task.id)
                    }) {
                        self.template(&field, &task.expression);
                    }
                    if !seen.insert(task.id.as_str()) {
                        self.report(
                            &format!("tasks[{k}].id"),
                            format!("Parallel node {id} has duplicate task ID: {}", task.id),
                        );
                    }
                }
            }
            NodeKind::Approval(c) => {
                if self.required("message", &c.message) {
                    self.template("message", &c.message);
                }
                self.notify_url(c.notify_url.as_deref());
                if self.rules == Rules::Save {
                    self.timeout_seconds(c.timeout_seconds);
                    if c.quorum == Some(0) {
                        let id = self.id().clone();
                        self.report("quorum", format!("Approval node {id}: quorum must be at least 1"));
                    }
                }
            }
            NodeKind::Form(c) => {
                let id = self.id().clone();
                if c.fields.is_empty() {
                    self.report("fields", format!("Form node {id} has no fields defined"));
                }
                let mut seen = HashSet::new();
                for (k, field) in c.fields.iter().enumerate() {
                    self.non_blank(&format!("fields[{k}].label"), &field.label, || {
                        format!("Form node {id} field '{}' has empty label", field.id)
                    });
                    if !seen.insert(field.id.as_str()) {
                        self.report(
                            &format!("fields[{k}].id"),
                            format!("Form node {id} has duplicate field ID: {}", field.id),
                        );
                    }
                    if let Some(problem) = crate::domain::human::form::pattern_problem(field) {
                        self.report(&format!("fields[{k}].validation"), format!("Form node {id}: {problem}"));
                    }
                    if self.rules == Rules::Save {
                        for (at, problem) in crate::domain::human::form::field_problems(field) {
                            self.report(&format!("fields[{k}].{at}"), format!("Form node {id}: {problem}"));
                        }
                    }
                }
                self.notify_url(c.notify_url.as_deref());
                if self.rules == Rules::Save {
                    self.timeout_seconds(c.timeout_seconds);
                }
            }
            NodeKind::Loop(c) => {
                if let Some(body) = &c.body_workflow {
                    self.workflow_id("body_workflow", body);
                }
                self.loop_config(&c.loop_type, c.max_iterations, c.body_workflow.is_some());
            }
            NodeKind::TryCatch(c) => {
                if self.required("try_expression", &c.try_expression) {
                    self.template("try_expression", &c.try_expression);
                }
                for (field, value) in
                    [("catch_expression", &c.catch_expression), ("finally_expression", &c.finally_expression)]
                {
                    if let Some(v) = value {
                        self.template(field, v);
                    }
                }
            }
            NodeKind::SubWorkflow(c) => {
                if self.required("workflow_path", &c.workflow_path) {
                    self.workflow_id("workflow_path", &c.workflow_path);
                }
                for (name, value) in &c.input_mappings {
                    self.template(&format!("input_mappings.{name}"), value);
                }
            }
            NodeKind::Vision(c) => {
                self.required("provider", &c.provider);
                self.required("image_input", &c.image_input);
            }
        }
        Compiled::Plain
    }

    fn switch(&mut self, c: &SwitchConfig) -> Compiled {
        let id = self.id().clone();
        let on =
            if !self.non_blank("switch_on", &c.switch_on, || format!("Switch node {id} has empty switch expression")) {
                None
            } else if template::is_template(&c.switch_on) {
                self.template("switch_on", &c.switch_on);
                Some(SwitchOn::Template(c.switch_on.clone()))
            } else {
                self.expr("switch_on", &c.switch_on, false).map(SwitchOn::Expr)
            };
        if c.cases.is_empty() && c.default_case.is_none() {
            self.report("cases", format!("Switch node {id} has no cases defined"));
        }
        let mut cases = Vec::with_capacity(c.cases.len());
        for (k, case) in c.cases.iter().enumerate() {
            let field = format!("cases[{k}].match_value");
            if !self.non_blank(&field, &case.match_value, || format!("Switch node {id} case has empty match value")) {
                continue;
            }
            let matcher = match case.match_value.strip_prefix("regex:") {
                None => Some(Matcher::exact(&case.match_value)),
                Some(pattern) => regex::Regex::new(pattern)
                    .map_err(|e| self.report(&field, format!("Switch node {id} case {k}: invalid regex: {e}")))
                    .ok()
                    .map(Matcher::Regex),
            };
            let target = self.target(&format!("cases[{k}].action"), &case.action);
            if let (Some(m), Some(t)) = (matcher, target) {
                cases.push((m, t));
            }
        }
        let default = c.default_case.as_deref().map(|d| self.target("default_case", d));
        match (on, default) {
            (Some(on), None) => Compiled::Switch { on, cases, default: None },
            (Some(on), Some(Some(d))) => Compiled::Switch { on, cases, default: Some(d) },
            _ => Compiled::Plain,
        }
    }

    /// A reference to a stored workflow: its id. (The seed's SubWorkflow read a file on the
    /// server from `workflow_path`, which let a workflow author read any file the server can.)
    fn workflow_id(&mut self, field: &str, value: &str) {
        if uuid::Uuid::parse_str(value.trim()).is_err() {
            let id = self.id().clone();
            self.report(
                field,
                format!(
                    "Node {id}: {field} must be the id (a UUID) of a stored workflow, got '{value}'; \
                     reading workflow files on the server is not allowed"
                ),
            );
        }
    }

    fn loop_config(&mut self, loop_type: &LoopType, max_iterations: u32, body_workflow: bool) {
        let id = self.id().clone();
        if max_iterations == 0 {
            self.report("max_iterations", format!("Loop node {id}: max_iterations must be at least 1"));
        }
        let body = match loop_type {
            LoopType::ForEach { collection_path, body_expression, .. } => {
                self.non_blank("loop_type.collection_path", collection_path, || {
                    format!("Loop node {id} has empty collection path")
                });
                body_expression
            }
            LoopType::While { condition, body_expression, .. } => {
                self.expr("loop_type.condition", condition, true);
                body_expression
            }
            LoopType::Repeat { count, body_expression, .. } => {
                if template::is_template(count) {
                    self.template("loop_type.count", count);
                } else if count.trim().parse::<u32>().is_err() {
                    self.report(
                        "loop_type.count",
                        format!("Loop node {id}: count must be a whole number or a template"),
                    );
                }
                body_expression
            }
        };
        // With a body workflow, each iteration runs that instead of rendering a body.
        if body_workflow && body.trim().is_empty() {
            return;
        }
        if self.non_blank("loop_type.body_expression", body, || format!("Loop node {id} has empty body expression")) {
            self.template("loop_type.body_expression", body);
        }
    }
}
