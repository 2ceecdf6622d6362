//! The runner contract: what every node runner must do, checked against each runner this build
//! has, so that no runner lands without it.
//!
//! - **Cancel**: a call whose cancel token fires mid-call returns with an error within
//!   [`cases::CANCEL_BOUND`], abandoning its work (an upstream request is dropped, not awaited).
//! - **Panics**: a runner that panics mid-call fails its attempt, and its run fails cleanly: the
//!   executor catches the panic, nothing hangs, nothing of the run is left behind.
//! - **Errors**: bad input is a [`RunnerError::Permanent`](oxify_api::ports::RunnerError), an
//!   upstream failure that may pass (a 503) a `RunnerError::Retryable`, so retries are spent
//!   only where they can help.
//! - **Usage**: spending is reported in `NodeOutput.usage` and nowhere else. Only a runner that
//!   calls a model reports any, and the executor bills exactly that, never a `usage` key the
//!   output happens to hold.
//!
//! To add a runner: write
//! `tests/runner_contract/subjects/<kind>.rs` with a type implementing [`subject::Subject`] (the
//! runner as the server registers it, and the node configs that make it succeed, run long, meet
//! bad input and meet an upstream outage), declare it in `subjects.rs`, and add one
//! `contract!(<kind>, crate::subjects::<kind>::<Type>);` line below. Every case then runs against it.

// The fake provider of the LLM tests and the fake HTTP API of the tools tests; this suite uses
// part of each.
#[allow(dead_code)]
#[path = "llm/provider.rs"]
mod provider;
#[allow(dead_code)]
#[path = "tools/upstream.rs"]
mod upstream;

#[path = "common/mcp_server.rs"]
mod mcp_server;

#[path = "runner_contract/cases.rs"]
mod cases;
#[path = "runner_contract/subject.rs"]
mod subject;
#[path = "runner_contract/subjects.rs"]
mod subjects;
#[path = "runner_contract/through_executor.rs"]
mod through_executor;

/// One test per case of [`cases`], against one runner.
macro_rules! contract {
    ($name:ident, $subject:ty) => {
        mod $name {
            use crate::cases;

            #[tokio::test]
            async fn returns_soon_after_its_cancel_fires() {
                cases::returns_soon_after_its_cancel_fires::<$subject>().await;
            }

            #[tokio::test]
            async fn a_panic_fails_the_attempt_and_the_run_cleanly() {
                cases::a_panic_fails_the_attempt_and_the_run_cleanly::<$subject>().await;
            }

            #[tokio::test]
            async fn errors_are_classified_permanent_or_retryable() {
                cases::errors_are_classified_permanent_or_retryable::<$subject>().await;
            }

            #[tokio::test]
            async fn usage_is_billed_only_from_the_node_output() {
                cases::usage_is_billed_only_from_the_node_output::<$subject>().await;
            }
        }
    };
}

contract!(code, crate::subjects::code::CodeSubject);
contract!(llm, crate::subjects::llm::LlmSubject);
contract!(mcp_tool, crate::subjects::mcp_tool::McpToolSubject);
contract!(parallel, crate::subjects::parallel::ParallelSubject);
contract!(tool, crate::subjects::tool::ToolSubject);
contract!(vision, crate::subjects::vision::VisionSubject);
contract!(retriever, crate::subjects::retriever::RetrieverSubject);
