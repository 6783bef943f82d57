//! The HTTP client services use to call each other: it carries the internal credential and
//! the current request id and trace context, and turns problem answers into typed errors. A service running in
//! the same process is called through its router, without a loopback hop.

use std::time::Duration;

use axum::body::{Body, Bytes, to_bytes};
use reqwest::{Method, StatusCode, header};
use serde::{Serialize, de::DeserializeOwned};
use tower::ServiceExt;

use crate::{
    auth::INTERNAL_HEADER,
    code::Code,
    local::{self, LocalServices},
    request_id,
    secret::Secret,
    trace,
};

const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from another service.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

#[derive(Clone)]
pub struct ServiceClient {
    http: reqwest::Client,
    internal_token: Secret,
    local: LocalServices,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The other service answered with an error status; `code` is its problem's code, when
    /// it answered with one of ours.
    #[error("{status} {}", code.map_or("(no problem document)", Code::as_str))]
    Status {
        status: StatusCode,
        code: Option<Code>,
    },
    /// No answer: the connection failed, timed out or broke off.
    #[error("transport: {0}")]
    Transport(String),
    /// An answer that is not the JSON expected.
    #[error("undecodable answer: {0}")]
    Decode(#[from] serde_json::Error),
}

impl From<reqwest::Error> for CallError {
    fn from(e: reqwest::Error) -> Self {
        CallError::Transport(e.to_string())
    }
}

impl CallError {
    /// The problem code of an error answer, if it was one: what a caller acts on.
    pub fn code(&self) -> Option<Code> {
        match self {
            CallError::Status { code, .. } => *code,
            CallError::Transport(_) | CallError::Decode(_) => None,
        }
    }
}

impl ServiceClient {
    pub fn new(internal_token: Secret, local: LocalServices) -> Self {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .pool_max_idle_per_host(64)
            .build()
            .unwrap_or_default();
        Self {
            http,
            internal_token,
            local,
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, url: &str) -> Result<T, CallError> {
        decode(self.send(Method::GET, url, None).await?)
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        url: &str,
        body: &B,
    ) -> Result<T, CallError> {
        let body = serde_json::to_vec(body)?;
        decode(self.send(Method::POST, url, Some(body)).await?)
    }

    pub async fn delete(&self, url: &str) -> Result<(), CallError> {
        check(self.send(Method::DELETE, url, None).await?).map(|_| ())
    }

    /// One call: through the service's router when it runs here, else over HTTP.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), CallError> {
        let mut headers = header::HeaderMap::new();
        if let Ok(v) = header::HeaderValue::from_str(self.internal_token.expose()) {
            headers.insert(INTERNAL_HEADER, v);
        }
        if let Some(id) = request_id::current()
            && let Ok(v) = header::HeaderValue::from_str(&id)
        {
            headers.insert(request_id::HEADER, v);
        }
        let mut span = trace::Span::child(trace::Kind::Client, || {
            format!("{method} {}", trace::template(local::path_of(url)))
        });
        span.inject(&mut headers);
        if body.is_some() {
            headers.insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
        }
        span.set("http.request.method", method.as_str());
        span.set("url.full", url.split('?').next().unwrap_or_default());
        let answer = self.exchange(method, url, headers, body).await;
        match &answer {
            Ok((status, _)) => {
                span.set("http.response.status_code", i64::from(status.as_u16()));
                if status.is_server_error() {
                    span.fail(status.to_string());
                }
            }
            Err(e) => span.fail(e.to_string()),
        }
        answer
    }

    async fn exchange(
        &self,
        method: Method,
        url: &str,
        headers: header::HeaderMap,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), CallError> {
        if let Some((router, path)) = self.local.route(url) {
            let mut req = http::Request::new(Body::from(body.unwrap_or_default()));
            *req.method_mut() = method;
            *req.uri_mut() = path
                .parse()
                .map_err(|_| CallError::Transport(format!("bad URL {url}")))?;
            *req.headers_mut() = headers;
            let answer = async {
                let res = router.oneshot(req).await.unwrap_or_else(|e| match e {});
                let status = res.status();
                let bytes = to_bytes(res.into_body(), MAX_ANSWER_BYTES)
                    .await
                    .map_err(|e| CallError::Transport(e.to_string()))?;
                Ok((status, bytes))
            };
            return tokio::time::timeout(TIMEOUT, answer)
                .await
                .map_err(|_| CallError::Transport(format!("{url} timed out")))?;
        }
        let mut rb = self.http.request(method, url).headers(headers);
        if let Some(body) = body {
            rb = rb.body(body);
        }
        let res = rb.send().await?;
        let status = res.status();
        Ok((status, res.bytes().await?))
    }
}

fn check((status, body): (StatusCode, Bytes)) -> Result<Bytes, CallError> {
    if status.is_success() {
        return Ok(body);
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        code: Code,
    }
    let code = serde_json::from_slice::<Answer>(&body).ok().map(|a| a.code);
    Err(CallError::Status { status, code })
}

fn decode<T: DeserializeOwned>(answer: (StatusCode, Bytes)) -> Result<T, CallError> {
    Ok(serde_json::from_slice(&check(answer)?)?)
}
