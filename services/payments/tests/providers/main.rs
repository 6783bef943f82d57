//! Payments with real providers' adapters, against a local server that stands in for their
//! APIs and checks what they send; the sandbox's fault knobs; the audit log's hash chain.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod audit;
mod faults;
mod harness;
mod paypal;
mod stripe;
