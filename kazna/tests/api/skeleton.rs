//! The walking skeleton: one shopper's whole journey, through the gateway only.

use kazna_contracts::{Currency, Money};
use kazna_kernel::Role;
use kazna_orders::status::OrderStatus;
use kazna_testkit::eventually;
use reqwest::{Method, StatusCode};
use serde_json::json;

use kazna_testkit::TestApp;

#[tokio::test]
async fn a_buyer_finds_buys_and_pays_for_a_product_and_is_told_so() {
    journey(TestApp::spawn().await).await;
}

/// The same journey with every service on its own, as on Kubernetes: the gateway proxies over
/// HTTP and the services call each other over HTTP.
#[tokio::test]
async fn the_journey_works_the_same_with_every_service_in_its_own_process() {
    journey(TestApp::spawn_separately().await).await;
}

async fn journey(app: TestApp) {
    // A buyer registers and signs in.
    let reg = app
        .register("ada@example.com", "correct horse battery")
        .await;
    assert_eq!(reg.status, StatusCode::CREATED, "{}", reg.body);
    assert_eq!(reg.body["email"], "ada@example.com");
    assert_eq!(reg.body["roles"], json!(["buyer"]));
    let buyer = app.login("ada@example.com", "correct horse battery").await;
    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&buyer), None)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email_verified"], false);

    // An admin creates a product.
    let admin = app.account_with_role("root@example.com", Role::Admin).await;
    let cat = app
        .call(
            Method::POST,
            "/api/v1/categories",
            Some(&admin),
            Some(json!({"name": "Lamps"})),
        )
        .await;
    assert_eq!(cat.status, StatusCode::CREATED, "{}", cat.body);
    let product = app
        .call(
            Method::POST,
            "/api/v1/products",
            Some(&admin),
            Some(json!({
                "name": "Brass desk lamp",
                "description": "A heavy lamp with a linen shade",
                "category_ids": [cat.body["id"]],
                "images": ["https://img.example.com/lamp.jpg"],
                "attributes": {"material": "brass"},
                "variants": [{"sku": "LAMP-1", "options": {"colour": "gold"},
                              "price": {"amount": 4999, "currency": "EUR"}, "stock": 5}],
            })),
        )
        .await;
    assert_eq!(product.status, StatusCode::CREATED, "{}", product.body);
    let product_id = product.body["id"].as_str().expect("id").to_owned();
    let variant_id = product.body["variants"][0]["id"]
        .as_str()
        .expect("variant id")
        .to_owned();

    // The buyer finds it in search, even with a typo.
    let found = eventually(15, || async {
        let s = app
            .call(Method::GET, "/api/v1/search?q=lamb", None, None)
            .await;
        let hit = s.body["items"]
            .as_array()?
            .iter()
            .find(|i| i["product_id"] == product_id.as_str())?
            .clone();
        Some(hit)
    })
    .await
    .expect("the product becomes searchable");
    assert_eq!(found["name"], "Brass desk lamp");
    assert_eq!(found["price"], json!({"amount": 4999, "currency": "EUR"}));
    let exact = app
        .call(Method::GET, "/api/v1/search?q=brass", None, None)
        .await;
    assert_eq!(exact.body["total"], 1);
    assert_eq!(
        exact.body["items"][0]["highlight"],
        "<b>Brass</b> desk lamp"
    );

    // Adds two to the cart.
    let variant: uuid::Uuid = variant_id.parse().expect("a variant id");
    let cart = app.add_to_cart(&buyer, variant, 2).await;
    assert_eq!(cart.subtotal, Money::new(9998, Currency::EUR));

    // Places the order, retrying with the same key as a flaky network would.
    let placed = app
        .place_order(&buyer, "checkout-ada-1", "pm_card_visa")
        .await;
    assert_eq!(placed.status, OrderStatus::PendingPayment);
    assert_eq!(placed.total, Money::new(9998, Currency::EUR));
    let again = app
        .place_order(&buyer, "checkout-ada-1", "pm_card_visa")
        .await;
    assert_eq!(again.id, placed.id, "the retry returns the first order");
    let order_id = placed.id;

    // The sandbox gateway's signed webhook makes it paid.
    let paid = eventually(20, || async {
        let o = app.order(&buyer, order_id).await;
        (o.status == OrderStatus::Paid).then_some(o)
    })
    .await
    .expect("the order becomes paid");
    let statuses: Vec<OrderStatus> = paid.history.iter().map(|h| h.status).collect();
    assert_eq!(statuses, [OrderStatus::PendingPayment, OrderStatus::Paid]);
    let payment_id = paid.payment.as_ref().expect("a payment").id;
    let payment = app
        .call(
            Method::GET,
            &format!("/api/v1/payments/{payment_id}"),
            Some(&buyer),
            None,
        )
        .await;
    assert_eq!(payment.body["status"], "succeeded", "{}", payment.body);
    assert_eq!(payment.body["provider"], "sandbox");
    assert_eq!(
        payment.body["amount"],
        json!({"amount": 9998, "currency": "EUR"})
    );
    let kinds = |p: &serde_json::Value| -> Vec<String> {
        p["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["kind"].as_str().map(str::to_owned))
            .collect()
    };
    let seen = kinds(&payment.body);
    assert!(
        seen.iter().any(|k| k == "payment_intent.succeeded"),
        "{seen:?}"
    );
    assert!(
        !seen.iter().any(|k| k == "provider_request"),
        "requests to the provider are for staff: {seen:?}"
    );
    let audited = kinds(&app.payment(&admin, payment_id).await);
    assert!(
        audited.iter().any(|k| k == "provider_request"),
        "{audited:?}"
    );

    // The stock went down by two, and nothing stays reserved. The catalog hears of the
    // payment after the order is paid (a worker carries it over once that commits).
    let product_id: uuid::Uuid = product_id.parse().expect("a product id");
    let settled = eventually(10, || async {
        let v = app.product(product_id).await.variants[0].clone();
        (v.reserved == 0).then_some((v.stock, v.reserved, v.available))
    })
    .await;
    assert_eq!(settled, Some((3, 0, 3)));

    // The cart is empty again.
    assert!(app.cart(&buyer).await.items.is_empty());

    // The confirmation email is in the delivery log, and in the outbox.
    let sent = eventually(15, || async {
        let log = app
            .call(
                Method::GET,
                "/api/v1/notifications?recipient=ada@example.com",
                Some(&admin),
                None,
            )
            .await;
        log.body["items"]
            .as_array()?
            .iter()
            .find(|d| d["event"] == "order.paid" && d["status"] == "sent")
            .cloned()
    })
    .await
    .expect("the confirmation is logged as sent");
    assert_eq!(sent["channel"], "email");
    assert_eq!(sent["attempts"], 1);
    assert_eq!(sent["provider"], "file");
    assert_eq!(sent["subject"], format!("Order confirmed: {order_id}"));
    let file = app
        .outbox_dir()
        .join(format!("{}.eml", sent["id"].as_str().expect("id")));
    let mail = std::fs::read_to_string(&file).expect("the email file exists");
    assert!(mail.contains("To: ada@example.com"));
    assert!(mail.contains("99.98 EUR"), "{mail}");

    // Only admins read the log.
    let denied = app
        .call(Method::GET, "/api/v1/notifications", Some(&buyer), None)
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    app.stop().await;
}
