//! Posting JSON to a URL someone configured (an approval's or a form's `notify_url`).

/// What a receiver answered: its HTTP status.
pub type WebhookStatus = u16;

/// How a [`WebhookSender`]'s error begins when the URL itself is refused.
pub const REFUSED: &str = "refused: ";

/// Sends one signed JSON POST.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs `body` (JSON) to `url` with `headers`; returns the receiver's status, whatever it is.
    ///
    /// # Errors
    /// No answer: the URL is refused (not http(s), or an address the server may not reach: the
    /// text starts with [`REFUSED`], and trying again cannot help), the connection failed or
    /// timed out. The text names the cause, not the URL's credentials.
    async fn post(&self, url: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> Result<WebhookStatus, String>;
}
