//! What the cart knows of the catalog's variants: a read model in Redis, one hash per variant
//! (`<prefix>cart:v:<id>`: status, available, amount, currency, product, seller, name, sku,
//! and the versions `pv`, the product's `updated_at` in ms, and `sv`, the variant's stock
//! version), fed by `catalog.product.*` and `catalog.stock.changed`. Each write keeps the
//! newer copy by version, so a late or repeated event cannot roll it back. A variant the
//! model has no copy of is asked of the catalog once and kept.
//!
//! Stock here may lag the catalog by the event delay; the reservation at checkout is the
//! authority.

use kazna_contracts::catalog::{
    ProductSnapshot, ProductStatus, StockChanged, VariantInfo, VariantStatus,
};
use redis::aio::ConnectionManager;
use uuid::Uuid;

use crate::error::Result;

/// Writes a product's copy into its variants' hashes, each unless it holds a newer one, and
/// marks the variants it no longer has as deleted. `KEYS[1]`: the set of the product's
/// variants. `ARGV`: the model prefix, the product's version, its status, id, seller, name,
/// then per variant: id, sku, amount, currency, available, stock version.
const PRODUCT: &str = r"
local set, prefix, pv = KEYS[1], ARGV[1], tonumber(ARGV[2])
local status, product, seller, name = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local listed = {}
for i = 7, #ARGV, 6 do
  local v, key = ARGV[i], prefix .. ARGV[i]
  listed[v] = true
  redis.call('SADD', set, v)
  local kept = redis.call('HMGET', key, 'pv', 'sv')
  if not kept[1] or tonumber(kept[1]) <= pv then
    redis.call('HSET', key, 'pv', pv, 'status', status, 'product', product, 'seller', seller,
      'name', name, 'sku', ARGV[i + 1], 'amount', ARGV[i + 2], 'currency', ARGV[i + 3])
  end
  if not kept[2] or tonumber(kept[2]) <= tonumber(ARGV[i + 5]) then
    redis.call('HSET', key, 'available', ARGV[i + 4], 'sv', ARGV[i + 5])
  end
end
for _, v in ipairs(redis.call('SMEMBERS', set)) do
  if not listed[v] then
    local key = prefix .. v
    local kept = redis.call('HGET', key, 'pv')
    if not kept or tonumber(kept) <= pv then
      redis.call('HSET', key, 'pv', pv, 'status', 'deleted')
    end
  end
end
return 1
";

/// A variant's stock, unless the copy kept is newer. `KEYS[1]`: its hash. `ARGV`: available,
/// stock version.
const STOCK: &str = r"
local kept = redis.call('HGET', KEYS[1], 'sv')
if not kept or tonumber(kept) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'available', ARGV[1], 'sv', ARGV[2])
end
return 1
";

/// A variant as the catalog answered it, kept unless an event wrote it first. `KEYS[1]`: its
/// hash; `KEYS[2]`, when given, the set of its product's variants (so the product's deletion
/// reaches it). `ARGV`: status, available, amount, currency, product, seller, name, sku, and
/// the variant's id.
const FILL: &str = r"
if KEYS[2] then redis.call('SADD', KEYS[2], ARGV[9]) end
if redis.call('HEXISTS', KEYS[1], 'status') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'amount', ARGV[3], 'currency', ARGV[4],
  'product', ARGV[5], 'seller', ARGV[6], 'name', ARGV[7], 'sku', ARGV[8], 'pv', 0)
if redis.call('HEXISTS', KEYS[1], 'sv') == 0 then
  redis.call('HSET', KEYS[1], 'available', ARGV[2], 'sv', 0)
end
return 1
";

#[derive(Clone)]
pub struct Model {
    redis: ConnectionManager,
    /// `<redis prefix>cart:v:`
    pub prefix: std::sync::Arc<str>,
    products: std::sync::Arc<str>,
    scripts: std::sync::Arc<(redis::Script, redis::Script, redis::Script)>,
}

impl Model {
    pub fn new(redis: ConnectionManager, redis_prefix: &str) -> Self {
        Self {
            redis,
            prefix: format!("{redis_prefix}cart:v:").into(),
            products: format!("{redis_prefix}cart:p:").into(),
            scripts: std::sync::Arc::new((
                redis::Script::new(PRODUCT),
                redis::Script::new(STOCK),
                redis::Script::new(FILL),
            )),
        }
    }

    pub fn key(&self, variant: Uuid) -> String {
        format!("{}{variant}", self.prefix)
    }

    /// A product's copy from an event, or its deletion (`status` deleted, no variants).
    pub async fn product(&self, p: &ProductSnapshot) -> Result<()> {
        let mut call = self.scripts.0.key(format!("{}{}", self.products, p.id));
        call.arg(&*self.prefix)
            .arg(p.updated_at.timestamp_millis())
            .arg(status(p.status))
            .arg(p.id.to_string())
            .arg(p.seller_id.to_string())
            .arg(&p.name);
        if p.status != ProductStatus::Deleted {
            for v in &p.variants {
                call.arg(v.id.to_string())
                    .arg(&v.sku)
                    .arg(v.price.amount_minor)
                    .arg(v.price.currency.code())
                    .arg(v.available)
                    .arg(v.stock_version);
            }
        }
        let mut redis = self.redis.clone();
        let _: i64 = call.invoke_async(&mut redis).await?;
        Ok(())
    }

    /// A product deleted at `at_ms`: every variant of it is.
    pub async fn deleted(&self, product: Uuid, at_ms: i64) -> Result<()> {
        let mut call = self.scripts.0.key(format!("{}{product}", self.products));
        call.arg(&*self.prefix)
            .arg(at_ms)
            .arg("deleted")
            .arg(product.to_string())
            .arg("")
            .arg("");
        let mut redis = self.redis.clone();
        let _: i64 = call.invoke_async(&mut redis).await?;
        Ok(())
    }

    pub async fn stock(&self, s: &StockChanged) -> Result<()> {
        let mut redis = self.redis.clone();
        let _: i64 = self
            .scripts
            .1
            .key(self.key(s.variant_id))
            .arg(s.available)
            .arg(s.version)
            .invoke_async(&mut redis)
            .await?;
        Ok(())
    }

    /// Keeps what the catalog answered of variants the model had no copy of.
    pub async fn fill(&self, found: &[VariantInfo]) -> Result<()> {
        let mut redis = self.redis.clone();
        for v in found {
            let status = match v.status {
                VariantStatus::Active => "active",
                VariantStatus::Hidden => "hidden",
                VariantStatus::Deleted | VariantStatus::Removed => "deleted",
            };
            let _: i64 = self
                .scripts
                .2
                .key(self.key(v.id))
                .key(format!("{}{}", self.products, v.product_id))
                .arg(status)
                .arg(v.available)
                .arg(v.price.amount_minor)
                .arg(v.price.currency.code())
                .arg(v.product_id.to_string())
                .arg(v.seller_id.to_string())
                .arg(&v.name)
                .arg(&v.sku)
                .arg(v.id.to_string())
                .invoke_async(&mut redis)
                .await?;
        }
        Ok(())
    }

    /// Marks variants the catalog does not know as deleted (unless an event wrote them).
    pub async fn unknown(&self, ids: &[Uuid]) -> Result<()> {
        let mut redis = self.redis.clone();
        for id in ids {
            let _: i64 = self
                .scripts
                .2
                .key(self.key(*id))
                .arg("deleted")
                .arg(0)
                .arg(0)
                .arg("")
                .arg("")
                .arg("")
                .arg("")
                .arg("")
                .arg(id.to_string())
                .invoke_async(&mut redis)
                .await?;
        }
        Ok(())
    }
}

fn status(s: ProductStatus) -> &'static str {
    match s {
        ProductStatus::Active => "active",
        ProductStatus::Hidden => "hidden",
        ProductStatus::Deleted => "deleted",
    }
}
