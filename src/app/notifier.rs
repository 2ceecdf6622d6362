//! Delivering the notifications of approvals and forms: every process sweeps the requests whose
//! notification is due (each claimed by one process at a time), signs the JSON with the
//! workspace's secret and POSTs it; each attempt goes to the request's delivery log, failures are
//! retried with growing delays (see [`crate::domain::human::notify`]).

use crate::domain::access::Scope;
use crate::domain::human::notify::{self, DeliveryAttempt, SIGNATURE_HEADER};
use crate::domain::human::{HumanTask, TaskKind};
use crate::ports::{Clock, HumanTaskStore, SecretSource, WebhookFailure, WebhookSender};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often each process looks for due notifications.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// How long a process holds a notification it delivers; longer than an attempt may take, so
/// that another process takes it over only when this one died.
const CLAIM_SECS: i64 = 60;

/// Notifications delivered per sweep at most (at once).
const BATCH: u32 = 32;

pub struct Notifier {
    tasks: Arc<dyn HumanTaskStore>,
    sender: Arc<dyn WebhookSender>,
    secrets: Arc<dyn SecretSource>,
    clock: Arc<dyn Clock>,
    wake: Notify,
}

impl Notifier {
    #[must_use]
    pub fn new(
        tasks: Arc<dyn HumanTaskStore>,
        sender: Arc<dyn WebhookSender>,
        secrets: Arc<dyn SecretSource>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { tasks, sender, secrets, clock, wake: Notify::new() }
    }

    /// Sweeps now rather than at the next tick (a request with a notification was stored).
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Sweeps every second (and when poked) until `stop` fires.
    pub fn spawn(self: Arc<Self>, stop: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = self.wake.notified() => {}
                    _ = tick.tick() => {}
                }
                self.sweep().await;
            }
        })
    }

    /// Delivers the notifications due now; returns how many it attempted.
    pub async fn sweep(&self) -> usize {
        let now = self.clock.now();
        let due = match self.tasks.due_notifications(now, chrono::Duration::seconds(CLAIM_SECS), BATCH).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "looking for due notifications failed");
                return 0;
            }
        };
        let n = due.len();
        futures::future::join_all(due.into_iter().map(|task| self.deliver(task))).await;
        n
    }

    #[tracing::instrument(skip_all, fields(request = %task.id))]
    async fn deliver(&self, task: HumanTask) {
        let Some(mut delivery) = task.notify.clone() else { return };
        let scope = Scope::new(task.workspace_id);
        let at = self.clock.now();
        if task.state.is_final() {
            delivery.abandon(format!("not sent: the request is {} already", task.state), at);
        } else {
            let (attempt, refused) = self.attempt(&task, &delivery.secret, &delivery.url, at).await;
            if let Some(error) = &attempt.error {
                tracing::info!(error = %error, "a notification attempt failed");
            }
            if refused { delivery.record_final(attempt) } else { delivery.record(attempt) }
        }
        if let Err(e) = self.tasks.record_notification(scope, task.id, &delivery).await {
            tracing::warn!(error = %e, "recording a notification attempt failed");
        }
    }

    /// One attempt, and whether it failed for good (the URL refused).
    async fn attempt(
        &self,
        task: &HumanTask,
        secret: &str,
        url: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> (DeliveryAttempt, bool) {
        let started = Instant::now();
        let failed = |error: String| (DeliveryAttempt { at, status: None, error: Some(error), duration_ms: 0 }, false);
        let scope = Scope::new(task.workspace_id);
        let key = match self.secrets.reveal(scope, &[secret.to_owned()], &[]).await {
            Ok(mut values) if !values.is_empty() => values.swap_remove(0).1,
            Ok(_) => return failed(format!("cannot sign: secret '{secret}' is not set in this workspace")),
            Err(e) => return failed(format!("cannot sign: {e}")),
        };
        let body = match serde_json::to_vec(&notify::payload(task)) {
            Ok(body) => body,
            Err(e) => return failed(format!("cannot encode the notification: {e}")),
        };
        let event = match task.kind {
            TaskKind::Approval => "approval_requested",
            TaskKind::Form => "form_requested",
        };
        let headers = vec![
            (SIGNATURE_HEADER.to_owned(), notify::signature(key.as_bytes(), at.timestamp(), &body)),
            ("X-Oxify-Event".to_owned(), event.to_owned()),
            ("X-Oxify-Delivery".to_owned(), task.id.to_string()),
        ];
        let outcome = self.sender.post(url, headers, body).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match outcome {
            Ok(status) => {
                let error = (!(200..300).contains(&status)).then(|| format!("the receiver answered {status}"));
                (DeliveryAttempt { at, status: Some(status), error, duration_ms }, false)
            }
            Err(failure) => {
                let refused = matches!(failure, WebhookFailure::Refused(_));
                (DeliveryAttempt { at, status: None, error: Some(failure.to_string()), duration_ms }, refused)
            }
        }
    }
}
