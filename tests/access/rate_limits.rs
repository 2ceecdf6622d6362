//! Request limits: per principal (each API key or user its own budget), and a stricter one per
//! client address on login and register, where a spoofed `X-Forwarded-For` changes nothing
//! unless the request comes from a trusted proxy.

use crate::support::{Reply, harness, is_error};
use reqwest::StatusCode;
use serde_json::json;

fn is_rate_limited(reply: &Reply) {
    is_error(reply, StatusCode::TOO_MANY_REQUESTS, "RateLimited");
    let retry: u64 = reply.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
}

#[tokio::test]
async fn each_principal_has_its_own_budget() {
    let h = harness(|c| c.access.rate_limit_per_min = 3).await;
    let (key, _) = h.key(&h.admin_key, "Read").await;
    for _ in 0..3 {
        assert_eq!(h.get("/api/v1/workflows", Some(&key)).await.status, StatusCode::OK);
    }
    let limited = h.get("/api/v1/workflows", Some(&key)).await;
    is_rate_limited(&limited);
    assert!(limited.body["message"].as_str().unwrap().contains("credentials"), "{}", limited.body);
    // Another principal is not affected (the admin key spent one request creating the key).
    assert_eq!(h.get("/api/v1/workflows", Some(&h.admin_key)).await.status, StatusCode::OK);
    // Requests without credentials are counted per address.
    for _ in 0..3 {
        assert_eq!(h.get("/health", None).await.status, StatusCode::OK);
    }
    is_rate_limited(&h.get("/health", None).await);
}

async fn login(h: &crate::support::Harness, forwarded_for: Option<&str>) -> Reply {
    let mut request =
        h.http.post(h.url("/api/v1/auth/login")).json(&json!({"email": "x@example.com", "password": "wrong password"}));
    if let Some(value) = forwarded_for {
        request = request.header("X-Forwarded-For", value);
    }
    h.send(request).await
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_address_and_a_spoofed_forwarded_for_is_ignored() {
    let h = harness(|c| c.access.auth_rate_limit_per_min = 2).await;
    assert_eq!(login(&h, Some("203.0.113.1")).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&h, Some("203.0.113.2")).await.status, StatusCode::UNAUTHORIZED);
    // A direct client naming yet another address is still the same client.
    is_rate_limited(&login(&h, Some("203.0.113.3")).await);
    is_rate_limited(&login(&h, None).await);
    let register =
        h.post("/api/v1/auth/register", None, &json!({"email": "y@example.com", "password": "long enough"})).await;
    is_rate_limited(&register);
    // Other routes are not sign-in attempts.
    assert_eq!(h.get("/api/v1/workflows", Some(&h.admin_key)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let h = harness(|c| {
        c.access.auth_rate_limit_per_min = 2;
        c.access.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    // The proxy (loopback) appends the address it saw; what the client wrote before it is ignored.
    assert_eq!(login(&h, Some("203.0.113.1")).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&h, Some("1.1.1.1, 203.0.113.1")).await.status, StatusCode::UNAUTHORIZED);
    is_rate_limited(&login(&h, Some("2.2.2.2, 203.0.113.1")).await);
    // Another client behind the same proxy has its own budget.
    assert_eq!(login(&h, Some("203.0.113.2")).await.status, StatusCode::UNAUTHORIZED);
}
