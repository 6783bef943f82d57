//! Keeps the index in step with the catalog's events, and with sales for popularity.

use kazna_contracts::{
    Envelope,
    catalog::{ProductCreated, ProductDeleted, ProductUpdated, StockChanged},
    orders::OrderPaid,
};
use kazna_events::{Handler, HandlerError};

use crate::{index::Op, indexer::Indexer, popularity::Popularity};

pub struct IndexEvents {
    pub indexer: Indexer,
    pub popularity: Popularity,
}

pub const ROUTING_KEYS: &[&str] = &["catalog.product.*", "catalog.stock.changed", "order.paid"];

/// How many events are applied at once; they are committed together.
pub const CONCURRENCY: usize = 256;

impl Handler for IndexEvents {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        let ops = if event.is::<ProductCreated>() {
            vec![Op::Upsert(event.decode::<ProductCreated>()?.0)]
        } else if event.is::<ProductUpdated>() {
            vec![Op::Upsert(event.decode::<ProductUpdated>()?.0)]
        } else if event.is::<ProductDeleted>() {
            let d = event.decode::<ProductDeleted>()?;
            vec![Op::Remove(d.id, d.updated_at.timestamp_millis())]
        } else if event.is::<StockChanged>() {
            vec![Op::Stock(event.decode::<StockChanged>()?)]
        } else if event.is::<OrderPaid>() {
            let paid = event.decode::<OrderPaid>()?;
            self.popularity
                .record(event.id, &paid, event.occurred_at)
                .await
                .map_err(|e| HandlerError::Retry(format!("popularity not counted: {e}")))?
                .into_iter()
                .map(Op::Sold)
                .collect()
        } else {
            return Ok(());
        };
        for op in ops {
            self.indexer
                .apply(op)
                .await
                .map_err(|e| HandlerError::Retry(e.to_string()))?;
        }
        Ok(())
    }
}
