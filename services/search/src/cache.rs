//! The hot-query cache: a page of results kept in Redis for a few seconds, keyed by this
//! instance (this run of it), its index's generation and the request in normalised form. A commit makes a new
//! generation, so an answer from before it is never served after it. Distinct entries per
//! generation are capped, so a flood of odd queries cannot fill Redis. Redis away, searches
//! answer from the index as if nothing were cached: a call that fails or takes longer than
//! [`WAIT`] makes the cache step aside for [`REST`], so searches do not wait on it.
//!
//! Only this instance writes under its prefix, so it knows which requests it stored, and
//! until when: a request it did not store is not asked of Redis (a search of words nobody
//! asked before costs one call, the write, not three), and the cap is counted here.

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use redis::{AsyncCommands, aio::ConnectionManager};
use serde::{Serialize, de::DeserializeOwned};

pub const TTL: Duration = Duration::from_secs(30);
/// Distinct requests cached per generation of the index.
const CAP: usize = 10_000;
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
    stored: Arc<Mutex<Stored>>,
}

/// The requests stored for one generation, by a hash of each, with when each expires.
#[derive(Default)]
struct Stored {
    generation: String,
    until: HashMap<u64, Instant>,
    hasher: RandomState,
}

impl Stored {
    /// Whether `request` is stored for `generation` and not expired yet.
    fn holds(&self, generation: &str, request: &str) -> bool {
        let hash = self.hasher.hash_one(request);
        self.generation == generation
            && self
                .until
                .get(&hash)
                .is_some_and(|until| Instant::now() < *until)
    }

    /// Notes `request` as stored for `generation` (a new generation forgets the old one's),
    /// unless [`CAP`] requests are already: checked and noted at once, so searches writing
    /// side by side never pass the cap. `false`: not to be written.
    fn reserve(&mut self, generation: &str, request: &str) -> bool {
        if self.generation != generation {
            self.generation = generation.to_owned();
            self.until.clear();
        }
        if self.until.len() >= CAP {
            let now = Instant::now();
            self.until.retain(|_, until| now < *until);
        }
        let hash = self.hasher.hash_one(request);
        if self.until.len() >= CAP && !self.until.contains_key(&hash) {
            return false;
        }
        self.until.insert(hash, Instant::now() + TTL);
        true
    }
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
            stored: Arc::default(),
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
        let stored = self
            .stored
            .lock()
            .is_ok_and(|s| s.holds(generation, request));
        if !stored {
            return None;
        }
        let mut redis = self.redis.clone();
        let key = self.key(generation, request);
        let found: Option<String> = self.call("not read", redis.get(key)).await?;
        serde_json::from_str(&found?).ok()
    }

    pub async fn put<T: Serialize>(&self, generation: &str, request: &str, value: &T) {
        // Noted before it is written: should the write fail, the cache rests, and a read
        // after that finds nothing and costs one call.
        let room = self
            .stored
            .lock()
            .is_ok_and(|mut s| s.reserve(generation, request));
        if !room {
            return;
        }
        let Ok(text) = serde_json::to_string(value) else {
            return;
        };
        let mut redis = self.redis.clone();
        let key = self.key(generation, request);
        let _: Option<()> = self
            .call("not written", redis.set_ex(key, text, TTL.as_secs()))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::{CAP, Stored};

    #[test]
    fn only_what_was_stored_for_this_generation_is_asked_for_and_at_most_cap_of_it() {
        let mut stored = Stored::default();
        assert!(!stored.holds("1.1", "lamp"));
        assert!(stored.reserve("1.1", "lamp"));
        assert!(stored.holds("1.1", "lamp"));
        assert!(!stored.holds("1.1", "lamps"));
        assert!(!stored.holds("1.2", "lamp"));
        // A new generation forgets the old one's.
        assert!(stored.reserve("1.2", "0"));
        assert!(!stored.holds("1.1", "lamp"));
        for n in 1..CAP {
            assert!(stored.reserve("1.2", &n.to_string()));
        }
        assert!(!stored.reserve("1.2", "lamp"), "full until some expire");
        assert!(!stored.holds("1.2", "lamp"));
        assert!(stored.holds("1.2", &(CAP - 1).to_string()));
        assert!(stored.reserve("1.2", "7"), "one stored may be stored again");
    }
}
