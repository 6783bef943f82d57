//! What shoppers look for: each query, in its normalised words, counted per day in Redis
//! (and separately when it found nothing), for admins to read over a window. Counting never
//! slows or fails a search: a search only notes its words in memory, and a worker adds what
//! was noted to Redis once every [`FLUSH`] (and when it stops), one round trip for all of it.
//! A Redis that is away only loses those counts.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use chrono::{Duration, NaiveDate, Utc};
use redis::aio::ConnectionManager;
use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

/// Days a count is kept.
pub const KEEP_DAYS: i64 = 31;
/// Distinct queries kept per day and kind; the least asked go first.
const DISTINCT: isize = 10_000;
/// How often what searches noted goes to Redis.
pub const FLUSH: std::time::Duration = std::time::Duration::from_secs(1);
/// Distinct queries noted before the worker is asked to flush at once.
const NOTED: usize = 10_000;
/// Distinct queries noted at most; a flood of new ones beyond this waits for the flush uncounted.
const NOTED_MOST: usize = 4 * NOTED;

fn key(prefix: &str, kind: &str, day: NaiveDate) -> String {
    format!("{prefix}search:{kind}:{day}")
}

/// What one day's searches asked: by words, how many times, and how many of those found nothing.
type Day = HashMap<String, (u64, u64)>;

/// Searches counted in memory, waiting for the next flush.
#[derive(Clone, Default)]
pub struct Tally {
    noted: Arc<Mutex<Noted>>,
    full: Arc<Notify>,
}

#[derive(Default)]
struct Noted {
    days: BTreeMap<NaiveDate, Day>,
    distinct: usize,
}

impl Tally {
    /// Notes one search for `words` (lower case, as the index read them) that found `found`.
    pub fn count(&self, words: &str, found: usize) {
        self.count_on(Utc::now().date_naive(), words, found);
    }

    fn count_on(&self, day: NaiveDate, words: &str, found: usize) {
        if words.is_empty() {
            return;
        }
        let zero = u64::from(found == 0);
        let Ok(mut noted) = self.noted.lock() else {
            return;
        };
        let Noted { days, distinct } = &mut *noted;
        let day = days.entry(day).or_default();
        if let Some((asked, none)) = day.get_mut(words) {
            *asked += 1;
            *none += zero;
            return;
        }
        if *distinct >= NOTED_MOST {
            return;
        }
        day.insert(words.to_owned(), (1, zero));
        *distinct += 1;
        if *distinct == NOTED {
            self.full.notify_one();
        }
    }

    fn take(&self) -> BTreeMap<NaiveDate, Day> {
        match self.noted.lock() {
            Ok(mut noted) => std::mem::take(&mut *noted).days,
            Err(_) => BTreeMap::new(),
        }
    }

    /// Adds what was noted to Redis every [`FLUSH`], or sooner when many distinct queries
    /// wait, until `shutdown`, then once more.
    pub async fn run(self, redis: ConnectionManager, prefix: String, shutdown: CancellationToken) {
        loop {
            let stop = tokio::select! {
                _ = tokio::time::sleep(FLUSH) => false,
                _ = self.full.notified() => false,
                _ = shutdown.cancelled() => true,
            };
            self.flush(redis.clone(), &prefix).await;
            if stop {
                return;
            }
        }
    }

    /// Adds what was noted to Redis, in one round trip.
    pub async fn flush(&self, mut redis: ConnectionManager, prefix: &str) {
        let days = self.take();
        if days.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for (day, counts) in days {
            for (kind, zero) in [("queries", false), ("zero", true)] {
                let k = key(prefix, kind, day);
                let mut any = false;
                for (words, &(asked, none)) in &counts {
                    let n = if zero { none } else { asked };
                    if n > 0 {
                        pipe.zincr(&k, words, n).ignore();
                        any = true;
                    }
                }
                if any {
                    pipe.expire(&k, KEEP_DAYS * 86_400)
                        .ignore()
                        .zremrangebyrank(&k, 0, -(DISTINCT + 1))
                        .ignore();
                }
            }
        }
        if let Err(e) = pipe.query_async::<()>(&mut redis).await {
            tracing::debug!(error = %e, "search: queries went uncounted");
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Counted {
    pub query: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    /// The most asked queries, most first.
    pub top: Vec<Counted>,
    /// The most asked queries that found nothing.
    pub zero_results: Vec<Counted>,
}

async fn top(
    redis: &mut ConnectionManager,
    prefix: &str,
    kind: &str,
    since: NaiveDate,
    n: usize,
) -> redis::RedisResult<Vec<Counted>> {
    let today = Utc::now().date_naive();
    let keys: Vec<String> = (0..=(today - since).num_days())
        .map(|d| key(prefix, kind, since + Duration::days(d)))
        .collect();
    let mut cmd = redis::cmd("ZUNION");
    cmd.arg(keys.len()).arg(&keys).arg("WITHSCORES");
    let all: Vec<(String, f64)> = cmd.query_async(redis).await?;
    let mut counted: Vec<Counted> = all
        .into_iter()
        .map(|(query, score)| Counted {
            query,
            count: score as u64,
        })
        .collect();
    counted.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.query.cmp(&b.query)));
    counted.truncate(n);
    Ok(counted)
}

/// The top `n` queries, and those that found nothing, from `since` (at most
/// [`KEEP_DAYS`] ago) to today.
pub async fn report(
    mut redis: ConnectionManager,
    prefix: &str,
    since: NaiveDate,
    n: usize,
) -> redis::RedisResult<Report> {
    Ok(Report {
        top: top(&mut redis, prefix, "queries", since, n).await?,
        zero_results: top(&mut redis, prefix, "zero", since, n).await?,
    })
}

#[cfg(test)]
mod tests {
    use redis::AsyncCommands;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn searches_counted_at_once_while_flushes_run_all_reach_redis() {
        let settings = kazna_kernel::Settings::load().unwrap();
        let mut redis = kazna_kernel::db::redis(&settings).await.unwrap();
        let prefix = format!("kt:{}:", uuid::Uuid::new_v4().simple());
        let tally = Tally::default();
        let shutdown = CancellationToken::new();
        let worker = tokio::spawn(tally.clone().run(
            redis.clone(),
            prefix.clone(),
            shutdown.clone(),
        ));
        // Flushes run all along, not only each second, so counts land between them.
        let flushing = {
            let (tally, redis, prefix) = (tally.clone(), redis.clone(), prefix.clone());
            tokio::spawn(async move {
                for _ in 0..200 {
                    tally.flush(redis.clone(), &prefix).await;
                    tokio::task::yield_now().await;
                }
            })
        };
        let yesterday = Utc::now().date_naive() - Duration::days(1);
        let counting: Vec<_> = (0..4)
            .map(|t| {
                let tally = tally.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        let words = format!("word {}", i % 10);
                        tally.count(&words, i % 5);
                        if t == 0 && i % 100 == 0 {
                            tally.count_on(yesterday, "old", 1);
                        }
                    }
                    tally.count("", 0);
                })
            })
            .collect();
        for c in counting {
            c.join().unwrap();
        }
        flushing.await.unwrap();
        shutdown.cancel();
        worker.await.unwrap();

        let today = Utc::now().date_naive();
        let queries = key(&prefix, "queries", today);
        let zero = key(&prefix, "zero", today);
        for n in 0..10 {
            let words = format!("word {n}");
            let asked: Option<f64> = redis.zscore(&queries, &words).await.unwrap();
            assert_eq!(asked, Some(2_000.0), "{words}: 4 threads × 500");
            let none: Option<f64> = redis.zscore(&zero, &words).await.unwrap();
            // Found nothing when i % 5 == 0: "word 0" and "word 5" every time, no other.
            let expected = (n % 5 == 0).then_some(2_000.0);
            assert_eq!(none, expected, "{words}");
        }
        let old: Option<f64> = redis
            .zscore(key(&prefix, "queries", yesterday), "old")
            .await
            .unwrap();
        assert_eq!(old, Some(50.0));
        let ttl: i64 = redis.ttl(&queries).await.unwrap();
        assert!(ttl > 30 * 86_400, "kept {KEEP_DAYS} days, not {ttl} s");
        let keys: Vec<String> = redis.keys(format!("{prefix}*")).await.unwrap();
        assert_eq!(
            keys.len(),
            3,
            "today's two kinds and yesterday's asked: {keys:?}"
        );
        let _: () = redis.del(keys).await.unwrap();
    }

    #[test]
    fn a_flood_of_new_queries_is_capped_while_known_ones_still_count() {
        let tally = Tally::default();
        for i in 0..NOTED_MOST + 10 {
            tally.count(&format!("q{i}"), 1);
        }
        tally.count("q0", 0);
        let days = tally.take();
        let today = days.values().next().unwrap();
        assert_eq!(today.len(), NOTED_MOST);
        assert_eq!(today["q0"], (2, 1));
        assert!(!today.contains_key(&format!("q{NOTED_MOST}")));
        assert!(tally.take().is_empty(), "taken once");
    }
}
