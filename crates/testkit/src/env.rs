//! One test's share of the real PostgreSQL, Redis and RabbitMQ, given back when it is dropped.

use kazna_kernel::{Secret, Settings};
use tempfile::TempDir;
use uuid::Uuid;

use crate::templates;

/// Settings that isolate one test from every other: its own databases, Redis key prefix,
/// exchange and queues, data directories and free ports. Dropping it drops its databases,
/// Redis keys and exchange, also when the test panicked.
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
        s.database.name_prefix = format!("{}{id}_", templates::PREFIX);
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
        kazna_kernel::telemetry::init(&s.log, &s.telemetry);
        Ok(Self {
            id,
            settings: s,
            _dir: dir,
        })
    }

    /// Creates the databases of `services` from their migrated templates; the services then
    /// find them ready. A service not named creates its own, migrating it from scratch.
    pub async fn databases(&self, services: &[&str]) -> Result<(), sqlx::Error> {
        templates::clone_for(&self.settings, services).await
    }
}

/// Drops the databases, Redis keys and exchange that `s` names as this test's.
async fn give_back(s: &Settings) {
    let dbs: Vec<String> =
        match sqlx::PgPool::connect(&format!("{}/postgres", s.database.url)).await {
            Ok(pool) => {
                let names = sqlx::query_scalar(
                    "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
                )
                .bind(&s.database.name_prefix)
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
                pool.close().await;
                names
            }
            Err(_) => vec![],
        };
    for db in dbs {
        let _ = kazna_kernel::db::drop_database(s, &db).await;
    }
    if let Ok(mut redis) = kazna_kernel::db::redis(s).await {
        // SCAN, not KEYS: KEYS holds Redis for as long as it reads every key, and the other
        // tests running meanwhile would wait on it.
        let mut cursor = 0u64;
        loop {
            let page: Result<(u64, Vec<String>), _> = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", s.redis.key_prefix))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut redis)
                .await;
            let Ok((next, keys)) = page else { break };
            if !keys.is_empty() {
                let _: Result<(), _> = redis::cmd("UNLINK").arg(keys).query_async(&mut redis).await;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    let broker = kazna_events::Broker::new(s.amqp.clone());
    let _ = broker.delete_exchange().await;
    broker.close().await;
}

impl Drop for TestEnv {
    /// The clean-up runs on a thread of its own with a runtime of its own: a drop cannot
    /// await, and the test's runtime may be unwinding from a panic.
    fn drop(&mut self) {
        let settings = self.settings.clone();
        let done = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(give_back(&settings));
            }
        });
        let _ = done.join();
    }
}
