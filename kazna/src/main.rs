//! `kazna`: runs the platform, one service, migrations, demo data and account admin.

use std::{process::ExitCode, sync::Arc};

use clap::{Parser, Subcommand};
use kazna::{Platform, Service};
use kazna_kernel::{Context, Role, Settings};
use tokio_util::sync::CancellationToken;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "kazna",
    version,
    about = "Kazna, an open-source e-commerce platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs every service in this process (the gateway on its configured port, 8080 by default).
    Up,
    /// Runs one service (one per container).
    Serve {
        #[arg(value_enum)]
        service: Service,
    },
    /// Creates missing databases and applies pending migrations, then exits.
    Migrate,
    /// Loads demo data.
    Seed {
        /// The demo shop: categories, products with variants, stock and images, demo users.
        #[arg(long)]
        demo: bool,
        /// How many demo products.
        #[arg(long, default_value_t = 240)]
        products: usize,
    },
    /// Manages accounts.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Checks payments against the providers and the audit log against itself.
    Payments {
        #[command(subcommand)]
        command: PaymentsCommand,
    },
    /// Manages the search index.
    Search {
        #[command(subcommand)]
        command: SearchCommand,
    },
    /// Exits 0 when `url` answers 2xx within 3 s, else 1: the image's health check.
    Probe {
        #[arg(default_value = "http://127.0.0.1:8080/health/live")]
        url: String,
    },
}

#[derive(Subcommand)]
enum SearchCommand {
    /// Rebuilds a search instance's index from the catalog and swaps it in at once, while it
    /// goes on answering; waits until it is done.
    Reindex {
        /// The instance's base URL (`services.search.url` when left out); with several
        /// instances, run it for each.
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Subcommand)]
enum PaymentsCommand {
    /// Compares captured and refunded sums with the providers, for payments made since a
    /// date (`2026-11-01` or an RFC 3339 time); reports each difference and exits non-zero
    /// when there is one.
    Reconcile {
        #[arg(long, value_parser = parse_since)]
        since: chrono::DateTime<chrono::Utc>,
    },
    /// Walks the audit log's hash chain; names the first row that was edited, deleted or
    /// reordered and exits non-zero.
    VerifyAudit,
}

fn parse_since(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| "a date (2026-11-01) or an RFC 3339 time".to_owned())
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Creates an account with a role (this is how the first admin is made).
    Create {
        #[arg(long)]
        email: String,
        /// Read from the environment when set there, to keep it out of shell history.
        #[arg(long, env = "KAZNA_NEW_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long, default_value = "Administrator")]
        name: String,
    },
    /// Starts signing tokens with a new key; the old keys keep verifying until retired.
    RotateKeys,
    /// Retires a signing key: tokens it signed stop verifying.
    RetireKey {
        #[arg(long)]
        kid: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "one of buyer, seller, moderator, admin".to_owned())
}

fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        t.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down: draining requests and consumers");
        t.cancel();
    });
    token
}

async fn run(cli: Cli, settings: Settings) -> Result<(), kazna_kernel::Error> {
    match cli.command {
        Command::Up => {
            let shutdown = shutdown_on_signal();
            let platform = Platform::build(settings, &Service::ALL, shutdown.clone()).await?;
            let url = &platform.settings.gateway.public_url;
            tracing::info!(shop = %url, api = %format!("{url}/api/v1"), docs = %format!("{url}/docs"), "kazna is up");
            platform.run(shutdown).await
        }
        Command::Serve { service } => {
            let shutdown = shutdown_on_signal();
            let platform = Platform::build(settings, &[service], shutdown.clone()).await?;
            platform.run(shutdown).await
        }
        Command::Migrate => kazna::migrate(settings).await,
        Command::Seed { demo, products } => {
            if !demo {
                return Err(kazna_kernel::Error::Other(
                    "say what to seed: --demo".into(),
                ));
            }
            let ctx = Context::new(Arc::new(settings));
            let s = kazna::seed::demo(&ctx, products).await?;
            tracing::info!(
                users = s.users_created,
                products = s.products_created,
                "demo data loaded"
            );
            for u in &kazna::seed::DEMO_USERS {
                tracing::info!(
                    email = u.email,
                    password = u.password,
                    role = u.role.as_str(),
                    "demo account"
                );
            }
            Ok(())
        }
        Command::Users {
            command:
                UsersCommand::Create {
                    email,
                    password,
                    role,
                    name,
                },
        } => {
            let ctx = Context::new(Arc::new(settings));
            let pool = kazna_users::database(&ctx).await?;
            let account =
                kazna_users::domain::NewAccount::parse(&email, &password, &name, vec![role])
                    .map_err(|e| kazna_kernel::Error::Other(describe(e)))?;
            let p = kazna_users::accounts::create(&pool, account, &ctx.settings.gateway.public_url)
                .await
                .map_err(|e| kazna_kernel::Error::Other(describe(e)))?;
            tracing::info!(id = %p.id, email = %p.email, role = role.as_str(), "account created");
            Ok(())
        }
        Command::Users {
            command: UsersCommand::RotateKeys,
        } => {
            let pool = users_db(settings).await?;
            let kid = kazna_users::keys::rotate(&pool)
                .await
                .map_err(|e| kazna_kernel::Error::Other(describe(e)))?;
            tracing::info!(kid = %kid, "new signing key; running services pick it up within users.signing_key_refresh_secs");
            Ok(())
        }
        Command::Users {
            command: UsersCommand::RetireKey { kid },
        } => {
            let pool = users_db(settings).await?;
            kazna_users::keys::retire(&pool, &kid)
                .await
                .map_err(|e| kazna_kernel::Error::Other(describe(e)))?;
            tracing::info!(kid = %kid, "signing key retired");
            Ok(())
        }
        Command::Payments { command } => payments(settings, command).await,
        Command::Probe { url } => {
            match kazna::probe::status(&url, std::time::Duration::from_secs(3)).await {
                Ok(status) if (200..300).contains(&status) => Ok(()),
                Ok(status) => Err(kazna_kernel::Error::Other(format!(
                    "{url} answered {status}"
                ))),
                Err(e) => Err(kazna_kernel::Error::Other(e)),
            }
        }
        Command::Search {
            command: SearchCommand::Reindex { url },
        } => reindex(settings, url).await,
    }
}

async fn reindex(settings: Settings, url: Option<String>) -> Result<(), kazna_kernel::Error> {
    let base = url.unwrap_or_else(|| settings.services.search.url.clone());
    let ctx = Context::new(Arc::new(settings));
    let endpoint = format!("{}/internal/search/reindex", base.trim_end_matches('/'));
    let failed = |e: kazna_kernel::client::CallError| {
        kazna_kernel::Error::Other(format!("search at {base}: {e}"))
    };
    // The answers are `kazna_search::live::Reindex`.
    let started: serde_json::Value = ctx
        .client
        .post(&endpoint, &serde_json::json!({}))
        .await
        .map_err(failed)?;
    tracing::info!(from_epoch = %started["epoch"], "search: reindex started");
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let s: serde_json::Value = ctx.client.get(&endpoint).await.map_err(failed)?;
        match s["state"].as_str().unwrap_or_default() {
            "done" => {
                tracing::info!(
                    epoch = %s["epoch"],
                    products = %s["products"],
                    millis = %s["millis"],
                    "search: reindexed and swapped in"
                );
                return Ok(());
            }
            "failed" => {
                return Err(kazna_kernel::Error::Other(format!(
                    "search reindex failed: {}",
                    s["error"].as_str().unwrap_or_default()
                )));
            }
            _ => tracing::info!(products = %s["products"], "search: reindexing"),
        }
    }
}

async fn payments(settings: Settings, command: PaymentsCommand) -> Result<(), kazna_kernel::Error> {
    use kazna_payments::{audit, gateways::Gateways, reconcile};
    let ctx = Context::new(Arc::new(settings));
    let pool = kazna_payments::database(&ctx).await?;
    let failed = |e: kazna_payments::error::Error| kazna_kernel::Error::Other(e.to_string());
    match command {
        PaymentsCommand::Reconcile { since } => {
            let cfg: kazna_payments::PaymentsSettings = ctx.settings.section()?;
            cfg.check()?;
            let gateways =
                Gateways::from_settings(&pool, &cfg, &ctx.settings, &CancellationToken::new());
            let report = reconcile::compare(&pool, &gateways, since)
                .await
                .map_err(failed)?;
            // Each difference was logged as it was found.
            tracing::info!(
                compared = report.checked,
                differences = report.differences.len(),
                "payments compared with the providers"
            );
            match report.differences.is_empty() {
                true => Ok(()),
                false => Err(kazna_kernel::Error::Other(format!(
                    "{} payments differ from the providers' records",
                    report.differences.len()
                ))),
            }
        }
        PaymentsCommand::VerifyAudit => {
            // Rows appended a moment ago are chained first, so the check covers them.
            while audit::seal(&pool).await.map_err(failed)? > 0 {}
            match audit::verify(&pool).await.map_err(failed)? {
                audit::Verdict::Intact {
                    rows,
                    head,
                    unsealed,
                } => {
                    let head = head.as_deref().unwrap_or("(empty)");
                    tracing::info!(rows, head, unsealed, "the audit log is intact");
                    Ok(())
                }
                audit::Verdict::Broken {
                    position,
                    id,
                    problem,
                } => {
                    let id = id.map(|i| format!(" ({i})")).unwrap_or_default();
                    Err(kazna_kernel::Error::Other(format!(
                        "the audit log was tampered with: row {position}{id} {problem}"
                    )))
                }
            }
        }
    }
}

async fn users_db(settings: Settings) -> Result<sqlx::PgPool, kazna_kernel::Error> {
    let ctx = Context::new(Arc::new(settings));
    kazna_users::database(&ctx).await
}

fn describe(e: kazna_users::error::Error) -> String {
    match e {
        kazna_users::error::Error::Validation(errors) => errors
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kazna: {e}");
            return ExitCode::from(2);
        }
    };
    kazna_kernel::telemetry::init(&settings.log, &settings.telemetry);
    kazna_kernel::metrics::init();
    let outcome = run(cli, settings).await;
    // Spans of the last requests still waiting to go out.
    kazna_kernel::trace::otlp::flush(std::time::Duration::from_secs(5)).await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "kazna failed");
            ExitCode::FAILURE
        }
    }
}
