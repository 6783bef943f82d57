//! Every status change of an order goes through `transition`: checked against the state
//! machine, written with its history entry and its event in the caller's transaction, and
//! with what the catalog should now do with the order's units recorded for the stock worker
//! to carry out after the commit (never an HTTP call under the row lock).

use chrono::{DateTime, Utc};
use kazna_contracts::{
    Currency, Money, labels,
    orders::{
        OrderCanceled, OrderDelivered, OrderLine, OrderPaid, OrderRefunded, OrderShipped, Parcel,
        RefundRequested,
    },
    payments::PaymentStatus,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    SOURCE,
    error::{Error, Result},
    status::{Actor, OrderStatus},
};

/// An order as the lifecycle needs it, read under its row lock.
#[derive(Debug, sqlx::FromRow)]
pub struct Locked {
    pub id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub status: OrderStatus,
    pub total_amount: i64,
    #[sqlx(try_from = "String")]
    pub currency: Currency,
    pub payment_id: Option<Uuid>,
    pub attempt: i32,
    #[sqlx(try_from = "String")]
    pub payment_status: PaymentStatus,
    pub refunded_amount: i64,
    pub pay_by: Option<DateTime<Utc>>,
    #[sqlx(try_from = "String")]
    pub stock_target: StockTarget,
    pub stock_version: i32,
}

impl Locked {
    pub fn total(&self) -> Money {
        Money::new(self.total_amount, self.currency)
    }
}

/// Order `id`, locked until the transaction ends.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<Locked>> {
    Ok(sqlx::query_as(
        "SELECT id, user_id, email, status, total_amount, currency, payment_id, attempt, payment_status,
                refunded_amount, pay_by, stock_target, stock_version
         FROM orders WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// What the catalog should do with an order's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockTarget {
    Held,
    /// Sold: the order is paid.
    Committed,
    /// Back on sale, whether they were held or sold: the order will not be filled.
    Released,
}
labels!(StockTarget {
    Held = "held",
    Committed = "committed",
    Released = "released",
});

/// A change of status: to what, by whom, and why.
pub struct Change<'a> {
    pub to: OrderStatus,
    pub by: Actor,
    pub note: Option<&'a str>,
    /// For a change that a refund made, that refund.
    pub refund: Option<Money>,
}

impl<'a> Change<'a> {
    pub fn to(to: OrderStatus, by: Actor, note: &'a str) -> Self {
        Change {
            to,
            by,
            note: Some(note),
            refund: None,
        }
    }
}

/// Moves `order` (locked by the caller) to `change.to`, or refuses with `invalid_transition`
/// naming both statuses. Writes the history entry, the status's event, and for a canceled
/// order that had taken money, the request to refund it.
pub async fn transition(conn: &mut PgConnection, order: &Locked, change: Change<'_>) -> Result<()> {
    let (from, to) = (order.status, change.to);
    if !from.can_become(to) {
        return Err(Error::Transition { from, to });
    }
    let stock = match to {
        OrderStatus::Paid => Some(StockTarget::Committed),
        OrderStatus::Canceled => Some(StockTarget::Released),
        OrderStatus::PendingPayment
        | OrderStatus::Shipped
        | OrderStatus::Delivered
        | OrderStatus::Refunded => None,
    };
    sqlx::query(
        "UPDATE orders SET status = $2, updated_at = now(),
                stock_target = coalesce($3, stock_target),
                stock_version = stock_version + CASE WHEN $3 IS NULL THEN 0 ELSE 1 END,
                stock_tries = 0
         WHERE id = $1",
    )
    .bind(order.id)
    .bind(to.as_str())
    .bind(stock.map(StockTarget::as_str))
    .execute(&mut *conn)
    .await?;
    // The clock when written, under the order's lock: the history's order is the order the
    // changes happened in (`now()` would be when each transaction began).
    sqlx::query(
        "INSERT INTO order_history (order_id, status, by, note, at) VALUES ($1, $2, $3, $4, clock_timestamp())",
    )
        .bind(order.id)
        .bind(to.as_str())
        .bind(change.by.to_string())
        .bind(change.note)
        .execute(&mut *conn)
        .await?;
    let (order_id, user_id, email) = (order.id, order.user_id, order.email.clone());
    match to {
        OrderStatus::PendingPayment => {}
        OrderStatus::Paid => {
            let event = OrderPaid {
                order_id,
                user_id,
                email,
                total: order.total(),
                payment_id: order.payment_id.unwrap_or_default(),
                lines: lines(conn, order).await?,
            };
            kazna_events::enqueue(conn, SOURCE, &event).await?;
        }
        OrderStatus::Shipped => {
            let parcels: Vec<(Uuid, Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT seller_id, carrier, tracking_number FROM shipments WHERE order_id = $1
                 ORDER BY shipped_at, seller_id",
            )
            .bind(order.id)
            .fetch_all(&mut *conn)
            .await?;
            let parcels = parcels
                .into_iter()
                .map(|(seller_id, carrier, tracking_number)| Parcel {
                    seller_id,
                    carrier,
                    tracking_number,
                })
                .collect();
            let event = OrderShipped {
                order_id,
                user_id,
                email,
                parcels,
            };
            kazna_events::enqueue(conn, SOURCE, &event).await?;
        }
        OrderStatus::Delivered => {
            let event = OrderDelivered {
                order_id,
                user_id,
                email,
            };
            kazna_events::enqueue(conn, SOURCE, &event).await?;
        }
        OrderStatus::Canceled => {
            let refund = order.payment_status.captured();
            let event = OrderCanceled {
                order_id,
                user_id,
                email,
                total: order.total(),
                by: change.by.to_string(),
                reason: change.note.unwrap_or("canceled").to_owned(),
                refund,
            };
            kazna_events::enqueue(conn, SOURCE, &event).await?;
            if let (true, Some(payment_id)) = (refund, order.payment_id) {
                let event = RefundRequested {
                    order_id,
                    payment_id,
                    reason: format!("order canceled: {}", event.reason),
                };
                kazna_events::enqueue(conn, SOURCE, &event).await?;
            }
        }
        OrderStatus::Refunded => {
            let refunded = Money::new(order.refunded_amount, order.currency);
            let event = OrderRefunded {
                order_id,
                user_id,
                email,
                amount: change.refund.unwrap_or(refunded),
                refunded,
                full: true,
            };
            kazna_events::enqueue(conn, SOURCE, &event).await?;
        }
    }
    Ok(())
}

async fn lines(conn: &mut PgConnection, order: &Locked) -> Result<Vec<OrderLine>> {
    let rows: Vec<(Uuid, Uuid, Uuid, String, String, i64, i64)> = sqlx::query_as(
        "SELECT variant_id, product_id, seller_id, name, sku, quantity, unit_price FROM order_lines
         WHERE order_id = $1 ORDER BY variant_id",
    )
    .bind(order.id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(variant_id, product_id, seller_id, name, sku, quantity, unit_price)| OrderLine {
                variant_id,
                product_id,
                seller_id,
                name,
                sku,
                quantity,
                unit_price: Money::new(unit_price, order.currency),
            },
        )
        .collect())
}
