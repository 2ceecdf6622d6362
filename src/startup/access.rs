//! Who may do what: the authenticator (API keys, the server's tokens, an OpenID Connect issuer's
//! tokens, anonymous access when configured) and the identity use cases, built from the
//! configuration and the identity store. The token signing secret comes from the configuration,
//! or is generated once and kept in the database, so that every process on it shares it.

use super::access_config::AccessConfig;
use super::error::StartupError;
use crate::adapters::auth::oidc::{OidcSettings, OidcVerifier};
use crate::adapters::auth::{Argon2Passwords, IdentityAuthenticator, LocalTokens};
use crate::adapters::clock::SystemClock;
use crate::app::identity::IdentityServices;
use crate::domain::identity::Registration;
use crate::ports::{Authenticator, Clock, IdentityStore};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::sync::Arc;

/// The server setting the generated signing secret is kept under.
const SECRET_SETTING: &str = "jwt_secret";

/// The authenticator and the identity use cases of one server.
#[derive(Clone)]
pub struct Access {
    pub auth: Arc<dyn Authenticator>,
    pub identity: IdentityServices,
}

/// Builds access from the configuration.
///
/// # Errors
/// The stored secret cannot be read or stored; no random numbers; the single sign-on client
/// cannot be built.
pub async fn build(config: &AccessConfig, store: Arc<dyn IdentityStore>) -> Result<Access, StartupError> {
    let secret = match &config.jwt_secret {
        Some(secret) => secret.as_bytes().to_vec(),
        None => stored_secret(store.as_ref()).await?,
    };
    let tokens = Arc::new(LocalTokens::new(&secret, config.jwt_ttl_secs).map_err(StartupError::Config)?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let registration = Registration::from(config.registration);
    let mut auth = IdentityAuthenticator::new(store.clone(), tokens.clone(), clock.clone())
        .allowing_anonymous(config.allow_anonymous)
        .with_registration(registration);
    if let (Some(issuer), Some(audience)) = (&config.oidc_issuer, &config.oidc_audience) {
        let verifier =
            OidcVerifier::new(OidcSettings::new(issuer.clone(), audience.clone())).map_err(StartupError::Config)?;
        auth = auth.with_oidc(Arc::new(verifier));
    }
    let identity = IdentityServices::new(store, Arc::new(Argon2Passwords::default()), tokens, clock, registration);
    Ok(Access { auth: Arc::new(auth), identity })
}

/// The generated secret: the one in the database, or 48 new random bytes stored there first
/// (the first process to store one wins; the others read it).
async fn stored_secret(store: &dyn IdentityStore) -> Result<Vec<u8>, StartupError> {
    let failed = |why: String| StartupError::Config(format!("cannot keep the token signing secret: {why}"));
    let mut fresh = [0u8; 48];
    getrandom::fill(&mut fresh).map_err(|e| failed(format!("no random numbers: {e}")))?;
    let stored =
        store.setting_or_insert(SECRET_SETTING, &STANDARD.encode(fresh)).await.map_err(|e| failed(e.to_string()))?;
    STANDARD.decode(stored.trim()).map_err(|_| failed("the stored secret is not base64".into()))
}

/// Identity use cases over `store` with a random signing secret: for tests and tools that build
/// the router themselves.
///
/// # Panics
/// When the operating system gives no random numbers.
#[must_use]
pub fn local_identity(store: Arc<dyn IdentityStore>) -> IdentityServices {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).expect("random numbers");
    let tokens = Arc::new(LocalTokens::new(&secret, 86_400).expect("a 32-byte secret"));
    IdentityServices::new(
        store,
        Arc::new(Argon2Passwords::default()),
        tokens,
        Arc::new(SystemClock),
        Registration::Open,
    )
}
