use axum::response::{IntoResponse, Response};
use kazna_kernel::{Code, Problem};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("payment not found")]
    NotFound,
    #[error("unknown payment provider")]
    UnknownProvider,
    #[error("webhook signature is missing, wrong or stale")]
    BadSignature,
    #[error("webhook body is not an event")]
    BadWebhook,
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("events: {0}")]
    Events(#[from] kazna_events::Error),
    #[error("gateway: {0}")]
    Gateway(String),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::NotFound => Problem::not_found("Payment"),
            Error::UnknownProvider => Problem::not_found("Payment provider"),
            Error::BadSignature => Problem::new(Code::InvalidSignature),
            Error::BadWebhook => Problem::new(Code::InvalidWebhook),
            Error::Problem(p) => p,
            Error::Database(_) | Error::Events(_) | Error::Gateway(_) => {
                tracing::error!(error = %self, "payments: internal error");
                Problem::internal()
            }
        }
        .into_response()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
