//! The reverse proxy: streams requests and answers through, status, headers and request id
//! included, minus hop-by-hop headers.

use std::time::Duration;

use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use kazna_kernel::{Problem, auth::INTERNAL_HEADER};

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
    let Some(base) = routes::upstream(&s.routes, &path) else {
        return Problem::from_status(StatusCode::NOT_FOUND).into_response();
    };
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or(path);
    let Ok(uri) = format!("{base}{pq}").parse::<Uri>() else {
        return Problem::bad_request("bad_uri", "The request URI is not valid").into_response();
    };
    let peer = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let (mut parts, body) = req.into_parts();
    parts.uri = uri;
    strip(&mut parts.headers);
    parts.headers.remove(header::HOST);
    // Only services hold the internal credential; a client cannot pass one through.
    parts.headers.remove(INTERNAL_HEADER);
    if let Some(ip) = peer
        && let Ok(v) = HeaderValue::from_str(&ip)
    {
        parts.headers.append("x-forwarded-for", v);
    }
    let upstream = Request::from_parts(parts, body);
    match tokio::time::timeout(Duration::from_secs(30), s.client.request(upstream)).await {
        Ok(Ok(res)) => {
            let (mut parts, body) = res.into_parts();
            strip(&mut parts.headers);
            Response::from_parts(parts, Body::new(body))
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, upstream = base, "upstream failed");
            Problem::new(
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                "The service behind this path did not answer",
            )
            .into_response()
        }
        Err(_) => Problem::new(
            StatusCode::GATEWAY_TIMEOUT,
            "gateway_timeout",
            "The service behind this path took too long",
        )
        .into_response(),
    }
}
