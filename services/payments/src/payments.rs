//! Payments: one per attempt to pay an order, charged through the gateway after the attempt
//! is recorded, settled once by the gateway's signed webhooks.

use chrono::{DateTime, Utc};
use kazna_contracts::{
    Currency, Money,
    orders::{OrderPlaced, PaymentRequested},
    payments::{PaymentFailed, PaymentStatus, PaymentSucceeded, PaymentVoided, Provider},
};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    SOURCE,
    error::{Error, Result},
    refunds::{self, Refund},
};

/// One entry of a payment's append-only audit log.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
#[schema(as = PaymentAuditEntry)]
pub struct PaymentEvent {
    pub kind: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Payment {
    pub id: Uuid,
    pub order_id: Uuid,
    #[serde(skip)]
    pub user_id: Uuid,
    /// 1 for the first attempt to pay the order, 2 after one decline, and so on.
    pub attempt: i32,
    pub status: PaymentStatus,
    pub amount: Money,
    /// What has gone back to the buyer so far.
    pub refunded: Money,
    pub provider: Provider,
    /// Why the gateway declined it, e.g. `card_declined`.
    pub failure_reason: Option<String>,
    pub refunds: Vec<Refund>,
    pub events: Vec<PaymentEvent>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct Row {
    pub id: Uuid,
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub attempt: i32,
    pub amount: i64,
    #[sqlx(try_from = "String")]
    pub currency: Currency,
    #[sqlx(try_from = "String")]
    pub provider: Provider,
    pub payment_method: String,
    pub provider_ref: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: PaymentStatus,
    pub failure_reason: Option<String>,
    pub refunded: i64,
    pub cancel_requested: bool,
    pub charge_sent: bool,
}

impl Row {
    pub fn amount(&self) -> Money {
        Money::new(self.amount, self.currency)
    }
}

pub(crate) const COLUMNS: &str = "id, order_id, user_id, attempt, amount, currency, provider, payment_method, \
     provider_ref, status, failure_reason, refunded, cancel_requested, charge_sent";

/// The payment `id`, locked for the rest of the transaction.
pub(crate) async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<Row>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payments WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Appends to the audit log; a provider event already there is not appended again (returns
/// false).
pub(crate) async fn append(
    conn: &mut PgConnection,
    payment_id: Uuid,
    kind: &str,
    provider_event: Option<&str>,
    data: serde_json::Value,
) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO payment_events (id, payment_id, kind, provider_event_id, data) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (provider_event_id) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(payment_id)
    .bind(kind)
    .bind(provider_event)
    .bind(data)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Serialises everything payments does for one order (new attempts, cancellation), across
/// instances, until the transaction ends.
pub(crate) async fn lock_order(conn: &mut PgConnection, order_id: Uuid) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7))")
        .bind(order_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// An attempt to pay an order, as orders asked for it.
pub struct Attempt {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub attempt: i32,
    pub amount: Money,
    pub payment_method: String,
}

impl From<OrderPlaced> for Attempt {
    fn from(o: OrderPlaced) -> Self {
        Attempt {
            payment_id: o.payment_id,
            order_id: o.order_id,
            user_id: o.user_id,
            attempt: o.attempt,
            amount: o.total,
            payment_method: o.payment_method,
        }
    }
}

impl From<PaymentRequested> for Attempt {
    fn from(o: PaymentRequested) -> Self {
        Attempt {
            payment_id: o.payment_id,
            order_id: o.order_id,
            user_id: o.user_id,
            attempt: o.attempt,
            amount: o.total,
            payment_method: o.payment_method,
        }
    }
}

/// Records an attempt, to be charged once this transaction commits. Recording it again
/// changes nothing; an attempt for an order already canceled is recorded voided and never
/// charged.
pub async fn record_attempt(
    conn: &mut PgConnection,
    provider: Provider,
    a: &Attempt,
) -> Result<()> {
    lock_order(conn, a.order_id).await?;
    let closed: Option<i32> = sqlx::query_scalar("SELECT 1 FROM closed_orders WHERE order_id = $1")
        .bind(a.order_id)
        .fetch_optional(&mut *conn)
        .await?;
    let status = match closed {
        Some(_) => PaymentStatus::Voided,
        None => PaymentStatus::Pending,
    };
    let inserted = sqlx::query(
        "INSERT INTO payments (id, order_id, user_id, attempt, amount, currency, provider, payment_method, status, due)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
    )
    .bind(a.payment_id)
    .bind(a.order_id)
    .bind(a.user_id)
    .bind(a.attempt)
    .bind(a.amount.amount_minor)
    .bind(a.amount.currency.code())
    .bind(provider.as_str())
    .bind(&a.payment_method)
    .bind(status.as_str())
    .bind(status == PaymentStatus::Pending)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(());
    }
    let kind = match status {
        PaymentStatus::Pending => "requested",
        _ => "voided_before_charge",
    };
    let data = serde_json::json!({"attempt": a.attempt});
    append(conn, a.payment_id, kind, None, data).await?;
    if status == PaymentStatus::Voided {
        let e = PaymentVoided {
            payment_id: a.payment_id,
            order_id: a.order_id,
            attempt: a.attempt,
        };
        kazna_events::enqueue(conn, SOURCE, &e).await?;
    }
    Ok(())
}

/// The order was canceled: no attempt of it is charged from now on, and one in flight is
/// voided at the gateway.
pub async fn close_order(conn: &mut PgConnection, order_id: Uuid) -> Result<()> {
    lock_order(conn, order_id).await?;
    sqlx::query("INSERT INTO closed_orders (order_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE payments SET cancel_requested = true, due = true, tries = 0, updated_at = now()
         WHERE order_id = $1 AND status = 'pending' AND NOT cancel_requested",
    )
    .bind(order_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// How a pending payment ended.
pub enum Outcome<'a> {
    Succeeded,
    Failed { reason: &'a str },
    Voided,
}

/// Settles a pending payment once and announces it; a payment already settled is left as it
/// is (a late failure never undoes a success).
pub(crate) async fn settle(conn: &mut PgConnection, p: &Row, outcome: Outcome<'_>) -> Result<()> {
    if p.status != PaymentStatus::Pending {
        return Ok(());
    }
    let (status, reason) = match outcome {
        Outcome::Succeeded => (PaymentStatus::Succeeded, None),
        Outcome::Failed { reason } => (PaymentStatus::Failed, Some(reason)),
        Outcome::Voided => (PaymentStatus::Voided, None),
    };
    sqlx::query(
        "UPDATE payments SET status = $2, failure_reason = $3, due = false, updated_at = now()
         WHERE id = $1",
    )
    .bind(p.id)
    .bind(status.as_str())
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    let (amount, provider, attempt) = (p.amount(), p.provider, p.attempt);
    let (payment_id, order_id) = (p.id, p.order_id);
    match status {
        PaymentStatus::Succeeded => {
            let e = PaymentSucceeded {
                payment_id,
                order_id,
                attempt,
                amount,
                provider,
            };
            kazna_events::enqueue(conn, SOURCE, &e).await?;
        }
        PaymentStatus::Failed => {
            let reason = reason.unwrap_or("declined").to_owned();
            append(
                conn,
                payment_id,
                "failed",
                None,
                serde_json::json!({"reason": reason}),
            )
            .await?;
            let e = PaymentFailed {
                payment_id,
                order_id,
                attempt,
                amount,
                provider,
                reason,
            };
            kazna_events::enqueue(conn, SOURCE, &e).await?;
        }
        PaymentStatus::Voided => {
            let e = PaymentVoided {
                payment_id,
                order_id,
                attempt,
            };
            kazna_events::enqueue(conn, SOURCE, &e).await?;
        }
        PaymentStatus::Pending | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded => {}
    }
    Ok(())
}

/// A provider webhook event, as Stripe shapes them.
#[derive(Debug, Deserialize)]
pub struct WebhookEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: WebhookData,
}

#[derive(Debug, Deserialize)]
pub struct WebhookData {
    pub object: serde_json::Value,
}

/// Applies a verified webhook once; a repeated event id is acknowledged and ignored, and an
/// event that comes after the payment moved on (a stale one) is recorded and changes nothing.
pub async fn apply_webhook(pool: &PgPool, event: WebhookEvent) -> Result<()> {
    let object = &event.data.object;
    let intent = match event.kind.as_str() {
        "charge.refunded" => object.get("payment_intent"),
        _ => object.get("id"),
    }
    .and_then(|v| v.as_str())
    .ok_or(Error::BadWebhook)?;
    let payment_id = object["metadata"]["payment_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok());
    let mut tx = pool.begin().await?;
    // By our id first (it is committed before the charge); the intent id is the fallback.
    let p: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payments WHERE id = $1 OR provider_ref = $2
         ORDER BY (id = $1) DESC LIMIT 1 FOR UPDATE"
    )))
    .bind(payment_id)
    .bind(intent)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(p) = p else {
        tracing::warn!(intent, "webhook for an unknown payment intent");
        return Ok(());
    };
    let first = append(&mut tx, p.id, &event.kind, Some(&event.id), object.clone()).await?;
    if first {
        match event.kind.as_str() {
            "payment_intent.succeeded" => settle(&mut tx, &p, Outcome::Succeeded).await?,
            "payment_intent.payment_failed" => {
                let reason = object["last_payment_error"]["code"]
                    .as_str()
                    .unwrap_or("declined");
                settle(&mut tx, &p, Outcome::Failed { reason }).await?
            }
            "payment_intent.canceled" => settle(&mut tx, &p, Outcome::Voided).await?,
            "charge.refunded" => {
                let done = object["refunds"]["data"].as_array().into_iter().flatten();
                for r in done.filter(|r| r["status"] == "succeeded") {
                    let ours = r["metadata"]["refund_id"]
                        .as_str()
                        .and_then(|s| Uuid::parse_str(s).ok());
                    let reference = r["id"].as_str().unwrap_or_default();
                    refunds::succeeded(&mut tx, &p, ours, reference).await?;
                }
            }
            _ => {}
        }
    }
    tx.commit().await?;
    Ok(())
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Payment> {
    let p: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payments WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or(Error::NotFound)?;
    let events: Vec<PaymentEvent> = sqlx::query_as(
        "SELECT kind, data, created_at FROM payment_events WHERE payment_id = $1 ORDER BY created_at, id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let refunds = refunds::of_payment(pool, &p).await?;
    Ok(Payment {
        id: p.id,
        order_id: p.order_id,
        user_id: p.user_id,
        attempt: p.attempt,
        status: p.status,
        amount: p.amount(),
        refunded: Money::new(p.refunded, p.currency),
        provider: p.provider,
        failure_reason: p.failure_reason,
        refunds,
        events,
    })
}
