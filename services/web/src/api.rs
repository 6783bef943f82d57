//! The public API, called through the gateway exactly as any other client calls it: with the
//! shopper's bearer token and cart session, never the internal credential. Under `kazna up` the
//! gateway runs in this process and takes the call through its router, with no loopback hop.

use std::{collections::BTreeMap, time::Duration};

use axum::body::{Body, to_bytes};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use kazna_contracts::cart::SESSION_HEADER;
use kazna_kernel::{local::LocalServices, request_id};
use serde_json::Value;
use tower::ServiceExt;

const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from the API.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
    local: LocalServices,
}

/// Who a call is made for: the shopper's credentials, as their browser holds them.
#[derive(Debug, Default, Clone)]
pub struct Caller<'a> {
    pub token: Option<&'a str>,
    pub cart: Option<&'a str>,
    /// The shopper's address, so the API counts sign-in attempts per shopper.
    pub ip: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
}

/// What the API answered. A call that got no answer is a 503 with no body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    /// The guest cart session the cart service gave, if it gave one.
    pub cart_session: Option<String>,
}

impl Answer {
    fn unavailable() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: Value::Null,
            cart_session: None,
        }
    }

    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// The problem's machine code, or "" for a success or an answer without one.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// What went wrong, in words a shopper can read.
    pub fn message(&self) -> String {
        if self.status.is_server_error() {
            return "The shop cannot answer right now. Please try again in a moment.".into();
        }
        let title = self.body["title"].as_str().unwrap_or("That did not work");
        match self.body["detail"].as_str() {
            Some(detail) if !detail.is_empty() => format!("{title}: {detail}"),
            _ => title.to_owned(),
        }
    }

    /// The problem's field errors, by field name (the first message for each).
    pub fn field_errors(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for e in self.body["errors"].as_array().into_iter().flatten() {
            if let (Some(field), Some(message)) = (e["field"].as_str(), e["message"].as_str()) {
                out.entry(field.to_owned())
                    .or_insert_with(|| message.to_owned());
            }
        }
        out
    }
}

impl Api {
    pub fn new(gateway: &str, local: LocalServices) -> Self {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .pool_max_idle_per_host(64)
            .build()
            .unwrap_or_default();
        Self {
            base: gateway.trim_end_matches('/').to_owned(),
            http,
            local,
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        who: &Caller<'_>,
        body: Option<&Value>,
    ) -> Answer {
        let headers = headers(who, body.is_some());
        let body = body.map(Value::to_string).unwrap_or_default();
        let url = format!("{}{path}", self.base);
        let answer = match self.local.route(&url) {
            Some((router, path)) => {
                let Ok(uri) = path.parse::<http::Uri>() else {
                    return Answer::unavailable();
                };
                let mut req = http::Request::new(Body::from(body));
                *req.method_mut() = method;
                *req.uri_mut() = uri;
                *req.headers_mut() = headers;
                let call = async {
                    let res = router.oneshot(req).await.unwrap_or_else(|e| match e {});
                    let status = res.status();
                    let session = session(res.headers());
                    let bytes = to_bytes(res.into_body(), MAX_ANSWER_BYTES).await.ok()?;
                    Some((status, session, bytes.to_vec()))
                };
                tokio::time::timeout(TIMEOUT, call).await.ok().flatten()
            }
            None => {
                let call = async {
                    let mut rb = self.http.request(method, &url).headers(headers);
                    if !body.is_empty() {
                        rb = rb.body(body);
                    }
                    let res = rb.send().await.ok()?;
                    let status = res.status();
                    let session = session(res.headers());
                    let bytes = res.bytes().await.ok()?;
                    Some((status, session, bytes.to_vec()))
                };
                call.await
            }
        };
        let Some((status, cart_session, bytes)) = answer else {
            tracing::warn!(path, "the API did not answer");
            return Answer::unavailable();
        };
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            cart_session,
        }
    }
}

fn headers(who: &Caller<'_>, json: bool) -> HeaderMap {
    let mut h = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    if let Some(token) = who.token {
        put("authorization", &format!("Bearer {token}"));
    }
    if let Some(cart) = who.cart {
        put(SESSION_HEADER, cart);
    }
    if let Some(ip) = who.ip {
        put("x-forwarded-for", ip);
    }
    if let Some(key) = who.idempotency_key {
        put("idempotency-key", key);
    }
    if let Some(id) = request_id::current() {
        put("x-request-id", &id);
    }
    if json {
        put("content-type", "application/json");
    }
    h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    h
}

fn session(headers: &HeaderMap) -> Option<String> {
    headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `s` as one component of a URL's query or path.
pub fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
