//! The built-in sandbox gateway: behaves like Stripe's test mode and reports outcomes as
//! signed webhooks, delivered to the same endpoint and checked the same way as Stripe's.
//! Test payment methods: `pm_card_visa` and `pm_card_mastercard` succeed;
//! `pm_card_chargeDeclined` and `pm_card_chargeDeclinedInsufficientFunds` are declined;
//! anything else is refused at once.
//!
//! Its state (intents and refunds, keyed for idempotency) lives in its own tables, so a
//! repeated call finds what the first one did.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use axum::http::HeaderMap;
use chrono::Utc;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use kazna_contracts::payments::Provider;

use crate::{
    audit::Transcript,
    gateway::{
        Call, Charge, Charged, Gateway, GatewayError, Reading, Ref, RefundCall, Refunded, Remote,
        State, Voided, WebhookError,
    },
    settings::SandboxFaults,
    signature, stripe,
};

#[derive(Clone)]
pub struct Sandbox {
    pool: PgPool,
    http: reqwest::Client,
    webhook_url: String,
    secret: String,
    delay: Duration,
    webhook_delay: Duration,
    faults: SandboxFaults,
    /// Webhooks sent so far (for dropping every n-th).
    sent: Arc<AtomicU32>,
    /// A webhook held back to go out after the next one (reordering).
    held: Arc<Mutex<Option<Value>>>,
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
            faults: settings.sandbox_faults.clone(),
            sent: Arc::default(),
            held: Arc::default(),
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

    async fn create_intent(
        &self,
        c: &Charge,
        log: &mut Transcript,
    ) -> Result<Charged, GatewayError> {
        let started = Instant::now();
        let request = json!({"amount": c.amount.amount_minor, "currency": c.amount.currency.code(),
            "payment_method": c.payment_method, "idempotency_key": c.idempotency_key});
        let answer = self.create_intent_inner(c).await;
        let logged = match &answer {
            Ok(charged) => Ok((
                200,
                json!({"intent": charged.intent, "state": format!("{:?}", charged.state)}),
            )),
            Err(e) => Err(e.to_string()),
        };
        log.record("POST", "/sandbox/charges", request, started, logged);
        answer
    }

    async fn create_intent_inner(&self, c: &Charge) -> Result<Charged, GatewayError> {
        let Some(result) = outcome(&c.payment_method) else {
            return Ok(Charged {
                intent: None,
                state: State::Failed {
                    reason: "invalid_payment_method".into(),
                },
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
            return Ok(Charged {
                intent: Some(existing),
                state: State::Processing,
            });
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
        if self.faults.lose_first_charge_answer {
            return Err(GatewayError::Unavailable(
                "timed out (sandbox fault: the answer was lost)".into(),
            ));
        }
        Ok(Charged {
            intent: Some(intent),
            state: State::Processing,
        })
    }

    async fn cancel_intent(&self, p: &Ref, log: &mut Transcript) -> Result<Voided, GatewayError> {
        let started = Instant::now();
        let answer = self.cancel_intent_inner(&p.intent).await;
        let logged = match &answer {
            Ok(Voided::AlreadySettled) => {
                Ok((400, json!({"code": "payment_intent_unexpected_state"})))
            }
            Ok(_) => Ok((200, json!({"status": "canceled"}))),
            Err(e) => Err(e.to_string()),
        };
        log.record(
            "POST",
            &format!("/sandbox/charges/{}/cancel", p.intent),
            Value::Null,
            started,
            logged,
        );
        answer
    }

    async fn cancel_intent_inner(&self, intent: &str) -> Result<Voided, GatewayError> {
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

    async fn refund_intent(
        &self,
        r: &RefundCall,
        log: &mut Transcript,
    ) -> Result<Refunded, GatewayError> {
        let started = Instant::now();
        let request = json!({"intent": r.payment.intent, "amount": r.amount.amount_minor,
            "idempotency_key": r.idempotency_key});
        let answer = self.refund_intent_inner(r).await;
        let logged = match &answer {
            Ok(Refunded::Pending { reference }) => {
                Ok((200, json!({"id": reference, "status": "pending"})))
            }
            Ok(Refunded::Succeeded { reference }) => {
                Ok((200, json!({"id": reference, "status": "succeeded"})))
            }
            Ok(Refunded::Refused { reason }) => Ok((400, json!({"code": reason}))),
            Err(e) => Err(e.to_string()),
        };
        log.record("POST", "/sandbox/refunds", request, started, logged);
        answer
    }

    async fn refund_intent_inner(&self, r: &RefundCall) -> Result<Refunded, GatewayError> {
        let mut tx = self.pool.begin().await?;
        let intent: Option<(String, i64, Value)> = sqlx::query_as(
            "SELECT status, amount, metadata FROM sandbox_intents WHERE id = $1 FOR UPDATE",
        )
        .bind(&r.payment.intent)
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
        .bind(&r.payment.intent)
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
        .bind(&r.payment.intent)
        .bind(&r.idempotency_key)
        .bind(r.amount.amount_minor)
        .bind(r.refund_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let currency = r.amount.currency.code().to_lowercase();
        let object = json!({
            "id": format!("ch_{}", r.payment.intent.trim_start_matches("pi_")), "object": "charge",
            "payment_intent": r.payment.intent, "amount": amount, "currency": currency,
            "amount_refunded": refunded + r.amount.amount_minor, "metadata": metadata,
            "refunds": {"object": "list", "data": [{
                "id": reference, "object": "refund", "status": "succeeded",
                "amount": r.amount.amount_minor, "currency": currency,
                "payment_intent": r.payment.intent,
                "metadata": {"refund_id": r.refund_id, "payment_id": r.payment.payment_id},
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

    async fn intent_state(&self, p: &Ref, log: &mut Transcript) -> Result<Remote, GatewayError> {
        let started = Instant::now();
        let found: Option<(String, i64, String, i64)> = sqlx::query_as(
            "SELECT i.status, i.amount, i.payment_method,
                    (SELECT coalesce(sum(amount), 0)::bigint FROM sandbox_refunds WHERE intent_id = i.id)
             FROM sandbox_intents i WHERE id = $1",
        )
        .bind(&p.intent)
        .fetch_optional(&self.pool)
        .await?;
        let path = format!("/sandbox/charges/{}", p.intent);
        let Some((status, amount, method, refunded)) = found else {
            log.record(
                "GET",
                &path,
                Value::Null,
                started,
                Ok((404, json!({"code": "resource_missing"}))),
            );
            return Err(GatewayError::Refused(format!("no intent {}", p.intent)));
        };
        log.record(
            "GET",
            &path,
            Value::Null,
            started,
            Ok((200, json!({"status": status, "refunded": refunded}))),
        );
        let state = match status.as_str() {
            "processing" => State::Processing,
            "succeeded" => State::Succeeded,
            "failed" => State::Failed {
                reason: outcome(&method)
                    .and_then(|o| o.err())
                    .unwrap_or("declined")
                    .to_owned(),
            },
            "canceled" => State::Canceled,
            other => return Err(GatewayError::Unavailable(format!("intent status {other}"))),
        };
        let captured = if state == State::Succeeded { amount } else { 0 };
        Ok(Remote {
            state,
            captured,
            refunded,
        })
    }

    async fn refund_now(
        &self,
        reference: &str,
        log: &mut Transcript,
    ) -> Result<Refunded, GatewayError> {
        let started = Instant::now();
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM sandbox_refunds WHERE id = $1")
                .bind(reference)
                .fetch_optional(&self.pool)
                .await?;
        let path = format!("/sandbox/refunds/{reference}");
        match found {
            // The sandbox gives money back at once; only its webhook takes time.
            Some(reference) => {
                log.record(
                    "GET",
                    &path,
                    Value::Null,
                    started,
                    Ok((200, json!({"id": reference, "status": "succeeded"}))),
                );
                Ok(Refunded::Succeeded { reference })
            }
            None => {
                log.record(
                    "GET",
                    &path,
                    Value::Null,
                    started,
                    Ok((404, json!({"code": "resource_missing"}))),
                );
                Err(GatewayError::Refused(format!("no refund {reference}")))
            }
        }
    }

    /// Sends a webhook, making the faults it was told to make.
    async fn deliver(self, event: Value) {
        let n = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        let every = self.faults.drop_every_nth_webhook;
        if every > 0 && n.is_multiple_of(every) {
            tracing::info!(event = %event["id"], "sandbox fault: webhook dropped");
            return;
        }
        if self.faults.reorder_webhooks {
            let earlier = self.held.lock().ok().and_then(|mut h| h.take());
            match earlier {
                Some(earlier) => {
                    self.clone().post(event).await;
                    self.post(earlier).await;
                }
                None => {
                    if let Ok(mut h) = self.held.lock() {
                        *h = Some(event.clone());
                    }
                    // Alone for a second: it goes out anyway.
                    if self.pause(Duration::from_secs(1)).await {
                        let still = self.held.lock().ok().and_then(|mut h| {
                            (h.as_ref().map(|e| &e["id"]) == Some(&event["id"]))
                                .then(|| h.take())
                                .flatten()
                        });
                        if let Some(e) = still {
                            self.post(e).await;
                        }
                    }
                }
            }
            return;
        }
        if self.faults.duplicate_webhooks {
            self.clone().post(event.clone()).await;
        }
        self.post(event).await
    }

    /// Posts the webhook, retrying with growing pauses until it is acknowledged.
    async fn post(self, event: Value) {
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

    fn charge<'a>(&'a self, charge: &'a Charge, log: &'a mut Transcript) -> Call<'a, Charged> {
        Box::pin(self.create_intent(charge, log))
    }

    fn void<'a>(&'a self, payment: &'a Ref, log: &'a mut Transcript) -> Call<'a, Voided> {
        Box::pin(self.cancel_intent(payment, log))
    }

    fn refund<'a>(&'a self, refund: &'a RefundCall, log: &'a mut Transcript) -> Call<'a, Refunded> {
        Box::pin(self.refund_intent(refund, log))
    }

    fn refund_status<'a>(
        &'a self,
        _refund: &'a RefundCall,
        reference: &'a str,
        log: &'a mut Transcript,
    ) -> Call<'a, Refunded> {
        Box::pin(self.refund_now(reference, log))
    }

    fn retrieve<'a>(&'a self, payment: &'a Ref, log: &'a mut Transcript) -> Call<'a, Remote> {
        Box::pin(self.intent_state(payment, log))
    }

    fn webhook<'a>(
        &'a self,
        headers: &'a HeaderMap,
        body: &'a [u8],
        _log: &'a mut Transcript,
    ) -> Reading<'a> {
        let read = || {
            let header = headers
                .get(signature::HEADER)
                .and_then(|v| v.to_str().ok())
                .ok_or(WebhookError::BadSignature)?;
            if !signature::verify(&self.secret, header, body, Utc::now().timestamp()) {
                return Err(WebhookError::BadSignature);
            }
            stripe::read_event(body)
        };
        Box::pin(std::future::ready(read()))
    }
}
