//! Workspaces and members: a user's workspaces, acting in another with `X-Oxify-Workspace`,
//! adding and changing members by email or id, the last Admin, and 404 for outsiders.

use crate::support::{harness, is_error, workflow};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn members_are_added_by_email_or_id_and_act_with_their_role() {
    let h = harness(|_| {}).await;
    let (ada, _) = h.register("ada@example.com").await;
    let (bob, bob_body) = h.register("bob@example.com").await;
    let team = h.post("/api/v1/workspaces", Some(&ada), &json!({"name": "Team"})).await;
    assert_eq!(team.status, StatusCode::CREATED, "{}", team.body);
    assert_eq!(team.body["role"], "Admin");
    let team = team.body["id"].as_str().unwrap().to_owned();
    let members = format!("/api/v1/workspaces/{team}/members");
    // Bob is not a member: the workspace does not exist for him.
    is_error(&h.get(&members, Some(&bob)).await, StatusCode::NOT_FOUND, "NotFound");
    let as_team = |token: &str| {
        h.http.post(h.url("/api/v1/workflows")).bearer_auth(token).header("X-Oxify-Workspace", &team).json(&workflow())
    };
    is_error(&h.send(as_team(&bob)).await, StatusCode::FORBIDDEN, "Forbidden");
    let added = h.post(&members, Some(&ada), &json!({"email": "BOB@example.com", "role": "Read"})).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!((added.body["role"].as_str(), added.body["email"].as_str()), (Some("Read"), Some("bob@example.com")));
    is_error(&h.send(as_team(&bob)).await, StatusCode::FORBIDDEN, "Forbidden");
    let bob_id = bob_body["user"]["id"].as_str().unwrap();
    let promoted = h.post(&members, Some(&ada), &json!({"user_id": bob_id, "role": "Write"})).await;
    assert_eq!(promoted.status, StatusCode::OK, "a role change: {}", promoted.body);
    assert_eq!(h.send(as_team(&bob)).await.status, StatusCode::CREATED, "Bob writes in the team now");
    // Without the header Bob still acts in his own (first) workspace.
    let me = h.get("/api/v1/auth/me", Some(&bob)).await;
    let names: Vec<&str> =
        me.body["workspaces"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Test's workspace", "Team"]);
    let listed = h.get(&members, Some(&bob)).await;
    assert_eq!(listed.body["total"], 2, "{}", listed.body);
    // Only Admins manage members.
    is_error(
        &h.post(&members, Some(&bob), &json!({"user_id": bob_id, "role": "Admin"})).await,
        StatusCode::FORBIDDEN,
        "Forbidden",
    );
    is_error(
        &h.post(&members, Some(&ada), &json!({"email": "nobody@example.com", "role": "Read"})).await,
        StatusCode::NOT_FOUND,
        "NotFound",
    );
    is_error(&h.post(&members, Some(&ada), &json!({"role": "Read"})).await, StatusCode::BAD_REQUEST, "BadRequest");
    let removed = h.delete(&format!("{members}/{bob_id}"), Some(&ada)).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    is_error(&h.send(as_team(&bob)).await, StatusCode::FORBIDDEN, "Forbidden");
    is_error(&h.get(&members, Some(&bob)).await, StatusCode::NOT_FOUND, "NotFound");
    // An API key cannot create workspaces.
    let (key, _) = h.key(&ada, "Admin").await;
    is_error(
        &h.post("/api/v1/workspaces", Some(&key), &json!({"name": "x"})).await,
        StatusCode::FORBIDDEN,
        "Forbidden",
    );
}

#[tokio::test]
async fn the_last_admin_can_be_neither_removed_nor_demoted() {
    let h = harness(|_| {}).await;
    let (ada, ada_body) = h.register("ada@example.com").await;
    let (_, bob_body) = h.register("bob@example.com").await;
    let own = h.first_workspace(&ada).await;
    let members = format!("/api/v1/workspaces/{own}/members");
    let ada_id = ada_body["user"]["id"].as_str().unwrap();
    let bob_id = bob_body["user"]["id"].as_str().unwrap();
    let demoted = h.post(&members, Some(&ada), &json!({"user_id": ada_id, "role": "Write"})).await;
    is_error(&demoted, StatusCode::CONFLICT, "ConflictError");
    assert!(demoted.body["message"].as_str().unwrap().contains("last Admin"));
    is_error(&h.delete(&format!("{members}/{ada_id}"), Some(&ada)).await, StatusCode::CONFLICT, "ConflictError");
    // With a second Admin, the first may step down.
    h.post(&members, Some(&ada), &json!({"user_id": bob_id, "role": "Admin"})).await;
    let stepped = h.post(&members, Some(&ada), &json!({"user_id": ada_id, "role": "Read"})).await;
    assert_eq!(stepped.status, StatusCode::OK, "{}", stepped.body);
    let listed = h.get(&members, Some(&ada)).await;
    let admins = listed.body["members"].as_array().unwrap().iter().filter(|m| m["role"] == "Admin").count();
    assert_eq!(admins, 1);
}
