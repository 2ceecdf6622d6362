//! API keys: shown once, listed by prefix and name, acting in their workspace with their role;
//! revoked keys refused at once, expired keys refused; a key of workspace A asking for workspace
//! B refused.

use crate::support::{harness, is_error, is_unauthorized, workflow};
use oxify_api::domain::access::Role;
use oxify_api::domain::identity::{ApiKeyRecord, ApiKeySecret};
use oxify_api::domain::ids::{ApiKeyId, WorkspaceId};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_key_is_shown_once_listed_by_prefix_and_acts_with_its_role() {
    let h = harness(|_| {}).await;
    let (key, created) = h.key(&h.admin_key, "Read").await;
    assert!(key.starts_with("oxk_") && key.len() == 4 + 10 + 1 + 40, "{key}");
    assert_eq!(created["prefix"].as_str(), Some(&key[4..14]));
    assert_eq!((created["role"].as_str(), created["name"].as_str()), (Some("Read"), Some("Read key")));
    assert_eq!(created["workspace_id"], WorkspaceId::DEFAULT.to_string());
    let listed = h.get("/api/v1/api-keys", Some(&h.admin_key)).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["total"], 2, "the first start's key and this one");
    let text = listed.body.to_string();
    assert!(!text.contains(&key) && !text.contains(&key[15..]), "a list never shows a key: {text}");
    assert!(listed.body["api_keys"].as_array().unwrap().iter().all(|k| k.get("key").is_none()));
    // A Read key reads, and may not write or manage keys.
    assert_eq!(h.get("/api/v1/workflows", Some(&key)).await.status, StatusCode::OK);
    is_error(&h.post("/api/v1/workflows", Some(&key), &workflow()).await, StatusCode::FORBIDDEN, "Forbidden");
    is_error(&h.get("/api/v1/api-keys", Some(&key)).await, StatusCode::FORBIDDEN, "Forbidden");
    let me = h.get("/api/v1/auth/me", Some(&key)).await;
    assert_eq!((me.body["kind"].as_str(), me.body["name"].as_str()), (Some("ApiKey"), Some("Read key")), "{}", me.body);
    // Bad requests name their field.
    let past = h
        .post(
            "/api/v1/api-keys",
            Some(&h.admin_key),
            &json!({"name": "x", "role": "Read", "expires_at": "2001-01-01T00:00:00Z"}),
        )
        .await;
    is_error(&past, StatusCode::BAD_REQUEST, "ValidationError");
    assert_eq!(past.body["details"][0]["path"], "expires_at");
    let role = h.post("/api/v1/api-keys", Some(&h.admin_key), &json!({"name": "x", "role": "Owner"})).await;
    is_error(&role, StatusCode::UNPROCESSABLE_ENTITY, "ValidationError");
}

#[tokio::test]
async fn a_revoked_key_is_refused_from_the_next_request_on() {
    let h = harness(|_| {}).await;
    let (key, created) = h.key(&h.admin_key, "Write").await;
    assert_eq!(h.post("/api/v1/workflows", Some(&key), &workflow()).await.status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap();
    let revoked = h.delete(&format!("/api/v1/api-keys/{id}"), Some(&h.admin_key)).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert!(revoked.body["revoked_at"].is_string());
    is_unauthorized(&h.get("/api/v1/workflows", Some(&key)).await, "revoked");
    is_unauthorized(&h.post("/api/v1/workflows", Some(&key), &workflow()).await, "revoked");
    let again = h.delete(&format!("/api/v1/api-keys/{id}"), Some(&h.admin_key)).await;
    assert_eq!(again.body["revoked_at"], revoked.body["revoked_at"], "revoking twice keeps the first time");
    let unknown = h.delete(&format!("/api/v1/api-keys/{}", ApiKeyId::generate()), Some(&h.admin_key)).await;
    is_error(&unknown, StatusCode::NOT_FOUND, "NotFound");
    // A key that was never issued, and one whose secret is wrong, get the same answer.
    let mut wrong = key.clone();
    wrong.replace_range(20..21, if &key[20..21] == "a" { "b" } else { "a" });
    let never = format!("oxk_{}_{}", "a".repeat(10), "b".repeat(40));
    let (w, n) = (h.get("/api/v1/workflows", Some(&wrong)).await, h.get("/api/v1/workflows", Some(&never)).await);
    is_unauthorized(&w, "not valid");
    assert_eq!(w.body, n.body);
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let h = harness(|_| {}).await;
    let secret = ApiKeySecret::from_random(&[9; oxify_api::domain::identity::api_key::RANDOM_BYTES]);
    let now = chrono::Utc::now();
    let record = ApiKeyRecord {
        id: ApiKeyId::generate(),
        workspace: WorkspaceId::DEFAULT,
        prefix: secret.prefix().to_owned(),
        hash: secret.hash(),
        name: "short-lived".into(),
        role: Role::Admin,
        created_at: now - chrono::TimeDelta::hours(2),
        expires_at: Some(now - chrono::TimeDelta::seconds(1)),
        revoked_at: None,
    };
    h.services.identities.create_api_key(&record).await.unwrap();
    is_unauthorized(&h.get("/api/v1/workflows", Some(secret.expose())).await, "expired");
    let soon = h
        .post(
            "/api/v1/api-keys",
            Some(&h.admin_key),
            &json!({"name": "soon", "role": "Read",
        "expires_at": (now + chrono::TimeDelta::seconds(2)).to_rfc3339()}),
        )
        .await;
    let key = soon.body["key"].as_str().unwrap().to_owned();
    assert_eq!(h.get("/api/v1/workflows", Some(&key)).await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    is_unauthorized(&h.get("/api/v1/workflows", Some(&key)).await, "expired");
}

#[tokio::test]
async fn a_key_of_workspace_a_cannot_reach_workspace_b() {
    let h = harness(|_| {}).await;
    let (user, _) = h.register("owner@example.com").await;
    let theirs = h.first_workspace(&user).await;
    let (key, _) = h.key(&user, "Admin").await;
    let created = h.post("/api/v1/workflows", Some(&key), &workflow()).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let workflow_id = created.body["id"].as_str().unwrap();
    // The key acts in its own workspace; asking for another is refused.
    let elsewhere = h
        .send(
            h.http
                .get(h.url("/api/v1/workflows"))
                .bearer_auth(&key)
                .header("X-Oxify-Workspace", WorkspaceId::DEFAULT.to_string()),
        )
        .await;
    is_error(&elsewhere, StatusCode::FORBIDDEN, "Forbidden");
    let own =
        h.send(h.http.get(h.url("/api/v1/workflows")).bearer_auth(&key).header("X-Oxify-Workspace", &theirs)).await;
    assert_eq!(own.body["total"], 1, "{}", own.body);
    // The default workspace's admin key sees nothing of it, and cannot revoke its keys.
    is_error(
        &h.get(&format!("/api/v1/workflows/{workflow_id}"), Some(&h.admin_key)).await,
        StatusCode::NOT_FOUND,
        "NotFound",
    );
    let listed = h.get("/api/v1/api-keys", Some(&h.admin_key)).await;
    assert!(!listed.body.to_string().contains(&key[4..14]), "{}", listed.body);
    let key_id = h.get("/api/v1/api-keys", Some(&user)).await.body["api_keys"][0]["id"].as_str().unwrap().to_owned();
    is_error(
        &h.delete(&format!("/api/v1/api-keys/{key_id}"), Some(&h.admin_key)).await,
        StatusCode::NOT_FOUND,
        "NotFound",
    );
    is_error(
        &h.get(&format!("/api/v1/workspaces/{theirs}/members"), Some(&h.admin_key)).await,
        StatusCode::NOT_FOUND,
        "NotFound",
    );
}
