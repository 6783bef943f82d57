//! The hot-query cache: a page of results kept in Redis for a few seconds, keyed by this
//! instance (this run of it), its index's generation and the request in normalised form. A commit makes a new
//! generation, so an answer from before it is never served after it. Distinct entries per
//! generation are capped, so a flood of odd queries cannot fill Redis. Redis away, searches
//! answer from the index as if nothing were cached: a call that fails or takes longer than
//! [`WAIT`] makes the cache step aside for [`REST`], so searches do not wait on it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use redis::{AsyncCommands, aio::ConnectionManager};
use serde::{Serialize, de::DeserializeOwned};

pub const TTL: Duration = Duration::from_secs(30);
/// Distinct requests cached per generation of the index.
const CAP: i64 = 10_000;
/// The longest a search waits for the cache.
const WAIT: Duration = Duration::from_millis(50);
/// How long the cache is left alone after it failed.
const REST: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Cache {
    redis: ConnectionManager,
    /// `<redis prefix>search:cache:<instance>.<run>:` (generations restart with the process).
    prefix: String,
    /// Since `started`, in ms: until when the cache is left alone.
    resting_until: Arc<AtomicU64>,
    started: Instant,
}

impl Cache {
    pub fn new(redis: ConnectionManager, redis_prefix: &str, instance: &str) -> Self {
        Self {
            redis,
            prefix: format!(
                "{redis_prefix}search:cache:{instance}.{}:",
                uuid::Uuid::now_v7().simple()
            ),
            resting_until: Arc::new(AtomicU64::new(0)),
            started: Instant::now(),
        }
    }

    fn key(&self, generation: &str, request: &str) -> String {
        format!("{}{generation}:{request}", self.prefix)
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Runs a call on the cache, unless it is resting; a failure or a slow answer rests it.
    async fn call<T>(
        &self,
        what: &str,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        if self.now_ms() < self.resting_until.load(Ordering::Relaxed) {
            return None;
        }
        let error = match tokio::time::timeout(WAIT, call).await {
            Ok(Ok(v)) => return Some(v),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} ms", WAIT.as_millis()),
        };
        tracing::debug!(error, "search cache: {what}; resting it");
        let until = self.now_ms() + REST.as_millis() as u64;
        self.resting_until.store(until, Ordering::Relaxed);
        None
    }

    pub async fn get<T: DeserializeOwned>(&self, generation: &str, request: &str) -> Option<T> {
        let mut redis = self.redis.clone();
        let key = self.key(generation, request);
        let found: Option<String> = self.call("not read", redis.get(key)).await?;
        serde_json::from_str(&found?).ok()
    }

    pub async fn put<T: Serialize>(&self, generation: &str, request: &str, value: &T) {
        let Ok(text) = serde_json::to_string(value) else {
            return;
        };
        let mut redis = self.redis.clone();
        let count = format!("{}{generation}:#", self.prefix);
        let ttl = TTL.as_secs();
        let stored = async {
            let (n,): (i64,) = redis::pipe()
                .incr(&count, 1)
                .expire(&count, ttl as i64)
                .ignore()
                .query_async(&mut redis)
                .await?;
            if n <= CAP {
                let _: () = redis
                    .set_ex(self.key(generation, request), text, ttl)
                    .await?;
            }
            Ok::<(), redis::RedisError>(())
        };
        self.call("not written", stored).await;
    }
}
