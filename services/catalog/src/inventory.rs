//! Stock reservations. The database is the only arbiter: a reservation is a conditional
//! `UPDATE` that fails when too few units are available, and the table checks forbid
//! `reserved > stock` or negative stock, whatever runs on how many instances.

use chrono::{Duration, Utc};
use kazna_contracts::catalog::StockChanged;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    SOURCE,
    error::{Error, Result},
};

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Line {
    pub variant_id: Uuid,
    pub quantity: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Reservation {
    pub variant_id: Uuid,
    pub quantity: i64,
    pub status: String,
}

/// Reserves every line for `order_id`, or none. Reserving again for the same order returns
/// the existing reservation without holding more.
pub async fn reserve(
    pool: &PgPool,
    order_id: Uuid,
    lines: &[Line],
    ttl_secs: u64,
) -> Result<Vec<Reservation>> {
    let mut lines = lines.to_vec();
    // A fixed lock order: two orders over the same variants cannot deadlock.
    lines.sort_by_key(|l| l.variant_id);
    let mut tx = pool.begin().await?;
    // Serialise attempts for one order id, so a retry racing the original reserves once.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
    let existing = reservations(&mut tx, order_id).await?;
    if !existing.is_empty() {
        return Ok(existing);
    }
    let expires_at = Utc::now() + Duration::seconds(ttl_secs as i64);
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
        stock_changed(&mut tx, line.variant_id).await?;
    }
    let held = reservations(&mut tx, order_id).await?;
    tx.commit().await?;
    Ok(held)
}

async fn reservations(conn: &mut PgConnection, order_id: Uuid) -> Result<Vec<Reservation>> {
    Ok(sqlx::query_as(
        "SELECT variant_id, quantity, status FROM reservations WHERE order_id = $1 ORDER BY variant_id",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await?)
}

/// Units of a held reservation are sold: they leave stock and reserved together.
/// Committing twice is harmless. A reservation that expired before its payment arrived is
/// sold from what is available now, all lines or none (`insufficient_stock` otherwise).
pub async fn commit(pool: &PgPool, order_id: Uuid) -> Result<Vec<Reservation>> {
    finish(pool, order_id, "committed").await
}

/// Units of a held reservation come back to `available`. Releasing twice is harmless.
pub async fn release(pool: &PgPool, order_id: Uuid) -> Result<Vec<Reservation>> {
    finish(pool, order_id, "released").await
}

async fn finish(pool: &PgPool, order_id: Uuid, to: &'static str) -> Result<Vec<Reservation>> {
    let mut tx = pool.begin().await?;
    let held: Vec<Reservation> = sqlx::query_as(
        "SELECT variant_id, quantity, status FROM reservations WHERE order_id = $1
         ORDER BY variant_id FOR UPDATE",
    )
    .bind(order_id)
    .fetch_all(&mut *tx)
    .await?;
    if held.is_empty() {
        return Err(Error::NotFound("Reservation"));
    }
    for r in &held {
        match (r.status.as_str(), to) {
            ("held", _) => {}
            (s, t) if s == t => continue,
            ("released", "committed") => {
                let taken = sqlx::query(
                    "UPDATE variants SET stock = stock - $2, updated_at = now()
                     WHERE id = $1 AND stock - reserved >= $2",
                )
                .bind(r.variant_id)
                .bind(r.quantity)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if taken == 0 {
                    return Err(Error::InsufficientStock(r.variant_id));
                }
                set_status(&mut tx, order_id, r.variant_id, to).await?;
                stock_changed(&mut tx, r.variant_id).await?;
                continue;
            }
            _ => return Err(Error::ReservationNotHeld),
        }
        let sql = if to == "committed" {
            "UPDATE variants SET stock = stock - $2, reserved = reserved - $2, updated_at = now() WHERE id = $1"
        } else {
            "UPDATE variants SET reserved = reserved - $2, updated_at = now() WHERE id = $1"
        };
        sqlx::query(sql)
            .bind(r.variant_id)
            .bind(r.quantity)
            .execute(&mut *tx)
            .await?;
        set_status(&mut tx, order_id, r.variant_id, to).await?;
        stock_changed(&mut tx, r.variant_id).await?;
    }
    let out = reservations(&mut tx, order_id).await?;
    tx.commit().await?;
    Ok(out)
}

async fn set_status(
    conn: &mut PgConnection,
    order_id: Uuid,
    variant_id: Uuid,
    status: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE reservations SET status = $3, updated_at = now() WHERE order_id = $1 AND variant_id = $2",
    )
    .bind(order_id)
    .bind(variant_id)
    .bind(status)
    .execute(conn)
    .await?;
    Ok(())
}

/// Releases reservations whose time ran out; returns the variants whose stock came back.
pub async fn release_expired(pool: &PgPool) -> Result<Vec<Uuid>> {
    let orders: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT order_id FROM reservations WHERE status = 'held' AND expires_at < now() LIMIT 100",
    )
    .fetch_all(pool)
    .await?;
    let mut released = Vec::new();
    for order in orders {
        match release(pool, order).await {
            Ok(lines) => released.extend(lines.iter().map(|l| l.variant_id)),
            Err(Error::ReservationNotHeld) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(released)
}

async fn stock_changed(conn: &mut PgConnection, variant_id: Uuid) -> Result<()> {
    let (product_id, stock, reserved): (Uuid, i64, i64) =
        sqlx::query_as("SELECT product_id, stock, reserved FROM variants WHERE id = $1")
            .bind(variant_id)
            .fetch_one(&mut *conn)
            .await?;
    let event = StockChanged {
        product_id,
        variant_id,
        stock,
        reserved,
        available: stock - reserved,
    };
    kazna_events::enqueue(conn, SOURCE, &event).await?;
    Ok(())
}

/// What the cart and orders need to know of variants.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct VariantInfo {
    pub id: Uuid,
    pub product_id: Uuid,
    pub name: String,
    pub sku: String,
    pub price_amount: i64,
    pub currency: String,
    pub available: i64,
    /// The product's status, or `removed` for a variant no longer sold.
    pub status: String,
}

pub async fn variant_info(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<VariantInfo>> {
    Ok(sqlx::query_as(
        "SELECT v.id, v.product_id, p.name, v.sku, v.price_amount, v.currency,
                v.stock - v.reserved AS available,
                CASE WHEN v.removed_at IS NULL THEN p.status ELSE 'removed' END AS status
         FROM variants v JOIN products p ON p.id = v.product_id WHERE v.id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?)
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Stock {
    pub id: Uuid,
    pub stock: i64,
    pub reserved: i64,
    pub available: i64,
}

pub async fn stock(pool: &PgPool, variant_id: Uuid) -> Result<Stock> {
    sqlx::query_as(
        "SELECT id, stock, reserved, stock - reserved AS available FROM variants WHERE id = $1",
    )
    .bind(variant_id)
    .fetch_optional(pool)
    .await?
    .ok_or(Error::NotFound("Variant"))
}

/// Changes a variant's stock by `delta`, or sets it. Stock may never fall below what is
/// reserved (so `available` never goes negative): the update is conditional in the database.
pub async fn adjust(pool: &PgPool, variant_id: Uuid, change: StockChange) -> Result<Stock> {
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
    let mut tx = pool.begin().await?;
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
    stock_changed(&mut tx, variant_id).await?;
    tx.commit().await?;
    stock(pool, variant_id).await
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
