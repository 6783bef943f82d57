use axum::response::{IntoResponse, Response};
use kazna_kernel::{FieldError, Problem};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    #[error("template not found")]
    NotFound,
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error("template: {0}")]
    Template(#[from] minijinja::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("sending: {0}")]
    Send(#[from] std::io::Error),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Validation(errors) => Problem::validation(errors),
            Error::NotFound => Problem::not_found("Template"),
            Error::Problem(p) => p,
            Error::Template(_) | Error::Database(_) | Error::Send(_) => {
                tracing::error!(error = %self, "notifications: internal error");
                Problem::internal()
            }
        }
        .into_response()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
