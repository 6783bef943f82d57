//! Orders as their readers see them: the buyer and admins the whole order, a seller only its
//! own lines, their subtotal and its own parcel. One query reads a whole page, lines, history
//! and parcels included.

use chrono::{DateTime, Utc};
use kazna_contracts::{Currency, Money, orders::OrderLine, payments::PaymentStatus};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, types::Json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{error::Result, status::OrderStatus};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    pub status: OrderStatus,
    pub at: DateTime<Utc>,
    /// Who: a user id, `system`, or the payment provider.
    pub by: String,
    pub note: Option<String>,
}

/// The current payment attempt, as orders last heard of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrderPayment {
    /// `GET /api/v1/payments/{id}` tells more.
    pub id: Uuid,
    pub attempt: i32,
    pub status: PaymentStatus,
    /// Why the gateway declined it, e.g. `card_declined`; pay again with another method.
    pub decline_reason: Option<String>,
    pub refunded: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    Shipped,
    Delivered,
}

/// One seller's parcel: its lines, who shipped it, with what carrier and tracking number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Shipment {
    pub seller_id: Uuid,
    pub status: ShipmentStatus,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub shipped_by: String,
    pub shipped_at: DateTime<Utc>,
    pub delivered_by: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Order {
    pub id: Uuid,
    pub user_id: Uuid,
    pub status: OrderStatus,
    /// All lines; for a seller, its own.
    pub lines: Vec<OrderLine>,
    /// What the buyer pays; for a seller, the subtotal of its lines.
    pub total: Money,
    pub payment_method: String,
    #[schema(value_type = Object)]
    pub shipping_address: serde_json::Value,
    /// Not shown to sellers.
    pub payment: Option<OrderPayment>,
    /// When an unpaid order is canceled.
    pub pay_by: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub history: Vec<HistoryEntry>,
    pub shipments: Vec<Shipment>,
}

/// Who is reading: what they may see follows from it.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    pub id: Uuid,
    pub admin: bool,
    pub seller: bool,
}

/// Which orders a page holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    pub status: Option<OrderStatus>,
    pub before: Option<Uuid>,
}

#[derive(Deserialize)]
struct LineJson {
    variant_id: Uuid,
    product_id: Uuid,
    seller_id: Uuid,
    name: String,
    sku: String,
    quantity: i64,
    unit_price: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
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
    attempt: i32,
    #[sqlx(try_from = "String")]
    payment_status: PaymentStatus,
    payment_failure: Option<String>,
    refunded_amount: i64,
    pay_by: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    /// Set when the reader sees only this seller's part.
    only_seller: Option<Uuid>,
    lines: Json<Vec<LineJson>>,
    history: Json<Vec<HistoryEntry>>,
    shipments: Json<Vec<Shipment>>,
}

/// The select of one or many orders as `$1` (reader id), `$2` (admin), `$3` (seller) may see
/// them; the caller adds its conditions.
const SELECT: &str = "
SELECT o.id, o.user_id, o.status, o.total_amount, o.currency, o.payment_method, o.shipping_address,
       o.payment_id, o.attempt, o.payment_status, o.payment_failure, o.refunded_amount, o.pay_by,
       o.created_at, v.only_seller,
       coalesce((SELECT json_agg(json_build_object(
                    'variant_id', l.variant_id, 'product_id', l.product_id, 'seller_id', l.seller_id,
                    'name', l.name, 'sku', l.sku, 'quantity', l.quantity, 'unit_price', l.unit_price)
                    ORDER BY l.variant_id)
                 FROM order_lines l
                 WHERE l.order_id = o.id AND (v.only_seller IS NULL OR l.seller_id = v.only_seller)),
                '[]') AS lines,
       coalesce((SELECT json_agg(json_build_object('status', h.status, 'at', h.at, 'by', h.by, 'note', h.note)
                    ORDER BY h.at, h.created_at)
                 FROM order_history h WHERE h.order_id = o.id), '[]') AS history,
       coalesce((SELECT json_agg(json_build_object(
                    'seller_id', s.seller_id, 'status', s.status, 'carrier', s.carrier,
                    'tracking_number', s.tracking_number, 'shipped_by', s.shipped_by,
                    'shipped_at', s.shipped_at, 'delivered_by', s.delivered_by,
                    'delivered_at', s.delivered_at) ORDER BY s.shipped_at, s.seller_id)
                 FROM shipments s
                 WHERE s.order_id = o.id AND (v.only_seller IS NULL OR s.seller_id = v.only_seller)),
                '[]') AS shipments
FROM orders o
CROSS JOIN LATERAL (SELECT CASE WHEN $2 OR o.user_id = $1 THEN NULL ELSE $1 END AS only_seller) v
WHERE ($2 OR o.user_id = $1
       OR ($3 AND EXISTS (SELECT 1 FROM order_lines x WHERE x.order_id = o.id AND x.seller_id = $1)))";

impl Row {
    fn into_order(self) -> Order {
        let currency = self.currency;
        let lines: Vec<OrderLine> = self
            .lines
            .0
            .into_iter()
            .map(|l| OrderLine {
                variant_id: l.variant_id,
                product_id: l.product_id,
                seller_id: l.seller_id,
                name: l.name,
                sku: l.sku,
                quantity: l.quantity,
                unit_price: Money::new(l.unit_price, currency),
            })
            .collect();
        let (total, payment) = match self.only_seller {
            // Line totals were checked when the order was placed: they fit.
            Some(_) => (
                Money::new(
                    lines
                        .iter()
                        .map(|l| l.unit_price.amount_minor.saturating_mul(l.quantity))
                        .fold(0i64, i64::saturating_add),
                    currency,
                ),
                None,
            ),
            None => (
                Money::new(self.total_amount, currency),
                self.payment_id.map(|id| OrderPayment {
                    id,
                    attempt: self.attempt,
                    status: self.payment_status,
                    decline_reason: self.payment_failure,
                    refunded: Money::new(self.refunded_amount, currency),
                }),
            ),
        };
        Order {
            id: self.id,
            user_id: self.user_id,
            status: self.status,
            lines,
            total,
            payment_method: self.payment_method,
            shipping_address: self.shipping_address,
            payment,
            pay_by: self.pay_by,
            created_at: self.created_at,
            history: self.history.0,
            shipments: self.shipments.0,
        }
    }
}

/// Order `id`, if `reader` may see it.
pub async fn one(conn: &mut PgConnection, reader: Reader, id: Uuid) -> Result<Option<Order>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} AND o.id = $4")))
        .bind(reader.id)
        .bind(reader.admin)
        .bind(reader.seller)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(Row::into_order))
}

/// A page of the orders `reader` may see, newest first; `limit + 1` rows, so the caller can
/// tell whether there is a next page.
pub async fn page(
    conn: &mut PgConnection,
    reader: Reader,
    filter: Filter,
    limit: i64,
) -> Result<Vec<Order>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} AND ($4::text IS NULL OR o.status = $4) AND ($5::uuid IS NULL OR o.id < $5)
         ORDER BY o.id DESC LIMIT $6"
    )))
    .bind(reader.id)
    .bind(reader.admin)
    .bind(reader.seller)
    .bind(filter.status.map(|s| s.as_str()))
    .bind(filter.before)
    .bind(limit + 1)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Row::into_order).collect())
}
