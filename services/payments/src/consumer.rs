//! What orders asks of payments, applied once each (inbox): attempts to charge, voids when an
//! order is canceled, refunds of money an order will not keep. Gateway calls are only
//! recorded here; the worker makes them once the transaction has committed.

use kazna_contracts::{
    Envelope,
    orders::{OrderCanceled, OrderPlaced, PaymentRequested, RefundRequested},
    payments::{MethodError, Provider},
};
use kazna_events::{Handler, HandlerError, inbox};
use sqlx::PgPool;

use crate::{
    NAME,
    error::Error,
    payments::{self, Attempt},
    refunds::{self, Amount, RefundRequest},
    worker::Kick,
};

pub const ROUTING_KEYS: &[&str] = &[
    "order.placed",
    "order.payment_requested",
    "order.canceled",
    "order.refund_requested",
];

pub struct OrderEvents {
    pub pool: PgPool,
    /// The providers that are on (`payments.providers`).
    pub providers: Vec<Provider>,
    pub kick: Kick,
}

impl Handler for OrderEvents {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        let Some(mut tx) = inbox::begin(&self.pool, NAME, event.id).await? else {
            return Ok(());
        };
        let attempt = if event.is::<OrderPlaced>() {
            Some(Attempt::from(event.decode::<OrderPlaced>()?))
        } else if event.is::<PaymentRequested>() {
            Some(Attempt::from(event.decode::<PaymentRequested>()?))
        } else {
            None
        };
        let applied = if let Some(a) = attempt {
            let provider = match Provider::for_method(&a.payment_method, &self.providers) {
                Ok(p) | Err(MethodError::ProviderOff(p)) => p,
                // Orders refuses these; the sandbox declines one that got through.
                Err(MethodError::Unknown) => Provider::Sandbox,
            };
            payments::record_attempt(&mut tx, provider, &a).await
        } else if event.is::<OrderCanceled>() {
            let o = event.decode::<OrderCanceled>()?;
            payments::close_order(&mut tx, o.order_id).await
        } else if event.is::<RefundRequested>() {
            let o = event.decode::<RefundRequested>()?;
            let req = RefundRequest {
                payment_id: o.payment_id,
                amount: Amount::Rest,
                reason: &o.reason,
                by: "system",
                idempotency_key: None,
            };
            match refunds::request(&mut tx, req).await {
                Ok(_) => Ok(()),
                Err(Error::NotFound) => {
                    return Err(HandlerError::Permanent(format!(
                        "no payment {} to refund",
                        o.payment_id
                    )));
                }
                Err(e) => Err(e),
            }
        } else {
            Ok(())
        };
        applied.map_err(|e| HandlerError::Retry(e.to_string()))?;
        tx.commit().await?;
        self.kick.now();
        Ok(())
    }
}
