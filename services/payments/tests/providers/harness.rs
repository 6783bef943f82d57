//! The payments service with its providers pointed at a local stand-in for their APIs, and a
//! worker of the test's own (racing the service's, as a second instance would).

use std::{sync::Arc, time::Duration};

use kazna_contracts::{Currency, Money, payments::Provider};
use kazna_payments::{
    PaymentsSettings,
    gateways::Gateways,
    payments::{self, Attempt},
    refunds::{self, Amount, RefundRequest},
    worker::{Kick, Worker},
};
use kazna_testkit::{MockServer, TestEnv};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub struct Harness {
    pub _env: TestEnv,
    pub pool: PgPool,
    pub worker: Arc<Worker>,
    pub url: String,
    pub mock: MockServer,
    pub cfg: PaymentsSettings,
    pub stop: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub const STRIPE_KEY: &str = "sk_test_kazna_51H";
pub const WHSEC_OLD: &str = "whsec_old_0f1e2d";
pub const WHSEC_NEW: &str = "whsec_new_9a8b7c";
pub const PAYPAL_ID: &str = "AbCdPayPalClientId";
pub const PAYPAL_SECRET: &str = "EFgPayPalClientSecret";
pub const PAYPAL_WEBHOOK: &str = "8PT597110X687430LKGECATA";

/// Payments with `providers` on, Stripe's and PayPal's APIs at the stand-in, then `configure`.
pub async fn start(
    providers: &[Provider],
    configure: impl FnOnce(&mut PaymentsSettings),
) -> Harness {
    let mock = MockServer::start().await;
    let mut env = TestEnv::new().expect("env");
    env.databases(&["payments"]).await.expect("test database");
    let base = mock.url.clone();
    let service = env
        .spawn(
            |s, url| {
                s.services.payments.url = url.to_owned();
                s.update::<PaymentsSettings>(|p| {
                    p.providers = providers.to_vec();
                    p.sandbox_webhook_url = Some(format!("{url}/webhooks/payments/sandbox"));
                    p.stripe.secret_key = kazna_kernel::Secret::new(STRIPE_KEY);
                    p.stripe.api_base = base.clone();
                    p.stripe.webhook_secrets = vec![
                        kazna_kernel::Secret::new(WHSEC_OLD),
                        kazna_kernel::Secret::new(WHSEC_NEW),
                    ];
                    p.stripe.timeout_ms = 500;
                    p.paypal.client_id = PAYPAL_ID.into();
                    p.paypal.client_secret = kazna_kernel::Secret::new(PAYPAL_SECRET);
                    p.paypal.api_base = base.clone();
                    p.paypal.webhook_id = PAYPAL_WEBHOOK.into();
                    p.paypal.return_url =
                        Some("https://shop.example/checkout/paypal/return".into());
                    p.paypal.cancel_url =
                        Some("https://shop.example/checkout/paypal/cancel".into());
                    // No PayPal test waits out a time-out; a busy machine must not make one.
                    p.paypal.timeout_ms = 2_000;
                    configure(p);
                })
                .expect("payments settings");
            },
            kazna_payments::build,
        )
        .await;
    let (url, ctx, stop) = (service.url, service.ctx, service.stop);
    let pool = kazna_payments::database(&ctx).await.expect("db");
    let cfg: PaymentsSettings = env.settings.section().expect("payments settings");
    let gateways = Gateways::from_settings(&pool, &cfg, &env.settings, &stop);
    let reconcile_after = Duration::from_secs(cfg.reconcile_after_secs);
    let worker = Arc::new(Worker::new(
        pool.clone(),
        gateways,
        Kick::default(),
        reconcile_after,
    ));
    Harness {
        _env: env,
        pool,
        worker,
        url,
        mock,
        cfg,
        stop,
    }
}

/// How many entries of `kind` the payment's audit log has.
pub fn logged(p: &kazna_payments::payments::Payment, kind: &str) -> usize {
    p.events.iter().filter(|e| e.kind == kind).count()
}

pub fn attempt(method: &str) -> Attempt {
    Attempt {
        payment_id: Uuid::now_v7(),
        order_id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        attempt: 1,
        amount: Money::new(1999, Currency::EUR),
        payment_method: method.into(),
    }
}

impl Harness {
    /// Records the attempt as the consumer does when orders asks for it.
    pub async fn record(&self, a: &Attempt) {
        let provider =
            Provider::for_method(&a.payment_method, &self.cfg.providers).expect("provider on");
        let mut tx = self.pool.begin().await.expect("tx");
        payments::record_attempt(&mut tx, provider, a)
            .await
            .expect("recorded");
        tx.commit().await.expect("commit");
    }

    pub async fn close(&self, order: Uuid) {
        let mut tx = self.pool.begin().await.expect("tx");
        payments::close_order(&mut tx, order).await.expect("closed");
        tx.commit().await.expect("commit");
    }

    pub async fn refund(&self, payment: Uuid, amount: i64) -> Uuid {
        let mut tx = self.pool.begin().await.expect("tx");
        let req = RefundRequest {
            payment_id: payment,
            amount: Amount::Part(amount),
            reason: "test",
            by: "test",
            idempotency_key: None,
        };
        let r = refunds::request(&mut tx, req)
            .await
            .expect("refund")
            .expect("recorded");
        tx.commit().await.expect("commit");
        r.id
    }

    /// Works until `check` holds (within 10 s), as the worker would after each kick.
    pub async fn work_until<F>(
        &self,
        id: Uuid,
        what: &str,
        mut check: F,
    ) -> kazna_payments::payments::Payment
    where
        F: FnMut(&kazna_payments::payments::Payment) -> bool,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            self.worker.once().await.expect("worked");
            let p = self.payment(id).await;
            if check(&p) {
                return p;
            }
            assert!(tokio::time::Instant::now() < deadline, "{what}: {p:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn payment(&self, id: Uuid) -> kazna_payments::payments::Payment {
        payments::get(&self.pool, id).await.expect("payment")
    }

    /// The whole audit log, as text: what a reader of it could learn.
    pub async fn audit_text(&self) -> String {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT kind || ' ' || data::text FROM payment_events ORDER BY seq")
                .fetch_all(&self.pool)
                .await
                .expect("audit");
        rows.join("\n")
    }

    pub async fn post_webhook(
        &self,
        provider: &str,
        headers: &[(&str, String)],
        body: &str,
    ) -> reqwest::Response {
        let mut req = reqwest::Client::new()
            .post(format!("{}/webhooks/payments/{provider}", self.url))
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        req.send().await.expect("webhook sent")
    }
}
