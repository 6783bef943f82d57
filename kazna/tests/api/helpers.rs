use std::sync::Arc;

use kazna::{Platform, Service};
use kazna_kernel::{Role, Settings};
use kazna_testkit::TestEnv;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub struct TestApp {
    pub env: TestEnv,
    pub settings: Arc<Settings>,
    pub base: String,
    pub http: reqwest::Client,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), kazna_kernel::Error>>,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> Self {
        let mut env = TestEnv::new().expect("test env");
        configure(&mut env.settings);
        let stop = CancellationToken::new();
        let platform = Platform::build(env.settings.clone(), &Service::ALL, stop.clone())
            .await
            .expect("platform builds");
        Self::run(env, vec![platform], stop)
    }

    /// Every service in a platform of its own, as one container each would run them: the
    /// gateway and the services reach each other over HTTP only, never in-process.
    pub async fn spawn_separately() -> Self {
        let mut env = TestEnv::new().expect("test env");
        let s = &mut env.settings;
        for (_, ep) in s.services.all_mut() {
            // A free port, known before any service starts, so each can name the others.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            ep.bind.set_port(port);
            ep.url = format!("http://127.0.0.1:{port}");
        }
        s.gateway.public_url = s.services.gateway.url.clone();
        let stop = CancellationToken::new();
        let mut platforms = Vec::new();
        for svc in Service::ALL {
            let platform = Platform::build(env.settings.clone(), &[svc], stop.clone())
                .await
                .expect("service builds");
            platforms.push(platform);
        }
        Self::run(env, platforms, stop)
    }

    /// Runs the platforms until `stop`; the task ends with the first failure, if any.
    fn run(env: TestEnv, platforms: Vec<Platform>, stop: CancellationToken) -> Self {
        let settings = platforms[0].settings.clone();
        let all_stop = stop.clone();
        let task = tokio::spawn(async move {
            let mut running = tokio::task::JoinSet::new();
            for p in platforms {
                running.spawn(p.run(all_stop.clone()));
            }
            let mut outcome = Ok(());
            while let Some(done) = running.join_next().await {
                if let Ok(Err(e)) = done {
                    outcome = Err(e);
                }
            }
            outcome
        });
        Self {
            base: settings.gateway.public_url.clone(),
            settings,
            env,
            http: reqwest::Client::new(),
            stop,
            task,
        }
    }

    /// Stops the platform the way SIGTERM does and checks that it drains and exits cleanly.
    pub async fn stop(self) {
        self.stop.cancel();
        let stopped = tokio::time::timeout(std::time::Duration::from_secs(15), self.task).await;
        let outcome = stopped
            .expect("the platform stops within 15 s")
            .expect("task");
        assert!(outcome.is_ok(), "the platform stopped with {outcome:?}");
        self.env.cleanup().await;
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut rb = self.http.request(method, url);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let res = rb.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Creates an account with a role the way `kazna users create` does, and signs it in.
    pub async fn account_with_role(&self, email: &str, role: Role) -> String {
        let ctx = kazna_kernel::Context::new(self.settings.clone());
        let pool = kazna_users::database(&ctx).await.expect("users db");
        let account = kazna_users::domain::NewAccount::parse(
            email,
            "a long enough secret",
            "Staff",
            vec![role],
        )
        .expect("valid account");
        kazna_users::accounts::create(&pool, account, &self.base)
            .await
            .expect("created");
        self.login(email, "a long enough secret").await
    }

    pub async fn register(&self, email: &str, password: &str) -> Answer {
        self.call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"email": email, "password": password, "name": "Test Buyer"})),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let a = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "login: {}", a.body);
        a.body["access_token"].as_str().expect("token").to_owned()
    }
}

impl TestApp {
    /// Where the file outbox writes this platform's emails.
    pub fn outbox_dir(&self) -> std::path::PathBuf {
        let n: kazna_notifications::NotificationsSettings =
            self.settings.section().expect("notifications settings");
        n.outbox_dir
    }

    /// Creates a product as `token`'s seller and returns it as answered (201 expected).
    pub async fn create_product(&self, token: &str, body: Value) -> Value {
        let a = self
            .call(Method::POST, "/api/v1/products", Some(token), Some(body))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "create product: {}", a.body);
        a.body
    }

    /// The id of the account `token` belongs to.
    pub async fn user_id(&self, token: &str) -> String {
        let me = self
            .call(Method::GET, "/api/v1/users/me", Some(token), None)
            .await;
        me.body["id"].as_str().expect("user id").to_owned()
    }

    /// Registers a fresh buyer and returns an access token.
    pub async fn login_new_buyer(&self) -> String {
        let email = format!("buyer-{}@example.com", uuid::Uuid::new_v4().simple());
        let r = self.register(&email, "a long enough secret").await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        self.login(&email, "a long enough secret").await
    }
}
