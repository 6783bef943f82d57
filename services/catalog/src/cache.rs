//! Product pages and list pages read through Redis, as the JSON clients see.
//!
//! Keys carry versions instead of being deleted: a change bumps the product's version and the
//! catalog's, so every later read looks under a new key. A reader that raced the change can
//! only have filled a key nobody reads any more, so a read after a write is never stale. The
//! domain functions that write a change bump the versions once it has committed.

use redis::AsyncCommands;
use uuid::Uuid;

const TTL_SECS: u64 = 300;

#[derive(Clone)]
pub struct Cache {
    redis: redis::aio::ConnectionManager,
    prefix: String,
}

impl Cache {
    pub fn new(redis: redis::aio::ConnectionManager, key_prefix: &str) -> Self {
        Self {
            redis,
            prefix: key_prefix.to_owned(),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn product_version_key(&self, id: Uuid) -> String {
        self.key(&format!("product:{id}:version"))
    }

    fn catalog_version_key(&self) -> String {
        self.key("catalog:version")
    }

    /// Looks a page up in one round trip: reads the version, then the page under it.
    /// Returns the key the page belongs under now, and the page if it is there.
    async fn lookup(
        &self,
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
        let mut conn = self.redis.clone();
        let (key, page): (String, Option<String>) = script
            .key(version_key)
            .arg(page_prefix)
            .invoke_async(&mut conn)
            .await
            .ok()?;
        Some((key, page))
    }

    /// A product's page: the key it belongs under now, and the page if cached.
    pub async fn product_page(&self, id: Uuid) -> Option<(String, Option<String>)> {
        let prefix = self.key(&format!("product:{id}:page:"));
        self.lookup(self.product_version_key(id), prefix).await
    }

    /// A list page (`query` names the filters, cursor and limit): its key now, and the page.
    pub async fn list_page(&self, query: &str) -> Option<(String, Option<String>)> {
        let prefix = self.key(&format!("products:list:{query}:"));
        self.lookup(self.catalog_version_key(), prefix).await
    }

    /// Stores a page under `key` in the background: the answer does not wait for it. A late
    /// write is harmless, since a change moves readers to a new key.
    pub fn put(&self, key: String, json: String) {
        let mut conn = self.redis.clone();
        tokio::spawn(async move {
            let stored: Result<(), _> = conn.set_ex(key, json, TTL_SECS).await;
            if let Err(e) = stored {
                tracing::warn!(error = %e, "could not cache a catalog page");
            }
        });
    }

    /// These products changed (or a product appeared, or a category moved, with none): later
    /// reads of them and of every list look under new keys. Called once a change has
    /// committed; it never fails the change (see `db::bump_versions`).
    pub async fn changed(&self, products: &[Uuid]) {
        let mut keys: Vec<String> = products
            .iter()
            .map(|id| self.product_version_key(*id))
            .collect();
        keys.push(self.catalog_version_key());
        kazna_kernel::db::bump_versions(&self.redis, &keys).await;
    }
}
