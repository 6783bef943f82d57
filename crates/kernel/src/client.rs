//! The HTTP client services use to call each other: it carries the internal credential and
//! the current request id, and turns problem answers into typed errors.

use std::time::Duration;

use crate::secret::Secret;
use reqwest::{Method, StatusCode};
use serde::{Serialize, de::DeserializeOwned};

use crate::{auth::INTERNAL_HEADER, request_id};

#[derive(Clone)]
pub struct ServiceClient {
    http: reqwest::Client,
    internal_token: Secret,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The other service answered with an error status; `code` is its problem code.
    #[error("{status} {code}")]
    Status { status: StatusCode, code: String },
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
}

impl CallError {
    /// The problem code of an error answer, if it was one.
    pub fn code(&self) -> Option<&str> {
        match self {
            CallError::Status { code, .. } => Some(code),
            CallError::Transport(_) => None,
        }
    }
}

impl ServiceClient {
    pub fn new(internal_token: Secret) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(64)
            .build()
            .unwrap_or_default();
        Self {
            http,
            internal_token,
        }
    }

    fn request(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        let mut rb = self
            .http
            .request(method, url)
            .header(INTERNAL_HEADER, self.internal_token.expose());
        if let Some(id) = request_id::current() {
            rb = rb.header(request_id::HEADER.as_str(), id);
        }
        rb
    }

    pub async fn get<T: DeserializeOwned>(&self, url: &str) -> Result<T, CallError> {
        let res = self.request(Method::GET, url).send().await?;
        decode(res).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        url: &str,
        body: &B,
    ) -> Result<T, CallError> {
        let res = self.request(Method::POST, url).json(body).send().await?;
        decode(res).await
    }

    pub async fn delete(&self, url: &str) -> Result<(), CallError> {
        let res = self.request(Method::DELETE, url).send().await?;
        check(res).await.map(|_| ())
    }
}

async fn check(res: reqwest::Response) -> Result<reqwest::Response, CallError> {
    let status = res.status();
    if status.is_success() {
        return Ok(res);
    }
    let code = res
        .json::<serde_json::Value>()
        .await
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "unknown".into());
    Err(CallError::Status { status, code })
}

async fn decode<T: DeserializeOwned>(res: reqwest::Response) -> Result<T, CallError> {
    Ok(check(res).await?.json().await?)
}
