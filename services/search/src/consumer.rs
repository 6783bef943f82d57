//! Keeps the index in step with the catalog's events.

use std::sync::Arc;

use kazna_contracts::{
    Envelope,
    catalog::{ProductCreated, ProductDeleted, ProductUpdated},
};
use kazna_events::{Handler, HandlerError};

use crate::index::SearchIndex;

pub struct CatalogEvents(pub Arc<SearchIndex>);

pub const ROUTING_KEYS: &[&str] = &["catalog.product.*"];

impl Handler for CatalogEvents {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        let index = self.0.clone();
        let event = event.clone();
        let applied = tokio::task::spawn_blocking(move || {
            if event.is::<ProductCreated>() {
                index.upsert(&event.decode::<ProductCreated>()?.0)
            } else if event.is::<ProductUpdated>() {
                index.upsert(&event.decode::<ProductUpdated>()?.0)
            } else if event.is::<ProductDeleted>() {
                index.remove(event.decode::<ProductDeleted>()?.id)
            } else {
                Ok(())
            }
            .map_err(|e| HandlerError::Retry(e.to_string()))
        })
        .await;
        applied.map_err(|e| HandlerError::Retry(e.to_string()))?
    }
}
