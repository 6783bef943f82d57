//! Payment outcomes, applied once each (inbox) to the orders they are about.

use kazna_contracts::{
    Envelope,
    payments::{PaymentFailed, PaymentSucceeded},
};
use kazna_events::{Handler, HandlerError, inbox};
use kazna_kernel::Context;
use sqlx::PgPool;

use crate::{NAME, error::Error, orders};

pub const ROUTING_KEYS: &[&str] = &["payment.*"];

pub struct PaymentEvents {
    pub ctx: Context,
    pub pool: PgPool,
}

impl Handler for PaymentEvents {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        if event.is::<PaymentFailed>() {
            let failed = event.decode::<PaymentFailed>()?;
            tracing::info!(order.id = %failed.order_id, reason = %failed.reason, "payment declined");
            return Ok(());
        }
        if !event.is::<PaymentSucceeded>() {
            return Ok(());
        }
        let paid = event.decode::<PaymentSucceeded>()?;
        let Some(mut tx) = inbox::begin(&self.pool, NAME, event.id).await? else {
            return Ok(());
        };
        match orders::mark_paid(&self.ctx, &mut tx, paid.order_id, paid.payment_id).await {
            Ok(()) => {}
            Err(Error::NotFound) => {
                return Err(HandlerError::Permanent(format!(
                    "no order {}",
                    paid.order_id
                )));
            }
            Err(e) => return Err(HandlerError::Retry(e.to_string())),
        }
        tx.commit().await?;
        Ok(())
    }
}
