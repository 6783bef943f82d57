//! Providers side by side through the gateway: cards through the sandbox, PayPal through its
//! API (a local stand-in here), the buyer's approval link on the payment, PayPal's approval
//! webhook finishing the order; and a payment method whose provider is off, refused.

use std::time::Duration;

use kazna_contracts::payments::Provider;
use kazna_orders::status::OrderStatus;
use kazna_payments::PaymentsSettings;
use kazna_testkit::{MockServer, Reply, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn a_payment_method_whose_provider_is_off_is_refused_naming_it() {
    let app = TestApp::spawn().await;
    let seller = app
        .account_with_role("lamps@example.com", kazna_kernel::Role::Seller)
        .await;
    let lamp = app.a_product(&seller, "Lamp", 3000, 5).await;
    let buyer = app.login_new_buyer().await;
    app.add_to_cart(&buyer, lamp.variants[0].id, 1).await;
    for (method, says) in [("paypal", "paypal"), ("visa", "pm_")] {
        let a = app.try_place_order(&buyer, method, method).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method}: {}",
            a.body
        );
        assert_eq!(a.error_fields(), ["payment_method"]);
        assert!(a.body.to_string().contains(says), "{method}: {}", a.body);
    }
    assert_eq!(app.cart(&buyer).await.items.len(), 1, "nothing was placed");
    assert!(app.orders(&buyer).await.is_empty());
}

#[tokio::test]
async fn cards_and_paypal_side_by_side_with_paypal_approved_by_webhook() {
    let paypal = MockServer::start().await;
    let base = paypal.url.clone();
    let app = TestApp::spawn_with(|s| {
        s.update::<PaymentsSettings>(|p| {
            p.providers = vec![Provider::Sandbox, Provider::PayPal];
            p.paypal.client_id = "client".into();
            p.paypal.client_secret = kazna_kernel::Secret::new("secret");
            p.paypal.webhook_id = "WH-ID".into();
            p.paypal.api_base = base;
        })
        .expect("payments settings");
    })
    .await;
    paypal.on(
        "POST",
        "/v1/oauth2/token",
        vec![Reply::json(
            200,
            json!({
        "access_token": "A21AAtoken", "token_type": "Bearer", "expires_in": 32400}),
        )],
    );
    paypal.on("POST", "/v2/checkout/orders", vec![Reply::json(201, json!({
        "id": "8AB12345CD678901E", "status": "PAYER_ACTION_REQUIRED",
        "links": [{"href": "https://www.paypal.com/checkoutnow?token=8AB12345CD678901E", "rel": "payer-action", "method": "GET"}]}))]);
    paypal.on(
        "POST",
        "/v1/notifications/verify-webhook-signature",
        vec![Reply::json(200, json!({"verification_status": "SUCCESS"}))],
    );

    let seller = app
        .account_with_role("lamps@example.com", kazna_kernel::Role::Seller)
        .await;
    let lamp = app.a_product(&seller, "Lamp", 3000, 5).await;
    let buyer = app.login_new_buyer().await;
    app.add_to_cart(&buyer, lamp.variants[0].id, 1).await;
    let by_card = app.place_order(&buyer, "card", "pm_card_visa").await;
    app.add_to_cart(&buyer, lamp.variants[0].id, 1).await;
    let by_paypal = app.place_order(&buyer, "paypal", "paypal").await;
    app.order_when(&buyer, by_card.id, 10, |o| o.status == OrderStatus::Paid)
        .await;

    // The PayPal order waits for the buyer, whose payment shows where to approve it.
    let payment_id = by_paypal.payment.as_ref().expect("payment").id;
    let until = std::time::Instant::now() + Duration::from_secs(10);
    let payment: Value = loop {
        let a = app
            .call(
                Method::GET,
                &format!("/api/v1/payments/{payment_id}"),
                Some(&buyer),
                None,
            )
            .await;
        if a.status == StatusCode::OK && !a.body["action"].is_null() {
            break a.body;
        }
        assert!(
            std::time::Instant::now() < until,
            "no approval link: {}",
            a.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(payment["provider"], "paypal");
    assert_eq!(payment["action"]["type"], "approve");
    assert_eq!(
        payment["action"]["url"],
        "https://www.paypal.com/checkoutnow?token=8AB12345CD678901E"
    );
    assert_eq!(
        app.order(&buyer, by_paypal.id).await.status,
        OrderStatus::PendingPayment
    );

    // Approved at PayPal: its webhook reaches payments through the gateway, which captures.
    let approved = json!({"id": "8AB12345CD678901E", "intent": "CAPTURE", "status": "APPROVED",
        "purchase_units": [{"reference_id": by_paypal.id, "custom_id": payment_id,
            "amount": {"currency_code": "EUR", "value": "30.00"}}]});
    let mut completed = approved.clone();
    completed["status"] = json!("COMPLETED");
    completed["purchase_units"][0]["payments"] = json!({"captures": [{"id": "2GG279541U471931P",
        "status": "COMPLETED", "amount": {"currency_code": "EUR", "value": "30.00"}}]});
    paypal.on(
        "GET",
        "/v2/checkout/orders/8AB12345CD678901E",
        vec![Reply::json(200, approved.clone())],
    );
    paypal.on(
        "POST",
        "/v2/checkout/orders/8AB12345CD678901E/capture",
        vec![Reply::json(201, completed)],
    );
    let event = json!({"id": "WH-58D329510W468432D-8HN650336L201105X", "event_type": "CHECKOUT.ORDER.APPROVED",
        "resource_type": "checkout-order", "resource": approved});
    let hook = reqwest::Client::new()
        .post(format!("{}/webhooks/payments/paypal", app.base))
        .header("paypal-auth-algo", "SHA256withRSA")
        .header(
            "paypal-cert-url",
            "https://api-m.paypal.com/v1/notifications/certs/CERT-1",
        )
        .header(
            "paypal-transmission-id",
            "b2384410-f8d2-11e7-8a5b-55b3a0b3e5b2",
        )
        .header("paypal-transmission-sig", "c2lnbmF0dXJl")
        .header("paypal-transmission-time", "2026-12-02T01:20:00Z")
        .header("content-type", "application/json")
        .body(event.to_string())
        .send()
        .await
        .expect("webhook");
    assert_eq!(hook.status(), StatusCode::OK);
    let paid = app
        .order_when(&buyer, by_paypal.id, 10, |o| o.status == OrderStatus::Paid)
        .await;
    assert_eq!(paid.payment.map(|p| p.attempt), Some(1));
    assert_eq!(
        paypal.requests_to("POST", "/v2/checkout/orders").len(),
        1,
        "the card order never went to PayPal"
    );
}
