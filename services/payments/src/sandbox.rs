//! The built-in sandbox gateway: behaves like Stripe's test mode and reports outcomes as
//! signed webhooks, delivered to the same endpoint and checked the same way as Stripe's.
//! Test payment methods: `pm_card_visa` and `pm_card_mastercard` succeed;
//! `pm_card_chargeDeclined` and `pm_card_chargeDeclinedInsufficientFunds` are declined;
//! anything else is refused at once.
//!
//! Its state (intents and refunds, keyed for idempotency) lives in its own tables, so a
//! repeated call finds what the first one did.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use kazna_contracts::payments::Provider;

use crate::{
    gateway::{
        Call, Charge, Charged, Gateway, GatewayError, IntentState, RefundCall, Refunded, Voided,
    },
    signature,
};

#[derive(Clone)]
pub struct Sandbox {
    pool: PgPool,
    http: reqwest::Client,
    webhook_url: String,
    secret: String,
    delay: Duration,
    webhook_delay: Duration,
    /// Deliveries still pending stop when the service shuts down (as a provider would
    /// resend later, a restart's relays and retries pick up from the database).
    shutdown: tokio_util::sync::CancellationToken,
}

fn outcome(payment_method: &str) -> Option<Result<(), &'static str>> {
    match payment_method {
        "pm_card_visa" | "pm_card_mastercard" => Some(Ok(())),
        "pm_card_chargeDeclined" => Some(Err("card_declined")),
        "pm_card_chargeDeclinedInsufficientFunds" => Some(Err("insufficient_funds")),
        _ => None,
    }
}

fn event(kind: &str, object: Value) -> Value {
    json!({
        "id": format!("evt_{}", Uuid::now_v7().simple()),
        "type": kind,
        "created": Utc::now().timestamp(),
        "data": {"object": object},
    })
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
            webhook_delay: Duration::from_millis(settings.sandbox_webhook_delay_ms),
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

    async fn create_intent(&self, c: &Charge) -> Result<Charged, GatewayError> {
        let Some(result) = outcome(&c.payment_method) else {
            return Ok(Charged::Declined {
                reason: "invalid_payment_method".into(),
            });
        };
        let intent = format!("pi_{}", Uuid::now_v7().simple());
        let metadata = json!({"payment_id": c.payment_id, "order_id": c.order_id});
        let created: Option<String> = sqlx::query_scalar(
            "INSERT INTO sandbox_intents (id, idempotency_key, amount, currency, payment_method, metadata)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        )
        .bind(&intent)
        .bind(&c.idempotency_key)
        .bind(c.amount.amount_minor)
        .bind(c.amount.currency.code())
        .bind(&c.payment_method)
        .bind(&metadata)
        .fetch_optional(&self.pool)
        .await?;
        let Some(intent) = created else {
            let existing: String =
                sqlx::query_scalar("SELECT id FROM sandbox_intents WHERE idempotency_key = $1")
                    .bind(&c.idempotency_key)
                    .fetch_one(&self.pool)
                    .await?;
            return Ok(Charged::Processing { intent: existing });
        };
        let (status, kind, error) = match result {
            Ok(()) => ("succeeded", "payment_intent.succeeded", Value::Null),
            Err(code) => (
                "failed",
                "payment_intent.payment_failed",
                json!({"code": code}),
            ),
        };
        let object = json!({
            "id": intent, "object": "payment_intent", "status": status,
            "amount": c.amount.amount_minor,
            "currency": c.amount.currency.code().to_lowercase(),
            "metadata": metadata, "last_payment_error": error,
        });
        let sandbox = self.clone();
        let settle = intent.clone();
        tokio::spawn(async move {
            if !sandbox.pause(sandbox.delay).await {
                return;
            }
            // The outcome is decided here, once: a void that came first wins.
            let decided = sqlx::query(
                "UPDATE sandbox_intents SET status = $2, updated_at = now()
                 WHERE id = $1 AND status = 'processing'",
            )
            .bind(&settle)
            .bind(status)
            .execute(&sandbox.pool)
            .await;
            match decided {
                Ok(r) if r.rows_affected() == 1 => sandbox.deliver(event(kind, object)).await,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sandbox could not settle an intent"),
            }
        });
        Ok(Charged::Processing { intent })
    }

    async fn cancel_intent(&self, intent: &str) -> Result<Voided, GatewayError> {
        let canceled: Option<(i64, String, Value)> = sqlx::query_as(
            "UPDATE sandbox_intents SET status = 'canceled', updated_at = now()
             WHERE id = $1 AND status = 'processing' RETURNING amount, currency, metadata",
        )
        .bind(intent)
        .fetch_optional(&self.pool)
        .await?;
        let Some((amount, currency, metadata)) = canceled else {
            return Ok(Voided::AlreadySettled);
        };
        let object = json!({"id": intent, "object": "payment_intent", "status": "canceled",
            "amount": amount, "currency": currency.to_lowercase(), "metadata": metadata});
        tokio::spawn(
            self.clone()
                .deliver(event("payment_intent.canceled", object)),
        );
        Ok(Voided::Voiding)
    }

    async fn refund_intent(&self, r: &RefundCall) -> Result<Refunded, GatewayError> {
        let mut tx = self.pool.begin().await?;
        let intent: Option<(String, i64, Value)> = sqlx::query_as(
            "SELECT status, amount, metadata FROM sandbox_intents WHERE id = $1 FOR UPDATE",
        )
        .bind(&r.intent)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((status, amount, metadata)) = intent else {
            return Ok(Refunded::Refused {
                reason: "resource_missing".into(),
            });
        };
        let existing: Option<String> =
            sqlx::query_scalar("SELECT id FROM sandbox_refunds WHERE idempotency_key = $1")
                .bind(&r.idempotency_key)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(reference) = existing {
            return Ok(Refunded::Pending { reference });
        }
        if status != "succeeded" {
            return Ok(Refunded::Refused {
                reason: "charge_not_captured".into(),
            });
        }
        let refunded: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(amount), 0)::bigint FROM sandbox_refunds WHERE intent_id = $1",
        )
        .bind(&r.intent)
        .fetch_one(&mut *tx)
        .await?;
        if refunded + r.amount.amount_minor > amount {
            return Ok(Refunded::Refused {
                reason: "amount_too_large".into(),
            });
        }
        let reference = format!("re_{}", Uuid::now_v7().simple());
        sqlx::query(
            "INSERT INTO sandbox_refunds (id, intent_id, idempotency_key, amount, refund_id)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&reference)
        .bind(&r.intent)
        .bind(&r.idempotency_key)
        .bind(r.amount.amount_minor)
        .bind(r.refund_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let currency = r.amount.currency.code().to_lowercase();
        let object = json!({
            "id": format!("ch_{}", r.intent.trim_start_matches("pi_")), "object": "charge",
            "payment_intent": r.intent, "amount": amount, "currency": currency,
            "amount_refunded": refunded + r.amount.amount_minor, "metadata": metadata,
            "refunds": {"object": "list", "data": [{
                "id": reference, "object": "refund", "status": "succeeded",
                "amount": r.amount.amount_minor, "currency": currency,
                "payment_intent": r.intent,
                "metadata": {"refund_id": r.refund_id, "payment_id": r.payment_id},
            }]},
        });
        let sandbox = self.clone();
        tokio::spawn(async move {
            if sandbox.pause(sandbox.delay).await {
                sandbox.deliver(event("charge.refunded", object)).await
            }
        });
        Ok(Refunded::Pending { reference })
    }

    async fn intent_state(&self, intent: &str) -> Result<IntentState, GatewayError> {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM sandbox_intents WHERE id = $1")
                .bind(intent)
                .fetch_optional(&self.pool)
                .await?;
        match status.as_deref() {
            Some("processing") => Ok(IntentState::Processing),
            Some("succeeded") => Ok(IntentState::Succeeded),
            Some("failed") => Ok(IntentState::Failed),
            Some("canceled") => Ok(IntentState::Canceled),
            Some(other) => Err(GatewayError::Unavailable(format!("intent status {other}"))),
            None => Err(GatewayError::Refused(format!("no intent {intent}"))),
        }
    }

    /// Posts the webhook, retrying with growing pauses until it is acknowledged.
    async fn deliver(self, event: Value) {
        if !self.webhook_delay.is_zero() && !self.pause(self.webhook_delay).await {
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

impl Gateway for Sandbox {
    fn provider(&self) -> Provider {
        Provider::Sandbox
    }

    fn charge<'a>(&'a self, charge: &'a Charge) -> Call<'a, Charged> {
        Box::pin(self.create_intent(charge))
    }

    fn void<'a>(&'a self, intent: &'a str) -> Call<'a, Voided> {
        Box::pin(self.cancel_intent(intent))
    }

    fn refund<'a>(&'a self, refund: &'a RefundCall) -> Call<'a, Refunded> {
        Box::pin(self.refund_intent(refund))
    }

    fn retrieve<'a>(&'a self, intent: &'a str) -> Call<'a, IntentState> {
        Box::pin(self.intent_state(intent))
    }
}
