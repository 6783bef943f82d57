//! Runs `wrk` with one of the bench's Lua scripts and reads the JSON line it prints.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use tokio::process::Command;

use crate::Args;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    pub requests: u64,
    pub duration_us: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub errors: u64,
    pub status_errors: u64,
    /// The status and start of the body of one failed answer, if any.
    #[serde(default)]
    pub failure_sample: String,
}

impl Measured {
    /// What the bench's own drivers measured: each request's time, `errors` of which
    /// `status_errors` were answers with a 4xx or 5xx status, over `elapsed`.
    pub fn from_times(
        mut times: Vec<Duration>,
        elapsed: Duration,
        (errors, status_errors): (u64, u64),
        failure_sample: String,
    ) -> Self {
        times.sort_unstable();
        // The nearest rank: the smallest time at least a share `q` of requests took.
        let at = |q: f64| {
            let rank = ((times.len() as f64 * q).ceil() as usize).max(1);
            times.get(rank - 1).map_or(0, |d| d.as_micros() as u64)
        };
        Self {
            requests: times.len() as u64,
            duration_us: elapsed.as_micros() as u64,
            p50_us: at(0.50),
            p99_us: at(0.99),
            errors,
            status_errors,
            failure_sample,
        }
    }

    pub fn rps(&self) -> f64 {
        self.requests as f64 / (self.duration_us.max(1) as f64 / 1e6)
    }
}

pub struct Load {
    lua: PathBuf,
    duration: u64,
    connections: u32,
    threads: u32,
}

impl Load {
    pub fn new(args: &Args, _out: &Path) -> anyhow::Result<Self> {
        let lua = std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/lua"))?;
        let found = std::process::Command::new("wrk").arg("--version").output();
        if found.is_err() {
            bail!("wrk is not installed (scripts/bench.sh installs it)");
        }
        Ok(Self {
            lua,
            duration: args.duration,
            connections: args.connections,
            threads: args.threads,
        })
    }

    /// `sequential` gives each connection its own thread, for scripts that alternate requests.
    pub async fn run(
        &self,
        base: &str,
        script: &str,
        args: &[String],
        sequential: bool,
    ) -> anyhow::Result<Measured> {
        let (threads, connections) = if sequential {
            (self.threads * 4, self.threads * 4)
        } else {
            (self.threads, self.connections)
        };
        let out = Command::new("wrk")
            .env("KAZNA_BENCH_LUA", &self.lua)
            .arg(format!("-t{threads}"))
            .arg(format!("-c{connections}"))
            .arg(format!("-d{}s", self.duration))
            .arg("--timeout")
            .arg("10s")
            .arg("-s")
            .arg(self.lua.join(script))
            .arg(base)
            .arg("--")
            .args(args)
            .output()
            .await
            .context("running wrk")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("JSON "))
            .with_context(|| {
                format!(
                    "wrk printed no result: {stdout} {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })?;
        Ok(serde_json::from_str(line)?)
    }
}
