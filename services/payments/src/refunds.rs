//! Refunds: money taken going back, in full or in part. A refund is recorded under its
//! payment's row lock, so what is refunded or on its way back never exceeds what was taken,
//! however many requests arrive at once; the gateway is asked after that commits.

use chrono::{DateTime, Utc};
use kazna_contracts::{
    Money, labels,
    payments::{PaymentRefunded, PaymentStatus},
};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    SOURCE, audit,
    error::{Error, Result},
    payments::{self, Row},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Asked of the gateway; not confirmed yet.
    Pending,
    Succeeded,
    /// The gateway refused it; nothing went back.
    Failed,
}
labels!(RefundStatus {
    Pending = "pending",
    Succeeded = "succeeded",
    Failed = "failed",
});

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Refund {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub amount: Money,
    pub status: RefundStatus,
    pub reason: String,
    /// The gateway's id for it, once the gateway has it.
    pub provider_ref: Option<String>,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct RefundRow {
    id: Uuid,
    payment_id: Uuid,
    amount: i64,
    #[sqlx(try_from = "String")]
    status: RefundStatus,
    reason: String,
    provider_ref: Option<String>,
    failure_reason: Option<String>,
    created_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, payment_id, amount, status, reason, provider_ref, failure_reason, created_at";

impl RefundRow {
    fn into_refund(self, p: &Row) -> Refund {
        Refund {
            id: self.id,
            payment_id: self.payment_id,
            amount: Money::new(self.amount, p.currency),
            status: self.status,
            reason: self.reason,
            provider_ref: self.provider_ref,
            failure_reason: self.failure_reason,
            created_at: self.created_at,
        }
    }
}

pub(crate) async fn of_payment(pool: &PgPool, p: &Row) -> Result<Vec<Refund>> {
    let rows: Vec<RefundRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM refunds WHERE payment_id = $1 ORDER BY created_at, id"
    )))
    .bind(p.id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| r.into_refund(p)).collect())
}

/// How much to refund.
pub enum Amount {
    /// Whatever is not refunded or on its way back yet, if anything.
    Rest,
    /// Whatever is not refunded or on its way back yet, which must be something.
    AllLeft,
    Part(i64),
}

pub struct RefundRequest<'a> {
    pub payment_id: Uuid,
    pub amount: Amount,
    pub reason: &'a str,
    /// A user id, or `system`.
    pub by: &'a str,
    pub idempotency_key: Option<&'a str>,
}

/// Records a refund, to be asked of the gateway once this transaction commits. With
/// `Amount::Rest` and nothing left, there is nothing to do (`Ok(None)`).
pub async fn request(conn: &mut PgConnection, req: RefundRequest<'_>) -> Result<Option<Refund>> {
    let p = payments::lock(conn, req.payment_id)
        .await?
        .ok_or(Error::NotFound)?;
    if let Some(key) = req.idempotency_key {
        let earlier: Option<RefundRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM refunds WHERE payment_id = $1 AND idempotency_key = $2"
        )))
        .bind(p.id)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(r) = earlier {
            let same = match req.amount {
                Amount::Rest | Amount::AllLeft => true,
                Amount::Part(n) => n == r.amount,
            };
            return match same {
                true => Ok(Some(r.into_refund(&p))),
                false => Err(Error::IdempotencyKeyReused),
            };
        }
    }
    if !p.status.captured() {
        return match req.amount {
            Amount::Rest => Ok(None),
            Amount::AllLeft | Amount::Part(_) => Err(Error::NotRefundable(p.status)),
        };
    }
    let pending: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(amount), 0)::bigint FROM refunds WHERE payment_id = $1 AND status = 'pending'",
    )
    .bind(p.id)
    .fetch_one(&mut *conn)
    .await?;
    let left = p.amount - p.refunded - pending;
    let amount = match req.amount {
        Amount::Rest | Amount::AllLeft if left > 0 => left,
        Amount::Rest => return Ok(None),
        Amount::AllLeft => return Err(Error::RefundTooLarge(Money::new(0, p.currency))),
        Amount::Part(n) if n > left => {
            return Err(Error::RefundTooLarge(Money::new(left.max(0), p.currency)));
        }
        Amount::Part(n) => n,
    };
    let row: RefundRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO refunds (id, payment_id, amount, status, reason, requested_by, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(p.id)
    .bind(amount)
    .bind(RefundStatus::Pending.as_str())
    .bind(req.reason)
    .bind(req.by)
    .bind(req.idempotency_key)
    .fetch_one(&mut *conn)
    .await?;
    audit::append(
        conn,
        p.id,
        "refund_requested",
        None,
        serde_json::json!({"refund_id": row.id, "amount": amount, "reason": req.reason, "by": req.by}),
    )
    .await?;
    Ok(Some(row.into_refund(&p)))
}

/// Records one refund in a transaction of its own (what an admin asks for).
pub async fn request_one(pool: &PgPool, req: RefundRequest<'_>) -> Result<Refund> {
    let mut tx = pool.begin().await?;
    let refund = request(&mut tx, req).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    Ok(refund)
}

/// The gateway confirmed a refund (ours by id, or by its reference): it is settled once, the
/// payment's refunded total grows, and `payment.refunded` goes out.
pub(crate) async fn succeeded(
    conn: &mut PgConnection,
    p: &Row,
    ours: Option<Uuid>,
    reference: &str,
) -> Result<()> {
    let row: Option<(Uuid, i64)> = sqlx::query_as(
        "SELECT id, amount FROM refunds
         WHERE payment_id = $1 AND status = 'pending' AND (id = $2 OR provider_ref = $3)
         FOR UPDATE",
    )
    .bind(p.id)
    .bind(ours)
    .bind(reference)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((refund_id, amount)) = row else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE refunds SET status = $2, provider_ref = $3, due = false, updated_at = now() WHERE id = $1",
    )
    .bind(refund_id)
    .bind(RefundStatus::Succeeded.as_str())
    .bind(reference)
    .execute(&mut *conn)
    .await?;
    // The payment row is locked by the caller; read what it holds now, other refunds included.
    let refunded: i64 = sqlx::query_scalar(
        "UPDATE payments SET refunded = refunded + $2, updated_at = now() WHERE id = $1 RETURNING refunded",
    )
    .bind(p.id)
    .bind(amount)
    .fetch_one(&mut *conn)
    .await?;
    let status = if refunded >= p.amount {
        PaymentStatus::Refunded
    } else {
        PaymentStatus::PartiallyRefunded
    };
    sqlx::query("UPDATE payments SET status = $2 WHERE id = $1")
        .bind(p.id)
        .bind(status.as_str())
        .execute(&mut *conn)
        .await?;
    let change = serde_json::json!({"refund_id": refund_id, "amount": amount, "refunded": refunded, "to": status});
    audit::append(conn, p.id, "refund_succeeded", None, change).await?;
    let event = PaymentRefunded {
        payment_id: p.id,
        order_id: p.order_id,
        refund_id,
        amount: Money::new(amount, p.currency),
        refunded: Money::new(refunded, p.currency),
        captured: p.amount(),
    };
    kazna_events::enqueue(conn, SOURCE, &event).await?;
    Ok(())
}

/// The gateway refused a refund: nothing went back, and the amount may be asked for again.
pub(crate) async fn failed(conn: &mut PgConnection, refund_id: Uuid, reason: &str) -> Result<()> {
    let payment: Option<Uuid> = sqlx::query_scalar(
        "UPDATE refunds SET status = $2, failure_reason = $3, due = false, updated_at = now()
         WHERE id = $1 AND status = 'pending' RETURNING payment_id",
    )
    .bind(refund_id)
    .bind(RefundStatus::Failed.as_str())
    .bind(reason)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(payment) = payment {
        let change = serde_json::json!({"refund_id": refund_id, "reason": reason});
        audit::append(conn, payment, "refund_failed", None, change).await?;
    }
    Ok(())
}

/// The provider says a refund of `p` (ours by id, or by its reference) failed.
pub(crate) async fn failed_by_ref(
    conn: &mut PgConnection,
    p: &Row,
    ours: Option<Uuid>,
    reference: &str,
    reason: &str,
) -> Result<()> {
    let id: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM refunds WHERE payment_id = $1 AND (id = $2 OR provider_ref = $3) LIMIT 1",
    )
    .bind(p.id)
    .bind(ours)
    .bind(reference)
    .fetch_optional(&mut *conn)
    .await?;
    match id {
        Some(id) => failed(conn, id, reason).await,
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_wire_names() {
        kazna_contracts::label::assert_labels_match_serde(RefundStatus::ALL, |s| s.as_str());
    }
}
