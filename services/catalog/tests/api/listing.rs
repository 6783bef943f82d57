//! Product lists: cursor pages, filters, what is off sale and who sees it.

use kazna_kernel::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use kazna_testkit::TestApp;

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
