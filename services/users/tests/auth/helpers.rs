//! Runs the users service alone for a test, and talks to it.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kazna_kernel::Settings;
use kazna_testkit::TestEnv;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub struct Users {
    pub env: TestEnv,
    pub url: String,
    pub pool: PgPool,
    pub http: reqwest::Client,
    pub stop: CancellationToken,
}

pub async fn start(configure: impl FnOnce(&mut Settings)) -> Users {
    let mut env = TestEnv::new().expect("env");
    env.settings.auth.jwks_cache_secs = 0;
    env.settings
        .update::<kazna_users::UsersSettings>(|u| u.signing_key_refresh_secs = 0)
        .expect("users settings");
    configure(&mut env.settings);
    env.databases(&["users"]).await.expect("test database");
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

pub struct Answer {
    pub status: StatusCode,
    pub retry_after: Option<String>,
    pub body: Value,
}

impl Users {
    pub async fn send(
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

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, None, Some(body))
            .await
    }

    pub async fn me(&self, token: &str) -> Answer {
        self.send(reqwest::Method::GET, "/api/v1/users/me", Some(token), None)
            .await
    }

    pub async fn register(&self, email: &str, password: &str) {
        let a = self
            .post(
                "/api/v1/auth/register",
                json!({"email": email, "password": password, "name": "Ada"}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    }

    pub async fn login(&self, email: &str, password: &str) -> Answer {
        self.post(
            "/api/v1/auth/login",
            json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn tokens(&self, email: &str, password: &str) -> (String, String) {
        let a = self.login(email, password).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        (
            a.body["access_token"].as_str().unwrap().to_owned(),
            a.body["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn refresh(&self, refresh_token: &str) -> Answer {
        self.post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": refresh_token}),
        )
        .await
    }

    /// The newest active signing key: (kid, PKCS#8 DER).
    pub async fn signing_key(&self) -> (String, Vec<u8>) {
        sqlx::query_as("SELECT kid, private_der FROM signing_keys WHERE status = 'active' ORDER BY created_at DESC, kid DESC LIMIT 1")
            .fetch_one(&self.pool)
            .await
            .expect("key")
    }

    pub async fn stop(self) {
        self.stop.cancel();
    }
}

pub fn claims(s: &Settings, sub: &str, exp_offset: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": s.auth.issuer, "aud": s.auth.audience, "sub": sub, "email": "ada@example.com",
           "roles": ["admin"], "iat": now, "exp": now + exp_offset, "jti": uuid::Uuid::now_v7()})
}

pub fn sign(kid: &str, der: &[u8], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(der)).expect("sign")
}

pub fn without_request_id(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("request_id");
    }
    v
}
