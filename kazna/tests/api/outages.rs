//! Redis going away mid-run, behind a TCP proxy: what still works, what says it is
//! unavailable, and that everything comes back with it.

use kazna_kernel::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use kazna_testkit::TestApp;

/// Redis only speeds reads up: while it is away, writes still answer what they did and reads
/// come from the database.
#[tokio::test]
async fn writes_succeed_and_reads_stay_fresh_while_redis_is_away() {
    let (proxy, app) = TestApp::spawn_behind_a_redis_proxy().await;
    let seller = app
        .account_with_role("seller@example.com", Role::Seller)
        .await;
    let product = app
        .create_product(&seller, json!({
            "name": "Ladle", "variants": [{"sku": "LADLE-1", "price": {"amount": 900, "currency": "EUR"}, "stock": 3}]}))
        .await;
    let path = format!("/api/v1/products/{}", product["id"].as_str().unwrap());
    assert_eq!(
        app.call(Method::GET, &path, None, None).await.body["name"],
        "Ladle"
    );

    proxy.down();
    let renamed = app
        .call(
            Method::PATCH,
            &path,
            Some(&seller),
            Some(json!({"name": "Steel ladle"})),
        )
        .await;
    assert_eq!(
        renamed.status,
        StatusCode::OK,
        "the change is made: {}",
        renamed.body
    );
    assert_eq!(renamed.body["name"], "Steel ladle");
    let read = app.call(Method::GET, &path, None, None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["name"], "Steel ladle", "read from the database");

    proxy.up();
    let again = app
        .call(
            Method::PATCH,
            &path,
            Some(&seller),
            Some(json!({"name": "Copper ladle"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    let read = app.call(Method::GET, &path, None, None).await;
    assert_eq!(
        read.body["name"], "Copper ladle",
        "fresh once Redis is back"
    );
    app.stop().await;
}

#[tokio::test]
async fn without_redis_the_cart_says_it_is_unavailable_and_comes_back_with_it() {
    let (proxy, app) = TestApp::spawn_behind_a_redis_proxy().await;
    let seller = app
        .account_with_role("seller@example.com", Role::Seller)
        .await;
    let product = app
        .create_product(&seller, json!({
            "name": "Spoon", "variants": [{"sku": "SPOON-1", "price": {"amount": 300, "currency": "EUR"}, "stock": 5}]}))
        .await;
    let add = json!({"variant_id": product["variants"][0]["id"], "quantity": 1});

    proxy.down();
    let refused = app
        .call(Method::POST, "/api/v1/cart/items", None, Some(add.clone()))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["code"], "service_unavailable");

    proxy.up();
    let added = kazna_testkit::eventually(10, || async {
        let a = app
            .call(Method::POST, "/api/v1/cart/items", None, Some(add.clone()))
            .await;
        (a.status == StatusCode::OK).then_some(a.body)
    })
    .await
    .expect("the cart works again once Redis is back");
    assert_eq!(added["items"][0]["sku"], "SPOON-1");
    assert_eq!(added["items"][0]["quantity"], 1);
    app.stop().await;
}

/// While Redis is away: profiles are read from the database and change, and sign-in, which
/// cannot count failed attempts, says it is unavailable rather than letting guesses through.
#[tokio::test]
async fn without_redis_profiles_work_and_sign_in_waits_for_it() {
    let (proxy, app) = TestApp::spawn_behind_a_redis_proxy().await;
    app.register("ada@example.com", "correct horse battery")
        .await;
    let token = app.login("ada@example.com", "correct horse battery").await;
    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&token), None)
        .await;
    assert_eq!(
        me.body["name"], "Test Buyer",
        "a first read fills the cache"
    );

    proxy.down();
    let renamed = app
        .call(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&token),
            Some(json!({"name": "Ada L."})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&token), None)
        .await;
    assert_eq!(me.body["name"], "Ada L.");
    let login = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "ada@example.com", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(
        login.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        login.body
    );

    proxy.up();
    let back = kazna_testkit::eventually(10, || async {
        let a = app
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "ada@example.com", "password": "correct horse battery"})),
            )
            .await;
        (a.status == StatusCode::OK).then_some(())
    })
    .await;
    assert!(back.is_some(), "sign-in works again once Redis is back");
    app.stop().await;
}
