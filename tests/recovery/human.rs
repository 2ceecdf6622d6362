//! Runs parked on people, through the real binary: an approval survives SIGKILL and a restart,
//! an expiry that fell due while no server ran fires at the next start, two processes on one
//! Postgres database fire one timer once, and a form's password never reaches a log line.

use super::{BIN, Running, get, kill_9, post, postgres_url, wait_until};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The binary with a debug log written to `log` (a file), on `database_url`.
fn start_logging(database_url: &str, log: Option<&std::path::Path>) -> Running {
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap()),
        None => Stdio::inherit(),
    };
    let mut child = Command::new(BIN)
        .args(["--host", "127.0.0.1", "--port", "0", "--database-url", database_url, "--lease-secs", "2"])
        .env("OXIFY_LOG_LEVEL", if log.is_some() { "debug" } else { "warn" })
        .env("OXIFY_ALLOW_ANONYMOUS", "true")
        .env("OXIFY_SECRETS_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("oxify-api listening on ").unwrap_or_else(|| panic!("{line}")).to_owned();
    Running { child, url }
}

fn human(kind: Value) -> Value {
    json!({"workflow": {"metadata": {"name": "human"},
        "nodes": [{"id": "s", "name": "S", "kind": {"type": "Start"}}, {"id": "h", "name": "H", "kind": kind},
                  {"id": "e", "name": "E", "kind": {"type": "End"}}],
        "edges": [{"from": "s", "to": "h"}, {"from": "h", "to": "e"}]}})
}

fn approval(timeout_seconds: Option<u64>) -> Value {
    human(json!({"type": "Approval", "config": {"message": "Ship {{ what }}?", "timeout_seconds": timeout_seconds}}))
}

/// Starts a run of `workflow` on `base` and waits until it is parked on its request (`approvals`
/// or `forms`); returns the execution and request ids.
async fn parked(base: &str, workflow: Value, kind: &str) -> (String, String) {
    let wf = post(&format!("{base}/api/v1/workflows"), workflow).await;
    let wf = wf["id"].as_str().unwrap_or_else(|| panic!("{wf}")).to_owned();
    let run = post(&format!("{base}/api/v1/workflows/{wf}/execute"), json!({"variables": {"what": "it"}})).await;
    let execution = run["execution_id"].as_str().unwrap().to_owned();
    wait_until(&format!("{base}/api/v1/executions/{execution}"), |r| r["state"] == "Paused").await;
    let list = wait_until(&format!("{base}/api/v1/executions/{execution}/{kind}"), |l| l["total"] == 1).await;
    (execution, list[kind][0]["id"].as_str().unwrap().to_owned())
}

fn finished(run: &Value) -> bool {
    matches!(run["state"].as_str(), Some("Completed" | "Failed" | "Cancelled"))
}

async fn approval_survives_sigkill(database_url: &str) {
    let mut first = start_logging(database_url, None);
    let (execution, approval) = parked(&first.url, approval(None), "approvals").await;
    kill_9(&mut first);
    let second = start_logging(database_url, None);
    let shown = get(&format!("{}/api/v1/approvals/{approval}", second.url)).await;
    assert_eq!((shown["state"].as_str(), shown["message"].as_str()), (Some("Pending"), Some("Ship it?")), "{shown}");
    let decided = post(&format!("{}/api/v1/approvals/{approval}/approve", second.url), json!({"comment": "go"})).await;
    assert_eq!(decided["state"], "Approved", "{decided}");
    let run = wait_until(&format!("{}/api/v1/executions/{execution}", second.url), finished).await;
    assert_eq!(run["state"], "Completed", "{run}");
    let h = run["node_results"].as_array().unwrap().iter().find(|n| n["node_id"] == "h").unwrap();
    assert_eq!(h["output"]["comment"], "go", "{run}");
}

#[tokio::test]
async fn sqlite_a_run_parked_on_an_approval_survives_sigkill_and_continues_when_approved() {
    let dir = tempfile::tempdir().unwrap();
    approval_survives_sigkill(&format!("sqlite://{}", dir.path().join("approval.db").display())).await;
}

#[tokio::test]
#[cfg_attr(not(oxify_test_postgres), ignore = "needs OXIFY_TEST_POSTGRES_URL at build time (.ci/run sets it)")]
async fn postgres_a_run_parked_on_an_approval_survives_sigkill_and_continues_when_approved() {
    approval_survives_sigkill(&postgres_url().await).await;
}

#[tokio::test]
async fn an_expiry_that_fell_due_while_the_server_was_down_fires_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("expiry.db").display());
    let mut first = start_logging(&database, None);
    let (execution, approval) = parked(&first.url, approval(Some(3)), "approvals").await;
    let shown = get(&format!("{}/api/v1/approvals/{approval}", first.url)).await;
    assert_eq!(shown["state"], "Pending", "{shown}");
    let due: chrono::DateTime<chrono::Utc> = shown["expires_at"].as_str().unwrap().parse().unwrap();
    kill_9(&mut first);
    // Still pending when the server died; due while no server runs.
    let left = (due - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(200)).await;
    let second = start_logging(&database, None);
    let run = wait_until(&format!("{}/api/v1/executions/{execution}", second.url), finished).await;
    assert_eq!(run["state"], "Failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("timed out"), "{run}");
    assert_eq!(get(&format!("{}/api/v1/approvals/{approval}", second.url)).await["state"], "Expired");
}

#[tokio::test]
#[cfg_attr(not(oxify_test_postgres), ignore = "needs OXIFY_TEST_POSTGRES_URL at build time (.ci/run sets it)")]
async fn two_processes_on_postgres_fire_one_timer_once() {
    let url = postgres_url().await;
    let (a, b) = (start_logging(&url, None), start_logging(&url, None));
    let (execution, approval) = parked(&a.url, approval(Some(2)), "approvals").await;
    let run = wait_until(&format!("{}/api/v1/executions/{execution}", b.url), finished).await;
    assert_eq!(run["state"], "Failed", "{run}");
    assert_eq!(get(&format!("{}/api/v1/approvals/{approval}", b.url)).await["state"], "Expired");
    let stream = reqwest::get(format!("{}/api/v1/executions/{execution}/stream", a.url)).await.unwrap();
    let text = tokio::time::timeout(Duration::from_secs(10), stream.text()).await.unwrap().unwrap();
    let count = |name: &str| text.lines().filter(|l| *l == format!("event: {name}")).count();
    assert_eq!(count("approval_decided"), 1, "{text}");
    assert_eq!(count("node_failed"), 1, "{text}");
    assert_eq!(count("execution_failed"), 1, "{text}");
}

#[tokio::test]
async fn a_form_password_never_reaches_a_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("form.db").display());
    let log = dir.path().join("server.log");
    let server = start_logging(&database, Some(&log));
    let form = human(json!({"type": "Form", "config": {"title": "Login", "fields": [
        {"id": "user", "label": "User", "field_type": "Text", "required": true},
        {"id": "pw", "label": "Password", "field_type": "Password", "required": true}]}}));
    let (execution, id) = parked(&server.url, form, "forms").await;
    let secret = "pa55-w0rd-never-shown";
    let submitted =
        post(&format!("{}/api/v1/forms/{id}/submit", server.url), json!({"values": {"user": "ada", "pw": secret}}))
            .await;
    assert_eq!(submitted["values"]["pw"], "[redacted]", "{submitted}");
    let run = wait_until(&format!("{}/api/v1/executions/{execution}", server.url), finished).await;
    assert_eq!(run["state"], "Completed", "{run}");
    let stream = reqwest::get(format!("{}/api/v1/executions/{execution}/stream", server.url)).await.unwrap();
    let text = stream.text().await.unwrap();
    assert!(text.contains("form_submitted") && !text.contains(secret), "{text}");
    assert!(!run.to_string().contains(secret));
    drop(server);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("DEBUG") || logged.contains("debug"), "the log was written: {logged}");
    assert!(!logged.contains(secret), "the password reached the log");
}
