use axum::{extract::State, http::StatusCode, response::Response};
use kazna_kernel::{Admin, Json, Path, Problem, Query, Require};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    categories::{self, Category, Node},
    error::Result,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_categories, create_category))
        .routes(routes!(category_tree))
        .routes(routes!(update_category, delete_category))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CategoryIn {
    /// 1 to 100 characters, not only spaces.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    name: String,
    parent_id: Option<Uuid>,
}

#[utoipa::path(get, path = "/api/v1/categories", tag = "catalog",
    responses((status = 200, body = Vec<Category>)))]
async fn list_categories(State(s): State<AppState>) -> Result<Json<Vec<Category>>> {
    Ok(Json(categories::list(&s.store.pool).await?))
}

#[utoipa::path(get, path = "/api/v1/categories/tree", tag = "catalog",
    responses((status = 200, body = Vec<Node>)))]
async fn category_tree(State(s): State<AppState>) -> Result<Json<Vec<Node>>> {
    Ok(Json(categories::tree(&s.store.pool).await?))
}

#[utoipa::path(post, path = "/api/v1/categories", tag = "catalog", request_body = CategoryIn,
    security(("bearer" = [])),
    responses((status = 201, body = Category),
              (status = 400, body = Problem),
              (status = 401, body = Problem),
              (status = 403, body = Problem),
              (status = 422, body = Problem)))]
async fn create_category(
    State(s): State<AppState>,
    _: Require<Admin>,
    Json(body): Json<CategoryIn>,
) -> Result<(StatusCode, Json<Category>)> {
    let created = categories::create(&s.store.pool, &body.name, body.parent_id).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryPatch {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    name: Option<String>,
    /// The new parent; `null` makes it a root.
    #[serde(default, deserialize_with = "kazna_kernel::json::some_or_null")]
    #[schema(value_type = Option<Uuid>)]
    parent_id: Option<Option<Uuid>>,
}

#[utoipa::path(patch, path = "/api/v1/categories/{id}", tag = "catalog", request_body = CategoryPatch,
    security(("bearer" = [])),
    responses((status = 200, body = Category),
              (status = 400, body = Problem),
              (status = 401, body = Problem),
              (status = 403, body = Problem),
              (status = 404, body = Problem),
              (status = 409, description = "category_cycle", body = Problem),
              (status = 422, body = Problem)))]
async fn update_category(
    State(s): State<AppState>,
    _: Require<Admin>,
    Path(id): Path<Uuid>,
    Json(patch): Json<CategoryPatch>,
) -> Result<Json<Category>> {
    let updated = categories::update(&s.store, id, patch.name.as_deref(), patch.parent_id).await?;
    Ok(Json(updated))
}

#[derive(Debug, Deserialize, IntoParams)]
struct DeleteQuery {
    /// Where the category's children and products go instead.
    reassign_to: Option<Uuid>,
}

#[utoipa::path(delete, path = "/api/v1/categories/{id}", tag = "catalog", params(DeleteQuery),
    security(("bearer" = [])),
    responses((status = 204),
              (status = 401, body = Problem),
              (status = 403, body = Problem),
              (status = 404, body = Problem),
              (status = 409, description = "category_in_use or category_cycle", body = Problem),
              (status = 422, description = "validation_failed: reassign_to names no category", body = Problem)))]
async fn delete_category(
    State(s): State<AppState>,
    _: Require<Admin>,
    Path(id): Path<Uuid>,
    Query(q): Query<DeleteQuery>,
) -> Result<Response> {
    categories::delete(&s.store, id, q.reassign_to).await?;
    Ok(kazna_kernel::server::no_content())
}
