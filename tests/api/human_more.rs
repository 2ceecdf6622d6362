//! Pausing and resuming by hand, and the notifications of approvals: through the real router and
//! services (in-memory storage), with a receiver of notifications on loopback.

use super::support::{
    ScriptRunner, code, create, edge, end, execute, finished, get, node, post, result, router_with, start,
    wait_for_node, workflow,
};
use axum::http::{HeaderMap, StatusCode};
use oxify_api::adapters::http::HttpSettings;
use oxify_api::adapters::outgoing::{AddressGuard, AllowList};
use oxify_api::app::executor::ExecutorLimits;
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::app::services::Services;
use oxify_api::domain::workflow::NodeKindTag;
use oxify_api::startup::wiring;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// In-memory services whose notifications may reach loopback, with their maintenance running.
fn services() -> Services {
    let runners = RunnerRegistry::new().with(NodeKindTag::Code, Arc::new(ScriptRunner));
    let mut ports = wiring::in_memory(runners);
    ports.webhooks = wiring::webhooks(AddressGuard::new(AllowList::parse("127.0.0.1").unwrap()));
    let services = Services::assemble(ports, ExecutorLimits::default(), Duration::from_secs(30));
    let maintained = services.clone();
    tokio::spawn(async move { maintained.recover_and_maintain(CancellationToken::new()).await });
    services
}

fn app() -> axum::Router {
    router_with(&services(), HttpSettings::default())
}

/// Polls the execution until `check` holds.
async fn until(app: &axum::Router, execution: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..1000 {
        let body = get(app, &format!("/api/v1/executions/{execution}")).await.body;
        if check(&body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("execution {execution} never got there");
}

fn events(text: &str) -> Vec<&str> {
    text.lines().filter_map(|l| l.strip_prefix("event: ")).collect()
}

#[tokio::test]
async fn a_run_paused_by_hand_starts_nothing_until_resumed_on_the_same_stream() {
    let app = app();
    let wf = workflow(
        json!([start("s"), code("slow", "sleep 300"), code("next", "echo after"), end("e")]),
        json!([edge("s", "slow"), edge("slow", "next"), edge("next", "e")]),
    );
    let wf = create(&app, wf).await;
    let execution = execute(&app, &wf, json!({})).await;
    wait_for_node(&app, &execution, "slow", "Running").await;
    let paused = post(&app, &format!("/api/v1/executions/{execution}/pause"), json!({})).await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.text);
    assert_eq!(paused.body["execution_id"], execution.as_str());
    // The running node finishes; the next one does not start, and the run parks.
    let parked = until(&app, &execution, |b| b["state"] == "Paused").await;
    assert_eq!(result(&parked, "slow")["status"], "Succeeded", "{parked}");
    assert!(result(&parked, "next").is_null() || result(&parked, "next")["status"] == "Pending", "{parked}");
    let resumed = post(&app, &format!("/api/v1/executions/{execution}/resume"), json!({})).await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.text);
    let done = finished(&app, &execution).await;
    assert_eq!(done["state"], "Completed", "{done}");
    assert_eq!(result(&done, "next")["output"], "after");
    let stream = get(&app, &format!("/api/v1/executions/{execution}/stream")).await;
    let kinds = events(&stream.text);
    let at = |k: &str| kinds.iter().position(|x| *x == k).unwrap_or_else(|| panic!("{k} in {kinds:?}"));
    assert!(at("pause_requested") < at("execution_paused"), "{kinds:?}");
    assert!(at("execution_paused") < at("resume_requested"), "{kinds:?}");
    assert!(at("resume_requested") < at("execution_resumed"), "{kinds:?}");
    assert!(at("execution_resumed") < kinds.iter().rposition(|k| *k == "node_started").unwrap(), "{kinds:?}");
    // A finished run can be neither paused nor resumed.
    for verb in ["pause", "resume"] {
        let late = post(&app, &format!("/api/v1/executions/{execution}/{verb}"), json!({})).await;
        assert_eq!(late.status, StatusCode::CONFLICT, "{verb}: {}", late.text);
        assert_eq!(late.body["error"], "ConflictError");
    }
    let unknown = post(&app, &format!("/api/v1/executions/{}/pause", uuid::Uuid::now_v7()), json!({})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
}

#[tokio::test]
async fn an_approval_decided_while_paused_by_hand_goes_on_only_when_resumed() {
    let app = app();
    let wf = workflow(
        json!([
            start("s"),
            node("a", json!({"type": "Approval", "config": {"message": "ok?"}})),
            code("next", "echo go"),
            end("e")
        ]),
        json!([edge("s", "a"), edge("a", "next"), edge("next", "e")]),
    );
    let wf = create(&app, wf).await;
    let execution = execute(&app, &wf, json!({})).await;
    until(&app, &execution, |b| b["state"] == "Paused").await;
    assert_eq!(post(&app, &format!("/api/v1/executions/{execution}/pause"), json!({})).await.status, StatusCode::OK);
    let list = get(&app, &format!("/api/v1/executions/{execution}/approvals")).await;
    let id = list.body["approvals"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(post(&app, &format!("/api/v1/approvals/{id}/approve"), json!({})).await.status, StatusCode::OK);
    // The decision completes the node; the run parks again without starting the next one.
    let held = until(&app, &execution, |b| b["state"] == "Paused" && result(b, "a")["status"] == "Succeeded").await;
    assert!(result(&held, "next").is_null() || result(&held, "next")["status"] == "Pending", "{held}");
    assert_eq!(post(&app, &format!("/api/v1/executions/{execution}/resume"), json!({})).await.status, StatusCode::OK);
    let done = finished(&app, &execution).await;
    assert_eq!(done["state"], "Completed", "{done}");
    assert_eq!(result(&done, "next")["output"], "go");
}

/// What the receiver got: each request's headers and body.
type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A receiver of notifications on loopback that answers 500 to the first request and 204 after.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let seen = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let mut all = seen.lock().unwrap();
                all.push((headers, body));
                if all.len() == 1 { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::NO_CONTENT }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

#[tokio::test]
async fn an_approval_notifies_its_url_signed_retries_a_failure_and_logs_every_attempt() {
    let app = app();
    let key = "whsec-approvals-0001";
    let secret = post(&app, "/api/v1/secrets", json!({"name": "HOOK_KEY", "value": key})).await;
    assert_eq!(secret.status, StatusCode::CREATED, "{}", secret.text);
    let (url, received) = receiver().await;
    let approval = json!({"type": "Approval", "config": {"message": "Deploy {{env}}?", "notify_url": url, "notify_secret": "HOOK_KEY"}});
    let wf = create(
        &app,
        workflow(json!([start("s"), node("a", approval), end("e")]), json!([edge("s", "a"), edge("a", "e")])),
    )
    .await;
    let execution = execute(&app, &wf, json!({"env": "prod"})).await;
    until(&app, &execution, |b| b["state"] == "Paused").await;
    let id = get(&app, &format!("/api/v1/executions/{execution}/approvals")).await.body["approvals"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The first attempt gets a 500; the second, a second later, a 204.
    let mut shown = Value::Null;
    for _ in 0..1000 {
        shown = get(&app, &format!("/api/v1/approvals/{id}")).await.body;
        if shown["notification"]["state"] == "Delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let log = &shown["notification"];
    assert_eq!(log["state"], "Delivered", "{shown}");
    let attempts = log["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{shown}");
    assert_eq!((attempts[0]["status"].as_u64(), attempts[1]["status"].as_u64()), (Some(500), Some(204)), "{shown}");
    assert!(attempts[0]["error"].as_str().unwrap().contains("500"), "{shown}");
    assert!(!shown.to_string().contains(key), "the signing key is never shown: {shown}");
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    for (headers, body) in &received {
        let payload: Value = serde_json::from_str(body).unwrap();
        assert_eq!(payload["event"], "approval_requested");
        assert_eq!(payload["id"], id.as_str());
        assert_eq!(payload["request"]["message"], "Deploy prod?");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["x-oxify-delivery"], id.as_str());
        // The receiver checks the signature with the key it shares with the workspace.
        let signature = headers["x-oxify-signature"].to_str().unwrap();
        let t: i64 = signature.strip_prefix("t=").unwrap().split(',').next().unwrap().parse().unwrap();
        assert_eq!(signature, oxify_api::domain::human::notify::signature(key.as_bytes(), t, body.as_bytes()));
    }
    // Answering the approval is not held up by its notification.
    assert_eq!(post(&app, &format!("/api/v1/approvals/{id}/approve"), json!({})).await.status, StatusCode::OK);
    assert_eq!(finished(&app, &execution).await["state"], "Completed");
}

#[tokio::test]
async fn a_notification_without_its_signing_secret_is_not_sent_and_says_why() {
    let app = app();
    let (url, received) = receiver().await;
    let approval = json!({"type": "Approval", "config": {"message": "ok?", "notify_url": url}});
    let wf = create(
        &app,
        workflow(json!([start("s"), node("a", approval), end("e")]), json!([edge("s", "a"), edge("a", "e")])),
    )
    .await;
    let execution = execute(&app, &wf, json!({})).await;
    until(&app, &execution, |b| b["state"] == "Paused").await;
    let list = get(&app, &format!("/api/v1/executions/{execution}/approvals")).await;
    let id = list.body["approvals"][0]["id"].as_str().unwrap().to_owned();
    let mut shown = Value::Null;
    for _ in 0..500 {
        shown = get(&app, &format!("/api/v1/approvals/{id}")).await.body;
        if !shown["notification"]["attempts"].as_array().is_none_or(Vec::is_empty) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let error = shown["notification"]["attempts"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("NOTIFY_SIGNING_KEY"), "{shown}");
    assert_eq!(shown["notification"]["state"], "Pending", "retried later: {shown}");
    assert!(received.lock().unwrap().is_empty(), "nothing unsigned was sent");
}
