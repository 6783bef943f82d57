//! Event payloads that cross service boundaries, and the envelope they travel in.
//!
//! This crate is the contract between services: plain serde types, versioned, with no
//! dependency on a web framework or a database driver (CI checks this).

pub mod catalog;
pub mod currency;
pub mod envelope;
pub mod orders;
pub mod payments;
pub mod users;

pub use envelope::{Envelope, Event};

/// Money as an integer number of minor units plus an ISO 4217 currency code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Money {
    pub amount: i64,
    pub currency: String,
}
