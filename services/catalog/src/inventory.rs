//! Stock reservations. The database is the only arbiter: a reservation is a conditional
//! `UPDATE` that fails when too few units are available, and the table checks forbid
//! `reserved > stock` or negative stock, whatever runs on how many instances.

use chrono::{Duration, Utc};
use kazna_contracts::{
    Currency, Money,
    catalog::{
        Reservation, ReservationExpired, ReservationLine, ReservationStatus, ReservedLine, Stock,
        StockChanged, VariantInfo, VariantStatus,
    },
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    SOURCE, Store,
    error::{Error, Result},
};

/// A reservation line as stored.
#[derive(sqlx::FromRow)]
struct ReservationRow {
    variant_id: Uuid,
    quantity: i64,
    #[sqlx(try_from = "String")]
    status: ReservationStatus,
}

impl From<ReservationRow> for ReservedLine {
    fn from(r: ReservationRow) -> Self {
        ReservedLine {
            variant_id: r.variant_id,
            quantity: r.quantity,
            status: r.status,
        }
    }
}

/// Reserves every line for `order_id`, or none. Reserving again for the same order returns
/// the existing reservation without holding more.
pub async fn reserve(
    store: &Store,
    order_id: Uuid,
    lines: &[ReservationLine],
    ttl_secs: u64,
) -> Result<Reservation> {
    let mut lines = lines.to_vec();
    // A fixed lock order: two orders over the same variants cannot deadlock.
    lines.sort_by_key(|l| l.variant_id);
    let mut tx = store.pool.begin().await?;
    // Serialise attempts for one order id, so a retry racing the original reserves once.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
    let existing = reservation(&mut tx, order_id).await?;
    if !existing.lines.is_empty() {
        return Ok(existing);
    }
    let expires_at = Utc::now() + Duration::seconds(ttl_secs as i64);
    let mut products = Vec::new();
    for line in &lines {
        // Only variants on sale: not removed, of an active product.
        let changed = sqlx::query(
            "UPDATE variants v SET reserved = v.reserved + $2, updated_at = now()
             FROM products p
             WHERE v.id = $1 AND p.id = v.product_id AND p.status = 'active'
               AND v.removed_at IS NULL AND v.stock - v.reserved >= $2",
        )
        .bind(line.variant_id)
        .bind(line.quantity)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(Error::InsufficientStock(line.variant_id));
        }
        sqlx::query(
            "INSERT INTO reservations (order_id, variant_id, quantity, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(order_id)
        .bind(line.variant_id)
        .bind(line.quantity)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        products.push(stock_changed(&mut tx, line.variant_id).await?);
    }
    let held = reservation(&mut tx, order_id).await?;
    tx.commit().await?;
    store.cache.changed(&products).await;
    Ok(held)
}

/// The reservation of an order as it stands (no lines when there is none).
pub async fn reservation(conn: &mut PgConnection, order_id: Uuid) -> Result<Reservation> {
    let rows: Vec<ReservationRow> = sqlx::query_as(
        "SELECT variant_id, quantity, status FROM reservations WHERE order_id = $1 ORDER BY variant_id",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?;
    let expires_at = sqlx::query_scalar(
        "SELECT min(expires_at) FROM reservations WHERE order_id = $1 AND status = 'held'",
    )
    .bind(order_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Reservation {
        order_id,
        lines: rows.into_iter().map(ReservedLine::from).collect(),
        expires_at,
    })
}

/// Units of a held reservation are sold: they leave stock and reserved together.
/// Committing twice is harmless. A reservation that expired before its payment arrived is
/// sold from what is available now, all lines or none (`insufficient_stock` otherwise).
pub async fn commit(store: &Store, order_id: Uuid) -> Result<Reservation> {
    finish(store, order_id, Finish::Commit).await
}

/// Units of a held reservation come back to `available`. Releasing twice is harmless.
pub async fn release(store: &Store, order_id: Uuid) -> Result<Reservation> {
    finish(store, order_id, Finish::Release).await
}

/// The units of an order that will not be filled go back on sale, whether they were held
/// or already sold (a paid order canceled before it shipped). Returning twice is harmless.
pub async fn give_back(store: &Store, order_id: Uuid) -> Result<Reservation> {
    finish(store, order_id, Finish::GiveBack).await
}

/// How a reservation is finished.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Finish {
    Commit,
    Release,
    /// Release, and sold units come back to stock.
    GiveBack,
    /// Release because the time ran out, and say so.
    Expire,
}

/// What finishing one line takes, from where it is to where it goes.
enum Step {
    /// Already there: nothing to do.
    Done,
    /// Held units are sold: out of stock and reserved.
    Sell,
    /// Held units go back to available.
    Free,
    /// Released units are sold after all, if they are still available.
    SellAgain,
    /// Sold units come back to stock.
    Restock,
    Refuse,
}

fn step(from: ReservationStatus, how: Finish) -> Step {
    use ReservationStatus::*;
    match (from, how) {
        (Held, Finish::Commit) => Step::Sell,
        (Held, Finish::Release | Finish::GiveBack | Finish::Expire) => Step::Free,
        (Committed, Finish::Commit)
        | (Released, Finish::Release | Finish::GiveBack | Finish::Expire) => Step::Done,
        (Released, Finish::Commit) => Step::SellAgain,
        (Committed, Finish::GiveBack) => Step::Restock,
        (Committed, Finish::Release | Finish::Expire) => Step::Refuse,
    }
}

async fn finish(store: &Store, order_id: Uuid, how: Finish) -> Result<Reservation> {
    let to = match how {
        Finish::Commit => ReservationStatus::Committed,
        Finish::Release | Finish::GiveBack | Finish::Expire => ReservationStatus::Released,
    };
    let mut tx = store.pool.begin().await?;
    let held: Vec<ReservationRow> = sqlx::query_as(
        "SELECT variant_id, quantity, status FROM reservations WHERE order_id = $1
         ORDER BY variant_id FOR UPDATE",
    )
    .bind(order_id)
    .fetch_all(&mut *tx)
    .await?;
    if held.is_empty() {
        return Err(Error::NotFound("Reservation"));
    }
    let mut products = Vec::new();
    for r in &held {
        let sql = match step(r.status, how) {
            Step::Done => continue,
            Step::Refuse => return Err(Error::ReservationNotHeld),
            Step::Sell => {
                "UPDATE variants SET stock = stock - $2, reserved = reserved - $2, updated_at = now()
                 WHERE id = $1"
            }
            Step::Free => {
                "UPDATE variants SET reserved = reserved - $2, updated_at = now() WHERE id = $1"
            }
            Step::SellAgain => {
                "UPDATE variants SET stock = stock - $2, updated_at = now()
                 WHERE id = $1 AND stock - reserved >= $2"
            }
            Step::Restock => {
                "UPDATE variants SET stock = stock + $2, updated_at = now() WHERE id = $1"
            }
        };
        let changed = sqlx::query(sql)
            .bind(r.variant_id)
            .bind(r.quantity)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(Error::InsufficientStock(r.variant_id));
        }
        set_status(&mut tx, order_id, r.variant_id, to).await?;
        products.push(stock_changed(&mut tx, r.variant_id).await?);
    }
    if how == Finish::Expire && !products.is_empty() {
        kazna_events::enqueue(&mut tx, SOURCE, &ReservationExpired { order_id }).await?;
    }
    let out = reservation(&mut tx, order_id).await?;
    tx.commit().await?;
    store.cache.changed(&products).await;
    Ok(out)
}

async fn set_status(
    conn: &mut PgConnection,
    order_id: Uuid,
    variant_id: Uuid,
    status: ReservationStatus,
) -> Result<()> {
    sqlx::query(
        "UPDATE reservations SET status = $3, updated_at = now() WHERE order_id = $1 AND variant_id = $2",
    )
    .bind(order_id)
    .bind(variant_id)
    .bind(status.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// How many orders hold stock in reservations, and how many units they hold.
pub async fn held(pool: &PgPool) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT count(DISTINCT order_id), COALESCE(sum(quantity), 0)::bigint
         FROM reservations WHERE status = 'held'",
    )
    .fetch_one(pool)
    .await?)
}

/// Releases reservations whose time ran out, announcing each order's as expired; returns
/// the variants whose stock came back.
pub async fn release_expired(store: &Store) -> Result<Vec<Uuid>> {
    let orders: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT order_id FROM reservations WHERE status = 'held' AND expires_at < now() LIMIT 100",
    )
    .fetch_all(&store.pool)
    .await?;
    let mut released = Vec::new();
    for order in orders {
        match finish(store, order, Finish::Expire).await {
            Ok(r) => released.extend(r.lines.iter().map(|l| l.variant_id)),
            Err(Error::ReservationNotHeld) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(released)
}

/// Announces a variant's new stock; returns its product.
async fn stock_changed(conn: &mut PgConnection, variant_id: Uuid) -> Result<Uuid> {
    let (product_id, stock, reserved, version): (Uuid, i64, i64, i64) = sqlx::query_as(
        "UPDATE variants SET stock_version = stock_version + 1 WHERE id = $1
         RETURNING product_id, stock, reserved, stock_version",
    )
    .bind(variant_id)
    .fetch_one(&mut *conn)
    .await?;
    let event = StockChanged {
        product_id,
        variant_id,
        stock,
        reserved,
        available: stock - reserved,
        version,
    };
    kazna_events::enqueue(conn, SOURCE, &event).await?;
    Ok(product_id)
}

#[derive(sqlx::FromRow)]
struct VariantRow {
    id: Uuid,
    product_id: Uuid,
    seller_id: Uuid,
    name: String,
    sku: String,
    price_amount: i64,
    #[sqlx(try_from = "String")]
    currency: Currency,
    available: i64,
    #[sqlx(try_from = "String")]
    status: VariantStatus,
}

/// What the cart and orders need to know of these variants (the ones that exist).
pub async fn variant_info(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<VariantInfo>> {
    let rows: Vec<VariantRow> = sqlx::query_as(
        "SELECT v.id, v.product_id, p.seller_id, p.name, v.sku, v.price_amount, v.currency,
                v.stock - v.reserved AS available,
                CASE WHEN v.removed_at IS NULL THEN p.status ELSE 'removed' END AS status
         FROM variants v JOIN products p ON p.id = v.product_id WHERE v.id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| VariantInfo {
            id: r.id,
            product_id: r.product_id,
            seller_id: r.seller_id,
            name: r.name,
            sku: r.sku,
            price: Money::new(r.price_amount, r.currency),
            available: r.available,
            status: r.status,
        })
        .collect())
}

pub async fn stock(pool: &PgPool, variant_id: Uuid) -> Result<Stock> {
    let row: Option<(Uuid, i64, i64)> =
        sqlx::query_as("SELECT id, stock, reserved FROM variants WHERE id = $1")
            .bind(variant_id)
            .fetch_optional(pool)
            .await?;
    let (id, stock, reserved) = row.ok_or(Error::NotFound("Variant"))?;
    Ok(Stock {
        id,
        stock,
        reserved,
        available: stock - reserved,
    })
}

/// Changes a variant's stock by `delta`, or sets it. Stock may never fall below what is
/// reserved (so `available` never goes negative): the update is conditional in the database.
pub async fn adjust(store: &Store, variant_id: Uuid, change: StockChange) -> Result<Stock> {
    let (sql, n) = match change {
        StockChange::Delta(d) => (
            "UPDATE variants SET stock = stock + $2, updated_at = now()
             WHERE id = $1 AND stock + $2 >= reserved RETURNING id",
            d,
        ),
        StockChange::Set(n) => (
            "UPDATE variants SET stock = $2, updated_at = now()
             WHERE id = $1 AND $2 >= reserved RETURNING id",
            n,
        ),
    };
    let mut tx = store.pool.begin().await?;
    let changed: Option<Uuid> = sqlx::query_scalar(sql)
        .bind(variant_id)
        .bind(n)
        .fetch_optional(&mut *tx)
        .await?;
    if changed.is_none() {
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM variants WHERE id = $1")
            .bind(variant_id)
            .fetch_optional(&mut *tx)
            .await?;
        return Err(match exists {
            Some(_) => Error::StockBelowReserved,
            None => Error::NotFound("Variant"),
        });
    }
    let product = stock_changed(&mut tx, variant_id).await?;
    tx.commit().await?;
    store.cache.changed(&[product]).await;
    stock(&store.pool, variant_id).await
}

#[derive(Debug, Clone, Copy)]
pub enum StockChange {
    Delta(i64),
    Set(i64),
}

/// Who sells the product a variant belongs to.
pub async fn seller_of_variant(pool: &PgPool, variant_id: Uuid) -> Result<Uuid> {
    sqlx::query_scalar(
        "SELECT p.seller_id FROM variants v JOIN products p ON p.id = v.product_id WHERE v.id = $1",
    )
    .bind(variant_id)
    .fetch_optional(pool)
    .await?
    .ok_or(Error::NotFound("Variant"))
}
