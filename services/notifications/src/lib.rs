//! The notifications service: emails (and later SMS) rendered from templates when events
//! arrive, with a delivery log.

pub mod channel;
mod consumer;
pub mod deliveries;
pub mod error;
mod http;
pub mod outbox;
pub mod render;
pub mod settings;

pub use settings::{EmailBackend, NotificationsSettings};

use kazna_events::{Broker, Consumer};
use kazna_kernel::{Context, health::Check, server::App};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "notifications";

#[derive(Clone)]
pub struct AppState {
    pub ctx: Context,
    pub pool: PgPool,
}
kazna_kernel::impl_context!(AppState);

#[derive(OpenApi)]
#[openapi(info(
    title = "Kazna notifications",
    description = "Templates and the delivery log"
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
    let cfg: NotificationsSettings = ctx.settings.section()?;
    let pool = database(&ctx).await?;
    let outbox = match cfg.email_backend {
        EmailBackend::File => outbox::FileOutbox {
            dir: cfg.outbox_dir.clone(),
        },
    };
    let broker = Broker::new(ctx.settings.amqp.clone());
    let consumer = Consumer::new(
        broker.clone(),
        NAME,
        deliveries::EVENTS,
        consumer::Notify {
            pool: pool.clone(),
            outbox,
            from: cfg.from.clone(),
        },
    )
    .with_concurrency(8);
    consumer.declare_or_warn().await;
    let state = AppState {
        ctx,
        pool: pool.clone(),
    };
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(http::router())
        .split_for_parts();
    let checks = vec![Check::postgres(pool), broker.readiness()];
    let router = kazna_kernel::server::finish(NAME, api.with_state(state), openapi, checks);
    Ok(App::new(NAME, listener, router).worker(consumer.run(shutdown)))
}
