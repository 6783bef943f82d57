//! The threads that read the index: one per core, taking searches in the order they came.
//!
//! Side by side, 32 searches on 2 cores would each take 16 times as long as alone, and a
//! costly one would hold its answer back longest of all. In turn, each waits for those ahead
//! of it and then runs at full speed: the average answer comes as soon, and the slowest
//! sooner. The threads stay warm between searches, which a pool for any blocking work does
//! not promise.

use std::{
    num::NonZeroUsize,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex, mpsc},
};

use crate::error::Error;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct Pool {
    jobs: mpsc::Sender<Job>,
}

impl Default for Pool {
    fn default() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, NonZeroUsize::get))
    }
}

impl Pool {
    pub fn new(threads: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("search-{n}"))
                .spawn(move || {
                    loop {
                        // The next search, waited for by one thread at a time.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            // Every sender is gone: the service has stopped.
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "search: a search thread could not start");
            }
        }
        Self { jobs }
    }

    /// Runs `work` on a search thread once its turn comes. A panic in it is an error, and
    /// the thread goes on with the next search.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(std::panic::catch_unwind(AssertUnwindSafe(work)));
        });
        self.jobs.send(job).map_err(|_| Error::SearchStopped)?;
        match answer.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(Error::SearchPanicked),
            Err(_) => Err(Error::SearchStopped),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::{
        sync::atomic::{AtomicUsize, Ordering},
        time::Duration,
    };

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_searches_run_at_once_than_there_are_threads_and_a_panic_stops_none() {
        let pool = Pool::new(2);
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let searches: Vec<_> = (0..20)
            .map(|i| {
                let (pool, running, most) = (pool.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    pool.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(5));
                        running.fetch_sub(1, Ordering::SeqCst);
                        assert!(i != 7, "search 7 fails");
                        i
                    })
                    .await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for s in searches {
            answers.push(s.await.unwrap().ok());
        }
        let want: Vec<Option<i32>> = (0..20).map(|i| (i != 7).then_some(i)).collect();
        assert_eq!(answers, want);
        assert_eq!(most.load(Ordering::SeqCst), 2);
        // Both threads still answer after the panic.
        for i in 0..4 {
            assert_eq!(pool.run(move || i * 2).await.unwrap(), i * 2);
        }
    }
}
