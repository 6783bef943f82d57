//! Prometheus metrics: one recorder per process, every series labelled with its service.

use std::{cell::RefCell, collections::HashMap, sync::OnceLock, time::Duration};

use axum::{Router, extract::MatchedPath, routing::get};
use metrics::{Counter, Histogram, SharedString};
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
    let route = route.map_or("unmatched", MatchedPath::as_str);
    let series = (service, method.clone(), status.as_u16());
    SERIES.with_borrow_mut(|known| {
        let by_route = known.entry(series).or_default();
        if !by_route.contains_key(route) {
            let labels = [
                ("service", SharedString::const_str(service)),
                ("method", SharedString::from(method.as_str().to_owned())),
                ("path", SharedString::from(route.to_owned())),
                ("status", SharedString::from(status.as_str().to_owned())),
            ];
            let handles = (
                metrics::counter!("http_requests_total", &labels),
                metrics::histogram!("http_request_duration_seconds", &labels),
            );
            by_route.insert(route.into(), handles);
        }
        if let Some((count, latency)) = by_route.get(route) {
            count.increment(1);
            latency.record(elapsed.as_secs_f64());
        }
    });
}

/// Service, method and status.
type Series = (&'static str, http::Method, u16);

/// A series' handles by route.
type ByRoute = HashMap<Box<str>, (Counter, Histogram)>;

thread_local! {
    /// The handles of each series this thread has recorded, so a request finds its own with
    /// two lookups instead of building its labels and asking the recorder every time. Routes
    /// are templates, so the series are as few as the routes.
    static SERIES: RefCell<HashMap<Series, ByRoute>> = RefCell::new(HashMap::new());
}
