//! The `oxify-api` binary itself: start-up errors, SIGTERM, a closed stderr.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_oxify-api");

#[test]
fn an_unsupported_database_url_is_a_one_line_error_without_the_password() {
    let out = Command::new(BIN).args(["--database-url", "mysql://root:hunter2@db/x", "--port", "0"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    let last = err.lines().last().unwrap();
    assert!(last.starts_with("oxify-api: unsupported database URL mysql://root:***@db/x"), "{last}");
    assert!(!err.contains("hunter2"));
}

/// The last line the binary printed on stderr when it refused to start with these arguments.
fn refusal(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).args(["--port", "0"]).output().unwrap();
    assert!(!out.status.success(), "it should not start");
    let err = String::from_utf8(out.stderr).unwrap();
    err.lines().last().unwrap_or_default().to_owned()
}

#[test]
fn an_unreachable_postgres_is_a_one_line_error_naming_the_url_without_its_password() {
    let line = refusal(&["--database-url", "postgres://app:hunter2@127.0.0.1:1/oxify"]);
    assert!(
        line.starts_with("oxify-api: cannot open database postgres://app:***@127.0.0.1:1/oxify: cannot connect"),
        "{line}"
    );
    assert!(!line.contains("hunter2"));
}

#[test]
fn a_sqlite_file_that_cannot_be_created_is_a_one_line_error() {
    let line = refusal(&["--database-url", "sqlite:///nonexistent-dir/sub/oxify.db"]);
    assert!(line.starts_with("oxify-api: cannot open database sqlite:///nonexistent-dir/sub/oxify.db:"), "{line}");
}

#[test]
fn a_second_process_on_the_same_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("one.db").display());
    let mut first = Command::new(BIN)
        .args(["--host", "127.0.0.1", "--port", "0", "--database-url", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(first.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let second = refusal(&["--database-url", &url]);
    let _ = first.kill();
    let _ = first.wait();
    assert!(second.ends_with("is in use by another oxify-api process"), "{second}");
}

#[tokio::test]
async fn the_binary_serves_then_stops_cleanly_on_sigterm() {
    let mut child = Command::new(BIN)
        .args(["--host", "127.0.0.1", "--port", "0", "--database-url", "memory://"])
        .env("OXIFY_LOG_LEVEL", "warn")
        .env("OXIFY_ALLOW_ANONYMOUS", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("oxify-api listening on ").unwrap().to_owned();
    let health: serde_json::Value = reqwest::get(format!("{url}/health")).await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "healthy");
    stops_on_sigterm(&mut child).await;
}

/// Sends SIGTERM and waits up to ten seconds for a successful exit.
async fn stops_on_sigterm(child: &mut std::process::Child) {
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    panic!("the server did not stop on SIGTERM");
}

#[tokio::test]
async fn with_its_output_closed_the_server_still_answers_and_stops_on_sigterm() {
    // `oxify-api 2>&1 | head -3`: stdout and stderr share one pipe, whose reader goes away.
    let (reader, writer) = std::io::pipe().unwrap();
    let mut child = Command::new(BIN)
        .args(["--host", "127.0.0.1", "--port", "0", "--database-url", "memory://"])
        .env("OXIFY_LOG_LEVEL", "debug")
        .env("OXIFY_ALLOW_ANONYMOUS", "true")
        .env_remove("RUST_LOG")
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(reader).lines();
    let url = loop {
        let line = lines.next().expect("the server prints where it listens").unwrap();
        if let Some(url) = line.strip_prefix("oxify-api listening on ") {
            break url.to_owned();
        }
    };
    drop(lines);
    // Every request now logs (at debug level) into the closed pipe.
    let client = reqwest::Client::new();
    for _ in 0..20 {
        let reply = client.get(format!("{url}/health")).send().await.expect("answered, not dropped");
        assert_eq!(reply.status(), 200);
    }
    stops_on_sigterm(&mut child).await;
}
