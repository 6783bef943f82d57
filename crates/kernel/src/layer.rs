//! What every service does around each request, as one layer: the request id, the log span,
//! the trace span, a panic answered as a problem, the metrics, and a problem document for
//! every error answer. One layer, so a request pays for one boxed future and one clone of
//! the route, not one of each per concern.

use std::{
    convert::Infallible,
    future::Future,
    panic::AssertUnwindSafe,
    pin::Pin,
    task::{Context, Poll},
    time::Instant,
};

use axum::{
    body::to_bytes,
    extract::{MatchedPath, Request},
    http::header,
    response::{IntoResponse, Response},
};
use futures_util::FutureExt as _;
use tower::{Layer, Service};
use tracing::Instrument as _;

use crate::{metrics, problem::Problem, request_id, trace};

/// The standard layer of `service`.
#[derive(Clone, Copy)]
pub struct Standard {
    pub service: &'static str,
}

impl<S> Layer<S> for Standard {
    type Service = Served<S>;

    fn layer(&self, inner: S) -> Served<S> {
        Served {
            inner,
            service: self.service,
        }
    }
}

/// A route served inside the [`Standard`] layer.
#[derive(Clone)]
pub struct Served<S> {
    inner: S,
    service: &'static str,
}

impl<S> Service<Request> for Served<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The clone stays for the next call; the one that was made ready serves this one.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        Box::pin(serve(self.service, ready, req))
    }
}

async fn serve<S>(
    service: &'static str,
    mut inner: S,
    mut req: Request,
) -> Result<Response, Infallible>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let start = Instant::now();
    let (id, id_header) = request_id::take(&mut req);
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let log = tracing::info_span!("http", service, method = %method, uri = %req.uri().path(), request_id = %id);
    let mut span = trace::open(service, &req);
    let answer = AssertUnwindSafe(inner.call(req)).catch_unwind();
    let within = async {
        let res = match span.scope(answer).await {
            Ok(Ok(res)) => res,
            Ok(Err(never)) => match never {},
            Err(_) => {
                tracing::error!("a handler panicked");
                Problem::internal().into_response()
            }
        };
        as_problem(res).await
    };
    let mut res = request_id::scope(id, within).instrument(log.clone()).await;
    let status = res.status();
    let elapsed = start.elapsed();
    trace::close(&mut span, status);
    metrics::record(service, &method, route.as_ref(), status, elapsed);
    if status.is_server_error() {
        log.in_scope(|| {
            tracing::error!(
                status = status.as_u16(),
                latency_ms = elapsed.as_millis() as u64,
                "response failed"
            );
        });
    }
    res.headers_mut().insert(request_id::HEADER, id_header);
    Ok(res)
}

/// Turns any error answer that is not already JSON (a framework rejection, a 405) into a
/// problem document, so clients see one error format everywhere. A web page that says what
/// went wrong in HTML is left as it is, for the person reading it.
async fn as_problem(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let meant = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json") || ct.starts_with("text/html"));
    if meant {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .filter(|t| !t.trim().is_empty());
    let mut problem = Problem::from_status(status);
    if !status.is_server_error() {
        problem.detail = text;
    }
    let mut out = problem.into_response();
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, http::StatusCode, routing::get};
    use tower::ServiceExt as _;

    use super::*;

    async fn boom() -> &'static str {
        panic!("a handler that panics")
    }

    async fn call(app: &Router, method: &str, uri: &str, id: Option<&str>) -> Response {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(id) = id {
            req = req.header(request_id::HEADER, id);
        }
        let req = req.body(Body::empty()).expect("a request");
        app.clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|e| match e {})
    }

    async fn text(res: Response) -> String {
        let bytes = to_bytes(res.into_body(), 1 << 20).await.expect("a body");
        String::from_utf8(bytes.to_vec()).expect("text")
    }

    /// The count of the `http_requests_total` series whose labels include every one of
    /// `labels` (`name="value"`), in the Prometheus text `metrics` shows.
    fn count(metrics: &str, labels: &[&str]) -> Option<u64> {
        metrics
            .lines()
            .filter(|l| l.starts_with("http_requests_total{"))
            .find(|l| labels.iter().all(|label| l.contains(label)))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_panics_and_rejections_are_problems_with_their_id_and_each_is_counted_once() {
        let routes = Router::new()
            .route("/things/{id}", get(|| async { "fine" }))
            .route("/boom", get(boom));
        let app = crate::server::layers("layertest", routes);

        // Two hundred at once, on both worker threads: every one counted, none twice.
        let mut all = tokio::task::JoinSet::new();
        for i in 0..200 {
            let app = app.clone();
            all.spawn(async move { call(&app, "GET", &format!("/things/{i}"), None).await });
        }
        let mut ids = std::collections::HashSet::new();
        while let Some(res) = all.join_next().await {
            let res = res.expect("a request task");
            assert_eq!(res.status(), StatusCode::OK);
            let id = res.headers()[request_id::HEADER].to_str().expect("an id");
            let id = uuid::Uuid::parse_str(id).expect("a made id is a UUID");
            assert_eq!(id.get_version_num(), 7);
            ids.insert(id);
        }
        assert_eq!(ids.len(), 200, "every request has an id of its own");

        let boom = call(&app, "GET", "/boom", Some("req-boom-1")).await;
        assert_eq!(boom.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(boom.headers()[request_id::HEADER], "req-boom-1");
        assert_eq!(
            boom.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body: serde_json::Value = serde_json::from_str(&text(boom).await).expect("json");
        assert_eq!(body["request_id"], "req-boom-1");
        assert!(
            !body.to_string().contains("a handler that panics"),
            "the panic's message stays out of the answer: {body}"
        );

        // A rejection the framework writes in plain text becomes a problem document.
        let wrong = call(&app, "POST", "/things/1", Some("bad id with spaces")).await;
        assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(wrong.headers().contains_key(header::ALLOW));
        let id = wrong.headers()[request_id::HEADER].to_str().expect("an id");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "an unfit id is replaced");
        assert_eq!(
            wrong.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );

        let metrics = text(call(&metrics::router(), "GET", "/metrics", None).await).await;
        let service = r#"service="layertest""#;
        let things = r#"path="/things/{id}""#;
        assert_eq!(
            count(
                &metrics,
                &[service, r#"method="GET""#, things, r#"status="200""#]
            ),
            Some(200),
            "{metrics}"
        );
        assert_eq!(
            count(&metrics, &[service, r#"path="/boom""#, r#"status="500""#]),
            Some(1),
            "{metrics}"
        );
        assert_eq!(
            count(
                &metrics,
                &[service, r#"method="POST""#, things, r#"status="405""#]
            ),
            Some(1),
            "{metrics}"
        );
    }
}
