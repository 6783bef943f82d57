//! Accounts: profiles, verification, password hashing.

use kazna_testkit::Spy;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_profile_read_right_after_a_write_is_the_new_one() {
    let u = start(|_| {}).await;
    u.register("ada@example.com", "a long enough secret").await;
    let (access, _) = u.tokens("ada@example.com", "a long enough secret").await;
    for i in 0..5 {
        assert_eq!(
            u.me(&access).await.status,
            StatusCode::OK,
            "warms the cache"
        );
        let name = format!("Ada {i}");
        let phone = format!("+4915112345{i:03}");
        let patched = u
            .send(
                reqwest::Method::PATCH,
                "/api/v1/users/me",
                Some(&access),
                Some(json!({"name": name, "phone": phone})),
            )
            .await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
        let read = u.me(&access).await.body;
        assert_eq!(
            (read["name"].as_str(), read["phone"].as_str()),
            (Some(name.as_str()), Some(phone.as_str()))
        );
    }
    let cleared = u
        .send(
            reqwest::Method::PATCH,
            "/api/v1/users/me",
            Some(&access),
            Some(json!({"phone": null})),
        )
        .await;
    assert_eq!(cleared.body["phone"], Value::Null);
    assert_eq!(u.me(&access).await.body["phone"], Value::Null);
    let bad = u
        .send(
            reqwest::Method::PATCH,
            "/api/v1/users/me",
            Some(&access),
            Some(json!({"name": " ", "phone": "0151"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["name", "phone"]);
    u.stop().await;
}

#[tokio::test]
async fn the_verification_link_works_once_and_the_profile_shows_it_at_once() {
    let u = start(|_| {}).await;
    let mut spy = Spy::new(&u.env.settings, "user.#").await.expect("spy");
    u.register("ada@example.com", "a long enough secret").await;
    let event = spy
        .next("user.verification_requested", 10)
        .await
        .expect("verification asked for");
    assert_eq!(event.data["email"], "ada@example.com");
    let token = event.data["verify_url"]
        .as_str()
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_owned();
    let (access, _) = u.tokens("ada@example.com", "a long enough secret").await;
    assert_eq!(u.me(&access).await.body["email_verified"], false);
    let ok = u
        .post("/api/v1/auth/verify-email", json!({"token": token}))
        .await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT);
    assert_eq!(u.me(&access).await.body["email_verified"], true);
    let again = u
        .post("/api/v1/auth/verify-email", json!({"token": token}))
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    let forged = u
        .post(
            "/api/v1/auth/verify-email",
            json!({"token": "0".repeat(64)}),
        )
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    u.stop().await;
}

#[tokio::test]
async fn a_hash_made_with_weaker_settings_is_redone_at_sign_in() {
    use argon2::{
        Algorithm as A2, Argon2, Params, PasswordHasher, Version, password_hash::SaltString,
    };
    let u = start(|_| {}).await;
    u.register("ada@example.com", "a long enough secret").await;
    let weak = Argon2::new(
        A2::Argon2id,
        Version::V0x13,
        Params::new(8 * 1024, 1, 1, None).unwrap(),
    )
    .hash_password(
        b"a long enough secret",
        &SaltString::generate(&mut argon2::password_hash::rand_core::OsRng),
    )
    .unwrap()
    .to_string();
    sqlx::query("UPDATE users SET password_hash = $1 WHERE email = 'ada@example.com'")
        .bind(&weak)
        .execute(&u.pool)
        .await
        .unwrap();
    assert_eq!(
        u.login("ada@example.com", "a long enough secret")
            .await
            .status,
        StatusCode::OK
    );
    let stored: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'ada@example.com'")
            .fetch_one(&u.pool)
            .await
            .unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert_eq!(
        u.login("ada@example.com", "a long enough secret")
            .await
            .status,
        StatusCode::OK
    );
    u.stop().await;
}

/// PostgreSQL refuses the NUL character in text: a sign-up, a sign-in or a profile change
/// holding one is refused naming the field (it was a 500), and nothing changes.
#[tokio::test]
async fn a_nul_character_in_a_text_field_is_refused_naming_the_field() {
    let u = start(|_| {}).await;
    let sign_up = u
        .post(
            "/api/v1/auth/register",
            json!({"email": "ada\u{0}@example.com", "password": "correct horse battery", "name": "A\u{0}da"}),
        )
        .await;
    assert_eq!(
        sign_up.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        sign_up.body
    );
    assert_eq!(sign_up.body["code"], "validation_failed");
    let mut fields: Vec<&str> = sign_up.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(fields, ["email", "name"]);
    let sign_in = u
        .login("ada\u{0}@example.com", "correct horse battery")
        .await;
    assert_eq!(sign_in.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(sign_in.body["errors"][0]["field"], "email");

    u.register("ada@example.com", "correct horse battery").await;
    let (token, _) = u.tokens("ada@example.com", "correct horse battery").await;
    let change = u
        .send(
            reqwest::Method::PATCH,
            "/api/v1/users/me",
            Some(&token),
            Some(json!({"name": "Ada\u{0}"})),
        )
        .await;
    assert_eq!(change.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(change.body["errors"][0]["field"], "name");
    assert_eq!(u.me(&token).await.body["name"], "Ada", "nothing changed");
    u.stop().await;
}
