//! Product pages and list pages read through Redis, as the JSON clients see.
//!
//! Keys carry versions instead of being deleted: a change bumps the product's version and the
//! catalog's, so every later read looks under a new key. A reader that raced the change can
//! only have filled a key nobody reads any more, so a read after a write is never stale.

use kazna_kernel::Settings;
use redis::AsyncCommands;
use sqlx::PgPool;
use uuid::Uuid;

use crate::AppState;

const TTL_SECS: u64 = 300;

fn product_version_key(s: &AppState, id: Uuid) -> String {
    s.ctx.settings.redis_key(&format!("product:{id}:version"))
}

fn catalog_version_key(settings: &Settings) -> String {
    settings.redis_key("catalog:version")
}

/// Looks a page up in one round trip: reads the version, then the page under it.
/// Returns the key the page belongs under now, and the page if it is there.
async fn lookup(
    s: &AppState,
    version_key: String,
    page_prefix: String,
) -> Option<(String, Option<String>)> {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    let script = SCRIPT.get_or_init(|| {
        redis::Script::new(
            "local v = redis.call('GET', KEYS[1]) or '0'
             local key = ARGV[1] .. v
             return {key, redis.call('GET', key)}",
        )
    });
    let mut conn = s.redis.clone();
    let (key, page): (String, Option<String>) = script
        .key(version_key)
        .arg(page_prefix)
        .invoke_async(&mut conn)
        .await
        .ok()?;
    Some((key, page))
}

/// A product's page: the key it belongs under now, and the page if cached.
pub async fn product_page(s: &AppState, id: Uuid) -> Option<(String, Option<String>)> {
    let prefix = s.ctx.settings.redis_key(&format!("product:{id}:page:"));
    lookup(s, product_version_key(s, id), prefix).await
}

/// A list page (`query` names the filters, cursor and limit): its key now, and the page.
pub async fn list_page(s: &AppState, query: &str) -> Option<(String, Option<String>)> {
    let prefix = s.ctx.settings.redis_key(&format!("products:list:{query}:"));
    lookup(s, catalog_version_key(&s.ctx.settings), prefix).await
}

/// Stores a page under `key` in the background: the answer does not wait for it. A late
/// write is harmless, since a change moves readers to a new key.
pub fn put(s: &AppState, key: String, json: String) {
    let mut conn = s.redis.clone();
    tokio::spawn(async move {
        let stored: Result<(), _> = conn.set_ex(key, json, TTL_SECS).await;
        if let Err(e) = stored {
            tracing::warn!(error = %e, "could not cache a catalog page");
        }
    });
}

/// These products changed (or a product appeared): later reads of them and of every list
/// look under new keys. Never fails the change it follows (see `db::bump_versions`).
pub async fn changed(s: &AppState, ids: &[Uuid]) {
    let mut keys: Vec<String> = ids.iter().map(|id| product_version_key(s, *id)).collect();
    keys.push(catalog_version_key(&s.ctx.settings));
    kazna_kernel::db::bump_versions(&s.redis, &keys).await;
}

/// Products appeared without the service (`kazna seed` writes to the database): every list
/// page cached so far is left behind. Their own pages were never cached.
pub async fn products_added(settings: &Settings) -> Result<(), kazna_kernel::Error> {
    let mut conn = kazna_kernel::db::redis(settings).await?;
    let _: i64 = conn.incr(catalog_version_key(settings), 1).await?;
    Ok(())
}

/// The products that own these variants.
pub async fn products_of(pool: &PgPool, variants: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT DISTINCT product_id FROM variants WHERE id = ANY($1)")
        .bind(variants)
        .fetch_all(pool)
        .await
}
