//! Placing an order: once per Idempotency-Key, whatever the client does meanwhile.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use kazna_testkit::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn one_idempotency_key_places_one_order_even_when_sent_at_once() {
    let app = TestApp::spawn().await;
    let (buyer, cup) = app.a_buyer_with_in_cart("Cup", 700, 9, 1).await;
    let body = json!({"payment_method": "pm_card_visa",
        "shipping_address": {"name": "A", "line1": "1 St", "city": "B", "postal_code": "1", "country": "DE"}});
    let key = [("Idempotency-Key", "same-key")];
    let attempts = (0..6).map(|_| {
        app.call_with(
            Method::POST,
            "/api/v1/orders",
            Some(&buyer),
            Some(body.clone()),
            &key,
        )
    });
    let answers = futures_util::future::join_all(attempts).await;
    let mut ids = std::collections::HashSet::new();
    for a in &answers {
        match a.status {
            StatusCode::CREATED => {
                ids.insert(a.body["id"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => {
                assert_eq!(a.body["code"], "idempotency_in_progress", "{}", a.body)
            }
            other => panic!("unexpected {other}: {}", a.body),
        }
    }
    assert_eq!(ids.len(), 1, "every success names the same order");
    assert_eq!(app.orders(&buyer).await.len(), 1, "one order placed");
    let v = &app.product(cup.id).await.variants[0];
    assert_eq!(v.reserved + (9 - v.stock), 1, "one unit taken");

    let other_body = json!({"payment_method": "pm_card_mastercard", "shipping_address": body["shipping_address"]});
    let reused = app
        .call_with(
            Method::POST,
            "/api/v1/orders",
            Some(&buyer),
            Some(other_body),
            &key,
        )
        .await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused.body["code"], "idempotency_key_reused");
    app.stop().await;
}

/// A buyer whose connection drops while the order is being placed: placing goes on to its
/// end, and a retry with the same key gets that order instead of a key stuck in progress.
#[tokio::test]
async fn an_order_is_placed_once_even_when_the_buyer_hangs_up_half_way() {
    let app = TestApp::spawn().await;
    let (buyer, vase) = app.a_buyer_with_in_cart("Vase", 3100, 4, 1).await;
    let variant = vase.variants[0].id;

    // Hold the variant's row, so the reservation (mid-way through placing) has to wait.
    let ctx = kazna_kernel::Context::new(app.settings.clone());
    let catalog = kazna_catalog::database(&ctx).await.expect("catalog db");
    let mut hold = catalog.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM variants WHERE id = $1 FOR UPDATE")
        .bind(variant)
        .execute(&mut *hold)
        .await
        .expect("lock");
    let body = json!({"payment_method": "pm_card_visa",
        "shipping_address": {"name": "A", "line1": "1 St", "city": "B", "postal_code": "1", "country": "DE"}});
    let impatient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(500))
        .build()
        .unwrap();
    let gave_up = impatient
        .post(format!("{}/api/v1/orders", app.base))
        .bearer_auth(&buyer)
        .header("Idempotency-Key", "hang-up-1")
        .json(&body)
        .send()
        .await;
    assert!(
        gave_up.as_ref().is_err_and(reqwest::Error::is_timeout),
        "the buyer hangs up before the answer: {gave_up:?}"
    );
    hold.commit().await.expect("release the row");

    let key = [("Idempotency-Key", "hang-up-1")];
    let placed = kazna_testkit::eventually(15, || async {
        let a = app
            .call_with(
                Method::POST,
                "/api/v1/orders",
                Some(&buyer),
                Some(body.clone()),
                &key,
            )
            .await;
        match a.status {
            StatusCode::CREATED => Some(a.body),
            StatusCode::CONFLICT if a.body["code"] == "idempotency_in_progress" => None,
            other => panic!("unexpected {other}: {}", a.body),
        }
    })
    .await
    .expect("the retry gets the order placed after the hang-up");
    let orders = app
        .call(Method::GET, "/api/v1/orders", Some(&buyer), None)
        .await;
    let listed: Vec<&str> = orders.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    assert_eq!(
        listed,
        [placed["id"].as_str().unwrap()],
        "one order, the one the retry got"
    );
    let v = &app.product(vase.id).await.variants[0];
    assert_eq!((4 - v.stock) + v.reserved, 1, "one unit taken");
    app.stop().await;
}

/// A NUL character in a shipping address is refused naming the field (it would have failed
/// the database's jsonb), and no stock is reserved for it.
#[tokio::test]
async fn a_nul_character_in_a_shipping_address_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let (buyer, lamp) = app.a_buyer_with_in_cart("Lamp", 1500, 2, 1).await;
    let mut address = kazna_testkit::an_address();
    address["name"] = json!("Ada\u{0}");
    let a = app
        .call_with(
            Method::POST,
            "/api/v1/orders",
            Some(&buyer),
            Some(json!({"payment_method": "pm_card_visa", "shipping_address": address})),
            &[("Idempotency-Key", "nul-1")],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert_eq!(a.error_fields(), ["shipping_address.name"]);
    assert!(app.orders(&buyer).await.is_empty());
    let v = &app.product(lamp.id).await.variants[0];
    assert_eq!((v.stock, v.reserved), (2, 0), "nothing reserved");
    app.stop().await;
}

/// A row whose status this build does not know (corrupt, or written by a newer version) is an
/// error when it is read, logged on our side, and never read as an order awaiting payment.
#[tokio::test]
async fn an_order_in_a_status_this_build_does_not_know_is_an_error_not_a_payable_order() {
    let app = TestApp::spawn().await;
    let (buyer, _) = app.a_buyer_with_in_cart("Lamp", 1500, 2, 1).await;
    let order = app
        .place_order(&buyer, "unknown-1", "pm_card_chargeDeclined")
        .await;
    let ctx = kazna_kernel::Context::new(app.settings.clone());
    let db = kazna_orders::database(&ctx).await.expect("orders db");
    sqlx::query("ALTER TABLE orders DROP CONSTRAINT orders_status_check")
        .execute(&db)
        .await
        .expect("constraint dropped");
    sqlx::query("UPDATE orders SET status = 'lost' WHERE id = $1")
        .bind(order.id)
        .execute(&db)
        .await
        .expect("corrupted");
    db.close().await;
    let read = app
        .call(
            Method::GET,
            &format!("/api/v1/orders/{}", order.id),
            Some(&buyer),
            None,
        )
        .await;
    assert_eq!(
        read.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        read.body
    );
    assert_eq!(read.code(), "internal_error");
    app.stop().await;
}
