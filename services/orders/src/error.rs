use axum::response::{IntoResponse, Response};
use kazna_kernel::{CallError, Code, FieldError, Problem};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    #[error("Idempotency-Key header missing or invalid")]
    IdempotencyKeyRequired,
    #[error("idempotency key reused with another body")]
    IdempotencyKeyReused,
    #[error("a request with this idempotency key is in progress")]
    IdempotencyInProgress,
    #[error("the cart is empty")]
    CartEmpty,
    #[error("not enough stock")]
    InsufficientStock,
    #[error("order not found")]
    NotFound,
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("events: {0}")]
    Events(#[from] kazna_events::Error),
    #[error("call: {0}")]
    Call(#[from] CallError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Validation(errors) => Problem::validation(errors),
            Error::IdempotencyKeyRequired => Problem::new(Code::IdempotencyKeyRequired),
            Error::IdempotencyKeyReused => Problem::new(Code::IdempotencyKeyReused),
            Error::IdempotencyInProgress => Problem::new(Code::IdempotencyInProgress),
            Error::CartEmpty => Problem::new(Code::CartEmpty),
            Error::InsufficientStock => Problem::new(Code::InsufficientStock)
                .with_detail("Not enough stock for an item in the cart"),
            Error::NotFound => Problem::not_found("Order"),
            Error::Problem(p) => p,
            Error::Call(_) => {
                tracing::error!(error = %self, "orders: a dependency failed");
                Problem::unavailable("A service this needs did not answer")
            }
            Error::Database(_) | Error::Events(_) | Error::Json(_) => {
                tracing::error!(error = %self, "orders: internal error");
                Problem::internal()
            }
        }
        .into_response()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
