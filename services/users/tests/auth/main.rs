//! The users service against the real database and Redis: tokens, sessions, resets, limits.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod accounts;
mod helpers;
mod sessions;
mod tokens;
