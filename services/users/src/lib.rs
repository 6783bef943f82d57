//! The users service: accounts, credentials, access and refresh tokens, the public keys
//! that let every other service verify tokens on its own.

pub mod accounts;
mod cache;
pub mod domain;
pub mod error;
mod http;
pub mod keys;
mod limits;
mod password;
pub mod settings;

pub use settings::UsersSettings;

use std::sync::Arc;

use kazna_events::{Broker, Relay};
use kazna_kernel::{Context, health::Check, server::App};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "users";

#[derive(Clone)]
pub struct AppState {
    pub ctx: Context,
    pub pool: PgPool,
    pub redis: redis::aio::ConnectionManager,
    pub keys: Arc<keys::Keys>,
    pub cfg: UsersSettings,
}
kazna_kernel::impl_context!(AppState);

#[derive(OpenApi)]
#[openapi(info(title = "Kazna users", description = "Accounts, sign-in and tokens"))]
struct ApiDoc;

/// The migrations of this service's database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects to this service's database, creating and migrating it when needed.
pub async fn database(ctx: &Context) -> Result<PgPool, kazna_kernel::Error> {
    kazna_events::database(&ctx.settings, NAME, &MIGRATOR).await
}

pub async fn build(
    ctx: Context,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<App, kazna_kernel::Error> {
    let cfg: UsersSettings = ctx.settings.section()?;
    let pool = database(&ctx).await?;
    let every = std::time::Duration::from_secs(cfg.signing_key_refresh_secs);
    let keys = keys::Keys::load(pool.clone(), every)
        .await
        .map_err(|e| kazna_kernel::Error::Other(e.to_string()))?;
    let redis = kazna_kernel::db::redis(&ctx.settings).await?;
    let broker = Broker::new(ctx.settings.amqp.clone());
    let state = AppState {
        ctx,
        pool: pool.clone(),
        redis: redis.clone(),
        keys: Arc::new(keys),
        cfg,
    };
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(http::router())
        .split_for_parts();
    let checks = vec![Check::postgres(pool.clone()), broker.readiness()];
    let router = kazna_kernel::server::finish(NAME, api.with_state(state), openapi, checks);
    Ok(App::new(NAME, listener, router).worker(Relay::new(pool, broker).run(shutdown)))
}
