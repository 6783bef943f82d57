//! Composition of the platform: which services run in this process, on which listeners.
//! `kazna up` runs them all; `kazna serve <service>` runs one (one per container).

pub mod probe;
pub mod seed;

use std::sync::Arc;

use clap::ValueEnum;
use kazna_kernel::{Context, Settings, config::Section, server::App};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Service {
    Gateway,
    Users,
    Catalog,
    Search,
    Cart,
    Orders,
    Payments,
    Notifications,
    Web,
}

impl Service {
    /// Every service; consumers first, so their queues exist before any relay publishes.
    pub const ALL: [Service; 9] = [
        Service::Search,
        Service::Orders,
        Service::Payments,
        Service::Notifications,
        Service::Users,
        Service::Catalog,
        Service::Cart,
        Service::Web,
        Service::Gateway,
    ];

    fn endpoint(self, s: &mut Settings) -> &mut kazna_kernel::config::Endpoint {
        let m = &mut s.services;
        match self {
            Service::Gateway => &mut m.gateway,
            Service::Users => &mut m.users,
            Service::Catalog => &mut m.catalog,
            Service::Search => &mut m.search,
            Service::Cart => &mut m.cart,
            Service::Orders => &mut m.orders,
            Service::Payments => &mut m.payments,
            Service::Notifications => &mut m.notifications,
            Service::Web => &mut m.web,
        }
    }

    async fn build(
        self,
        ctx: Context,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> Result<App, kazna_kernel::Error> {
        match self {
            Service::Gateway => kazna_gateway::build(ctx, listener, shutdown).await,
            Service::Users => kazna_users::build(ctx, listener, shutdown).await,
            Service::Catalog => kazna_catalog::build(ctx, listener, shutdown).await,
            Service::Search => kazna_search::build(ctx, listener, shutdown).await,
            Service::Cart => kazna_cart::build(ctx, listener, shutdown).await,
            Service::Orders => kazna_orders::build(ctx, listener, shutdown).await,
            Service::Payments => kazna_payments::build(ctx, listener, shutdown).await,
            Service::Notifications => kazna_notifications::build(ctx, listener, shutdown).await,
            Service::Web => kazna_web::build(ctx, listener, shutdown).await,
        }
    }
}

/// The settings sections the services define, besides the shared ones.
pub const SECTIONS: [&str; 8] = [
    <kazna_users::UsersSettings as Section>::KEY,
    <kazna_catalog::CatalogSettings as Section>::KEY,
    <kazna_search::SearchSettings as Section>::KEY,
    <kazna_cart::CartSettings as Section>::KEY,
    <kazna_orders::OrdersSettings as Section>::KEY,
    <kazna_payments::PaymentsSettings as Section>::KEY,
    <kazna_notifications::NotificationsSettings as Section>::KEY,
    <kazna_web::WebSettings as Section>::KEY,
];

/// A service's own database: `<prefix><name>`, migrated by `migrator`.
pub struct Database {
    pub name: &'static str,
    pub migrator: &'static sqlx::migrate::Migrator,
}

impl Database {
    const fn new(name: &'static str, migrator: &'static sqlx::migrate::Migrator) -> Self {
        Self { name, migrator }
    }
}

/// Every service database, in the order `kazna migrate` creates them.
pub const DATABASES: [Database; 5] = [
    Database::new(kazna_users::NAME, &kazna_users::MIGRATOR),
    Database::new(kazna_catalog::NAME, &kazna_catalog::MIGRATOR),
    Database::new(kazna_orders::NAME, &kazna_orders::MIGRATOR),
    Database::new(kazna_payments::NAME, &kazna_payments::MIGRATOR),
    Database::new(kazna_notifications::NAME, &kazna_notifications::MIGRATOR),
];

/// Built services, ready to run.
pub struct Platform {
    pub settings: Arc<Settings>,
    apps: Vec<App>,
}

impl Platform {
    /// Binds every listener first; a service configured on port 0 gets a free port, and its
    /// URL (and, for the gateway, the public URL and the sandbox webhook URL) follows it.
    pub async fn build(
        mut settings: Settings,
        services: &[Service],
        shutdown: CancellationToken,
    ) -> Result<Self, kazna_kernel::Error> {
        settings.check_sections(&SECTIONS)?;
        let mut listeners = Vec::new();
        for svc in services {
            let ep = svc.endpoint(&mut settings);
            let listener = TcpListener::bind(ep.bind).await.map_err(|e| {
                kazna_kernel::Error::Config(
                    format!("services.{svc:?}.bind {}: {e}", ep.bind).to_lowercase(),
                )
            })?;
            if ep.bind.port() == 0 {
                let port = listener.local_addr()?.port();
                ep.url = format!("http://127.0.0.1:{port}");
                if *svc == Service::Gateway {
                    settings.gateway.public_url = format!("http://127.0.0.1:{port}");
                }
            }
            listeners.push((*svc, listener));
        }
        let settings = Arc::new(settings);
        let ctx = Context::new(settings.clone());
        let mut apps = Vec::new();
        for (svc, listener) in listeners {
            let app = svc.build(ctx.clone(), listener, shutdown.clone()).await?;
            // Calls to the services of this process (the storefront's to the gateway
            // included) skip the loopback hop.
            let here = settings
                .services
                .all()
                .into_iter()
                .find(|(name, _)| *name == app.name);
            if let Some((_, ep)) = here {
                ctx.local.register(&ep.url, app.router().clone());
            }
            apps.push(app);
        }
        Ok(Self { settings, apps })
    }

    /// Runs every service until `shutdown`, then drains them all.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), kazna_kernel::Error> {
        let mut tasks = tokio::task::JoinSet::new();
        for app in self.apps {
            let name = app.name;
            let stop = shutdown.clone();
            tracing::info!(service = name, addr = ?app.local_addr().ok(), "listening");
            tasks.spawn(async move { (name, app.run_until_stopped(stop).await) });
        }
        let mut first_error = None;
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok((_, Ok(()))) => {}
                Ok((name, Err(e))) => {
                    tracing::error!(service = name, error = %e, "service failed");
                    shutdown.cancel();
                    first_error.get_or_insert(kazna_kernel::Error::Io(e));
                }
                Err(e) => {
                    shutdown.cancel();
                    first_error.get_or_insert(kazna_kernel::Error::Other(e.to_string()));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Creates every service database that is missing and applies pending migrations. A server
/// that cannot be reached yet (one started beside it, as in Compose) is waited for, for up to
/// a minute; any other failure ends it at once.
pub async fn migrate(settings: Settings) -> Result<(), kazna_kernel::Error> {
    let patience = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for db in &DATABASES {
        loop {
            match kazna_events::database(&settings, db.name, db.migrator).await {
                Ok(pool) => {
                    pool.close().await;
                    break;
                }
                Err(e) if not_up_yet(&e) && std::time::Instant::now() < patience => {
                    tracing::info!(error = %e, "the database is not reachable yet; waiting");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// A database server that is not there yet, or still starting: it refuses or drops the
/// connection, or answers "the database system is starting up" (SQLSTATE 57P03).
fn not_up_yet(e: &kazna_kernel::Error) -> bool {
    match e {
        kazna_kernel::Error::Database(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut) => true,
        kazna_kernel::Error::Database(sqlx::Error::Database(db)) => {
            db.code().as_deref() == Some("57P03")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, serde::Serialize, serde::Deserialize)]
    struct Misspelt {
        currency: String,
    }

    impl Section for Misspelt {
        const KEY: &'static str = "ordres";
    }

    #[tokio::test]
    async fn a_section_no_service_defines_stops_the_platform_before_it_binds_anything() {
        let mut settings = Settings::default();
        settings.set_section(&Misspelt {
            currency: "EUR".into(),
        });
        let refused = Platform::build(settings, &Service::ALL, CancellationToken::new()).await;
        match refused {
            Err(kazna_kernel::Error::Config(m)) => assert!(m.contains("ordres"), "{m}"),
            Err(other) => panic!("expected a configuration error, got {other}"),
            Ok(_) => panic!("the platform started with an unknown section"),
        }
        let known = Platform::build(Settings::default(), &[], CancellationToken::new()).await;
        assert!(known.is_ok(), "every section the services define is known");
    }
}
