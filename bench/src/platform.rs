//! The platform under test: its own databases, keys, queues and ports, run from the release
//! binary as a separate process, as a shop would run it.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use kazna_kernel::Settings;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::process::{Child, Command};

use crate::Args;

const FIRST_PORT: u16 = 19080;

pub struct Bench {
    pub settings: Settings,
    kazna: PathBuf,
    env: Vec<(String, String)>,
    pub(crate) http: reqwest::Client,
}

pub struct Lists {
    pub products: String,
    pub variants: String,
    pub pages: String,
    /// The few queries a shop hears most: the hot-query cache answers them.
    pub queries: String,
    /// Many distinct queries of one to three words, some misspelt.
    pub searches: String,
    /// The same with filters: price range, stock, a colour, a sort.
    pub filtered: String,
    /// Beginnings of words, as typed.
    pub prefixes: String,
    /// Every category's id.
    pub categories: String,
    /// One empty line: the storefront's home page is the prefix alone.
    pub home: String,
}

/// The platform's processes: one running `kazna up`, or one per service with `--separate`.
pub struct Running {
    children: Vec<(Child, u32)>,
    pub startup_secs: f64,
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

impl Running {
    /// Resident memory of all the platform's processes together.
    pub fn rss_kib(&self) -> u64 {
        self.children
            .iter()
            .map(|(_, pid)| proc_status_kib(*pid, "VmRSS:"))
            .sum()
    }

    /// The sum of each process's peak.
    pub fn peak_rss_kib(&self) -> u64 {
        self.children
            .iter()
            .map(|(_, pid)| proc_status_kib(*pid, "VmHWM:"))
            .sum()
    }

    /// SIGTERM to every process, then waits for the drain; returns how long the shutdown took.
    pub async fn stop(self) -> anyhow::Result<f64> {
        let start = Instant::now();
        for (_, pid) in &self.children {
            Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await?;
        }
        for (mut child, _) in self.children {
            match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
                Ok(status) => {
                    let status = status?;
                    if !status.success() {
                        bail!("kazna exited with {status} after SIGTERM");
                    }
                }
                Err(_) => {
                    child.kill().await?;
                    bail!("kazna did not stop within 30 s of SIGTERM");
                }
            }
        }
        Ok(start.elapsed().as_secs_f64())
    }
}

impl Bench {
    pub fn new(args: &Args, out: &Path) -> anyhow::Result<Self> {
        let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let mut env: Vec<(String, String)> = vec![
            ("KAZNA_DATABASE__NAME_PREFIX".into(), "kbench_".into()),
            ("KAZNA_REDIS__KEY_PREFIX".into(), "kbench:".into()),
            (
                "KAZNA_AMQP__EXCHANGE".into(),
                format!("kbench.{run}.events"),
            ),
            ("KAZNA_AMQP__QUEUE_PREFIX".into(), format!("kbench.{run}")),
            ("KAZNA_AMQP__QUEUE_EXPIRES_MS".into(), "60000".into()),
            ("KAZNA_LOG__LEVEL".into(), "warn,lapin=off".into()),
            ("KAZNA_AUTH__INTERNAL_TOKEN".into(), format!("bench-{run}")),
            (
                "KAZNA_SEARCH__DATA_DIR".into(),
                out.join("search").display().to_string(),
            ),
            (
                "KAZNA_NOTIFICATIONS__OUTBOX_DIR".into(),
                out.join("outbox").display().to_string(),
            ),
        ];
        for (i, (name, _)) in Settings::default().services.all().iter().enumerate() {
            let name = name.to_uppercase();
            let port = FIRST_PORT + i as u16;
            env.push((
                format!("KAZNA_SERVICES__{name}__BIND"),
                format!("127.0.0.1:{port}"),
            ));
            env.push((
                format!("KAZNA_SERVICES__{name}__URL"),
                format!("http://127.0.0.1:{port}"),
            ));
        }
        let gw = format!("http://127.0.0.1:{FIRST_PORT}");
        env.push(("KAZNA_GATEWAY__PUBLIC_URL".into(), gw.clone()));
        env.push((
            "KAZNA_PAYMENTS__SANDBOX_WEBHOOK_URL".into(),
            format!("{gw}/webhooks/payments/sandbox"),
        ));
        // The same settings, as this process needs them to reach the bench's data.
        let settings = bench_settings(&env)?;
        Ok(Self {
            settings,
            kazna: args.kazna.clone(),
            env,
            http: reqwest::Client::new(),
        })
    }

    pub fn gateway_url(&self) -> String {
        self.settings.gateway.public_url.clone()
    }

    pub(crate) fn command(&self) -> Command {
        let mut c = Command::new(&self.kazna);
        c.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    /// The bench's databases, by name.
    async fn databases(&self) -> anyhow::Result<Vec<String>> {
        let admin = PgPool::connect(&format!("{}/postgres", self.settings.database.url)).await?;
        let dbs =
            sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'kbench\\_%'")
                .fetch_all(&admin)
                .await?;
        admin.close().await;
        Ok(dbs)
    }

    /// Drops the bench databases, keys and index left by an earlier run.
    pub async fn reset(&self) -> anyhow::Result<()> {
        let dbs = self.databases().await?;
        for db in dbs {
            kazna_kernel::db::drop_database(&self.settings, &db).await?;
        }
        let mut redis = kazna_kernel::db::redis(&self.settings).await?;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("kbench:*")
            .query_async(&mut redis)
            .await?;
        for chunk in keys.chunks(1000) {
            let _: () = redis::cmd("DEL").arg(chunk).query_async(&mut redis).await?;
        }
        let index = PathBuf::from(self.env_value("KAZNA_SEARCH__DATA_DIR"));
        if index.exists() {
            std::fs::remove_dir_all(&index)?;
        }
        Ok(())
    }

    fn env_value(&self, key: &str) -> String {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Loads the demo shop with `products` products; returns the seconds it took.
    pub async fn seed(&self, products: usize) -> anyhow::Result<f64> {
        let start = Instant::now();
        let status = self
            .command()
            .args(["seed", "--demo", "--products", &products.to_string()])
            .stdout(Stdio::null())
            .status()
            .await
            .context("running kazna seed")?;
        if !status.success() {
            bail!("kazna seed failed: {status}");
        }
        Ok(start.elapsed().as_secs_f64())
    }

    /// Vacuums and analyses every bench database, as autovacuum would have soon after a
    /// load: the seed leaves the outboxes full of dead rows, and a machine that runs with
    /// autovacuum off would otherwise measure scans over them.
    pub async fn vacuum(&self) -> anyhow::Result<f64> {
        let start = Instant::now();
        let dbs = self.databases().await?;
        for db in dbs {
            let pool = PgPool::connect(&format!("{}/{db}", self.settings.database.url)).await?;
            sqlx::raw_sql("VACUUM (ANALYZE)")
                .execute(&pool)
                .await
                .with_context(|| format!("vacuuming {db}"))?;
            pool.close().await;
        }
        Ok(start.elapsed().as_secs_f64())
    }

    /// Starts `kazna up` (or, `separate`, one `kazna serve` per service, as containers would
    /// run them) and waits until every service is ready.
    pub async fn start(&self, log: &Path, separate: bool) -> anyhow::Result<Running> {
        let start = Instant::now();
        let log = std::fs::File::create(log)?;
        let commands: Vec<Vec<&str>> = if separate {
            self.settings
                .services
                .all()
                .iter()
                .map(|(name, _)| vec!["serve", name])
                .collect()
        } else {
            vec![vec!["up"]]
        };
        let mut children = Vec::new();
        for args in commands {
            let child = self
                .command()
                .args(args)
                .stdout(log.try_clone()?)
                .stderr(log.try_clone()?)
                .kill_on_drop(true)
                .spawn()?;
            let pid = child.id().context("no pid")?;
            children.push((child, pid));
        }
        for (_, ep) in self.settings.services.all() {
            let url = &ep.url;
            loop {
                let ready = self.http.get(format!("{url}/health/ready")).send().await;
                if ready.is_ok_and(|r| r.status().is_success()) {
                    break;
                }
                // A search instance is ready once it has pulled every product.
                if start.elapsed() > Duration::from_secs(900) {
                    bail!("{url} not ready after 900 s");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(Running {
            children,
            startup_secs: start.elapsed().as_secs_f64(),
        })
    }

    /// Waits until search has indexed every product; returns the seconds it took.
    pub async fn wait_indexed(&self, products: usize, limit: Duration) -> anyhow::Result<f64> {
        let start = Instant::now();
        loop {
            let res: Value = self
                .http
                .get(format!("{}/api/v1/search?q=&limit=1", self.gateway_url()))
                .send()
                .await?
                .json()
                .await?;
            let total = res["total"].as_u64().unwrap_or(0) as usize;
            if total >= products {
                return Ok(start.elapsed().as_secs_f64());
            }
            if start.elapsed() > limit {
                bail!("search indexed {total} of {products} products in {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn pool(&self, service: &str) -> anyhow::Result<PgPool> {
        Ok(PgPool::connect(&self.settings.database_url(service)).await?)
    }

    /// Files of ids and queries the load scripts pick from at random.
    pub async fn write_lists(&self, out: &Path) -> anyhow::Result<Lists> {
        let catalog = self.pool("catalog").await?;
        let products: Vec<uuid::Uuid> =
            sqlx::query_scalar("SELECT id FROM products WHERE status = 'active'")
                .fetch_all(&catalog)
                .await?;
        let variants: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM variants")
            .fetch_all(&catalog)
            .await?;
        let categories: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM categories")
            .fetch_all(&catalog)
            .await?;
        let write = |name: &str, lines: Vec<String>| -> anyhow::Result<String> {
            let path = out.join(name);
            std::fs::write(&path, lines.join("\n") + "\n")?;
            Ok(path.display().to_string())
        };
        let mut pages: Vec<String> = products
            .iter()
            .step_by(7)
            .map(|id| format!("&cursor={id}"))
            .collect();
        pages.push(String::new());
        let queries = [
            "classic",
            "organic+boots",
            "vintage+lamp",
            "sturdy",
            "hiking",
            "kitchen",
            "cosy+textile",
            "urban+sneaker",
            "alpine",
            "vintge",
        ];
        let words = [
            "classic", "organic", "vintage", "sturdy", "hiking", "kitchen", "cosy", "urban",
            "alpine", "lamp", "boots", "jacket", "sneaker", "cable", "travel", "fiction", "sandal",
            "textile", "black", "white", "blue", "green", "vintge", "jackt", "sneeker", "orgnic",
            "kitchn", "travle",
        ];
        let mut searches = Vec::new();
        for (i, a) in words.iter().enumerate() {
            searches.push((*a).to_owned());
            for (j, b) in words.iter().enumerate().skip(i + 1).step_by(3) {
                searches.push(format!("{a}+{b}"));
                if let Some(c) = words.get((i + j * 7) % words.len()) {
                    searches.push(format!("{a}+{b}+{c}"));
                }
            }
        }
        let colours = ["black", "white", "blue", "green"];
        let sorts = ["relevance", "price_asc", "price_desc", "newest"];
        let filtered = searches
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let low = 500 + (i % 10) as i64 * 1000;
                format!(
                    "{q}&min_price={low}&max_price={}&in_stock=true&attr.colour={}&sort={}",
                    low + 8000,
                    colours[i % colours.len()],
                    sorts[i % sorts.len()]
                )
            })
            .collect();
        let prefixes = words
            .iter()
            .flat_map(|w| (3..=w.len().min(6)).map(move |n| w[..n].to_owned()))
            .collect();
        Ok(Lists {
            searches: write("searches.txt", searches)?,
            filtered: write("filtered.txt", filtered)?,
            prefixes: write("prefixes.txt", prefixes)?,
            products: write(
                "products.txt",
                products.iter().map(ToString::to_string).collect(),
            )?,
            variants: write(
                "variants.txt",
                variants.iter().map(ToString::to_string).collect(),
            )?,
            pages: write("pages.txt", pages)?,
            categories: write(
                "categories.txt",
                categories.iter().map(ToString::to_string).collect(),
            )?,
            home: write("home.txt", vec![String::new()])?,
            queries: write(
                "queries.txt",
                queries.iter().map(|q| (*q).to_owned()).collect(),
            )?,
        })
    }

    /// `n` guest carts of three lines each, made through the gateway; writes their sessions
    /// to a file.
    pub async fn guest_carts(
        &self,
        n: usize,
        variants: &[String],
        out: &Path,
    ) -> anyhow::Result<String> {
        let gw = self.gateway_url();
        let mut sessions = Vec::with_capacity(n);
        for i in 0..n {
            let session = uuid::Uuid::new_v4().to_string();
            for j in 0..3 {
                let variant = &variants[(i * 7 + j * 13) % variants.len()];
                let added = self
                    .http
                    .post(format!("{gw}/api/v1/cart/items"))
                    .header("x-cart-session", &session)
                    .json(&json!({"variant_id": variant, "quantity": 1}))
                    .send()
                    .await?;
                if !added.status().is_success() {
                    bail!("adding to a guest cart: {}", added.status());
                }
            }
            sessions.push(session);
        }
        let path = out.join("carts.txt");
        std::fs::write(&path, sessions.join("\n") + "\n")?;
        Ok(path.display().to_string())
    }

    /// Registers `n` buyers through the gateway and writes their access tokens to a file.
    pub async fn buyers(&self, n: usize, out: &Path) -> anyhow::Result<String> {
        let gw = self.gateway_url();
        let mut tokens = Vec::new();
        for i in 0..n {
            let email = format!("bench-buyer-{i}@bench.kazna.local");
            let password = "bench buyer password";
            let _ = self
                .http
                .post(format!("{gw}/api/v1/auth/register"))
                .json(&json!({"email": email, "password": password, "name": "Bench buyer"}))
                .send()
                .await?;
            let login: Value = self
                .http
                .post(format!("{gw}/api/v1/auth/login"))
                .json(&json!({"email": email, "password": password}))
                .send()
                .await?
                .json()
                .await?;
            tokens.push(
                login["access_token"]
                    .as_str()
                    .context("login gave no token")?
                    .to_owned(),
            );
        }
        let path = out.join("tokens.txt");
        std::fs::write(&path, tokens.join("\n") + "\n")?;
        Ok(path.display().to_string())
    }

    /// An admin's access token, the account made the way a shop makes its first admin.
    pub async fn admin(&self) -> anyhow::Result<String> {
        let (email, password) = ("bench-admin@bench.kazna.local", "bench admin password");
        let status = self
            .command()
            .args(["users", "create", "--email", email, "--role", "admin"])
            .env("KAZNA_NEW_PASSWORD", password)
            .stdout(Stdio::null())
            .status()
            .await
            .context("running kazna users create")?;
        // Left by an earlier run (`--no-reset`): signing in below tells.
        if !status.success() {
            eprintln!("bench: kazna users create: {status} (the admin may exist already)");
        }
        let login: Value = self
            .http
            .post(format!("{}/api/v1/auth/login", self.gateway_url()))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await?
            .json()
            .await?;
        Ok(login["access_token"]
            .as_str()
            .context("admin login gave no token")?
            .to_owned())
    }

    /// Seconds from placing to paid of every paid order: (p50, p99), in milliseconds.
    pub async fn place_to_paid_ms(&self) -> anyhow::Result<(f64, f64)> {
        let orders = self.pool("orders").await?;
        let (p50, p99): (Option<f64>, Option<f64>) = sqlx::query_as(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)
             FROM (SELECT extract(epoch FROM h.at - o.created_at) * 1000 AS ms
                   FROM orders o JOIN order_history h ON h.order_id = o.id AND h.status = 'paid') t",
        )
        .fetch_one(&orders)
        .await?;
        Ok((p50.unwrap_or(0.0), p99.unwrap_or(0.0)))
    }

    /// Waits until every placed order is paid (or further on); returns (placed, paid, seconds
    /// waited).
    pub async fn orders_paid(&self, limit: Duration) -> anyhow::Result<(i64, i64, f64)> {
        let orders = self.pool("orders").await?;
        let start = Instant::now();
        loop {
            let (placed, paid): (i64, i64) = sqlx::query_as(
                "SELECT count(*), count(*) FILTER (WHERE status IN ('paid', 'shipped', 'delivered'))
                 FROM orders",
            )
            .fetch_one(&orders)
            .await?;
            if placed == paid || start.elapsed() > limit {
                return Ok((placed, paid, start.elapsed().as_secs_f64()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn bench_settings(env: &[(String, String)]) -> anyhow::Result<Settings> {
    let mut s = Settings::load()?;
    let get = |k: &str| {
        env.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    s.database.name_prefix = get("KAZNA_DATABASE__NAME_PREFIX");
    s.redis.key_prefix = get("KAZNA_REDIS__KEY_PREFIX");
    s.gateway.public_url = get("KAZNA_GATEWAY__PUBLIC_URL");
    for (name, ep) in s.services.all_mut() {
        let name = name.to_uppercase();
        ep.url = get(&format!("KAZNA_SERVICES__{name}__URL"));
        ep.bind = get(&format!("KAZNA_SERVICES__{name}__BIND")).parse()?;
    }
    Ok(s)
}
