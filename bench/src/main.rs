//! `kazna-bench`: seeds a shop, runs the platform in release mode, drives it with `wrk`, and
//! measures two ceilings on the same machine in the same run, so figures are comparable
//! however busy the machine is. Writes `target/bench/report.json`.

mod ceiling;
mod lifecycle;
mod paced;
mod platform;
mod report;
mod search;
mod wrk;

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use clap::Parser;

use crate::{
    platform::Bench,
    report::{Report, Scenario},
    wrk::Load,
};

#[derive(Parser, Debug, Clone)]
#[command(about = "Load scenarios against a seeded Kazna, with same-run ceilings")]
pub struct Args {
    /// Products to seed.
    #[arg(long, default_value_t = 10_000)]
    pub products: usize,
    /// Seconds each scenario runs.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Open connections per scenario.
    #[arg(long, default_value_t = 32)]
    pub connections: u32,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    pub threads: u32,
    /// The release binary to run.
    #[arg(long, default_value = "target/release/kazna")]
    pub kazna: PathBuf,
    /// Where the report, the platform's log and scratch files go.
    #[arg(long, default_value = "target/bench")]
    pub out: PathBuf,
    /// Leave the bench databases in place afterwards, to look into them.
    #[arg(long)]
    pub keep: bool,
    /// Start from what an earlier run left (with `--keep`, or after a failure) instead of
    /// dropping it: the seed then only adds what is missing.
    #[arg(long)]
    pub no_reset: bool,
    /// Run only the scenarios whose name contains this.
    #[arg(long)]
    pub only: Option<String>,
    /// Run every service in a process of its own (`kazna serve`), so the gateway and the
    /// services reach each other over HTTP, as on Kubernetes; the default is `kazna up`.
    #[arg(long)]
    pub separate: bool,
    /// The rate at which the paced search scenarios send requests, per second.
    #[arg(long, default_value_t = 3_000)]
    pub paced_rate: u32,
    /// The most requests a paced scenario has in flight (its connections).
    #[arg(long, default_value_t = 128)]
    pub paced_connections: usize,
}

/// Asks search to answer from its index, past the hot-query cache.
const NO_CACHE: &str = "Cache-Control: no-cache";

/// The scenarios that also run paced (see [`paced`]): searches answered from the index.
const PACED: [&str; 4] = [
    "search: plain (index)",
    "search: filtered and sorted (index)",
    "search: with facets (index)",
    "search: suggest",
];

/// Prints what a scenario measured as it goes, so a later failure does not lose it.
fn noted(s: Scenario) -> Scenario {
    eprintln!(
        "bench:   {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
        s.rps, s.p50_ms, s.p99_ms, s.errors
    );
    s
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let out = std::fs::canonicalize(&args.out)?;
    let bench = Bench::new(&args, &out)?;
    if !args.no_reset {
        bench.reset().await?;
    }

    let wanted = |name: &str| {
        args.only
            .as_deref()
            .is_none_or(|o| name.starts_with("ceiling") || name.contains(o))
    };
    eprintln!("bench: seeding {} products", args.products);
    let seed_secs = bench.seed(args.products).await?;
    let vacuum_secs = bench.vacuum().await?;
    eprintln!("bench: seeded in {seed_secs:.0} s, vacuumed in {vacuum_secs:.1} s");
    // Before the platform starts: pgbench needs connections the platform's pools would hold.
    let mut scenarios = Vec::new();
    if wanted("order lifecycle") {
        eprintln!("bench: ceiling: pgbench tpc-b");
        let tps = ceiling::pgbench(
            &bench.settings,
            args.connections,
            args.threads,
            args.duration,
        )
        .await?;
        scenarios.push(Scenario::new(
            "ceiling: pgbench tpc-b (transactions)",
            None,
            wrk::Measured {
                requests: (tps * args.duration as f64) as u64,
                duration_us: args.duration * 1_000_000,
                p50_us: 0,
                p99_us: 0,
                errors: 0,
                status_errors: 0,
                failure_sample: String::new(),
            },
        ));
    }
    let running = bench.start(&out.join("kazna.log"), args.separate).await?;
    eprintln!(
        "bench: platform up in {:.2} s, idle RSS {} MiB",
        running.startup_secs,
        running.rss_kib() / 1024
    );
    let indexed_secs = bench
        .wait_indexed(args.products, Duration::from_secs(600))
        .await?;
    let idle_rss_kib = running.rss_kib();

    let lists = bench.write_lists(&out).await?;
    let buyers = (args.threads.max(2) as usize * 4).max(args.connections as usize);
    let tokens = bench.buyers(buyers, &out).await?;
    let variant_ids: Vec<String> = std::fs::read_to_string(&lists.variants)?
        .lines()
        .map(str::to_owned)
        .collect();
    let carts = bench.guest_carts(64, &variant_ids, &out).await?;
    let pg = ceiling::start_postgres(&bench.settings).await?;
    let redis = ceiling::start_redis(&bench.settings).await?;

    let load = Load::new(&args, &out)?;
    let gw = bench.gateway_url();
    let run =
        |name: &'static str,
         base: String,
         script: &'static str,
         script_args: Vec<String>,
         ceiling: Option<&'static str>| { (name, base, script, script_args, ceiling) };
    let plan = vec![
        run(
            "ceiling: postgres pk select",
            pg.clone(),
            "get_random.lua",
            vec![lists.products.clone(), "/pg/".into()],
            None,
        ),
        run(
            "ceiling: redis hset",
            redis.clone(),
            "get_random.lua",
            vec![lists.variants.clone(), "/redis/".into()],
            None,
        ),
        run(
            "product by id",
            gw.clone(),
            "get_random.lua",
            vec![lists.products.clone(), "/api/v1/products/".into()],
            Some("postgres"),
        ),
        run(
            "product list",
            gw.clone(),
            "get_random.lua",
            vec![lists.pages.clone(), "/api/v1/products?limit=20".into()],
            Some("postgres"),
        ),
        run(
            "search: hot queries (cache)",
            gw.clone(),
            "get_random.lua",
            vec![lists.queries.clone(), "/api/v1/search?q=".into()],
            Some("postgres"),
        ),
        run(
            "search: plain (index)",
            gw.clone(),
            "get_random.lua",
            vec![
                lists.searches.clone(),
                "/api/v1/search?facets=false&q=".into(),
                NO_CACHE.into(),
            ],
            Some("postgres"),
        ),
        run(
            "search: filtered and sorted (index)",
            gw.clone(),
            "get_random.lua",
            vec![
                lists.filtered.clone(),
                "/api/v1/search?facets=false&q=".into(),
                NO_CACHE.into(),
            ],
            Some("postgres"),
        ),
        run(
            "search: with facets (index)",
            gw.clone(),
            "get_random.lua",
            vec![
                lists.searches.clone(),
                "/api/v1/search?q=".into(),
                NO_CACHE.into(),
            ],
            Some("postgres"),
        ),
        run(
            "search: suggest",
            gw.clone(),
            "get_random.lua",
            vec![lists.prefixes.clone(), "/api/v1/search/suggest?q=".into()],
            Some("postgres"),
        ),
        run(
            "page: home",
            gw.clone(),
            "get_random.lua",
            vec![lists.home.clone(), "/".into()],
            Some("postgres"),
        ),
        run(
            "page: category",
            gw.clone(),
            "get_random.lua",
            vec![lists.categories.clone(), "/categories/".into()],
            Some("postgres"),
        ),
        run(
            "page: search",
            gw.clone(),
            "get_random.lua",
            vec![lists.searches.clone(), "/search?q=".into()],
            Some("postgres"),
        ),
        run(
            "page: product",
            gw.clone(),
            "get_random.lua",
            vec![lists.products.clone(), "/products/".into()],
            Some("postgres"),
        ),
        run(
            "add to cart",
            gw.clone(),
            "add_to_cart.lua",
            vec![lists.variants.clone()],
            Some("redis"),
        ),
        run(
            "cart read (3 lines)",
            gw.clone(),
            "cart_read.lua",
            vec![carts.clone()],
            Some("redis"),
        ),
        run(
            "profile (users/me)",
            gw.clone(),
            "me.lua",
            vec![tokens.clone()],
            Some("redis"),
        ),
        run(
            "login (Argon2id)",
            gw.clone(),
            "login.lua",
            vec![buyers.to_string()],
            Some("postgres"),
        ),
        run(
            "checkout (add + place, paid by sandbox)",
            gw.clone(),
            "checkout.lua",
            vec![lists.variants.clone(), tokens.clone()],
            Some("postgres"),
        ),
    ];
    for (name, base, script, script_args, ceiling) in plan.iter().filter(|p| wanted(p.0)) {
        eprintln!("bench: {name}");
        let sequential = *script == "checkout.lua";
        let m = load
            .run(base, script, script_args, sequential)
            .await
            .with_context(|| format!("scenario {name}"))?;
        scenarios.push(noted(Scenario::new(*name, *ceiling, m)));
    }
    // The search scenarios again, as a shop's traffic comes: at a set rate, not flat out.
    let paced = paced::Paced {
        rate: args.paced_rate,
        duration: Duration::from_secs(args.duration),
        connections: args.paced_connections,
    };
    if let Some(missing) = PACED.iter().find(|n| !plan.iter().any(|p| p.0 == **n)) {
        anyhow::bail!("the paced scenario {missing} is not in the plan");
    }
    for (name, base, _, script_args, ceiling) in plan.iter().filter(|p| PACED.contains(&p.0)) {
        let name = format!("{name}, paced at {} q/s", args.paced_rate);
        if !wanted(&name) {
            continue;
        }
        eprintln!("bench: {name}");
        let target = paced::Target::like_get_random(base, script_args)?;
        let m = paced
            .run(target)
            .await
            .with_context(|| format!("scenario {name}"))?;
        scenarios.push(noted(Scenario::new(name, *ceiling, m)));
    }
    // One admin, made once, for the lifecycle and the search figures.
    let admin = bench.admin().await?;
    if wanted("order lifecycle") {
        eprintln!("bench: order lifecycle");
        let tokens_list = std::fs::read_to_string(&tokens)?;
        let driver = lifecycle::Driver {
            gateway: gw.clone(),
            admin: admin.clone(),
            buyers: tokens_list
                .lines()
                .take(args.connections as usize)
                .map(str::to_owned)
                .collect(),
            variants: std::fs::read_to_string(&lists.variants)?
                .lines()
                .map(str::to_owned)
                .collect(),
            duration: Duration::from_secs(args.duration),
        };
        let m = driver.run().await?;
        scenarios.push(Scenario::new(
            "order lifecycle (place, paid, shipped, delivered)",
            Some("tpc-b"),
            m,
        ));
    }
    let search = if wanted("search") {
        eprintln!("bench: search: update to searchable, reindex");
        let products: Vec<String> = std::fs::read_to_string(&lists.products)?
            .lines()
            .map(str::to_owned)
            .collect();
        let lag = bench.update_to_searchable_ms(&admin, &products, 50).await?;
        let reindex_secs = bench.reindex_secs().await?;
        Some(report::SearchFigures {
            update_to_searchable_p50_ms: lag.0,
            update_to_searchable_p99_ms: lag.1,
            reindex_secs,
        })
    } else {
        None
    };
    let orders = bench.orders_paid(Duration::from_secs(60)).await?;
    let place_to_paid = bench.place_to_paid_ms().await?;
    let peak_rss_kib = running.peak_rss_kib();
    let shutdown_secs = running.stop().await?;

    let report = Report::new(
        &args,
        scenarios,
        seed_secs,
        indexed_secs,
        idle_rss_kib,
        peak_rss_kib,
        orders,
        place_to_paid,
        shutdown_secs,
        search,
    );
    report.print();
    let path = out.join("report.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    eprintln!("bench: wrote {}", path.display());
    if !args.keep {
        bench.reset().await?;
    }
    Ok(())
}
