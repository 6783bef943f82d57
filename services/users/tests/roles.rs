//! Roles, granted by an admin, through the gateway of a whole platform.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use kazna_kernel::Role;
use kazna_testkit::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

fn product(sku: &str) -> serde_json::Value {
    json!({"name": "Mug", "variants": [{"sku": sku, "price": {"amount": 900, "currency": "EUR"}, "stock": 3}]})
}

#[tokio::test]
async fn an_admin_grants_a_role_which_the_next_sign_in_carries_and_the_change_is_audited() {
    let app = TestApp::spawn().await;
    let admin = app
        .account_with_role("admin@example.com", Role::Admin)
        .await;
    let email = "shopkeeper@example.com";
    assert_eq!(
        app.register(email, "a long enough secret").await.status,
        StatusCode::CREATED
    );
    let before = app.login(email, "a long enough secret").await;
    let id = app
        .call(Method::GET, "/api/v1/users/me", Some(&before), None)
        .await
        .body["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let listed = app
        .call(
            Method::GET,
            "/api/v1/users?email=SHOPKEEPER",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        listed.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.body
    );
    assert_eq!(listed.body["items"][0]["id"], id.as_str());

    let granted = app
        .call(
            Method::PUT,
            &format!("/api/v1/users/{id}/roles"),
            Some(&admin),
            Some(json!({"roles": ["seller", "buyer"]})),
        )
        .await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.body);
    assert_eq!(granted.body["roles"], json!(["buyer", "seller"]));
    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&before), None)
        .await;
    assert_eq!(
        me.body["roles"],
        json!(["buyer", "seller"]),
        "the profile shows it at once"
    );
    let denied = app
        .call(
            Method::POST,
            "/api/v1/products",
            Some(&before),
            Some(product("SHOP-1")),
        )
        .await;
    assert_eq!(
        denied.status,
        StatusCode::FORBIDDEN,
        "a token carries the roles it was issued with"
    );
    let after = app.login(email, "a long enough secret").await;
    let created = app
        .call(
            Method::POST,
            "/api/v1/products",
            Some(&after),
            Some(product("SHOP-1")),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

    let unknown = app
        .call(
            Method::PUT,
            &format!("/api/v1/users/{id}/roles"),
            Some(&admin),
            Some(json!({"roles": ["owner"]})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let empty = app
        .call(
            Method::PUT,
            &format!("/api/v1/users/{id}/roles"),
            Some(&admin),
            Some(json!({"roles": []})),
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);

    let ctx = kazna_kernel::Context::new(app.settings.clone());
    let pool = kazna_users::database(&ctx).await.expect("users db");
    let admin_id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'admin@example.com'")
            .fetch_one(&pool)
            .await
            .expect("admin");
    let audit: Vec<(uuid::Uuid, Vec<String>, Vec<String>)> = sqlx::query_as(
        "SELECT actor_id, old_roles, new_roles FROM role_changes WHERE user_id = $1::uuid",
    )
    .bind(&id)
    .fetch_all(&pool)
    .await
    .expect("audit");
    assert_eq!(
        audit,
        vec![(
            admin_id,
            vec!["buyer".to_owned()],
            vec!["buyer".to_owned(), "seller".to_owned()]
        )]
    );
    app.stop().await;
}
