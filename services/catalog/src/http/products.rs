use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use kazna_kernel::{
    AuthUser, FieldError, Json, MaybeUser, ModeratorOrAdmin, Path, Problem, Query, Require, Role,
    SellerOrAdmin,
    page::{Page, PageQuery},
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    domain::{ProductIn, ProductPatch},
    error::{Error, Result},
    inventory::{self, StockChange},
    products::{self, ListFilter, Product},
};
use kazna_contracts::catalog::{ProductStatus, Stock};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product, update_product, delete_product))
        .routes(routes!(hide_product))
        .routes(routes!(restore_product))
        .routes(routes!(adjust_stock))
}

#[utoipa::path(post, path = "/api/v1/products", tag = "catalog", request_body = ProductIn,
    security(("bearer" = [])),
    responses((status = 201, body = Product),
              (status = 400, body = Problem),
              (status = 401, body = Problem),
              (status = 403, body = Problem),
              (status = 409, description = "sku_taken", body = Problem),
              (status = 422, body = Problem)))]
async fn create_product(
    State(s): State<AppState>,
    Require(user, _): Require<SellerOrAdmin>,
    Json(body): Json<ProductIn>,
) -> Result<(StatusCode, Json<Product>)> {
    let product = products::create(&s.store, user.id(), body.parse()?).await?;
    Ok((StatusCode::CREATED, Json(product)))
}

fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Whether `viewer` may see products that are not on sale: the seller's own, or any for
/// moderators and admins.
fn sees_unlisted(viewer: &AuthUser, seller: Option<Uuid>) -> bool {
    viewer.0.has(Role::Admin)
        || viewer.0.has(Role::Moderator)
        || seller.is_some_and(|s| s == viewer.id())
}

#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "catalog",
    description = "An active product, to anyone. A hidden or deleted one only to its seller, moderators and admins; to others it does not exist.",
    security((), ("bearer" = [])),
    responses((status = 200, body = Product),
              (status = 400, body = Problem),
              (status = 401, description = "unauthorized: a token that does not verify", body = Problem),
              (status = 404, body = Problem)))]
async fn get_product(
    State(s): State<AppState>,
    MaybeUser(viewer): MaybeUser,
    Path(id): Path<Uuid>,
) -> Result<Response> {
    let (key, cached) = s.store.cache.product_page(id).await.unzip();
    if let Some(page) = cached.flatten() {
        return Ok(json_response(page));
    }
    let mut conn = s.store.pool.acquire().await?;
    let product = products::load(&mut conn, id).await?;
    drop(conn);
    let Some(p) = product else {
        return Err(Error::NotFound("Product"));
    };
    match p.status {
        ProductStatus::Active => {
            let body = serde_json::to_string(&p).map_err(|_| Problem::internal())?;
            if let Some(key) = key {
                s.store.cache.put(key, body.clone());
            }
            Ok(json_response(body))
        }
        ProductStatus::Hidden | ProductStatus::Deleted
            if viewer
                .as_ref()
                .is_some_and(|v| sees_unlisted(v, Some(p.seller_id))) =>
        {
            Ok(Json(p).into_response())
        }
        ProductStatus::Hidden | ProductStatus::Deleted => Err(Error::NotFound("Product")),
    }
}

#[utoipa::path(patch, path = "/api/v1/products/{id}", tag = "catalog", request_body = ProductPatch,
    security(("bearer" = [])),
    responses((status = 200, body = Product),
              (status = 400, body = Problem),
              (status = 401, body = Problem),
              (status = 403, description = "not the seller of this product", body = Problem),
              (status = 404, body = Problem),
              (status = 409, description = "sku_taken", body = Problem),
              (status = 422, body = Problem)))]
async fn update_product(
    State(s): State<AppState>,
    Require(user, _): Require<SellerOrAdmin>,
    Path(id): Path<Uuid>,
    Json(patch): Json<ProductPatch>,
) -> Result<Json<Product>> {
    let p = products::update(&s.store, id, &user, patch.parse()?).await?;
    Ok(Json(p))
}

#[utoipa::path(delete, path = "/api/v1/products/{id}", tag = "catalog",
    security(("bearer" = [])),
    responses((status = 204),
              (status = 401, body = Problem),
              (status = 403, body = Problem),
              (status = 404, body = Problem)))]
async fn delete_product(
    State(s): State<AppState>,
    Require(user, _): Require<SellerOrAdmin>,
    Path(id): Path<Uuid>,
) -> Result<Response> {
    products::set_status(&s.store, id, ProductStatus::Deleted, Some(&user)).await?;
    Ok(kazna_kernel::server::no_content())
}

#[utoipa::path(post, path = "/api/v1/products/{id}/hide", tag = "catalog",
    security(("bearer" = [])),
    responses((status = 200, body = Product),
              (status = 401, body = Problem),
              (status = 403, body = Problem),
              (status = 404, body = Problem)))]
async fn hide_product(
    State(s): State<AppState>,
    _: Require<ModeratorOrAdmin>,
    Path(id): Path<Uuid>,
) -> Result<Json<Product>> {
    let p = products::set_status(&s.store, id, ProductStatus::Hidden, None).await?;
    Ok(Json(p))
}

#[utoipa::path(post, path = "/api/v1/products/{id}/restore", tag = "catalog",
    security(("bearer" = [])),
    responses((status = 200, body = Product),
              (status = 401, body = Problem),
              (status = 403, body = Problem),
              (status = 404, body = Problem)))]
async fn restore_product(
    State(s): State<AppState>,
    _: Require<ModeratorOrAdmin>,
    Path(id): Path<Uuid>,
) -> Result<Json<Product>> {
    let p = products::set_status(&s.store, id, ProductStatus::Active, None).await?;
    Ok(Json(p))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockRequest {
    /// Units to add (negative to remove), not 0; send this or `stock`.
    #[schema(minimum = -1_000_000_000, maximum = 1_000_000_000)]
    delta: Option<i64>,
    /// The new stock level; send this or `delta`.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    stock: Option<i64>,
}

#[utoipa::path(patch, path = "/api/v1/variants/{id}/stock", tag = "catalog", request_body = StockRequest,
    security(("bearer" = [])),
    responses((status = 200, body = Stock),
              (status = 400, body = Problem),
              (status = 401, body = Problem),
              (status = 403, body = Problem),
              (status = 404, body = Problem),
              (status = 409, description = "stock_below_reserved", body = Problem),
              (status = 422, body = Problem)))]
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
    let seller = inventory::seller_of_variant(&s.store.pool, id).await?;
    if seller != user.id() && !user.0.has(kazna_kernel::Role::Admin) {
        return Err(Problem::forbidden().into());
    }
    let stock = inventory::adjust(&s.store, id, change).await?;
    Ok(Json(stock))
}

#[derive(Debug, Deserialize, IntoParams)]
struct ListQuery {
    /// Only products in this category or its descendants.
    category: Option<Uuid>,
    seller: Option<Uuid>,
    /// `active` (the default) for anyone. `hidden` and `deleted` for moderators and admins,
    /// or for sellers listing their own (`seller` set to their id).
    status: Option<ProductStatus>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/products", tag = "catalog", params(ListQuery),
    security((), ("bearer" = [])),
    responses((status = 200, body = Page<Product>),
              (status = 400, body = Problem),
              (status = 401, description = "a status other than active, without a token", body = Problem),
              (status = 403, description = "a status other than active, for products one may not see", body = Problem),
              (status = 422, body = Problem)))]
async fn list_products(
    State(s): State<AppState>,
    MaybeUser(viewer): MaybeUser,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let status = q.status.unwrap_or_default();
    if status != ProductStatus::Active {
        match &viewer {
            None => return Err(Problem::unauthorized().into()),
            Some(v) if !sees_unlisted(v, q.seller) => {
                return Err(Problem::forbidden()
                    .with_detail("only moderators and admins, or sellers for their own products, list hidden or deleted products")
                    .into());
            }
            Some(_) => {}
        }
    }
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let filter = ListFilter {
        status,
        category: q.category,
        seller: q.seller,
        cursor: page.cursor_id()?,
        limit,
    };
    let name = format!(
        "{}:{:?}:{:?}:{:?}:{limit}",
        status.as_str(),
        filter.category,
        filter.seller,
        filter.cursor
    );
    let (key, cached) = s.store.cache.list_page(&name).await.unzip();
    if let Some(page) = cached.flatten() {
        return Ok(json_response(page));
    }
    let rows = products::list(&s.store.pool, filter).await?;
    let page = Page::from_rows(rows, limit, |p| p.id);
    let body = serde_json::to_string(&page).map_err(|_| Problem::internal())?;
    if let Some(key) = key {
        s.store.cache.put(key, body.clone());
    }
    Ok(json_response(body))
}
