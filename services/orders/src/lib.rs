//! The orders service: orders placed from carts with stock reserved, and their whole life
//! (paid, shipped, delivered, canceled, refunded, expired) as a saga with payments and the
//! catalog, each step applied exactly once.

mod consumer;
pub mod error;
pub mod fulfilment;
mod http;
pub mod idempotency;
pub mod lifecycle;
pub mod orders;
pub mod settings;
pub mod status;
pub mod stock;
pub mod view;

pub use settings::OrdersSettings;

use kazna_events::{Broker, Consumer, Relay};
use kazna_kernel::{Context, health::Check, server::App};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "orders";
pub(crate) const SOURCE: &str = NAME;

#[derive(Clone)]
pub struct AppState {
    pub ctx: Context,
    pub pool: PgPool,
    pub cfg: OrdersSettings,
    /// The payment providers this shop offers (`payments.providers`).
    pub providers: Vec<kazna_contracts::payments::Provider>,
    /// Wakes the stock worker after a change that needs the catalog.
    pub kick: stock::Kick,
}
kazna_kernel::impl_context!(AppState);

#[derive(OpenApi)]
#[openapi(info(title = "Kazna orders", description = "Orders and their lifecycle"))]
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
    let cfg: OrdersSettings = ctx.settings.section()?;
    let providers = ctx
        .settings
        .section::<settings::PaymentProviders>()?
        .providers;
    let pool = database(&ctx).await?;
    let broker = Broker::new(ctx.settings.amqp.clone());
    let kick = stock::Kick::default();
    let consumer = Consumer::new(
        broker.clone(),
        NAME,
        consumer::ROUTING_KEYS,
        consumer::Events {
            pool: pool.clone(),
            kick: kick.clone(),
        },
    )
    .with_concurrency(8);
    consumer.declare_or_warn().await;
    let stock = stock::StockWorker {
        ctx: ctx.clone(),
        pool: pool.clone(),
        kick: kick.clone(),
    };
    let expiry = stock::expire_unpaid(pool.clone(), kick.clone(), shutdown.clone());
    let state = AppState {
        ctx,
        pool: pool.clone(),
        cfg,
        providers,
        kick,
    };
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(http::router())
        .split_for_parts();
    let checks = vec![Check::postgres(pool.clone()), broker.readiness()];
    let router = kazna_kernel::server::finish(NAME, api.with_state(state), openapi, checks);
    Ok(App::new(NAME, listener, router)
        .worker(Relay::new(pool, broker).run(shutdown.clone()))
        .worker(stock.run(shutdown.clone()))
        .worker(expiry)
        .worker(consumer.run(shutdown)))
}
