//! A stand-in for an outside provider's API (Stripe, PayPal): a real HTTP server on a free
//! port that records every request exactly as it arrived and answers from a script of the
//! provider's documented bodies, for wire tests that check what was sent.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::Bytes,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::IntoResponse,
};
use serde_json::Value;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path without the query.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A form-encoded body, as its pairs in order.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// An answer: a status and a JSON body, after an optional delay (longer than the caller's
/// time-out, it is a lost answer: the request arrived, the caller saw nothing).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

struct Rule {
    method: String,
    path: String,
    /// Answered in turn; the last one keeps answering.
    replies: VecDeque<Reply>,
}

#[derive(Default)]
struct Inner {
    rules: Vec<Rule>,
    requests: Vec<Request>,
}

#[derive(Clone)]
pub struct MockServer {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl MockServer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let inner = Arc::new(Mutex::new(Inner::default()));
        let state = inner.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { answer(&state, method, uri, headers, body).await }
            },
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, inner }
    }

    /// Answers `method path` with `replies`, in turn (the last one again and again); a later
    /// rule for the same request replaces an earlier one.
    pub fn on(&self, method: &str, path: &str, replies: Vec<Reply>) {
        let mut inner = self.inner.lock().expect("mock state");
        inner
            .rules
            .retain(|r| !(r.method == method && r.path == path));
        inner.rules.push(Rule {
            method: method.to_owned(),
            path: path.to_owned(),
            replies: replies.into(),
        });
    }

    /// Every request so far, in the order they arrived.
    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().expect("mock state").requests.clone()
    }

    /// The requests to `method path` so far.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }
}

async fn answer(
    state: &Mutex<Inner>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let request = Request {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body,
    };
    let reply = {
        let mut inner = state.lock().expect("mock state");
        let reply = inner
            .rules
            .iter_mut()
            .find(|r| r.method == request.method && r.path == request.path)
            .and_then(|r| match r.replies.len() {
                0 => None,
                1 => r.replies.front().cloned(),
                _ => r.replies.pop_front(),
            });
        inner.requests.push(request);
        reply
    };
    let reply = reply.unwrap_or_else(|| {
        Reply::json(
            404,
            serde_json::json!({"error": "no rule for this request"}),
        )
    });
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(reply.body)).into_response();
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            axum::http::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
