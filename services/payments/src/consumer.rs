//! Starts the payment of each placed order.

use kazna_contracts::{Envelope, orders::OrderPlaced};
use kazna_events::{Handler, HandlerError};
use sqlx::PgPool;

use crate::{payments, sandbox::Sandbox};

pub const ROUTING_KEYS: &[&str] = &["order.placed"];

pub struct OrderEvents {
    pub pool: PgPool,
    pub gateway: Sandbox,
}

impl Handler for OrderEvents {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        if !event.is::<OrderPlaced>() {
            return Ok(());
        }
        let order = event.decode::<OrderPlaced>()?;
        payments::start(&self.pool, &self.gateway, &order)
            .await
            .map_err(|e| HandlerError::Retry(e.to_string()))
    }
}
