//! Profiles read through Redis (`user:{id}:profile`), dropped on every change so a read
//! after a write never sees the old profile.

use redis::AsyncCommands;
use uuid::Uuid;

use crate::{AppState, accounts::Profile};

fn key(s: &AppState, id: Uuid) -> String {
    s.ctx.settings.redis_key(&format!("user:{id}:profile"))
}

pub async fn get(s: &AppState, id: Uuid) -> Option<Profile> {
    let mut conn = s.redis.clone();
    let raw: Option<String> = conn.get(key(s, id)).await.ok()?;
    raw.and_then(|r| serde_json::from_str(&r).ok())
}

pub async fn put(s: &AppState, p: &Profile) {
    let mut conn = s.redis.clone();
    if let Ok(json) = serde_json::to_string(p) {
        let ttl = s.ctx.settings.users.profile_cache_secs;
        let stored: Result<(), _> = conn.set_ex(key(s, p.id), json, ttl).await;
        if let Err(e) = stored {
            tracing::warn!(error = %e, "could not cache a profile");
        }
    }
}

/// Drops the cached profile. A failure here would let a stale profile be served, so it is
/// reported to the caller rather than ignored.
pub async fn forget(s: &AppState, id: Uuid) -> Result<(), redis::RedisError> {
    let mut conn = s.redis.clone();
    conn.del(key(s, id)).await
}
