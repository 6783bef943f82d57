//! Whole-platform journeys: every service started in-process on free ports (or each on its
//! own), against the real PostgreSQL, Redis and RabbitMQ, called through the gateway. A
//! service's own HTTP tests live beside it, in `services/<name>/tests`.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod lifecycle;
mod migrate;
mod outages;
mod providers;
mod roles;
mod skeleton;
