//! Single sign-on against an OpenID Connect issuer on loopback (an axum server serving discovery
//! and a JWKS, with keys from tests/fixtures/oidc): RS256 and ES256 tokens sign users in (created
//! on first sight), audience, issuer, expiry and signature are checked, and a rotated key (an
//! unknown `kid`) is fetched, no more often than the minimum gap.

use crate::support::{harness, is_unauthorized, workflow};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oxify_api::adapters::auth::oidc::{OidcError, OidcSettings, OidcVerifier};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const AUDIENCE: &str = "oxify-test";

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/oidc/{name}.pem", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A signing key of the test issuer.
struct Key {
    kid: &'static str,
    alg: Algorithm,
    encoding: EncodingKey,
}

impl Key {
    fn rsa(kid: &'static str, file: &str) -> Self {
        Self { kid, alg: Algorithm::RS256, encoding: EncodingKey::from_rsa_pem(&pem(file)).unwrap() }
    }

    fn ec(kid: &'static str, file: &str) -> Self {
        Self { kid, alg: Algorithm::ES256, encoding: EncodingKey::from_ec_pem(&pem(file)).unwrap() }
    }

    fn public(&self) -> Jwk {
        let mut jwk = Jwk::from_encoding_key(&self.encoding, self.alg).unwrap();
        jwk.common.key_id = Some(self.kid.into());
        jwk
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.into());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// The issuer on loopback: its URL, the key set it publishes (replaceable), and how often the
/// key set was fetched.
struct Issuer {
    url: String,
    keys: Arc<Mutex<JwkSet>>,
    fetches: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct IssuerState {
    url: String,
    keys: Arc<Mutex<JwkSet>>,
    fetches: Arc<AtomicUsize>,
}

async fn issuer(keys: &[&Key]) -> Issuer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let set = Arc::new(Mutex::new(JwkSet { keys: keys.iter().map(|k| k.public()).collect() }));
    let fetches = Arc::new(AtomicUsize::new(0));
    let state = IssuerState { url: url.clone(), keys: set.clone(), fetches: fetches.clone() };
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(|State(s): State<IssuerState>| async move {
                Json(json!({"issuer": s.url, "jwks_uri": format!("{}/jwks", s.url), "id_token_signing_alg_values_supported": ["RS256", "ES256"]}))
            }),
        )
        .route(
            "/jwks",
            get(|State(s): State<IssuerState>| async move {
                s.fetches.fetch_add(1, Ordering::SeqCst);
                let keys = s.keys.lock().unwrap().clone();
                Json(keys)
            }),
        )
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Issuer { url, keys: set, fetches }
}

fn claims(issuer: &str, sub: &str, email: &str, verified: bool) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": issuer, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600,
           "email": email, "email_verified": verified, "name": "Sso User"})
}

#[tokio::test]
async fn rs256_and_es256_tokens_of_the_issuer_sign_users_in() {
    let (rsa, ec) = (Key::rsa("rsa-1", "rsa-1"), Key::ec("ec-1", "ec-1"));
    let idp = issuer(&[&rsa, &ec]).await;
    let url = idp.url.clone();
    let h = harness(|c| {
        c.access.oidc_issuer = Some(url);
        c.access.oidc_audience = Some(AUDIENCE.into());
    })
    .await;
    let token = rsa.sign(&claims(&idp.url, "user-1", "sso@example.com", true));
    let me = h.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!((me.body["kind"].as_str(), me.body["email"].as_str()), (Some("User"), Some("sso@example.com")));
    assert_eq!(me.body["name"], "Sso User");
    assert_eq!(me.body["workspaces"][0]["role"], "Admin", "open registration: a workspace of their own");
    let id = me.body["id"].clone();
    assert_eq!(h.post("/api/v1/workflows", Some(&token), &workflow()).await.status, StatusCode::CREATED);
    // The same subject through the other key is the same user.
    let again = ec.sign(&claims(&idp.url, "user-1", "sso@example.com", true));
    assert_eq!(h.get("/api/v1/auth/me", Some(&again)).await.body["id"], id);
    assert_eq!(h.get("/api/v1/workflows", Some(&again)).await.body["total"], 1);
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1, "the keys are cached");

    let mut wrong = claims(&idp.url, "user-1", "sso@example.com", true);
    wrong["aud"] = json!("someone-else");
    is_unauthorized(&h.get("/api/v1/auth/me", Some(&rsa.sign(&wrong))).await, "audience");
    let mut expired = claims(&idp.url, "user-1", "sso@example.com", true);
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    is_unauthorized(&h.get("/api/v1/auth/me", Some(&rsa.sign(&expired))).await, "expired");
    let stranger = rsa.sign(&claims("https://elsewhere.example", "user-1", "sso@example.com", true));
    is_unauthorized(&h.get("/api/v1/auth/me", Some(&stranger)).await, "issuer");
    // Signed by a key the issuer does not publish, under a kid it does.
    let impostor = Key { kid: "rsa-1", ..Key::rsa("rsa-1", "rsa-2") };
    is_unauthorized(
        &h.get("/api/v1/auth/me", Some(&impostor.sign(&claims(&idp.url, "user-1", "x@example.com", true)))).await,
        "signature",
    );
    // The issuer's name on a token signed with a shared secret is not its token.
    let hmac = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(&idp.url, "user-1", "sso@example.com", true),
        &EncodingKey::from_secret(crate::support::SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    is_unauthorized(&h.get("/api/v1/auth/me", Some(&hmac)).await, "algorithm");
}

#[tokio::test]
async fn a_verified_email_links_to_the_existing_account_and_an_unverified_one_does_not() {
    let rsa = Key::rsa("rsa-1", "rsa-1");
    let idp = issuer(&[&rsa]).await;
    let url = idp.url.clone();
    let h = harness(|c| {
        c.access.oidc_issuer = Some(url);
        c.access.oidc_audience = Some(AUDIENCE.into());
    })
    .await;
    let (_, local) = h.register("linked@example.com").await;
    let verified = rsa.sign(&claims(&idp.url, "sub-verified", "linked@example.com", true));
    assert_eq!(h.get("/api/v1/auth/me", Some(&verified)).await.body["id"], local["user"]["id"]);
    let unverified = rsa.sign(&claims(&idp.url, "sub-unverified", "linked@example.com", false));
    let other = h.get("/api/v1/auth/me", Some(&unverified)).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);
    assert_ne!(other.body["id"], local["user"]["id"], "an unverified address takes over no account");
    assert_eq!(other.body["email"], Value::Null);
}

fn verifier(issuer: &str, min_gap: Duration) -> OidcVerifier {
    let mut settings = OidcSettings::new(issuer, AUDIENCE);
    settings.min_refresh_gap = min_gap;
    OidcVerifier::new(settings).unwrap()
}

#[tokio::test]
async fn a_rotated_key_is_fetched_when_a_token_names_it() {
    let (old, new) = (Key::rsa("rsa-1", "rsa-1"), Key::rsa("rsa-2", "rsa-2"));
    let idp = issuer(&[&old]).await;
    let check = verifier(&idp.url, Duration::ZERO);
    let first = check.verify(&old.sign(&claims(&idp.url, "u", "u@example.com", true))).await.unwrap();
    assert_eq!((first.subject.as_str(), first.email_verified), ("u", true));
    // The issuer rotates: the new key appears in its set.
    idp.keys.lock().unwrap().keys.push(new.public());
    let rotated = check.verify(&new.sign(&claims(&idp.url, "u", "u@example.com", true))).await.unwrap();
    assert_eq!(rotated.subject, "u");
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 2, "one fetch for the unknown kid");
    let unknown = Key { kid: "rsa-3", ..Key::rsa("rsa-3", "rsa-2") };
    let refused = check.verify(&unknown.sign(&claims(&idp.url, "u", "u@example.com", true))).await;
    assert!(matches!(&refused, Err(OidcError::Refused(m)) if m.contains("not among")), "{refused:?}");
}

#[tokio::test]
async fn unknown_key_ids_cannot_make_the_server_hammer_the_issuer() {
    let (old, new) = (Key::rsa("rsa-1", "rsa-1"), Key::rsa("rsa-2", "rsa-2"));
    let idp = issuer(&[&old]).await;
    let check = verifier(&idp.url, Duration::from_secs(3600));
    check.verify(&old.sign(&claims(&idp.url, "u", "u@example.com", true))).await.unwrap();
    idp.keys.lock().unwrap().keys.push(new.public());
    for _ in 0..5 {
        let refused = check.verify(&new.sign(&claims(&idp.url, "u", "u@example.com", true))).await;
        assert!(matches!(refused, Err(OidcError::Refused(_))), "{refused:?}");
    }
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1, "no fetch within the minimum gap");
}

#[tokio::test]
async fn an_unreachable_issuer_is_unavailable_not_a_bad_token() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let check = verifier(&url, Duration::ZERO);
    let token = Key::rsa("rsa-1", "rsa-1").sign(&claims(&url, "u", "u@example.com", true));
    assert!(matches!(check.verify(&token).await, Err(OidcError::Unavailable(_))));
}
