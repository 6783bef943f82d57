//! The built-in sandbox gateway: behaves like Stripe's test mode and reports outcomes as
//! signed webhooks, delivered to the same endpoint and checked the same way as Stripe's.
//! Test payment methods: `pm_card_visa` succeeds; `pm_card_chargeDeclined` and
//! `pm_card_chargeDeclinedInsufficientFunds` are declined; anything else is refused.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use kazna_contracts::Money;

use crate::{error::Error, signature};

#[derive(Clone)]
pub struct Sandbox {
    pool: PgPool,
    http: reqwest::Client,
    webhook_url: String,
    secret: String,
    delay: Duration,
    /// Deliveries still pending stop when the service shuts down (as a provider would
    /// resend later, a restart's relays and retries pick up from the database).
    shutdown: tokio_util::sync::CancellationToken,
}

pub struct Charge<'a> {
    pub idempotency_key: String,
    pub amount: Money,
    pub payment_method: &'a str,
    pub payment_id: Uuid,
    pub order_id: Uuid,
}

/// What the gateway said at once; the final outcome arrives by webhook.
pub enum Accepted {
    Processing { intent_id: String },
    Refused { reason: &'static str },
}

fn outcome(payment_method: &str) -> Option<Result<(), &'static str>> {
    match payment_method {
        "pm_card_visa" | "pm_card_mastercard" => Some(Ok(())),
        "pm_card_chargeDeclined" => Some(Err("card_declined")),
        "pm_card_chargeDeclinedInsufficientFunds" => Some(Err("insufficient_funds")),
        _ => None,
    }
}

impl Sandbox {
    pub fn new(
        pool: PgPool,
        settings: &crate::PaymentsSettings,
        webhook_url: String,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Self {
        Self {
            pool,
            http: reqwest::Client::new(),
            webhook_url,
            secret: settings.webhook_secret.expose().to_owned(),
            delay: Duration::from_millis(settings.sandbox_delay_ms),
            shutdown,
        }
    }

    /// Waits `d`, or returns false when the service is shutting down.
    async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            _ = self.shutdown.cancelled() => false,
            _ = tokio::time::sleep(d) => true,
        }
    }

    /// Creates (or, for a repeated idempotency key, finds) a payment intent and schedules
    /// its webhook. A repeated key never charges or notifies twice.
    pub async fn charge(&self, c: Charge<'_>) -> Result<Accepted, Error> {
        let Some(result) = outcome(c.payment_method) else {
            return Ok(Accepted::Refused {
                reason: "invalid_payment_method",
            });
        };
        let intent_id = format!("pi_{}", Uuid::now_v7().simple());
        let metadata = json!({"payment_id": c.payment_id, "order_id": c.order_id});
        let created: Option<(String,)> = sqlx::query_as(
            "INSERT INTO sandbox_intents (id, idempotency_key, amount, currency, payment_method, metadata)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        )
        .bind(&intent_id)
        .bind(&c.idempotency_key)
        .bind(c.amount.amount_minor)
        .bind(c.amount.currency.code())
        .bind(c.payment_method)
        .bind(&metadata)
        .fetch_optional(&self.pool)
        .await?;
        let Some((intent_id,)) = created else {
            let (existing,): (String,) =
                sqlx::query_as("SELECT id FROM sandbox_intents WHERE idempotency_key = $1")
                    .bind(&c.idempotency_key)
                    .fetch_one(&self.pool)
                    .await?;
            return Ok(Accepted::Processing {
                intent_id: existing,
            });
        };
        let (kind, error) = match result {
            Ok(()) => ("payment_intent.succeeded", serde_json::Value::Null),
            Err(code) => ("payment_intent.payment_failed", json!({"code": code})),
        };
        let event = json!({
            "id": format!("evt_{}", Uuid::now_v7().simple()),
            "type": kind,
            "created": Utc::now().timestamp(),
            "data": {"object": {
                "id": intent_id, "amount": c.amount.amount_minor,
                "currency": c.amount.currency.code().to_lowercase(),
                "metadata": metadata, "last_payment_error": error,
            }},
        });
        tokio::spawn(self.clone().deliver(event));
        Ok(Accepted::Processing { intent_id })
    }

    /// Posts the webhook, retrying with growing pauses until it is acknowledged.
    async fn deliver(self, event: serde_json::Value) {
        if !self.pause(self.delay).await {
            return;
        }
        let body = event.to_string();
        // Like a provider, it keeps trying for a while (here about five minutes).
        let mut pause = Duration::from_millis(200);
        for _ in 0..16 {
            let header = signature::sign(&self.secret, Utc::now().timestamp(), body.as_bytes());
            let sent = self
                .http
                .post(&self.webhook_url)
                .header(signature::HEADER, header)
                .header("content-type", "application/json")
                .body(body.clone())
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => tracing::warn!(status = %r.status(), "sandbox webhook refused; retrying"),
                Err(e) => tracing::warn!(error = %e, "sandbox webhook not delivered; retrying"),
            }
            if !self.pause(pause).await {
                tracing::warn!(event = %event["id"], "shutting down with a webhook undelivered");
                return;
            }
            pause = (pause * 2).min(Duration::from_secs(30));
        }
        tracing::error!(event = %event["id"], "sandbox gave up delivering a webhook");
    }
}
