use axum::response::{IntoResponse, Response};
use kazna_contracts::{Money, payments::PaymentStatus};
use kazna_kernel::{Code, FieldError, Problem};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    #[error("payment not found")]
    NotFound,
    #[error("unknown payment provider")]
    UnknownProvider,
    #[error("webhook signature is missing, wrong or stale")]
    BadSignature,
    #[error("webhook body is not an event")]
    BadWebhook,
    #[error("a {0} payment cannot be refunded")]
    NotRefundable(PaymentStatus),
    #[error("only {0} is left to refund")]
    RefundTooLarge(Money),
    #[error("the payment provider is unavailable: {0}")]
    GatewayUnavailable(String),
    #[error("idempotency key reused with another body")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("events: {0}")]
    Events(#[from] kazna_events::Error),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Validation(errors) => Problem::validation(errors),
            Error::NotFound => Problem::not_found("Payment"),
            Error::UnknownProvider => Problem::not_found("Payment provider"),
            Error::BadSignature => Problem::new(Code::InvalidSignature),
            Error::BadWebhook => Problem::new(Code::InvalidWebhook),
            Error::NotRefundable(status) => Problem::new(Code::NotRefundable).with_detail(format!(
                "The payment is {status}: it took no money to refund"
            )),
            Error::RefundTooLarge(left) => Problem::new(Code::RefundTooLarge)
                .with_detail(format!("Only {left} is left to refund")),
            Error::IdempotencyKeyReused => Problem::new(Code::IdempotencyKeyReused),
            Error::GatewayUnavailable(e) => {
                tracing::warn!(error = %e, "payments: provider unavailable");
                Problem::new(Code::ServiceUnavailable)
            }
            Error::Problem(p) => p,
            Error::Database(_) | Error::Events(_) => {
                tracing::error!(error = %self, "payments: internal error");
                Problem::internal()
            }
        }
        .into_response()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
