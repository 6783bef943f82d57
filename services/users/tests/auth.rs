//! The users service against the real database and Redis: tokens, sessions, resets, limits.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kazna_kernel::Settings;
use kazna_testkit::{Spy, TestEnv};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

struct Users {
    env: TestEnv,
    url: String,
    pool: PgPool,
    http: reqwest::Client,
    stop: CancellationToken,
}

async fn start(configure: impl FnOnce(&mut Settings)) -> Users {
    let mut env = TestEnv::new().expect("env");
    env.settings.auth.jwks_cache_secs = 0;
    env.settings.users.signing_key_refresh_secs = 0;
    configure(&mut env.settings);
    let service = env
        .spawn(
            |s, url| s.services.users.url = url.to_owned(),
            kazna_users::build,
        )
        .await;
    let pool = kazna_users::database(&service.ctx).await.expect("db");
    Users {
        env,
        url: service.url,
        pool,
        http: reqwest::Client::new(),
        stop: service.stop,
    }
}

struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    body: Value,
}

impl Users {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut rb = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let res = rb.send().await.expect("sent");
        let status = res.status();
        let retry_after = res
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = res.text().await.unwrap_or_default();
        Answer {
            status,
            retry_after,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, None, Some(body))
            .await
    }

    async fn me(&self, token: &str) -> Answer {
        self.send(reqwest::Method::GET, "/api/v1/users/me", Some(token), None)
            .await
    }

    async fn register(&self, email: &str, password: &str) {
        let a = self
            .post(
                "/api/v1/auth/register",
                json!({"email": email, "password": password, "name": "Ada"}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    }

    async fn login(&self, email: &str, password: &str) -> Answer {
        self.post(
            "/api/v1/auth/login",
            json!({"email": email, "password": password}),
        )
        .await
    }

    async fn tokens(&self, email: &str, password: &str) -> (String, String) {
        let a = self.login(email, password).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        (
            a.body["access_token"].as_str().unwrap().to_owned(),
            a.body["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    async fn refresh(&self, refresh_token: &str) -> Answer {
        self.post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": refresh_token}),
        )
        .await
    }

    /// The newest active signing key: (kid, PKCS#8 DER).
    async fn signing_key(&self) -> (String, Vec<u8>) {
        sqlx::query_as("SELECT kid, private_der FROM signing_keys WHERE status = 'active' ORDER BY created_at DESC, kid DESC LIMIT 1")
            .fetch_one(&self.pool)
            .await
            .expect("key")
    }

    async fn stop(self) {
        self.stop.cancel();
        self.env.cleanup().await;
    }
}

fn claims(s: &Settings, sub: &str, exp_offset: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": s.auth.issuer, "aud": s.auth.audience, "sub": sub, "email": "ada@example.com",
           "roles": ["admin"], "iat": now, "exp": now + exp_offset, "jti": uuid::Uuid::now_v7()})
}

fn sign(kid: &str, der: &[u8], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(der)).expect("sign")
}

fn without_request_id(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("request_id");
    }
    v
}

#[tokio::test]
async fn every_forged_or_stale_token_is_refused() {
    let u = start(|_| {}).await;
    u.register("ada@example.com", "a long enough secret").await;
    let (access, _) = u.tokens("ada@example.com", "a long enough secret").await;
    assert_eq!(
        u.me(&access).await.status,
        StatusCode::OK,
        "the genuine token works"
    );
    let sub = u.me(&access).await.body["id"].as_str().unwrap().to_owned();
    let (kid, der) = u.signing_key().await;
    let s = &u.env.settings;
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let parts: Vec<&str> = access.split('.').collect();

    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
        b64(&claims(s, &sub, 600))
    );
    let public: String =
        sqlx::query_scalar("SELECT encode(public_key, 'base64') FROM signing_keys WHERE kid = $1")
            .bind(&kid)
            .fetch_one(&u.pool)
            .await
            .expect("public key");
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(kid.clone());
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &claims(s, &sub, 600),
        &EncodingKey::from_secret(public.trim().as_bytes()),
    )
    .expect("hs");
    let changed_payload = format!("{}.{}.{}", parts[0], b64(&claims(s, &sub, 600)), parts[2]);
    let expired = sign(&kid, &der, &claims(s, &sub, -120));
    let mut wrong_aud = claims(s, &sub, 600);
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_iss = claims(s, &sub, 600);
    wrong_iss["iss"] = json!("evil");
    let stranger =
        aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
            .expect("key");
    let unknown_kid = sign(
        "not-a-kid-of-ours",
        stranger.as_ref(),
        &claims(s, &sub, 600),
    );
    let signed_by_stranger_with_our_kid = sign(&kid, stranger.as_ref(), &claims(s, &sub, 600));

    for (name, token) in [
        ("alg none", alg_none),
        ("HS256 with the public key", hs256),
        ("changed payload", changed_payload),
        ("expired", expired),
        ("wrong aud", sign(&kid, &der, &wrong_aud)),
        ("wrong iss", sign(&kid, &der, &wrong_iss)),
        ("unknown kid", unknown_kid),
        ("another key, our kid", signed_by_stranger_with_our_kid),
        ("garbage", "garbage".to_owned()),
        ("three dots", "a.b.c".to_owned()),
        ("empty", String::new()),
    ] {
        let a = u.me(&token).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(a.body["code"], "unauthorized", "{name}");
    }

    // Rotation: a new key signs, the old one still verifies until it is retired.
    let new_kid = kazna_users::keys::rotate(&u.pool).await.expect("rotate");
    let (fresh, _) = u.tokens("ada@example.com", "a long enough secret").await;
    let fresh_kid = jsonwebtoken::decode_header(&fresh).expect("header").kid;
    assert_eq!(
        fresh_kid.as_deref(),
        Some(new_kid.as_str()),
        "the new key signs"
    );
    let jwks = u
        .send(reqwest::Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .body;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(
        kids.contains(&kid.as_str()) && kids.contains(&new_kid.as_str()),
        "both keys published: {kids:?}"
    );
    assert_eq!(
        u.me(&access).await.status,
        StatusCode::OK,
        "a token of the old key still works"
    );
    kazna_users::keys::retire(&u.pool, &kid)
        .await
        .expect("retire");
    assert_eq!(
        u.me(&access).await.status,
        StatusCode::UNAUTHORIZED,
        "a token of a retired key does not"
    );
    assert_eq!(u.me(&fresh).await.status, StatusCode::OK);
    assert!(
        kazna_users::keys::retire(&u.pool, &new_kid).await.is_err(),
        "the signing key cannot be retired"
    );
    u.stop().await;
}

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
        s.users.login_attempts = 3;
        s.users.login_window_secs = 2;
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
async fn every_endpoint_documents_its_client_errors() {
    let u = start(|_| {}).await;
    let spec = u
        .send(reqwest::Method::GET, "/openapi.json", None, None)
        .await
        .body;
    let paths = spec["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("item") {
            let codes: Vec<&String> = op["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .collect();
            if path == "/.well-known/jwks.json" {
                continue;
            }
            assert!(
                codes.iter().any(|c| c.starts_with('4')),
                "{method} {path} documents no 4xx: {codes:?}"
            );
            if op.get("requestBody").is_some() {
                for code in ["400", "422"] {
                    assert!(
                        codes.iter().any(|c| *c == code),
                        "{method} {path} does not document {code}"
                    );
                }
            }
            let authenticated = ["/api/v1/users", "/api/v1/auth/logout"]
                .iter()
                .any(|p| path.starts_with(p));
            if authenticated {
                assert!(
                    codes.iter().any(|c| *c == "401"),
                    "{method} {path} does not document 401"
                );
            }
        }
    }
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
