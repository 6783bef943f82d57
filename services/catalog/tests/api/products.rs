//! Products: who may change them and their variants, and reads that follow every change.

use kazna_kernel::Role;
use kazna_testkit::eventually;
use reqwest::{Method, StatusCode};
use serde_json::json;

use kazna_testkit::TestApp;

#[tokio::test]
async fn sellers_change_only_their_own_products_and_reads_follow_every_change() {
    let app = TestApp::spawn().await;
    let alice = app
        .account_with_role("alice@example.com", Role::Seller)
        .await;
    let bob = app.account_with_role("bob@example.com", Role::Seller).await;
    let moderator = app
        .account_with_role("mod@example.com", Role::Moderator)
        .await;
    let buyer = app.login_new_buyer().await;
    // A first list read fills the cache; the product created next must still show.
    let before = app.call(Method::GET, "/api/v1/products", None, None).await;
    assert_eq!(before.body["items"], json!([]));
    let created = app
        .call(Method::POST, "/api/v1/products", Some(&alice), Some(json!({
            "name": "Teapot", "variants": [{"sku": "TEA-1", "price": {"amount": 2500, "currency": "EUR"}, "stock": 5}]})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let listed = app.call(Method::GET, "/api/v1/products", None, None).await;
    assert_eq!(listed.body["items"][0]["id"], id.as_str(), "no stale list");
    let variant = created.body["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/products/{id}");
    let stock_path = format!("/api/v1/variants/{variant}/stock");
    // A first read fills the cache.
    assert_eq!(
        app.call(Method::GET, &path, None, None).await.body["name"],
        "Teapot"
    );

    for (who, token, expected) in [
        ("bob", &bob, StatusCode::FORBIDDEN),
        ("a buyer", &buyer, StatusCode::FORBIDDEN),
    ] {
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(token),
                Some(json!({"name": "Mine now"})),
            )
            .await;
        assert_eq!(a.status, expected, "{who} renames");
        let a = app
            .call(
                Method::PATCH,
                &stock_path,
                Some(token),
                Some(json!({"stock": 0})),
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{who} sets stock");
        let a = app.call(Method::DELETE, &path, Some(token), None).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{who} deletes");
    }
    let renamed = app
        .call(
            Method::PATCH,
            &path,
            Some(&alice),
            Some(json!({"name": "Blue teapot"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(
        app.call(Method::GET, &path, None, None).await.body["name"],
        "Blue teapot",
        "no stale read"
    );
    let found = eventually(15, || async {
        let s = app
            .call(Method::GET, "/api/v1/search?q=blue", None, None)
            .await;
        (s.body["total"] == 1).then_some(())
    })
    .await;
    assert!(found.is_some(), "search hears of the change");
    let invalid = app
        .call(
            Method::PATCH,
            &path,
            Some(&alice),
            Some(json!({"name": "", "images": ["ftp://x"]})),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = invalid.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["name", "images[0]"]);

    // Stock: set, adjust, never below what is reserved (here: below zero).
    let below = app
        .call(
            Method::PATCH,
            &stock_path,
            Some(&alice),
            Some(json!({"delta": -6})),
        )
        .await;
    assert_eq!(below.status, StatusCode::CONFLICT);
    assert_eq!(below.body["code"], "stock_below_reserved");
    let set = app
        .call(
            Method::PATCH,
            &stock_path,
            Some(&alice),
            Some(json!({"stock": 2})),
        )
        .await;
    assert_eq!(
        (set.body["stock"].as_i64(), set.body["available"].as_i64()),
        (Some(2), Some(2))
    );
    let added = app
        .call(
            Method::PATCH,
            &stock_path,
            Some(&alice),
            Some(json!({"delta": 3})),
        )
        .await;
    assert_eq!(added.body["stock"], 5);
    for bad in [
        json!({}),
        json!({"delta": 0}),
        json!({"stock": -1}),
        json!({"delta": 1, "stock": 1}),
    ] {
        let a = app
            .call(Method::PATCH, &stock_path, Some(&alice), Some(bad.clone()))
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(
        app.call(Method::GET, &path, None, None).await.body["variants"][0]["available"],
        5,
        "no stale stock"
    );

    // Moderators hide and restore; a hidden product is not shown.
    assert_eq!(
        app.call(Method::POST, &format!("{path}/hide"), Some(&alice), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(
            Method::POST,
            &format!("{path}/hide"),
            Some(&moderator),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call(Method::GET, &path, None, None).await.status,
        StatusCode::NOT_FOUND
    );
    let listed = app.call(Method::GET, "/api/v1/products", None, None).await;
    assert!(
        !listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == id.as_str())
    );
    assert_eq!(
        app.call(
            Method::POST,
            &format!("{path}/restore"),
            Some(&moderator),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call(Method::GET, &path, None, None).await.status,
        StatusCode::OK
    );

    // The owner deletes (softly: orders keep their references); then it is gone.
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&alice), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.call(Method::GET, &path, None, None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(
            Method::PATCH,
            &path,
            Some(&alice),
            Some(json!({"name": "Back"}))
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let gone = eventually(15, || async {
        let s = app
            .call(Method::GET, "/api/v1/search?q=teapot", None, None)
            .await;
        (s.body["total"] == 0).then_some(())
    })
    .await;
    assert!(gone.is_some(), "search drops a deleted product");
    app.stop().await;
}

fn skus(product: &serde_json::Value) -> Vec<(String, i64)> {
    product["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["sku"].as_str().unwrap().to_owned(),
                v["price"]["amount"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn error_fields(a: &kazna_testkit::Answer) -> Vec<String> {
    a.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_patch_adds_reprices_and_removes_variants_all_or_nothing() {
    let app = TestApp::spawn().await;
    let alice = app
        .account_with_role("alice@example.com", Role::Seller)
        .await;
    let bob = app.account_with_role("bob@example.com", Role::Seller).await;
    let created = app
        .create_product(&alice, json!({
            "name": "Tee", "variants": [
                {"sku": "TEE-S", "options": {"size": "S"}, "price": {"amount": 1500, "currency": "EUR"}, "stock": 5},
                {"sku": "TEE-M", "options": {"size": "M"}, "price": {"amount": 1500, "currency": "EUR"}, "stock": 2}]}))
        .await;
    let path = format!("/api/v1/products/{}", created["id"].as_str().unwrap());
    let small = created["variants"][0]["id"].as_str().unwrap().to_owned();
    let medium = created["variants"][1]["id"].as_str().unwrap().to_owned();
    let bobs = app
        .create_product(&bob, json!({
            "name": "Mug", "variants": [{"sku": "MUG-1", "price": {"amount": 900, "currency": "EUR"}, "stock": 1}]}))
        .await;
    let bobs_variant = bobs["variants"][0]["id"].as_str().unwrap().to_owned();
    // A first read fills the cache.
    assert_eq!(
        app.call(Method::GET, &path, None, None).await.status,
        StatusCode::OK
    );

    let changed = app
        .call(Method::PATCH, &path, Some(&alice), Some(json!({"variants": [
            {"id": small, "price": {"amount": 1299, "currency": "EUR"}, "options": {"size": "S", "fit": "slim"}},
            {"id": medium, "remove": true},
            {"sku": "TEE-L", "options": {"size": "L"}, "price": {"amount": 1700, "currency": "EUR"}, "stock": 3}]})))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let expected = vec![("TEE-S".to_owned(), 1299), ("TEE-L".to_owned(), 1700)];
    assert_eq!(skus(&changed.body), expected);
    assert_eq!(changed.body["variants"][0]["options"]["fit"], "slim");
    assert_eq!(changed.body["variants"][0]["stock"], 5, "stock untouched");
    assert_eq!(changed.body["variants"][1]["stock"], 3);
    let read = app.call(Method::GET, &path, None, None).await;
    assert_eq!(skus(&read.body), expected, "no stale read");

    // A removed variant is no longer sold.
    let buyer = app.login_new_buyer().await;
    let add = app
        .call(
            Method::POST,
            "/api/v1/cart/items",
            Some(&buyer),
            Some(json!({"variant_id": medium, "quantity": 1})),
        )
        .await;
    assert_eq!(add.status, StatusCode::NOT_FOUND, "{}", add.body);

    // Refusals change nothing, and name the field at fault.
    let not_ours = app
        .call(
            Method::PATCH,
            &path,
            Some(&alice),
            Some(json!({"name": "Renamed", "variants": [
            {"id": bobs_variant, "price": {"amount": 1, "currency": "EUR"}}]})),
        )
        .await;
    assert_eq!(not_ours.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&not_ours), ["variants[0].id"]);
    let removed_again = app
        .call(
            Method::PATCH,
            &path,
            Some(&alice),
            Some(json!({"variants": [{"id": medium, "remove": true}]})),
        )
        .await;
    assert_eq!(error_fields(&removed_again), ["variants[0].id"]);
    let taken = app
        .call(
            Method::PATCH,
            &path,
            Some(&alice),
            Some(json!({"name": "Renamed", "variants": [
            {"id": small, "sku": "MUG-1"}]})),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.body["code"], "sku_taken");
    let last = app
        .call(
            Method::PATCH,
            &path,
            Some(&alice),
            Some(json!({"variants": [
            {"id": small, "remove": true},
            {"id": changed.body["variants"][1]["id"], "remove": true}]})),
        )
        .await;
    assert_eq!(last.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&last), ["variants"]);
    let stock = app
        .call(
            Method::PATCH,
            &path,
            Some(&alice),
            Some(json!({"variants": [{"id": small, "stock": 50}]})),
        )
        .await;
    assert_eq!(error_fields(&stock), ["variants[0].stock"]);
    let denied = app
        .call(
            Method::PATCH,
            &path,
            Some(&bob),
            Some(json!({"variants": [{"id": small, "remove": true}]})),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let after = app.call(Method::GET, &path, None, None).await;
    assert_eq!(after.body["name"], "Tee");
    assert_eq!(skus(&after.body), expected);
    app.stop().await;
}

/// Readers racing every write fill the cache as fast as they can; still, each read that
/// starts after a write has answered sees that write.
#[tokio::test]
async fn no_read_after_a_write_is_stale_even_with_readers_racing_the_writes() {
    let app = TestApp::spawn().await;
    let seller = app
        .account_with_role("seller@example.com", Role::Seller)
        .await;
    let product = app
        .create_product(&seller, json!({
            "name": "Kettle 0", "variants": [{"sku": "KETTLE-0", "price": {"amount": 100, "currency": "EUR"}, "stock": 1}]}))
        .await;
    let path = format!("/api/v1/products/{}", product["id"].as_str().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let page = format!("{}{path}", app.base);
            let list = format!("{}/api/v1/products", app.base);
            let stop = stop.clone();
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut reads = 0;
                while !stop.is_cancelled() {
                    let _ = http.get(&page).send().await;
                    let _ = http.get(&list).send().await;
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for i in 1..=25 {
        let name = format!("Kettle {i}");
        let price = 100 + i;
        let changed = app
            .call(Method::PATCH, &path, Some(&seller), Some(json!({
                "name": name, "variants": [{"id": product["variants"][0]["id"], "price": {"amount": price, "currency": "EUR"}}]})))
            .await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
        let read = app.call(Method::GET, &path, None, None).await;
        assert_eq!(
            read.body["name"],
            name.as_str(),
            "product page after write {i}"
        );
        assert_eq!(read.body["variants"][0]["price"]["amount"], price);
        let listed = app.call(Method::GET, "/api/v1/products", None, None).await;
        assert_eq!(
            listed.body["items"][0]["name"],
            name.as_str(),
            "list after write {i}"
        );
    }
    stop.cancel();
    let mut reads = 0;
    for r in readers {
        reads += r.await.unwrap();
    }
    assert!(
        reads > 25,
        "the readers really raced the writes ({reads} reads)"
    );
    app.stop().await;
}

/// PostgreSQL refuses the NUL character in text: a product or a category holding one is
/// refused naming the field (it was a 500), and nothing is stored.
#[tokio::test]
async fn a_nul_character_in_a_product_or_category_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let admin = app
        .account_with_role("admin@example.com", Role::Admin)
        .await;
    let product = app
        .call(
            Method::POST,
            "/api/v1/products",
            Some(&admin),
            Some(json!({"name": "Lamp\u{0}", "variants": [
                {"sku": "LAMP-NUL", "options": {"colour\u{0}": "red"},
                 "price": {"amount": 100, "currency": "EUR"}, "stock": 1}]})),
        )
        .await;
    assert_eq!(
        product.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        product.body
    );
    let mut fields = product.error_fields();
    fields.sort();
    assert_eq!(fields, ["name", "variants[0].options.colour\\u0000"]);
    let category = app
        .call(
            Method::POST,
            "/api/v1/categories",
            Some(&admin),
            Some(json!({"name": "\u{0}"})),
        )
        .await;
    assert_eq!(category.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(category.error_fields(), ["name"]);
    let listed = app.call(Method::GET, "/api/v1/products", None, None).await;
    assert_eq!(listed.body["items"], json!([]), "nothing was stored");

    // PostgreSQL keeps a number near the f64 limit, but writes it back with digits that read
    // as infinity: the product could never be read again. Such a number is refused too.
    let lamp = app.a_product(&admin, "Lamp", 100, 1).await;
    let path = format!("/api/v1/products/{}", lamp.id);
    let huge = r#"{"attributes": {"lumen": [1, 1.7976931348623155e308]}}"#;
    let a = app
        .http
        .patch(format!("{}{path}", app.base))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = a.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "attributes.lumen[1]");
    let read = app.call(Method::GET, &path, None, None).await;
    assert_eq!(
        read.status,
        StatusCode::OK,
        "the product still reads: {}",
        read.body
    );
    app.stop().await;
}
