//! Redaction of secrets (the server's provider keys, a workspace's secrets) from what a node
//! produces: an upstream error message that quotes a key, or an answer that repeats a secret, is
//! stored, logged, streamed and returned with `[redacted]` in its place.

use super::{OutputSink, RunnerError};
use serde_json::Value;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// Shorter secrets are not redacted: they would match ordinary words.
pub const MIN_SECRET_LEN: usize = 8;

const MARK: &str = "[redacted]";

/// Replaces every configured secret in text.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<[String]>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// Redacts `secrets` (those of at least [`MIN_SECRET_LEN`] characters), longest first so
    /// that a secret containing another is replaced whole.
    #[must_use]
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.chars().count() >= MIN_SECRET_LEN).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets: secrets.into() }
    }

    /// `text` with every secret replaced.
    #[must_use]
    pub fn text(&self, text: &str) -> String {
        self.secrets
            .iter()
            .fold(text.to_owned(), |t, s| if t.contains(s.as_str()) { t.replace(s.as_str(), MARK) } else { t })
    }

    /// Every string (and object key) of `value` redacted.
    #[must_use]
    pub fn value(&self, value: Value) -> Value {
        if self.secrets.is_empty() {
            return value;
        }
        match value {
            Value::String(s) => Value::String(self.text(&s)),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.value(v)).collect()),
            Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (self.text(&k), self.value(v))).collect()),
            other => other,
        }
    }

    /// The error with its message redacted.
    #[must_use]
    pub fn error(&self, error: RunnerError) -> RunnerError {
        match error {
            RunnerError::Retryable { message, retry_after } => {
                RunnerError::Retryable { message: self.text(&message), retry_after }
            }
            RunnerError::Permanent(message) => RunnerError::Permanent(self.text(&message)),
            other => other,
        }
    }

    /// The length of the longest end of `text` that is the start of a secret (0: none).
    fn unfinished_secret_at_end(&self, text: &str) -> usize {
        self.secrets
            .iter()
            .filter_map(|secret| {
                (1..secret.len()).rev().find(|&k| secret.is_char_boundary(k) && text.ends_with(&secret[..k]))
            })
            .max()
            .unwrap_or(0)
    }
}

/// An output sink that redacts streamed text before passing it on. A secret may arrive split
/// over several deltas, so a delta that ends with the start of a secret keeps that end back
/// until more text shows whether the secret follows (or until [`RedactingSink::finish`]); any
/// other delta passes on at once and unchanged.
#[derive(Debug)]
pub struct RedactingSink<S> {
    inner: S,
    redactor: Redactor,
    held: Mutex<String>,
}

impl<S: std::ops::Deref<Target = dyn OutputSink>> RedactingSink<S> {
    #[must_use]
    pub fn new(inner: S, redactor: Redactor) -> Self {
        Self { inner, redactor, held: Mutex::default() }
    }

    /// Passes on the text still held back.
    pub fn finish(&self) {
        let rest = std::mem::take(&mut *self.held.lock().unwrap_or_else(PoisonError::into_inner));
        if !rest.is_empty() {
            self.inner.delta(&rest);
        }
    }
}

impl<S: std::ops::Deref<Target = dyn OutputSink> + Send + Sync + fmt::Debug> OutputSink for RedactingSink<S> {
    fn delta(&self, text: &str) {
        let ready = {
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            held.push_str(text);
            let redacted = self.redactor.text(&held);
            let cut = redacted.len() - self.redactor.unfinished_secret_at_end(&redacted);
            *held = redacted[cut..].to_owned();
            redacted[..cut].to_owned()
        };
        if !ready.is_empty() {
            self.inner.delta(&ready);
        }
    }

    fn tool_call(&self, call: &serde_json::Value) {
        self.inner.tool_call(&self.redactor.value(call.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "sk-secret-0123456789";

    #[derive(Debug, Default)]
    struct Collect(Mutex<Vec<String>>);

    impl OutputSink for Collect {
        fn delta(&self, text: &str) {
            self.0.lock().unwrap().push(text.to_owned());
        }
    }

    #[test]
    fn secrets_are_replaced_in_text_values_and_errors() {
        let r = Redactor::new([KEY.to_owned(), "short".to_owned()]);
        assert_eq!(r.text(&format!("Incorrect API key provided: {KEY}.")), "Incorrect API key provided: [redacted].");
        assert_eq!(r.text("short stays"), "short stays", "too short to redact safely");
        let v = r.value(json!({"response": format!("key {KEY}"), KEY: [KEY, 1]}));
        assert_eq!(v, json!({"response": "key [redacted]", "[redacted]": ["[redacted]", 1]}));
        let e = r.error(RunnerError::Permanent(format!("openai answered 401: {KEY}")));
        assert_eq!(e.to_string(), "openai answered 401: [redacted]");
    }

    #[test]
    fn a_secret_split_over_deltas_is_redacted_and_no_text_is_lost() {
        let out = Collect::default();
        let sink = RedactingSink::new(&out as &dyn OutputSink, Redactor::new([KEY.to_owned()]));
        for piece in ["Your key is sk-sec", "ret-0123", "456789, ", "keep it é safe"] {
            sink.delta(piece);
        }
        sink.finish();
        let deltas = out.0.lock().unwrap().clone();
        assert_eq!(deltas.concat(), "Your key is [redacted], keep it é safe");
        assert_eq!(deltas[0], "Your key is ", "only the start of the secret was held back");
        assert_eq!(deltas.last().unwrap(), "keep it é safe", "other text passes unchanged");
    }
}
