//! The category tree: no cycles, and products kept when a category goes.

use kazna_kernel::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use kazna_testkit::TestApp;

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
