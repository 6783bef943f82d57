//! The whole platform for a test: every service started in-process on free ports (or each in a
//! platform of its own), against the real PostgreSQL, Redis and RabbitMQ, called through the
//! gateway like any client.

use std::sync::Arc;

use kazna::{Platform, Service};
use kazna_kernel::Settings;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::TestEnv;

/// Every service that has a database of its own.
const ALL_DATABASES: [&str; 5] = ["users", "catalog", "orders", "payments", "notifications"];

/// A running platform and a client for it.
pub struct TestApp {
    pub env: TestEnv,
    pub settings: Arc<Settings>,
    pub base: String,
    pub http: reqwest::Client,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), kazna_kernel::Error>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> Self {
        let mut env = TestEnv::new().expect("test env");
        configure(&mut env.settings);
        env.databases(&ALL_DATABASES).await.expect("test databases");
        let stop = CancellationToken::new();
        let platform = Platform::build(env.settings.clone(), &Service::ALL, stop.clone())
            .await
            .expect("platform builds");
        Self::run(env, vec![platform], stop)
    }

    /// The platform, reaching the configured Redis through a proxy the test can switch off.
    pub async fn spawn_behind_a_redis_proxy() -> (crate::TcpProxy, Self) {
        use std::net::ToSocketAddrs;
        let url = Settings::load().expect("settings").redis.url;
        let host_port = url
            .trim_start_matches("redis://")
            .split('/')
            .next()
            .expect("host and port");
        let redis = host_port
            .to_socket_addrs()
            .expect("redis address")
            .next()
            .expect("one address");
        let proxy = crate::TcpProxy::start(redis, true).await.expect("proxy");
        let app = Self::spawn_with(|s| s.redis.url = format!("redis://{}", proxy.addr)).await;
        (proxy, app)
    }

    /// Every service in a platform of its own, as one container each would run them: the
    /// gateway and the services reach each other over HTTP only, never in-process.
    pub async fn spawn_separately() -> Self {
        Self::start_separately(Self::separate_env()).await
    }

    /// [`Self::spawn_separately`], with every service reaching the catalog through a proxy
    /// the test can switch off.
    pub async fn spawn_separately_behind_a_catalog_proxy() -> (crate::TcpProxy, Self) {
        let mut env = Self::separate_env();
        let catalog = env.settings.services.catalog.bind;
        let proxy = crate::TcpProxy::start(catalog, true).await.expect("proxy");
        env.settings.services.catalog.url = format!("http://{}", proxy.addr);
        (proxy, Self::start_separately(env).await)
    }

    /// A test env whose services each have a free port, known before any starts, so each can
    /// name the others.
    fn separate_env() -> TestEnv {
        let mut env = TestEnv::new().expect("test env");
        let s = &mut env.settings;
        for (_, ep) in s.services.all_mut() {
            let port = crate::free_port();
            ep.bind.set_port(port);
            ep.url = format!("http://127.0.0.1:{port}");
        }
        s.gateway.public_url = s.services.gateway.url.clone();
        env
    }

    async fn start_separately(env: TestEnv) -> Self {
        env.databases(&ALL_DATABASES).await.expect("test databases");
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

    /// Stops the platform the way SIGTERM does and checks that it drains and exits cleanly;
    /// the test's databases, keys and exchange go with the env.
    pub async fn stop(self) {
        self.stop.cancel();
        let stopped = tokio::time::timeout(std::time::Duration::from_secs(15), self.task).await;
        let outcome = stopped
            .expect("the platform stops within 15 s")
            .expect("task");
        assert!(outcome.is_ok(), "the platform stopped with {outcome:?}");
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
}

/// What the platform answered: status, headers and the body (JSON, or the text as a string).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The body as `T`; the test stops when it is not one.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.body.clone()).unwrap_or_else(|e| {
            panic!(
                "{} is not the expected body ({e}): {}",
                self.status, self.body
            )
        })
    }

    /// The body as `T` of an answer that must be a success.
    pub fn ok<T: DeserializeOwned>(&self) -> T {
        assert!(
            self.status.is_success(),
            "expected a success, got {}: {}",
            self.status,
            self.body
        );
        self.json()
    }

    /// The problem's `code`, for an error answer.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// The `field` of each entry of a validation problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["field"].as_str().map(str::to_owned))
            .collect()
    }
}
