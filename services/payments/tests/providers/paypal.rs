//! PayPal's adapter on the wire: an OAuth2 token cached until it expires, Orders v2 with
//! `intent=CAPTURE`, the buyer's approval link, capture after approval, refunds of the
//! capture, `PayPal-Request-Id` on every POST, and webhooks verified by PayPal itself.

use kazna_contracts::payments::{PaymentStatus, Provider};
use kazna_payments::payments::Attempt;
use kazna_testkit::{Reply, mock::Request};
use serde_json::{Value, json};

use crate::harness::{self, Harness, PAYPAL_WEBHOOK, attempt};

const TOKEN: &str = "A21AAFEpH4PsADK7qSS7pSRsgzfENtu-Q1ysgEDVDESseMHBYXVJYE8ovjj68elIDy8nF26AwPhfXTIeWAZHSLIsQkSYz9ifg";
const BASIC: &str = "Basic QWJDZFBheVBhbENsaWVudElkOkVGZ1BheVBhbENsaWVudFNlY3JldA==";
const ORDER: &str = "5O190127TN364715T";
const CAPTURE: &str = "3C679366HH908993F";
const APPROVE: &str = "https://www.paypal.com/checkoutnow?token=5O190127TN364715T";

fn token() -> Value {
    json!({
        "scope": "https://uri.paypal.com/services/payments/payment https://uri.paypal.com/services/payments/refund",
        "access_token": TOKEN, "token_type": "Bearer", "app_id": "APP-80W284485P519543T",
        "expires_in": 31668, "nonce": "2026-12-02T01:35:36ZaYZlGvEkV4yVSz8g6bAKFoGSEzuy3CQcz3ljhibkOHg",
    })
}

fn created() -> Value {
    json!({
        "id": ORDER, "status": "PAYER_ACTION_REQUIRED", "payment_source": {"paypal": {}},
        "links": [
            {"href": format!("https://api-m.paypal.com/v2/checkout/orders/{ORDER}"), "rel": "self", "method": "GET"},
            {"href": APPROVE, "rel": "payer-action", "method": "GET"},
        ],
    })
}

fn order(a: &Attempt, status: &str) -> Value {
    json!({
        "id": ORDER, "intent": "CAPTURE", "status": status,
        "purchase_units": [{"reference_id": a.order_id, "custom_id": a.payment_id,
            "amount": {"currency_code": "EUR", "value": "19.99"}}],
        "links": [{"href": format!("https://api-m.paypal.com/v2/checkout/orders/{ORDER}"), "rel": "self", "method": "GET"}],
    })
}

fn captured(a: &Attempt, refunds: Value) -> Value {
    json!({
        "id": ORDER, "intent": "CAPTURE", "status": "COMPLETED",
        "purchase_units": [{"reference_id": a.order_id, "custom_id": a.payment_id,
            "amount": {"currency_code": "EUR", "value": "19.99"},
            "payments": {
                "captures": [{"id": CAPTURE, "status": "COMPLETED", "custom_id": a.payment_id,
                    "amount": {"currency_code": "EUR", "value": "19.99"}, "final_capture": true,
                    "create_time": "2026-12-02T01:40:00Z"}],
                "refunds": refunds,
            }}],
        "payer": {"name": {"given_name": "John", "surname": "Doe"}, "payer_id": "QYR5Z8XDVJNXQ"},
    })
}

fn webhook(id: &str, kind: &str, resource: Value) -> String {
    json!({
        "id": id, "event_version": "1.0", "create_time": "2026-12-02T01:41:49.000Z",
        "resource_type": "checkout-order", "resource_version": "2.0", "event_type": kind,
        "summary": "An order has been approved by buyer", "resource": resource,
    })
    .to_string()
}

fn transmission() -> Vec<(&'static str, String)> {
    vec![
        ("paypal-auth-algo", "SHA256withRSA".into()),
        ("paypal-cert-url", "https://api-m.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77".into()),
        ("paypal-transmission-id", "69cd13f0-d67a-11e5-baa3-778b53f4ae55".into()),
        ("paypal-transmission-sig", "lmI95Jx3Y9nhR5SJWlHVIWpg4AgFk7n9bCHSRxbrd8A9zrhdu2rMyFrmz+Zjh3s3boXB07VXCXUZy/UFzUlnGJn0wDugt7FlSvdKeIJenLRemUxYCPVoEZzg9VFNqOa48gMkvF+XTpxBeUx/kWy6B5cp7GkT2+pOowfRK7OaynuxUoKW3JcMWw272VKjLTtTAShncla7tGF+55rxyt2KNZIIqxNMJ48RDZheGU5w1npu9dZHnPgTXB9iomeVRoD8O/jhRpnKsGrDschyNdkeh81BJJMH4Ctc6lnCCquoP/GzCzz33MMsNdid7vL/NIWaCsekQpW26FpWPi/tfj8nLA==".into()),
        ("paypal-transmission-time", "2026-12-02T01:41:50Z".into()),
    ]
}

async fn paypal() -> Harness {
    let h = harness::start(&[Provider::Sandbox, Provider::PayPal], |_| {}).await;
    h.mock
        .on("POST", "/v1/oauth2/token", vec![Reply::json(200, token())]);
    h.mock.on(
        "POST",
        "/v2/checkout/orders",
        vec![Reply::json(201, created())],
    );
    h.mock.on(
        "POST",
        "/v1/notifications/verify-webhook-signature",
        vec![Reply::json(200, json!({"verification_status": "SUCCESS"}))],
    );
    h
}

fn bearer(r: &Request) {
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str()),
        "{} {}",
        r.method,
        r.path
    );
}

#[tokio::test]
async fn an_order_is_created_for_approval_with_a_cached_token_and_the_documented_body() {
    let h = paypal().await;
    let a = attempt("paypal");
    h.record(&a).await;
    let p = h
        .work_until(a.payment_id, "waiting for approval", |p| p.action.is_some())
        .await;
    assert_eq!(
        (p.provider, p.status),
        (Provider::PayPal, PaymentStatus::Pending)
    );
    let action = p.action.expect("action");
    assert_eq!(
        (action.kind.as_str(), action.url.as_deref()),
        ("approve", Some(APPROVE))
    );

    let tokens = h.mock.requests_to("POST", "/v1/oauth2/token");
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].header("authorization"), Some(BASIC));
    assert_eq!(
        tokens[0].form(),
        vec![("grant_type".to_owned(), "client_credentials".to_owned())]
    );
    let created = h.mock.requests_to("POST", "/v2/checkout/orders");
    assert_eq!(created.len(), 1);
    bearer(&created[0]);
    assert_eq!(
        created[0].header("paypal-request-id"),
        Some(format!("kazna-{}-1-charge", a.order_id).as_str())
    );
    assert_eq!(created[0].header("content-type"), Some("application/json"));
    assert_eq!(
        created[0].json(),
        json!({
            "intent": "CAPTURE",
            "purchase_units": [{
                "reference_id": a.order_id, "custom_id": a.payment_id,
                "invoice_id": format!("{}-1", a.order_id),
                "amount": {"currency_code": "EUR", "value": "19.99"},
            }],
            "payment_source": {"paypal": {"experience_context": {
                "user_action": "PAY_NOW",
                "return_url": format!("https://shop.example/checkout/paypal/return?payment={}", a.payment_id),
                "cancel_url": format!("https://shop.example/checkout/paypal/cancel?payment={}", a.payment_id),
            }}},
        })
    );

    // The next order reuses the token.
    let b = attempt("paypal");
    h.record(&b).await;
    h.work_until(b.payment_id, "waiting for approval", |p| p.action.is_some())
        .await;
    assert_eq!(
        h.mock.requests_to("POST", "/v1/oauth2/token").len(),
        1,
        "the token is cached"
    );
    let audit = h.audit_text().await;
    assert!(
        audit.contains("/v1/oauth2/token"),
        "the token request is logged"
    );
    assert!(!audit.contains(&TOKEN[..20]), "the token is not");
    assert!(!audit.contains("EFgPayPalClientSecret"));
}

#[tokio::test]
async fn an_approved_order_is_captured_once_and_refunded_against_its_capture() {
    let h = paypal().await;
    let a = attempt("paypal");
    h.record(&a).await;
    h.work_until(a.payment_id, "waiting for approval", |p| p.action.is_some())
        .await;
    h.mock.on(
        "GET",
        &format!("/v2/checkout/orders/{ORDER}"),
        vec![Reply::json(200, order(&a, "APPROVED"))],
    );
    h.mock.on(
        "POST",
        &format!("/v2/checkout/orders/{ORDER}/capture"),
        vec![Reply::json(201, captured(&a, json!([])))],
    );

    // The buyer approved at PayPal: its webhook, verified by PayPal, has payments capture.
    let body = webhook(
        "WH-COC11055RA711503B-4YM959094A144403T",
        "CHECKOUT.ORDER.APPROVED",
        order(&a, "APPROVED"),
    );
    let r = h.post_webhook("paypal", &transmission(), &body).await;
    assert_eq!(r.status(), 200);
    let verify = h
        .mock
        .requests_to("POST", "/v1/notifications/verify-webhook-signature");
    assert_eq!(verify.len(), 1);
    bearer(&verify[0]);
    assert_eq!(
        verify[0].header("paypal-request-id"),
        Some("kazna-verify-69cd13f0-d67a-11e5-baa3-778b53f4ae55")
    );
    let sent: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        verify[0].json(),
        json!({
            "auth_algo": "SHA256withRSA",
            "cert_url": "https://api-m.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77",
            "transmission_id": "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
            "transmission_sig": transmission()[3].1,
            "transmission_time": "2026-12-02T01:41:50Z",
            "webhook_id": PAYPAL_WEBHOOK,
            "webhook_event": sent,
        })
    );
    let p = h
        .work_until(a.payment_id, "captured", |p| {
            p.status != PaymentStatus::Pending
        })
        .await;
    assert_eq!(p.status, PaymentStatus::Succeeded);
    assert!(p.action.is_none());
    let captures = h
        .mock
        .requests_to("POST", &format!("/v2/checkout/orders/{ORDER}/capture"));
    assert_eq!(captures.len(), 1, "captured once");
    bearer(&captures[0]);
    assert_eq!(
        captures[0].header("paypal-request-id"),
        Some(format!("kazna-{}-1-capture", a.order_id).as_str())
    );
    // The same approval delivered again does not capture again.
    assert_eq!(
        h.post_webhook("paypal", &transmission(), &body)
            .await
            .status(),
        200
    );
    h.worker.once().await.expect("worked");
    assert_eq!(
        h.mock
            .requests_to("POST", &format!("/v2/checkout/orders/{ORDER}/capture"))
            .len(),
        1
    );

    // A refund of part of it goes back against the capture.
    h.mock.on(
        "GET",
        &format!("/v2/checkout/orders/{ORDER}"),
        vec![Reply::json(200, captured(&a, json!([])))],
    );
    let refund_id = h.refund(a.payment_id, 500).await;
    let refund_path = format!("/v2/payments/captures/{CAPTURE}/refund");
    h.mock.on(
        "POST",
        &refund_path,
        vec![Reply::json(
            201,
            json!({"id": "1JU08902781691411", "status": "COMPLETED",
            "links": [{"rel": "up", "method": "GET",
                "href": format!("https://api-m.paypal.com/v2/payments/captures/{CAPTURE}")}]}),
        )],
    );
    let p = h
        .work_until(a.payment_id, "refunded", |p| {
            p.status == PaymentStatus::PartiallyRefunded
        })
        .await;
    assert_eq!(p.refunded.amount_minor, 500);
    let refunds = h.mock.requests_to("POST", &refund_path);
    assert_eq!(refunds.len(), 1);
    bearer(&refunds[0]);
    assert_eq!(
        refunds[0].header("paypal-request-id"),
        Some(format!("kazna-{}-1-refund-{refund_id}", a.order_id).as_str())
    );
    assert_eq!(
        refunds[0].json(),
        json!({"amount": {"currency_code": "EUR", "value": "5.00"}, "custom_id": refund_id})
    );
}

#[tokio::test]
async fn a_declined_capture_fails_the_attempt_and_unverified_webhooks_are_refused() {
    let h = paypal().await;
    let a = attempt("paypal");
    h.record(&a).await;
    h.work_until(a.payment_id, "waiting for approval", |p| p.action.is_some())
        .await;

    // Not verified by PayPal, or without its headers: refused, nothing applied.
    h.mock.on(
        "POST",
        "/v1/notifications/verify-webhook-signature",
        vec![Reply::json(200, json!({"verification_status": "FAILURE"}))],
    );
    let body = webhook("WH-1", "CHECKOUT.ORDER.APPROVED", order(&a, "APPROVED"));
    let r = h.post_webhook("paypal", &transmission(), &body).await;
    assert_eq!(r.status(), 400);
    let r = h.post_webhook("paypal", &[], &body).await;
    assert_eq!(r.status(), 400);
    // PayPal down while verifying: 503, so PayPal sends it again later.
    h.mock.on(
        "POST",
        "/v1/notifications/verify-webhook-signature",
        vec![Reply::json(503, json!({"name": "SERVICE_UNAVAILABLE"}))],
    );
    assert_eq!(
        h.post_webhook("paypal", &transmission(), &body)
            .await
            .status(),
        503
    );
    assert!(
        h.mock
            .requests_to("POST", &format!("/v2/checkout/orders/{ORDER}/capture"))
            .is_empty()
    );

    h.mock.on(
        "POST",
        "/v1/notifications/verify-webhook-signature",
        vec![Reply::json(200, json!({"verification_status": "SUCCESS"}))],
    );
    h.mock.on(
        "GET",
        &format!("/v2/checkout/orders/{ORDER}"),
        vec![Reply::json(200, order(&a, "APPROVED"))],
    );
    h.mock.on(
        "POST",
        &format!("/v2/checkout/orders/{ORDER}/capture"),
        vec![Reply::json(422, json!({
            "name": "UNPROCESSABLE_ENTITY",
            "details": [{"issue": "INSTRUMENT_DECLINED",
                "description": "The instrument presented  was either declined by the processor or bank, or it can't be used for this payment."}],
            "message": "The requested action could not be performed, semantically incorrect, or failed business validation.",
            "debug_id": "c9a75b43fc807",
        }))],
    );
    assert_eq!(
        h.post_webhook("paypal", &transmission(), &body)
            .await
            .status(),
        200
    );
    let p = h
        .work_until(a.payment_id, "declined", |p| {
            p.status != PaymentStatus::Pending
        })
        .await;
    assert_eq!(
        (p.status, p.failure_reason.as_deref()),
        (PaymentStatus::Failed, Some("instrument_declined"))
    );
}

#[tokio::test]
async fn cards_and_paypal_side_by_side_each_through_its_own_provider() {
    let h = paypal().await;
    let card = attempt("pm_card_visa");
    let pp = attempt("paypal");
    h.record(&card).await;
    h.record(&pp).await;
    let c = h
        .work_until(card.payment_id, "card paid", |p| {
            p.status == PaymentStatus::Succeeded
        })
        .await;
    assert_eq!(c.provider, Provider::Sandbox);
    let p = h
        .work_until(pp.payment_id, "paypal waiting", |p| p.action.is_some())
        .await;
    assert_eq!(p.provider, Provider::PayPal);
    assert_eq!(
        h.mock.requests_to("POST", "/v2/checkout/orders").len(),
        1,
        "only the PayPal one went to PayPal"
    );
}

#[tokio::test]
async fn rate_limits_server_errors_and_a_stale_token_are_retried_with_the_same_request_id() {
    let h = paypal().await;
    h.mock.on(
        "POST",
        "/v1/oauth2/token",
        vec![
            Reply::json(200, token()),
            Reply::json(200, json!({"access_token": "A21AAsecondtoken", "token_type": "Bearer", "expires_in": 32400})),
        ],
    );
    h.mock.on(
        "POST",
        "/v2/checkout/orders",
        vec![
            Reply::json(429, json!({"name": "RATE_LIMIT_REACHED",
                "message": "Too many requests. Blocked due to rate limiting.", "debug_id": "90957fca61718"})),
            Reply::json(500, json!({"name": "INTERNAL_SERVER_ERROR",
                "message": "An internal server error occurred.", "debug_id": "90957fca61719"})),
            Reply::json(401, json!({"error": "invalid_token", "error_description": "Token signature verification failed"})),
            Reply::json(201, created()),
        ],
    );
    let a = attempt("paypal");
    h.record(&a).await;
    h.work_until(a.payment_id, "waiting for approval", |p| p.action.is_some())
        .await;
    let tries = h.mock.requests_to("POST", "/v2/checkout/orders");
    assert_eq!(tries.len(), 4);
    for t in &tries {
        assert_eq!(
            t.header("paypal-request-id"),
            Some(format!("kazna-{}-1-charge", a.order_id).as_str()),
            "the same request every time: PayPal makes one order of them"
        );
    }
    assert_eq!(
        tries[3].header("authorization"),
        Some("Bearer A21AAsecondtoken"),
        "a new token after the 401"
    );
    assert_eq!(h.mock.requests_to("POST", "/v1/oauth2/token").len(), 2);

    // Canceled before the buyer approved: PayPal is asked whether it was captured, and it
    // lapses there; nothing was taken.
    h.mock.on(
        "GET",
        &format!("/v2/checkout/orders/{ORDER}"),
        vec![Reply::json(200, order(&a, "PAYER_ACTION_REQUIRED"))],
    );
    h.close(a.order_id).await;
    let p = h
        .work_until(a.payment_id, "voided", |p| {
            p.status != PaymentStatus::Pending
        })
        .await;
    assert_eq!(p.status, PaymentStatus::Voided);
    assert!(
        h.mock
            .requests_to("POST", &format!("/v2/checkout/orders/{ORDER}/capture"))
            .is_empty()
    );
}
