//! Product pages read through Redis (`product:{id}`, the JSON clients see), dropped on every
//! change to the product or its stock, so a read after a write is never stale.

use redis::AsyncCommands;
use sqlx::PgPool;
use uuid::Uuid;

use crate::AppState;

/// Short, so that a read racing a write can keep an old page only briefly.
const TTL_SECS: u64 = 30;

fn key(s: &AppState, id: Uuid) -> String {
    s.ctx.settings.redis_key(&format!("product:{id}"))
}

pub async fn get(s: &AppState, id: Uuid) -> Option<String> {
    let mut conn = s.redis.clone();
    conn.get(key(s, id)).await.ok().flatten()
}

pub async fn put(s: &AppState, id: Uuid, json: &str) {
    let mut conn = s.redis.clone();
    let stored: Result<(), _> = conn.set_ex(key(s, id), json, TTL_SECS).await;
    if let Err(e) = stored {
        tracing::warn!(error = %e, "could not cache a product");
    }
}

/// Drops cached products. Reported to the caller: a failure would let stale data be served.
pub async fn forget(s: &AppState, ids: &[Uuid]) -> Result<(), redis::RedisError> {
    if ids.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = ids.iter().map(|id| key(s, *id)).collect();
    let mut conn = s.redis.clone();
    conn.del(keys).await
}

/// The products that own these variants.
pub async fn products_of(pool: &PgPool, variants: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT DISTINCT product_id FROM variants WHERE id = ANY($1)")
        .bind(variants)
        .fetch_all(pool)
        .await
}
