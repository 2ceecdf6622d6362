//! Posting JSON to a URL someone configured (an approval's or a form's `notify_url`).

/// What a receiver answered: its HTTP status.
pub type WebhookStatus = u16;

/// Why a POST got no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookFailure {
    /// The URL itself is refused (not http(s), or an address the server may not reach): trying
    /// again cannot help.
    #[error("refused: {0}")]
    Refused(String),
    /// The connection failed or timed out.
    #[error("{0}")]
    NoAnswer(String),
}

/// Sends one signed JSON POST.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs `body` (JSON) to `url` with `headers`; returns the receiver's status, whatever it is.
    ///
    /// # Errors
    /// No answer ([`WebhookFailure`]); its text names the cause, not the URL's credentials.
    async fn post(
        &self,
        url: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<WebhookStatus, WebhookFailure>;
}
