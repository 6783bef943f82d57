//! RFC 9457 problem documents: the one shape every error answer takes.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{code::Code, request_id};

/// One invalid field of a request body or query.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An error answer: a status, a stable machine `code` and a human `title`, both given by the
/// code (see [`Code`]); `detail` says more about this case.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub code: Code,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For `validation_failed`: each bad field, by its path in the request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Problem {
    pub fn new(code: Code) -> Self {
        Self {
            kind: "about:blank",
            title: code.title(),
            status: code.status().as_u16(),
            code,
            detail: None,
            errors: Vec::new(),
            request_id: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut p = Self::new(Code::ValidationFailed);
        p.errors = errors;
        p
    }

    /// A validation problem with one bad field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    pub fn unauthorized() -> Self {
        Self::new(Code::Unauthorized)
    }

    pub fn forbidden() -> Self {
        Self::new(Code::Forbidden)
    }

    /// The generic `not_found`, with a detail naming what was looked for.
    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotFound).with_detail(format!("{what} not found"))
    }

    /// For failures that are ours, not the client's. The cause must already be logged.
    pub fn internal() -> Self {
        Self::new(Code::InternalError)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(Code::ServiceUnavailable).with_detail(detail)
    }

    pub fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    /// The problem a bare error status gets when nothing more specific was said.
    pub fn from_status(status: StatusCode) -> Self {
        Self::new(Code::for_status(status))
    }
}

impl IntoResponse for Problem {
    fn into_response(mut self) -> Response {
        if self.request_id.is_none() {
            self.request_id = request_id::current();
        }
        let status = self.status_code();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        res
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.title)
    }
}

impl std::error::Error for Problem {}
