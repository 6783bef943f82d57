//! Keeps the index in step with the catalog's events.

use kazna_contracts::{
    Envelope,
    catalog::{ProductCreated, ProductDeleted, ProductUpdated},
};
use kazna_events::{Handler, HandlerError};

use crate::{index::Op, indexer::Indexer};

pub struct CatalogEvents(pub Indexer);

pub const ROUTING_KEYS: &[&str] = &["catalog.product.*"];

/// How many events are applied at once; they are committed together.
pub const CONCURRENCY: usize = 256;

impl Handler for CatalogEvents {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        let op = if event.is::<ProductCreated>() {
            Op::Upsert(event.decode::<ProductCreated>()?.0)
        } else if event.is::<ProductUpdated>() {
            Op::Upsert(event.decode::<ProductUpdated>()?.0)
        } else if event.is::<ProductDeleted>() {
            let d = event.decode::<ProductDeleted>()?;
            Op::Remove(d.id, d.updated_at.timestamp_millis())
        } else {
            return Ok(());
        };
        self.0
            .apply(op)
            .await
            .map_err(|e| HandlerError::Retry(e.to_string()))
    }
}
