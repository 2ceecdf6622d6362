//! The server's tokens over HTTP: an expired, tampered, unsigned (`alg: none`), foreign-audience
//! or foreign-issuer token is a 401 in the error format; a token of a deleted account too.

use crate::support::{SECRET, harness, is_unauthorized};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret.as_bytes()).unwrap())
        .unwrap()
}

fn claims(sub: &str, exp_from_now: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub, "iss": "oxify-api", "aud": "oxify-api", "iat": now, "exp": now + exp_from_now})
}

#[tokio::test]
async fn only_valid_unexpired_tokens_of_this_server_are_accepted() {
    let h = harness(|_| {}).await;
    let (token, body) = h.register("tok@example.com").await;
    let user = body["user"]["id"].as_str().unwrap();
    assert_eq!(h.get("/api/v1/workflows", Some(&token)).await.status, StatusCode::OK);
    let forged_ok = sign(&claims(user, 600), SECRET);
    assert_eq!(h.get("/api/v1/workflows", Some(&forged_ok)).await.status, StatusCode::OK, "the secret signs");

    let expired = sign(&claims(user, -3600), SECRET);
    is_unauthorized(&h.get("/api/v1/workflows", Some(&expired)).await, "expired");

    let (head, rest) = token.split_once('.').unwrap();
    let signature = rest.split_once('.').unwrap().1;
    let other = h.register("other@example.com").await.1;
    let mut swapped = claims(other["user"]["id"].as_str().unwrap(), 600);
    swapped["iat"] = json!(1);
    let tampered = format!("{head}.{}.{signature}", URL_SAFE_NO_PAD.encode(swapped.to_string()));
    is_unauthorized(&h.get("/api/v1/workflows", Some(&tampered)).await, "signature");

    let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none}.{}.", URL_SAFE_NO_PAD.encode(claims(user, 600).to_string()));
    let reply = h.get("/api/v1/workflows", Some(&unsigned)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "alg none: {}", reply.body);
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims(user, 600),
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    is_unauthorized(&h.get("/api/v1/workflows", Some(&hs512)).await, "algorithm");

    let mut audience = claims(user, 600);
    audience["aud"] = json!("another-service");
    is_unauthorized(&h.get("/api/v1/workflows", Some(&sign(&audience, SECRET))).await, "audience");
    let mut issuer = claims(user, 600);
    issuer["iss"] = json!("https://someone.example");
    is_unauthorized(&h.get("/api/v1/workflows", Some(&sign(&issuer, SECRET))).await, "issuer");
    let other_secret = sign(&claims(user, 600), "another secret that is long enough, too!!");
    is_unauthorized(&h.get("/api/v1/workflows", Some(&other_secret)).await, "signature");
    let ghost = sign(&claims(&uuid::Uuid::now_v7().to_string(), 600), SECRET);
    is_unauthorized(&h.get("/api/v1/workflows", Some(&ghost)).await, "no longer exists");
    is_unauthorized(&h.get("/api/v1/workflows", Some("garbage")).await, "malformed");
    let plain = h.send(h.http.get(h.url("/api/v1/workflows")).header("authorization", "Basic YTpi")).await;
    is_unauthorized(&plain, "Bearer");
    is_unauthorized(&h.get("/api/v1/workflows", None).await, "credentials");
    for reply in [h.get("/api/v1/workflows", Some(&expired)).await, h.get("/api/v1/workflows", Some(&tampered)).await] {
        assert!(!reply.body.to_string().contains(&token[..20]), "no token is echoed");
    }
}
