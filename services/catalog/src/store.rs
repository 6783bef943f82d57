//! Where the catalog keeps things: its database, and the cache of the pages read from it.

use kazna_kernel::Context;
use sqlx::PgPool;

use crate::cache::Cache;

#[derive(Clone)]
pub struct Store {
    pub pool: PgPool,
    pub cache: Cache,
}

impl Store {
    /// Opens the catalog's database (creating and migrating it when needed) and Redis.
    pub async fn open(ctx: &Context) -> Result<Self, kazna_kernel::Error> {
        let pool = crate::database(ctx).await?;
        let redis = kazna_kernel::db::redis(&ctx.settings).await?;
        Ok(Self {
            pool,
            cache: Cache::new(redis, &ctx.settings.redis.key_prefix),
        })
    }
}
