//! Carries out the gateway calls that committed changes asked for (charge, void, refund),
//! after they commit and never under a row lock: a short transaction takes a lease on the
//! row, the call runs with no transaction open, and another short one records the answer.
//! A call that fails for a while is retried with growing pauses, with the same idempotency
//! key, until it is done; a lease left by a crashed instance runs out and is taken over.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

pub use kazna_kernel::worker::Kick;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    audit::{self, Transcript},
    error::Result,
    gateway::{
        Charge, Gateway, GatewayError, Ref, RefundCall, Refunded, State, Voided, idempotency_key,
    },
    gateways::Gateways,
    payments::{self, COLUMNS, Outcome, Row},
    refunds,
};

const LEASE: &str = "30 seconds";
const BATCH: i64 = 16;
/// How often pending payments are looked over for ones whose news is late.
const LOOK_EVERY: Duration = Duration::from_secs(1);

pub struct Worker {
    pub pool: PgPool,
    pub gateways: Gateways,
    pub kick: Kick,
    /// A payment pending this long since its last news is asked about at the provider.
    pub reconcile_after: Duration,
    last_look: Mutex<Option<Instant>>,
}

impl Worker {
    pub fn new(pool: PgPool, gateways: Gateways, kick: Kick, reconcile_after: Duration) -> Self {
        Self {
            pool,
            gateways,
            kick,
            reconcile_after,
            last_look: Mutex::new(None),
        }
    }

    pub async fn run(self, shutdown: CancellationToken) {
        let (kick, poll) = (self.kick.clone(), Duration::from_millis(500));
        kazna_kernel::worker::repeat("payments", kick, poll, shutdown, || self.once()).await
    }

    /// Marks pending payments whose news is late for a question to the provider (a webhook
    /// can be lost); at most once a second.
    async fn look_for_late(&self) -> Result<()> {
        {
            let Ok(mut last) = self.last_look.lock() else {
                return Ok(());
            };
            if last.is_some_and(|t| t.elapsed() < LOOK_EVERY) {
                return Ok(());
            }
            *last = Some(Instant::now());
        }
        let late = sqlx::query(
            "UPDATE payments SET due = true
             WHERE status = 'pending' AND NOT due AND provider_ref IS NOT NULL
               AND updated_at < now() - make_interval(secs => $1)",
        )
        .bind(self.reconcile_after.as_secs_f64())
        .execute(&self.pool)
        .await?
        .rows_affected();
        let late_refunds = sqlx::query(
            "UPDATE refunds SET due = true
             WHERE status = 'pending' AND NOT due AND provider_ref IS NOT NULL
               AND updated_at < now() - make_interval(secs => $1)",
        )
        .bind(self.reconcile_after.as_secs_f64())
        .execute(&self.pool)
        .await?
        .rows_affected();
        let late = late + late_refunds;
        if late > 0 {
            tracing::info!(
                late,
                "asking the providers about payments and refunds whose webhook is late"
            );
            metrics::counter!("kazna_payments_reconciled_total").increment(late);
        }
        audit::seal(&self.pool).await?;
        let by_state = crate::payments::count_by_state(&self.pool).await?;
        // Every state, so one that emptied reads 0 rather than its last count.
        for state in kazna_contracts::payments::PaymentStatus::ALL {
            let n = by_state
                .iter()
                .find(|(s, _)| s == state.as_str())
                .map_or(0, |(_, n)| *n);
            metrics::gauge!("kazna_payments", "state" => state.as_str()).set(n as f64);
        }
        Ok(())
    }

    /// Does what is due now; returns how many rows it worked on.
    pub async fn once(&self) -> Result<usize> {
        self.look_for_late().await?;
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
             RETURNING id, payment_id, amount, provider_ref"
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
        let span = p.span("payment call");
        match span.scope(self.payment_call(&p)).await {
            Ok(()) | Err(Step::Retried) => Ok(()),
            Err(Step::Db(e)) => Err(e),
        }
    }

    /// The call this pending payment needs now: charge it, void it when its order was
    /// canceled (also right after the charge, when the cancellation came in meanwhile), or
    /// ask the provider where it stands (a webhook said to, or none came in time). Each call
    /// ends with one transaction that records the answer, the provider requests it took, and
    /// lets the lease go.
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
                Some(now) => self.void(&now).await,
                None => Ok(()),
            },
            (Some(_), true) => self.void(p).await,
            (Some(_), false) => self.check(p).await,
        }
    }

    /// Records `log` and what the provider said about `p` (through the one path webhooks
    /// take too), and lets the lease go; returns whether a void is still to be sent.
    async fn record(&self, p: &Row, log: Transcript, state: Option<&State>) -> Result<bool, Step> {
        let mut tx = self.pool.begin().await?;
        log.write(&mut tx, p.id).await?;
        if let Some(state) = state
            && let Some(now) = payments::lock(&mut tx, p.id).await?
        {
            payments::observe(&mut tx, &now, state).await?;
        }
        let void_now = release(&mut tx, p.id, false).await?;
        tx.commit().await?;
        Ok(void_now)
    }

    /// Keeps what a failed call sent (and the error) in the audit log, and retries later.
    async fn failed(
        &self,
        table: &'static str,
        id: Uuid,
        payment: Uuid,
        log: Transcript,
        e: GatewayError,
    ) -> Step {
        if let Err(e) = log.write_alone(&self.pool, payment).await {
            return Step::Db(e);
        }
        if let Err(e) = self.later(table, id, &e).await {
            return Step::Db(e);
        }
        Step::Retried
    }

    /// The gateway of `p` and what to ask it about, once the provider has its charge.
    fn target(&self, p: &Row) -> Option<(&Arc<dyn Gateway>, Ref)> {
        Some((self.gateways.get(p.provider)?, p.gateway_ref()?))
    }

    async fn check(&self, p: &Row) -> Result<(), Step> {
        let Some((gateway, r)) = self.target(p) else {
            return self.done(p.id, false).await;
        };
        let mut log = Transcript::default();
        match gateway.retrieve(&r, &mut log).await {
            Ok(remote) => self.record(p, log, Some(&remote.state)).await.map(|_| ()),
            Err(GatewayError::Refused(reason)) => {
                tracing::warn!(payment = %p.id, reason, "the provider does not know this payment");
                self.record(p, log, None).await.map(|_| ())
            }
            Err(e) => Err(self.failed("payments", p.id, p.id, log, e).await),
        }
    }

    async fn void(&self, p: &Row) -> Result<(), Step> {
        let Some((gateway, r)) = self.target(p) else {
            return self.done(p.id, true).await;
        };
        let mut log = Transcript::default();
        let state = match gateway.void(&r, &mut log).await {
            Ok(Voided::Voided) => Some(State::Canceled),
            // When too late, the charge's own webhook settles it; a success for a canceled
            // order is then refunded at the order's request.
            Ok(Voided::Voiding | Voided::AlreadySettled) | Err(GatewayError::Refused(_)) => None,
            Err(e) => return Err(self.failed("payments", p.id, p.id, log, e).await),
        };
        let mut tx = self.pool.begin().await?;
        log.write(&mut tx, p.id).await?;
        if let Some(state) = &state
            && let Some(now) = payments::lock(&mut tx, p.id).await?
        {
            payments::observe(&mut tx, &now, state).await?;
        }
        release(&mut tx, p.id, true).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Charges `p`; returns it as it is now when the order was canceled meanwhile and it
    /// must be voided.
    async fn charge(&self, p: &Row) -> Result<Option<Row>, Step> {
        let Some(gateway) = self.gateways.get(p.provider) else {
            let off = State::Failed {
                reason: "provider_off".into(),
            };
            self.record(p, Transcript::default(), Some(&off)).await?;
            return Ok(None);
        };
        let charge = Charge {
            idempotency_key: idempotency_key(p.order_id, p.attempt, "charge"),
            amount: p.amount(),
            payment_method: p.payment_method.clone(),
            payment_id: p.id,
            order_id: p.order_id,
            attempt: p.attempt,
        };
        let mut log = Transcript::default();
        let charged = match gateway.charge(&charge, &mut log).await {
            Ok(c) => c,
            Err(GatewayError::Refused(reason)) => crate::gateway::Charged {
                intent: None,
                state: State::Failed { reason },
            },
            Err(e) => return Err(self.failed("payments", p.id, p.id, log, e).await),
        };
        let mut tx = self.pool.begin().await?;
        log.write(&mut tx, p.id).await?;
        if let Some(intent) = &charged.intent {
            sqlx::query("UPDATE payments SET provider_ref = $2 WHERE id = $1")
                .bind(p.id)
                .bind(intent)
                .execute(&mut *tx)
                .await?;
        }
        // Processing (the usual answer) changes nothing but the reference: no lock needed.
        if charged.state != State::Processing
            && let Some(now) = payments::lock(&mut tx, p.id).await?
        {
            payments::observe(&mut tx, &now, &charged.state).await?;
        }
        let void_now = release(&mut tx, p.id, false).await?;
        tx.commit().await?;
        Ok(charged.intent.filter(|_| void_now).map(|intent| Row {
            provider_ref: Some(intent),
            cancel_requested: true,
            ..p.clone()
        }))
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
        let call = p.as_ref().and_then(|p| {
            Some((
                self.gateways.get(p.provider)?,
                RefundCall {
                    idempotency_key: idempotency_key(
                        p.order_id,
                        p.attempt,
                        &format!("refund-{}", r.id),
                    ),
                    payment: p.gateway_ref()?,
                    amount: kazna_contracts::Money::new(r.amount, p.currency),
                    refund_id: r.id,
                },
            ))
        });
        let (Some(p), Some((gateway, call))) = (p, call) else {
            let mut tx = self.pool.begin().await?;
            refunds::failed(&mut tx, r.id, "no charge to refund").await?;
            tx.commit().await?;
            return Ok(());
        };
        let mut log = Transcript::default();
        let asked = match &r.provider_ref {
            None => gateway.refund(&call, &mut log).await,
            Some(reference) => gateway.refund_status(&call, reference, &mut log).await,
        };
        let answer = match asked {
            Err(GatewayError::Refused(reason)) => Ok(Refunded::Refused { reason }),
            other => other,
        };
        let mut tx = self.pool.begin().await?;
        log.write(&mut tx, p.id).await?;
        match answer {
            Ok(Refunded::Pending { reference }) => {
                sqlx::query(
                    "UPDATE refunds SET provider_ref = $2, due = false, lease_until = NULL, tries = 0,
                            updated_at = now()
                     WHERE id = $1",
                )
                .bind(r.id)
                .bind(reference)
                .execute(&mut *tx)
                .await?;
            }
            Ok(Refunded::Succeeded { reference }) => {
                if let Some(now) = payments::lock(&mut tx, p.id).await? {
                    refunds::succeeded(&mut tx, &now, Some(r.id), &reference).await?;
                }
            }
            Ok(Refunded::Refused { reason }) => {
                refunds::failed(&mut tx, r.id, &reason).await?;
            }
            Err(e) => {
                tx.commit().await?;
                return self.later("refunds", r.id, &e).await;
            }
        }
        tx.commit().await?;
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
    /// Set once the provider accepted it: then it is asked where it stands.
    provider_ref: Option<String>,
}

enum Step {
    /// The gateway did not answer: it is tried again later.
    Retried,
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
