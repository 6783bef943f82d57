//! Nothing secret reaches the logs: every line the users service writes, at every level,
//! through sign-up, sign-in, refresh, reset and failures, is searched for the secrets.
//! (A test binary of its own, so that its log capture is the process's only subscriber.)

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use kazna_testkit::{Spy, TestEnv};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn passwords_hashes_and_tokens_never_reach_the_logs() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace,lapin=off,hyper=off,h2=off")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let mut env = TestEnv::new().expect("env");
    let service = env
        .spawn(
            |s, url| s.services.users.url = url.to_owned(),
            kazna_users::build,
        )
        .await;
    let (url, ctx, stop) = (service.url, service.ctx, service.stop);
    let mut spy = Spy::new(&env.settings, "user.#").await.expect("spy");
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| http.post(format!("{url}{path}")).json(&body).send();

    let password = "first secret of ada";
    let new_password = "second secret of ada";
    post(
        "/api/v1/auth/register",
        json!({"email": "ada@example.com", "password": password, "name": "Ada"}),
    )
    .await
    .unwrap();
    post(
        "/api/v1/auth/login",
        json!({"email": "ada@example.com", "password": "wrong secret of ada"}),
    )
    .await
    .unwrap();
    let pair: Value = post(
        "/api/v1/auth/login",
        json!({"email": "ada@example.com", "password": password}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let refresh = pair["refresh_token"].as_str().unwrap().to_owned();
    let access = pair["access_token"].as_str().unwrap().to_owned();
    let next: Value = post("/api/v1/auth/refresh", json!({"refresh_token": refresh}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    post("/api/v1/auth/refresh", json!({"refresh_token": refresh}))
        .await
        .unwrap();
    http.get(format!("{url}/api/v1/users/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    http.get(format!("{url}/api/v1/users/me"))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    post(
        "/api/v1/auth/password-reset",
        json!({"email": "ada@example.com"}),
    )
    .await
    .unwrap();
    let reset = spy
        .next("user.password_reset_requested", 10)
        .await
        .expect("reset event");
    let reset_token = reset.data["reset_url"]
        .as_str()
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_owned();
    post(
        "/api/v1/auth/password-reset/confirm",
        json!({"token": reset_token, "new_password": new_password}),
    )
    .await
    .unwrap();

    let pool = kazna_users::database(&ctx).await.expect("db");
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    stop.cancel();

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("/api/v1/auth/login"),
        "the capture saw the requests"
    );
    let secrets = [
        ("password", password.to_owned()),
        ("new password", new_password.to_owned()),
        ("wrong password", "wrong secret of ada".to_owned()),
        ("password hash", hash.clone()),
        (
            "hash salt and digest",
            hash.rsplit('$').next().unwrap().to_owned(),
        ),
        ("access token", access.clone()),
        (
            "access token signature",
            access.rsplit('.').next().unwrap().to_owned(),
        ),
        ("refresh token", refresh),
        (
            "rotated refresh token",
            next["refresh_token"].as_str().unwrap().to_owned(),
        ),
        ("reset token", reset_token),
    ];
    for (name, secret) in secrets {
        assert!(!text.contains(&secret), "the {name} is in the logs");
    }
}
