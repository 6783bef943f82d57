//! The catalog's HTTP API, through the gateway of a whole platform: products and their
//! variants, the category tree, listings and who sees what.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod categories;
mod listing;
mod products;
