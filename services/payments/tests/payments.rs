//! Payments against the real database and the sandbox gateway's real webhooks.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use kazna_contracts::{Currency, Money, orders::OrderPlaced};
use kazna_payments::{PaymentsSettings, payments, sandbox::Sandbox, signature};
use kazna_testkit::{TestEnv, eventually};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

struct Running {
    env: TestEnv,
    pool: PgPool,
    gateway: Sandbox,
    url: String,
    stop: CancellationToken,
}

/// The payments service on a free port, with the sandbox delivering webhooks straight to it.
async fn start() -> Running {
    let mut env = TestEnv::new().expect("env");
    env.databases(&["payments"]).await.expect("test database");
    let service = env
        .spawn(
            |s, url| {
                s.services.payments.url = url.to_owned();
                s.update::<PaymentsSettings>(|p| {
                    p.sandbox_webhook_url = Some(format!("{url}/webhooks/payments/sandbox"))
                })
                .expect("payments settings");
            },
            kazna_payments::build,
        )
        .await;
    let (url, ctx, stop) = (service.url, service.ctx, service.stop);
    let pool = kazna_payments::database(&ctx).await.expect("db");
    let cfg: PaymentsSettings = env.settings.section().expect("payments settings");
    let webhooks = cfg.sandbox_webhook_url(&env.settings);
    let gateway = Sandbox::new(pool.clone(), &cfg, webhooks, stop.clone());
    Running {
        env,
        pool,
        gateway,
        url,
        stop,
    }
}

fn placed(method: &str) -> OrderPlaced {
    OrderPlaced {
        order_id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        email: "ada@example.com".into(),
        total: Money::new(1999, Currency::EUR),
        payment_method: method.into(),
        lines: vec![],
    }
}

async fn count(pool: &PgPool, sql: &'static str, order: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(order)
        .fetch_one(pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn the_same_order_started_many_times_at_once_is_charged_once() {
    let r = start().await;
    let order = placed("pm_card_visa");
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (pool, gateway, order) = (r.pool.clone(), r.gateway.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            payments::start(&pool, &gateway, &order).await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("start");
    }
    let status = eventually(10, || async {
        let s: String = sqlx::query_scalar("SELECT status FROM payments WHERE order_id = $1")
            .bind(order.order_id)
            .fetch_one(&r.pool)
            .await
            .ok()?;
        (s != "pending").then_some(s)
    })
    .await;
    assert_eq!(status.as_deref(), Some("succeeded"));
    assert_eq!(
        count(
            &r.pool,
            "SELECT count(*) FROM payments WHERE order_id = $1",
            order.order_id
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &r.pool,
            "SELECT count(*) FROM sandbox_intents WHERE idempotency_key = 'order-' || $1::text",
            order.order_id
        )
        .await,
        1,
        "one charge at the gateway"
    );
    assert_eq!(
        count(&r.pool, "SELECT count(*) FROM payment_events e JOIN payments p ON p.id = e.payment_id WHERE p.order_id = $1 AND e.kind = 'payment_intent.succeeded'", order.order_id).await,
        1,
        "one webhook, one success"
    );
    r.stop.cancel();
}

#[tokio::test]
async fn declined_and_unknown_payment_methods_fail_the_payment() {
    let r = start().await;
    for (method, reason) in [
        ("pm_card_chargeDeclined", "card_declined"),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
        ),
        ("pm_not_a_card", "invalid_payment_method"),
    ] {
        let order = placed(method);
        payments::start(&r.pool, &r.gateway, &order)
            .await
            .expect("start");
        let failed = eventually(10, || async {
            let row: (String, Option<String>) = sqlx::query_as(
                "SELECT p.status, (SELECT e.data->>'reason' FROM payment_events e WHERE e.payment_id = p.id AND e.kind = 'failed')
                 FROM payments p WHERE p.order_id = $1",
            )
            .bind(order.order_id)
            .fetch_one(&r.pool)
            .await
            .ok()?;
            (row.0 == "failed").then_some(row.1)
        })
        .await;
        assert_eq!(failed, Some(Some(reason.to_owned())), "{method}");
    }
    r.stop.cancel();
}

#[tokio::test]
async fn webhooks_need_a_fresh_signature_and_a_repeat_changes_nothing() {
    let r = start().await;
    let order = placed("pm_card_visa");
    // A payment waiting for its webhook: charged at the sandbox, but its webhook not yet applied.
    payments::start(&r.pool, &r.gateway, &order)
        .await
        .expect("start");
    let payment_id: Uuid = sqlx::query_scalar("SELECT id FROM payments WHERE order_id = $1")
        .bind(order.order_id)
        .fetch_one(&r.pool)
        .await
        .expect("payment");
    let succeeded = eventually(10, || async {
        let s: String = sqlx::query_scalar("SELECT status FROM payments WHERE id = $1")
            .bind(payment_id)
            .fetch_one(&r.pool)
            .await
            .ok()?;
        (s == "succeeded").then_some(())
    })
    .await;
    assert!(succeeded.is_some());
    let intent: String = sqlx::query_scalar("SELECT provider_ref FROM payments WHERE id = $1")
        .bind(payment_id)
        .fetch_one(&r.pool)
        .await
        .expect("intent");

    let body = serde_json::json!({
        "id": "evt_replayed", "type": "payment_intent.succeeded", "created": 0,
        "data": {"object": {"id": intent, "metadata": {"payment_id": payment_id}}},
    })
    .to_string();
    let cfg: PaymentsSettings = r.env.settings.section().expect("payments settings");
    let secret = cfg.webhook_secret.expose().to_owned();
    let now = chrono::Utc::now().timestamp();
    let http = reqwest::Client::new();
    let post = |sig: String| {
        http.post(format!("{}/webhooks/payments/sandbox", r.url))
            .header(signature::HEADER, sig)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    for _ in 0..3 {
        let ok = post(signature::sign(&secret, now, body.as_bytes()))
            .await
            .expect("sent");
        assert_eq!(ok.status(), 200);
    }
    let recorded = count(&r.pool, "SELECT count(*) FROM payment_events WHERE provider_event_id = 'evt_replayed' AND payment_id = $1", payment_id).await;
    assert_eq!(
        recorded, 1,
        "a repeated event is acknowledged and recorded once"
    );

    let stale = post(signature::sign(&secret, now - 3600, body.as_bytes()))
        .await
        .expect("sent");
    assert_eq!(stale.status(), 400);
    let wrong = post(signature::sign("whsec_other", now, body.as_bytes()))
        .await
        .expect("sent");
    assert_eq!(wrong.status(), 400);
    let problem: serde_json::Value = wrong.json().await.expect("json");
    assert_eq!(problem["code"], "invalid_signature");
    let unsigned = http
        .post(format!("{}/webhooks/payments/sandbox", r.url))
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(unsigned.status(), 400);
    let unknown = http
        .post(format!("{}/webhooks/payments/elsewhere", r.url))
        .header(
            signature::HEADER,
            signature::sign(&secret, now, body.as_bytes()),
        )
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(unknown.status(), 404);
    r.stop.cancel();
}

/// A NUL character in the provider's name is refused naming it; an unknown one is a 404.
#[tokio::test]
async fn a_nul_character_in_a_webhook_path_is_refused_naming_it() {
    let r = start().await;
    let http = reqwest::Client::new();
    let nul = http
        .post(format!("{}/webhooks/payments/sand%00box", r.url))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(nul.status(), 422);
    let body: serde_json::Value = nul.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "provider");
    let unknown = http
        .post(format!("{}/webhooks/payments/acme", r.url))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    r.stop.cancel();
}
