//! What access leaves in the audit log: sign-ins and registrations (in each of the user's
//! workspaces), API keys created and revoked, workspaces created, members set and removed; never
//! a key, a password or a token.

use crate::support::harness;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn actions(h: &crate::support::Harness, token: &str) -> Vec<(String, Value)> {
    let reply = h.get("/api/v1/audit?limit=100", Some(token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e.clone()))
        .collect()
}

#[tokio::test]
async fn sign_ins_keys_and_members_are_audited_without_secrets() {
    let h = harness(|_| {}).await;
    let (ada, body) = h.register("ada@example.com").await;
    let ada_id = body["user"]["id"].as_str().unwrap().to_owned();
    let login = h
        .post("/api/v1/auth/login", None, &json!({"email": "ada@example.com", "password": "correct horse battery"}))
        .await;
    assert_eq!(login.status, StatusCode::OK);
    let (key, created) = h.key(&ada, "Read").await;
    let key_id = created["id"].as_str().unwrap();
    h.delete(&format!("/api/v1/api-keys/{key_id}"), Some(&ada)).await;
    h.register("bob@example.com").await;
    let own = h.first_workspace(&ada).await;
    let added = h
        .post(
            &format!("/api/v1/workspaces/{own}/members"),
            Some(&ada),
            &json!({"email": "bob@example.com", "role": "Write"}),
        )
        .await;
    let bob_id = added.body["user_id"].as_str().unwrap().to_owned();
    h.delete(&format!("/api/v1/workspaces/{own}/members/{bob_id}"), Some(&ada)).await;
    let entries = actions(&h, &ada).await;
    let names: Vec<&str> = entries.iter().map(|(a, _)| a.as_str()).collect();
    for expected in
        ["auth.registered", "auth.signed_in", "api_key.created", "api_key.revoked", "member.set", "member.removed"]
    {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    let (_, signed_in) = entries.iter().find(|(a, _)| a == "auth.signed_in").unwrap();
    assert_eq!(signed_in["actor"], format!("user:{ada_id}"));
    let (_, revoked) = entries.iter().find(|(a, _)| a == "api_key.revoked").unwrap();
    assert_eq!(revoked["target"], key_id);
    let text = serde_json::to_string(&entries.iter().map(|(_, e)| e).collect::<Vec<_>>()).unwrap();
    assert!(!text.contains(&key) && !text.contains(&key[15..]), "no key in the log");
    assert!(!text.contains("correct horse") && !text.contains(&ada[..20]), "no password or token in the log");
    // Bob's registration is in Bob's workspace, not Ada's.
    assert_eq!(names.iter().filter(|a| **a == "auth.registered").count(), 1);
}
