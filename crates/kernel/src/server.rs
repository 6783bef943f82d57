//! What every service's HTTP side has in common: the standard routes, the layers, and
//! serving with a graceful drain on shutdown.

use std::{io, net::SocketAddr};

use axum::{
    Router,
    body::Body,
    http::{HeaderValue, StatusCode, header},
    response::Response,
    routing::get,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{health, metrics, problem::Problem};

/// Binds a listener first, so tests can ask for port 0 and learn the real one.
pub async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Adds health, metrics, OpenAPI, the problem-document fallbacks and the standard layers.
pub fn finish(
    service: &'static str,
    api: Router,
    openapi: utoipa::openapi::OpenApi,
    checks: Vec<health::Check>,
) -> Router {
    let spec = serde_json::to_value(&openapi)
        .map(crate::openapi::complete)
        .map(|doc| doc.to_string())
        .unwrap_or_else(|_| "{}".into());
    let routes = api
        .merge(operational_routes(checks))
        .route(
            "/openapi.json",
            get(move || {
                let spec = spec.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], spec) }
            }),
        )
        .fallback(|| async { Problem::from_status(StatusCode::NOT_FOUND) });
    layers(service, routes)
}

/// `/health/live`, `/health/ready` and `/metrics`.
pub fn operational_routes(checks: Vec<health::Check>) -> Router {
    health::router(checks).merge(metrics::router())
}

/// Request ids, logs and trace spans, panics as problems, metrics, and problem documents for every
/// error answer (see [`crate::layer`]). Applies to the routes and fallback `router` has now.
pub fn layers(service: &'static str, router: Router) -> Router {
    metrics::init();
    router.layer(crate::layer::Standard { service })
}

/// Serves `app` until `shutdown` fires, then stops accepting and drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
) -> io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
}

/// An empty JSON object body, for endpoints that answer with nothing to say.
pub fn no_content() -> Response {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

type Worker = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// A built service: its bound listener, its router and its background workers, which
/// start only when it runs (so a whole platform is declared before anything moves).
pub struct App {
    pub name: &'static str,
    listener: TcpListener,
    router: Router,
    workers: Vec<Worker>,
}

impl App {
    pub fn new(name: &'static str, listener: TcpListener, router: Router) -> Self {
        Self {
            name,
            listener,
            router,
            workers: Vec::new(),
        }
    }

    /// Adds a background worker; it must stop when the shutdown token it watches fires.
    pub fn worker(mut self, fut: impl std::future::Future<Output = ()> + Send + 'static) -> Self {
        self.workers.push(Box::pin(fut));
        self
    }

    /// The service's whole router, layers included.
    pub fn router(&self) -> &Router {
        &self.router
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown`, drains in-flight requests, then waits for the workers (which
    /// watch the same token) to finish what they hold.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> io::Result<()> {
        let workers: Vec<_> = self.workers.into_iter().map(tokio::spawn).collect();
        let served = serve(self.listener, self.router, shutdown).await;
        for w in workers {
            let _ = w.await;
        }
        tracing::info!(service = self.name, "stopped");
        served
    }
}
