//! The tools an LLM node's configuration lists (`tools`), parsed: MCP tools of a registered
//! server, HTTP tools, other workflows, or tools in the provider's own format.

use crate::adapters::models::conversation::{tool_name, valid_tool_name};
use crate::adapters::runners::tool::http_target::HttpTarget;
use crate::adapters::runners::tool::request::header_name_problem;
use crate::domain::ids::WorkflowId;
use crate::ports::ConfigProblem;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// One entry of `tools`.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum ToolSpec {
    /// The tools of a registered MCP server: all of them, or the one named.
    Mcp {
        server: String,
        tool: Option<String>,
    },
    Http(HttpSpec),
    Workflow {
        workflow: WorkflowId,
        name: Option<String>,
        description: Option<String>,
    },
    /// In the provider's own format: sent as written, never run by the server.
    Raw(Value),
}

/// An HTTP tool: the model's arguments are its parameters (query for GET and DELETE, JSON body
/// otherwise; `{placeholders}` in the path are filled from them).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct HttpSpec {
    pub name: String,
    pub description: String,
    pub target: HttpTarget,
    /// The arguments' JSON Schema.
    pub parameters: Value,
    /// Header templates (`{{ secrets.API_TOKEN }}`).
    pub headers: BTreeMap<String, String>,
}

/// Tool rounds when the node sets no `max_tool_rounds`.
pub(super) const DEFAULT_ROUNDS: u32 = 10;
/// Most `max_tool_rounds` accepted.
pub(super) const MAX_ROUNDS: u32 = 100;

/// Parses every entry of `tools`; problems name the entry (`tools[2].server_id`).
pub(super) fn parse_all(tools: &[Value]) -> Result<Vec<ToolSpec>, Vec<ConfigProblem>> {
    let (specs, problems): (Vec<_>, Vec<_>) = parse_each(tools).into_iter().partition(Result::is_ok);
    if problems.is_empty() {
        Ok(specs.into_iter().filter_map(Result::ok).collect())
    } else {
        Err(problems.into_iter().filter_map(Result::err).collect())
    }
}

/// Parses each entry of `tools` on its own, in order.
pub(super) fn parse_each(tools: &[Value]) -> Vec<Result<ToolSpec, ConfigProblem>> {
    tools
        .iter()
        .enumerate()
        .map(|(i, value)| {
            parse(value).map_err(|(field, problem)| {
                let path = if field.is_empty() { format!("tools[{i}]") } else { format!("tools[{i}].{field}") };
                ConfigProblem::at(path.clone(), format!("{path}: {problem}"))
            })
        })
        .collect()
}

type Problem = (&'static str, String);

fn parse(value: &Value) -> Result<ToolSpec, Problem> {
    match value {
        Value::String(text) => shorthand(text),
        Value::Object(map) => match map.get("type").and_then(Value::as_str) {
            Some("mcp") => mcp(map),
            Some("http") => http(map).map(ToolSpec::Http),
            Some("workflow") => workflow(map),
            _ => Ok(ToolSpec::Raw(value.clone())),
        },
        _ => Err((
            "",
            "a tool is an object ({\"type\": \"mcp\" | \"http\" | \"workflow\", ...} or the provider's own format) or a string such as \"mcp:SERVER/TOOL\" or \"workflow:ID\"".into(),
        )),
    }
}

fn shorthand(text: &str) -> Result<ToolSpec, Problem> {
    if let Some(rest) = text.strip_prefix("mcp:") {
        let (server, tool) = rest.split_once('/').map_or((rest, None), |(s, t)| (s, Some(t)));
        if server.trim().is_empty() || tool.is_some_and(|t| t.trim().is_empty()) {
            return Err(("", format!("'{text}' names no server or no tool: expected mcp:SERVER or mcp:SERVER/TOOL")));
        }
        return Ok(ToolSpec::Mcp { server: server.trim().to_owned(), tool: tool.map(|t| t.trim().to_owned()) });
    }
    if let Some(id) = text.strip_prefix("workflow:") {
        return Ok(ToolSpec::Workflow { workflow: workflow_id(id.trim())?, name: None, description: None });
    }
    Err(("", format!("'{text}' is not a tool: expected mcp:SERVER, mcp:SERVER/TOOL or workflow:ID")))
}

fn string(map: &Map<String, Value>, field: &'static str) -> Result<Option<String>, Problem> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err((field, format!("must be a string, got {other}"))),
    }
}

fn required(map: &Map<String, Value>, field: &'static str) -> Result<String, Problem> {
    string(map, field)?.filter(|s| !s.trim().is_empty()).ok_or((field, "is required".to_owned()))
}

fn mcp(map: &Map<String, Value>) -> Result<ToolSpec, Problem> {
    Ok(ToolSpec::Mcp { server: required(map, "server")?, tool: string(map, "tool")? })
}

fn workflow_id(text: &str) -> Result<WorkflowId, Problem> {
    text.parse().map_err(|_| ("workflow_id", format!("'{text}' is not a workflow id (a UUID)")))
}

fn workflow(map: &Map<String, Value>) -> Result<ToolSpec, Problem> {
    let name = string(map, "name")?;
    if let Some(name) = &name
        && !valid_tool_name(name)
    {
        return Err(("name", format!("'{name}' is not a tool name: 1 to 64 letters, digits, _ or -")));
    }
    Ok(ToolSpec::Workflow {
        workflow: workflow_id(&required(map, "workflow_id")?)?,
        name,
        description: string(map, "description")?,
    })
}

fn http(map: &Map<String, Value>) -> Result<HttpSpec, Problem> {
    let name = required(map, "name")?;
    if !valid_tool_name(&name) {
        return Err(("name", format!("'{name}' is not a tool name: 1 to 64 letters, digits, _ or -")));
    }
    let server_id = required(map, "server_id")?;
    let tool_name = required(map, "tool_name")?;
    let target = HttpTarget::parse(&server_id, &tool_name)
        .map_err(|p| (if p.field.as_deref() == Some("tool_name") { "tool_name" } else { "server_id" }, p.problem))?
        .ok_or(("server_id", format!("'{server_id}' is not an http(s) base URL")))?;
    let parameters = match map.get("parameters") {
        None | Some(Value::Null) => json!({"type": "object"}),
        Some(schema @ Value::Object(_)) => schema.clone(),
        Some(other) => return Err(("parameters", format!("must be a JSON Schema object, got {other}"))),
    };
    let headers = match map.get("headers") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(h)) => h
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => match header_name_problem(k) {
                    Some(problem) => Err(("headers", problem)),
                    None => Ok((k.clone(), s.clone())),
                },
                other => Err(("headers", format!("header {k} must be a string, got {other}"))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(("headers", format!("must be an object of strings, got {other}"))),
    };
    Ok(HttpSpec {
        description: string(map, "description")?.unwrap_or_else(|| format!("Calls {tool_name} on {server_id}")),
        name,
        target,
        parameters,
        headers,
    })
}

impl ToolSpec {
    /// The name the model calls a workflow by when the entry names none.
    pub(super) fn workflow_name(name: &str) -> String {
        tool_name(name)
    }
}

/// `max_tool_rounds`, checked.
pub(super) fn rounds(configured: Option<u32>) -> Result<u32, ConfigProblem> {
    match configured {
        None => Ok(DEFAULT_ROUNDS),
        Some(n) if (1..=MAX_ROUNDS).contains(&n) => Ok(n),
        Some(n) => Err(ConfigProblem::at(
            "max_tool_rounds",
            format!("max_tool_rounds must be between 1 and {MAX_ROUNDS}, got {n}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses_and_bad_entries_name_their_field() {
        let id = "0b1f6a56-4e4a-4a57-9d32-5e0c2a0b9a11";
        let tools = vec![
            json!("mcp:files"),
            json!("mcp:files/read_file"),
            json!(format!("workflow:{id}")),
            json!({"type": "mcp", "server": "git", "tool": "log"}),
            json!({"type": "http", "name": "weather", "server_id": "https://api.example.com", "tool_name": "GET /weather",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                   "headers": {"Authorization": "Bearer {{ secrets.W }}"}}),
            json!({"type": "workflow", "workflow_id": id, "name": "summarise"}),
            json!({"type": "function", "function": {"name": "client_side"}}),
        ];
        let specs = parse_all(&tools).unwrap();
        assert_eq!(specs[1], ToolSpec::Mcp { server: "files".into(), tool: Some("read_file".into()) });
        assert!(matches!(&specs[4], ToolSpec::Http(h) if h.name == "weather" && h.headers.len() == 1));
        assert!(matches!(&specs[6], ToolSpec::Raw(_)));

        let bad = vec![
            json!("mcp:"),
            json!("shell:rm"),
            json!(3),
            json!({"type": "http", "name": "has space", "server_id": "https://a.b", "tool_name": "GET /"}),
            json!({"type": "http", "name": "x", "server_id": "files", "tool_name": "GET /"}),
            json!({"type": "workflow", "workflow_id": "nope"}),
            json!({"type": "mcp"}),
        ];
        let problems = parse_all(&bad).unwrap_err();
        assert_eq!(problems.len(), bad.len(), "{problems:?}");
        assert_eq!(problems[3].field.as_deref(), Some("tools[3].name"));
        assert_eq!(problems[4].field.as_deref(), Some("tools[4].server_id"));
        assert_eq!(problems[6].field.as_deref(), Some("tools[6].server"));
    }

    #[test]
    fn rounds_are_bounded() {
        assert_eq!(rounds(None).unwrap(), DEFAULT_ROUNDS);
        assert_eq!(rounds(Some(3)).unwrap(), 3);
        assert!(rounds(Some(0)).is_err());
        assert!(rounds(Some(MAX_ROUNDS + 1)).is_err());
    }
}
