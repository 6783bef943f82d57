//! The server side of a request's span: continues the caller's trace from `traceparent`,
//! names the span by route, and records the answer's status.

use axum::{
    extract::{MatchedPath, Request},
    http::StatusCode,
};

use super::{Context, HEADER, Kind, Span, otlp};

/// The server span of `service` for `req`, continuing the caller's trace from its
/// `traceparent`; inert when no exporter is installed.
pub fn open(service: &'static str, req: &Request) -> Span {
    if !otlp::installed() {
        return Span::inert();
    }
    let parent = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(Context::parse);
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let name = format!(
        "{method} {}",
        route.clone().unwrap_or_else(|| template(req.uri().path()))
    );
    let mut span = Span::start(service, Kind::Server, name, parent);
    span.set("http.request.method", method);
    span.set("url.path", req.uri().path());
    if let Some(route) = route {
        span.set("http.route", route);
    }
    span
}

/// Records the answer's status on a server span; a 5xx fails it.
pub fn close(span: &mut Span, status: StatusCode) {
    span.set("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.fail(status.to_string());
    }
}

/// A path with its ids replaced, for a span name that does not change with every product:
/// `/api/v1/orders/0193…/cancel` is `/api/v1/orders/{id}/cancel`.
pub fn template(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    path.split('/')
        .map(|segment| {
            let id = segment.parse::<uuid::Uuid>().is_ok()
                || (!segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()));
            if id { "{id}" } else { segment }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::template;

    #[test]
    fn ids_in_a_path_become_placeholders() {
        assert_eq!(
            template("/api/v1/orders/0193b7e1-6f7c-7d3a-9a4e-2a7c1b0e5f11/cancel?x=1"),
            "/api/v1/orders/{id}/cancel"
        );
        assert_eq!(template("/internal/orders/42"), "/internal/orders/{id}");
        assert_eq!(template("/api/v1/search"), "/api/v1/search");
        assert_eq!(template("/"), "/");
    }
}
