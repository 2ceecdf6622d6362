//! Register, login and me with the seed's shapes; the rules on emails and passwords; one answer
//! for an unknown email and a wrong password; closed registration.

use crate::support::{harness, is_error, is_unauthorized};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Instant;

#[tokio::test]
async fn register_login_and_me_answer_the_seeds_shapes() {
    let h = harness(|_| {}).await;
    let reply = h
        .post(
            "/api/v1/auth/register",
            None,
            &json!({"email": " Ada@Example.COM ", "password": "correct horse battery", "name": "Ada"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let body = &reply.body;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86400);
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3, "a JWT");
    let user = &body["user"];
    assert_eq!(user["email"], "ada@example.com", "normalised");
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["roles"], json!(["Admin"]), "open registration: Admin of a workspace of one's own");
    let id = user["id"].as_str().unwrap().to_owned();
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["access_token", "expires_in", "token_type", "user"]);

    let login = h
        .post("/api/v1/auth/login", None, &json!({"email": "ADA@example.com", "password": "correct horse battery"}))
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body["user"]["id"], id.as_str());
    assert_eq!(login.body["user"]["roles"], json!(["Admin"]));
    let token = login.body["access_token"].as_str().unwrap();

    let me = h.get("/api/v1/auth/me", Some(token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!((me.body["kind"].as_str(), me.body["id"].as_str()), (Some("User"), Some(id.as_str())));
    assert_eq!(me.body["email"], "ada@example.com");
    let workspaces = me.body["workspaces"].as_array().unwrap();
    assert_eq!(workspaces.len(), 1);
    assert_eq!(workspaces[0]["role"], "Admin");
    assert_eq!(workspaces[0]["name"], "Ada's workspace");
    // The token acts in that workspace: the user can store a workflow there.
    let created = h.post("/api/v1/workflows", Some(token), &crate::support::workflow()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let text = me.body.to_string() + &login.body.to_string();
    assert!(!text.contains("correct horse") && !text.contains("argon2"), "no password or hash is ever returned");
}

#[tokio::test]
async fn a_duplicate_email_is_a_conflict_and_bad_fields_are_all_named() {
    let h = harness(|_| {}).await;
    h.register("bob@example.com").await;
    let again = h
        .post("/api/v1/auth/register", None, &json!({"email": "BOB@example.com", "password": "another passphrase"}))
        .await;
    is_error(&again, StatusCode::CONFLICT, "ConflictError");
    let bad = h
        .post("/api/v1/auth/register", None, &json!({"email": "not an email", "password": "short", "name": " "}))
        .await;
    is_error(&bad, StatusCode::BAD_REQUEST, "ValidationError");
    let paths: Vec<&str> =
        bad.body["details"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["email", "name"], "{}", bad.body);
    let short = h.post("/api/v1/auth/register", None, &json!({"email": "c@example.com", "password": "short"})).await;
    is_error(&short, StatusCode::BAD_REQUEST, "ValidationError");
    assert_eq!(short.body["details"][0]["path"], "password");
    assert!(!short.body.to_string().contains("\"short\""), "the password is not echoed");
    let missing = h.post("/api/v1/auth/register", None, &json!({"email": "c@example.com"})).await;
    is_error(&missing, StatusCode::UNPROCESSABLE_ENTITY, "ValidationError");
}

#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_get_the_same_answer_in_similar_time() {
    let h = harness(|_| {}).await;
    h.register("carol@example.com").await;
    let attempt = |email: &'static str, password: &'static str| {
        let h = &h;
        async move {
            let started = Instant::now();
            let reply = h.post("/api/v1/auth/login", None, &json!({"email": email, "password": password})).await;
            (reply, started.elapsed())
        }
    };
    // Warm up the stand-in hash of unknown accounts.
    attempt("nobody@example.com", "whatever pass").await;
    let (wrong, wrong_time) = attempt("carol@example.com", "wrong password").await;
    let (unknown, unknown_time) = attempt("nobody@example.com", "wrong password").await;
    is_unauthorized(&wrong, "the email or the password is wrong");
    assert_eq!(wrong.body, unknown.body, "no account enumeration by message");
    assert_eq!(wrong.status, unknown.status);
    // Both hash a password: neither answers in a fraction of the other's time.
    let (fast, slow) = if wrong_time < unknown_time { (wrong_time, unknown_time) } else { (unknown_time, wrong_time) };
    assert!(slow < fast * 5 + std::time::Duration::from_millis(50), "{wrong_time:?} vs {unknown_time:?}");
    let malformed = h.post("/api/v1/auth/login", None, &json!({"email": "carol", "password": "x"})).await;
    is_error(&malformed, StatusCode::BAD_REQUEST, "ValidationError");
}

#[tokio::test]
async fn closed_registration_lets_only_admins_register_users() {
    let h = harness(|c| c.access.registration = oxify_api::startup::access_config::RegistrationMode::Closed).await;
    let body = json!({"email": "dan@example.com", "password": "correct horse battery"});
    let refused = h.post("/api/v1/auth/register", None, &body).await;
    is_error(&refused, StatusCode::FORBIDDEN, "Forbidden");
    assert!(refused.body["message"].as_str().unwrap().contains("closed"));
    let by_admin = h.post("/api/v1/auth/register", Some(&h.admin_key), &body).await;
    assert_eq!(by_admin.status, StatusCode::CREATED, "{}", by_admin.body);
    assert_eq!(by_admin.body["user"]["roles"], json!([]), "no workspace until an Admin adds the user");
    let token = by_admin.body["access_token"].as_str().unwrap();
    let nowhere = h.get("/api/v1/workflows", Some(token)).await;
    is_error(&nowhere, StatusCode::FORBIDDEN, "Forbidden");
    let me = h.get("/api/v1/auth/me", Some(token)).await;
    assert_eq!(me.status, StatusCode::OK, "a user without a workspace may still ask who they are");
    assert_eq!(me.body["workspaces"], json!([]));
    let (key, _) = h.key(&h.admin_key, "Write").await;
    let by_writer = h
        .post(
            "/api/v1/auth/register",
            Some(&key),
            &json!({"email": "eve@example.com", "password": "correct horse battery"}),
        )
        .await;
    is_error(&by_writer, StatusCode::FORBIDDEN, "Forbidden");
    let bad_token = h.post("/api/v1/auth/register", Some("oxk_nope"), &body).await;
    is_unauthorized(&bad_token, "not valid");
}
