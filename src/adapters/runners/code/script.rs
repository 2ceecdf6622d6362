//! What a script gets and gives, whatever its language: the data it sees, the engine interface,
//! and a failure that says where in the source it happened.

use super::limits::{CodeLimits, Stop};
use crate::domain::data::{DataContext, RESERVED_NAMES};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;

/// The data a script sees: `variables` (the execution's variables), `nodes` (`nodes.<id>.output`
/// for every node that finished, as templates see them), `secrets` (the workspace secrets the
/// code names as `secrets.NAME`, revealed for this attempt only; what the script returns is
/// redacted of them by the executor) and each declared input under its own name.
#[derive(Clone, Debug)]
pub struct ScriptData {
    pub variables: Arc<Map<String, Value>>,
    pub secrets: Arc<Map<String, Value>>,
    /// Finished nodes' ids and outputs.
    pub outputs: Vec<(String, Arc<Value>)>,
    /// The declared inputs, by name.
    pub inputs: Vec<(String, Value)>,
}

impl ScriptData {
    /// Gathers what a node's script sees.
    ///
    /// # Errors
    /// An input that names no variable of the execution.
    pub fn gather(inputs: &[String], data: &DataContext) -> Result<Self, String> {
        let inputs = inputs
            .iter()
            .map(|name| match data.variables.get(name) {
                Some(value) => Ok((name.clone(), value.clone())),
                None => Err(format!("input `{name}` is not a variable of this execution")),
            })
            .collect::<Result<_, _>>()?;
        let outputs = data.outputs.iter().map(|(id, output)| (id.as_str().to_owned(), output.clone())).collect();
        Ok(Self { variables: data.variables.clone(), secrets: data.secrets.clone(), outputs, inputs })
    }

    /// `nodes` as scripts see it: `{"<id>": {"output": ...}}`.
    #[must_use]
    pub fn nodes(&self) -> Value {
        let nodes = self
            .outputs
            .iter()
            .map(|(id, output)| (id.clone(), serde_json::json!({ "output": output.as_ref() })))
            .collect();
        Value::Object(nodes)
    }
}

/// Why a declared input name cannot be used, if it cannot: it must be an identifier both
/// languages accept and not a name the script already gets.
#[must_use]
pub fn bad_input_name(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let identifier = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !identifier {
        Some(format!(
            "input `{name}` is not a name a script can use (letters, digits and _, not starting with a digit)"
        ))
    } else if RESERVED_NAMES.contains(&name) {
        Some(format!("input `{name}` would hide the script's own `{name}`"))
    } else {
        None
    }
}

/// A script that failed, and where in its source when the engine says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    pub message: String,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based.
    pub column: Option<usize>,
}

impl ScriptError {
    #[must_use]
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), line: None, column: None }
    }

    #[must_use]
    pub fn at(message: impl Into<String>, line: usize, column: usize) -> Self {
        Self { message: message.into(), line: Some(line), column: Some(column) }
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column}: {}", self.message),
            (Some(line), None) => write!(f, "line {line}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// A script language.
pub trait ScriptEngine: Send + Sync {
    /// Compiles `code` without running it.
    ///
    /// # Errors
    /// The first syntax error, with its line and column.
    fn check(&self, code: &str, limits: &CodeLimits) -> Result<(), ScriptError>;

    /// Runs `code` over `data` on the calling thread (a blocking one) and returns the value of its
    /// last expression as JSON, stopping when `stop` is reached.
    ///
    /// # Errors
    /// A syntax or run-time error, a limit reached, or the stop reached (the caller tells which
    /// through `stop`).
    fn run(&self, code: &str, data: &ScriptData, limits: &CodeLimits, stop: &Stop) -> Result<Value, ScriptError>;
}
