use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
};
use kazna_kernel::{
    Json, Problem, Require, SellerOrAdmin,
    page::{Page, PageQuery},
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    domain::ProductIn,
    error::{Error, Result},
    products::{self, ListFilter, Product},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product))
}

#[utoipa::path(post, path = "/api/v1/products", tag = "catalog", request_body = ProductIn,
    responses((status = 201, body = Product), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 409, description = "sku_taken", body = Problem), (status = 422, body = Problem)))]
async fn create_product(
    State(s): State<AppState>,
    Require(user, _): Require<SellerOrAdmin>,
    Json(body): Json<ProductIn>,
) -> Result<(StatusCode, Json<Product>)> {
    let product = products::create(&s.pool, user.id(), body.parse()?).await?;
    Ok((StatusCode::CREATED, Json(product)))
}

#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "catalog",
    responses((status = 200, body = Product), (status = 404, body = Problem)))]
async fn get_product(State(s): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<Product>> {
    let mut conn = s.pool.acquire().await?;
    match products::load(&mut conn, id).await? {
        Some(p) if p.status == "active" => Ok(Json(p)),
        _ => Err(Error::NotFound("Product")),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
struct ListQuery {
    /// Only products in this category or its descendants.
    category: Option<Uuid>,
    seller: Option<Uuid>,
    /// 1–100, default 20.
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/products", tag = "catalog", params(ListQuery),
    responses((status = 200, body = Page<Product>), (status = 422, body = Problem)))]
async fn list_products(
    State(s): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<Product>>> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let filter = ListFilter {
        category: q.category,
        seller: q.seller,
        cursor: page.cursor_id()?,
        limit,
    };
    let rows = products::list(&s.pool, filter).await?;
    Ok(Json(Page::from_rows(rows, limit, |p| p.id)))
}
