use axum::response::{IntoResponse, Response};
use kazna_kernel::{Code, FieldError, Problem};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("sku already used")]
    SkuTaken(String),
    #[error("not enough stock for variant {0}")]
    InsufficientStock(Uuid),
    #[error("reservation not held")]
    ReservationNotHeld,
    #[error("a category cannot go under itself or its descendants")]
    CategoryCycle,
    #[error("the category has children or products")]
    CategoryInUse,
    #[error("stock would fall below what is reserved")]
    StockBelowReserved,
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
            Error::NotFound(what) => Problem::not_found(what),
            Error::SkuTaken(sku) => Problem::new(Code::SkuTaken).with_detail(format!("sku {sku}")),
            Error::InsufficientStock(id) => {
                Problem::new(Code::InsufficientStock).with_detail(format!("variant {id}"))
            }
            Error::ReservationNotHeld => Problem::new(Code::ReservationNotHeld),
            Error::CategoryCycle => Problem::new(Code::CategoryCycle),
            Error::CategoryInUse => Problem::new(Code::CategoryInUse),
            Error::StockBelowReserved => Problem::new(Code::StockBelowReserved),
            Error::Problem(p) => p,
            Error::Database(_) | Error::Events(_) => {
                tracing::error!(error = %self, "catalog: internal error");
                Problem::internal()
            }
        }
        .into_response()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
