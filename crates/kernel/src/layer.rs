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
