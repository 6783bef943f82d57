//! Payments against the real database and the sandbox gateway's real webhooks.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use kazna_contracts::{Currency, Money, payments::Provider};
use kazna_payments::{
    PaymentsSettings,
    audit::Transcript,
    error::Error,
    gateway::{Ref, State},
    gateways::Gateways,
    payments::{self, Attempt},
    refunds::{self, Amount, RefundRequest},
    sandbox::Sandbox,
    signature,
    worker::{Kick, Worker},
};
use kazna_testkit::{TestEnv, eventually};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

struct Running {
    env: TestEnv,
    pool: PgPool,
    worker: Arc<Worker>,
    url: String,
    stop: CancellationToken,
}

/// The payments service on a free port, with the sandbox delivering webhooks straight to it,
/// and a worker of the test's own that races the service's.
async fn start() -> Running {
    start_deciding_after(50).await
}

/// The same, with the sandbox deciding each charge after `ms` (until then it can be voided).
async fn start_deciding_after(ms: u64) -> Running {
    let mut env = TestEnv::new().expect("env");
    env.databases(&["payments"]).await.expect("test database");
    let service = env
        .spawn(
            |s, url| {
                s.services.payments.url = url.to_owned();
                s.update::<PaymentsSettings>(|p| {
                    p.sandbox_webhook_url = Some(format!("{url}/webhooks/payments/sandbox"));
                    p.sandbox_delay_ms = ms;
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
    let sandbox = Sandbox::new(pool.clone(), &cfg, webhooks, stop.clone());
    let worker = Arc::new(Worker::new(
        pool.clone(),
        Gateways::default().with(Arc::new(sandbox)),
        Kick::default(),
        std::time::Duration::from_secs(600),
    ));
    Running {
        env,
        pool,
        worker,
        url,
        stop,
    }
}

fn attempt(method: &str) -> Attempt {
    Attempt {
        payment_id: Uuid::now_v7(),
        order_id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        attempt: 1,
        amount: Money::new(1999, Currency::EUR),
        payment_method: method.into(),
    }
}

/// Records the attempt as the consumer does when orders asks for it.
async fn record(pool: &PgPool, a: &Attempt) {
    let mut tx = pool.begin().await.expect("tx");
    payments::record_attempt(&mut tx, Provider::Sandbox, a)
        .await
        .expect("recorded");
    tx.commit().await.expect("commit");
}

/// Cancels the order of `a` as the consumer does when orders says so.
async fn close(pool: &PgPool, order: Uuid) {
    let mut tx = pool.begin().await.expect("tx");
    payments::close_order(&mut tx, order).await.expect("closed");
    tx.commit().await.expect("commit");
}

async fn refund(pool: &PgPool, payment: Uuid, amount: Amount) -> Result<Option<Uuid>, Error> {
    let mut tx = pool.begin().await.expect("tx");
    let req = RefundRequest {
        payment_id: payment,
        amount,
        reason: "test",
        by: "test",
        idempotency_key: None,
    };
    let r = refunds::request(&mut tx, req).await?;
    tx.commit().await.expect("commit");
    Ok(r.map(|r| r.id))
}

async fn count(pool: &PgPool, sql: &'static str, id: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("count")
}

/// The payment's status once it is `want` (within 10 s), or as it last was.
async fn status_when(pool: &PgPool, id: Uuid, want: &str) -> String {
    let reached = eventually(10, || async {
        let s: String = sqlx::query_scalar("SELECT status FROM payments WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .ok()?;
        (s == want).then_some(s)
    })
    .await;
    match reached {
        Some(s) => s,
        None => sqlx::query_scalar("SELECT status FROM payments WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .expect("status"),
    }
}

async fn intent_ref(pool: &PgPool, id: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT provider_ref FROM payments WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("intent")
}

async fn refunded(pool: &PgPool, id: Uuid) -> i64 {
    count(pool, "SELECT refunded FROM payments WHERE id = $1", id).await
}

#[tokio::test]
async fn one_attempt_recorded_and_worked_many_times_at_once_is_charged_once() {
    let r = start().await;
    let a = attempt("pm_card_visa");
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (pool, worker) = (r.pool.clone(), r.worker.clone());
        let a = Attempt {
            payment_method: a.payment_method.clone(),
            ..a
        };
        tasks.push(tokio::spawn(async move {
            record(&pool, &a).await;
            worker.once().await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("worked");
    }
    assert_eq!(
        status_when(&r.pool, a.payment_id, "succeeded").await,
        "succeeded"
    );
    assert_eq!(
        count(
            &r.pool,
            "SELECT count(*) FROM payments WHERE order_id = $1",
            a.order_id
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &r.pool,
            "SELECT count(*) FROM sandbox_intents WHERE metadata->>'payment_id' = $1::text",
            a.payment_id
        )
        .await,
        1,
        "one charge at the gateway"
    );
    assert_eq!(
        count(&r.pool, "SELECT count(*) FROM payment_events WHERE payment_id = $1 AND kind = 'payment_intent.succeeded'", a.payment_id).await,
        1,
        "one webhook, one success"
    );
    r.stop.cancel();
}

#[tokio::test]
async fn declined_and_unknown_payment_methods_fail_the_payment_with_their_reason() {
    let r = start().await;
    for (method, reason) in [
        ("pm_card_chargeDeclined", "card_declined"),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
        ),
        ("pm_not_a_card", "invalid_payment_method"),
    ] {
        let a = attempt(method);
        record(&r.pool, &a).await;
        r.worker.once().await.expect("worked");
        assert_eq!(status_when(&r.pool, a.payment_id, "failed").await, "failed");
        let why: Option<String> =
            sqlx::query_scalar("SELECT failure_reason FROM payments WHERE id = $1")
                .bind(a.payment_id)
                .fetch_one(&r.pool)
                .await
                .expect("reason");
        assert_eq!(why.as_deref(), Some(reason), "{method}");
    }
    r.stop.cancel();
}

#[tokio::test]
async fn an_attempt_for_a_canceled_order_is_never_charged_and_one_in_flight_is_voided() {
    // Long enough that the early cancels below land before the sandbox decides, however busy
    // the machine; the later ones may come after it.
    let r = start_deciding_after(400).await;
    // Canceled before the attempt arrived (events out of order): never charged.
    let early = attempt("pm_card_visa");
    close(&r.pool, early.order_id).await;
    record(&r.pool, &early).await;
    r.worker.once().await.expect("worked");
    assert_eq!(
        status_when(&r.pool, early.payment_id, "voided").await,
        "voided"
    );
    assert_eq!(
        count(
            &r.pool,
            "SELECT count(*) FROM sandbox_intents WHERE metadata->>'order_id' = $1::text",
            early.order_id
        )
        .await,
        0,
        "nothing sent to the gateway"
    );

    // Canceled at every moment of the charge: each ends voided with no money taken, or
    // succeeded (too late to void; orders then asks for the refund).
    let mut voided = 0;
    for pause_ms in [0u64, 5, 20, 40, 60, 200, 600] {
        let a = attempt("pm_card_visa");
        record(&r.pool, &a).await;
        let worker = r.worker.clone();
        let charging = tokio::spawn(async move { worker.once().await });
        tokio::time::sleep(std::time::Duration::from_millis(pause_ms)).await;
        close(&r.pool, a.order_id).await;
        charging.await.expect("task").expect("worked");
        // As the consumer that closes an order kicks the worker, rather than leaving the
        // cancellation to the worker's next round, half a second away.
        r.worker.once().await.expect("worked");
        let done = eventually(10, || async {
            let s: String = sqlx::query_scalar("SELECT status FROM payments WHERE id = $1")
                .bind(a.payment_id)
                .fetch_one(&r.pool)
                .await
                .ok()?;
            (s != "pending").then_some(s)
        })
        .await
        .expect("settled");
        let intent: Option<String> =
            sqlx::query_scalar("SELECT status FROM sandbox_intents WHERE idempotency_key = $1")
                .bind(format!("kazna-{}-1-charge", a.order_id))
                .fetch_optional(&r.pool)
                .await
                .expect("intent");
        let at_gateway = match intent_ref(&r.pool, a.payment_id).await {
            Some(intent) => {
                let at = Ref {
                    payment_id: a.payment_id,
                    order_id: a.order_id,
                    attempt: a.attempt,
                    intent,
                    amount: a.amount,
                };
                let gateway = r.worker.gateways.get(Provider::Sandbox).expect("sandbox");
                let remote = gateway.retrieve(&at, &mut Transcript::default()).await;
                Some(remote.expect("retrieve").state)
            }
            None => None,
        };
        match done.as_str() {
            "voided" => {
                assert_ne!(at_gateway, Some(State::Succeeded), "{pause_ms} ms");
                voided += 1;
                assert_ne!(intent.as_deref(), Some("succeeded"), "{pause_ms} ms")
            }
            "succeeded" => {
                assert_eq!(at_gateway, Some(State::Succeeded), "{pause_ms} ms");
                assert_eq!(intent.as_deref(), Some("succeeded"), "{pause_ms} ms")
            }
            other => panic!("{pause_ms} ms: ended {other}"),
        }
    }
    assert!(voided > 0, "a cancellation in time voids the charge");
    r.stop.cancel();
}

#[tokio::test]
async fn concurrent_partial_refunds_never_exceed_what_was_taken() {
    let r = start().await;
    let a = attempt("pm_card_visa");
    record(&r.pool, &a).await;
    r.worker.once().await.expect("worked");
    assert_eq!(
        status_when(&r.pool, a.payment_id, "succeeded").await,
        "succeeded"
    );
    assert!(
        matches!(
            refund(&r.pool, a.payment_id, Amount::Part(2000)).await,
            Err(Error::RefundTooLarge(left)) if left == Money::new(1999, Currency::EUR)
        ),
        "more than was taken"
    );

    // 20 refunds of 3.00 at once against 19.99 taken: six fit.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let pool = r.pool.clone();
            tokio::spawn(async move { refund(&pool, a.payment_id, Amount::Part(300)).await })
        })
        .collect();
    let (mut accepted, mut refused) = (0, 0);
    for t in tasks {
        match t.await.expect("task") {
            Ok(Some(_)) => accepted += 1,
            Err(Error::RefundTooLarge(_)) => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((accepted, refused), (6, 14));
    r.worker.once().await.expect("worked");
    let partly = status_when(&r.pool, a.payment_id, "partially_refunded").await;
    assert_eq!(partly, "partially_refunded");
    let settled = eventually(10, || async {
        (refunded(&r.pool, a.payment_id).await == 1800).then_some(())
    })
    .await;
    assert!(settled.is_some(), "every accepted refund went through");

    // The rest, then nothing more.
    let rest = refund(&r.pool, a.payment_id, Amount::AllLeft)
        .await
        .expect("the rest");
    assert!(rest.is_some());
    r.worker.once().await.expect("worked");
    assert_eq!(
        status_when(&r.pool, a.payment_id, "refunded").await,
        "refunded"
    );
    assert_eq!(refunded(&r.pool, a.payment_id).await, 1999);
    assert!(matches!(
        refund(&r.pool, a.payment_id, Amount::Part(1)).await,
        Err(Error::RefundTooLarge(_))
    ));
    assert!(
        matches!(refund(&r.pool, a.payment_id, Amount::Rest).await, Ok(None)),
        "an automatic refund of nothing left does nothing"
    );
    assert_eq!(
        count(&r.pool, "SELECT coalesce(sum(r.amount), 0)::bigint FROM sandbox_refunds r JOIN sandbox_intents i ON i.id = r.intent_id WHERE i.metadata->>'payment_id' = $1::text", a.payment_id).await,
        1999,
        "the gateway gave back exactly what was taken"
    );
    r.stop.cancel();
}

#[tokio::test]
async fn webhooks_need_a_fresh_signature_and_a_repeat_changes_nothing() {
    let r = start().await;
    let a = attempt("pm_card_visa");
    record(&r.pool, &a).await;
    r.worker.once().await.expect("worked");
    let payment_id = a.payment_id;
    assert_eq!(
        status_when(&r.pool, payment_id, "succeeded").await,
        "succeeded"
    );
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
    let recorded = count(&r.pool, "SELECT count(*) FROM payment_events WHERE provider_event_id = 'sandbox:evt_replayed' AND payment_id = $1", payment_id).await;
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

    // Stale and reordered: a failure, then a cancellation, after the success change nothing.
    for (id, kind) in [
        ("evt_late_failure", "payment_intent.payment_failed"),
        ("evt_late_cancel", "payment_intent.canceled"),
    ] {
        let late = serde_json::json!({
            "id": id, "type": kind, "created": 0,
            "data": {"object": {"id": intent, "metadata": {"payment_id": payment_id},
                                "last_payment_error": {"code": "card_declined"}}},
        })
        .to_string();
        let sent = http
            .post(format!("{}/webhooks/payments/sandbox", r.url))
            .header(
                signature::HEADER,
                signature::sign(&secret, now, late.as_bytes()),
            )
            .body(late)
            .send()
            .await
            .expect("sent");
        assert_eq!(sent.status(), 200, "{kind}");
    }
    assert_eq!(
        status_when(&r.pool, payment_id, "succeeded").await,
        "succeeded",
        "a late failure never undoes a success"
    );

    // A refund's webhook delivered twice (under two event ids) counts once.
    let refund_id = refund(&r.pool, payment_id, Amount::Part(500))
        .await
        .expect("refund")
        .expect("a refund");
    r.worker.once().await.expect("worked");
    let done = eventually(10, || async {
        (refunded(&r.pool, payment_id).await == 500).then_some(())
    })
    .await;
    assert!(done.is_some(), "refunded");
    let reference: String = sqlx::query_scalar("SELECT provider_ref FROM refunds WHERE id = $1")
        .bind(refund_id)
        .fetch_one(&r.pool)
        .await
        .expect("reference");
    let again = serde_json::json!({
        "id": "evt_refund_again", "type": "charge.refunded", "created": 0,
        "data": {"object": {"id": "ch_x", "payment_intent": intent,
            "metadata": {"payment_id": payment_id},
            "refunds": {"data": [{"id": reference, "status": "succeeded", "amount": 500,
                                  "metadata": {"refund_id": refund_id}}]}}},
    })
    .to_string();
    let sent = http
        .post(format!("{}/webhooks/payments/sandbox", r.url))
        .header(
            signature::HEADER,
            signature::sign(&secret, now, again.as_bytes()),
        )
        .body(again)
        .send()
        .await
        .expect("sent");
    assert_eq!(sent.status(), 200);
    assert_eq!(refunded(&r.pool, payment_id).await, 500, "counted once");
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
