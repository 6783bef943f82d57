use axum::{
    extract::{Path, Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use kazna_kernel::{
    AuthUser, FieldError, Json, ModeratorOrAdmin, Problem, Require, SellerOrAdmin,
    page::{Page, PageQuery},
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState, cache,
    domain::{ProductIn, ProductPatch},
    error::{Error, Result},
    inventory::{self, Stock, StockChange},
    products::{self, ListFilter, Product},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product, update_product, delete_product))
        .routes(routes!(hide_product))
        .routes(routes!(restore_product))
        .routes(routes!(adjust_stock))
}

#[utoipa::path(post, path = "/api/v1/products", tag = "catalog", request_body = ProductIn,
    responses((status = 201, body = Product), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 409, description = "sku_taken", body = Problem),
              (status = 422, body = Problem)))]
async fn create_product(
    State(s): State<AppState>,
    Require(user, _): Require<SellerOrAdmin>,
    Json(body): Json<ProductIn>,
) -> Result<(StatusCode, Json<Product>)> {
    let product = products::create(&s.pool, user.id(), body.parse()?).await?;
    cache::changed(&s, &[product.id]).await?;
    Ok((StatusCode::CREATED, Json(product)))
}

fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "catalog",
    responses((status = 200, body = Product), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn get_product(State(s): State<AppState>, Path(id): Path<Uuid>) -> Result<Response> {
    let (key, cached) = cache::product_page(&s, id).await.unzip();
    if let Some(page) = cached.flatten() {
        return Ok(json_response(page));
    }
    let mut conn = s.pool.acquire().await?;
    match products::load(&mut conn, id).await? {
        Some(p) if p.status == "active" => {
            let body = serde_json::to_string(&p).map_err(|_| Problem::internal())?;
            if let Some(key) = &key {
                cache::put(&s, key, &body).await;
            }
            Ok(json_response(body))
        }
        _ => Err(Error::NotFound("Product")),
    }
}

#[utoipa::path(patch, path = "/api/v1/products/{id}", tag = "catalog", request_body = ProductPatch,
    responses((status = 200, body = Product), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, description = "not the seller of this product", body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_product(
    State(s): State<AppState>,
    Require(user, _): Require<SellerOrAdmin>,
    Path(id): Path<Uuid>,
    Json(patch): Json<ProductPatch>,
) -> Result<Json<Product>> {
    let p = products::update(&s.pool, id, &user, patch.validate()?).await?;
    cache::changed(&s, &[id]).await?;
    Ok(Json(p))
}

#[utoipa::path(delete, path = "/api/v1/products/{id}", tag = "catalog",
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_product(
    State(s): State<AppState>,
    Require(user, _): Require<SellerOrAdmin>,
    Path(id): Path<Uuid>,
) -> Result<Response> {
    products::set_status(&s.pool, id, "deleted", Some(&user)).await?;
    cache::changed(&s, &[id]).await?;
    Ok(kazna_kernel::server::no_content())
}

#[utoipa::path(post, path = "/api/v1/products/{id}/hide", tag = "catalog",
    responses((status = 200, body = Product), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn hide_product(
    State(s): State<AppState>,
    _: Require<ModeratorOrAdmin>,
    Path(id): Path<Uuid>,
) -> Result<Json<Product>> {
    let p = products::set_status(&s.pool, id, "hidden", None).await?;
    cache::changed(&s, &[id]).await?;
    Ok(Json(p))
}

#[utoipa::path(post, path = "/api/v1/products/{id}/restore", tag = "catalog",
    responses((status = 200, body = Product), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn restore_product(
    State(s): State<AppState>,
    _: Require<ModeratorOrAdmin>,
    Path(id): Path<Uuid>,
) -> Result<Json<Product>> {
    let p = products::set_status(&s.pool, id, "active", None).await?;
    cache::changed(&s, &[id]).await?;
    Ok(Json(p))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockRequest {
    /// Units to add (negative to remove).
    delta: Option<i64>,
    /// The new stock level.
    stock: Option<i64>,
}

#[utoipa::path(patch, path = "/api/v1/variants/{id}/stock", tag = "catalog", request_body = StockRequest,
    responses((status = 200, body = Stock), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, description = "stock_below_reserved", body = Problem), (status = 422, body = Problem)))]
async fn adjust_stock(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(req): Json<StockRequest>,
) -> Result<Json<Stock>> {
    let change = match (req.delta, req.stock) {
        (Some(d), None) if d != 0 && d.abs() <= 1_000_000_000 => StockChange::Delta(d),
        (None, Some(n)) if (0..=1_000_000_000).contains(&n) => StockChange::Set(n),
        _ => {
            return Err(Error::Validation(vec![FieldError::new(
                "delta",
                "send either a non-zero delta or a stock from 0 to 1000000000",
            )]));
        }
    };
    let seller = inventory::seller_of_variant(&s.pool, id).await?;
    if seller != user.id() && !user.0.has(kazna_kernel::Role::Admin) {
        return Err(Problem::forbidden().into());
    }
    let stock = inventory::adjust(&s.pool, id, change).await?;
    let products = cache::products_of(&s.pool, &[id]).await?;
    cache::changed(&s, &products).await?;
    Ok(Json(stock))
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
async fn list_products(State(s): State<AppState>, Query(q): Query<ListQuery>) -> Result<Response> {
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
    let name = format!(
        "{:?}:{:?}:{:?}:{limit}",
        filter.category, filter.seller, filter.cursor
    );
    let (key, cached) = cache::list_page(&s, &name).await.unzip();
    if let Some(page) = cached.flatten() {
        return Ok(json_response(page));
    }
    let rows = products::list(&s.pool, filter).await?;
    let page = Page::from_rows(rows, limit, |p| p.id);
    let body = serde_json::to_string(&page).map_err(|_| Problem::internal())?;
    if let Some(key) = &key {
        cache::put(&s, key, &body).await;
    }
    Ok(json_response(body))
}
