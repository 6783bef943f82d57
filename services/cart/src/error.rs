use axum::response::{IntoResponse, Response};
use kazna_kernel::{CallError, Code, FieldError, Problem};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    #[error("variant not found")]
    UnknownVariant,
    #[error("not enough stock")]
    InsufficientStock,
    #[error("the cart holds another currency")]
    CurrencyMismatch,
    #[error("the cart is full")]
    CartFull,
    #[error("a line holds at most 1000 units")]
    TooMany,
    #[error("a cart script answered something unexpected")]
    Script,
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("catalog: {0}")]
    Catalog(#[from] CallError),
    #[error("money: {0}")]
    Money(#[from] kazna_contracts::MoneyError),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Validation(errors) => Problem::validation(errors),
            Error::UnknownVariant => Problem::not_found("Variant"),
            Error::InsufficientStock => Problem::new(Code::InsufficientStock)
                .with_detail("Not enough stock for this quantity"),
            Error::CurrencyMismatch => Problem::new(Code::CurrencyMismatch),
            Error::CartFull => Problem::new(Code::CartFull),
            Error::TooMany => Problem::field(
                "quantity",
                format!("a line holds at most {} units", crate::carts::MAX_QUANTITY),
            ),
            Error::Script => {
                tracing::error!(error = %self, "cart: script");
                Problem::internal()
            }
            Error::Problem(p) => p,
            Error::Catalog(_) => {
                tracing::error!(error = %self, "cart: catalog call failed");
                Problem::unavailable("The catalog did not answer")
            }
            Error::Money(_) => {
                tracing::error!(error = %self, "cart: a total has no answer");
                Problem::internal()
            }
            Error::Redis(_) => {
                tracing::error!(error = %self, "cart: redis failed");
                Problem::unavailable("The cart store did not answer")
            }
        }
        .into_response()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
