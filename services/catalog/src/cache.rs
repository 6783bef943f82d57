//! Product pages and list pages read through Redis, as the JSON clients see.
//!
//! Keys carry versions instead of being deleted: a change bumps the product's version and the
//! catalog's, so every later read looks under a new key. A reader that raced the change can
//! only have filled a key nobody reads any more, so a read after a write is never stale.

use redis::AsyncCommands;
use sqlx::PgPool;
use uuid::Uuid;

use crate::AppState;

const TTL_SECS: u64 = 300;

fn product_version_key(s: &AppState, id: Uuid) -> String {
    s.ctx.settings.redis_key(&format!("product:{id}:version"))
}

fn catalog_version_key(s: &AppState) -> String {
    s.ctx.settings.redis_key("catalog:version")
}

/// The key a product's page is under now.
pub async fn product_key(s: &AppState, id: Uuid) -> Option<String> {
    let mut conn = s.redis.clone();
    let v: Option<u64> = conn.get(product_version_key(s, id)).await.ok()?;
    Some(
        s.ctx
            .settings
            .redis_key(&format!("product:{id}:page:{}", v.unwrap_or(0))),
    )
}

/// The key a list page is under now; `query` names the filters, cursor and limit.
pub async fn list_key(s: &AppState, query: &str) -> Option<String> {
    let mut conn = s.redis.clone();
    let v: Option<u64> = conn.get(catalog_version_key(s)).await.ok()?;
    Some(
        s.ctx
            .settings
            .redis_key(&format!("products:list:{}:{query}", v.unwrap_or(0))),
    )
}

pub async fn get(s: &AppState, key: &str) -> Option<String> {
    let mut conn = s.redis.clone();
    conn.get(key).await.ok().flatten()
}

pub async fn put(s: &AppState, key: &str, json: &str) {
    let mut conn = s.redis.clone();
    let stored: Result<(), _> = conn.set_ex(key, json, TTL_SECS).await;
    if let Err(e) = stored {
        tracing::warn!(error = %e, "could not cache a catalog page");
    }
}

/// These products changed (or a product appeared): later reads of them and of every list
/// look under new keys. Reported to the caller: a failure would let stale pages be served.
pub async fn changed(s: &AppState, ids: &[Uuid]) -> Result<(), redis::RedisError> {
    let mut pipe = redis::pipe();
    for id in ids {
        pipe.incr(product_version_key(s, *id), 1).ignore();
    }
    pipe.incr(catalog_version_key(s), 1).ignore();
    let mut conn = s.redis.clone();
    pipe.query_async(&mut conn).await
}

/// The products that own these variants.
pub async fn products_of(pool: &PgPool, variants: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT DISTINCT product_id FROM variants WHERE id = ANY($1)")
        .bind(variants)
        .fetch_all(pool)
        .await
}
