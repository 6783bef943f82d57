//! Sends queued messages: a short transaction leases a batch of due ones, each is sent with
//! no transaction open (one failing never holds up the others), and one write records what
//! came of it. A failed try is tried again after a pause that doubles each time, with jitter,
//! or after what the provider asked for; after the last try, or at once when it can never
//! succeed, the message is `failed` with the error.

use std::{sync::Arc, time::Duration};

pub use kazna_kernel::worker::Kick;

use kazna_kernel::trace;
use rand::Rng;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    channel::{Channel, DeliveryStatus},
    error::Result,
    message::{Message, SendError, Sender},
};

const LEASE: &str = "60 seconds";
const BATCH: i64 = 16;
/// No pause between tries is longer.
const LONGEST_PAUSE: Duration = Duration::from_secs(3600);

pub struct Worker {
    pub pool: PgPool,
    pub email: Arc<dyn Sender>,
    pub sms: Arc<dyn Sender>,
    pub kick: Kick,
    pub max_attempts: u32,
    pub retry_base: Duration,
}

#[derive(sqlx::FromRow)]
struct Due {
    id: Uuid,
    #[sqlx(try_from = "String")]
    channel: Channel,
    recipient: String,
    subject: String,
    body: String,
    html: Option<String>,
    attempts: i32,
    traceparent: Option<String>,
}

impl Worker {
    pub async fn run(self, shutdown: CancellationToken) {
        let (kick, poll) = (self.kick.clone(), Duration::from_millis(500));
        kazna_kernel::worker::repeat("notifications", kick, poll, shutdown, || self.once()).await
    }

    /// Sends what is due now; returns how many messages it tried.
    pub async fn once(&self) -> Result<usize> {
        let due: Vec<Due> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE deliveries SET lease_until = now() + interval '{LEASE}', attempts = attempts + 1
             WHERE id IN (SELECT id FROM deliveries
                          WHERE status IN ('queued', 'retrying') AND next_attempt_at <= now()
                            AND (lease_until IS NULL OR lease_until < now())
                          ORDER BY next_attempt_at LIMIT {BATCH} FOR UPDATE SKIP LOCKED)
             RETURNING id, channel, recipient, subject, body, html, attempts, traceparent"
        )))
        .fetch_all(&self.pool)
        .await?;
        let n = due.len();
        let sends = due.into_iter().map(|d| self.send(d));
        for r in futures_util::future::join_all(sends).await {
            r?;
        }
        Ok(n)
    }

    async fn send(&self, d: Due) -> Result<()> {
        let sender = match d.channel {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
        };
        let m = Message {
            id: d.id,
            channel: d.channel,
            to: d.recipient,
            subject: d.subject,
            text: d.body,
            html: d.html,
        };
        let name = format!("{} send", m.channel.as_str());
        let kept = d.traceparent.as_deref();
        let mut span = trace::Span::resume(crate::NAME, trace::Kind::Client, name, kept);
        span.set("kazna.delivery_id", m.id.to_string());
        span.set("kazna.provider", sender.name());
        span.set("kazna.attempt", i64::from(d.attempts));
        let outcome = span.scope(sender.send(&m)).await;
        if let Err(e) = &outcome {
            span.fail(e.to_string());
        }
        drop(span);
        let (status, error, message_id, pause) = match outcome {
            Ok(sent) => (DeliveryStatus::Sent, None, sent.provider_message_id, None),
            Err(SendError::Permanent(e)) => (DeliveryStatus::Failed, Some(e), None, None),
            Err(SendError::Retry { error, .. }) if d.attempts >= self.max_attempts as i32 => {
                (DeliveryStatus::Failed, Some(error), None, None)
            }
            Err(SendError::Retry { error, after }) => {
                let pause = self.pause(d.attempts, after);
                (DeliveryStatus::Retrying, Some(error), None, Some(pause))
            }
        };
        match (&status, &error) {
            (DeliveryStatus::Sent, _) => {
                tracing::info!(delivery.id = %m.id, provider = sender.name(), "message sent")
            }
            (_, Some(e)) => {
                tracing::warn!(delivery.id = %m.id, provider = sender.name(), status = status.as_str(), error = %e, "message not sent")
            }
            _ => {}
        }
        sqlx::query(
            "UPDATE deliveries SET status = $2, last_error = coalesce($3, last_error),
                    provider = $4, provider_message_id = $5, lease_until = NULL,
                    next_attempt_at = now() + make_interval(secs => $6),
                    sent_at = CASE WHEN $2 = 'sent' THEN now() END, updated_at = now()
             WHERE id = $1",
        )
        .bind(m.id)
        .bind(status.as_str())
        .bind(error)
        .bind(sender.name())
        .bind(message_id)
        .bind(pause.unwrap_or_default().as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The pause after try `attempt`: the base doubled for each earlier try, between half and
    /// one and a half of that at random (so messages that failed together do not come back
    /// together), and never shorter than what the provider asked for.
    fn pause(&self, attempt: i32, asked: Option<Duration>) -> Duration {
        let doubling = 2u32.saturating_pow(attempt.saturating_sub(1).clamp(0, 20) as u32);
        let backoff = self.retry_base.saturating_mul(doubling).min(LONGEST_PAUSE);
        let jittered = backoff.mul_f64(rand::rng().random_range(0.5..1.5));
        asked
            .map_or(jittered, |a| a.max(jittered))
            .min(LONGEST_PAUSE)
    }
}
