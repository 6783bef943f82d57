//! Who may call what: the same four roles, checked the same way in every service.

use kazna_kernel::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use kazna_testkit::TestApp;

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
