//! Profiles read through Redis under versioned keys (`user:{id}:profile:{version}`, kept for
//! `users.profile_cache_secs`). A change bumps the version, so later reads look under a new key;
//! a reader that raced the change can only fill a key nobody reads again.

use redis::AsyncCommands;
use uuid::Uuid;

use crate::{AppState, accounts::Profile};

fn version_key(s: &AppState, id: Uuid) -> String {
    s.ctx
        .settings
        .redis_key(&format!("user:{id}:profile:version"))
}

/// The key the profile belongs under now, and the cached profile if it is there; one round trip.
pub async fn get(s: &AppState, id: Uuid) -> Option<(String, Option<Profile>)> {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    let script = SCRIPT.get_or_init(|| {
        redis::Script::new(
            "local key = ARGV[1] .. (redis.call('GET', KEYS[1]) or '0')
             return {key, redis.call('GET', key)}",
        )
    });
    let prefix = s.ctx.settings.redis_key(&format!("user:{id}:profile:"));
    let mut conn = s.redis.clone();
    let (key, raw): (String, Option<String>) = script
        .key(version_key(s, id))
        .arg(prefix)
        .invoke_async(&mut conn)
        .await
        .ok()?;
    Some((key, raw.and_then(|r| serde_json::from_str(&r).ok())))
}

pub async fn put(s: &AppState, key: &str, p: &Profile) {
    let mut conn = s.redis.clone();
    if let Ok(json) = serde_json::to_string(p) {
        let ttl = s.cfg.profile_cache_secs;
        let stored: Result<(), _> = conn.set_ex(key, json, ttl).await;
        if let Err(e) = stored {
            tracing::warn!(error = %e, "could not cache a profile");
        }
    }
}

/// The profile changed: later reads look under a new key. Never fails the change it follows
/// (see `db::bump_versions`).
pub async fn forget(s: &AppState, id: Uuid) {
    kazna_kernel::db::bump_versions(&s.redis, &[version_key(s, id)]).await;
}
