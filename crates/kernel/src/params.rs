//! Path and query extractors whose rejections are problem documents: a parameter that does not
//! parse is a 400 `invalid_parameter` naming it, and one holding a NUL character a 422 naming
//! it (see [`crate::text`]).

use axum::{
    extract::{FromRequestParts, RawPathParams},
    http::request::Parts,
};
use serde::de::DeserializeOwned;

use crate::{code::Code, problem::Problem, text};

/// Like `axum::extract::Path`.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| Problem::new(Code::InvalidParameter).with_detail(e.body_text()))?;
        let bad = text::nul_params(&raw);
        if !bad.is_empty() {
            return Err(Problem::validation(bad));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e| Problem::new(Code::InvalidParameter).with_detail(e.body_text()))
    }
}

/// Like `axum::extract::Query`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let bad = text::nul_params(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if !bad.is_empty() {
            return Err(Problem::validation(bad));
        }
        serde_urlencoded::from_str::<T>(query)
            .map(Query)
            .map_err(|e| Problem::new(Code::InvalidParameter).with_detail(e.to_string()))
    }
}
