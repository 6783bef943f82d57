use axum::{extract::State, http::StatusCode};
use kazna_kernel::{Admin, Json, Problem, Require};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    categories::{self, Category},
    error::Result,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_categories, create_category))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CategoryIn {
    name: String,
    parent_id: Option<Uuid>,
}

#[utoipa::path(get, path = "/api/v1/categories", tag = "catalog",
    responses((status = 200, body = Vec<Category>)))]
async fn list_categories(State(s): State<AppState>) -> Result<Json<Vec<Category>>> {
    Ok(Json(categories::list(&s.pool).await?))
}

#[utoipa::path(post, path = "/api/v1/categories", tag = "catalog", request_body = CategoryIn,
    responses((status = 201, body = Category), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_category(
    State(s): State<AppState>,
    _: Require<Admin>,
    Json(body): Json<CategoryIn>,
) -> Result<(StatusCode, Json<Category>)> {
    let created = categories::create(&s.pool, &body.name, body.parent_id).await?;
    Ok((StatusCode::CREATED, Json(created)))
}
