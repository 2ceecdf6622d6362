//! Events stored by earlier versions of the server (schema 0003 and before), which kept the SSE
//! text of each event: `{"execution_id", "workflow_id", "state", "node_results_count",
//! "node_id", "node_name", "kind", "attempt", "output", "error", "duration_ms", "delay_ms",
//! "reason", "usage", "execution_usage", "timestamp"}`, with the event's name in the row's `kind`
//! column. They are read as typed events ("upcast"), so old executions stream and resume.

use super::event::RunEvent;
use crate::domain::ids::NodeId;
use crate::domain::usage::Usage;
use serde_json::Value;
use std::sync::Arc;

/// The typed event a legacy row stands for.
///
/// # Errors
/// An unknown kind, or a node event without its node.
pub(super) fn upcast(kind: &str, node_id: Option<&str>, data: Value) -> Result<RunEvent, String> {
    let text = |field: &str| data.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
    let number = |field: &str| data.get(field).and_then(Value::as_u64);
    let attempt = || number("attempt").and_then(|a| u32::try_from(a).ok()).unwrap_or(1);
    let duration_ms = || data.get("duration_ms").and_then(Value::as_i64);
    let usage = |field: &str| data.get(field).and_then(|u| serde_json::from_value::<Usage>(u.clone()).ok());
    let node = || {
        node_id
            .map(NodeId::from)
            .or_else(|| data.get("node_id").and_then(Value::as_str).map(NodeId::from))
            .ok_or_else(|| format!("stored {kind} event has no node"))
    };
    let event = match kind {
        "execution_started" => RunEvent::ExecutionStarted,
        "execution_resumed" => RunEvent::ExecutionResumed { reason: text("reason") },
        "node_started" => RunEvent::NodeStarted { node_id: node()?, attempt: attempt() },
        "node_completed" => {
            let output = Arc::new(data.get("output").cloned().unwrap_or(Value::Null));
            // Earlier versions read the branch an IfElse or Switch took back out of its output.
            let branching = matches!(data.get("kind").and_then(Value::as_str), Some("IfElse" | "Switch"));
            let taken = match output.get("next_node").and_then(Value::as_str) {
                Some(next) if branching => vec![NodeId::from(next)],
                _ => Vec::new(),
            };
            RunEvent::NodeCompleted {
                node_id: node()?,
                attempt: attempt(),
                output,
                taken,
                duration_ms: duration_ms(),
                reused_from: None,
            }
        }
        "node_failed" => RunEvent::NodeFailed {
            node_id: node()?,
            attempt: attempt(),
            error: text("error"),
            duration_ms: duration_ms(),
            routed_to: None,
        },
        "node_retrying" => RunEvent::NodeRetrying {
            node_id: node()?,
            attempt: attempt(),
            error: text("error"),
            delay_ms: number("delay_ms").unwrap_or(0),
        },
        "node_skipped" => RunEvent::NodeSkipped {
            node_id: node()?,
            reason: text("reason"),
            attempt: number("attempt").and_then(|a| u32::try_from(a).ok()),
            duration_ms: duration_ms(),
        },
        "node_cancelled" => RunEvent::NodeCancelled { node_id: node()?, reason: text("reason") },
        "usage" => RunEvent::Usage {
            node_id: node()?,
            usage: usage("usage").unwrap_or_default(),
            execution_usage: usage("execution_usage").unwrap_or_default(),
        },
        "execution_completed" => RunEvent::ExecutionCompleted { output: None },
        "execution_failed" => RunEvent::ExecutionFailed { error: text("error") },
        "execution_cancelled" => RunEvent::ExecutionCancelled { reason: text("error") },
        other => return Err(format!("unknown stored event kind '{other}'")),
    };
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_legacy_completion_keeps_its_output_and_the_branch_it_took() {
        let data = json!({"execution_id": "x", "state": "Running", "node_id": "check", "node_name": "Check",
            "kind": "IfElse", "attempt": 1, "output": {"condition_met": true, "next_node": "yes"}, "duration_ms": 0});
        let event = upcast("node_completed", Some("check"), data).unwrap();
        let RunEvent::NodeCompleted { node_id, taken, output, .. } = event else { panic!("{event:?}") };
        assert_eq!(node_id.as_str(), "check");
        assert_eq!(taken, vec![NodeId::from("yes")]);
        assert_eq!(output["condition_met"], true);
    }

    #[test]
    fn a_next_node_in_another_kinds_output_is_not_a_branch() {
        let data = json!({"kind": "LLM", "output": {"next_node": "x"}});
        let RunEvent::NodeCompleted { taken, .. } = upcast("node_completed", Some("a"), data).unwrap() else {
            panic!()
        };
        assert!(taken.is_empty());
    }

    #[test]
    fn every_legacy_kind_reads() {
        let data = json!({"node_id": "n", "attempt": 2, "error": "boom", "delay_ms": 5, "reason": "why",
            "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3, "cost_usd": null},
            "execution_usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3, "cost_usd": null}});
        for kind in [
            "execution_started",
            "execution_resumed",
            "node_started",
            "node_completed",
            "node_failed",
            "node_retrying",
            "node_skipped",
            "node_cancelled",
            "usage",
            "execution_completed",
            "execution_failed",
            "execution_cancelled",
        ] {
            let event = upcast(kind, Some("n"), data.clone()).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(event.kind().as_str(), kind);
        }
        assert!(upcast("mystery", None, json!({})).is_err());
        assert!(upcast("node_started", None, json!({})).is_err(), "a node event needs its node");
    }

    #[test]
    fn a_stored_typed_event_is_not_mistaken_for_a_legacy_one() {
        let typed = RunEvent::NodeStarted { node_id: NodeId::from("a"), attempt: 3 };
        assert_eq!(RunEvent::from_stored("node_started", Some("a"), &typed.to_json()).unwrap(), typed);
        let legacy = json!({"node_id": "a", "attempt": 3, "state": "Running"}).to_string();
        assert_eq!(RunEvent::from_stored("node_started", Some("a"), &legacy).unwrap(), typed);
    }
}
