//! The order lifecycle scenario: each connection is a buyer who adds a random variant to the
//! cart, places the order, waits until it is paid, and an admin ships and delivers it. A
//! lifecycle is one unit of work; its rate and latencies are reported like a scenario's.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::wrk::Measured;

pub struct Driver {
    pub gateway: String,
    pub admin: String,
    pub buyers: Vec<String>,
    pub variants: Vec<String>,
    pub duration: Duration,
}

fn address() -> Value {
    json!({"name": "Bench", "line1": "1 Load St", "city": "Berlin", "postal_code": "10115", "country": "DE"})
}

impl Driver {
    /// Runs one buyer per token until the time is up; returns the lifecycles measured.
    pub async fn run(&self) -> anyhow::Result<Measured> {
        let http = reqwest::Client::new();
        let start = Instant::now();
        let until = start + self.duration;
        let runs = self
            .buyers
            .iter()
            .enumerate()
            .map(|(i, token)| self.buyer(&http, i, token, until));
        let mut took = Vec::new();
        let (mut errors, mut sample) = (0, String::new());
        for r in futures_util::future::join_all(runs).await {
            let (done, failed, why) = r?;
            took.extend(done);
            errors += failed;
            if sample.is_empty() {
                sample = why;
            }
        }
        Ok(Measured::from_times(
            took,
            start.elapsed(),
            (errors, errors),
            sample,
        ))
    }

    /// One buyer's lifecycles: how long each took, failures and a sample of one.
    async fn buyer(
        &self,
        http: &reqwest::Client,
        n: usize,
        token: &str,
        until: Instant,
    ) -> anyhow::Result<(Vec<Duration>, u64, String)> {
        let (mut done, mut failed, mut sample) = (Vec::new(), 0, String::new());
        let mut i = n;
        while Instant::now() < until {
            i += self.buyers.len();
            let t = Instant::now();
            match self
                .one(http, token, &self.variants[i % self.variants.len()], i)
                .await
            {
                Ok(()) => done.push(t.elapsed()),
                Err(e) => {
                    failed += 1;
                    if sample.is_empty() {
                        sample = format!("{e:#}");
                    }
                }
            }
        }
        Ok((done, failed, sample))
    }

    async fn one(
        &self,
        http: &reqwest::Client,
        token: &str,
        variant: &str,
        i: usize,
    ) -> anyhow::Result<()> {
        let gw = &self.gateway;
        let post = |path: String, who: &str, body: Value| {
            http.post(format!("{gw}{path}"))
                .bearer_auth(who)
                .json(&body)
        };
        let added = post(
            "/api/v1/cart/items".into(),
            token,
            json!({"variant_id": variant, "quantity": 1}),
        )
        .send()
        .await?;
        anyhow::ensure!(
            added.status().is_success(),
            "add to cart: {}",
            added.status()
        );
        let placed = post(
            "/api/v1/orders".into(),
            token,
            json!({"payment_method": "pm_card_visa", "shipping_address": address()}),
        )
        .header(
            "Idempotency-Key",
            format!("lifecycle-{i}-{}", uuid::Uuid::now_v7()),
        )
        .send()
        .await?;
        anyhow::ensure!(placed.status().is_success(), "place: {}", placed.status());
        let order: Value = placed.json().await?;
        let id = order["id"].as_str().context("an order id")?;
        let paid_by = Instant::now() + Duration::from_secs(30);
        loop {
            let o: Value = http
                .get(format!("{gw}/api/v1/orders/{id}"))
                .bearer_auth(token)
                .send()
                .await?
                .json()
                .await?;
            match o["status"].as_str() {
                Some("paid") => break,
                Some("pending_payment") if Instant::now() < paid_by => {
                    tokio::time::sleep(Duration::from_millis(5)).await
                }
                other => anyhow::bail!("order {id} is {other:?}"),
            }
        }
        for status in ["shipped", "delivered"] {
            let body =
                json!({"status": status, "carrier": "Bench", "tracking_number": format!("B{i}")});
            let r = post(format!("/api/v1/orders/{id}/status"), &self.admin, body)
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "{status}: {}", r.status());
        }
        Ok(())
    }
}
