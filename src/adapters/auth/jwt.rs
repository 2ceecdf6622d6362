//! The server's own access tokens: JWTs signed with HS256 under a secret of at least 32 bytes
//! (from `OXIFY_JWT_SECRET`, or generated and kept in the database), naming the user in `sub`,
//! with our own `iss` and `aud` and an expiry. Any other algorithm (`none` included), a bad
//! signature, another audience or issuer, or an expired token is refused.

use crate::domain::ids::UserId;
use crate::ports::{IssuedToken, TokenIssuer};
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The `iss` and `aud` of the tokens this server issues.
pub const ISSUER: &str = "oxify-api";
/// Fewest bytes of a signing secret: HS256's key should be as long as its hash (RFC 7518 3.2).
pub const MIN_SECRET_BYTES: usize = 32;
/// Seconds of clock difference tolerated on `exp` (processes on several machines).
const LEEWAY_SECS: u64 = 30;

/// What the server writes into its tokens.
#[derive(Debug, Serialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
}

/// What is read back: only the subject (the validation checks the rest, and says which claim is
/// missing rather than calling the token malformed).
#[derive(Debug, Deserialize)]
struct Subject {
    sub: String,
}

/// Issues and checks the server's own tokens.
pub struct LocalTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: u64,
}

impl std::fmt::Debug for LocalTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTokens").field("ttl_secs", &self.ttl_secs).finish_non_exhaustive()
    }
}

impl LocalTokens {
    /// Tokens signed with `secret`, valid for `ttl_secs` seconds.
    ///
    /// # Errors
    /// A secret shorter than [`MIN_SECRET_BYTES`].
    pub fn new(secret: &[u8], ttl_secs: u64) -> Result<Self, String> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!("the JWT secret must have at least {MIN_SECRET_BYTES} bytes"));
        }
        let encoding = EncodingKey::from_secret(secret).map_err(|e| e.to_string())?;
        let decoding = DecodingKey::from_secret(secret).map_err(|e| e.to_string())?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        Ok(Self { encoding, decoding, validation, ttl_secs })
    }

    /// The user a token of ours names.
    ///
    /// # Errors
    /// Why the token is refused, in a sentence that does not repeat it.
    pub fn verify(&self, token: &str) -> Result<UserId, String> {
        let data =
            jsonwebtoken::decode::<Subject>(token, &self.decoding, &self.validation).map_err(|e| refusal(e.kind()))?;
        data.claims.sub.parse().map(UserId).map_err(|_| "the token's subject is not a user id".to_owned())
    }
}

impl TokenIssuer for LocalTokens {
    fn issue(&self, user: UserId, now: DateTime<Utc>) -> Result<IssuedToken, String> {
        let iat = now.timestamp();
        let ttl = i64::try_from(self.ttl_secs).unwrap_or(i64::MAX);
        let claims =
            Claims { sub: user.to_string(), iss: ISSUER.into(), aud: ISSUER.into(), iat, exp: iat.saturating_add(ttl) };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| format!("signing a token failed: {e}"))?;
        Ok(IssuedToken { token, expires_in: self.ttl_secs })
    }
}

/// What a client is told about a refused token (of ours or of an OpenID Connect issuer).
#[must_use]
pub fn refusal(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired; sign in again".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet".into(),
        ErrorKind::InvalidSignature => "the token's signature is not valid".into(),
        ErrorKind::InvalidAudience => "the token is meant for another audience".into(),
        ErrorKind::InvalidIssuer => "the token comes from an issuer this server does not accept".into(),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName | ErrorKind::UnsupportedAlgorithm => {
            "the token's signing algorithm is not accepted".into()
        }
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no '{claim}' claim"),
        ErrorKind::InvalidClaimFormat(claim) => format!("the token's '{claim}' claim is malformed"),
        _ => "the token is malformed".into(),
    }
}

/// The `iss` claim of a JWT, read without checking anything, to choose who checks it.
#[must_use]
pub fn unverified_issuer(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Issuer {
        iss: Option<String>,
    }
    jsonwebtoken::dangerous::insecure_decode_claims::<Issuer>(token).ok()?.iss
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn encode(claims: &serde_json::Value, secret: &[u8]) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret).unwrap())
            .unwrap()
    }

    fn claims(exp_from_now: i64) -> serde_json::Value {
        let now = Utc::now().timestamp();
        serde_json::json!({"sub": UserId::generate().to_string(), "iss": ISSUER, "aud": ISSUER, "iat": now, "exp": now + exp_from_now})
    }

    #[test]
    fn an_issued_token_names_its_user_until_it_expires() {
        let tokens = LocalTokens::new(SECRET, 3600).unwrap();
        let user = UserId::generate();
        let issued = tokens.issue(user, Utc::now()).unwrap();
        assert_eq!(issued.expires_in, 3600);
        assert_eq!(tokens.verify(&issued.token).unwrap(), user);
        assert_eq!(unverified_issuer(&issued.token).as_deref(), Some(ISSUER));
        let old = tokens.issue(user, Utc::now() - chrono::TimeDelta::hours(2)).unwrap();
        assert!(tokens.verify(&old.token).unwrap_err().contains("expired"));
        assert!(!format!("{tokens:?}").contains("0123456789"));
    }

    #[test]
    fn tampered_unsigned_foreign_and_misaddressed_tokens_are_refused() {
        let tokens = LocalTokens::new(SECRET, 3600).unwrap();
        let good = encode(&claims(600), SECRET);
        let (head, rest) = good.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let mut forged = claims(600);
        forged["sub"] = serde_json::json!(UserId::generate().to_string());
        let forged_payload = URL_SAFE_NO_PAD.encode(forged.to_string());
        let tampered = format!("{head}.{forged_payload}.{signature}");
        assert!(tokens.verify(&tampered).unwrap_err().contains("signature"));
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{forged_payload}.");
        assert!(tokens.verify(&unsigned).is_err());
        let other_key = encode(&claims(600), b"another secret of at least 32 bytes!");
        assert!(tokens.verify(&other_key).unwrap_err().contains("signature"));
        let mut elsewhere = claims(600);
        elsewhere["aud"] = serde_json::json!("someone-else");
        assert!(tokens.verify(&encode(&elsewhere, SECRET)).unwrap_err().contains("audience"));
        let mut stranger = claims(600);
        stranger["iss"] = serde_json::json!("https://evil.example");
        assert!(tokens.verify(&encode(&stranger, SECRET)).unwrap_err().contains("issuer"));
        assert!(tokens.verify(&encode(&claims(-120), SECRET)).unwrap_err().contains("expired"));
        let mut no_expiry = claims(600);
        no_expiry.as_object_mut().unwrap().remove("exp");
        assert!(tokens.verify(&encode(&no_expiry, SECRET)).unwrap_err().contains("'exp'"));
        assert!(tokens.verify("not.a.token").unwrap_err().contains("malformed"));
        assert!(LocalTokens::new(b"short", 60).is_err());
    }
}
