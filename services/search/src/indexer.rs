//! Batches index changes: consumers hand changes over and wait; one task applies whatever
//! has gathered with a single commit, then answers every waiter. An event is acknowledged
//! only once its change is committed.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::{error::Error, index::Op, live::Live};

const MAX_BATCH: usize = 512;

type Job = (Op, oneshot::Sender<Result<(), String>>);

#[derive(Clone)]
pub struct Indexer {
    tx: mpsc::Sender<Job>,
}

impl Indexer {
    pub fn start(index: Arc<Live>) -> Self {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 2);
        tokio::spawn(run(index, rx));
        Self { tx }
    }

    /// Applies `op`, returning once it is committed.
    pub async fn apply(&self, op: Op) -> Result<(), Error> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((op, done))
            .await
            .map_err(|_| Error::IndexerStopped)?;
        wait.await
            .map_err(|_| Error::IndexerStopped)?
            .map_err(Error::Batch)
    }
}

async fn run(index: Arc<Live>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (ops, waiters): (Vec<Op>, Vec<_>) = jobs.into_iter().unzip();
        let idx = index.clone();
        let outcome = tokio::task::spawn_blocking(move || idx.apply(&ops))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        for w in waiters {
            let _ = w.send(outcome.clone());
        }
    }
}
