//! An order's life after it is placed, against the whole platform: paying again after a
//! decline, checkouts racing for scarce stock, cancellations racing payments, payments that
//! come after the order expired.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use kazna_catalog::CatalogSettings;
use kazna_contracts::payments::PaymentStatus;
use kazna_kernel::{Context, Role};
use kazna_orders::{orders::Order, status::OrderStatus};
use kazna_payments::PaymentsSettings;
use kazna_testkit::{TcpProxy, TestApp, eventually};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

async fn payments_db(app: &TestApp) -> PgPool {
    kazna_payments::database(&Context::new(app.settings.clone()))
        .await
        .expect("payments db")
}

/// Charges the sandbox took for `order`: (intents created, intents that took money).
async fn charges(pool: &PgPool, order: Uuid) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded') FROM sandbox_intents
         WHERE metadata->>'order_id' = $1::text",
    )
    .bind(order)
    .fetch_one(pool)
    .await
    .expect("charges")
}

/// What the sandbox gave back for `order`.
async fn given_back(pool: &PgPool, order: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT coalesce(sum(r.amount), 0)::bigint FROM sandbox_refunds r
         JOIN sandbox_intents i ON i.id = r.intent_id WHERE i.metadata->>'order_id' = $1::text",
    )
    .bind(order)
    .fetch_one(pool)
    .await
    .expect("refunds")
}

fn payment_status(o: &Order) -> Option<PaymentStatus> {
    o.payment.as_ref().map(|p| p.status)
}

#[tokio::test]
async fn a_declined_order_paid_again_with_a_good_card_is_paid_and_charged_once() {
    let app = TestApp::spawn().await;
    let (buyer, lamp) = app.a_buyer_with_in_cart("Lamp", 2500, 5, 2).await;
    let placed = app
        .place_order(&buyer, "declined-then-paid", "pm_card_chargeDeclined")
        .await;
    let declined = app
        .order_when(&buyer, placed.id, 10, |o| {
            payment_status(o) == Some(PaymentStatus::Failed)
        })
        .await;
    let first = declined.payment.clone().expect("payment");
    assert_eq!(
        declined.status,
        OrderStatus::PendingPayment,
        "still payable"
    );
    assert_eq!(first.decline_reason.as_deref(), Some("card_declined"));
    assert_eq!(first.attempt, 1);

    let again = app.pay(&buyer, placed.id, "pm_card_visa").await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    let second = again.json::<Order>().payment.expect("payment");
    assert_eq!((second.attempt, second.status), (2, PaymentStatus::Pending));
    assert_ne!(second.id, first.id, "each attempt is kept");
    let busy = app.pay(&buyer, placed.id, "pm_card_visa").await;
    assert_eq!(busy.status, StatusCode::CONFLICT);
    assert_eq!(busy.code(), "payment_in_progress");

    let paid = app
        .order_when(&buyer, placed.id, 10, |o| o.status == OrderStatus::Paid)
        .await;
    assert_eq!(payment_status(&paid), Some(PaymentStatus::Succeeded));
    let by: Vec<(OrderStatus, &str)> = paid
        .history
        .iter()
        .map(|h| (h.status, h.by.as_str()))
        .collect();
    assert_eq!(by[1], (OrderStatus::Paid, "sandbox"), "{by:?}");
    assert_eq!(
        app.payment(&buyer, first.id).await["status"],
        "failed",
        "the declined attempt stays on record"
    );
    assert_eq!(app.payment(&buyer, second.id).await["status"], "succeeded");
    assert_eq!(
        charges(&payments_db(&app).await, placed.id).await,
        (2, 1),
        "two charges asked for, one took money"
    );
    let stocked = eventually(10, || async {
        let v = &app.product(lamp.id).await.variants[0];
        (v.stock == 3 && v.reserved == 0).then_some(())
    })
    .await;
    assert!(stocked.is_some(), "two units sold");

    let late = app.pay(&buyer, placed.id, "pm_card_visa").await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert_eq!(late.code(), "order_not_payable");
    let stranger = app.login_new_buyer().await;
    let theirs = app.pay(&stranger, placed.id, "pm_card_visa").await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// Five rounds of 500 buyers checking out at once for 20 units: 20 orders, each paid once,
/// 480 refused, nothing oversold.
#[tokio::test]
async fn five_hundred_buyers_at_once_for_twenty_units_make_twenty_paid_orders() {
    let app = TestApp::spawn().await;
    let seller = app
        .account_with_role("rush-seller@example.com", Role::Seller)
        .await;
    let payments = payments_db(&app).await;
    for round in 0..5 {
        let product = app
            .a_product(&seller, &format!("Rush {round}"), 1500, 20)
            .await;
        let variant = product.variants[0].id;
        let buyers = app.tokens(500, Role::Buyer).await;
        let adds = buyers
            .iter()
            .map(|(_, t)| app.try_add_to_cart(t, variant, 1));
        for a in futures_util::future::join_all(adds).await {
            assert_eq!(a.status, StatusCode::OK, "round {round}: {}", a.body);
        }
        let checkouts = buyers
            .iter()
            .map(|(_, t)| app.try_place_order(t, "rush", "pm_card_visa"));
        let answers = futures_util::future::join_all(checkouts).await;
        let mut placed = Vec::new();
        let mut refused = 0;
        for (a, (_, token)) in answers.iter().zip(&buyers) {
            match a.status {
                StatusCode::CREATED => placed.push((token, a.json::<Order>().id)),
                StatusCode::CONFLICT => {
                    assert_eq!(a.code(), "insufficient_stock", "{}", a.body);
                    refused += 1;
                }
                other => panic!("round {round}: {other} {}", a.body),
            }
        }
        assert_eq!((placed.len(), refused), (20, 480), "round {round}");
        for (token, id) in &placed {
            let o = app
                .order_when(token, *id, 30, |o| o.status == OrderStatus::Paid)
                .await;
            assert_eq!(payment_status(&o), Some(PaymentStatus::Succeeded));
            assert_eq!(charges(&payments, *id).await, (1, 1), "charged once");
        }
        let sold = eventually(20, || async {
            let v = &app.product(product.id).await.variants[0];
            (v.reserved == 0).then_some((v.stock, v.available))
        })
        .await;
        assert_eq!(sold, Some((0, 0)), "round {round}: 20 sold, none twice");
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM payments WHERE status = 'pending'")
                .fetch_one(&payments)
                .await
                .expect("count");
        assert_eq!(pending, 0, "round {round}: every payment final");
    }
    app.stop().await;
}

/// Cancels sent at every moment of a payment: each order ends canceled, with its money back
/// if any was taken, and its units back on sale.
#[tokio::test]
async fn cancel_racing_a_successful_payment_always_balances_money_and_stock() {
    let app = TestApp::spawn().await;
    let seller = app
        .account_with_role("race-seller@example.com", Role::Seller)
        .await;
    let cup = app.a_product(&seller, "Race cup", 900, 40).await;
    let variant = cup.variants[0].id;
    let payments = payments_db(&app).await;
    let buyers = app.tokens(16, Role::Buyer).await;
    let races = buyers.iter().enumerate().map(|(i, (_, token))| {
        let app = &app;
        async move {
            app.add_to_cart(token, variant, 2).await;
            let order = app.place_order(token, "race", "pm_card_visa").await;
            tokio::time::sleep(Duration::from_millis(i as u64 * 9)).await;
            let canceled = app.cancel(token, order.id).await;
            assert_eq!(canceled.status, StatusCode::OK, "{}", canceled.body);
            (token, order.id)
        }
    });
    let orders = futures_util::future::join_all(races).await;
    let (mut voided, mut refunded) = (0, 0);
    for (token, id) in orders {
        let o = app
            .order_when(token, id, 20, |o| {
                matches!(
                    payment_status(o),
                    Some(PaymentStatus::Voided | PaymentStatus::Refunded)
                )
            })
            .await;
        assert_eq!(o.status, OrderStatus::Canceled);
        let (made, took) = charges(&payments, id).await;
        assert!(made <= 1, "one charge at most");
        match payment_status(&o) {
            Some(PaymentStatus::Refunded) => {
                refunded += 1;
                assert_eq!(took, 1);
                assert_eq!(given_back(&payments, id).await, 1800, "all of it back");
                assert_eq!(o.payment.as_ref().unwrap().refunded.amount_minor, 1800);
            }
            _ => {
                voided += 1;
                assert_eq!(took, 0, "a voided attempt took nothing");
            }
        }
    }
    assert_eq!(voided + refunded, 16);
    let back = eventually(20, || async {
        let v = &app.product(cup.id).await.variants[0];
        (v.reserved == 0 && v.stock == 40).then_some(())
    })
    .await;
    assert!(back.is_some(), "every unit back on sale");
    app.stop().await;
}

/// The buyer's card is charged, but the word of it comes after the order's time ran out and
/// another buyer took the unit: the late payment is refunded and nothing is sold twice.
#[tokio::test]
async fn a_payment_after_expiry_once_the_units_were_sold_is_refunded() {
    // The sandbox's webhooks go through a proxy the test holds down while the order expires.
    let port = kazna_testkit::free_port();
    let gateway: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let webhooks = TcpProxy::start(gateway, false).await.expect("proxy");
    let hook_url = format!("http://{}/webhooks/payments/sandbox", webhooks.addr);
    let app = TestApp::spawn_with(|s| {
        s.services.gateway.bind.set_port(port);
        s.services.gateway.url = format!("http://{gateway}");
        s.gateway.public_url = format!("http://{gateway}");
        s.update::<CatalogSettings>(|c| c.reservation_ttl_secs = 1)
            .expect("catalog settings");
        s.update::<PaymentsSettings>(|p| {
            p.sandbox_delay_ms = 0;
            p.sandbox_webhook_url = Some(hook_url);
        })
        .expect("payments settings");
    })
    .await;
    let (late_buyer, last) = app.a_buyer_with_in_cart("Last one", 4000, 1, 1).await;
    let late = app.place_order(&late_buyer, "late", "pm_card_visa").await;
    let expired = app
        .order_when(&late_buyer, late.id, 10, |o| {
            o.status == OrderStatus::Canceled
        })
        .await;
    let why = expired.history.last().expect("history");
    assert_eq!(why.by, "system");
    let payments = payments_db(&app).await;
    assert_eq!(
        charges(&payments, late.id).await,
        (1, 1),
        "the money was taken; the word of it has not come"
    );

    webhooks.up();
    let rival = app.login_new_buyer().await;
    app.add_to_cart(&rival, last.variants[0].id, 1).await;
    let theirs = app.place_order(&rival, "rival", "pm_card_visa").await;
    app.order_when(&rival, theirs.id, 10, |o| o.status == OrderStatus::Paid)
        .await;

    let refunded = app
        .order_when(&late_buyer, late.id, 30, |o| {
            payment_status(o) == Some(PaymentStatus::Refunded)
        })
        .await;
    assert_eq!(refunded.status, OrderStatus::Canceled, "never un-canceled");
    assert_eq!(given_back(&payments, late.id).await, 4000);
    let sold = eventually(10, || async {
        let v = &app.product(last.id).await.variants[0];
        (v.reserved == 0).then_some((v.stock, v.available))
    })
    .await;
    assert_eq!(sold, Some((0, 0)), "one unit, sold once");
    app.stop().await;
}

/// With a payment window longer than the catalog holds stock, the catalog's sweeper is the
/// backstop: the reservation it lets go cancels the order that held it.
#[tokio::test]
async fn a_reservation_the_sweeper_expires_cancels_its_unpaid_order() {
    let app = TestApp::spawn_with(|s| {
        s.update::<CatalogSettings>(|c| c.reservation_ttl_secs = 1)
            .expect("catalog settings");
        s.update::<kazna_orders::OrdersSettings>(|o| o.payment_window_secs = Some(3600))
            .expect("orders settings");
    })
    .await;
    let (buyer, vase) = app.a_buyer_with_in_cart("Vase", 2000, 2, 2).await;
    let placed = app
        .place_order(&buyer, "swept", "pm_card_chargeDeclined")
        .await;
    let swept = app
        .order_when(&buyer, placed.id, 20, |o| o.status == OrderStatus::Canceled)
        .await;
    let last = swept.history.last().expect("history");
    assert_eq!(last.by, "system");
    assert_eq!(last.note.as_deref(), Some("its reserved stock expired"));
    let v = &app.product(vase.id).await.variants[0];
    assert_eq!((v.stock, v.reserved), (2, 0), "the units are back on sale");
    app.stop().await;
}

#[tokio::test]
async fn orders_are_listed_newest_first_by_status_a_page_at_a_time() {
    let app = TestApp::spawn().await;
    let (buyer, mug) = app.a_buyer_with_in_cart("Mug", 800, 10, 1).await;
    let declined = app
        .place_order(&buyer, "one", "pm_card_chargeDeclined")
        .await;
    app.add_to_cart(&buyer, mug.variants[0].id, 1).await;
    let paid = app.place_order(&buyer, "two", "pm_card_visa").await;
    app.order_when(&buyer, paid.id, 10, |o| o.status == OrderStatus::Paid)
        .await;
    let page = |q: &'static str| {
        let (app, buyer) = (&app, &buyer);
        async move {
            let a = app
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/orders{q}"),
                    Some(buyer),
                    None,
                )
                .await;
            assert_eq!(a.status, StatusCode::OK, "{q}: {}", a.body);
            a.body
        }
    };
    let ids = |body: &serde_json::Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&page("").await),
        [paid.id.to_string(), declined.id.to_string()]
    );
    assert_eq!(ids(&page("?status=paid").await), [paid.id.to_string()]);
    assert_eq!(
        ids(&page("?status=pending_payment").await),
        [declined.id.to_string()]
    );
    let first = page("?limit=1").await;
    assert_eq!(ids(&first), [paid.id.to_string()]);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let next = app
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/orders?limit=1&cursor={cursor}"),
            Some(&buyer),
            None,
        )
        .await;
    assert_eq!(ids(&next.body), [declined.id.to_string()]);
    let bad = app
        .call(
            reqwest::Method::GET,
            "/api/v1/orders?status=lost",
            Some(&buyer),
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert_eq!(json!(bad.code()), json!("invalid_parameter"));
    app.stop().await;
}
