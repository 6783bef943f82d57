//! The payments service: one payment per attempt to pay an order, through a gateway (the
//! built-in sandbox by default), settled by signed webhooks; voids and refunds; an
//! append-only audit log.

mod api;
pub mod audit;
mod consumer;
pub mod error;
pub mod gateway;
pub mod gateways;
mod http;
pub mod payments;
pub mod paypal;
pub mod reconcile;
pub mod refunds;
pub mod sandbox;
pub mod settings;
pub mod signature;
pub mod stripe;
pub mod worker;

pub use settings::PaymentsSettings;

use std::time::Duration;

use gateways::Gateways;
use kazna_events::{Broker, Consumer, Relay};
use kazna_kernel::{Context, health::Check, server::App};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "payments";
pub(crate) const SOURCE: &str = NAME;

#[derive(Clone)]
pub struct AppState {
    pub ctx: Context,
    pub pool: PgPool,
    pub cfg: PaymentsSettings,
    pub gateways: Gateways,
    /// Wakes the worker after a change that asks for a gateway call.
    pub kick: worker::Kick,
}
kazna_kernel::impl_context!(AppState);

#[derive(OpenApi)]
#[openapi(info(
    title = "Kazna payments",
    description = "Payments and provider webhooks"
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
    let cfg: PaymentsSettings = ctx.settings.section()?;
    cfg.check()?;
    let pool = database(&ctx).await?;
    let gateways = Gateways::from_settings(&pool, &cfg, &ctx.settings, &shutdown);
    let kick = worker::Kick::default();
    let broker = Broker::new(ctx.settings.amqp.clone());
    let consumer = Consumer::new(
        broker.clone(),
        NAME,
        consumer::ROUTING_KEYS,
        consumer::OrderEvents {
            pool: pool.clone(),
            providers: cfg.providers.clone(),
            kick: kick.clone(),
        },
    )
    .with_concurrency(8);
    consumer.declare_or_warn().await;
    let state = AppState {
        ctx,
        pool: pool.clone(),
        cfg: cfg.clone(),
        gateways: gateways.clone(),
        kick: kick.clone(),
    };
    let reconcile_after = Duration::from_secs(cfg.reconcile_after_secs);
    let worker = worker::Worker::new(pool.clone(), gateways.clone(), kick, reconcile_after);
    let compare = reconcile::every(
        pool.clone(),
        gateways,
        Duration::from_secs(cfg.compare_every_secs),
        shutdown.clone(),
    );
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(http::router())
        .split_for_parts();
    let checks = vec![Check::postgres(pool.clone()), broker.readiness()];
    let router = kazna_kernel::server::finish(NAME, api.with_state(state), openapi, checks);
    Ok(App::new(NAME, listener, router)
        .worker(Relay::new(pool, broker).run(shutdown.clone()))
        .worker(worker.run(shutdown.clone()))
        .worker(compare)
        .worker(consumer.run(shutdown)))
}
