//! What orders hears from payments and the catalog, applied once each (inbox) and safely out
//! of order: a duplicate success does nothing, a late failure never undoes `paid`, and money
//! that arrives for an order that can no longer take it is handed back.

use kazna_contracts::{
    Envelope, Money,
    catalog::ReservationExpired,
    orders::{OrderPaymentFailed, OrderRefunded, RefundRequested},
    payments::{PaymentFailed, PaymentRefunded, PaymentStatus, PaymentSucceeded, PaymentVoided},
};
use kazna_events::{Handler, HandlerError, inbox};
use sqlx::{PgConnection, PgPool};

use crate::{
    NAME, SOURCE,
    error::{Error, Result},
    lifecycle::{self, Change},
    orders,
    status::{Actor, OrderStatus},
    stock::Kick,
};

pub const ROUTING_KEYS: &[&str] = &["payment.*", "catalog.reservation.expired"];

pub struct Events {
    pub pool: PgPool,
    pub kick: Kick,
}

impl Handler for Events {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        if event.is::<ReservationExpired>() {
            let e = event.decode::<ReservationExpired>()?;
            // Idempotent by itself: only an unpaid order is canceled.
            orders::expire(&self.pool, e.order_id, "its reserved stock expired")
                .await
                .map_err(retry)?;
            self.kick.now();
            return Ok(());
        }
        let Some(mut tx) = inbox::begin(&self.pool, NAME, event.id).await? else {
            return Ok(());
        };
        let applied = if event.is::<PaymentSucceeded>() {
            succeeded(&mut tx, &event.decode::<PaymentSucceeded>()?).await
        } else if event.is::<PaymentFailed>() {
            declined(&mut tx, &event.decode::<PaymentFailed>()?).await
        } else if event.is::<PaymentVoided>() {
            let e = event.decode::<PaymentVoided>()?;
            settled(&mut tx, &e.payment_id, PaymentStatus::Voided, None).await
        } else if event.is::<PaymentRefunded>() {
            refunded(&mut tx, &event.decode::<PaymentRefunded>()?).await
        } else {
            Ok(())
        };
        match applied {
            Ok(()) => {}
            Err(Error::NotFound) => {
                return Err(HandlerError::Permanent(format!(
                    "no order for {}",
                    event.event_type
                )));
            }
            Err(e) => return Err(retry(e)),
        }
        tx.commit().await?;
        self.kick.now();
        Ok(())
    }
}

fn retry(e: Error) -> HandlerError {
    HandlerError::Retry(e.to_string())
}

/// A payment took money. The order it was for becomes paid if it is still waiting for this
/// very attempt; otherwise (canceled, expired, paid by another attempt) the money goes back.
async fn succeeded(tx: &mut PgConnection, e: &PaymentSucceeded) -> Result<()> {
    let order = lifecycle::lock(tx, e.order_id)
        .await?
        .ok_or(Error::NotFound)?;
    let current = order.payment_id == Some(e.payment_id);
    if current && order.status == OrderStatus::PendingPayment {
        sqlx::query("UPDATE orders SET payment_status = $2, payment_failure = NULL WHERE id = $1")
            .bind(order.id)
            .bind(PaymentStatus::Succeeded.as_str())
            .execute(&mut *tx)
            .await?;
        let by = Actor::Provider(e.provider);
        let change = Change::to(OrderStatus::Paid, by, "payment succeeded");
        return lifecycle::transition(tx, &order, change).await;
    }
    if current && order.payment_status.captured() {
        // Already applied.
        return Ok(());
    }
    if current {
        sqlx::query("UPDATE orders SET payment_status = $2 WHERE id = $1")
            .bind(order.id)
            .bind(PaymentStatus::Succeeded.as_str())
            .execute(&mut *tx)
            .await?;
    }
    tracing::warn!(order.id = %order.id, status = %order.status, "payment for an order that cannot take it; refunding");
    let refund = RefundRequested {
        order_id: order.id,
        payment_id: e.payment_id,
        reason: format!("payment arrived for a {} order", order.status),
    };
    kazna_events::enqueue(tx, SOURCE, &refund).await?;
    Ok(())
}

/// The current attempt was declined or voided: the order shows it and stays payable. An
/// outcome of an earlier attempt, or one that comes after a success, changes nothing.
async fn settled(
    tx: &mut PgConnection,
    payment_id: &uuid::Uuid,
    status: PaymentStatus,
    reason: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE orders SET payment_status = $2, payment_failure = $3, updated_at = now()
         WHERE payment_id = $1 AND payment_status = 'pending'",
    )
    .bind(payment_id)
    .bind(status.as_str())
    .bind(reason)
    .execute(tx)
    .await?;
    Ok(())
}

/// The current attempt was declined: the order records why, and tells the buyer (who may pay
/// again) while it still waits for payment.
async fn declined(tx: &mut PgConnection, e: &PaymentFailed) -> Result<()> {
    let row: Option<(uuid::Uuid, uuid::Uuid, String, String)> = sqlx::query_as(
        "UPDATE orders SET payment_status = 'failed', payment_failure = $2, updated_at = now()
         WHERE payment_id = $1 AND payment_status = 'pending'
         RETURNING id, user_id, email, status",
    )
    .bind(e.payment_id)
    .bind(&e.reason)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((order_id, user_id, email, status)) = row
        && status == OrderStatus::PendingPayment.as_str()
    {
        let event = OrderPaymentFailed {
            order_id,
            user_id,
            email,
            total: e.amount,
            attempt: e.attempt,
            reason: e.reason.clone(),
        };
        kazna_events::enqueue(tx, SOURCE, &event).await?;
    }
    Ok(())
}

/// Money went back. The order records how much; refunded in full, a paid order is canceled
/// (its units back on sale) and a delivered one refunded (a return).
async fn refunded(tx: &mut PgConnection, e: &PaymentRefunded) -> Result<()> {
    let mut order = lifecycle::lock(tx, e.order_id)
        .await?
        .ok_or(Error::NotFound)?;
    if order.payment_id != Some(e.payment_id) {
        // Money of an attempt the order never took: nothing of the order changes.
        return Ok(());
    }
    let full = e.full();
    // Refunds may be heard of out of order: the largest total is the latest.
    order.refunded_amount = order.refunded_amount.max(e.refunded.amount_minor);
    order.payment_status = match full {
        true => PaymentStatus::Refunded,
        false if order.payment_status == PaymentStatus::Refunded => PaymentStatus::Refunded,
        false => PaymentStatus::PartiallyRefunded,
    };
    sqlx::query(
        "UPDATE orders SET refunded_amount = $2, payment_status = $3, updated_at = now() WHERE id = $1",
    )
    .bind(order.id)
    .bind(order.refunded_amount)
    .bind(order.payment_status.as_str())
    .execute(&mut *tx)
    .await?;
    let refunded = order.refunded_amount;
    let by = Actor::System;
    match (full, order.status) {
        (true, OrderStatus::Delivered) => {
            let change = Change {
                to: OrderStatus::Refunded,
                by,
                note: Some("refunded in full: returned"),
                refund: Some(e.amount),
            };
            return lifecycle::transition(tx, &order, change).await;
        }
        (true, OrderStatus::Paid) => {
            let change = Change::to(
                OrderStatus::Canceled,
                by,
                "refunded in full before shipping",
            );
            lifecycle::transition(tx, &order, change).await?;
        }
        (true, _) | (false, _) => {}
    }
    let event = OrderRefunded {
        order_id: order.id,
        user_id: order.user_id,
        email: order.email.clone(),
        amount: e.amount,
        refunded: Money::new(refunded, order.currency),
        full,
    };
    kazna_events::enqueue(tx, SOURCE, &event).await?;
    Ok(())
}
