//! A real server on 127.0.0.1 with in-memory storage and identities, an Admin key of the default
//! workspace, and small request helpers.

use oxify_api::adapters::clock::SystemClock;
use oxify_api::app::executor::ExecutorLimits;
use oxify_api::app::identity::{FirstKey, first_admin_key};
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::app::services::Services;
use oxify_api::startup::config::Config;
use oxify_api::startup::server::Server;
use oxify_api::startup::wiring;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::time::Duration;

/// The signing secret of the test servers (known, so tests can forge tokens with it).
pub const SECRET: &str = "a test secret that is long enough for HS256 signing";

pub struct Harness {
    /// Kept for the test's life (the server stops with the test's runtime).
    pub _server: Server,
    pub base: String,
    pub http: reqwest::Client,
    pub services: Services,
    /// An Admin API key of the default workspace (as the first start makes one).
    pub admin_key: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// A server with identities: no anonymous access, no request limits unless `configure` sets them.
pub async fn harness(configure: impl FnOnce(&mut Config)) -> Harness {
    let mut config = Config::defaults();
    config.host = "127.0.0.1".into();
    config.port = 0;
    config.database_url = "memory://".into();
    config.access.jwt_secret = Some(SECRET.into());
    config.access.rate_limit_per_min = 0;
    config.access.auth_rate_limit_per_min = 0;
    configure(&mut config);
    let config = config.checked_with_env(|_| None).expect("a valid test configuration");
    let services = Services::assemble(
        wiring::in_memory(RunnerRegistry::new()),
        ExecutorLimits::default(),
        Duration::from_secs(30),
    );
    let Some(FirstKey::Generated(key)) =
        first_admin_key(services.identities.as_ref(), &SystemClock, None).await.unwrap()
    else {
        panic!("a fresh store takes a first key");
    };
    let server = Server::start(&config, services.clone()).await.unwrap();
    let base = format!("http://{}", server.addr());
    Harness { _server: server, base, http: reqwest::Client::new(), services, admin_key: key.expose().to_owned() }
}

impl Harness {
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let text = response.text().await.unwrap();
        Reply { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        let mut request = self.http.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.http.delete(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    /// Registers `email` (open registration) and returns the session's token and the reply body.
    pub async fn register(&self, email: &str) -> (String, Value) {
        let reply = self
            .post(
                "/api/v1/auth/register",
                None,
                &json!({"email": email, "password": "correct horse battery", "name": "Test"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        (reply.body["access_token"].as_str().unwrap().to_owned(), reply.body)
    }

    /// The id of the first workspace of the caller of `token`.
    pub async fn first_workspace(&self, token: &str) -> String {
        let me = self.get("/api/v1/auth/me", Some(token)).await;
        me.body["workspaces"][0]["id"].as_str().unwrap().to_owned()
    }

    /// Creates an API key with `token` and returns it.
    pub async fn key(&self, token: &str, role: &str) -> (String, Value) {
        let reply =
            self.post("/api/v1/api-keys", Some(token), &json!({"name": format!("{role} key"), "role": role})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        (reply.body["key"].as_str().unwrap().to_owned(), reply.body)
    }
}

/// A workflow Start -> End, as the create route takes it.
pub fn workflow() -> Value {
    json!({"workflow": {"metadata": {"name": "access"},
        "nodes": [{"id": "s", "name": "S", "kind": {"type": "Start"}}, {"id": "e", "name": "E", "kind": {"type": "End"}}],
        "edges": [{"from": "s", "to": "e"}]}})
}

/// Asserts the error format with `kind`.
pub fn is_error(reply: &Reply, status: StatusCode, kind: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["error"], kind, "{}", reply.body);
    assert!(reply.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", reply.body);
}

/// Asserts a 401 in the error format with the RFC 6750 challenge, whose message mentions `about`.
pub fn is_unauthorized(reply: &Reply, about: &str) {
    is_error(reply, StatusCode::UNAUTHORIZED, "Unauthorized");
    assert_eq!(reply.headers["www-authenticate"], "Bearer");
    let message = reply.body["message"].as_str().unwrap();
    assert!(message.contains(about), "'{message}' should mention '{about}'");
}
