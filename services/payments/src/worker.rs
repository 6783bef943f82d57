//! Carries out the gateway calls that committed changes asked for (charge, void, refund),
//! after they commit and never under a row lock: a short transaction takes a lease on the
//! row, the call runs with no transaction open, and another short one records the answer.
//! A call that fails for a while is retried with growing pauses, with the same idempotency
//! key, until it is done; a lease left by a crashed instance runs out and is taken over.

use std::{sync::Arc, time::Duration};

pub use kazna_kernel::worker::Kick;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    error::Result,
    gateway::{Charge, Charged, Gateway, GatewayError, RefundCall, Refunded, Voided},
    payments::{self, COLUMNS, Outcome, Row},
    refunds,
};

const LEASE: &str = "30 seconds";
const BATCH: i64 = 16;

pub struct Worker {
    pub pool: PgPool,
    pub gateway: Arc<dyn Gateway>,
    pub kick: Kick,
}

impl Worker {
    pub async fn run(self, shutdown: CancellationToken) {
        let (kick, poll) = (self.kick.clone(), Duration::from_millis(500));
        kazna_kernel::worker::repeat("payments", kick, poll, shutdown, || self.once()).await
    }

    /// Does what is due now; returns how many rows it worked on.
    pub async fn once(&self) -> Result<usize> {
        let payments: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE payments SET lease_until = now() + interval '{LEASE}', tries = tries + 1,
                    charge_sent = charge_sent OR (provider_ref IS NULL AND NOT cancel_requested)
             WHERE id IN (SELECT id FROM payments
                          WHERE due AND (lease_until IS NULL OR lease_until < now())
                          ORDER BY updated_at LIMIT {BATCH} FOR UPDATE SKIP LOCKED)
             RETURNING {COLUMNS}"
        )))
        .fetch_all(&self.pool)
        .await?;
        let refunds: Vec<DueRefund> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE refunds SET lease_until = now() + interval '{LEASE}', tries = tries + 1
             WHERE id IN (SELECT id FROM refunds
                          WHERE due AND (lease_until IS NULL OR lease_until < now())
                          ORDER BY updated_at LIMIT {BATCH} FOR UPDATE SKIP LOCKED)
             RETURNING id, payment_id, amount"
        )))
        .fetch_all(&self.pool)
        .await?;
        let n = payments.len() + refunds.len();
        let calls = payments
            .into_iter()
            .map(|p| self.payment(p))
            .collect::<Vec<_>>();
        for r in futures_util::future::join_all(calls).await {
            r?;
        }
        let calls = refunds
            .into_iter()
            .map(|r| self.refund(r))
            .collect::<Vec<_>>();
        for r in futures_util::future::join_all(calls).await {
            r?;
        }
        Ok(n)
    }

    /// Leaves the row due, to be tried again after a pause that doubles from 0.2 s with each
    /// try, up to a minute.
    async fn later(&self, table: &'static str, id: Uuid, e: &GatewayError) -> Result<()> {
        tracing::warn!(error = %e, %id, table, "gateway call failed; will retry");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table}
             SET lease_until = now() + make_interval(secs => least(60, 0.1 * 2 ^ least(tries, 10)))
             WHERE id = $1"
        )))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn payment(&self, p: Row) -> Result<()> {
        match self.payment_call(&p).await {
            Ok(()) => Ok(()),
            Err(Step::Later(e)) => self.later("payments", p.id, &e).await,
            Err(Step::Db(e)) => Err(e),
        }
    }

    /// The call this pending payment needs now: charge it, or void it when its order was
    /// canceled (also right after the charge, when the cancellation came in meanwhile). Each
    /// call ends with one write that records the answer and lets the lease go.
    async fn payment_call(&self, p: &Row) -> Result<(), Step> {
        if p.status != kazna_contracts::payments::PaymentStatus::Pending {
            return self.done(p.id, false).await;
        }
        match (&p.provider_ref, p.cancel_requested) {
            // Never sent (the claim marks a charge sent before it is made): nothing to void.
            (None, true) if !p.charge_sent => {
                let mut tx = self.pool.begin().await?;
                if let Some(now) = payments::lock(&mut tx, p.id).await? {
                    payments::settle(&mut tx, &now, Outcome::Voided).await?;
                }
                release(&mut tx, p.id, false).await?;
                tx.commit().await?;
                Ok(())
            }
            // Sent, or to be sent: a charge sent before whose answer was lost is found again
            // by its idempotency key. Canceled meanwhile, it is voided at once.
            (None, _) => match self.charge(p).await? {
                Some(intent) => self.void(p, &intent).await,
                None => Ok(()),
            },
            (Some(intent), true) => self.void(p, intent).await,
            (Some(_), false) => self.done(p.id, false).await,
        }
    }

    async fn void(&self, p: &Row, intent: &str) -> Result<(), Step> {
        match self.gateway.void(intent).await {
            // When too late, the charge's own webhook settles it; a success for a
            // canceled order is then refunded at the order's request.
            Ok(Voided::Voiding | Voided::AlreadySettled) | Err(GatewayError::Refused(_)) => {
                self.done(p.id, true).await
            }
            Err(e) => Err(Step::Later(e)),
        }
    }

    /// Charges `p`; returns the intent when the order was canceled meanwhile and it must now
    /// be voided.
    async fn charge(&self, p: &Row) -> Result<Option<String>, Step> {
        let charge = Charge {
            idempotency_key: format!("payment-{}", p.id),
            amount: p.amount(),
            payment_method: p.payment_method.clone(),
            payment_id: p.id,
            order_id: p.order_id,
        };
        let answer = match self.gateway.charge(&charge).await {
            Err(GatewayError::Refused(reason)) => Ok(Charged::Declined { reason }),
            other => other,
        };
        let mut tx = self.pool.begin().await?;
        let intent = match answer {
            Ok(Charged::Processing { intent }) => {
                sqlx::query("UPDATE payments SET provider_ref = $2 WHERE id = $1")
                    .bind(p.id)
                    .bind(&intent)
                    .execute(&mut *tx)
                    .await?;
                let data = serde_json::json!({"intent": intent});
                payments::append(&mut tx, p.id, "charge_requested", None, data).await?;
                Some(intent)
            }
            Ok(Charged::Declined { reason }) => {
                if let Some(now) = payments::lock(&mut tx, p.id).await? {
                    payments::settle(&mut tx, &now, Outcome::Failed { reason: &reason }).await?;
                }
                None
            }
            Err(e) => return Err(Step::Later(e)),
        };
        let void_now = release(&mut tx, p.id, false).await?;
        tx.commit().await?;
        Ok(intent.filter(|_| void_now))
    }

    /// Lets the lease go, in one write.
    async fn done(&self, id: Uuid, void_sent: bool) -> Result<(), Step> {
        let mut conn = self.pool.acquire().await?;
        release(&mut conn, id, void_sent).await?;
        Ok(())
    }
    async fn refund(&self, r: DueRefund) -> Result<()> {
        let p: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM payments WHERE id = $1"
        )))
        .bind(r.payment_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(intent) = p.as_ref().and_then(|p| p.provider_ref.clone()) else {
            let mut tx = self.pool.begin().await?;
            refunds::failed(&mut tx, r.id, "no charge to refund").await?;
            tx.commit().await?;
            return Ok(());
        };
        let Some(p) = p else { return Ok(()) };
        let call = RefundCall {
            idempotency_key: format!("refund-{}", r.id),
            intent,
            amount: kazna_contracts::Money::new(r.amount, p.currency),
            refund_id: r.id,
            payment_id: p.id,
        };
        let answer = match self.gateway.refund(&call).await {
            Err(GatewayError::Refused(reason)) => Ok(Refunded::Refused { reason }),
            other => other,
        };
        match answer {
            Ok(Refunded::Pending { reference }) => {
                sqlx::query(
                    "UPDATE refunds SET provider_ref = $2, due = false, lease_until = NULL, tries = 0,
                            updated_at = now()
                     WHERE id = $1",
                )
                .bind(r.id)
                .bind(reference)
                .execute(&self.pool)
                .await?;
            }
            Ok(Refunded::Refused { reason }) => {
                let mut tx = self.pool.begin().await?;
                refunds::failed(&mut tx, r.id, &reason).await?;
                tx.commit().await?;
            }
            Err(e) => self.later("refunds", r.id, &e).await?,
        }
        Ok(())
    }
}

/// Lets the lease of payment `id` go (recording that its void was sent, if it was); the
/// payment stays due only when a cancellation asks for a void that was not sent yet, and
/// then this returns true.
async fn release(conn: &mut sqlx::PgConnection, id: Uuid, void_sent: bool) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "UPDATE payments SET void_sent = void_sent OR $2, lease_until = NULL, tries = 0,
                updated_at = now(),
                due = (cancel_requested AND NOT (void_sent OR $2) AND status = 'pending')
         WHERE id = $1 RETURNING due",
    )
    .bind(id)
    .bind(void_sent)
    .fetch_optional(conn)
    .await?
    .unwrap_or(false))
}

#[derive(sqlx::FromRow)]
struct DueRefund {
    id: Uuid,
    payment_id: Uuid,
    amount: i64,
}

enum Step {
    /// The gateway did not answer: try again later.
    Later(GatewayError),
    Db(crate::error::Error),
}

impl From<sqlx::Error> for Step {
    fn from(e: sqlx::Error) -> Self {
        Step::Db(e.into())
    }
}

impl From<crate::error::Error> for Step {
    fn from(e: crate::error::Error) -> Self {
        Step::Db(e)
    }
}
