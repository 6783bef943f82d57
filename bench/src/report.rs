//! The bench table and `report.json`.

use serde::Serialize;

use crate::{Args, wrk::Measured};

#[derive(Debug, Serialize)]
pub struct Scenario {
    pub name: String,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    /// Answers with a 4xx or 5xx status (the rest of `errors` are socket errors and timeouts).
    pub status_errors: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub failure_sample: String,
    pub requests: u64,
    /// Which ceiling it is compared with.
    pub ceiling: Option<&'static str>,
    pub ratio: Option<f64>,
}

impl Scenario {
    pub fn new(name: impl Into<String>, ceiling: Option<&'static str>, m: Measured) -> Self {
        Self {
            name: name.into(),
            rps: m.rps(),
            p50_ms: m.p50_us as f64 / 1000.0,
            p99_ms: m.p99_us as f64 / 1000.0,
            errors: m.errors,
            status_errors: m.status_errors,
            failure_sample: m.failure_sample,
            requests: m.requests,
            ceiling,
            ratio: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub products: usize,
    pub duration_secs: u64,
    pub connections: u32,
    /// `kazna up` (one process), or one process per service.
    pub processes: &'static str,
    pub seed_secs: f64,
    pub index_secs: f64,
    pub idle_rss_mib: f64,
    pub peak_rss_mib: f64,
    pub orders_placed: i64,
    pub orders_paid: i64,
    pub payment_drain_secs: f64,
    /// From placing an order to its being paid, over every paid order of the run.
    pub place_to_paid_p50_ms: f64,
    pub place_to_paid_p99_ms: f64,
    /// Orders placed per second in the checkout scenario (half its requests), and that as a
    /// share of the TPC-B-like ceiling.
    pub checkout_orders_per_sec: Option<f64>,
    pub checkout_ratio_to_tpcb: Option<f64>,
    pub shutdown_secs: f64,
    pub search: Option<SearchFigures>,
    pub scenarios: Vec<Scenario>,
}

/// Search figures beside the scenarios.
#[derive(Debug, Clone, Serialize)]
pub struct SearchFigures {
    /// From a product change answered to the product found by a search.
    pub update_to_searchable_p50_ms: f64,
    pub update_to_searchable_p99_ms: f64,
    /// `kazna search reindex` of every product, swap included.
    pub reindex_secs: f64,
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        args: &Args,
        mut scenarios: Vec<Scenario>,
        seed_secs: f64,
        index_secs: f64,
        idle_rss_kib: u64,
        peak_rss_kib: u64,
        (placed, paid, drain): (i64, i64, f64),
        (to_paid_p50, to_paid_p99): (f64, f64),
        shutdown_secs: f64,
        search: Option<SearchFigures>,
    ) -> Self {
        let ceiling = |key: &str, list: &[Scenario]| {
            list.iter()
                .find(|s| s.name.starts_with("ceiling") && s.name.contains(key))
                .map(|s| s.rps)
        };
        let pg = ceiling("postgres", &scenarios);
        let redis = ceiling("redis", &scenarios);
        let tpcb = ceiling("tpc-b", &scenarios);
        for s in &mut scenarios {
            let base = match s.ceiling {
                Some("postgres") => pg,
                Some("redis") => redis,
                Some("tpc-b") => tpcb,
                _ => None,
            };
            s.ratio = base.filter(|b| *b > 0.0).map(|b| s.rps / b);
        }
        let checkout = scenarios
            .iter()
            .find(|s| s.name.starts_with("checkout"))
            .map(|s| s.rps / 2.0);
        Self {
            checkout_orders_per_sec: checkout,
            checkout_ratio_to_tpcb: checkout
                .zip(tpcb)
                .filter(|(_, t)| *t > 0.0)
                .map(|(c, t)| c / t),
            place_to_paid_p50_ms: to_paid_p50,
            place_to_paid_p99_ms: to_paid_p99,
            products: args.products,
            duration_secs: args.duration,
            connections: args.connections,
            processes: if args.separate {
                "one per service"
            } else {
                "one (kazna up)"
            },
            seed_secs,
            index_secs,
            idle_rss_mib: idle_rss_kib as f64 / 1024.0,
            peak_rss_mib: peak_rss_kib as f64 / 1024.0,
            orders_placed: placed,
            orders_paid: paid,
            payment_drain_secs: drain,
            shutdown_secs,
            search,
            scenarios,
        }
    }

    #[allow(clippy::print_stdout)]
    pub fn print(&self) {
        println!(
            "\nKazna bench: {} products, {} s per scenario, {} connections, processes: {}\n",
            self.products, self.duration_secs, self.connections, self.processes
        );
        println!("| scenario | req/s | p50 ms | p99 ms | errors | ratio to ceiling |");
        println!("|---|---:|---:|---:|---:|---|");
        for s in &self.scenarios {
            let ratio = match (s.ratio, s.ceiling) {
                (Some(r), Some(c)) => format!("{r:.2} of {c}"),
                _ => "—".into(),
            };
            println!(
                "| {} | {:.0} | {:.2} | {:.2} | {} | {} |",
                s.name, s.rps, s.p50_ms, s.p99_ms, s.errors, ratio
            );
        }
        for s in self
            .scenarios
            .iter()
            .filter(|s| !s.failure_sample.is_empty())
        {
            println!("failure in {}: {}", s.name, s.failure_sample);
        }
        if let (Some(c), Some(r)) = (self.checkout_orders_per_sec, self.checkout_ratio_to_tpcb) {
            println!("\ncheckout: {c:.0} orders/s, {r:.3} of the pgbench TPC-B ceiling");
        }
        if let Some(f) = &self.search {
            println!(
                "search: update to searchable p50 {:.1} ms, p99 {:.1} ms; reindex {:.1} s",
                f.update_to_searchable_p50_ms, f.update_to_searchable_p99_ms, f.reindex_secs
            );
        }
        println!(
            "placing to paid: p50 {:.1} ms, p99 {:.1} ms",
            self.place_to_paid_p50_ms, self.place_to_paid_p99_ms
        );
        println!(
            "\nplatform RSS: idle {:.0} MiB, peak {:.0} MiB; seed {:.1} s; index {:.1} s; \
             orders placed {} / paid {} (drained in {:.1} s); shutdown {:.2} s",
            self.idle_rss_mib,
            self.peak_rss_mib,
            self.seed_secs,
            self.index_secs,
            self.orders_placed,
            self.orders_paid,
            self.payment_drain_secs,
            self.shutdown_secs
        );
    }
}
