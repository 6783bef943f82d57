//! The search service: a full-text index of the catalog. Each instance builds its own: it
//! pulls every product from the catalog when it starts, and follows the catalog's events
//! through a queue of its own, so read capacity grows with the instances.

pub mod analytics;
mod bootstrap;
pub mod cache;
mod consumer;
pub mod error;
mod http;
pub mod index;
mod indexer;
pub mod live;
pub mod pool;
pub mod popularity;
pub mod settings;

pub use settings::SearchSettings;

use std::sync::Arc;

use kazna_events::{Broker, Consumer};
use kazna_kernel::{Context, health::Check, server::App};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "search";

/// An instance's queue outlives a restart, not a replacement: unused for a day, it goes.
const INSTANCE_QUEUE_EXPIRES_MS: u32 = 24 * 3600 * 1000;

kazna_kernel::shared_state!(AppState, State);

pub struct State {
    pub ctx: Context,
    pub index: Arc<live::Live>,
    pub popularity: popularity::Popularity,
    /// Where analytics are read from.
    pub redis: redis::aio::ConnectionManager,
    /// Searches counted for analytics, until the next flush to Redis.
    pub tally: analytics::Tally,
    pub cache: cache::Cache,
    /// The threads that read the index (see [`pool`]).
    pub pool: pool::Pool,
}
kazna_kernel::impl_context!(AppState);

#[derive(OpenApi)]
#[openapi(info(title = "Kazna search", description = "Full-text product search"))]
struct ApiDoc;

pub async fn build(
    ctx: Context,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<App, kazna_kernel::Error> {
    let cfg: SearchSettings = ctx.settings.section()?;
    let dir = cfg.data_dir;
    let data_error = |e: &dyn std::fmt::Display| {
        kazna_kernel::Error::Other(format!("search.data_dir {}: {e}", dir.display()))
    };
    let index = Arc::new(live::Live::open(&dir).map_err(|e| data_error(&e))?);
    let instance = bootstrap::instance_id(&dir).map_err(|e| data_error(&e))?;
    let redis = kazna_kernel::db::redis(&ctx.settings).await?;
    let prefix = ctx.settings.redis_key("");
    let popularity = popularity::Popularity::new(redis.clone(), &prefix);
    let broker = Broker::new(ctx.settings.amqp.clone());
    let consumer = Consumer::new(
        broker.clone(),
        &format!("{NAME}.{instance}"),
        consumer::ROUTING_KEYS,
        consumer::IndexEvents {
            indexer: indexer::Indexer::start(index.clone()),
            popularity: popularity.clone(),
        },
    )
    .with_concurrency(consumer::CONCURRENCY)
    .expire_when_unused(INSTANCE_QUEUE_EXPIRES_MS);
    // The queue exists before the pull starts: nothing changed during the pull is missed.
    consumer.declare_or_warn().await;
    // Before instances had queues of their own, they shared one; nothing reads it any more.
    if let Err(e) = broker.delete_unused_queues(NAME).await {
        tracing::debug!(error = %e, "search: the old shared queue stays (in use, or no broker)");
    }
    let pulled = bootstrap::Pulled::default();
    let pull = bootstrap::pull(
        ctx.clone(),
        index.clone(),
        popularity.clone(),
        pulled.clone(),
        shutdown.clone(),
    );
    let cache = cache::Cache::new(redis.clone(), &prefix, &instance);
    let tally = analytics::Tally::default();
    let counting = tally
        .clone()
        .run(redis.clone(), prefix.clone(), shutdown.clone());
    let state = AppState(Arc::new(State {
        ctx,
        index,
        popularity,
        redis,
        tally,
        cache,
        pool: pool::Pool::default(),
    }));
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(http::router())
        .split_for_parts();
    let index_ready = Check::new("index", move || {
        let done = pulled.done();
        async move {
            done.then_some(())
                .ok_or_else(|| "pulling the catalog into the index".to_owned())
        }
    });
    let checks = vec![broker.readiness(), index_ready];
    let router = kazna_kernel::server::finish(NAME, api.with_state(state), openapi, checks);
    Ok(App::new(NAME, listener, router)
        .worker(consumer.run(shutdown))
        .worker(counting)
        .worker(pull))
}
