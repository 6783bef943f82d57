//! Keeps the cart's read model of the catalog in step with the catalog's events.

use kazna_contracts::{
    Envelope,
    catalog::{ProductCreated, ProductDeleted, ProductUpdated, StockChanged},
};
use kazna_events::{Handler, HandlerError};

use crate::model::Model;

pub struct CatalogEvents(pub Model);

pub const QUEUE: &str = "cart";
pub const ROUTING_KEYS: &[&str] = &["catalog.product.*", "catalog.stock.changed"];

impl Handler for CatalogEvents {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        let done = if event.is::<ProductCreated>() {
            self.0.product(&event.decode::<ProductCreated>()?.0).await
        } else if event.is::<ProductUpdated>() {
            self.0.product(&event.decode::<ProductUpdated>()?.0).await
        } else if event.is::<ProductDeleted>() {
            let d = event.decode::<ProductDeleted>()?;
            self.0.deleted(d.id, d.updated_at.timestamp_millis()).await
        } else if event.is::<StockChanged>() {
            self.0.stock(&event.decode::<StockChanged>()?).await
        } else {
            return Ok(());
        };
        done.map_err(|e| HandlerError::Retry(e.to_string()))
    }
}
