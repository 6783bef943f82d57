//! The hot-query cache: a page of results kept in Redis for a few seconds, keyed by this
//! instance (this run of it), its index's generation and the request in normalised form. A commit makes a new
//! generation, so an answer from before it is never served after it. Distinct entries per
//! generation are capped, so a flood of odd queries cannot fill Redis. Redis away, searches
//! answer from the index as if nothing were cached.

use std::time::Duration;

use redis::{AsyncCommands, aio::ConnectionManager};
use serde::{Serialize, de::DeserializeOwned};

pub const TTL: Duration = Duration::from_secs(30);
/// Distinct requests cached per generation of the index.
const CAP: i64 = 10_000;

#[derive(Clone)]
pub struct Cache {
    redis: ConnectionManager,
    /// `<redis prefix>search:cache:<instance>.<run>:` (generations restart with the process).
    prefix: String,
}

impl Cache {
    pub fn new(redis: ConnectionManager, redis_prefix: &str, instance: &str) -> Self {
        Self {
            redis,
            prefix: format!(
                "{redis_prefix}search:cache:{instance}.{}:",
                uuid::Uuid::now_v7().simple()
            ),
        }
    }

    fn key(&self, generation: u64, request: &str) -> String {
        format!("{}{generation}:{request}", self.prefix)
    }

    pub async fn get<T: DeserializeOwned>(&self, generation: u64, request: &str) -> Option<T> {
        let mut redis = self.redis.clone();
        let found: Option<String> = match redis.get(self.key(generation, request)).await {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(error = %e, "search cache: not read");
                return None;
            }
        };
        serde_json::from_str(&found?).ok()
    }

    pub async fn put<T: Serialize>(&self, generation: u64, request: &str, value: &T) {
        let Ok(text) = serde_json::to_string(value) else {
            return;
        };
        let mut redis = self.redis.clone();
        let count = format!("{}{generation}:#", self.prefix);
        let ttl = TTL.as_secs();
        let stored: redis::RedisResult<()> = async {
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
            Ok(())
        }
        .await;
        if let Err(e) = stored {
            tracing::debug!(error = %e, "search cache: not written");
        }
    }
}
