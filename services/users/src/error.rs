use axum::response::{IntoResponse, Response};
use kazna_kernel::{Code, FieldError, Problem};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    #[error("email already registered")]
    EmailTaken,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("invalid or spent token")]
    InvalidToken,
    #[error("user not found")]
    NotFound,
    #[error("too many failed sign-ins")]
    TooManyAttempts { retry_after: u64 },
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("events: {0}")]
    Events(#[from] kazna_events::Error),
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Validation(errors) => Problem::validation(errors),
            Error::EmailTaken => Problem::new(Code::EmailTaken),
            Error::InvalidCredentials => Problem::new(Code::InvalidCredentials),
            Error::InvalidToken => Problem::new(Code::InvalidToken),
            Error::NotFound => Problem::not_found("User"),
            Error::TooManyAttempts { retry_after } => {
                let mut res = Problem::new(Code::TooManyAttempts).into_response();
                if let Ok(v) = axum::http::HeaderValue::from_str(&retry_after.to_string()) {
                    res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
                }
                return res;
            }
            Error::Problem(p) => p,
            Error::Redis(_) => {
                tracing::error!(error = %self, "users: redis failed");
                Problem::unavailable("Sign-in is unavailable for a moment")
            }
            Error::Database(_) | Error::Events(_) | Error::Internal(_) => {
                tracing::error!(error = %self, "users: internal error");
                Problem::internal()
            }
        }
        .into_response()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
