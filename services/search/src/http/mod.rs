//! The search service's HTTP API: search, suggest, analytics, and the internal reindex.

use axum::extract::State;
use kazna_kernel::{Admin, Code, FieldError, Json, Problem, Query, Require};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{AppState, analytics, error::Result};

mod internal;
mod search;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search::search))
        .routes(routes!(suggest))
        .routes(routes!(search_analytics))
        .routes(routes!(internal::start_reindex, internal::reindex_status))
}

#[derive(Debug, Deserialize, IntoParams)]
struct SuggestQuery {
    /// What the shopper has typed so far, 1 to 100 characters.
    #[param(min_length = 1, max_length = 100)]
    q: Option<String>,
    /// 1–20, default 8.
    #[param(minimum = 1, maximum = 20)]
    limit: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct Completion {
    text: String,
    /// `product` or `category`.
    kind: &'static str,
    /// The product, for a product's name.
    product_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
struct Completions {
    suggestions: Vec<Completion>,
}

/// Completes what a shopper is typing from product and category names, typos tolerated.
#[utoipa::path(get, path = "/api/v1/search/suggest", tag = "search", params(SuggestQuery),
    responses((status = 200, body = Completions),
              (status = 400, description = "invalid_parameter, naming each bad one", body = Problem)))]
async fn suggest(
    State(s): State<AppState>,
    Query(q): Query<SuggestQuery>,
) -> Result<Json<Completions>> {
    let mut errors = Vec::new();
    let text = q.q.unwrap_or_default();
    if text.trim().is_empty() || text.chars().count() > 100 {
        errors.push(FieldError::new("q", "1 to 100 characters"));
    }
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => 8,
        Some(Ok(n)) if (1..=20).contains(&n) => n,
        Some(_) => {
            errors.push(FieldError::new("limit", "must be between 1 and 20"));
            8
        }
    };
    if !errors.is_empty() {
        let mut p = Problem::new(Code::InvalidParameter);
        p.errors = errors;
        return Err(p.into());
    }
    let index = s.index.current();
    let found = s.pool.run(move || index.suggest(&text, limit)).await??;
    let suggestions = found
        .into_iter()
        .map(|s| Completion {
            kind: if s.product_id.is_some() {
                "product"
            } else {
                "category"
            },
            text: s.text,
            product_id: s.product_id,
        })
        .collect();
    Ok(Json(Completions { suggestions }))
}

#[derive(Debug, Deserialize, IntoParams)]
struct AnalyticsQuery {
    /// The first day counted (`2026-11-01`), at most 31 days ago; today when left out.
    #[param(format = Date)]
    since: Option<String>,
    /// How many of each, 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<String>,
}

/// What shoppers looked for: the most asked queries, and the most asked that found nothing.
#[utoipa::path(get, path = "/api/v1/search/analytics", tag = "search", params(AnalyticsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = analytics::Report),
              (status = 400, description = "invalid_parameter, naming each bad one", body = Problem),
              (status = 401, body = Problem),
              (status = 403, description = "forbidden: admins only", body = Problem),
              (status = 503, description = "Redis, where queries are counted, is away", body = Problem)))]
async fn search_analytics(
    State(s): State<AppState>,
    _: Require<Admin>,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Json<analytics::Report>> {
    let mut errors = Vec::new();
    let today = chrono::Utc::now().date_naive();
    let oldest = today - chrono::Duration::days(analytics::KEEP_DAYS - 1);
    let since = match q
        .since
        .as_deref()
        .map(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d"))
    {
        None => today,
        Some(Ok(d)) if d >= oldest && d <= today => d,
        Some(_) => {
            errors.push(FieldError::new(
                "since",
                format!("a day from {oldest} to {today}"),
            ));
            today
        }
    };
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => 20,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            errors.push(FieldError::new("limit", "must be between 1 and 100"));
            20
        }
    };
    if !errors.is_empty() {
        let mut p = Problem::new(Code::InvalidParameter);
        p.errors = errors;
        return Err(p.into());
    }
    let prefix = s.ctx.settings.redis_key("");
    analytics::report(s.redis.clone(), &prefix, since, limit)
        .await
        .map(Json)
        .map_err(|e| {
            tracing::warn!(error = %e, "search analytics: redis is away");
            Problem::unavailable("Search analytics are kept in Redis, which is away for a moment")
                .into()
        })
}
