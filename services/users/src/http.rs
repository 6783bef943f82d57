//! The users service's HTTP endpoints: thin handlers over `accounts`.

use axum::{extract::State, http::StatusCode, response::Response};
use kazna_kernel::{AuthUser, Json, Problem, Role, server::no_content};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    accounts::{self, Profile, TokenPair},
    domain::NewAccount,
    error::Result,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(verify_email))
        .routes(routes!(me))
        .routes(routes!(jwks))
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    email: String,
    password: String,
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct Registered {
    id: Uuid,
    email: String,
    roles: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = Registered), (status = 409, description = "email_taken", body = Problem),
              (status = 422, description = "validation_failed", body = Problem)))]
async fn register(
    State(s): State<AppState>,
    Json(req): Json<RegisterRequest>,
) -> Result<(StatusCode, Json<Registered>)> {
    let account = NewAccount::parse(&req.email, &req.password, &req.name, vec![Role::Buyer])?;
    let p = accounts::create(&s.pool, account, &s.ctx.settings.gateway.public_url).await?;
    let body = Registered {
        id: p.id,
        email: p.email,
        roles: p.roles,
    };
    Ok((StatusCode::CREATED, Json(body)))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    email: String,
    password: String,
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, description = "invalid_credentials", body = Problem)))]
async fn login(
    State(s): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> Result<Json<TokenPair>> {
    let user = accounts::authenticate(&s.pool, &req.email, &req.password).await?;
    let pair = accounts::issue_tokens(&s.pool, &s.key, &s.ctx.settings.auth, &user, None).await?;
    Ok(Json(pair))
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    refresh_token: String,
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, description = "invalid_token", body = Problem)))]
async fn refresh(
    State(s): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> Result<Json<TokenPair>> {
    let (user, family) = accounts::spend_refresh(&s.pool, &req.refresh_token).await?;
    let pair =
        accounts::issue_tokens(&s.pool, &s.key, &s.ctx.settings.auth, &user, Some(family)).await?;
    Ok(Json(pair))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204), (status = 401, body = Problem)))]
async fn logout(
    State(s): State<AppState>,
    user: AuthUser,
    Json(req): Json<RefreshRequest>,
) -> Result<Response> {
    accounts::logout(&s.pool, user.id(), &req.refresh_token).await?;
    Ok(no_content())
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyRequest {
    token: String,
}

#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "auth", request_body = VerifyRequest,
    responses((status = 204), (status = 401, description = "invalid_token", body = Problem)))]
async fn verify_email(
    State(s): State<AppState>,
    Json(req): Json<VerifyRequest>,
) -> Result<Response> {
    accounts::verify_email(&s.pool, &req.token).await?;
    Ok(no_content())
}

#[utoipa::path(get, path = "/api/v1/users/me", tag = "users",
    responses((status = 200, body = Profile), (status = 401, body = Problem)))]
async fn me(State(s): State<AppState>, user: AuthUser) -> Result<Json<Profile>> {
    Ok(Json(accounts::profile(&s.pool, user.id()).await?))
}

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "The public keys that verify access tokens")))]
async fn jwks(State(s): State<AppState>) -> Result<Json<serde_json::Value>> {
    Ok(Json(crate::keys::jwks(&s.pool).await?))
}
