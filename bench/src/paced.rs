//! Open-loop load: requests go out at a fixed rate whatever pace the answers come at, and each
//! is timed from when it was due, not from when it was sent.
//!
//! `wrk` keeps a fixed number of requests in flight, so it measures a server flat out: its
//! p99 is mostly the time a request waits behind the others of its 32 connections. A shop's
//! traffic does not wait for answers before it arrives; "p99 at 3,000 q/s" is the latency of
//! requests arriving at 3,000 a second. Timing each from its due time counts any wait a slow
//! answer causes the requests behind it (no "coordinated omission"); tokio's timer wakes on
//! whole milliseconds, so a figure may include up to a millisecond the server did not spend.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::{Request, client::conn::http1};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpStream, time::Instant};

use crate::wrk::Measured;

/// One paced run: `rate` requests a second for `duration` over at most `connections`.
pub struct Paced {
    pub rate: u32,
    pub duration: Duration,
    pub connections: usize,
}

/// What to ask: `GET {prefix}{one of items}` with an optional header, at `host:port`.
pub struct Target {
    addr: String,
    prefix: String,
    items: Vec<String>,
    header: Option<(String, String)>,
}

impl Target {
    /// What `get_random.lua` asks of `base` with the same arguments: a list file, a path
    /// prefix and optionally one header (`Name: value`).
    pub fn like_get_random(base: &str, args: &[String]) -> anyhow::Result<Self> {
        let [list, prefix, rest @ ..] = args else {
            anyhow::bail!("get_random.lua takes a list file and a path prefix");
        };
        let header = match rest.first() {
            None => None,
            Some(h) => {
                let (name, value) = h.split_once(':').context("a header is `Name: value`")?;
                Some((name.trim().to_owned(), value.trim().to_owned()))
            }
        };
        Ok(Self {
            addr: base.trim_start_matches("http://").to_owned(),
            prefix: prefix.clone(),
            items: std::fs::read_to_string(list)
                .with_context(|| format!("reading {list}"))?
                .lines()
                .map(str::to_owned)
                .collect(),
            header,
        })
    }
}

#[derive(Default)]
struct Tally {
    times: Vec<Duration>,
    errors: u64,
    status_errors: u64,
    failure_sample: String,
}

impl Paced {
    pub async fn run(&self, target: Target) -> anyhow::Result<Measured> {
        anyhow::ensure!(!target.items.is_empty(), "no paths to ask for");
        let total = u64::from(self.rate) * self.duration.as_secs().max(1);
        let interval = Duration::from_secs_f64(1.0 / f64::from(self.rate.max(1)));
        let target = Arc::new(target);
        let next = Arc::new(AtomicU64::new(0));
        let start = Instant::now() + Duration::from_millis(50);
        let workers: Vec<_> = (0..self.connections.max(1))
            .map(|_| {
                let (target, next) = (target.clone(), next.clone());
                tokio::spawn(async move { worker(&target, &next, total, start, interval).await })
            })
            .collect();
        let mut all = Tally::default();
        for w in workers {
            let t = w.await.context("a paced worker stopped")??;
            all.times.extend(t.times);
            all.errors += t.errors;
            all.status_errors += t.status_errors;
            if all.failure_sample.is_empty() {
                all.failure_sample = t.failure_sample;
            }
        }
        Ok(Measured::from_times(
            all.times,
            start.elapsed(),
            (all.errors, all.status_errors),
            all.failure_sample,
        ))
    }
}

type Sender = http1::SendRequest<Empty<Bytes>>;

async fn connect(addr: &str) -> anyhow::Result<Sender> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Takes the next due request, waits for its time, asks, and notes how long after its due
/// time the whole answer was in; until all `total` are taken.
async fn worker(
    target: &Target,
    next: &AtomicU64,
    total: u64,
    start: Instant,
    interval: Duration,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let mut sender: Option<Sender> = None;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total {
            return Ok(tally);
        }
        let due = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due).await;
        let path = &target.items[(mix(i) % target.items.len() as u64) as usize];
        let answer = async {
            let s = match sender.as_mut() {
                Some(s) if !s.is_closed() => s,
                _ => sender.insert(connect(&target.addr).await?),
            };
            s.ready().await?;
            let mut req = Request::get(format!("{}{path}", target.prefix))
                .header(hyper::header::HOST, target.addr.as_str());
            if let Some((name, value)) = &target.header {
                req = req.header(name.as_str(), value.as_str());
            }
            let res = s.send_request(req.body(Empty::new())?).await?;
            let status = res.status();
            let body = res.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        };
        match answer.await {
            Ok((status, body)) => {
                tally.times.push(due.elapsed());
                if !status.is_success() {
                    tally.status_errors += 1;
                    tally.errors += 1;
                    if tally.failure_sample.is_empty() {
                        let start = String::from_utf8_lossy(&body[..body.len().min(200)]);
                        tally.failure_sample = format!("{status} {start}");
                    }
                }
            }
            Err(e) => {
                tally.errors += 1;
                sender = None;
                if tally.failure_sample.is_empty() {
                    tally.failure_sample = e.to_string();
                }
            }
        }
    }
}

/// Spreads request numbers over the list (splitmix64), the same order in every run.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use axum::{Router, routing::get};

    use super::{Paced, Target};

    /// A server that takes 20 ms an answer, asked over one connection 100 times a second,
    /// answers 50 a second: the requests queue, and a driver that timed each from when it
    /// was sent would still say 20 ms.
    #[tokio::test]
    async fn a_slow_answer_counts_against_the_requests_queued_behind_it() {
        let app = Router::new().route(
            "/slow/{n}",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                "done"
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let target = Target {
            addr,
            prefix: "/slow/".into(),
            items: vec!["1".into(), "2".into()],
            header: None,
        };
        let paced = Paced {
            rate: 100,
            duration: Duration::from_secs(1),
            connections: 1,
        };
        let m = paced.run(target).await.unwrap();
        assert_eq!((m.requests, m.errors), (100, 0));
        // The last requests wait for the 99 before them: about a second. Sent on time, each
        // would take 20 ms.
        assert!(m.p99_us > 500_000, "p99 {} µs", m.p99_us);
        assert!(m.p50_us > 100_000, "p50 {} µs", m.p50_us);
        assert!(m.rps() < 75.0, "{} answers a second", m.rps());
    }

    #[test]
    fn reads_the_arguments_get_random_lua_takes() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("queries.txt");
        std::fs::write(&list, "lamp\nred%20chair\n").unwrap();
        let list = list.to_string_lossy().into_owned();
        let t = Target::like_get_random(
            "http://127.0.0.1:19080",
            &[
                list.clone(),
                "/api/v1/search?q=".into(),
                "Cache-Control: no-cache".into(),
            ],
        )
        .unwrap();
        assert_eq!(t.addr, "127.0.0.1:19080");
        assert_eq!(t.items, ["lamp", "red%20chair"]);
        assert_eq!(
            t.header,
            Some(("Cache-Control".to_owned(), "no-cache".to_owned()))
        );
        let bare = Target::like_get_random("http://127.0.0.1:1", &[list, "/x/".into()]).unwrap();
        assert!(bare.header.is_none());
        assert!(Target::like_get_random("http://127.0.0.1:1", &[]).is_err());
    }
}
