//! Every backend keeps what it is given: each odd string, written everywhere a store keeps text
//! (workflow metadata and node names, execution variables and their keys, errors, node outputs,
//! events), reads back byte for byte after the store is opened again (so no cache answers).

use super::backends::reopen;
use super::{Stores, WS, at, lease, page};
use oxify_api::domain::execution::{
    Execution, ExecutionState, ExecutionUpdate, NewEvent, NodeResult, NodeStatus, StateChange,
};
use oxify_api::domain::ids::{NodeId, WorkflowId};
use oxify_api::domain::run::RunEvent;
use oxify_api::domain::validation::validate;
use oxify_api::domain::workflow::WorkflowDraft;
use oxify_api::ports::ExecutionFilter;
use serde_json::{Map, Value, json};
use std::sync::Arc;

macro_rules! odd_strings {
    ($($name:ident => $text:expr),* $(,)?) => {
        $(pub async fn $name(s: Stores) { round_trip(s, $text).await })*
    };
}

odd_strings!(
    nul_is_kept => "a\u{0}b \u{0}\u{0} end\u{0}",
    // A Rust string cannot hold a lone surrogate; what reaches a store is the escape as text.
    escaped_surrogates_are_kept_as_text => r#"\ud800 \udfff \ud83d\ude00 \u0000 "\ud800""#,
    noncharacters_are_kept => "\u{FFFF}\u{FFFE} \u{FDD0} \u{10FFFF}",
    line_and_paragraph_separators_are_kept => "line\u{2028}paragraph\u{2029}end\r\n\u{85}",
    byte_order_marks_are_kept => "\u{FEFF}starts with a BOM\u{FEFF}",
    astral_characters_are_kept => "😀 𝄞 🇯🇵 \u{1F9D1}\u{200D}\u{1F4BB}",
    the_postgres_escape_character_is_kept => "\u{10}0 \u{10}\u{10} \u{10} \u{0}\u{10}0 ends\u{10}",
    controls_quotes_and_replacement_characters_are_kept => "\u{1}\u{8}\u{1b}\u{7f} \"q\" \\ \u{FFFD} '\u{9}'",
);

fn odd_workflow(text: &str) -> oxify_api::domain::valid::ValidWorkflow {
    let draft: WorkflowDraft = serde_json::from_value(json!({
        "metadata": {
            "name": text, "description": text, "version": text, "tags": [text, "plain"],
            "change_description": text,
        },
        "nodes": [
            {"id": "s", "name": text, "kind": {"type": "Start"}},
            {"id": "e", "name": format!("end {text}"), "kind": {"type": "End"}}
        ],
        "edges": [{"from": "s", "to": "e", "label": text, "condition": text}]
    }))
    .unwrap();
    validate(draft.complete(WorkflowId::generate(), at(0), at(0))).unwrap()
}

fn odd_value(text: &str) -> Value {
    json!({text: [text, {"nested": text}], "plain": text})
}

async fn round_trip(s: Stores, text: &str) {
    let wf = odd_workflow(text);
    s.workflows.create(WS, &wf).await.unwrap();
    let mut variables = Map::new();
    variables.insert(text.to_owned(), odd_value(text));
    variables.insert("q".into(), Value::String(text.to_owned()));
    let execution = Execution::new(WS, wf.id(), 1, variables, at(1));
    let me = lease("me");
    s.executions.create_with(&execution, &me, &ExecutionUpdate::default()).await.unwrap();
    let result = NodeResult {
        node_id: NodeId::from("s"),
        node_name: text.into(),
        kind: "Start".into(),
        status: NodeStatus::Failed,
        output: Some(Arc::new(odd_value(text))),
        error: Some(format!("failed: {text}")),
        attempts: 1,
        started_at: Some(at(2)),
        completed_at: Some(at(3)),
        usage: None,
    };
    let events = [
        RunEvent::NodeFailed {
            node_id: NodeId::from("s"),
            attempt: 1,
            error: text.to_owned(),
            duration_ms: None,
            routed_to: None,
        },
        RunEvent::ExecutionFailed { error: json!({"text": text}).to_string() },
    ];
    let update = ExecutionUpdate {
        state: Some(StateChange {
            error: Some(text.to_owned()),
            started_at: Some(at(2)),
            completed_at: Some(at(3)),
            ..StateChange::to(ExecutionState::Failed)
        }),
        node_results: vec![result.clone()],
        events: events
            .iter()
            .map(|event| NewEvent {
                event: event.clone(),
                state: ExecutionState::Failed,
                node_results_count: 1,
                at: at(3),
            })
            .collect(),
        ..ExecutionUpdate::default()
    };
    let live = s.executions.apply(WS, execution.id, Some(&me), &update).await.unwrap();
    assert_eq!(
        live.iter().map(|e| &e.event).collect::<Vec<_>>(),
        events.iter().collect::<Vec<_>>(),
        "events as returned for publishing"
    );

    let s = reopen(s).await;
    let got = s.workflows.get(WS, wf.id()).await.unwrap();
    assert_eq!(got.workflow.workflow(), wf.workflow(), "the workflow as stored");
    assert_eq!(s.workflows.get_version(WS, wf.id(), 1).await.unwrap().workflow.workflow(), wf.workflow());
    let listed = s.workflows.list(WS, page(10)).await.unwrap();
    assert_eq!(listed.items[0].metadata, wf.workflow().metadata, "the metadata in a list");
    let versions = s.workflows.list_versions(WS, wf.id()).await.unwrap();
    assert_eq!((versions[0].name.as_str(), versions[0].label.as_str()), (text, text));
    assert_eq!(versions[0].change_description.as_deref(), Some(text));

    let stored = s.executions.get(WS, execution.id).await.unwrap();
    assert_eq!(stored.variables, execution.variables, "the variables a resumed run renders its prompts from");
    assert_eq!(stored.error.as_deref(), Some(text));
    let listed = s.executions.list(WS, ExecutionFilter::default(), page(10)).await.unwrap();
    assert_eq!(listed.items[0].variables, execution.variables);
    assert_eq!(s.executions.node_results(WS, execution.id).await.unwrap(), [result]);
    let replayed = s.executions.events_after(WS, execution.id, 0, 10).await.unwrap();
    assert_eq!(
        replayed.iter().map(|e| &e.event).collect::<Vec<_>>(),
        events.iter().collect::<Vec<_>>(),
        "events as replayed"
    );
}
