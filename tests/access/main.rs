//! Access end to end, against a real server on loopback: accounts (the seed's register, login
//! and me), the server's tokens (expiry, tampering, `alg: none`, audience, issuer), API keys
//! (shown once, revoked and expired keys, one workspace only), workspaces and members (the last
//! Admin), single sign-on against a JWKS server on loopback, rate limits (by principal, by client
//! address, spoofed and trusted `X-Forwarded-For`), cross-site writes, the first start's key (the
//! binary), and the security the OpenAPI document declares.

mod accounts;
mod api_keys;
mod audit;
mod cross_site;
mod first_start;
mod oidc;
mod openapi;
mod rate_limits;
mod support;
mod tokens;
mod workspaces;
