use axum::response::{IntoResponse, Response};
use kazna_kernel::{CallError, Code, FieldError, Problem};

use crate::status::OrderStatus;

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
    /// Lines flagged by the cart (variant, why), which the shopper must look at first.
    #[error("lines of the cart changed since they were added")]
    CartChanged(Vec<(uuid::Uuid, String)>),
    #[error("not enough stock")]
    InsufficientStock,
    #[error("order not found")]
    NotFound,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("an order cannot go from {from} to {to}")]
    Transition { from: OrderStatus, to: OrderStatus },
    #[error("part of the order has shipped")]
    PartlyShipped,
    #[error("not payable: {0}")]
    NotPayable(String),
    #[error("a payment is in progress")]
    PaymentInProgress,
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
            Error::CartChanged(lines) => {
                let mut p = Problem::new(Code::CartChanged);
                p.errors = lines
                    .into_iter()
                    .map(|(variant, why)| FieldError::new(format!("items.{variant}"), why))
                    .collect();
                p
            }
            Error::InsufficientStock => Problem::new(Code::InsufficientStock)
                .with_detail("Not enough stock for an item in the cart"),
            Error::NotFound => Problem::not_found("Order"),
            Error::Forbidden(why) => Problem::forbidden().with_detail(why),
            Error::Transition { from, to } => Problem::new(Code::InvalidTransition)
                .with_detail(format!("The order is {from}; it cannot become {to}")),
            Error::PartlyShipped => Problem::new(Code::InvalidTransition)
                .with_detail("Part of the order has shipped; it cannot be canceled"),
            Error::NotPayable(why) => Problem::new(Code::OrderNotPayable).with_detail(why),
            Error::PaymentInProgress => Problem::new(Code::PaymentInProgress)
                .with_detail("Wait for the current payment attempt to finish"),
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
