//! The catalog service: products with variants, the category tree, and stock that can
//! never be oversold.

pub mod cache;
pub mod categories;
pub mod domain;
pub mod error;
mod http;
pub mod inventory;
pub mod products;
pub mod settings;
pub mod store;

pub use settings::CatalogSettings;
pub use store::Store;

use std::time::Duration;

use kazna_events::{Broker, Relay};
use kazna_kernel::{Context, health::Check, server::App};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "catalog";
pub(crate) const SOURCE: &str = NAME;

#[derive(Clone)]
pub struct AppState {
    pub ctx: Context,
    pub store: Store,
    pub cfg: CatalogSettings,
}
kazna_kernel::impl_context!(AppState);

#[derive(OpenApi)]
#[openapi(info(
    title = "Kazna catalog",
    description = "Products, variants, categories and stock"
))]
struct ApiDoc;

/// The migrations of this service's database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub async fn database(ctx: &Context) -> Result<PgPool, kazna_kernel::Error> {
    kazna_events::database(&ctx.settings, NAME, &MIGRATOR).await
}

pub async fn build(
    ctx: Context,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<App, kazna_kernel::Error> {
    let cfg: CatalogSettings = ctx.settings.section()?;
    let store = Store::open(&ctx).await?;
    let pool = store.pool.clone();
    let broker = Broker::new(ctx.settings.amqp.clone());
    let state = AppState { ctx, store, cfg };
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(http::router())
        .split_for_parts();
    let checks = vec![Check::postgres(pool.clone()), broker.readiness()];
    let sweeper = sweep(state.store.clone(), shutdown.clone());
    let router = kazna_kernel::server::finish(NAME, api.with_state(state), openapi, checks);
    Ok(App::new(NAME, listener, router)
        .worker(Relay::new(pool.clone(), broker).run(shutdown.clone()))
        .worker(sweeper))
}

/// Releases expired reservations every few seconds.
async fn sweep(store: Store, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
        report_held(&store).await;
        match inventory::release_expired(&store).await {
            Ok(variants) if variants.is_empty() => {}
            Ok(variants) => {
                tracing::info!(variants = variants.len(), "released expired reservations")
            }
            Err(e) => tracing::warn!(error = %e, "reservation sweep failed"),
        }
    }
}

/// Reservations holding stock for unpaid orders, and the units they hold, as gauges.
async fn report_held(store: &Store) {
    if let Ok((orders, units)) = inventory::held(&store.pool).await {
        metrics::gauge!("kazna_reservations_held_orders").set(orders as f64);
        metrics::gauge!("kazna_reservations_held_units").set(units as f64);
    }
}
