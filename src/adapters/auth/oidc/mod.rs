//! Single sign-on: tokens of an OpenID Connect issuer (`OXIFY_OIDC_ISSUER`), checked against the
//! keys the issuer publishes (discovery document, then its `jwks_uri`): RS256 or ES256 only, the
//! issuer and the audience (`OXIFY_OIDC_AUDIENCE`) as configured, an expiry. The keys are cached
//! and fetched again when they are older than the refresh interval, and when a token names a key
//! the cache does not have (rotation), at most once per minimum gap.

mod key_cache;

use super::jwt::refusal;
use jsonwebtoken::{Algorithm, Validation};
use key_cache::KeyCache;
use serde::Deserialize;
use std::time::Duration;

/// How the issuer is reached and its keys kept.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// Exactly as the tokens' `iss` claim (and the discovery document's `issuer`) write it.
    pub issuer: String,
    /// What the tokens' `aud` must contain.
    pub audience: String,
    /// Keys older than this are fetched again before use.
    pub refresh_every: Duration,
    /// Fetches triggered by unknown key ids are at least this far apart, so that tokens with
    /// made-up `kid`s cannot make the server hammer the issuer.
    pub min_refresh_gap: Duration,
}

impl OidcSettings {
    /// Settings with the default intervals: keys refreshed hourly, unknown ids fetched for at
    /// most every 30 seconds.
    #[must_use]
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            refresh_every: Duration::from_secs(3600),
            min_refresh_gap: Duration::from_secs(30),
        }
    }
}

/// What a valid token says about its user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcClaims {
    /// `sub`: the user's id at the issuer.
    pub subject: String,
    pub email: Option<String>,
    /// `email_verified`: whether the issuer checked that the user owns the address.
    pub email_verified: bool,
    pub name: Option<String>,
}

/// Why a token was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// The token is bad (401); the sentence never repeats it.
    #[error("{0}")]
    Refused(String),
    /// The issuer's keys cannot be had right now (503).
    #[error("{0}")]
    Unavailable(String),
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    email: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    email_verified: bool,
    name: Option<String>,
}

/// `email_verified` as a boolean or, as some issuers write it, the text "true".
fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => b,
        serde_json::Value::String(s) => s == "true",
        _ => false,
    })
}

/// Checks tokens of one issuer.
pub struct OidcVerifier {
    settings: OidcSettings,
    keys: KeyCache,
}

impl OidcVerifier {
    /// A verifier that fetches the issuer's keys on first use.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(settings: OidcSettings) -> Result<Self, String> {
        let keys = KeyCache::new(&settings)?;
        Ok(Self { settings, keys })
    }

    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// The user a token of the issuer names.
    ///
    /// # Errors
    /// [`OidcError::Refused`] for a bad token, [`OidcError::Unavailable`] when the issuer's keys
    /// cannot be fetched.
    pub async fn verify(&self, token: &str) -> Result<OidcClaims, OidcError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| OidcError::Refused(refusal(e.kind())))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(OidcError::Refused("the token's signing algorithm is not accepted (RS256 or ES256)".into()));
        }
        let key = self.keys.key_for(header.kid.as_deref(), header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| OidcError::Refused(refusal(e.kind())))?;
        let c = data.claims;
        if c.sub.is_empty() {
            return Err(OidcError::Refused("the token's 'sub' claim is empty".into()));
        }
        Ok(OidcClaims { subject: c.sub, email: c.email, email_verified: c.email_verified, name: c.name })
    }
}
