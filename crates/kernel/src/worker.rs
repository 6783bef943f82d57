//! Background work that a committed change asks for (a call to another service or a provider,
//! carried out after the commit): a loop that works while there is work, then waits for a
//! kick from the change that made more, or for its next poll.

use std::{fmt::Display, future::Future, sync::Arc, time::Duration};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Wakes a worker at once, instead of at its next poll.
#[derive(Clone, Default)]
pub struct Kick(Arc<Notify>);

impl Kick {
    pub fn now(&self) {
        self.0.notify_one();
    }
}

/// Runs `step` until `shutdown`: again at once while it finds work (it returns how many
/// things it did), otherwise after a kick or `poll`. A failing step is logged and tried again
/// at the next poll.
pub async fn repeat<F, Fut, E>(
    name: &str,
    kick: Kick,
    poll: Duration,
    shutdown: CancellationToken,
    mut step: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, E>>,
    E: Display,
{
    loop {
        match step().await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, worker = name, "could not run; will retry"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = kick.0.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}
