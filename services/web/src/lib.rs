//! The storefront: server-rendered pages over the public API, which it calls through the
//! gateway like any other client (see [`api`]). Every core path works without JavaScript;
//! `static/app.js` only adds suggestions as the shopper types.

mod api;
mod demo;
mod listing;
mod money;
mod pages;
mod render;
mod session;
pub mod settings;

pub use settings::WebSettings;

use std::sync::Arc;

use axum::{
    Router,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use kazna_kernel::{Context, health::Check, server::App};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const NAME: &str = "web";

kazna_kernel::shared_state!(AppState, State);

pub struct State {
    pub ctx: Context,
    api: api::Api,
    templates: minijinja::Environment<'static>,
    cfg: WebSettings,
    /// Whether the shop is served over https (its cookies are then `Secure`).
    secure_cookies: bool,
}

pub async fn build(
    ctx: Context,
    listener: TcpListener,
    _shutdown: CancellationToken,
) -> Result<App, kazna_kernel::Error> {
    let cfg: WebSettings = ctx.settings.section()?;
    let templates = render::environment()
        .map_err(|e| kazna_kernel::Error::Other(format!("storefront templates: {e}")))?;
    let gateway = ctx.settings.services.gateway.url.clone();
    let state = AppState(Arc::new(State {
        api: api::Api::new(&gateway, ctx.local.clone()),
        secure_cookies: ctx.settings.gateway.public_url.starts_with("https://"),
        templates,
        cfg,
        ctx: ctx.clone(),
    }));
    let http = ctx.client.clone();
    let checks = vec![Check::new("gateway", move || {
        let (http, url) = (http.clone(), format!("{gateway}/health/live"));
        async move {
            http.get::<serde_json::Value>(&url)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })];
    let router = router()
        .with_state(state)
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .route("/static/demo/{file}", get(demo::picture))
        .route("/openapi.json", get(openapi))
        .merge(kazna_kernel::server::operational_routes(checks));
    let router = kazna_kernel::server::layers(NAME, router);
    Ok(App::new(NAME, listener, router))
}

fn router() -> Router<AppState> {
    use pages::{account, cart, checkout, shop};
    Router::new()
        .route("/", get(shop::home))
        .route("/search", get(shop::search))
        .route("/categories/{id}", get(shop::category))
        .route("/products/{id}", get(shop::product))
        .route("/cart", get(cart::show))
        .route("/cart/items", post(cart::add))
        .route("/cart/items/{variant}", post(cart::change))
        .route("/signin", get(account::signin_form).post(account::signin))
        .route("/signup", get(account::signup_form).post(account::signup))
        .route("/signout", post(account::signout))
        .route(
            "/verify-email",
            get(account::verify_form).post(account::verify),
        )
        .route(
            "/forgot-password",
            get(account::forgot_form).post(account::forgot),
        )
        .route(
            "/reset-password",
            get(account::reset_form).post(account::reset),
        )
        .route("/account", get(account::show))
        .route("/account/profile", post(account::profile))
        .route("/account/notifications", post(account::notifications))
        .route("/checkout", get(checkout::form).post(checkout::place))
        .route("/checkout/paypal/return", get(checkout::provider_return))
        .route("/checkout/paypal/cancel", get(checkout::provider_return))
        .route("/orders/{id}", get(checkout::order))
        .route("/orders/{id}/pay", post(checkout::pay))
        .route("/orders/{id}/cancel", post(checkout::cancel))
        .fallback(pages::not_found)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

/// The storefront's pages are HTML for people; its document names no API of its own (the
/// public API is the gateway's document).
async fn openapi() -> Response {
    let doc = serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": "Kazna storefront", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Server-rendered HTML pages over the public API."},
        "paths": {},
    });
    let mut res = (StatusCode::OK, doc.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", include_str!("../static/app.css"))
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../static/app.js"),
    )
}
