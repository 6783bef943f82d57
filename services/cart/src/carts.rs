//! Carts in Redis. Every change is one script (see [`crate::scripts`]) that checks and writes
//! at once, so concurrent changes never overwrite each other; prices, names and stock come
//! from the cart's read model of the catalog (see [`crate::model`]), and the catalog is asked
//! only for a variant the model has no copy of.

use std::time::Duration;

use kazna_contracts::{
    Currency, Money,
    cart::{Cart, CartLine, LineFlag},
    catalog::VariantInfo,
    orders::OrderLine,
};
use redis::AsyncCommands;
use uuid::Uuid;

use crate::{
    AppState,
    error::{Error, Result},
    scripts,
};

pub const MAX_LINES: usize = 100;
pub const MAX_QUANTITY: i64 = 1000;

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

    /// How long the cart lives after its last change.
    fn lifetime(&self, s: &AppState) -> Duration {
        match self {
            Owner::User(_) => s.settings.user_idle,
            Owner::Guest(_) => s.settings.guest_idle,
        }
    }
}

/// A change to one line.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    /// Adds units to the line (making it when new).
    Add(i64),
    /// Sets the line's quantity; 0 removes it.
    Set(i64),
}

/// One line as a script answered it.
struct Raw {
    variant: String,
    quantity: i64,
    /// `<amount> <currency>` when the shopper set the line.
    price_when_set: String,
    /// The model's copy: status ("" when it has none), available, amount, currency, product,
    /// seller, name, sku.
    model: [String; 8],
}

/// The fields of a script's answer (see [`scripts::SEPARATOR`]).
fn fields(answer: &str) -> Vec<&str> {
    answer.split(scripts::SEPARATOR).collect()
}

/// A script's answer: the cart's currency and its lines.
fn parse(values: &[&str]) -> (String, Vec<Raw>) {
    let currency = values.first().map(|c| (*c).to_owned()).unwrap_or_default();
    let mut lines = Vec::new();
    for chunk in values.get(2..).unwrap_or_default().chunks_exact(11) {
        let model: [String; 8] = std::array::from_fn(|i| chunk[3 + i].to_owned());
        lines.push(Raw {
            variant: chunk[0].to_owned(),
            quantity: chunk[1].parse().unwrap_or(0),
            price_when_set: chunk[2].to_owned(),
            model,
        });
    }
    (currency, lines)
}

/// Asks the catalog for variants the model has no copy of, and keeps what it says (an unknown
/// one as deleted). Returns whether there were any.
async fn fill(s: &AppState, ids: &[Uuid]) -> Result<bool> {
    if ids.is_empty() {
        return Ok(false);
    }
    let list: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let url = format!(
        "{}/internal/variants?ids={}",
        s.ctx.settings.services.catalog.url,
        list.join(",")
    );
    let found: Vec<VariantInfo> = s.ctx.client.get(&url).await?;
    s.model.fill(&found).await?;
    let unknown: Vec<Uuid> = ids
        .iter()
        .filter(|id| !found.iter().any(|f| f.id == **id))
        .copied()
        .collect();
    s.model.unknown(&unknown).await?;
    Ok(true)
}

fn missing(lines: &[Raw]) -> Vec<Uuid> {
    lines
        .iter()
        .filter(|l| l.model[0].is_empty())
        .filter_map(|l| Uuid::parse_str(&l.variant).ok())
        .collect()
}

async fn read(s: &AppState, owner: Owner) -> Result<(String, Vec<Raw>)> {
    let mut redis = s.redis.clone();
    let answer: String = s
        .scripts
        .read
        .key(owner.key(s))
        .arg(&*s.model.prefix)
        .invoke_async(&mut redis)
        .await?;
    Ok(parse(&fields(&answer)))
}

/// The cart with every line's model read, asking the catalog for the ones it has not.
async fn complete(s: &AppState, owner: Owner, answer: (String, Vec<Raw>)) -> Result<Cart> {
    let answer = match fill(s, &missing(&answer.1)).await? {
        true => read(s, owner).await?,
        false => answer,
    };
    Ok(priced(s, answer))
}

/// The cart as it stands, with today's prices, and its lines flagged where something changed.
pub async fn load(s: &AppState, owner: Owner) -> Result<Cart> {
    let answer = read(s, owner).await?;
    complete(s, owner, answer).await
}

/// Changes one line, checking the variant is on sale, the stock, the line and cart limits and
/// the cart's currency, all at once with the write.
pub async fn change(s: &AppState, owner: Owner, variant: Uuid, change: Change) -> Result<Cart> {
    let (mode, n) = match change {
        Change::Add(n) => ("add", n),
        Change::Set(n) => ("set", n),
    };
    for attempt in 0..2 {
        let mut redis = s.redis.clone();
        let answer: String = s
            .scripts
            .set
            .key(owner.key(s))
            .key(s.model.key(variant))
            .arg(&*s.model.prefix)
            .arg(variant.to_string())
            .arg(mode)
            .arg(n)
            .arg(MAX_QUANTITY)
            .arg(MAX_LINES)
            .arg(owner.lifetime(s).as_secs())
            .invoke_async(&mut redis)
            .await?;
        let values = fields(&answer);
        let (outcome, rest) = values.split_first().ok_or(Error::Script)?;
        match *outcome {
            "ok" => return complete(s, owner, parse(rest)).await,
            "miss" if attempt == 0 => {
                fill(s, &[variant]).await?;
            }
            "miss" | "unknown_variant" => return Err(Error::UnknownVariant),
            "too_many" => return Err(Error::TooMany),
            "insufficient_stock" => return Err(Error::InsufficientStock),
            "currency_mismatch" => return Err(Error::CurrencyMismatch),
            "cart_full" => return Err(Error::CartFull),
            _ => return Err(Error::Script),
        }
    }
    Err(Error::UnknownVariant)
}

/// Moves a guest cart into a user's, adding quantities (capped by stock and the line limit);
/// merging the same guest cart twice, even at once, gives what merging it once gave.
pub async fn merge(s: &AppState, guest: Uuid, user: Uuid) -> Result<Cart> {
    let (from, into) = (Owner::Guest(guest), Owner::User(user));
    // Every guest line's variant known first, so none is dropped for want of a copy.
    let (_, lines) = read(s, from).await?;
    fill(s, &missing(&lines)).await?;
    let mut redis = s.redis.clone();
    let answer: String = s
        .scripts
        .merge
        .key(from.key(s))
        .key(into.key(s))
        .arg(&*s.model.prefix)
        .arg(MAX_QUANTITY)
        .arg(MAX_LINES)
        .arg(into.lifetime(s).as_secs())
        .invoke_async(&mut redis)
        .await?;
    let values = fields(&answer);
    let (_, rest) = values.split_first().ok_or(Error::Script)?;
    complete(s, into, parse(rest)).await
}

/// Takes the lines of an accepted order out of a user's cart; what was added meanwhile stays.
pub async fn take(s: &AppState, user: Uuid, lines: &[(Uuid, i64)]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut call = s.scripts.take.key(Owner::User(user).key(s));
    for (variant, quantity) in lines {
        call.arg(variant.to_string()).arg(*quantity);
    }
    let mut redis = s.redis.clone();
    let _: i64 = call.invoke_async(&mut redis).await?;
    Ok(())
}

pub async fn clear(s: &AppState, owner: Owner) -> Result<()> {
    let mut conn = s.redis.clone();
    let _: () = conn.del(owner.key(s)).await?;
    Ok(())
}

/// "1500 EUR" as money.
fn money(text: &str) -> Option<Money> {
    let (amount, currency) = text.split_once(' ')?;
    Some(Money::new(
        amount.parse().ok()?,
        Currency::parse(currency).ok()?,
    ))
}

/// The cart priced from the model, each line flagged with what changed: off sale, deleted,
/// short of stock, or repriced since the shopper set it. The subtotal counts the lines that
/// can be bought.
fn priced(s: &AppState, (currency, lines): (String, Vec<Raw>)) -> Cart {
    let currency = Currency::parse(&currency).unwrap_or(s.currency);
    let mut items = Vec::with_capacity(lines.len());
    let mut subtotal = Money::new(0, currency);
    for raw in lines {
        let Ok(variant_id) = Uuid::parse_str(&raw.variant) else {
            continue;
        };
        let [
            status,
            available,
            amount,
            price_currency,
            product,
            seller,
            name,
            sku,
        ] = raw.model;
        let when_set = money(&raw.price_when_set);
        let now = money(&format!("{amount} {price_currency}"));
        let available: i64 = available.parse().unwrap_or(0);
        let mut flags = Vec::new();
        match status.as_str() {
            "active" => {}
            "hidden" => flags.push(LineFlag::Hidden),
            _ => flags.push(LineFlag::Deleted),
        }
        let on_sale = flags.is_empty();
        if on_sale && available < raw.quantity {
            flags.push(LineFlag::OutOfStock);
        }
        let repriced = matches!((when_set, now), (Some(a), Some(b)) if a != b);
        if on_sale && repriced {
            flags.push(LineFlag::PriceChanged);
        }
        let unit_price = now.or(when_set).unwrap_or(Money::new(0, currency));
        let line_total = unit_price
            .checked_mul(raw.quantity)
            .unwrap_or(Money::new(0, unit_price.currency));
        if on_sale && unit_price.currency == currency {
            subtotal = subtotal.checked_add(line_total).unwrap_or(subtotal);
        }
        items.push(CartLine {
            line: OrderLine {
                variant_id,
                product_id: Uuid::parse_str(&product).unwrap_or_default(),
                seller_id: Uuid::parse_str(&seller).unwrap_or_default(),
                name,
                sku,
                quantity: raw.quantity,
                unit_price,
            },
            line_total,
            available,
            flags,
            price_when_added: if repriced { when_set } else { None },
        });
    }
    items.sort_by_key(|i| i.line.variant_id);
    Cart {
        items,
        subtotal,
        currency,
    }
}
