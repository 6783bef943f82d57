//! Profiles and roles.

use axum::extract::State;
use kazna_kernel::{
    Admin, AuthUser, FieldError, Json, Path, Problem, Query, Require, Role,
    page::{Page, PageQuery},
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    accounts::{self, Preferences, Profile},
    cache,
    domain::{parse_language, parse_name, parse_phone},
    error::{Error, Result},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me))
        .routes(routes!(my_notifications, set_my_notifications))
        .routes(routes!(list_users))
        .routes(routes!(set_roles))
}

#[utoipa::path(get, path = "/api/v1/users/me", tag = "users",
    security(("bearer" = [])),
    responses((status = 200, body = Profile),
              (status = 401, body = Problem)))]
async fn me(State(s): State<AppState>, user: AuthUser) -> Result<Json<Profile>> {
    let (key, cached) = cache::get(&s, user.id()).await.unzip();
    if let Some(p) = cached.flatten() {
        return Ok(Json(p));
    }
    let p = accounts::profile(&s.pool, user.id()).await?;
    if let Some(key) = &key {
        cache::put(&s, key, &p).await;
    }
    Ok(Json(p))
}

#[derive(Deserialize, ToSchema)]
pub struct ProfilePatch {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    name: Option<String>,
    /// E.164, e.g. `+4915112345678`; `null` removes it.
    #[serde(default, deserialize_with = "kazna_kernel::json::some_or_null")]
    #[schema(value_type = Option<String>)]
    phone: Option<Option<String>>,
}

#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users", request_body = ProfilePatch,
    security(("bearer" = [])),
    responses((status = 200, body = Profile),
              (status = 400, description = "malformed_json: the body is not JSON", body = Problem),
              (status = 401, body = Problem),
              (status = 422, body = Problem)))]
async fn update_me(
    State(s): State<AppState>,
    user: AuthUser,
    Json(patch): Json<ProfilePatch>,
) -> Result<Json<Profile>> {
    let mut errors = Vec::new();
    let name = match patch.name.as_deref().map(parse_name) {
        Some(Ok(n)) => Some(n),
        Some(Err(m)) => {
            errors.push(FieldError::new("name", m));
            None
        }
        None => None,
    };
    let phone = match patch.phone {
        Some(Some(p)) => match parse_phone(&p) {
            Ok(p) => Some(Some(p)),
            Err(m) => {
                errors.push(FieldError::new("phone", m));
                None
            }
        },
        other => other,
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let p = accounts::update_profile(&s.pool, user.id(), name, phone).await?;
    cache::forget(&s, user.id()).await;
    Ok(Json(p))
}

#[utoipa::path(get, path = "/api/v1/users/me/notifications", tag = "users",
    security(("bearer" = [])),
    responses((status = 200, body = Preferences),
              (status = 401, body = Problem)))]
async fn my_notifications(State(s): State<AppState>, user: AuthUser) -> Result<Json<Preferences>> {
    Ok(Json(accounts::preferences(&s.pool, user.id()).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesRequest {
    /// SMS for shipped, delivered and declined payments (to the profile's phone number).
    sms: bool,
    /// e.g. `en` or `de-AT`.
    #[schema(pattern = "^[a-z]{2}(-[A-Z]{2})?$")]
    language: String,
}

#[utoipa::path(put, path = "/api/v1/users/me/notifications", tag = "users", request_body = PreferencesRequest,
    security(("bearer" = [])),
    responses((status = 200, body = Preferences),
              (status = 401, body = Problem),
              (status = 422, body = Problem)))]
async fn set_my_notifications(
    State(s): State<AppState>,
    user: AuthUser,
    Json(req): Json<PreferencesRequest>,
) -> Result<Json<Preferences>> {
    let language = parse_language(&req.language)
        .map_err(|m| Error::Validation(vec![FieldError::new("language", m)]))?;
    let p = Preferences {
        sms: req.sms,
        language,
    };
    Ok(Json(
        accounts::set_preferences(&s.pool, user.id(), &p).await?,
    ))
}

#[derive(Deserialize, IntoParams)]
struct ListQuery {
    /// Accounts whose email starts with this.
    email: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(ListQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Page<Profile>),
              (status = 401, body = Problem),
              (status = 403, body = Problem)))]
async fn list_users(
    State(s): State<AppState>,
    _: Require<Admin>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<Profile>>> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let rows = accounts::list(&s.pool, q.email.as_deref(), page.cursor_id()?, limit).await?;
    Ok(Json(Page::from_rows(rows, limit, |p| p.id)))
}

#[derive(Deserialize, ToSchema)]
pub struct RolesRequest {
    roles: Vec<Role>,
}

#[utoipa::path(put, path = "/api/v1/users/{id}/roles", tag = "users", request_body = RolesRequest,
    security(("bearer" = [])),
    responses((status = 200, body = Profile),
              (status = 400, description = "malformed_json: the body is not JSON", body = Problem),
              (status = 401, body = Problem),
              (status = 403, body = Problem),
              (status = 404, body = Problem),
              (status = 422, description = "no roles, or an unknown one", body = Problem)))]
async fn set_roles(
    State(s): State<AppState>,
    Require(admin, _): Require<Admin>,
    Path(id): Path<Uuid>,
    Json(req): Json<RolesRequest>,
) -> Result<Json<Profile>> {
    if req.roles.is_empty() {
        return Err(Error::Validation(vec![FieldError::new(
            "roles",
            "at least one role",
        )]));
    }
    let p = accounts::set_roles(&s.pool, admin.id(), id, &req.roles).await?;
    cache::forget(&s, id).await;
    Ok(Json(p))
}
