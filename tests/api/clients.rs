//! The OpenAPI document as clients meet it: a maintained validator (openapi-spec-validator)
//! accepts it, a client generated from it by openapi-python-client drives the API (create,
//! execute, get, list, cancel), and the server accepts every example it gives. The tools are
//! Python packages that `.ci/run` installs; without them these tests fail saying how to get them.

use crate::support::spawn_server;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const TOOLS: &str = "python3 -m pip install openapi-spec-validator openapi-python-client (as .ci/run does)";

/// The served document, from a real server.
async fn document(base: &str) -> Value {
    reqwest::get(format!("{base}/api-docs/openapi.json")).await.unwrap().json().await.unwrap()
}

/// Runs `python3 -m <module> <args>`; fails the test with the tool's output when it fails.
fn python(module: &str, args: &[&str], env: &[(&str, &Path)]) -> String {
    let out = Command::new("python3")
        .arg("-m")
        .arg(module)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); install Python 3 and then {TOOLS}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains(&format!("No module named {module}")) {
        panic!("the Python module {module} is missing: {TOOLS}");
    }
    assert!(out.status.success(), "python3 -m {module} {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

#[tokio::test]
async fn the_document_passes_openapi_spec_validator() {
    let server = spawn_server(|_| {}).await;
    let doc = document(&format!("http://{}", server.addr())).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let out = python("openapi_spec_validator", &[file.to_str().unwrap()], &[]);
    assert!(out.contains("OK"), "{out}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_generated_python_client_creates_executes_gets_lists_and_cancels() {
    let server = spawn_server(|_| {}).await;
    let base = format!("http://{}", server.addr());
    let doc = document(&base).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("openapi.json");
    std::fs::write(&spec, doc.to_string()).unwrap();
    let package = dir.path().join("oxify_client");
    let out = python(
        "openapi_python_client",
        &["generate", "--path", spec.to_str().unwrap(), "--meta", "none", "--output-path", package.to_str().unwrap()],
        &[],
    );
    assert!(!out.contains("Warning"), "the generator had to guess:\n{out}");
    for named in ["llm_kind.py", "if_else_kind.py", "execution_state.py", "for_each_loop.py", "use_default_action.py"] {
        assert!(package.join("models").join(named).exists(), "no model {named}");
    }
    let example = dir.path().join("example.json");
    let request = &doc["paths"]["/api/v1/workflows"]["post"]["requestBody"]["content"]["application/json"]["example"];
    std::fs::write(&example, request.to_string()).unwrap();
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/drive_python_client.py");
    let base_arg = base.clone();
    let out = tokio::task::spawn_blocking(move || {
        let output = Command::new("python3")
            .arg(driver)
            .arg(&base_arg)
            .arg(&example)
            .env("PYTHONPATH", dir.path())
            .output()
            .expect("python3 runs");
        drop(dir);
        output
    })
    .await
    .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the generated client failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all passed"), "{stdout}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn every_request_example_in_the_document_is_accepted() {
    let server = spawn_server(|_| {}).await;
    let base = format!("http://{}", server.addr());
    let doc = document(&base).await;
    let http = reqwest::Client::new();
    let example =
        |path: &str| doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"].clone();
    // Sign up as the register example says (the login example signs in again), and as the user the
    // members example adds; everything else is done as the first user, in their workspace.
    let session: Value = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&example("/api/v1/auth/register"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["access_token"].as_str().expect("the register example is accepted").to_owned();
    let member = example("/api/v1/workspaces/{id}/members");
    let other = serde_json::json!({"email": member["email"], "password": "another long passphrase"});
    let added = http.post(format!("{base}/api/v1/auth/register")).json(&other).send().await.unwrap();
    assert_eq!(added.status(), 201, "{}", added.text().await.unwrap());
    let me: Value =
        http.get(format!("{base}/api/v1/auth/me")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let workspace = me["workspaces"][0]["id"].as_str().expect("the user's own workspace").to_owned();
    // A workflow to put examples to, made from the create example itself.
    let created: Value = http
        .post(format!("{base}/api/v1/workflows"))
        .bearer_auth(&token)
        .json(&example("/api/v1/workflows"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("the create example is accepted").to_owned();
    let mut tried = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(example) = operation.pointer("/requestBody/content/application~1json/example") else { continue };
            let target = if path.starts_with("/api/v1/workspaces/") { &workspace } else { &id };
            let url = format!("{base}{}", path.replace("{id}", target));
            let request = match method.as_str() {
                "post" => http.post(&url),
                "put" => http.put(&url),
                other => panic!("a {other} with a body"),
            };
            let reply = request.bearer_auth(&token).json(example).send().await.unwrap();
            let status = reply.status();
            let body = reply.text().await.unwrap();
            // Creating what exists already is refused as such; everything else succeeds.
            let again = status == 409 && matches!(path.as_str(), "/api/v1/workflows" | "/api/v1/auth/register");
            assert!(status.is_success() || again, "{method} {path}: {status} {body}");
            tried += 1;
        }
    }
    assert!(tried >= 3, "create, update and execute have examples");
    server.stop().await.unwrap();
}
