//! Sessions: refresh rotation, logout, password reset, enumeration, sign-in limits.

use kazna_testkit::Spy;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replayed_one_revokes_its_family() {
    let u = start(|_| {}).await;
    u.register("ada@example.com", "a long enough secret").await;
    let (_, first) = u.tokens("ada@example.com", "a long enough secret").await;
    let second = u.refresh(&first).await;
    assert_eq!(second.status, StatusCode::OK);
    let second = second.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    let replay = u.refresh(&first).await;
    assert_eq!(
        replay.status,
        StatusCode::UNAUTHORIZED,
        "a spent token is refused"
    );
    assert_eq!(replay.body["code"], "invalid_token");
    assert_eq!(
        u.refresh(&second).await.status,
        StatusCode::UNAUTHORIZED,
        "and its whole family with it"
    );

    // Logout revokes the presented family only.
    let (access, a) = u.tokens("ada@example.com", "a long enough secret").await;
    let (_, b) = u.tokens("ada@example.com", "a long enough secret").await;
    let out = u
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            Some(&access),
            Some(json!({"refresh_token": a})),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(u.refresh(&a).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        u.refresh(&b).await.status,
        StatusCode::OK,
        "another session stays"
    );
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refresh_tokens WHERE token_hash = sha256(convert_to($1, 'UTF8'))",
    )
    .bind(&b)
    .fetch_one(&u.pool)
    .await
    .expect("count");
    assert_eq!(stored, 1, "refresh tokens are stored as SHA-256 hashes");
    let plain: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refresh_tokens WHERE encode(token_hash, 'hex') = $1",
    )
    .bind(&b)
    .fetch_one(&u.pool)
    .await
    .expect("count");
    assert_eq!(plain, 0, "and never as themselves");
    u.stop().await;
}

/// The reset link the users service asked the notifications service to send.
async fn reset_token(spy: &mut Spy) -> String {
    let event = spy
        .next("user.password_reset_requested", 10)
        .await
        .expect("a reset email was asked for");
    let url = event.data["reset_url"].as_str().expect("url").to_owned();
    url.split("token=").nth(1).expect("token").to_owned()
}

#[tokio::test]
async fn a_password_reset_works_once_and_signs_out_every_session() {
    let u = start(|_| {}).await;
    u.register("ada@example.com", "a long enough secret").await;
    let (access, refresh) = u.tokens("ada@example.com", "a long enough secret").await;
    let mut spy = Spy::new(&u.env.settings, "user.#").await.expect("spy");
    let asked = u
        .post(
            "/api/v1/auth/password-reset",
            json!({"email": "ADA@example.com "}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    let token = reset_token(&mut spy).await;

    let weak = u
        .post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "new_password": "password"}),
        )
        .await;
    assert_eq!(
        weak.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a common password is refused"
    );
    assert_eq!(weak.body["errors"][0]["field"], "new_password");
    let done = u
        .post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "new_password": "a brand new secret"}),
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT);
    let again = u
        .post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "new_password": "yet another secret"}),
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::UNAUTHORIZED,
        "the token works once"
    );

    assert_eq!(
        u.refresh(&refresh).await.status,
        StatusCode::UNAUTHORIZED,
        "sessions are signed out"
    );
    assert_eq!(
        u.login("ada@example.com", "a long enough secret")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        u.login("ada@example.com", "a brand new secret")
            .await
            .status,
        StatusCode::OK
    );
    // Access tokens already issued live out their 15 minutes; they carry no session.
    assert_eq!(u.me(&access).await.status, StatusCode::OK);
    u.stop().await;
}

#[tokio::test]
async fn known_and_unknown_emails_get_the_same_answers() {
    let u = start(|_| {}).await;
    u.register("ada@example.com", "a long enough secret").await;
    let wrong_password = u.login("ada@example.com", "not the password").await;
    let unknown_email = u.login("nobody@example.com", "not the password").await;
    assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password.status, unknown_email.status);
    assert_eq!(
        without_request_id(wrong_password.body),
        without_request_id(unknown_email.body)
    );

    let known = u
        .post(
            "/api/v1/auth/password-reset",
            json!({"email": "ada@example.com"}),
        )
        .await;
    let unknown = u
        .post(
            "/api/v1/auth/password-reset",
            json!({"email": "nobody@example.com"}),
        )
        .await;
    let malformed = u
        .post(
            "/api/v1/auth/password-reset",
            json!({"email": "not an email"}),
        )
        .await;
    assert_eq!(known.status, StatusCode::ACCEPTED);
    for other in [&unknown, &malformed] {
        assert_eq!(other.status, known.status);
        assert_eq!(other.body, known.body);
    }
    let resets: i64 = sqlx::query_scalar("SELECT count(*) FROM password_resets")
        .fetch_one(&u.pool)
        .await
        .expect("count");
    assert_eq!(
        resets, 1,
        "only the existing account gets a reset (and its email)"
    );
    u.stop().await;
}

#[tokio::test]
async fn failed_sign_ins_are_limited_and_the_limit_passes() {
    let u = start(|s| {
        s.update::<kazna_users::UsersSettings>(|u| {
            u.login_attempts = 3;
            u.login_window_secs = 2;
        })
        .expect("users settings");
    })
    .await;
    u.register("ada@example.com", "a long enough secret").await;
    for _ in 0..3 {
        assert_eq!(
            u.login("ada@example.com", "wrong password!").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = u.login("ada@example.com", "a long enough secret").await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert_eq!(limited.body["code"], "too_many_attempts");
    let retry: u64 = limited
        .retry_after
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry), "{retry}");
    // The same address is limited for other accounts too.
    assert_eq!(
        u.login("other@example.com", "whatever it is").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    assert_eq!(
        u.login("ada@example.com", "a long enough secret")
            .await
            .status,
        StatusCode::OK,
        "the window passed"
    );
    u.stop().await;
}
