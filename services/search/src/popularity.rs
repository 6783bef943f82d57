//! Popularity: units sold per product, recent sales weighted most (see [`crate::index::sale_weight`]).
//!
//! The running totals live in Redis, shared by every search instance: each instance hears
//! every `order.paid`, but only the first to hear one adds it (the event's id is remembered
//! for a week), and each then copies the totals into its own index. A new instance, or a
//! reindex, reads them back from there.

use kazna_contracts::orders::OrderPaid;
use redis::aio::ConnectionManager;
use uuid::Uuid;

use crate::index::{Sold, sale_weight};

/// How long an `order.paid` already counted is remembered.
const SEEN_FOR_SECS: u64 = 7 * 24 * 3600;

/// Adds `paid`'s units once, whoever calls it and however often; returns the new totals of
/// its products.
const RECORD: &str = r"
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then
  for i = 2, #ARGV, 2 do
    redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
local ids = {}
for i = 2, #ARGV, 2 do
  ids[#ids + 1] = ARGV[i]
end
return redis.call('HMGET', KEYS[1], unpack(ids))
";

#[derive(Clone)]
pub struct Popularity {
    redis: ConnectionManager,
    /// `<redis prefix>search:`
    prefix: String,
}

impl Popularity {
    pub fn new(redis: ConnectionManager, redis_prefix: &str) -> Self {
        Self {
            redis,
            prefix: format!("{redis_prefix}search:"),
        }
    }

    fn totals_key(&self) -> String {
        format!("{}popularity", self.prefix)
    }

    /// Counts the units of an order paid (event `event_id`), once.
    pub async fn record(
        &self,
        event_id: Uuid,
        paid: &OrderPaid,
        at: chrono::DateTime<chrono::Utc>,
    ) -> redis::RedisResult<Vec<Sold>> {
        let mut units: Vec<(Uuid, i64)> = Vec::new();
        for line in &paid.lines {
            match units.iter_mut().find(|(p, _)| *p == line.product_id) {
                Some((_, n)) => *n += line.quantity,
                None => units.push((line.product_id, line.quantity)),
            }
        }
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let script = redis::Script::new(RECORD);
        let mut call = script.key(self.totals_key());
        call.key(format!("{}sold:{event_id}", self.prefix));
        call.arg(SEEN_FOR_SECS);
        for (product, n) in &units {
            call.arg(product.to_string()).arg(sale_weight(*n, at));
        }
        let mut redis = self.redis.clone();
        let totals: Vec<Option<f64>> = call.invoke_async(&mut redis).await?;
        Ok(units
            .iter()
            .zip(totals)
            .map(|((product_id, _), total)| Sold {
                product_id: *product_id,
                popularity: total.unwrap_or(0.0),
            })
            .collect())
    }

    /// The totals of these products, leaving out those never sold.
    pub async fn of(&self, products: &[Uuid]) -> redis::RedisResult<Vec<Sold>> {
        if products.is_empty() {
            return Ok(Vec::new());
        }
        let mut redis = self.redis.clone();
        let ids: Vec<String> = products.iter().map(Uuid::to_string).collect();
        let totals: Vec<Option<f64>> = redis::cmd("HMGET")
            .arg(self.totals_key())
            .arg(&ids)
            .query_async(&mut redis)
            .await?;
        Ok(products
            .iter()
            .zip(totals)
            .filter_map(|(id, t)| {
                t.map(|popularity| Sold {
                    product_id: *id,
                    popularity,
                })
            })
            .collect())
    }
}
