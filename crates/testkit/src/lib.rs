//! Test support: settings that isolate one test from every other (its own databases, Redis
//! key prefix, exchange and queues, data directories, free ports), clean-up, and a TCP proxy
//! that can cut a connection to a real dependency.

// Test support only: a set-up that cannot work stops the test loudly.
#![allow(clippy::expect_used)]

pub mod proxy;
pub mod spy;

use kazna_kernel::{Secret, Settings};
use tempfile::TempDir;
use uuid::Uuid;

pub use proxy::TcpProxy;
pub use spy::Spy;

/// One test's share of the real PostgreSQL, Redis and RabbitMQ.
pub struct TestEnv {
    pub id: String,
    pub settings: Settings,
    _dir: TempDir,
}

impl TestEnv {
    pub fn new() -> std::io::Result<Self> {
        let id = Uuid::new_v4().simple().to_string()[..12].to_owned();
        let dir = tempfile::Builder::new().prefix("kazna-test-").tempdir()?;
        // What this machine is configured with (where the servers are), then isolation.
        let mut s = Settings::load().map_err(std::io::Error::other)?;
        s.log.level = std::env::var("KAZNA_TEST_LOG").unwrap_or_else(|_| "warn,lapin=off".into());
        s.database.name_prefix = format!("kt_{id}_");
        s.database.max_connections = 4;
        s.redis.key_prefix = format!("kt:{id}:");
        s.amqp.exchange = format!("kt.{id}.events");
        s.amqp.queue_prefix = format!("kt.{id}");
        s.amqp.queue_expires_ms = Some(120_000);
        s.amqp.retry_delays_ms = vec![150, 300];
        s.auth.internal_token = Secret::new(Uuid::new_v4().to_string());
        s.update::<kazna_payments::PaymentsSettings>(|p| {
            p.webhook_secret = Secret::new(format!("whsec_{}", Uuid::new_v4().simple()));
            p.sandbox_delay_ms = 20;
        })
        .map_err(std::io::Error::other)?;
        s.update::<kazna_search::SearchSettings>(|x| x.data_dir = dir.path().join("search"))
            .map_err(std::io::Error::other)?;
        s.update::<kazna_notifications::NotificationsSettings>(|n| {
            n.outbox_dir = dir.path().join("outbox")
        })
        .map_err(std::io::Error::other)?;
        for (_, ep) in s.services.all_mut() {
            ep.bind.set_port(0);
        }
        kazna_kernel::telemetry::init(&s.log);
        Ok(Self {
            id,
            settings: s,
            _dir: dir,
        })
    }

    /// Drops this test's databases, Redis keys and exchange.
    pub async fn cleanup(&self) {
        let s = &self.settings;
        let dbs: Vec<String> =
            match sqlx::PgPool::connect(&format!("{}/postgres", s.database.url)).await {
                Ok(pool) => sqlx::query_scalar(
                    "SELECT datname FROM pg_database WHERE datname LIKE $1 || '%'",
                )
                .bind(&s.database.name_prefix)
                .fetch_all(&pool)
                .await
                .unwrap_or_default(),
                Err(_) => vec![],
            };
        for db in dbs {
            let _ = kazna_kernel::db::drop_database(s, &db).await;
        }
        if let Ok(mut redis) = kazna_kernel::db::redis(s).await {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}*", s.redis.key_prefix))
                .query_async(&mut redis)
                .await
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut redis).await;
            }
        }
        let broker = kazna_events::Broker::new(s.amqp.clone());
        let _ = broker.delete_exchange().await;
        broker.close().await;
    }
}

/// Polls `check` until it returns `Some`, for at most `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// One service of this test, running on a free port.
pub struct Spawned {
    pub url: String,
    pub ctx: kazna_kernel::Context,
    pub stop: tokio_util::sync::CancellationToken,
}

impl TestEnv {
    /// Binds a free port, lets `configure` point the settings at it (the service's own URL,
    /// say), builds the service with `build` and runs it until `stop` fires.
    pub async fn spawn<B, F>(
        &mut self,
        configure: impl FnOnce(&mut Settings, &str),
        build: B,
    ) -> Spawned
    where
        B: FnOnce(
            kazna_kernel::Context,
            tokio::net::TcpListener,
            tokio_util::sync::CancellationToken,
        ) -> F,
        F: std::future::Future<Output = Result<kazna_kernel::server::App, kazna_kernel::Error>>,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        configure(&mut self.settings, &url);
        let ctx = kazna_kernel::Context::new(std::sync::Arc::new(self.settings.clone()));
        let stop = tokio_util::sync::CancellationToken::new();
        let app = build(ctx.clone(), listener, stop.clone())
            .await
            .expect("the service builds");
        tokio::spawn(app.run_until_stopped(stop.clone()));
        Spawned { url, ctx, stop }
    }
}
