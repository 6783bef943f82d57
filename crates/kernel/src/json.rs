//! A JSON body extractor whose rejections are problem documents.

use axum::{
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::problem::Problem;

/// Like `axum::Json`, but a malformed body, a wrong type or a missing field answers with a
/// problem document naming what is wrong.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(rejection_problem(rejection)),
        }
    }
}

fn rejection_problem(rejection: JsonRejection) -> Problem {
    match rejection {
        JsonRejection::JsonDataError(e) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "The body does not have the expected fields and types",
        )
        .with_detail(e.body_text()),
        JsonRejection::JsonSyntaxError(e) => {
            Problem::bad_request("malformed_json", "The body is not valid JSON")
                .with_detail(e.body_text())
        }
        JsonRejection::MissingJsonContentType(_) => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as application/json",
        ),
        other => Problem::from_status(other.status()).with_detail(other.body_text()),
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// For `#[serde(default, deserialize_with = "kazna_kernel::json::some_or_null")]` on an
/// `Option<Option<T>>` field of a partial update: tells a missing field (`None`, leave it)
/// from an explicit `null` (`Some(None)`, clear it).
pub fn some_or_null<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
