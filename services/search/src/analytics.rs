//! What shoppers look for: each query, in its normalised words, counted per day in Redis
//! (and separately when it found nothing), for admins to read over a window. Counting never
//! slows or fails a search: it happens after the answer, and a Redis that is away only
//! loses the count.

use chrono::{Duration, NaiveDate, Utc};
use redis::aio::ConnectionManager;
use serde::Serialize;
use utoipa::ToSchema;

/// Days a count is kept.
pub const KEEP_DAYS: i64 = 31;
/// Distinct queries kept per day and kind; the least asked go first.
const DISTINCT: isize = 10_000;

fn key(prefix: &str, kind: &str, day: NaiveDate) -> String {
    format!("{prefix}search:{kind}:{day}")
}

/// Counts one search for `words` (lower case, as the index read them).
pub async fn count(mut redis: ConnectionManager, prefix: String, words: String, found: usize) {
    if words.is_empty() {
        return;
    }
    let today = Utc::now().date_naive();
    let mut pipe = redis::pipe();
    let mut kinds = vec!["queries"];
    if found == 0 {
        kinds.push("zero");
    }
    for kind in kinds {
        let k = key(&prefix, kind, today);
        pipe.zincr(&k, &words, 1)
            .ignore()
            .expire(&k, KEEP_DAYS * 86_400)
            .ignore()
            .zremrangebyrank(&k, 0, -(DISTINCT + 1))
            .ignore();
    }
    if let Err(e) = pipe.query_async::<()>(&mut redis).await {
        tracing::debug!(error = %e, "search: a query went uncounted");
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
