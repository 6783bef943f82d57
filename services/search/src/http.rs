use std::sync::Arc;

use axum::extract::State;
use kazna_contracts::Money;
use kazna_kernel::{FieldError, Json, Problem, Query};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{AppState, error::Result};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}

#[derive(Debug, Deserialize, IntoParams)]
struct SearchQuery {
    /// Words to look for; typos within one edit still match.
    #[serde(default)]
    #[param(max_length = 200)]
    q: String,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct Item {
    product_id: Uuid,
    name: String,
    /// The cheapest variant's price.
    price: Money,
    score: f32,
    /// The name with matched words in `<b>`.
    highlight: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct Results {
    items: Vec<Item>,
    total: usize,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchQuery),
    responses((status = 200, body = Results),
              (status = 422, body = Problem)))]
async fn search(State(s): State<AppState>, Query(q): Query<SearchQuery>) -> Result<Json<Results>> {
    let mut errors = Vec::new();
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        errors.push(FieldError::new("limit", "must be between 1 and 100"));
    }
    let offset = match q.cursor.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) if n <= 10_000 => n,
        Some(_) => {
            errors.push(FieldError::new("cursor", "is not a cursor this API gave"));
            0
        }
    };
    if q.q.chars().count() > 200 {
        errors.push(FieldError::new("q", "must be at most 200 characters"));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let index = Arc::clone(&s.index);
    let text = q.q.clone();
    let (hits, total) =
        tokio::task::spawn_blocking(move || index.search(&text, offset, limit)).await??;
    let next = offset + hits.len();
    let items = hits
        .into_iter()
        .map(|h| Item {
            product_id: h.product_id,
            name: h.name,
            price: h.price,
            score: h.score,
            highlight: h.highlight,
        })
        .collect();
    Ok(Json(Results {
        items,
        total,
        next_cursor: (next < total).then(|| next.to_string()),
    }))
}
