//! Black-box tests of the whole platform: every service started in-process on free ports,
//! against the real PostgreSQL, Redis and RabbitMQ, called through the gateway.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod cart;
mod catalog;
mod categories;
mod contract;
mod helpers;
mod listing;
mod outages;
mod roles;
mod search;
mod skeleton;
