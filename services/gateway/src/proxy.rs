//! The reverse proxy: streams requests and answers through, status, headers and request id
//! included, minus hop-by-hop headers. The API goes to the service that owns it, every other
//! page to the storefront. A service running in this process gets the request
//! through its router, with no loopback hop.

use std::{net::SocketAddr, time::Duration};

use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{Extensions, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use kazna_kernel::{Code, Problem, auth::INTERNAL_HEADER, trace};
use tower::ServiceExt;

use crate::{AppState, routes};

const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

fn strip(headers: &mut HeaderMap) {
    // Headers the Connection header names are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for h in HOP_BY_HOP.iter().chain(named.iter()) {
        headers.remove(h);
    }
    headers.remove(header::TRANSFER_ENCODING);
}

pub async fn forward(State(s): State<AppState>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let base = match routes::upstream(&s.routes, &path) {
        Some(base) => base,
        None if routes::is_page(&path) => s.web.as_str(),
        None => return Problem::from_status(StatusCode::NOT_FOUND).into_response(),
    };
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or(path);
    let local = s.ctx.local.get(base);
    // A service in this process takes the path alone; one elsewhere, the full URL.
    let target = if local.is_some() {
        pq
    } else {
        format!("{base}{pq}")
    };
    let Ok(uri) = target.parse::<Uri>() else {
        return Problem::new(Code::BadRequest)
            .with_detail("The request URI is not valid")
            .into_response();
    };
    let (mut parts, body) = req.into_parts();
    let peer = parts.extensions.remove::<ConnectInfo<SocketAddr>>();
    // Nothing the gateway's own layers attached travels on, as over the network.
    parts.extensions = Extensions::new();
    parts.uri = uri;
    strip(&mut parts.headers);
    parts.headers.remove(header::HOST);
    // Only services hold the internal credential; a client cannot pass one through.
    parts.headers.remove(INTERNAL_HEADER);
    if let Some(ConnectInfo(addr)) = peer {
        if let Ok(v) = HeaderValue::from_str(&addr.ip().to_string()) {
            parts.headers.append("x-forwarded-for", v);
        }
        if local.is_some() {
            parts.extensions.insert(ConnectInfo(addr));
        }
    }
    // The service's span is a child of this call's, not of whatever the client sent.
    let mut span = trace::Span::child(trace::Kind::Client, || {
        format!("{} {}", parts.method, trace::template(parts.uri.path()))
    });
    span.inject(&mut parts.headers);
    let upstream = Request::from_parts(parts, body);
    let answer = async {
        match local {
            Some(router) => Ok(router
                .oneshot(upstream)
                .await
                .unwrap_or_else(|e| match e {})),
            None => s
                .client
                .request(upstream)
                .await
                .map(|res| res.map(Body::new)),
        }
    };
    match tokio::time::timeout(Duration::from_secs(30), answer).await {
        Ok(Ok(res)) => {
            span.set(
                "http.response.status_code",
                i64::from(res.status().as_u16()),
            );
            let (mut parts, body) = res.into_parts();
            strip(&mut parts.headers);
            Response::from_parts(parts, body)
        }
        Ok(Err(e)) => {
            span.fail(e.to_string());
            tracing::warn!(error = %e, upstream = base, "upstream failed");
            Problem::new(Code::BadGateway).into_response()
        }
        Err(_) => Problem::new(Code::GatewayTimeout).into_response(),
    }
}
