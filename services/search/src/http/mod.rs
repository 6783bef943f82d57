use std::sync::Arc;

use axum::{extract::State, http::HeaderName};
use kazna_contracts::Money;
use kazna_kernel::{Admin, Code, FieldError, Json, Problem, Query, Require};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState, analytics,
    error::Result,
    index::{Filters, Sort},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(suggest))
        .routes(routes!(search_analytics))
}

#[derive(Debug, Deserialize, IntoParams)]
struct SearchQuery {
    /// Words to look for, as plain text (no query syntax); typos are tolerated.
    #[serde(default)]
    #[param(max_length = 200)]
    q: String,
    /// Only products in this category (an id) or one below it.
    #[param(format = Uuid)]
    category: Option<String>,
    /// The cheapest variant costs at least this, in minor units.
    #[param(minimum = 0)]
    min_price: Option<String>,
    /// The cheapest variant costs at most this, in minor units.
    #[param(minimum = 0)]
    max_price: Option<String>,
    /// `true`: only products with a variant available.
    in_stock: Option<String>,
    /// `relevance` (the default), `price_asc`, `price_desc` or `newest`.
    sort: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// What a search asks, checked: every bad parameter is named.
struct Asked {
    q: String,
    filters: Filters,
    sort: Sort,
    offset: usize,
    limit: usize,
}

fn parse(q: SearchQuery) -> std::result::Result<Asked, Problem> {
    let mut errors = Vec::new();
    let mut price = |name: &str, raw: Option<&str>| match raw.map(str::parse::<i64>) {
        None => None,
        Some(Ok(n)) if n >= 0 => Some(n),
        Some(_) => {
            errors.push(FieldError::new(
                name,
                "a whole number of minor units, 0 or more",
            ));
            None
        }
    };
    let min_price = price("min_price", q.min_price.as_deref());
    let max_price = price("max_price", q.max_price.as_deref());
    if let (Some(lo), Some(hi)) = (min_price, max_price)
        && lo > hi
    {
        errors.push(FieldError::new("max_price", "must not be below min_price"));
    }
    let category = match q.category.as_deref().map(Uuid::parse_str) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            errors.push(FieldError::new("category", "a category id"));
            None
        }
    };
    let in_stock = match q.in_stock.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            errors.push(FieldError::new("in_stock", "true or false"));
            false
        }
    };
    let sort = match q.sort.as_deref().map(str::parse::<Sort>) {
        None => Sort::Relevance,
        Some(Ok(s)) => s,
        Some(Err(())) => {
            errors.push(FieldError::new(
                "sort",
                "relevance, price_asc, price_desc or newest",
            ));
            Sort::Relevance
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
        let mut p = Problem::new(Code::InvalidParameter);
        p.errors = errors;
        return Err(p);
    }
    Ok(Asked {
        q: q.q,
        filters: Filters {
            category,
            min_price,
            max_price,
            in_stock,
        },
        sort,
        offset,
        limit,
    })
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct Item {
    product_id: Uuid,
    name: String,
    /// The cheapest variant's price.
    price: Money,
    /// How well it matches (0 when sorted by something else).
    score: f32,
    /// The name with matched words in `<b>`.
    highlight: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct FacetCount {
    /// A category id.
    value: Uuid,
    count: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct PriceCount {
    /// Minor units, included.
    from: i64,
    /// Minor units, excluded.
    to: i64,
    count: u64,
}

/// Counts over everything the search found, filters applied.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct ResultFacets {
    /// Per category, each counting what is in it or below it.
    category: Vec<FacetCount>,
    /// Per price range of the cheapest variant, with round edges around the prices found.
    price: Vec<PriceCount>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct Results {
    items: Vec<Item>,
    total: usize,
    facets: ResultFacets,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchQuery),
    responses((status = 200, body = Results,
                headers(("x-cache" = String, description = "`hit` when answered from the hot-query cache, else `miss`"))),
              (status = 400, description = "invalid_parameter, naming each bad one", body = Problem)))]
async fn search(
    State(s): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> Result<([(HeaderName, &'static str); 1], Json<Results>)> {
    let Asked {
        q,
        filters,
        sort,
        offset,
        limit,
    } = parse(q)?;
    let words = s.index.normalized(&q);
    // The request as the cache knows it: what the index reads of it, nothing else.
    let browse = q.trim().is_empty();
    let request = format!("{browse}|{words}|{filters:?}|{sort:?}|{offset}|{limit}");
    let generation = s.index.generation();
    let (results, cached) = match s.cache.get::<Results>(generation, &request).await {
        Some(results) => (results, "hit"),
        None => {
            let index = Arc::clone(&s.index);
            let ((hits, total), facets) = tokio::task::spawn_blocking(move || {
                let found = index.search(&q, filters, sort, offset, limit)?;
                Ok::<_, crate::error::Error>((found, index.facets(&q, filters)?))
            })
            .await??;
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
            let facets = ResultFacets {
                category: facets
                    .categories
                    .into_iter()
                    .map(|c| FacetCount {
                        value: c.id,
                        count: c.count,
                    })
                    .collect(),
                price: facets
                    .price
                    .into_iter()
                    .map(|b| PriceCount {
                        from: b.from,
                        to: b.to,
                        count: b.count,
                    })
                    .collect(),
            };
            let results = Results {
                items,
                total,
                facets,
                next_cursor: (next < total).then(|| next.to_string()),
            };
            s.cache.put(generation, &request, &results).await;
            (results, "miss")
        }
    };
    // Only a shopper's first page counts as a query asked.
    if offset == 0 {
        let prefix = s.ctx.settings.redis_key("");
        tokio::spawn(analytics::count(
            s.redis.clone(),
            prefix,
            words,
            results.total,
        ));
    }
    Ok((
        [(HeaderName::from_static("x-cache"), cached)],
        Json(results),
    ))
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
    let index = Arc::clone(&s.index);
    let found = tokio::task::spawn_blocking(move || index.suggest(&text, limit)).await??;
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
