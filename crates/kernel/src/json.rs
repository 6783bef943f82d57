//! A JSON body extractor whose rejections are problem documents, and which refuses text the
//! stores would refuse (see [`crate::text`]).

use axum::{
    body::Bytes,
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{code::Code, problem::Problem, text};

/// Like `axum::Json`, but a malformed body, a wrong type, a missing field, a NUL character or a
/// number the database would garble answers with a problem document naming what is wrong.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(Problem::new(Code::UnsupportedMediaType));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| Problem::from_status(e.status()).with_detail(e.body_text()))?;
        Self::from_bytes(&bytes)
    }
}

impl<T: DeserializeOwned> Json<T> {
    /// Reads a JSON body already in hand.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Problem> {
        if text::may_hold_unstorable(bytes)
            && let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes)
        {
            let bad = text::unstorable_fields(&value);
            if !bad.is_empty() {
                return Err(Problem::validation(bad));
            }
        }
        axum::Json::<T>::from_bytes(bytes)
            .map(|axum::Json(v)| Json(v))
            .map_err(rejection_problem)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

fn rejection_problem(rejection: JsonRejection) -> Problem {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            Problem::new(Code::InvalidBody).with_detail(e.body_text())
        }
        JsonRejection::JsonSyntaxError(e) => {
            Problem::new(Code::MalformedJson).with_detail(e.body_text())
        }
        JsonRejection::MissingJsonContentType(_) => Problem::new(Code::UnsupportedMediaType),
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
