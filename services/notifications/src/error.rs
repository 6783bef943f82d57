use axum::response::{IntoResponse, Response};
use kazna_kernel::{Code, FieldError, Problem};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("a {0} message cannot be sent again")]
    NotRetryable(String),
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error("template: {0}")]
    Template(#[from] minijinja::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Validation(errors) => Problem::validation(errors),
            Error::NotFound(what) => Problem::not_found(what),
            Error::NotRetryable(status) => {
                Problem::new(Code::NotRetryable).with_detail(format!("The message is {status}"))
            }
            Error::Problem(p) => p,
            Error::Template(_) | Error::Database(_) => {
                tracing::error!(error = %self, "notifications: internal error");
                Problem::internal()
            }
        }
        .into_response()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
