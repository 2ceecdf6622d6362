//! Idempotency keys outlive the process: the real binary answers an execute request with a key,
//! is killed with SIGKILL at once, starts again on the same database, and answers the retry from
//! the stored key (200, the same body, the same execution). On SQLite always, on Postgres when
//! `OXIFY_TEST_POSTGRES_URL` is set (ignored otherwise).

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_oxify-api");

struct Running {
    child: Child,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(database_url: &str, extra: &[&str]) -> Running {
    let mut child = Command::new(BIN)
        .args(["--host", "127.0.0.1", "--port", "0", "--database-url", database_url])
        .args(extra)
        .env("OXIFY_LOG_LEVEL", "warn")
        .env("OXIFY_ALLOW_ANONYMOUS", "true")
        // A key of their own, so that no key file is written into the working directory.
        .env("OXIFY_SECRETS_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("oxify-api listening on ").unwrap_or_else(|| panic!("{line}")).to_owned();
    Running { child, url }
}

fn kill_9(running: &mut Running) {
    let pid = running.child.id().to_string();
    assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    running.child.wait().unwrap();
}

/// Status, `Idempotent-Replayed` and body text of a keyed execute request.
async fn execute(base: &str, workflow_id: &str, key: &str, body: &Value) -> (StatusCode, Option<String>, String) {
    let reply = reqwest::Client::new()
        .post(format!("{base}/api/v1/workflows/{workflow_id}/execute"))
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let replayed = reply.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap().to_owned());
    (reply.status(), replayed, reply.text().await.unwrap())
}

async fn idempotent_execute_across_a_restart_on(database_url: &str) {
    let mut first = start(database_url, &[]);
    let workflow = json!({"workflow": {"metadata": {"name": "keyed"},
        "nodes": [{"id": "s", "name": "S", "kind": {"type": "Start"}}, {"id": "e", "name": "E", "kind": {"type": "End"}}],
        "edges": [{"from": "s", "to": "e"}]}});
    let created: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/workflows", first.url))
        .json(&workflow)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let wf = created["id"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    let body = json!({"variables": {"q": "once", "n": 3}});
    let (status, replayed, answer) = execute(&first.url, &wf, "order-42", &body).await;
    assert_eq!((status, replayed), (StatusCode::ACCEPTED, None), "{answer}");
    let execution = serde_json::from_str::<Value>(&answer).unwrap()["execution_id"].as_str().unwrap().to_owned();
    // The 202 comes only once the execution and its key are durable: no grace for the kill.
    kill_9(&mut first);

    let second = start(database_url, &["--idempotency-ttl-secs", "3600"]);
    let respelled = json!({"variables": {"n": 3.0, "q": "once"}});
    let (status, replayed, again) = execute(&second.url, &wf, "order-42", &respelled).await;
    assert_eq!((status, replayed.as_deref()), (StatusCode::OK, Some("true")), "{again}");
    assert_eq!(again, answer, "the same body as the first answer");
    let (status, _, refused) = execute(&second.url, &wf, "order-42", &json!({"variables": {"q": "twice"}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(serde_json::from_str::<Value>(&refused).unwrap()["error"], "IdempotencyKeyReused");
    let runs: Value =
        reqwest::get(format!("{}/api/v1/workflows/{wf}/executions", second.url)).await.unwrap().json().await.unwrap();
    assert_eq!(runs["total"], 1, "{runs}");
    assert_eq!(runs["executions"][0]["execution_id"], execution.as_str());
}

#[tokio::test]
async fn idempotent_execute_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    idempotent_execute_across_a_restart_on(&format!("sqlite://{}", dir.path().join("keys.db").display())).await;
}

#[tokio::test]
#[cfg_attr(not(oxify_test_postgres), ignore = "needs OXIFY_TEST_POSTGRES_URL at build time (.ci/run sets it)")]
async fn idempotent_execute_across_a_restart_on_postgres() {
    let base = std::env::var("OXIFY_TEST_POSTGRES_URL")
        .ok()
        .or_else(|| option_env!("OXIFY_TEST_POSTGRES_URL").map(str::to_owned))
        .filter(|url| !url.is_empty())
        .expect("OXIFY_TEST_POSTGRES_URL must name a Postgres server for the Postgres tests");
    let schema = format!("keys_{}", uuid::Uuid::new_v4().simple());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("OXIFY_TEST_POSTGRES_URL is set but unreachable: {e}"));
    // The name is ours (a UUID in hex), and identifiers cannot be bound.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut conn).await.unwrap();
    let separator = if base.contains('?') { '&' } else { '?' };
    idempotent_execute_across_a_restart_on(&format!("{base}{separator}options=-c%20search_path%3D{schema}")).await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&mut conn).await;
}
