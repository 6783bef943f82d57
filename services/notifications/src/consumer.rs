use kazna_contracts::{Envelope, Event, users::ContactChanged};
use kazna_events::{Handler, HandlerError};
use sqlx::PgPool;

use crate::{deliveries, error::Error, recipients, worker::Kick};

pub struct Notify {
    pub pool: PgPool,
    pub kick: Kick,
    /// Where the shop is, for links in messages.
    pub shop_url: String,
}

/// What the consumer hears: the events messages go out for, and users' contact changes.
pub fn routing_keys() -> Vec<&'static str> {
    let mut keys = deliveries::EVENTS.to_vec();
    keys.push(ContactChanged::TYPE);
    keys
}

impl Handler for Notify {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        if event.is::<ContactChanged>() {
            let c = event.decode::<ContactChanged>()?;
            return recipients::apply(&self.pool, &c)
                .await
                .map_err(|e| HandlerError::Retry(e.to_string()));
        }
        match deliveries::queue(&self.pool, event, &self.shop_url).await {
            Ok(queued) => {
                if queued > 0 {
                    self.kick.now();
                }
                Ok(())
            }
            Err(Error::Template(e)) => Err(HandlerError::Permanent(format!("template: {e}"))),
            Err(e) => Err(HandlerError::Retry(e.to_string())),
        }
    }
}
