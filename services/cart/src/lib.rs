//! The cart service: guest and user carts in Redis, priced from the catalog.

pub mod carts;
pub mod error;
mod http;
pub mod settings;

pub use settings::CartSettings;

use kazna_contracts::Currency;
use kazna_kernel::{Context, health::Check, server::App};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "cart";

#[derive(Clone)]
pub struct AppState {
    pub ctx: Context,
    pub redis: redis::aio::ConnectionManager,
    /// The currency of an empty cart.
    pub currency: Currency,
}
kazna_kernel::impl_context!(AppState);

#[derive(OpenApi)]
#[openapi(info(title = "Kazna cart", description = "Guest and user carts"))]
struct ApiDoc;

pub async fn build(
    ctx: Context,
    listener: TcpListener,
    _shutdown: CancellationToken,
) -> Result<App, kazna_kernel::Error> {
    let cfg: CartSettings = ctx.settings.section()?;
    let redis = kazna_kernel::db::redis(&ctx.settings).await?;
    let state = AppState {
        ctx,
        redis: redis.clone(),
        currency: cfg.currency,
    };
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(http::router())
        .split_for_parts();
    let checks = vec![Check::redis(redis)];
    let router = kazna_kernel::server::finish(NAME, api.with_state(state), openapi, checks);
    Ok(App::new(NAME, listener, router))
}
