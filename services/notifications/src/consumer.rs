use kazna_contracts::Envelope;
use kazna_events::{Handler, HandlerError};
use sqlx::PgPool;

use crate::{deliveries, error::Error, worker::Kick};

pub struct Notify {
    pub pool: PgPool,
    pub kick: Kick,
    /// Where the shop is, for links in messages.
    pub shop_url: String,
}

impl Handler for Notify {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        match deliveries::queue(&self.pool, event, &self.shop_url).await {
            Ok(queued) => {
                if queued {
                    self.kick.now();
                }
                Ok(())
            }
            Err(Error::Template(e)) => Err(HandlerError::Permanent(format!("template: {e}"))),
            Err(e) => Err(HandlerError::Retry(e.to_string())),
        }
    }
}
