//! Carts: guests and users, lines priced by the catalog, stock and currency checks, merging.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use kazna_kernel::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use kazna_testkit::TestApp;

fn lines(cart: &Value) -> Vec<(String, i64)> {
    cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["sku"].as_str().unwrap().to_owned(),
                i["quantity"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_guest_fills_a_cart_that_follows_them_into_their_account() {
    let app = TestApp::spawn().await;
    let seller = app
        .account_with_role("seller@example.com", Role::Seller)
        .await;
    let product = app
        .create_product(
            &seller,
            json!({
            "name": "Socks", "variants": [
                {"sku": "SOCK-S", "price": {"amount": 500, "currency": "EUR"}, "stock": 3},
                {"sku": "SOCK-L", "price": {"amount": 700, "currency": "EUR"}, "stock": 10}]}),
        )
        .await;
    let small = product["variants"][0]["id"].as_str().unwrap().to_owned();
    let large = product["variants"][1]["id"].as_str().unwrap().to_owned();
    let dollars = app
        .create_product(&seller, json!({
            "name": "Hat", "variants": [{"sku": "HAT-1", "price": {"amount": 900, "currency": "USD"}, "stock": 1}]}))
        .await;
    let hat = dollars["variants"][0]["id"].as_str().unwrap().to_owned();

    // A guest's first call opens a session, returned in a header and a cookie.
    let first = app
        .call(
            Method::POST,
            "/api/v1/cart/items",
            None,
            Some(json!({"variant_id": small, "quantity": 2})),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let session = first.headers["x-cart-session"].to_str().unwrap().to_owned();
    assert!(
        first.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains(&session)
    );
    let guest = [("X-Cart-Session", session.as_str())];
    let call = |method: Method, path: String, body: Option<Value>| {
        let app = &app;
        async move { app.call_with(method, &path, None, body, &guest).await }
    };
    let cart = call(
        Method::POST,
        "/api/v1/cart/items".into(),
        Some(json!({"variant_id": large, "quantity": 1})),
    )
    .await;
    assert_eq!(
        lines(&cart.body),
        [("SOCK-S".to_owned(), 2), ("SOCK-L".to_owned(), 1)]
    );
    assert_eq!(
        cart.body["subtotal"],
        json!({"amount": 1700, "currency": "EUR"})
    );
    assert_eq!(
        cart.body["items"][0]["line_total"],
        json!({"amount": 1000, "currency": "EUR"})
    );

    // Stock, currency, quantity and unknown variants are checked; a refusal changes nothing.
    let too_many = call(
        Method::PATCH,
        format!("/api/v1/cart/items/{small}"),
        Some(json!({"quantity": 4})),
    )
    .await;
    assert_eq!(too_many.status, StatusCode::CONFLICT);
    assert_eq!(too_many.body["code"], "insufficient_stock");
    let other_currency = call(
        Method::POST,
        "/api/v1/cart/items".into(),
        Some(json!({"variant_id": hat, "quantity": 1})),
    )
    .await;
    assert_eq!(other_currency.status, StatusCode::CONFLICT);
    assert_eq!(other_currency.body["code"], "currency_mismatch");
    let unknown = call(
        Method::POST,
        "/api/v1/cart/items".into(),
        Some(json!({"variant_id": uuid::Uuid::now_v7(), "quantity": 1})),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    for bad in [
        json!({"variant_id": small, "quantity": 0}),
        json!({"variant_id": small, "quantity": 1001}),
    ] {
        let a = call(Method::POST, "/api/v1/cart/items".into(), Some(bad.clone())).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(a.body["errors"][0]["field"], "quantity");
    }
    let cart = call(Method::GET, "/api/v1/cart".into(), None).await;
    assert_eq!(
        lines(&cart.body),
        [("SOCK-S".to_owned(), 2), ("SOCK-L".to_owned(), 1)]
    );

    // Lines change and go.
    let cart = call(
        Method::PATCH,
        format!("/api/v1/cart/items/{small}"),
        Some(json!({"quantity": 3})),
    )
    .await;
    assert_eq!(
        lines(&cart.body),
        [("SOCK-S".to_owned(), 3), ("SOCK-L".to_owned(), 1)]
    );
    let cart = call(Method::DELETE, format!("/api/v1/cart/items/{large}"), None).await;
    assert_eq!(cart.status, StatusCode::OK);
    assert_eq!(lines(&cart.body), [("SOCK-S".to_owned(), 3)]);

    // Signed in, the buyer merges the guest cart into theirs; quantities add up to the stock.
    let buyer = app.login_new_buyer().await;
    let own = app
        .call(
            Method::POST,
            "/api/v1/cart/items",
            Some(&buyer),
            Some(json!({"variant_id": small, "quantity": 1})),
        )
        .await;
    assert_eq!(lines(&own.body), [("SOCK-S".to_owned(), 1)]);
    assert!(
        own.headers.get("x-cart-session").is_none(),
        "a user's cart has no session"
    );
    let merged = app
        .call(
            Method::POST,
            "/api/v1/cart/merge",
            Some(&buyer),
            Some(json!({"cart_session": session})),
        )
        .await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    assert_eq!(
        lines(&merged.body),
        [("SOCK-S".to_owned(), 3)],
        "1 + 3 capped at the 3 in stock"
    );
    let emptied = call(Method::GET, "/api/v1/cart".into(), None).await;
    assert_eq!(emptied.body["items"], json!([]), "the guest cart is gone");

    // A product taken off sale stays in the cart, flagged, and out of the subtotal.
    let moderator = app
        .account_with_role("mod@example.com", Role::Moderator)
        .await;
    let product_id = product["id"].as_str().unwrap();
    let hide = app
        .call(
            Method::POST,
            &format!("/api/v1/products/{product_id}/hide"),
            Some(&moderator),
            None,
        )
        .await;
    assert_eq!(hide.status, StatusCode::OK);
    let flagged = kazna_testkit::eventually(10, || async {
        let cart = app
            .call(Method::GET, "/api/v1/cart", Some(&buyer), None)
            .await;
        (cart.body["items"][0]["flags"] == json!(["hidden"])).then_some(cart.body)
    })
    .await
    .expect("the line is flagged once the catalog says so");
    assert_eq!(lines(&flagged), [("SOCK-S".to_owned(), 3)]);
    assert_eq!(flagged["subtotal"]["amount"], 0);
    app.stop().await;
}

/// A NUL character in a cart request is refused naming the field, like everywhere else.
#[tokio::test]
async fn a_nul_character_in_a_cart_request_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let buyer = app.login_new_buyer().await;
    let a = app
        .call(
            Method::POST,
            "/api/v1/cart/items",
            Some(&buyer),
            Some(json!({"variant_id": "\u{0}", "quantity": 1})),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert_eq!(a.error_fields(), ["variant_id"]);
    let merge = app
        .call(
            Method::POST,
            "/api/v1/cart/merge",
            Some(&buyer),
            Some(json!({"cart_session": "x\u{0}"})),
        )
        .await;
    assert_eq!(merge.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(merge.error_fields(), ["cart_session"]);
    assert!(app.cart(&buyer).await.items.is_empty());
    app.stop().await;
}
