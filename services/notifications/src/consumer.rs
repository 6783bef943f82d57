use kazna_contracts::Envelope;
use kazna_events::{Handler, HandlerError};
use sqlx::PgPool;

use crate::{deliveries, error::Error, outbox::FileOutbox};

pub struct Notify {
    pub pool: PgPool,
    pub outbox: FileOutbox,
    pub from: String,
}

impl Handler for Notify {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        match deliveries::deliver(&self.pool, &self.outbox, &self.from, event).await {
            Ok(()) => Ok(()),
            Err(Error::Template(e)) => Err(HandlerError::Permanent(format!("template: {e}"))),
            Err(e) => Err(HandlerError::Retry(e.to_string())),
        }
    }
}
