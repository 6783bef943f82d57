//! Payments: one per order, charged through the gateway, settled by signed webhooks.

use chrono::{DateTime, Utc};
use kazna_contracts::{
    Currency, Money, labels,
    orders::OrderPlaced,
    payments::{PaymentFailed, PaymentSucceeded, Provider},
};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    SOURCE,
    error::{Error, Result},
    sandbox::{Accepted, Charge, Sandbox},
};

/// Where a payment stands. It starts `pending` and is settled once, by the gateway's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Succeeded,
    Failed,
    Refunded,
}
labels!(PaymentStatus {
    Pending = "pending",
    Succeeded = "succeeded",
    Failed = "failed",
    Refunded = "refunded",
});

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
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
    pub status: PaymentStatus,
    pub amount: Money,
    pub provider: Provider,
    pub events: Vec<PaymentEvent>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    order_id: Uuid,
    user_id: Uuid,
    amount: i64,
    #[sqlx(try_from = "String")]
    currency: Currency,
    #[sqlx(try_from = "String")]
    provider: Provider,
    payment_method: String,
    provider_ref: Option<String>,
    #[sqlx(try_from = "String")]
    status: PaymentStatus,
}

impl Row {
    fn amount(&self) -> Money {
        Money::new(self.amount, self.currency)
    }
}

const COLUMNS: &str =
    "id, order_id, user_id, amount, currency, provider, payment_method, provider_ref, status";

async fn append(
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

/// Starts the payment of a placed order. Safe to run again for the same order: the payment
/// row is unique per order and the gateway call is idempotent by order id.
///
/// The payment row is committed before the gateway is called, so a webhook, which may arrive
/// before this function has finished, always finds the payment it is about.
pub async fn start(pool: &PgPool, gateway: &Sandbox, order: &OrderPlaced) -> Result<()> {
    sqlx::query(
        "INSERT INTO payments (id, order_id, user_id, amount, currency, provider, payment_method, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(order.order_id)
    .bind(order.user_id)
    .bind(order.total.amount_minor)
    .bind(order.total.currency.code())
    .bind(Provider::Sandbox.as_str())
    .bind(&order.payment_method)
    .bind(PaymentStatus::Pending.as_str())
    .execute(pool)
    .await?;
    let p: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payments WHERE order_id = $1"
    )))
    .bind(order.order_id)
    .fetch_one(pool)
    .await?;
    if p.status != PaymentStatus::Pending || p.provider_ref.is_some() {
        return Ok(());
    }
    let accepted = gateway
        .charge(Charge {
            idempotency_key: format!("order-{}", p.order_id),
            amount: p.amount(),
            payment_method: &p.payment_method,
            payment_id: p.id,
            order_id: p.order_id,
        })
        .await?;
    let mut tx = pool.begin().await?;
    let p: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payments WHERE id = $1 FOR UPDATE"
    )))
    .bind(p.id)
    .fetch_one(&mut *tx)
    .await?;
    match accepted {
        Accepted::Processing { intent_id } if p.provider_ref.is_none() => {
            sqlx::query("UPDATE payments SET provider_ref = $2, updated_at = now() WHERE id = $1")
                .bind(p.id)
                .bind(&intent_id)
                .execute(&mut *tx)
                .await?;
            append(
                &mut tx,
                p.id,
                "charge_requested",
                None,
                serde_json::json!({"intent": intent_id}),
            )
            .await?;
        }
        Accepted::Processing { .. } => {}
        Accepted::Refused { reason } if p.status == PaymentStatus::Pending => {
            settle(&mut tx, &p, false, reason).await?;
        }
        Accepted::Refused { .. } => {}
    }
    tx.commit().await?;
    Ok(())
}

async fn settle(conn: &mut PgConnection, p: &Row, succeeded: bool, reason: &str) -> Result<()> {
    let status = if succeeded {
        PaymentStatus::Succeeded
    } else {
        PaymentStatus::Failed
    };
    sqlx::query("UPDATE payments SET status = $2, updated_at = now() WHERE id = $1")
        .bind(p.id)
        .bind(status.as_str())
        .execute(&mut *conn)
        .await?;
    let amount = p.amount();
    if succeeded {
        let e = PaymentSucceeded {
            payment_id: p.id,
            order_id: p.order_id,
            amount,
            provider: p.provider,
        };
        kazna_events::enqueue(conn, SOURCE, &e).await?;
    } else {
        append(
            &mut *conn,
            p.id,
            "failed",
            None,
            serde_json::json!({"reason": reason}),
        )
        .await?;
        let e = PaymentFailed {
            payment_id: p.id,
            order_id: p.order_id,
            amount,
            provider: p.provider,
            reason: reason.to_owned(),
        };
        kazna_events::enqueue(conn, SOURCE, &e).await?;
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

/// Applies a verified webhook once; a repeated event id is acknowledged and ignored.
pub async fn apply_webhook(pool: &PgPool, event: WebhookEvent) -> Result<()> {
    let object = &event.data.object;
    let intent = object
        .get("id")
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
    let first = append(
        &mut tx,
        p.id,
        &event.kind,
        Some(&event.id),
        event.data.object.clone(),
    )
    .await?;
    if first && p.status == PaymentStatus::Pending {
        match event.kind.as_str() {
            "payment_intent.succeeded" => settle(&mut tx, &p, true, "").await?,
            "payment_intent.payment_failed" => {
                let reason = event.data.object["last_payment_error"]["code"]
                    .as_str()
                    .unwrap_or("declined")
                    .to_owned();
                settle(&mut tx, &p, false, &reason).await?
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
    Ok(Payment {
        id: p.id,
        order_id: p.order_id,
        user_id: p.user_id,
        status: p.status,
        amount: p.amount(),
        provider: p.provider,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_wire_names() {
        kazna_contracts::label::assert_labels_match_serde(PaymentStatus::ALL, |s| s.as_str());
    }
}
