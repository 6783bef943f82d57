//! Prometheus metrics: one recorder per process, every series labelled with its service.

use std::{sync::OnceLock, time::Duration};

use axum::{Router, extract::MatchedPath, routing::get};
use metrics::SharedString;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .as_ref()
}

/// Installs the process-wide recorder (idempotent).
pub fn init() {
    let _ = handle();
}

pub fn router() -> Router {
    Router::new().route(
        "/metrics",
        get(|| async { handle().map(|h| h.render()).unwrap_or_default() }),
    )
}

/// Counts one answered request and its latency, by service, method, route (`unmatched`
/// for none) and status.
pub fn record(
    service: &'static str,
    method: &http::Method,
    route: Option<&MatchedPath>,
    status: http::StatusCode,
    elapsed: Duration,
) {
    let labels = [
        ("service", SharedString::const_str(service)),
        ("method", method_label(method)),
        (
            "path",
            route.map_or(SharedString::const_str("unmatched"), |p| {
                SharedString::from(p.as_str().to_owned())
            }),
        ),
        ("status", SharedString::from(status.as_str().to_owned())),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
}

/// A method's name; the standard ones without an allocation.
fn method_label(method: &http::Method) -> SharedString {
    use http::Method as M;
    let known = [
        (M::GET, "GET"),
        (M::POST, "POST"),
        (M::PUT, "PUT"),
        (M::PATCH, "PATCH"),
        (M::DELETE, "DELETE"),
        (M::HEAD, "HEAD"),
        (M::OPTIONS, "OPTIONS"),
    ];
    known.into_iter().find(|(m, _)| m == method).map_or_else(
        || SharedString::from(method.as_str().to_owned()),
        |(_, name)| SharedString::const_str(name),
    )
}
