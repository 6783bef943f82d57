//! Products: who may change them, and reads that follow every change.

use kazna_kernel::Role;
use kazna_testkit::eventually;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;

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

#[tokio::test]
async fn the_category_tree_refuses_cycles_and_keeps_products_when_a_category_goes() {
    let app = TestApp::spawn().await;
    let admin = app
        .account_with_role("admin@example.com", Role::Admin)
        .await;
    let seller = app
        .account_with_role("seller@example.com", Role::Seller)
        .await;
    let make = |name: &'static str, parent: Option<String>| {
        let admin = admin.clone();
        let app = &app;
        async move {
            let a = app
                .call(
                    Method::POST,
                    "/api/v1/categories",
                    Some(&admin),
                    Some(json!({"name": name, "parent_id": parent})),
                )
                .await;
            assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
            a.body["id"].as_str().unwrap().to_owned()
        }
    };
    let home = make("Home", None).await;
    let kitchen = make("Kitchen", Some(home.clone())).await;
    let pots = make("Pots", Some(kitchen.clone())).await;
    let patch = |id: String, body: serde_json::Value| {
        let (app, admin) = (&app, admin.clone());
        async move {
            app.call(
                Method::PATCH,
                &format!("/api/v1/categories/{id}"),
                Some(&admin),
                Some(body),
            )
            .await
        }
    };

    for (target, what) in [
        (&pots, "its grandchild"),
        (&kitchen, "its child"),
        (&home, "itself"),
    ] {
        let a = patch(home.clone(), json!({"parent_id": target})).await;
        assert_eq!(a.status, StatusCode::CONFLICT, "under {what}");
        assert_eq!(a.body["code"], "category_cycle");
    }
    let denied = app
        .call(
            Method::PATCH,
            &format!("/api/v1/categories/{pots}"),
            Some(&seller),
            Some(json!({"name": "Mine"})),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(
        patch(pots.clone(), json!({"parent_id": null, "name": "Cookware"}))
            .await
            .status,
        StatusCode::OK
    );
    let tree = app
        .call(Method::GET, "/api/v1/categories/tree", None, None)
        .await
        .body;
    let shape: Vec<(String, Vec<String>)> = tree
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let kids = n["children"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_owned())
                .collect();
            (n["name"].as_str().unwrap().to_owned(), kids)
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            ("Cookware".to_owned(), vec![]),
            ("Home".to_owned(), vec!["Kitchen".to_owned()])
        ]
    );

    // A product in Kitchen is listed under Home, and survives Kitchen's deletion.
    let product = app
        .call(Method::POST, "/api/v1/products", Some(&seller), Some(json!({
            "name": "Kettle", "category_ids": [kitchen],
            "variants": [{"sku": "KETTLE-1", "price": {"amount": 3000, "currency": "EUR"}, "stock": 1}]})))
        .await;
    let product_id = product.body["id"].as_str().unwrap().to_owned();
    let in_home = app
        .call(
            Method::GET,
            &format!("/api/v1/products?category={home}"),
            None,
            None,
        )
        .await;
    assert_eq!(
        in_home.body["items"][0]["id"],
        product_id.as_str(),
        "descendants are included"
    );
    let refused = app
        .call(
            Method::DELETE,
            &format!("/api/v1/categories/{kitchen}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.body["code"], "category_in_use");
    let moved = app
        .call(
            Method::DELETE,
            &format!("/api/v1/categories/{kitchen}?reassign_to={home}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(moved.status, StatusCode::NO_CONTENT);
    let p = app
        .call(
            Method::GET,
            &format!("/api/v1/products/{product_id}"),
            None,
            None,
        )
        .await;
    assert_eq!(p.body["category_ids"], json!([home]));
    let empty = make("Empty", None).await;
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("/api/v1/categories/{empty}"),
            Some(&admin),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
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

fn error_fields(a: &crate::helpers::Answer) -> Vec<String> {
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

#[tokio::test]
async fn sellers_and_moderators_see_what_is_off_sale_and_nobody_else_does() {
    let app = TestApp::spawn().await;
    let alice = app
        .account_with_role("alice@example.com", Role::Seller)
        .await;
    let bob = app.account_with_role("bob@example.com", Role::Seller).await;
    let moderator = app
        .account_with_role("mod@example.com", Role::Moderator)
        .await;
    let buyer = app.login_new_buyer().await;
    let alice_id = app.user_id(&alice).await;
    let mut ids = Vec::new();
    for sku in ["LAMP-1", "LAMP-2", "LAMP-3"] {
        let p = app
            .create_product(&alice, json!({
                "name": "Lamp", "variants": [{"sku": sku, "price": {"amount": 4000, "currency": "EUR"}, "stock": 1}]}))
            .await;
        ids.push(p["id"].as_str().unwrap().to_owned());
    }
    let (hidden, deleted) = (&ids[0], &ids[1]);
    let hide = app
        .call(
            Method::POST,
            &format!("/api/v1/products/{hidden}/hide"),
            Some(&moderator),
            None,
        )
        .await;
    assert_eq!(hide.status, StatusCode::OK);
    let delete = app
        .call(
            Method::DELETE,
            &format!("/api/v1/products/{deleted}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT);

    let listed = |query: String, token: Option<String>| {
        let app = &app;
        async move {
            let a = app
                .call(
                    Method::GET,
                    &format!("/api/v1/products?{query}"),
                    token.as_deref(),
                    None,
                )
                .await;
            let ids: Vec<String> = a.body["items"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|p| p["id"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            (a.status, ids)
        }
    };
    let seller = format!("seller={alice_id}");
    assert_eq!(
        listed(String::new(), None).await,
        (StatusCode::OK, vec![ids[2].clone()])
    );
    assert_eq!(
        listed(format!("status=hidden&{seller}"), Some(alice.clone())).await,
        (StatusCode::OK, vec![hidden.clone()])
    );
    assert_eq!(
        listed(format!("status=deleted&{seller}"), Some(alice.clone())).await,
        (StatusCode::OK, vec![deleted.clone()])
    );
    assert_eq!(
        listed("status=hidden".into(), Some(moderator.clone())).await,
        (StatusCode::OK, vec![hidden.clone()])
    );
    assert_eq!(
        listed("status=hidden".into(), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        listed("status=hidden".into(), Some(buyer.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        listed(format!("status=hidden&{seller}"), Some(bob.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        listed("status=hidden".into(), Some(alice.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    let bad = app
        .call(Method::GET, "/api/v1/products?status=sold", None, None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["status"], 400, "a problem document: {}", bad.body);

    // One product read: the seller and moderators see it off sale; others do not.
    let path = format!("/api/v1/products/{hidden}");
    for (who, token, expected) in [
        ("the seller", Some(&alice), StatusCode::OK),
        ("a moderator", Some(&moderator), StatusCode::OK),
        ("another seller", Some(&bob), StatusCode::NOT_FOUND),
        ("a buyer", Some(&buyer), StatusCode::NOT_FOUND),
        ("anyone", None, StatusCode::NOT_FOUND),
    ] {
        let a = app
            .call(Method::GET, &path, token.map(String::as_str), None)
            .await;
        assert_eq!(a.status, expected, "{who}");
        if expected == StatusCode::OK {
            assert_eq!(a.body["status"], "hidden", "{who}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn pages_of_products_skip_nothing_and_repeat_nothing_while_products_are_added() {
    let app = TestApp::spawn().await;
    let alice = app
        .account_with_role("alice@example.com", Role::Seller)
        .await;
    let bob = app.account_with_role("bob@example.com", Role::Seller).await;
    let create = |token: String, sku: String| {
        let app = &app;
        async move {
            let p = app
                .create_product(&token, json!({
                    "name": format!("Chair {sku}"),
                    "variants": [{"sku": sku, "price": {"amount": 5000, "currency": "EUR"}, "stock": 1}]}))
                .await;
            p["id"].as_str().unwrap().to_owned()
        }
    };
    let mut older = Vec::new();
    for i in 0..5 {
        older.push(create(alice.clone(), format!("CHAIR-{i}")).await);
    }
    let bobs = create(bob.clone(), "STOOL-1".into()).await;

    let alice_id = app.user_id(&alice).await;
    let mut seen = Vec::new();
    let mut query = format!("/api/v1/products?limit=2&seller={alice_id}");
    loop {
        let page = app.call(Method::GET, &query, None, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        for p in items {
            assert!(
                p["variants"][0]["sku"].is_string(),
                "variants come with each product"
            );
            seen.push(p["id"].as_str().unwrap().to_owned());
        }
        // Products added between pages belong before the first page, not in later ones.
        create(alice.clone(), format!("NEW-{}", seen.len())).await;
        match page.body["next_cursor"].as_str() {
            Some(cursor) => {
                query = format!("/api/v1/products?limit=2&seller={alice_id}&cursor={cursor}")
            }
            None => break,
        }
    }
    let newest_first: Vec<String> = older.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first, "every product once, newest first");
    assert!(!seen.contains(&bobs), "the seller filter holds");

    let first = app
        .call(Method::GET, "/api/v1/products?limit=1", None, None)
        .await;
    assert_eq!(
        first.body["items"][0]["name"], "Chair NEW-5",
        "a fresh first page shows the newest"
    );
    for bad in ["limit=0", "limit=101", "cursor=not-a-cursor"] {
        let a = app
            .call(Method::GET, &format!("/api/v1/products?{bad}"), None, None)
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(
            a.body["errors"][0]["field"].is_string(),
            "{bad}: {}",
            a.body
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn products_seeded_while_the_platform_runs_are_listed_at_once() {
    let app = TestApp::spawn().await;
    let before = app.call(Method::GET, "/api/v1/products", None, None).await;
    assert_eq!(
        before.body["items"],
        json!([]),
        "a first read fills the cache"
    );
    let ctx = kazna_kernel::Context::new(app.settings.clone());
    let seeded = kazna::seed::demo(&ctx, 3).await.expect("seeded");
    assert_eq!(seeded.products_created, 3);
    let after = app.call(Method::GET, "/api/v1/products", None, None).await;
    assert_eq!(
        after.body["items"].as_array().map(Vec::len),
        Some(3),
        "no stale list"
    );
    app.stop().await;
}
