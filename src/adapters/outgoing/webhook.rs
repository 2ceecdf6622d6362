//! Notifications sent over HTTP, through the SSRF guard: a `notify_url` reaches only public
//! addresses and those `OXIFY_HTTP_ALLOW` opens, follows no redirect, and gets 10 s.

use super::client::guarded_client;
use super::guard::{AddressGuard, refusal};
use crate::ports::{WebhookFailure, WebhookSender, WebhookStatus};
use reqwest::redirect::Policy;
use std::sync::Arc;
use std::time::Duration;

/// How long one delivery attempt may take in all.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct HttpWebhookSender {
    client: reqwest::Client,
    guard: Arc<AddressGuard>,
}

impl HttpWebhookSender {
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(guard: Arc<AddressGuard>) -> Result<Self, String> {
        Ok(Self { client: guarded_client(guard.clone(), Policy::none())?, guard })
    }
}

#[async_trait::async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn post(
        &self,
        url: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<WebhookStatus, WebhookFailure> {
        let parsed = reqwest::Url::parse(url).map_err(|e| WebhookFailure::Refused(format!("not a URL: {e}")))?;
        self.guard.check_url(&parsed).map_err(|r| WebhookFailure::Refused(r.to_string()))?;
        let mut request = self
            .client
            .post(parsed)
            .timeout(ATTEMPT_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) => Err(match refusal(&e) {
                Some(refused) => WebhookFailure::Refused(refused.to_string()),
                None if e.is_timeout() => {
                    WebhookFailure::NoAnswer(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()))
                }
                None => WebhookFailure::NoAnswer(format!("no answer: {}", e.without_url())),
            }),
        }
    }
}
