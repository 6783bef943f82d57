use axum::response::{IntoResponse, Response};
use kazna_kernel::{FieldError, Problem};
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
            Error::SkuTaken(sku) => {
                Problem::conflict("sku_taken", "A variant with this SKU exists")
                    .with_detail(format!("sku {sku}"))
            }
            Error::InsufficientStock(id) => {
                Problem::conflict("insufficient_stock", "Not enough stock")
                    .with_detail(format!("variant {id}"))
            }
            Error::ReservationNotHeld => Problem::conflict(
                "reservation_not_held",
                "The reservation is not held (released or expired)",
            ),
            Error::CategoryCycle => Problem::conflict(
                "category_cycle",
                "A category cannot be placed under itself or one of its descendants",
            ),
            Error::CategoryInUse => Problem::conflict(
                "category_in_use",
                "The category has subcategories or products; pass reassign_to to move them",
            ),
            Error::StockBelowReserved => Problem::conflict(
                "stock_below_reserved",
                "Stock cannot go below the units reserved for unpaid orders, nor below zero",
            ),
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
