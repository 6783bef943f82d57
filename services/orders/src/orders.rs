//! Orders: placing one from the user's cart, reading them, and payment outcomes.

use chrono::{DateTime, Utc};
use kazna_contracts::{
    Currency, Money,
    cart::Cart,
    catalog::{Reservation, ReservationLine, ReservationRequest},
    orders::{OrderLine, OrderPaid, OrderPlaced},
};
use kazna_kernel::{Code, Context};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    SOURCE,
    error::{Error, Result},
    status::OrderStatus,
};

#[derive(sqlx::FromRow)]
struct LineRow {
    variant_id: Uuid,
    product_id: Uuid,
    name: String,
    sku: String,
    quantity: i64,
    unit_price: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct HistoryEntry {
    #[sqlx(try_from = "String")]
    pub status: OrderStatus,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PaymentRef {
    pub id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Order {
    pub id: Uuid,
    pub user_id: Uuid,
    pub status: OrderStatus,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub payment_method: String,
    #[schema(value_type = Object)]
    pub shipping_address: serde_json::Value,
    pub payment: Option<PaymentRef>,
    pub created_at: DateTime<Utc>,
    pub history: Vec<HistoryEntry>,
}

pub struct PlaceOrder {
    pub user_id: Uuid,
    pub email: String,
    pub payment_method: String,
    pub shipping_address: serde_json::Value,
}

/// Places an order from the user's cart: stock is reserved first (all lines or none), then
/// the order, its history, the `order.placed` event and the answer stored under the
/// idempotency key commit together.
pub async fn place(
    ctx: &Context,
    pool: &PgPool,
    req: PlaceOrder,
    idempotency_key: &str,
) -> Result<Order> {
    let urls = &ctx.settings.services;
    let cart: Cart = ctx
        .client
        .get(&format!("{}/internal/carts/{}", urls.cart.url, req.user_id))
        .await?;
    if cart.items.is_empty() {
        return Err(Error::CartEmpty);
    }
    let order_id = Uuid::now_v7();
    let reservation = ReservationRequest {
        order_id,
        lines: cart
            .items
            .iter()
            .map(|i| ReservationLine {
                variant_id: i.line.variant_id,
                quantity: i.line.quantity,
            })
            .collect(),
    };
    let reserved: std::result::Result<Reservation, _> = ctx
        .client
        .post(
            &format!("{}/internal/reservations", urls.catalog.url),
            &reservation,
        )
        .await;
    match reserved {
        Ok(_) => {}
        Err(e) if e.code() == Some(Code::InsufficientStock) => {
            return Err(Error::InsufficientStock);
        }
        Err(e) => return Err(e.into()),
    }
    let written = write_order(pool, order_id, &req, &cart, idempotency_key).await;
    if written.is_err() {
        let url = format!(
            "{}/internal/reservations/{order_id}/release",
            urls.catalog.url
        );
        if let Err(e) = ctx.client.post::<_, Reservation>(&url, &()).await {
            tracing::warn!(order.id = %order_id, error = %e, "could not release; the sweeper will");
        }
    }
    let order = written?;
    let clear = format!("{}/internal/carts/{}", urls.cart.url, req.user_id);
    if let Err(e) = ctx.client.delete(&clear).await {
        tracing::warn!(order.id = %order_id, error = %e, "could not clear the cart");
    }
    Ok(order)
}

async fn write_order(
    pool: &PgPool,
    order_id: Uuid,
    req: &PlaceOrder,
    cart: &Cart,
    key: &str,
) -> Result<Order> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO orders (id, user_id, email, status, total_amount, currency, payment_method, shipping_address)
         VALUES ($1, $2, $3, $8, $4, $5, $6, $7)",
    )
    .bind(order_id)
    .bind(req.user_id)
    .bind(&req.email)
    .bind(cart.subtotal.amount_minor)
    .bind(cart.subtotal.currency.code())
    .bind(&req.payment_method)
    .bind(&req.shipping_address)
    .bind(OrderStatus::PendingPayment.as_str())
    .execute(&mut *tx)
    .await?;
    for OrderLine {
        variant_id,
        product_id,
        name,
        sku,
        quantity,
        unit_price,
    } in cart.items.iter().map(|i| &i.line)
    {
        sqlx::query(
            "INSERT INTO order_lines (order_id, variant_id, product_id, name, sku, quantity, unit_price)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(order_id)
        .bind(variant_id)
        .bind(product_id)
        .bind(name)
        .bind(sku)
        .bind(quantity)
        .bind(unit_price.amount_minor)
        .execute(&mut *tx)
        .await?;
    }
    record(&mut tx, order_id, OrderStatus::PendingPayment, None).await?;
    let event = OrderPlaced {
        order_id,
        user_id: req.user_id,
        email: req.email.clone(),
        total: cart.subtotal,
        payment_method: req.payment_method.clone(),
        lines: cart.items.iter().map(|i| i.line.clone()).collect(),
    };
    kazna_events::enqueue(&mut tx, SOURCE, &event).await?;
    let order = load(&mut tx, order_id).await?.ok_or(Error::NotFound)?;
    let body = serde_json::to_value(&order)?;
    crate::idempotency::complete(&mut tx, req.user_id, key, 201, &body).await?;
    tx.commit().await?;
    Ok(order)
}

async fn record(
    conn: &mut PgConnection,
    id: Uuid,
    status: OrderStatus,
    note: Option<&str>,
) -> Result<()> {
    sqlx::query("INSERT INTO order_history (order_id, status, note) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(status.as_str())
        .bind(note)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: Uuid,
    user_id: Uuid,
    #[sqlx(try_from = "String")]
    status: OrderStatus,
    total_amount: i64,
    #[sqlx(try_from = "String")]
    currency: Currency,
    payment_method: String,
    shipping_address: serde_json::Value,
    payment_id: Option<Uuid>,
    created_at: DateTime<Utc>,
}

const ORDER_COLUMNS: &str = "id, user_id, status, total_amount, currency, payment_method, shipping_address, payment_id, created_at";

pub async fn load(conn: &mut PgConnection, id: Uuid) -> Result<Option<Order>> {
    let row: Option<OrderRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let lines: Vec<LineRow> = sqlx::query_as(
        "SELECT variant_id, product_id, name, sku, quantity, unit_price FROM order_lines
         WHERE order_id = $1 ORDER BY variant_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let history: Vec<HistoryEntry> = sqlx::query_as(
        "SELECT status, at FROM order_history WHERE order_id = $1 ORDER BY at, created_at",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(Order {
        id: row.id,
        user_id: row.user_id,
        status: row.status,
        lines: lines
            .into_iter()
            .map(|l| OrderLine {
                variant_id: l.variant_id,
                product_id: l.product_id,
                name: l.name,
                sku: l.sku,
                quantity: l.quantity,
                unit_price: Money::new(l.unit_price, row.currency),
            })
            .collect(),
        total: Money::new(row.total_amount, row.currency),
        payment_method: row.payment_method,
        shipping_address: row.shipping_address,
        payment: row.payment_id.map(|id| PaymentRef { id }),
        created_at: row.created_at,
        history,
    }))
}

/// A user's orders (all orders when `user` is `None`), newest first.
pub async fn list(
    pool: &PgPool,
    user: Option<Uuid>,
    cursor: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Order>> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM orders WHERE ($1::uuid IS NULL OR user_id = $1) AND ($2::uuid IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3",
    )
    .bind(user)
    .bind(cursor)
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    let mut conn = pool.acquire().await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(o) = load(&mut conn, id).await? {
            out.push(o);
        }
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct Payable {
    #[sqlx(try_from = "String")]
    status: OrderStatus,
    user_id: Uuid,
    email: String,
    total_amount: i64,
    #[sqlx(try_from = "String")]
    currency: Currency,
}

/// Applies a successful payment: commits the stock reservation, then marks the order paid
/// and announces it. Runs inside the consumer's inbox transaction.
pub async fn mark_paid(
    ctx: &Context,
    tx: &mut PgConnection,
    order_id: Uuid,
    payment_id: Uuid,
) -> Result<()> {
    let row: Option<Payable> = sqlx::query_as(
        "SELECT status, user_id, email, total_amount, currency FROM orders WHERE id = $1 FOR UPDATE",
    )
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(order) = row else {
        return Err(Error::NotFound);
    };
    if !order.status.can_become(OrderStatus::Paid) {
        tracing::warn!(order.id = %order_id, status = %order.status, "payment for an order that cannot become paid");
        return Ok(());
    }
    let url = format!(
        "{}/internal/reservations/{order_id}/commit",
        ctx.settings.services.catalog.url
    );
    ctx.client.post::<_, Reservation>(&url, &()).await?;
    sqlx::query("UPDATE orders SET status = $3, payment_id = $2, updated_at = now() WHERE id = $1")
        .bind(order_id)
        .bind(payment_id)
        .bind(OrderStatus::Paid.as_str())
        .execute(&mut *tx)
        .await?;
    record(tx, order_id, OrderStatus::Paid, None).await?;
    let event = OrderPaid {
        order_id,
        user_id: order.user_id,
        email: order.email,
        total: Money::new(order.total_amount, order.currency),
        payment_id,
    };
    kazna_events::enqueue(tx, SOURCE, &event).await?;
    Ok(())
}
