//! The settings of access: registration, anonymous access, tokens, single sign-on, the first
//! start's admin key and request limits. Each is a flag and an `OXIFY_*` variable; secrets are
//! hidden from `--help` and from `Debug`.

use crate::adapters::auth::jwt::MIN_SECRET_BYTES;
use crate::adapters::http::client_address::trusted_proxies;
use crate::domain::identity::{ApiKeySecret, Registration};
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, ValueEnum};
use std::fmt;
use std::path::PathBuf;

/// `OXIFY_REGISTRATION`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RegistrationMode {
    Open,
    Closed,
}

impl From<RegistrationMode> for Registration {
    fn from(mode: RegistrationMode) -> Self {
        match mode {
            RegistrationMode::Open => Self::Open,
            RegistrationMode::Closed => Self::Closed,
        }
    }
}

/// Longest token lifetime accepted: 30 days.
const MAX_JWT_TTL_SECS: u64 = 30 * 24 * 3600;

#[derive(Clone, Args)]
pub struct AccessConfig {
    /// Who may create an account with POST /api/v1/auth/register: `open` (anyone who reaches the
    /// server, getting a workspace of their own; every such user can spend the server's LLM
    /// provider keys) or `closed` (only Admins register users).
    #[arg(long, env = "OXIFY_REGISTRATION", value_enum, default_value = "open")]
    pub registration: RegistrationMode,

    /// Let requests without credentials in, as an Admin of the default workspace: for a
    /// single-user setup on one machine only. Credentials that are sent are still checked.
    #[arg(long, env = "OXIFY_ALLOW_ANONYMOUS", action = ArgAction::Set, num_args = 0..=1,
          default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub allow_anonymous: bool,

    /// Secret (at least 32 bytes) that signs the server's access tokens (HS256). Unset: one is
    /// generated at the first start and kept in the database, shared by every process on it.
    #[arg(long, env = "OXIFY_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Seconds an access token from login or register is valid.
    #[arg(long, env = "OXIFY_JWT_TTL_SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(60..=MAX_JWT_TTL_SECS))]
    pub jwt_ttl_secs: u64,

    /// OpenID Connect issuer whose tokens sign users in (single sign-on), exactly as its tokens'
    /// `iss` writes it, e.g. https://accounts.example.com. Needs OXIFY_OIDC_AUDIENCE.
    #[arg(long, env = "OXIFY_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,

    /// The audience (`aud`) the issuer's tokens must be meant for: this server's client id there.
    #[arg(long, env = "OXIFY_OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,

    /// File the first start writes its admin API key to, readable by the owner only (default:
    /// oxify-admin.key beside the SQLite database, else in the working directory).
    #[arg(long, env = "OXIFY_BOOTSTRAP_KEY_FILE")]
    pub bootstrap_key_file: Option<PathBuf>,

    /// An admin API key (oxk_<prefix>_<secret>, as the server makes them) to store at the first
    /// start instead of generating one, for automation; then nothing is printed or written.
    #[arg(long, env = "OXIFY_BOOTSTRAP_ADMIN_KEY", hide_env_values = true)]
    pub bootstrap_admin_key: Option<String>,

    /// Requests a minute per user or API key (anonymous ones: per client address); 0: no limit.
    #[arg(long, env = "OXIFY_RATE_LIMIT_PER_MIN", default_value_t = 6000)]
    pub rate_limit_per_min: u32,

    /// Login and register attempts a minute per client address; 0: no limit.
    #[arg(long, env = "OXIFY_AUTH_RATE_LIMIT_PER_MIN", default_value_t = 10)]
    pub auth_rate_limit_per_min: u32,

    /// Proxies (addresses or CIDR networks, comma separated) whose X-Forwarded-For is believed for
    /// the client's address; from anyone else the header is ignored.
    #[arg(long, env = "OXIFY_TRUSTED_PROXIES", value_delimiter = ',', default_value = "")]
    pub trusted_proxies: Vec<String>,
}

impl fmt::Debug for AccessConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |set: bool| if set { "(set, hidden)" } else { "(unset)" };
        f.debug_struct("AccessConfig")
            .field("registration", &self.registration)
            .field("allow_anonymous", &self.allow_anonymous)
            .field("jwt_secret", &hidden(self.jwt_secret.is_some()))
            .field("jwt_ttl_secs", &self.jwt_ttl_secs)
            .field("oidc_issuer", &self.oidc_issuer)
            .field("oidc_audience", &self.oidc_audience)
            .field("bootstrap_key_file", &self.bootstrap_key_file)
            .field("bootstrap_admin_key", &hidden(self.bootstrap_admin_key.is_some()))
            .field("rate_limit_per_min", &self.rate_limit_per_min)
            .field("auth_rate_limit_per_min", &self.auth_rate_limit_per_min)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

impl AccessConfig {
    /// The settings checked (and blanks dropped).
    ///
    /// # Errors
    /// One line naming the first bad setting and the form it expects.
    pub fn checked(mut self) -> Result<Self, String> {
        self.jwt_secret = self.jwt_secret.filter(|s| !s.is_empty());
        if let Some(secret) = &self.jwt_secret
            && secret.len() < MIN_SECRET_BYTES
        {
            return Err(format!(
                "OXIFY_JWT_SECRET (--jwt-secret): {} bytes is too short; expected at least {MIN_SECRET_BYTES} bytes (e.g. openssl rand -base64 48), or leave it unset to have one generated",
                secret.len()
            ));
        }
        self.oidc_issuer = self.oidc_issuer.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        self.oidc_audience = self.oidc_audience.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        match (&self.oidc_issuer, &self.oidc_audience) {
            (Some(issuer), Some(_)) => issuer_url(issuer)?,
            (Some(_), None) => {
                return Err("OXIFY_OIDC_AUDIENCE (--oidc-audience): needed with OXIFY_OIDC_ISSUER; expected the audience its tokens carry (this server's client id there)".into());
            }
            (None, Some(_)) => {
                return Err("OXIFY_OIDC_ISSUER (--oidc-issuer): needed with OXIFY_OIDC_AUDIENCE; expected the issuer's URL, e.g. https://accounts.example.com".into());
            }
            (None, None) => {}
        }
        self.bootstrap_admin_key = self.bootstrap_admin_key.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        if let Some(key) = &self.bootstrap_admin_key {
            ApiKeySecret::parse(key).map_err(|why| {
                format!("OXIFY_BOOTSTRAP_ADMIN_KEY (--bootstrap-admin-key): {why}; expected a key as the server makes them, oxk_ then 10 and 40 characters of a-z and 2-7 joined by _")
            })?;
        }
        trusted_proxies(&self.trusted_proxies)?;
        Ok(self)
    }

    /// The bootstrap key given for automation, checked.
    #[must_use]
    pub fn given_admin_key(&self) -> Option<ApiKeySecret> {
        self.bootstrap_admin_key.as_deref().and_then(|k| ApiKeySecret::parse(k).ok())
    }
}

/// An issuer must be an https URL; plain http only on this machine (a test issuer), since its
/// keys decide who may sign in.
fn issuer_url(text: &str) -> Result<(), String> {
    let setting = "OXIFY_OIDC_ISSUER (--oidc-issuer)";
    let url = reqwest::Url::parse(text)
        .map_err(|_| format!("{setting}: '{text}' is not a URL; expected e.g. https://accounts.example.com"))?;
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!("{setting}: '{text}' must be an https URL (plain http only for an issuer on this machine)")),
    }
}

#[cfg(test)]
mod tests {
    use crate::startup::config::Config;
    use clap::Parser;

    fn check(args: &[&str]) -> Result<Config, String> {
        let mut all = vec!["oxify-api"];
        all.extend_from_slice(args);
        Config::try_parse_from(all).map_err(|e| e.to_string())?.checked_with_env(|_| None)
    }

    #[test]
    fn access_settings_are_checked_and_secrets_never_shown() {
        let c = check(&["--jwt-secret", "0123456789abcdef0123456789abcdef-x", "--allow-anonymous"]).unwrap();
        assert!(c.access.allow_anonymous);
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
        assert!(!check(&["--allow-anonymous", "false"]).unwrap().access.allow_anonymous);
        assert!(!check(&[]).unwrap().access.allow_anonymous, "no anonymous access by default");
        assert!(check(&["--jwt-secret", "short"]).unwrap_err().starts_with("OXIFY_JWT_SECRET (--jwt-secret): "));
        let no_audience = check(&["--oidc-issuer", "https://idp.example"]).unwrap_err();
        assert!(no_audience.starts_with("OXIFY_OIDC_AUDIENCE"), "{no_audience}");
        let plain = check(&["--oidc-issuer", "http://idp.example", "--oidc-audience", "x"]).unwrap_err();
        assert!(plain.contains("https"), "{plain}");
        check(&["--oidc-issuer", "http://127.0.0.1:9000/realm", "--oidc-audience", "x"]).unwrap();
        let bad_key = check(&["--bootstrap-admin-key", "hunter2"]).unwrap_err();
        assert!(bad_key.starts_with("OXIFY_BOOTSTRAP_ADMIN_KEY") && !bad_key.contains("hunter2"), "{bad_key}");
        assert!(check(&["--trusted-proxies", "10.0.0.0/8,nope"]).unwrap_err().starts_with("OXIFY_TRUSTED_PROXIES"));
        assert!(check(&["--registration", "maybe"]).is_err());
    }
}
