//! Stripe's adapter on the wire: the exact requests its API documents, and its documented
//! answers, errors and signed webhooks.

use std::time::Duration;

use kazna_contracts::payments::{PaymentStatus, Provider};
use kazna_payments::{payments::Attempt, signature};
use kazna_testkit::{Reply, mock::Request};
use serde_json::{Value, json};

use crate::harness::{self, Harness, STRIPE_KEY, WHSEC_NEW, WHSEC_OLD, attempt, logged};

fn intent(id: &str, a: &Attempt, status: &str) -> Value {
    json!({
        "id": id, "object": "payment_intent", "amount": 1999,
        "amount_received": if status == "succeeded" { 1999 } else { 0 },
        "currency": "eur", "status": status,
        "client_secret": format!("{id}_secret_YrKJUKribcBjcG8HVhfZluoGH"),
        "capture_method": "automatic", "confirmation_method": "automatic",
        "last_payment_error": null, "latest_charge": null, "livemode": false, "next_action": null,
        "payment_method": "pm_card_visa", "payment_method_types": ["card"],
        "metadata": {"order_id": a.order_id, "payment_id": a.payment_id, "attempt": "1"},
    })
}

fn event(id: &str, kind: &str, object: Value) -> String {
    json!({
        "id": id, "object": "event", "api_version": "2024-06-20", "created": 1_680_064_028,
        "type": kind, "livemode": false, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "data": {"object": object},
    })
    .to_string()
}

type Headers = Vec<(&'static str, String)>;

fn signed(secret: &str, at: i64, body: &str) -> Headers {
    vec![(
        "stripe-signature",
        signature::sign(secret, at, body.as_bytes()),
    )]
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// What Stripe documents for creating and confirming a PaymentIntent, exactly.
fn assert_charge_request(r: &Request, a: &Attempt) {
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/payment_intents")
    );
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {STRIPE_KEY}").as_str())
    );
    assert_eq!(
        r.header("idempotency-key"),
        Some(format!("kazna-{}-1-charge", a.order_id).as_str()),
        "derived from the order and the attempt"
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let pairs = |v: &[(&str, String)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    };
    assert_eq!(
        r.form(),
        pairs(&[
            ("amount", "1999".into()),
            ("currency", "eur".into()),
            ("payment_method", "pm_card_visa".into()),
            ("payment_method_types[]", "card".into()),
            ("confirm", "true".into()),
            ("metadata[order_id]", a.order_id.to_string()),
            ("metadata[payment_id]", a.payment_id.to_string()),
            ("metadata[attempt]", "1".into()),
        ])
    );
}

async fn stripe() -> Harness {
    harness::start(&[Provider::Stripe], |_| {}).await
}

#[tokio::test]
async fn a_charge_is_one_documented_request_and_its_webhook_settles_it() {
    let h = stripe().await;
    let a = attempt("pm_card_visa");
    h.mock.on(
        "POST",
        "/v1/payment_intents",
        vec![Reply::json(200, intent("pi_1", &a, "processing"))],
    );
    h.record(&a).await;
    let p = h
        .work_until(a.payment_id, "charged", |p| {
            !p.events.iter().all(|e| e.kind != "provider_request")
        })
        .await;
    assert_eq!(p.status, PaymentStatus::Pending);
    assert_eq!(p.provider, Provider::Stripe);
    let sent = h.mock.requests_to("POST", "/v1/payment_intents");
    assert_eq!(sent.len(), 1, "one charge");
    assert_charge_request(&sent[0], &a);

    // Signed with the newer of the two secrets (the old one is being rotated out).
    let body = event(
        "evt_1",
        "payment_intent.succeeded",
        intent("pi_1", &a, "succeeded"),
    );
    let ok = h
        .post_webhook("stripe", &signed(WHSEC_NEW, now(), &body), &body)
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        h.payment(a.payment_id).await.status,
        PaymentStatus::Succeeded
    );
    // Delivered again: acknowledged, applied once.
    let again = h
        .post_webhook("stripe", &signed(WHSEC_OLD, now(), &body), &body)
        .await;
    assert_eq!(again.status(), 200);
    let p = h.payment(a.payment_id).await;
    assert_eq!(logged(&p, "payment_intent.succeeded"), 1);
    assert_eq!(logged(&p, "status_changed"), 1);

    let audit = h.audit_text().await;
    assert!(
        audit.contains("/v1/payment_intents"),
        "the request is in the audit log"
    );
    for secret in [STRIPE_KEY, "_secret_YrKJ", WHSEC_NEW] {
        assert!(!audit.contains(secret), "{secret} reached the audit log");
    }
}

#[tokio::test]
async fn a_decline_is_a_declined_attempt_with_stripes_reason() {
    let h = stripe().await;
    let a = attempt("pm_card_visa");
    let declined = json!({"error": {
        "charge": "ch_3MtwBwLkdIwHu7ix0snN0B15", "code": "card_declined",
        "decline_code": "insufficient_funds",
        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        "message": "Your card has insufficient funds.", "type": "card_error",
        "payment_intent": {"id": "pi_2", "object": "payment_intent", "status": "requires_payment_method",
            "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds", "type": "card_error"}},
        "request_log_url": "https://dashboard.stripe.com/test/logs/req_1",
    }});
    h.mock.on(
        "POST",
        "/v1/payment_intents",
        vec![Reply::json(402, declined)],
    );
    h.record(&a).await;
    let p = h
        .work_until(a.payment_id, "declined", |p| {
            p.status != PaymentStatus::Pending
        })
        .await;
    assert_eq!(p.status, PaymentStatus::Failed);
    assert_eq!(p.failure_reason.as_deref(), Some("insufficient_funds"));
    assert_eq!(
        h.mock.requests_to("POST", "/v1/payment_intents").len(),
        1,
        "a decline is not retried"
    );
}

#[tokio::test]
async fn three_d_secure_shows_the_client_secret_and_next_action_until_the_webhook_finishes_it() {
    let h = stripe().await;
    let a = attempt("pm_card_visa");
    let mut pi = intent("pi_3ds", &a, "requires_action");
    pi["next_action"] = json!({"type": "use_stripe_sdk", "use_stripe_sdk": {
        "type": "three_d_secure_redirect", "stripe_js": "https://hooks.stripe.com/redirect/authenticate/src_1",
        "source": "src_1"}});
    h.mock
        .on("POST", "/v1/payment_intents", vec![Reply::json(200, pi)]);
    h.record(&a).await;
    let p = h
        .work_until(a.payment_id, "asks for action", |p| p.action.is_some())
        .await;
    let action = p.action.expect("action");
    assert_eq!(p.status, PaymentStatus::Pending);
    assert_eq!(action.kind, "use_stripe_sdk");
    assert_eq!(
        action.client_secret.as_deref(),
        Some("pi_3ds_secret_YrKJUKribcBjcG8HVhfZluoGH")
    );
    assert_eq!(
        action
            .next_action
            .as_ref()
            .map(|n| n["use_stripe_sdk"]["type"].clone()),
        Some(json!("three_d_secure_redirect"))
    );
    assert!(
        !h.audit_text().await.contains("_secret_YrKJ"),
        "the client secret stays out of the log"
    );

    let body = event(
        "evt_3ds",
        "payment_intent.succeeded",
        intent("pi_3ds", &a, "succeeded"),
    );
    let ok = h
        .post_webhook("stripe", &signed(WHSEC_OLD, now(), &body), &body)
        .await;
    assert_eq!(ok.status(), 200);
    let p = h.payment(a.payment_id).await;
    assert_eq!(p.status, PaymentStatus::Succeeded);
    assert!(p.action.is_none(), "nothing left to do");
}

#[tokio::test]
async fn a_rate_limit_a_server_error_and_a_lost_answer_are_retried_with_the_same_key() {
    let h = stripe().await;
    let a = attempt("pm_card_visa");
    let limited = json!({"error": {"code": "rate_limit", "message": "Too many requests hit the API too quickly.", "type": "invalid_request_error"}});
    let broken = json!({"error": {"message": "An unknown error occurred", "type": "api_error"}});
    h.mock.on(
        "POST",
        "/v1/payment_intents",
        vec![
            Reply::json(429, limited),
            Reply::json(500, broken),
            // Arrives after the caller gave up (time-out 500 ms): the charge was made.
            Reply::json(200, intent("pi_4", &a, "processing")).after(Duration::from_millis(1500)),
            Reply::json(200, intent("pi_4", &a, "succeeded")),
        ],
    );
    h.record(&a).await;
    let p = h
        .work_until(a.payment_id, "charged in the end", |p| {
            p.status == PaymentStatus::Succeeded
        })
        .await;
    let sent = h.mock.requests_to("POST", "/v1/payment_intents");
    assert_eq!(sent.len(), 4, "tried until answered, then no more");
    for r in &sent {
        assert_charge_request(r, &a);
    }
    let calls = logged(&p, "provider_request");
    assert_eq!(calls, 4, "each try is in the audit log");
}

#[tokio::test]
async fn a_refund_and_a_cancel_are_the_documented_requests() {
    let h = stripe().await;
    // A refund of part of a charge that succeeded.
    let a = attempt("pm_card_visa");
    h.mock.on(
        "POST",
        "/v1/payment_intents",
        vec![Reply::json(200, intent("pi_5", &a, "succeeded"))],
    );
    h.record(&a).await;
    h.work_until(a.payment_id, "succeeded", |p| {
        p.status == PaymentStatus::Succeeded
    })
    .await;
    let refund_id = h.refund(a.payment_id, 500).await;
    h.mock.on("POST", "/v1/refunds", vec![Reply::json(200, json!({
        "id": "re_5", "object": "refund", "amount": 500, "charge": "ch_5", "currency": "eur",
        "payment_intent": "pi_5", "status": "succeeded", "reason": null,
        "metadata": {"refund_id": refund_id, "payment_id": a.payment_id},
    }))]);
    let p = h
        .work_until(a.payment_id, "refunded", |p| {
            p.status == PaymentStatus::PartiallyRefunded
        })
        .await;
    assert_eq!(p.refunded.amount_minor, 500);
    let sent = h.mock.requests_to("POST", "/v1/refunds");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {STRIPE_KEY}").as_str())
    );
    assert_eq!(
        sent[0].header("idempotency-key"),
        Some(format!("kazna-{}-1-refund-{refund_id}", a.order_id).as_str())
    );
    let form: Vec<(String, String)> = sent[0].form();
    assert_eq!(
        form,
        vec![
            ("payment_intent".to_owned(), "pi_5".to_owned()),
            ("amount".into(), "500".into()),
            ("metadata[refund_id]".into(), refund_id.to_string()),
            ("metadata[payment_id]".into(), a.payment_id.to_string()),
        ]
    );

    // A charge still processing when its order is canceled is canceled at Stripe.
    let b = attempt("pm_card_visa");
    h.mock.on(
        "POST",
        "/v1/payment_intents",
        vec![Reply::json(200, intent("pi_6", &b, "processing"))],
    );
    h.mock.on(
        "POST",
        "/v1/payment_intents/pi_6/cancel",
        vec![Reply::json(200, intent("pi_6", &b, "canceled"))],
    );
    h.record(&b).await;
    h.work_until(b.payment_id, "charged", |p| {
        !p.events.iter().all(|e| e.kind != "provider_request")
    })
    .await;
    h.close(b.order_id).await;
    let p = h
        .work_until(b.payment_id, "voided", |p| {
            p.status != PaymentStatus::Pending
        })
        .await;
    assert_eq!(p.status, PaymentStatus::Voided);
    let sent = h
        .mock
        .requests_to("POST", "/v1/payment_intents/pi_6/cancel");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].header("idempotency-key"),
        Some(format!("kazna-{}-1-cancel", b.order_id).as_str())
    );
}

#[tokio::test]
async fn a_payment_whose_webhook_never_comes_is_settled_by_asking_stripe() {
    let h = harness::start(&[Provider::Stripe], |p| p.reconcile_after_secs = 1).await;
    let a = attempt("pm_card_visa");
    h.mock.on(
        "POST",
        "/v1/payment_intents",
        vec![Reply::json(200, intent("pi_7", &a, "processing"))],
    );
    let mut done = intent("pi_7", &a, "succeeded");
    done["latest_charge"] =
        json!({"id": "ch_7", "object": "charge", "amount": 1999, "amount_refunded": 0});
    h.mock.on(
        "GET",
        "/v1/payment_intents/pi_7",
        vec![Reply::json(200, done)],
    );
    h.record(&a).await;
    let p = h
        .work_until(a.payment_id, "settled without a webhook", |p| {
            p.status != PaymentStatus::Pending
        })
        .await;
    assert_eq!(p.status, PaymentStatus::Succeeded);
    let asked = h.mock.requests_to("GET", "/v1/payment_intents/pi_7");
    assert!(!asked.is_empty());
    assert_eq!(asked[0].query.as_deref(), Some("expand[]=latest_charge"));
    assert_eq!(
        asked[0].header("authorization"),
        Some(format!("Bearer {STRIPE_KEY}").as_str())
    );
    // The webhook arriving after all changes nothing.
    let body = event(
        "evt_7",
        "payment_intent.succeeded",
        intent("pi_7", &a, "succeeded"),
    );
    assert_eq!(
        h.post_webhook("stripe", &signed(WHSEC_OLD, now(), &body), &body)
            .await
            .status(),
        200
    );
    let p = h.payment(a.payment_id).await;
    assert_eq!(logged(&p, "status_changed"), 1);

    // A refund Stripe accepted as pending, whose webhook never comes either.
    let refund_id = h.refund(a.payment_id, 1999).await;
    let pending = json!({"id": "re_7", "object": "refund", "amount": 1999, "currency": "eur",
        "payment_intent": "pi_7", "status": "pending",
        "metadata": {"refund_id": refund_id, "payment_id": a.payment_id}});
    let mut done = pending.clone();
    done["status"] = json!("succeeded");
    h.mock
        .on("POST", "/v1/refunds", vec![Reply::json(200, pending)]);
    h.mock
        .on("GET", "/v1/refunds/re_7", vec![Reply::json(200, done)]);
    let p = h
        .work_until(a.payment_id, "refunded without a webhook", |p| {
            p.status == PaymentStatus::Refunded
        })
        .await;
    assert_eq!(p.refunded.amount_minor, 1999);
    let asked = h.mock.requests_to("GET", "/v1/refunds/re_7");
    assert!(!asked.is_empty());
    assert_eq!(
        asked[0].header("authorization"),
        Some(format!("Bearer {STRIPE_KEY}").as_str())
    );
}

#[tokio::test]
async fn stripe_signatures_are_checked_over_the_raw_body_with_every_secret() {
    let h = stripe().await;
    let a = attempt("pm_card_visa");
    h.mock.on(
        "POST",
        "/v1/payment_intents",
        vec![Reply::json(200, intent("pi_8", &a, "processing"))],
    );
    h.record(&a).await;
    h.work_until(a.payment_id, "charged", |p| {
        !p.events.iter().all(|e| e.kind != "provider_request")
    })
    .await;
    let body = event("evt_8", "payment_intent.payment_failed", {
        let mut pi = intent("pi_8", &a, "requires_payment_method");
        pi["last_payment_error"] =
            json!({"code": "card_declined", "decline_code": "generic_decline"});
        pi
    });
    // Half a minute either side of the five minutes' tolerance: the server reads its clock
    // a moment after this one (the bound itself is checked in `signature`'s own tests).
    let t = now();
    let v1 = signature::sign(WHSEC_OLD, t, body.as_bytes());
    let refused: Vec<(&str, Headers, String)> = vec![
        ("stale", signed(WHSEC_OLD, t - 330, &body), body.clone()),
        (
            "from the future",
            signed(WHSEC_OLD, t + 330, &body),
            body.clone(),
        ),
        (
            "unknown secret",
            signed("whsec_someone_else", t, &body),
            body.clone(),
        ),
        (
            "tampered body",
            signed(WHSEC_OLD, t, &body),
            body.replace("generic_decline", "fraudulent"),
        ),
        ("missing header", vec![], body.clone()),
        (
            "unknown scheme",
            vec![("stripe-signature", v1.replace("v1=", "v0="))],
            body.clone(),
        ),
    ];
    for (case, headers, sent) in refused {
        let r = h.post_webhook("stripe", &headers, &sent).await;
        assert_eq!(r.status(), 400, "{case}");
        let problem: Value = r.json().await.expect("problem");
        assert_eq!(problem["code"], "invalid_signature", "{case}");
    }
    assert_eq!(
        h.payment(a.payment_id).await.status,
        PaymentStatus::Pending,
        "none was applied"
    );
    // Within the tolerance, with the second secret: applied.
    let ok = h
        .post_webhook("stripe", &signed(WHSEC_NEW, t - 270, &body), &body)
        .await;
    assert_eq!(ok.status(), 200);
    let p = h.payment(a.payment_id).await;
    assert_eq!(
        (p.status, p.failure_reason.as_deref()),
        (PaymentStatus::Failed, Some("generic_decline"))
    );
    // Signed but not an event: a clear 400, not a 500.
    let junk = "{\"hello\": 1}";
    let r = h
        .post_webhook("stripe", &signed(WHSEC_NEW, t, junk), junk)
        .await;
    assert_eq!(r.status(), 400);
    // The sandbox is off here, so its endpoint is not served.
    let r = h
        .post_webhook("sandbox", &signed(WHSEC_NEW, t, &body), &body)
        .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn refund_webhooks_settle_a_pending_refund_once() {
    let h = stripe().await;
    let a = attempt("pm_card_visa");
    h.mock.on(
        "POST",
        "/v1/payment_intents",
        vec![Reply::json(200, intent("pi_9", &a, "succeeded"))],
    );
    h.record(&a).await;
    h.work_until(a.payment_id, "succeeded", |p| {
        p.status == PaymentStatus::Succeeded
    })
    .await;
    let refund_id = h.refund(a.payment_id, 1999).await;
    let pending = json!({"id": "re_9", "object": "refund", "amount": 1999, "currency": "eur",
        "payment_intent": "pi_9", "status": "pending",
        "metadata": {"refund_id": refund_id, "payment_id": a.payment_id}});
    h.mock.on(
        "POST",
        "/v1/refunds",
        vec![Reply::json(200, pending.clone())],
    );
    h.work_until(a.payment_id, "asked", |p| {
        p.refunds.iter().any(|r| r.provider_ref.is_some())
    })
    .await;
    let mut done = pending;
    done["status"] = json!("succeeded");
    let body = event("evt_9", "refund.updated", done);
    for _ in 0..2 {
        let r = h
            .post_webhook("stripe", &signed(WHSEC_OLD, now(), &body), &body)
            .await;
        assert_eq!(r.status(), 200);
    }
    let p = h.payment(a.payment_id).await;
    assert_eq!(
        (p.status, p.refunded.amount_minor),
        (PaymentStatus::Refunded, 1999)
    );
}

#[tokio::test]
async fn the_real_api_is_reached_over_tls_with_the_one_crypto_backend() {
    use kazna_payments::{
        audit::Transcript,
        gateway::{Charge, Gateway, GatewayError},
        settings::StripeSettings,
        stripe::Stripe,
    };
    use tokio::io::AsyncReadExt;
    // A server that reads what the client sends first, then hangs up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let first = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accepted");
        let mut byte = [0u8; 1];
        socket.read_exact(&mut byte).await.expect("read");
        byte[0]
    });
    let cfg = StripeSettings {
        secret_key: kazna_kernel::Secret::new(STRIPE_KEY),
        api_base: format!("https://127.0.0.1:{port}"),
        webhook_secrets: vec![],
        timeout_ms: 2_000,
    };
    let a = attempt("pm_card_visa");
    let charge = Charge {
        idempotency_key: "k".into(),
        amount: a.amount,
        payment_method: a.payment_method.clone(),
        payment_id: a.payment_id,
        order_id: a.order_id,
        attempt: 1,
    };
    let answer = Stripe::new(&cfg)
        .charge(&charge, &mut Transcript::default())
        .await;
    assert!(
        matches!(answer, Err(GatewayError::Unavailable(_))),
        "{answer:?}"
    );
    assert_eq!(
        first.await.expect("server"),
        0x16,
        "a TLS handshake record opened the connection"
    );
}
