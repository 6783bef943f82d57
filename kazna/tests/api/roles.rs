//! Who may call what: the same four roles, checked the same way in every service.

use kazna_kernel::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;

fn product(sku: &str) -> serde_json::Value {
    json!({"name": "Mug", "variants": [{"sku": sku, "price": {"amount": 900, "currency": "EUR"}, "stock": 3}]})
}

#[tokio::test]
async fn each_role_may_do_what_it_is_for_and_nothing_more() {
    let app = TestApp::spawn().await;
    let buyer = app.login_new_buyer().await;
    let seller = app
        .account_with_role("seller@example.com", Role::Seller)
        .await;
    let moderator = app
        .account_with_role("moderator@example.com", Role::Moderator)
        .await;
    let admin = app
        .account_with_role("admin@example.com", Role::Admin)
        .await;
    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&buyer), None)
        .await;
    let buyer_id = me.body["id"].as_str().expect("id").to_owned();
    let roles_path = format!("/api/v1/users/{buyer_id}/roles");

    let who = [
        ("anonymous", None),
        ("buyer", Some(&buyer)),
        ("seller", Some(&seller)),
        ("moderator", Some(&moderator)),
        ("admin", Some(&admin)),
    ];
    let mut n = 0;
    for (name, token) in who {
        let token = token.map(String::as_str);
        n += 1;
        let cases = [
            (
                Method::POST,
                "/api/v1/products".to_owned(),
                Some(product(&format!("MUG-{n}"))),
                ["seller", "admin"].as_slice(),
            ),
            (
                Method::POST,
                "/api/v1/categories".to_owned(),
                Some(json!({"name": format!("Cups {n}")})),
                ["admin"].as_slice(),
            ),
            (
                Method::GET,
                "/api/v1/users".to_owned(),
                None,
                ["admin"].as_slice(),
            ),
            (
                Method::PUT,
                roles_path.clone(),
                Some(json!({"roles": ["buyer"]})),
                ["admin"].as_slice(),
            ),
            (
                Method::GET,
                "/api/v1/notifications".to_owned(),
                None,
                ["admin"].as_slice(),
            ),
            (
                Method::GET,
                "/api/v1/users/me".to_owned(),
                None,
                ["buyer", "seller", "moderator", "admin"].as_slice(),
            ),
        ];
        for (method, path, body, allowed) in cases {
            let a = app.call(method.clone(), &path, token, body).await;
            let expected = if allowed.contains(&name) {
                vec![StatusCode::OK, StatusCode::CREATED]
            } else if token.is_none() {
                vec![StatusCode::UNAUTHORIZED]
            } else {
                vec![StatusCode::FORBIDDEN]
            };
            assert!(
                expected.contains(&a.status),
                "{name} {method} {path}: {} {}",
                a.status,
                a.body
            );
        }
    }
    app.stop().await;
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
