//! The contract between services: event payloads, the envelope they travel in, the bodies of
//! internal endpoints, money and the states every service names.
//!
//! Plain serde types, versioned, with no dependency on a web framework or a database driver
//! (CI checks this). Schemas for the OpenAPI documents come with them.

pub mod cart;
pub mod catalog;
pub mod currency;
pub mod envelope;
pub mod label;
pub mod money;
pub mod orders;
pub mod payments;
pub mod users;

pub use currency::Currency;
pub use envelope::{Envelope, Event};
pub use money::{Money, MoneyError};
