//! Payments: one per attempt to pay an order, charged through the gateway after the attempt
//! is recorded, settled once by the gateway's signed webhooks.

use chrono::{DateTime, Utc};
use kazna_contracts::{
    Currency, Money,
    orders::{OrderPlaced, PaymentRequested},
    payments::{PaymentFailed, PaymentStatus, PaymentSucceeded, PaymentVoided, Provider},
};
use kazna_kernel::trace;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    SOURCE, audit,
    error::{Error, Result},
    gateway::{Action, Notice, State, Webhook},
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
    /// What the buyer must do for the payment to go on: confirm it with their bank (Stripe's
    /// 3-D Secure, with the PaymentIntent's client secret) or approve it at PayPal (`url`).
    pub action: Option<Action>,
    pub refunds: Vec<Refund>,
    /// The payment's audit log: state changes, webhooks, and (for admins only) each request
    /// to the provider with its answer.
    pub events: Vec<PaymentEvent>,
}

#[derive(Clone, sqlx::FromRow)]
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
    pub action: Option<sqlx::types::Json<Action>>,
    /// The span that recorded the attempt: the checkout's trace.
    pub traceparent: Option<String>,
}

impl Row {
    /// A span of work on this payment, in the trace of the checkout it belongs to.
    pub fn span(&self, name: &str) -> trace::Span {
        let kept = self.traceparent.as_deref();
        let mut span = trace::Span::resume(crate::NAME, trace::Kind::Internal, name, kept);
        span.set("kazna.payment_id", self.id.to_string());
        span
    }

    pub fn amount(&self) -> Money {
        Money::new(self.amount, self.currency)
    }

    /// What the gateway is asked about this payment by, once it has the provider's id.
    pub fn gateway_ref(&self) -> Option<crate::gateway::Ref> {
        self.provider_ref
            .as_ref()
            .map(|intent| crate::gateway::Ref {
                payment_id: self.id,
                order_id: self.order_id,
                attempt: self.attempt,
                intent: intent.clone(),
                amount: self.amount(),
            })
    }
}

pub(crate) const COLUMNS: &str = "id, order_id, user_id, attempt, amount, currency, provider, payment_method, \
     provider_ref, status, failure_reason, refunded, cancel_requested, charge_sent, action, traceparent";

/// The payment `id`, locked for the rest of the transaction.
pub(crate) async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<Row>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payments WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
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
        "INSERT INTO payments (id, order_id, user_id, attempt, amount, currency, provider, payment_method, status, due,
                               traceparent)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
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
    .bind(trace::traceparent())
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
    audit::append(conn, a.payment_id, kind, None, data).await?;
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
        "UPDATE payments SET status = $2, failure_reason = $3, action = NULL, due = false,
                updated_at = now()
         WHERE id = $1",
    )
    .bind(p.id)
    .bind(status.as_str())
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    let change = serde_json::json!({"from": p.status, "to": status, "reason": reason});
    audit::append(conn, p.id, "status_changed", None, change).await?;
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
            let e = PaymentFailed {
                payment_id,
                order_id,
                attempt,
                amount,
                provider,
                reason: reason.unwrap_or("declined").to_owned(),
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

/// Applies what the provider says about a charge: the one path for an answer to a charge, a
/// webhook and a reconciliation, so each reaches the same end however it arrived.
pub(crate) async fn observe(conn: &mut PgConnection, p: &Row, state: &State) -> Result<()> {
    match state {
        State::Processing => Ok(()),
        State::RequiresAction(action) => require_action(conn, p, action).await,
        State::Succeeded => settle(conn, p, Outcome::Succeeded).await,
        State::Failed { reason } => settle(conn, p, Outcome::Failed { reason }).await,
        State::Canceled => settle(conn, p, Outcome::Voided).await,
    }
}

/// The buyer must act: the payment shows what to do until the provider has the outcome.
async fn require_action(conn: &mut PgConnection, p: &Row, action: &Action) -> Result<()> {
    if p.status != PaymentStatus::Pending {
        return Ok(());
    }
    let value = serde_json::to_value(action).unwrap_or_default();
    let changed =
        sqlx::query("UPDATE payments SET action = $2 WHERE id = $1 AND action IS DISTINCT FROM $2")
            .bind(p.id)
            .bind(&value)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    if changed == 1 {
        audit::append(conn, p.id, "requires_action", None, audit::redact(value)).await?;
    }
    Ok(())
}

/// Applies a verified webhook once, in one transaction with the record of it: a repeated
/// event id is acknowledged and changes nothing, and one that comes after the payment moved
/// on (a stale or reordered one) is recorded and changes nothing either.
pub async fn apply_webhook(
    pool: &PgPool,
    provider: Provider,
    hook: Webhook,
    log: audit::Transcript,
) -> Result<Applied> {
    let mut tx = pool.begin().await?;
    let Some(first) = hook.notices.first() else {
        return Ok(Applied::NotOurs);
    };
    let Some(p) = payment_of(&mut tx, first).await? else {
        tracing::info!(provider = %provider, kind = %hook.kind, "webhook about no payment of ours");
        return Ok(Applied::NotOurs);
    };
    // What the webhook changes belongs to the checkout's trace; the webhook's own request,
    // begun at the provider, is linked to it.
    let mut span = p.span(&format!("{} apply", hook.kind));
    span.link(trace::current());
    span.scope(async {
        log.write(&mut tx, p.id).await?;
        let event_id = format!("{provider}:{}", hook.id);
        let body = audit::redact(hook.body);
        if !audit::append(&mut tx, p.id, &hook.kind, Some(&event_id), body).await? {
            tx.commit().await?;
            return Ok(Applied::Repeat);
        }
        let mut applied = Applied::Done;
        for notice in hook.notices {
            applied = apply(&mut tx, &p, notice).await?.max(applied);
        }
        tx.commit().await?;
        Ok(applied)
    })
    .await
}

async fn apply(conn: &mut PgConnection, p: &Row, notice: Notice) -> Result<Applied> {
    Ok(match notice {
        Notice::Charge { state, .. } => {
            observe(conn, p, &state).await?;
            Applied::Done
        }
        Notice::Refund {
            reference,
            refund_id,
            succeeded,
            reason,
        } => {
            match succeeded {
                true => refunds::succeeded(conn, p, refund_id, &reference).await?,
                false => {
                    let reason = reason.as_deref().unwrap_or("refused");
                    refunds::failed_by_ref(conn, p, refund_id, &reference, reason).await?
                }
            }
            Applied::Done
        }
        Notice::Check { .. } => {
            // Asked of the provider by the worker, outside this transaction.
            sqlx::query("UPDATE payments SET due = true WHERE id = $1 AND status = 'pending'")
                .bind(p.id)
                .execute(&mut *conn)
                .await?;
            Applied::Check
        }
    })
}

/// What became of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Applied {
    /// About a payment that is not ours (another integration on the same account), or
    /// about nothing payments acts on.
    NotOurs,
    /// Seen before.
    Repeat,
    Done,
    /// The provider must be asked: the worker has been told.
    Check,
}

/// The payment a webhook is about, locked: by our id first (it is committed before the
/// charge is made), else by the provider's id for the charge or the refund.
async fn payment_of(conn: &mut PgConnection, notice: &Notice) -> Result<Option<Row>> {
    let (id, intent, refund, reference) = match notice {
        Notice::Charge {
            intent, payment_id, ..
        }
        | Notice::Check { intent, payment_id } => (*payment_id, Some(intent.as_str()), None, None),
        Notice::Refund {
            reference,
            refund_id,
            ..
        } => (None, None, *refund_id, Some(reference.as_str())),
    };
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payments
         WHERE id = $1 OR provider_ref = $2
            OR id = (SELECT payment_id FROM refunds WHERE id = $3 OR provider_ref = $4 LIMIT 1)
         ORDER BY (id = $1) DESC LIMIT 1 FOR UPDATE"
    )))
    .bind(id)
    .bind(intent)
    .bind(refund)
    .bind(reference)
    .fetch_optional(conn)
    .await?)
}

/// How many payments are in each state (states with none are left out).
pub async fn count_by_state(pool: &PgPool) -> Result<Vec<(String, i64)>> {
    Ok(
        sqlx::query_as("SELECT status, count(*) FROM payments GROUP BY status")
            .fetch_all(pool)
            .await?,
    )
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
        action: p.action.map(|a| a.0),
        refunds,
        events,
    })
}
