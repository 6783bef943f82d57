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
    pub addr: String,
    pub prefix: String,
    pub items: Vec<String>,
    pub header: Option<(String, String)>,
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
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
            all.latencies_us.extend(t.latencies_us);
            all.errors += t.errors;
            all.status_errors += t.status_errors;
            if all.failure_sample.is_empty() {
                all.failure_sample = t.failure_sample;
            }
        }
        let elapsed = start.elapsed();
        all.latencies_us.sort_unstable();
        let at = |q: f64| {
            let n = all.latencies_us.len();
            if n == 0 {
                return 0;
            }
            all.latencies_us[((n as f64 * q).ceil() as usize).clamp(1, n) - 1]
        };
        Ok(Measured {
            requests: all.latencies_us.len() as u64,
            duration_us: elapsed.as_micros() as u64,
            p50_us: at(0.50),
            p99_us: at(0.99),
            errors: all.errors,
            status_errors: all.status_errors,
            failure_sample: all.failure_sample,
        })
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
                tally.latencies_us.push(due.elapsed().as_micros() as u64);
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
