//! Failed sign-ins counted in Redis, per account and per client address, so every instance
//! shares the count. Past the limit, sign-in answers 429 until the window ends.

use redis::aio::ConnectionManager;

use crate::error::{Error, Result};

pub struct LoginLimits<'a> {
    pub redis: &'a ConnectionManager,
    pub prefix: &'a str,
    pub attempts: u32,
    pub window_secs: u64,
}

impl LoginLimits<'_> {
    fn keys(&self, email: &str, client: &str) -> [String; 2] {
        [
            format!(
                "{}login:fail:account:{}",
                self.prefix,
                email.trim().to_lowercase()
            ),
            format!("{}login:fail:client:{client}", self.prefix),
        ]
    }

    /// Refuses with `TooManyAttempts` while either count is at the limit.
    pub async fn check(&self, email: &str, client: &str) -> Result<()> {
        let mut conn = self.redis.clone();
        for key in self.keys(email, client) {
            let (count, ttl): (Option<u32>, i64) = redis::pipe()
                .get(&key)
                .ttl(&key)
                .query_async(&mut conn)
                .await?;
            if count.unwrap_or(0) >= self.attempts {
                return Err(Error::TooManyAttempts {
                    retry_after: ttl.max(1) as u64,
                });
            }
        }
        Ok(())
    }

    /// Counts one failure against both keys; the window starts at the first failure.
    pub async fn failed(&self, email: &str, client: &str) -> Result<()> {
        let mut conn = self.redis.clone();
        for key in self.keys(email, client) {
            let _: () = redis::pipe()
                .incr(&key, 1)
                .expire(&key, self.window_secs as i64)
                .arg("NX")
                .query_async(&mut conn)
                .await?;
        }
        Ok(())
    }
}
