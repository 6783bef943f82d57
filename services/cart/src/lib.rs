//! The cart service: guest and user carts in Redis, priced from a read model of the catalog
//! that the catalog's events keep (see [`model`]).

pub mod carts;
mod consumer;
pub mod error;
mod http;
pub mod model;
mod scripts;
pub mod settings;

pub use settings::CartSettings;

use std::sync::Arc;

use kazna_contracts::Currency;
use kazna_events::{Broker, Consumer};
use kazna_kernel::{Context, health::Check, server::App};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "cart";

kazna_kernel::shared_state!(AppState, State);

pub struct State {
    pub ctx: Context,
    pub redis: redis::aio::ConnectionManager,
    /// The currency of an empty cart.
    pub currency: Currency,
    pub settings: settings::Lifetimes,
    pub model: model::Model,
    scripts: Arc<scripts::Scripts>,
    /// Whether carts are served over https (their cookie is then `Secure`).
    pub secure_cookie: bool,
}
kazna_kernel::impl_context!(AppState);

#[derive(OpenApi)]
#[openapi(info(title = "Kazna cart", description = "Guest and user carts"))]
struct ApiDoc;

pub async fn build(
    ctx: Context,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<App, kazna_kernel::Error> {
    let cfg: CartSettings = ctx.settings.section()?;
    let redis = kazna_kernel::db::redis(&ctx.settings).await?;
    let model = model::Model::new(redis.clone(), &ctx.settings.redis_key(""));
    let broker = Broker::new(ctx.settings.amqp.clone());
    let consumer = Consumer::new(
        broker.clone(),
        consumer::QUEUE,
        consumer::ROUTING_KEYS,
        consumer::CatalogEvents(model.clone()),
    );
    consumer.declare_or_warn().await;
    let state = AppState(Arc::new(State {
        secure_cookie: ctx.settings.gateway.public_url.starts_with("https://"),
        ctx,
        redis: redis.clone(),
        currency: cfg.currency,
        settings: cfg.lifetimes(),
        model,
        scripts: Arc::new(scripts::Scripts::new()),
    }));
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(http::router())
        .split_for_parts();
    let checks = vec![Check::redis(redis), broker.readiness()];
    let router = kazna_kernel::server::finish(NAME, api.with_state(state), openapi, checks);
    Ok(App::new(NAME, listener, router).worker(consumer.run(shutdown)))
}
