//! The search service: a full-text index of the catalog, built by each instance from the
//! catalog's events.

mod consumer;
pub mod error;
mod http;
pub mod index;
mod indexer;

use std::sync::Arc;

use kazna_events::{Broker, Consumer};
use kazna_kernel::{Context, server::App};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "search";

#[derive(Clone)]
pub struct AppState {
    pub ctx: Context,
    pub index: Arc<index::SearchIndex>,
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
    let dir = ctx.settings.search.data_dir.clone();
    let index = index::SearchIndex::open(&dir).map_err(|e| {
        kazna_kernel::Error::Other(format!("search.data_dir {}: {e}", dir.display()))
    })?;
    let index = Arc::new(index);
    let broker = Broker::new(ctx.settings.amqp.clone());
    let consumer = Consumer::new(
        broker.clone(),
        NAME,
        consumer::ROUTING_KEYS,
        consumer::CatalogEvents(indexer::Indexer::start(index.clone())),
    )
    .with_concurrency(consumer::CONCURRENCY);
    consumer.declare_or_warn().await;
    let state = AppState { ctx, index };
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(http::router())
        .split_for_parts();
    let checks = vec![broker.readiness()];
    let router = kazna_kernel::server::finish(NAME, api.with_state(state), openapi, checks);
    Ok(App::new(NAME, listener, router).worker(consumer.run(shutdown)))
}
