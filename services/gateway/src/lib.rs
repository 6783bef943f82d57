//! The gateway: the one public door. Routes `/api/v1/...` to the owning service and every other
//! page to the storefront, serves the merged OpenAPI document and Swagger UI, applies CORS.

pub mod openapi;
mod proxy;
pub mod routes;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    http::{HeaderValue, Method, header},
    routing::get,
};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use kazna_kernel::{Context, health::Check, server::App};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa_swagger_ui::{Config, SwaggerUi};

pub const NAME: &str = "gateway";

kazna_kernel::shared_state!(AppState, State);

pub struct State {
    pub ctx: Context,
    pub routes: Arc<Vec<(&'static str, String)>>,
    /// The storefront, which serves every page that is not the API.
    pub web: String,
    pub client: Client<HttpConnector, Body>,
}

fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    // A predicate, not a list: the layer is cloned for every request, and a predicate is
    // shared where a list would be copied.
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            allowed.contains(origin)
        }))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("x-cart-session"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::HeaderName::from_static("x-cart-session"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .max_age(Duration::from_secs(600))
}

pub async fn build(
    ctx: Context,
    listener: TcpListener,
    _shutdown: CancellationToken,
) -> Result<App, kazna_kernel::Error> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .build(connector);
    let state = AppState(Arc::new(State {
        routes: Arc::new(routes::table(&ctx.settings.services)),
        web: ctx
            .settings
            .services
            .web
            .url
            .trim_end_matches('/')
            .to_owned(),
        ctx: ctx.clone(),
        client,
    }));
    let users = format!("{}/health/live", ctx.settings.services.users.url);
    let http = ctx.client.clone();
    let checks = vec![Check::new("users", move || {
        let (http, users) = (http.clone(), users.clone());
        async move {
            http.get::<serde_json::Value>(&users)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })];
    let docs = SwaggerUi::new("/docs").config(Config::from("/openapi.json"));
    let router = Router::new()
        .route("/openapi.json", get(openapi::merged))
        .fallback(proxy::forward)
        .with_state(state)
        .merge(Router::from(docs))
        .merge(kazna_kernel::server::operational_routes(checks))
        .layer(cors(&ctx.settings.gateway.cors_origins));
    let router = kazna_kernel::server::layers(NAME, router);
    Ok(App::new(NAME, listener, router))
}
