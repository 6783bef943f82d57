//! The HTTP client Stripe's and PayPal's adapters share: one request, its answer, and a line
//! in the transcript for the audit log. What cannot be an answer (a time-out, a refused
//! connection, a 429, a 5xx) is `GatewayError::Unavailable`, to be retried with the same
//! idempotency key; any other status is handed back for the adapter to read.

use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder};
use serde_json::Value;

use crate::{audit::Transcript, gateway::GatewayError};

pub(crate) struct Api {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
}

/// A provider's answer that is not a reason to retry.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A request body, as sent and as logged.
pub(crate) enum Body {
    Empty,
    Form(Vec<(String, String)>),
    Json(Value),
}

impl Body {
    fn logged(&self) -> Value {
        match self {
            Body::Empty => Value::Null,
            Body::Form(pairs) => Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
            Body::Json(v) => v.clone(),
        }
    }
}

pub(crate) fn form(pairs: &[(&str, String)]) -> Body {
    Body::Form(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

impl Api {
    pub fn new(base: &str, timeout_ms: u64) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    /// `method path` with `body`; `auth` adds the credentials (never logged).
    pub async fn send(
        &self,
        log: &mut Transcript,
        method: Method,
        path: &str,
        body: Body,
        auth: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> Result<Answer, GatewayError> {
        let logged = body.logged();
        let mut req = auth(
            self.http
                .request(method.clone(), format!("{}{path}", self.base))
                .timeout(self.timeout),
        );
        req = match body {
            Body::Empty => req,
            Body::Form(pairs) => {
                let mut s = form_urlencoded::Serializer::new(String::new());
                for (k, v) in &pairs {
                    s.append_pair(k, v);
                }
                req.header("content-type", "application/x-www-form-urlencoded")
                    .body(s.finish())
            }
            Body::Json(v) => req.json(&v),
        };
        let started = Instant::now();
        let answer = match req.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                match r.bytes().await {
                    Ok(bytes) => Ok((
                        status,
                        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                            Value::String(
                                String::from_utf8_lossy(&bytes).chars().take(500).collect(),
                            )
                        }),
                    )),
                    Err(e) => Err(e.to_string()),
                }
            }
            Err(e) => Err(match e.is_timeout() {
                true => "timed out".to_owned(),
                false => e.to_string(),
            }),
        };
        log.record(method.as_str(), path, logged, started, answer.clone());
        let (status, body) = answer.map_err(GatewayError::Unavailable)?;
        if status == 429 || status >= 500 {
            return Err(GatewayError::Unavailable(format!(
                "{method} {path}: {status}"
            )));
        }
        Ok(Answer { status, body })
    }
}
