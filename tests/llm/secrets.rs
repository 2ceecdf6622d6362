//! Workspace secrets in a real run: a prompt refers to `{{ secrets.CRM_TOKEN }}`, the workspace
//! has its own OpenAI key, and the model answers with the token (as a leaky model might). The
//! provider receives both; no response, streamed frame, list or database byte has either.

use super::provider::{Provider, Reply};
use super::{OPENAI_KEY, chain, harness_from_env, llm, node};
use oxify_api::app::executor::ExecutorLimits;
use oxify_api::app::services::Services;
use oxify_api::startup::config::Config;
use oxify_api::startup::server::Server;
use oxify_api::startup::wiring::{self, runners_with_env};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

const TOKEN: &str = "crm-tok-7f3a9c1e5b2d";
const WORKSPACE_KEY: &str = "sk-workspace-own-key-4242424242";

#[tokio::test]
async fn secrets_reach_the_provider_and_nothing_else() {
    let (provider, provider_url) = Provider::start().await;
    let env: HashMap<&str, String> =
        HashMap::from([("OPENAI_BASE_URL", format!("{provider_url}/v1")), ("OPENAI_API_KEY", OPENAI_KEY.to_owned())]);
    let dir = std::env::temp_dir().join(format!("oxify-secrets-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("run.db");
    let mut config = Config::defaults();
    (config.host, config.port) = ("127.0.0.1".into(), 0);
    config.database_url = format!("sqlite://{}", db.display());
    config.secrets_key_file = Some(dir.join("secrets.key"));
    config.access.allow_anonymous = true;
    let runners = runners_with_env(&config, |k| env.get(k).cloned()).unwrap();
    let mut ports = wiring::open(&config.database_url, 4, runners).await.unwrap();
    let key = oxify_api::adapters::secrets::key_file::load_or_create(&config.secrets_key_path()).unwrap();
    ports.cipher = std::sync::Arc::new(oxify_api::adapters::secrets::XChaCha::new(&key));
    let services = Services::assemble(ports, ExecutorLimits::default(), Duration::from_secs(30));
    let server = Server::start(&config, services).await.unwrap();
    let base = format!("http://{}", server.addr());
    let http = reqwest::Client::new();
    let mut seen = String::new();
    let mut call = async |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = http.request(method, format!("{base}{path}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.unwrap();
        let status = reply.status().as_u16();
        let text = reply.text().await.unwrap();
        seen.push_str(&text);
        (status, text)
    };

    for (name, value) in [("CRM_TOKEN", TOKEN), ("OPENAI_API_KEY", WORKSPACE_KEY)] {
        let (status, text) =
            call(reqwest::Method::POST, "/api/v1/secrets", Some(json!({"name": name, "value": value}))).await;
        assert_eq!(status, 201, "{text}");
    }
    let (status, text) =
        call(reqwest::Method::POST, "/api/v1/secrets", Some(json!({"name": "CRM_TOKEN", "value": TOKEN}))).await;
    assert_eq!(status, 200, "setting it again replaces it: {text}");
    provider.always(Reply::OpenAiStream {
        pieces: vec!["The token is ".into(), "crm-tok-7f3a".into(), "9c1e5b2d, ".into(), "done.".into()],
        gap: Duration::from_millis(5),
        usage: (10, 5),
    });
    let workflow = chain(vec![llm("ask", "openai", "Look up the order with token {{ secrets.CRM_TOKEN }}", json!({}))]);
    let (status, text) = call(reqwest::Method::POST, "/api/v1/workflows", Some(workflow)).await;
    assert_eq!(status, 201, "{text}");
    let id = serde_json::from_str::<Value>(&text).unwrap()["id"].as_str().unwrap().to_owned();
    let (status, text) = call(reqwest::Method::POST, &format!("/api/v1/workflows/{id}/execute"), Some(json!({}))).await;
    assert_eq!(status, 202, "{text}");
    let execution = serde_json::from_str::<Value>(&text).unwrap()["execution_id"].as_str().unwrap().to_owned();
    // The stream, followed from the start while the run goes on.
    let (_, stream) = call(reqwest::Method::GET, &format!("/api/v1/executions/{execution}/stream"), None).await;
    let (_, run) = call(reqwest::Method::GET, &format!("/api/v1/executions/{execution}"), None).await;
    let run: Value = serde_json::from_str(&run).unwrap();
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(node(&run, "ask")["output"]["response"], "The token is [redacted], done.");
    assert!(stream.contains("[redacted]"), "the streamed answer is redacted too: {stream}");
    for path in [
        format!("/api/v1/executions/{execution}/stream"),
        "/api/v1/executions".into(),
        "/api/v1/secrets".into(),
        "/api/v1/secrets/CRM_TOKEN".into(),
        format!("/api/v1/workflows/{id}"),
    ] {
        call(reqwest::Method::GET, &path, None).await;
    }

    let sent = provider.requests();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body.to_string().contains(TOKEN), "the provider got the secret in the prompt");
    let auth = sent[0].headers["authorization"].to_str().unwrap();
    assert_eq!(auth, format!("Bearer {WORKSPACE_KEY}"), "the workspace's own key replaces the server's");

    for secret in [TOKEN, WORKSPACE_KEY] {
        assert!(!seen.contains(secret), "an API answer shows {secret}");
    }
    drop(server);
    for file in std::fs::read_dir(&dir).unwrap() {
        let path = file.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for secret in [TOKEN, WORKSPACE_KEY] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds {secret} in clear",
                path.display()
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A server without a provider's key (the provider's own endpoint, no key set) still takes
/// workflows for that provider from a workspace that holds the key as a secret named like the
/// server's variable (runs then use it: see above); another provider's key does not count.
#[tokio::test]
async fn a_workspace_key_stands_in_for_a_missing_server_key_at_save() {
    let (provider, provider_url) = Provider::start().await;
    let h = harness_from_env(provider, provider_url, HashMap::new(), |_| {}).await;
    let workflow = chain(vec![llm("ask", "anthropic", "Hello", json!({}))]);
    let (status, body) = h.post("/api/v1/workflows", workflow.clone()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["details"][0]["path"], "workflow.nodes[1].kind.config");
    assert!(body.to_string().contains("ANTHROPIC_API_KEY"), "the message names the key: {body}");

    let (status, body) = h.post("/api/v1/secrets", json!({"name": "OPENAI_API_KEY", "value": WORKSPACE_KEY})).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = h.post("/api/v1/workflows", workflow.clone()).await;
    assert_eq!(status, 400, "another provider's key does not count: {body}");

    let (status, body) = h.post("/api/v1/secrets", json!({"name": "ANTHROPIC_API_KEY", "value": WORKSPACE_KEY})).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = h.post("/api/v1/workflows", workflow).await;
    assert_eq!(status, 201, "{body}");
    assert!(!body.to_string().contains(WORKSPACE_KEY));
}
