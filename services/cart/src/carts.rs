//! Carts in Redis: one hash per owner, variant id → quantity, priced from the catalog on read.

use std::collections::HashMap;

use kazna_contracts::{
    Money,
    cart::{Cart, CartLine},
    catalog::VariantInfo,
    orders::OrderLine,
};
use redis::AsyncCommands;
use uuid::Uuid;

use crate::{
    AppState,
    error::{Error, Result},
};

pub const MAX_LINES: usize = 100;
pub const MAX_QUANTITY: i64 = 1000;
const TTL_SECS: i64 = 30 * 24 * 3600;

/// Whose cart: a signed-in user's, or a guest session's.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    User(Uuid),
    Guest(Uuid),
}

impl Owner {
    fn key(&self, s: &AppState) -> String {
        match self {
            Owner::User(id) => s.ctx.settings.redis_key(&format!("cart:u:{id}")),
            Owner::Guest(id) => s.ctx.settings.redis_key(&format!("cart:g:{id}")),
        }
    }
}

async fn variants(s: &AppState, ids: &[Uuid]) -> Result<HashMap<Uuid, VariantInfo>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let list: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let url = format!(
        "{}/internal/variants?ids={}",
        s.ctx.settings.services.catalog.url,
        list.join(",")
    );
    let found: Vec<VariantInfo> = s.ctx.client.get(&url).await?;
    Ok(found.into_iter().map(|v| (v.id, v)).collect())
}

async fn quantities(s: &AppState, owner: Owner) -> Result<HashMap<Uuid, i64>> {
    let mut conn = s.redis.clone();
    let raw: HashMap<String, i64> = conn.hgetall(owner.key(s)).await?;
    Ok(raw
        .into_iter()
        .filter_map(|(k, v)| Uuid::parse_str(&k).ok().map(|id| (id, v)))
        .collect())
}

/// The cart, priced now. Lines whose product is gone are left out.
pub async fn load(s: &AppState, owner: Owner) -> Result<Cart> {
    let qty = quantities(s, owner).await?;
    let info = variants(s, &ids(&qty)).await?;
    priced(s, &qty, &info)
}

fn ids(qty: &HashMap<Uuid, i64>) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = qty.keys().copied().collect();
    ids.sort();
    ids
}

/// Prices `qty` with what the catalog said (`info`). Lines it does not sell are left out, and
/// so are lines repriced into another currency than the cart's (that of its first line) since
/// they were added: a cart is in one currency.
fn priced(
    s: &AppState,
    qty: &HashMap<Uuid, i64>,
    info: &HashMap<Uuid, VariantInfo>,
) -> Result<Cart> {
    let mut items: Vec<CartLine> = Vec::new();
    for id in ids(qty) {
        let (Some(v), Some(q)) = (info.get(&id), qty.get(&id)) else {
            continue;
        };
        if !v.status.on_sale()
            || items
                .first()
                .is_some_and(|f| f.line.unit_price.currency != v.price.currency)
        {
            continue;
        }
        items.push(CartLine {
            line: OrderLine {
                variant_id: id,
                product_id: v.product_id,
                seller_id: v.seller_id,
                name: v.name.clone(),
                sku: v.sku.clone(),
                quantity: *q,
                unit_price: v.price,
            },
            line_total: v.price.checked_mul(*q)?,
            available: v.available,
        });
    }
    let currency = items
        .first()
        .map_or(s.currency, |i| i.line.unit_price.currency);
    let subtotal = Money::sum(currency, items.iter().map(|i| i.line_total))?;
    Ok(Cart {
        items,
        subtotal,
        currency,
    })
}

/// Sets a line to `quantity` (0 removes it), checking the variant and its stock. One read of
/// the cart, one call to the catalog for every line, one write.
pub async fn set(s: &AppState, owner: Owner, variant_id: Uuid, quantity: i64) -> Result<Cart> {
    let key = owner.key(s);
    let mut qty = quantities(s, owner).await?;
    let mut conn = s.redis.clone();
    if quantity == 0 {
        qty.remove(&variant_id);
        let info = variants(s, &ids(&qty)).await?;
        let _: () = conn.hdel(&key, variant_id.to_string()).await?;
        return priced(s, &qty, &info);
    }
    qty.insert(variant_id, quantity);
    let info = variants(s, &ids(&qty)).await?;
    let v = info
        .get(&variant_id)
        .filter(|v| v.status.on_sale())
        .ok_or(Error::UnknownVariant)?;
    if quantity > v.available {
        return Err(Error::InsufficientStock);
    }
    let others: Vec<&VariantInfo> = qty
        .keys()
        .filter(|id| **id != variant_id)
        .filter_map(|id| info.get(id))
        .filter(|o| o.status.on_sale())
        .collect();
    if others.iter().any(|o| o.price.currency != v.price.currency) {
        return Err(Error::CurrencyMismatch);
    }
    if others.len() >= MAX_LINES {
        return Err(Error::CartFull);
    }
    let _: () = redis::pipe()
        .hset(&key, variant_id.to_string(), quantity)
        .ignore()
        .expire(&key, TTL_SECS)
        .ignore()
        .query_async(&mut conn)
        .await?;
    priced(s, &qty, &info)
}

pub async fn quantity_of(s: &AppState, owner: Owner, variant_id: Uuid) -> Result<i64> {
    let mut conn = s.redis.clone();
    let q: Option<i64> = conn.hget(owner.key(s), variant_id.to_string()).await?;
    Ok(q.unwrap_or(0))
}

/// Moves a guest cart into a user's, adding quantities (capped by stock).
pub async fn merge(s: &AppState, guest: Uuid, user: Uuid) -> Result<Cart> {
    let from = Owner::Guest(guest);
    let into = Owner::User(user);
    for (variant, q) in quantities(s, from).await? {
        let have = quantity_of(s, into, variant).await?;
        let wanted = (have + q).min(MAX_QUANTITY);
        match set(s, into, variant, wanted).await {
            Ok(_) | Err(Error::UnknownVariant) => {}
            Err(Error::InsufficientStock) => {
                let info = variants(s, &[variant]).await?;
                if let Some(v) = info.get(&variant) {
                    set(s, into, variant, v.available.max(have)).await?;
                }
            }
            Err(e) => return Err(e),
        }
    }
    clear(s, from).await?;
    load(s, into).await
}

pub async fn clear(s: &AppState, owner: Owner) -> Result<()> {
    let mut conn = s.redis.clone();
    let _: () = conn.del(owner.key(s)).await?;
    Ok(())
}
