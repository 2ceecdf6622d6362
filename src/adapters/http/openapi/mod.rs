//! The OpenAPI document: collected from the handlers' annotations and the types' derives, then
//! finished by hand where they cannot say enough (see `finish`).

mod finish;
mod security;
mod unions;

pub use finish::{ERROR_KINDS, finish};

use super::error::ErrorBody;
use super::event_json::EventData;
use super::sse::StreamFormat;
use crate::domain::run::{RunEvent, Wait};
use crate::domain::usage::Usage;
use crate::domain::validation::Problem;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "oxify-api",
        description = "Define LLM workflows as DAGs, store them, run them, and watch them run live over Server-Sent Events.",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "workflows", description = "Workflow definitions and their versions"),
        (name = "executions", description = "Runs of workflows and their live event streams"),
        (name = "auth", description = "Accounts: register, sign in, the signed-in user"),
        (name = "api-keys", description = "API keys of a workspace, for programs"),
        (name = "workspaces", description = "Workspaces and their members"),
        (name = "secrets", description = "Workspace secrets: set, listed and deleted by name, never shown"),
        (name = "mcp", description = "MCP servers of a workspace: registered, listed, their tools called"),
        (name = "audit", description = "Who did what in a workspace"),
        (name = "vectors", description = "Vector collections: documents embedded, stored and searched"),
        (name = "files", description = "Uploaded images and documents, for Vision and LLM nodes"),
        (name = "approvals", description = "Decisions Approval nodes wait for"),
        (name = "forms", description = "Values Form nodes wait for"),
        (name = "health", description = "Liveness")
    ),
    // `StreamFormat` is a query parameter's type, which the path macro references but does not add.
    // The event stream's frames are text; `EventData` is the JSON of each frame's `data:` field and
    // `RunEvent` the typed event each frame renders (named by the frame's `event:` field).
    components(schemas(ErrorBody, Problem, StreamFormat, EventData, RunEvent, Wait, Usage))
)]
pub struct ApiDoc;
