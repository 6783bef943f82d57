//! Orders as the buyer drives them: placing one from the cart, paying again after a decline,
//! canceling.

use chrono::{DateTime, Duration, Utc};
use kazna_contracts::{
    cart::{Cart, LineFlag},
    catalog::{Reservation, ReservationLine, ReservationRequest},
    orders::{OrderLine, OrderPlaced, PaymentRequested},
    payments::PaymentStatus,
};
use kazna_kernel::{Code, Context};
use sqlx::PgPool;
use uuid::Uuid;

pub use crate::view::{HistoryEntry, Order, OrderPayment, Reader, Shipment};
use crate::{
    OrdersSettings, SOURCE,
    error::{Error, Result},
    lifecycle::{self, Change},
    status::{Actor, OrderStatus},
    view,
};

pub struct PlaceOrder {
    pub user_id: Uuid,
    pub email: String,
    pub payment_method: String,
    pub shipping_address: serde_json::Value,
}

fn buyer(user_id: Uuid) -> Reader {
    Reader {
        id: user_id,
        admin: false,
        seller: false,
    }
}

/// Places an order from the user's cart: stock is reserved first (all lines or none), then
/// the order, its history, the `order.placed` event (which starts the first payment attempt)
/// and the answer stored under the idempotency key commit together.
pub async fn place(
    ctx: &Context,
    pool: &PgPool,
    settings: &OrdersSettings,
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
    let flagged: Vec<(Uuid, String)> = cart
        .flagged()
        .map(|l| {
            let why: Vec<&str> = l
                .flags
                .iter()
                .filter(|f| **f != LineFlag::OutOfStock)
                .map(|f| f.as_str())
                .collect();
            (l.line.variant_id, why.join(", "))
        })
        .collect();
    if !flagged.is_empty() {
        return Err(Error::CartChanged(flagged));
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
    let reserved = match reserved {
        Ok(r) => r,
        Err(e) if e.code() == Some(Code::InsufficientStock) => {
            return Err(Error::InsufficientStock);
        }
        Err(e) => return Err(e.into()),
    };
    let pay_by = match settings.payment_window_secs {
        Some(secs) => Some(Utc::now() + Duration::seconds(secs.min(i32::MAX as u64) as i64)),
        None => reserved.expires_at,
    };
    let written = write_order(pool, order_id, &req, &cart, pay_by, idempotency_key).await;
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
    // The order is accepted: its lines leave the cart (what was added meanwhile stays).
    let take = format!("{}/internal/carts/{}/take", urls.cart.url, req.user_id);
    let lines: Vec<serde_json::Value> = cart
        .items
        .iter()
        .map(|i| serde_json::json!({"variant_id": i.line.variant_id, "quantity": i.line.quantity}))
        .collect();
    let taken: std::result::Result<serde_json::Value, _> = ctx
        .client
        .post(&take, &serde_json::json!({"lines": lines}))
        .await;
    if let Err(e) = taken {
        tracing::warn!(order.id = %order_id, error = %e, "could not take the order's lines out of the cart");
    }
    Ok(order)
}

async fn write_order(
    pool: &PgPool,
    order_id: Uuid,
    req: &PlaceOrder,
    cart: &Cart,
    pay_by: Option<DateTime<Utc>>,
    key: &str,
) -> Result<Order> {
    let payment_id = Uuid::now_v7();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO orders (id, user_id, email, status, total_amount, currency, payment_method,
                             shipping_address, payment_id, attempt, payment_status, pay_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11)",
    )
    .bind(order_id)
    .bind(req.user_id)
    .bind(&req.email)
    .bind(OrderStatus::PendingPayment.as_str())
    .bind(cart.subtotal.amount_minor)
    .bind(cart.subtotal.currency.code())
    .bind(&req.payment_method)
    .bind(&req.shipping_address)
    .bind(payment_id)
    .bind(PaymentStatus::Pending.as_str())
    .bind(pay_by)
    .execute(&mut *tx)
    .await?;
    for OrderLine {
        variant_id,
        product_id,
        seller_id,
        name,
        sku,
        quantity,
        unit_price,
    } in cart.items.iter().map(|i| &i.line)
    {
        sqlx::query(
            "INSERT INTO order_lines (order_id, variant_id, product_id, seller_id, name, sku, quantity, unit_price)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(order_id)
        .bind(variant_id)
        .bind(product_id)
        .bind(seller_id)
        .bind(name)
        .bind(sku)
        .bind(quantity)
        .bind(unit_price.amount_minor)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("INSERT INTO order_history (order_id, status, by) VALUES ($1, $2, $3)")
        .bind(order_id)
        .bind(OrderStatus::PendingPayment.as_str())
        .bind(req.user_id.to_string())
        .execute(&mut *tx)
        .await?;
    let event = OrderPlaced {
        order_id,
        user_id: req.user_id,
        email: req.email.clone(),
        total: cart.subtotal,
        payment_method: req.payment_method.clone(),
        payment_id,
        attempt: 1,
        lines: cart.items.iter().map(|i| i.line.clone()).collect(),
    };
    kazna_events::enqueue(&mut tx, SOURCE, &event).await?;
    let started = kazna_contracts::cart::CheckoutStarted {
        user_id: req.user_id,
        order_id,
        lines: event.lines.clone(),
    };
    kazna_events::enqueue(&mut tx, SOURCE, &started).await?;
    let order = view::one(&mut tx, buyer(req.user_id), order_id)
        .await?
        .ok_or(Error::NotFound)?;
    let body = serde_json::to_value(&order)?;
    crate::idempotency::complete(&mut tx, req.user_id, key, 201, &body).await?;
    tx.commit().await?;
    Ok(order)
}

/// The buyer pays an unpaid order again, after its last attempt was declined: a new attempt
/// with `payment_method`. Refused while an attempt is still in flight (one charge at a time)
/// and once the order is no longer awaiting payment.
pub async fn pay_again(
    pool: &PgPool,
    user_id: Uuid,
    id: Uuid,
    payment_method: &str,
) -> Result<Order> {
    let mut tx = pool.begin().await?;
    let order = lifecycle::lock(&mut tx, id).await?;
    let Some(order) = order.filter(|o| o.user_id == user_id) else {
        return Err(Error::NotFound);
    };
    if order.status != OrderStatus::PendingPayment {
        return Err(Error::NotPayable(format!("The order is {}", order.status)));
    }
    if order.pay_by.is_some_and(|t| t <= Utc::now()) {
        return Err(Error::NotPayable("Its time to be paid ran out".into()));
    }
    match order.payment_status {
        PaymentStatus::Failed | PaymentStatus::Voided => {}
        PaymentStatus::Pending => return Err(Error::PaymentInProgress),
        PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded => {
            return Err(Error::NotPayable("It is paid".into()));
        }
    }
    let payment_id = Uuid::now_v7();
    let attempt = order.attempt + 1;
    sqlx::query(
        "UPDATE orders SET payment_id = $2, attempt = $3, payment_status = $4, payment_failure = NULL,
                payment_method = $5, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(payment_id)
    .bind(attempt)
    .bind(PaymentStatus::Pending.as_str())
    .bind(payment_method)
    .execute(&mut *tx)
    .await?;
    let event = PaymentRequested {
        order_id: id,
        user_id,
        total: order.total(),
        payment_method: payment_method.to_owned(),
        payment_id,
        attempt,
    };
    kazna_events::enqueue(&mut tx, SOURCE, &event).await?;
    let order = view::one(&mut tx, buyer(user_id), id)
        .await?
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    Ok(order)
}

/// The buyer or an admin cancels an order that is unpaid, or paid and not shipped: its units
/// go back on sale, an attempt in flight is voided, money taken is refunded.
pub async fn cancel(pool: &PgPool, reader: Reader, id: Uuid) -> Result<Order> {
    let mut tx = pool.begin().await?;
    let Some(seen) = view::one(&mut tx, reader, id).await? else {
        return Err(Error::NotFound);
    };
    if !reader.admin && seen.user_id != reader.id {
        return Err(Error::Forbidden(
            "Only the buyer or an admin can cancel an order",
        ));
    }
    let order = lifecycle::lock(&mut tx, id).await?.ok_or(Error::NotFound)?;
    let shipped: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM shipments WHERE order_id = $1 LIMIT 1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    if shipped.is_some() {
        return Err(Error::PartlyShipped);
    }
    let note = match reader.admin && order.user_id != reader.id {
        true => "canceled by an admin",
        false => "canceled by the buyer",
    };
    let change = Change::to(OrderStatus::Canceled, Actor::User(reader.id), note);
    lifecycle::transition(&mut tx, &order, change).await?;
    let order = view::one(&mut tx, reader, id)
        .await?
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    Ok(order)
}

/// Cancels an unpaid order whose time to be paid ran out (or whose reservation the catalog
/// let go); anything else is left as it is. Returns whether it was canceled.
pub async fn expire(pool: &PgPool, id: Uuid, why: &str) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let Some(order) = lifecycle::lock(&mut tx, id).await? else {
        return Ok(false);
    };
    if order.status != OrderStatus::PendingPayment {
        return Ok(false);
    }
    lifecycle::transition(
        &mut tx,
        &order,
        Change::to(OrderStatus::Canceled, Actor::System, why),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
