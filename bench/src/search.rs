//! Search figures beside the scenarios: how soon a change is found, and a timed reindex.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::platform::Bench;

impl Bench {
    /// How long after a change is answered it is found: the name of `probes` products changed
    /// one after another, each searched for (past the cache) until found. `(p50, p99)` in ms.
    pub async fn update_to_searchable_ms(
        &self,
        admin: &str,
        products: &[String],
        probes: usize,
    ) -> anyhow::Result<(f64, f64)> {
        let gw = self.gateway_url();
        let mut lags = Vec::with_capacity(probes);
        for (k, id) in products
            .iter()
            .step_by((products.len() / probes).max(1))
            .take(probes)
            .enumerate()
        {
            let word = format!("lagprobe{k}x{}", &id[..8]);
            let changed = self
                .http
                .patch(format!("{gw}/api/v1/products/{id}"))
                .bearer_auth(admin)
                .json(&json!({"name": format!("Probe {word}")}))
                .send()
                .await?;
            if !changed.status().is_success() {
                bail!("renaming {id}: {}", changed.status());
            }
            let start = Instant::now();
            loop {
                let found: Value = self
                    .http
                    .get(format!("{gw}/api/v1/search?q={word}&facets=false"))
                    .header("cache-control", "no-cache")
                    .send()
                    .await?
                    .json()
                    .await?;
                let hit = found["items"]
                    .as_array()
                    .is_some_and(|items| items.iter().any(|i| i["product_id"] == id.as_str()));
                if hit {
                    break;
                }
                if start.elapsed() > Duration::from_secs(30) {
                    bail!("{id} not searchable 30 s after its change");
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            lags.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        lags.sort_by(f64::total_cmp);
        let at = |q: f64| {
            lags.get(((lags.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        Ok((at(0.5), at(0.99)))
    }

    /// Runs `kazna search reindex` against the running platform; its seconds.
    pub async fn reindex_secs(&self) -> anyhow::Result<f64> {
        let start = Instant::now();
        let status = self
            .command()
            .args(["search", "reindex"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .context("running kazna search reindex")?;
        if !status.success() {
            bail!("kazna search reindex failed: {status}");
        }
        Ok(start.elapsed().as_secs_f64())
    }
}
