//! An order's life across services, through the gateway: two sellers ship their parcels, the
//! order is delivered and returned for a refund; who may cancel, ship and refund; webhooks
//! that come twice or late.

use kazna_contracts::payments::PaymentStatus;
use kazna_kernel::Role;
use kazna_orders::{orders::Order, status::OrderStatus};
use kazna_payments::{PaymentsSettings, signature};
use kazna_testkit::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

fn shipped(carrier: &str, tracking: &str) -> serde_json::Value {
    json!({"status": "shipped", "carrier": carrier, "tracking_number": tracking})
}

#[tokio::test]
async fn two_sellers_ship_their_parcels_then_it_is_delivered_and_returned_for_a_refund() {
    let app = TestApp::spawn().await;
    let admin = app.account_with_role("boss@example.com", Role::Admin).await;
    let lamps = app
        .account_with_role("lamps@example.com", Role::Seller)
        .await;
    let shades = app
        .account_with_role("shades@example.com", Role::Seller)
        .await;
    let elsewhere = app
        .account_with_role("elsewhere@example.com", Role::Seller)
        .await;
    let lamp = app.a_product(&lamps, "Lamp", 3000, 5).await;
    let shade = app.a_product(&shades, "Shade", 1200, 5).await;
    let buyer = app.login_new_buyer().await;
    let stranger = app.login_new_buyer().await;
    app.add_to_cart(&buyer, lamp.variants[0].id, 1).await;
    app.add_to_cart(&buyer, shade.variants[0].id, 2).await;
    let placed = app.place_order(&buyer, "two-sellers", "pm_card_visa").await;
    assert_eq!(placed.total.amount_minor, 5400);
    let id = placed.id;
    app.order_when(&buyer, id, 10, |o| o.status == OrderStatus::Paid)
        .await;

    // Who may ship.
    for (who, token, status) in [
        ("the buyer", &buyer, StatusCode::FORBIDDEN),
        ("another buyer", &stranger, StatusCode::FORBIDDEN),
        ("a seller of none of it", &elsewhere, StatusCode::NOT_FOUND),
    ] {
        let a = app.set_status(token, id, shipped("DHL", "X")).await;
        assert_eq!(a.status, status, "{who}: {}", a.body);
    }
    let bad = app.set_status(&lamps, id, json!({"status": "lost"})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_fields(), ["status"]);

    // The lamp seller ships its parcel: the order waits for the other.
    let part = app
        .set_status(&lamps, id, shipped("DHL", "JD0001"))
        .await
        .ok::<Order>();
    assert_eq!(part.status, OrderStatus::Paid);
    assert_eq!(part.lines.len(), 1, "a seller sees its own lines");
    assert_eq!(part.lines[0].product_id, lamp.id);
    assert_eq!(part.total.amount_minor, 3000, "and their subtotal");
    assert!(part.payment.is_none());
    assert_eq!(part.shipments.len(), 1);
    assert_eq!(part.shipments[0].tracking_number.as_deref(), Some("JD0001"));
    let again = app.set_status(&lamps, id, shipped("DHL", "JD0001")).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "invalid_transition");
    let early = app
        .set_status(&lamps, id, json!({"status": "delivered"}))
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    assert!(
        early.body["detail"].as_str().unwrap().contains("paid"),
        "names where it is: {}",
        early.body
    );

    // Who may cancel a paid order with a parcel on its way.
    for (who, token, status) in [
        ("a seller of it", &lamps, StatusCode::FORBIDDEN),
        ("another buyer", &stranger, StatusCode::NOT_FOUND),
        ("another seller", &elsewhere, StatusCode::NOT_FOUND),
        ("the buyer", &buyer, StatusCode::CONFLICT),
        ("an admin", &admin, StatusCode::CONFLICT),
    ] {
        let a = app.cancel(token, id).await;
        assert_eq!(a.status, status, "{who}: {}", a.body);
    }

    // The shade seller ships: the whole order has shipped.
    app.set_status(&shades, id, shipped("UPS", "1Z999"))
        .await
        .ok::<Order>();
    let out = app.order(&buyer, id).await;
    assert_eq!(out.status, OrderStatus::Shipped);
    let mut parcels: Vec<_> = out
        .shipments
        .iter()
        .map(|s| {
            (
                s.carrier.clone().unwrap(),
                s.tracking_number.clone().unwrap(),
            )
        })
        .collect();
    parcels.sort();
    assert_eq!(
        parcels,
        [
            ("DHL".to_owned(), "JD0001".to_owned()),
            ("UPS".to_owned(), "1Z999".to_owned())
        ]
    );
    let shades_id = app.user_id(&shades).await;
    let last = out.history.last().unwrap();
    assert_eq!(
        (last.status, last.by.as_str()),
        (OrderStatus::Shipped, shades_id.as_str())
    );
    let late = app.cancel(&buyer, id).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert!(late.body["detail"].as_str().unwrap().contains("shipped"));

    // An admin delivers every parcel.
    let delivered = app
        .set_status(&admin, id, json!({"status": "delivered"}))
        .await
        .ok::<Order>();
    assert_eq!(delivered.status, OrderStatus::Delivered);

    // A return: only an admin refunds, in part, then the rest.
    let payment = delivered.payment.expect("payment").id;
    for token in [&buyer, &stranger, &lamps, &elsewhere] {
        let a = app.refund(token, payment, json!({"amount": 100})).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    }
    let refund_path = format!("/api/v1/payments/{payment}/refund");
    let with_key = |key: &'static str, amount: i64| {
        let (app, admin, path) = (&app, &admin, &refund_path);
        async move {
            app.call_with(
                Method::POST,
                path,
                Some(admin),
                Some(json!({"amount": amount})),
                &[("Idempotency-Key", key)],
            )
            .await
        }
    };
    let part = with_key("return-part-1", 1000).await;
    assert_eq!(part.status, StatusCode::OK, "{}", part.body);
    assert_eq!(
        part.body["amount"],
        json!({"amount": 1000, "currency": "EUR"})
    );
    let retried = with_key("return-part-1", 1000).await;
    assert_eq!(retried.status, StatusCode::OK);
    assert_eq!(
        retried.body["id"], part.body["id"],
        "a retry is the same refund"
    );
    let reused = with_key("return-part-1", 999).await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused.code(), "idempotency_key_reused");
    let bad = with_key("not a key", 1000).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.code(), "idempotency_key_required");
    let too_much = app
        .refund(&admin, payment, json!({"amount": 999_999}))
        .await;
    assert_eq!(too_much.status, StatusCode::CONFLICT);
    assert_eq!(too_much.code(), "refund_too_large");
    let partly = app
        .order_when(&buyer, id, 10, |o| {
            o.payment
                .as_ref()
                .is_some_and(|p| p.refunded.amount_minor == 1000)
        })
        .await;
    assert_eq!(
        partly.status,
        OrderStatus::Delivered,
        "a partial refund is not a return"
    );
    let rest = app
        .refund(&admin, payment, json!({"reason": "returned"}))
        .await;
    assert_eq!(rest.body["amount"]["amount"], 4400, "{}", rest.body);
    let returned = app
        .order_when(&buyer, id, 10, |o| o.status == OrderStatus::Refunded)
        .await;
    assert_eq!(returned.history.last().unwrap().by, "system");
    let p = app.payment(&buyer, payment).await;
    assert_eq!(p["status"], "refunded");
    assert_eq!(p["refunded"]["amount"], 5400);
    let refunds: Vec<_> = p["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].clone())
        .collect();
    assert_eq!(refunds, [json!("succeeded"), json!("succeeded")]);

    // Each seller finds the order among its own, with only its lines.
    let listed = app.orders(&lamps).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].lines.len(), 1);
    assert!(app.orders(&elsewhere).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_buyer_or_an_admin_cancels_and_money_and_stock_come_back() {
    let app = TestApp::spawn().await;
    let admin = app.account_with_role("boss@example.com", Role::Admin).await;
    let (buyer, cup) = app.a_buyer_with_in_cart("Cup", 700, 4, 1).await;
    let seller = app
        .account_with_role("other@example.com", Role::Seller)
        .await;
    let stranger = app.login_new_buyer().await;

    // Unpaid: another buyer cannot see it, a seller cannot cancel, the buyer can.
    let unpaid = app
        .place_order(&buyer, "unpaid", "pm_card_chargeDeclined")
        .await;
    app.order_when(&buyer, unpaid.id, 10, |o| {
        o.payment
            .as_ref()
            .is_some_and(|p| p.status == PaymentStatus::Failed)
    })
    .await;
    assert_eq!(
        app.cancel(&stranger, unpaid.id).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.cancel(&seller, unpaid.id).await.status,
        StatusCode::NOT_FOUND
    );
    let canceled = app.cancel(&buyer, unpaid.id).await.ok::<Order>();
    assert_eq!(canceled.status, OrderStatus::Canceled);
    let twice = app.cancel(&buyer, unpaid.id).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(twice.body["detail"].as_str().unwrap().contains("canceled"));
    let pay = app.pay(&buyer, unpaid.id, "pm_card_visa").await;
    assert_eq!(
        pay.status,
        StatusCode::CONFLICT,
        "a canceled order is not paid"
    );

    // Paid: an admin cancels it, and it is refunded in full.
    app.add_to_cart(&buyer, cup.variants[0].id, 3).await;
    let paid = app.place_order(&buyer, "paid", "pm_card_visa").await;
    app.order_when(&buyer, paid.id, 10, |o| o.status == OrderStatus::Paid)
        .await;
    let by_admin = app.cancel(&admin, paid.id).await.ok::<Order>();
    assert_eq!(by_admin.status, OrderStatus::Canceled);
    let refunded = app
        .order_when(&buyer, paid.id, 10, |o| {
            o.payment
                .as_ref()
                .is_some_and(|p| p.status == PaymentStatus::Refunded)
        })
        .await;
    assert_eq!(refunded.payment.unwrap().refunded.amount_minor, 2100);
    let back = kazna_testkit::eventually(10, || async {
        let v = &app.product(cup.id).await.variants[0];
        (v.stock == 4 && v.reserved == 0).then_some(())
    })
    .await;
    assert!(back.is_some(), "the sold units came back to stock");
    app.stop().await;
}

#[tokio::test]
async fn repeated_and_stale_webhooks_leave_a_paid_order_paid() {
    let app = TestApp::spawn().await;
    let admin = app.account_with_role("boss@example.com", Role::Admin).await;
    let (buyer, _) = app.a_buyer_with_in_cart("Bowl", 1100, 3, 1).await;
    let placed = app.place_order(&buyer, "bowl", "pm_card_visa").await;
    let paid = app
        .order_when(&buyer, placed.id, 10, |o| o.status == OrderStatus::Paid)
        .await;
    let payment = paid.payment.expect("payment").id;
    let p = app.payment(&admin, payment).await;
    let succeeded = p["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "payment_intent.succeeded")
        .expect("the success on record")["data"]
        .clone();
    let secret = app
        .settings
        .section::<PaymentsSettings>()
        .unwrap()
        .webhook_secret
        .expose()
        .to_owned();
    let now = chrono::Utc::now().timestamp();
    for (id, kind) in [
        ("evt_again_1", "payment_intent.succeeded"),
        ("evt_again_1", "payment_intent.succeeded"),
        ("evt_late_fail", "payment_intent.payment_failed"),
        ("evt_late_cancel", "payment_intent.canceled"),
    ] {
        let body = json!({"id": id, "type": kind, "created": now, "data": {"object": succeeded}})
            .to_string();
        let sent = app
            .http
            .post(format!("{}/webhooks/payments/sandbox", app.base))
            .header(
                signature::HEADER,
                signature::sign(&secret, now, body.as_bytes()),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), StatusCode::OK, "{kind}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let after = app.order(&buyer, placed.id).await;
    assert_eq!(after.status, OrderStatus::Paid);
    assert_eq!(
        after.payment.unwrap().status,
        PaymentStatus::Succeeded,
        "a late failure never undoes paid"
    );
    let paid_entries = after
        .history
        .iter()
        .filter(|h| h.status == OrderStatus::Paid)
        .count();
    assert_eq!(paid_entries, 1, "a repeated success does nothing");
    assert_eq!(app.payment(&buyer, payment).await["status"], "succeeded");
    app.stop().await;
}
