//! Sign-up, sign-in, tokens, email verification and password reset.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, FromRequestParts, State},
    http::{HeaderMap, StatusCode, request::Parts},
    response::{IntoResponse, Response},
};
use kazna_kernel::{AuthUser, Json, Problem, Role, server::no_content};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    accounts::{self, TokenPair},
    domain::NewAccount,
    error::{Error, Result},
    keys::JwkSet,
    limits::LoginLimits,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(verify_email))
        .routes(routes!(password_reset))
        .routes(routes!(password_reset_confirm))
        .routes(routes!(jwks))
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// 8 to 128 characters, not the email and not one of the most common passwords.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct Registered {
    id: Uuid,
    email: String,
    roles: Vec<Role>,
}

#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = Registered),
              (status = 400, description = "malformed_json: the body is not JSON", body = Problem),
              (status = 409, description = "email_taken", body = Problem),
              (status = 422, description = "validation_failed: each bad field named", body = Problem)))]
async fn register(
    State(s): State<AppState>,
    Json(req): Json<RegisterRequest>,
) -> Result<(StatusCode, Json<Registered>)> {
    let account = NewAccount::parse(&req.email, &req.password, &req.name, vec![Role::Buyer])?;
    let p = accounts::create(&s.pool, account, &s.ctx.settings.gateway.public_url).await?;
    let body = Registered {
        id: p.id,
        email: p.email,
        roles: p.roles.0,
    };
    Ok((StatusCode::CREATED, Json(body)))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    email: String,
    password: String,
}

/// The caller's address: the one our gateway appended to `X-Forwarded-For`, else the peer.
struct Client(String);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        Ok(Client(client(&parts.headers, peer)))
    }
}

fn client(headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|v| !v.is_empty())
        .map(str::to_owned)
        .or_else(|| peer.map(|p| p.ip().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    params(("x-cart-session" = Option<String>, Header, format = Uuid,
            description = "A guest cart to merge into the user's on sign-in (the cart cookie does too)")),
    responses((status = 200, body = TokenPair),
              (status = 400, description = "malformed_json: the body is not JSON", body = Problem),
              (status = 401, description = "invalid_credentials: the same for an unknown email and a wrong password", body = Problem),
              (status = 422, description = "invalid_body: a field is missing or of the wrong type", body = Problem),
              (status = 429, description = "too_many_attempts, with Retry-After", body = Problem),
              (status = 503, description = "service_unavailable: sign-in cannot count attempts while Redis is away", body = Problem)))]
async fn login(
    State(s): State<AppState>,
    Client(from): Client,
    headers: axum::http::HeaderMap,
    Json(req): Json<LoginRequest>,
) -> Result<Json<TokenPair>> {
    let cfg = &s.cfg;
    let limits = LoginLimits {
        redis: &s.redis,
        prefix: &s.ctx.settings.redis.key_prefix,
        attempts: cfg.login_attempts,
        window_secs: cfg.login_window_secs,
    };
    limits.check(&req.email, &from).await?;
    let user = match accounts::authenticate(&s.pool, &req.email, &req.password).await {
        Err(Error::InvalidCredentials) => {
            limits.failed(&req.email, &from).await?;
            return Err(Error::InvalidCredentials);
        }
        other => other?,
    };
    let pair = accounts::issue_tokens(&s.pool, &s.keys, &s.ctx.settings.auth, &user, None).await?;
    if let Some(session) = cart_session(&headers) {
        merge_guest_cart(&s, user.id, session).await;
    }
    Ok(Json(pair))
}

/// The guest cart a sign-in brings: the `X-Cart-Session` header, or the cart cookie.
fn cart_session(headers: &axum::http::HeaderMap) -> Option<uuid::Uuid> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    kazna_contracts::cart::guest_session(
        text(kazna_contracts::cart::SESSION_HEADER),
        text(axum::http::header::COOKIE.as_str()),
    )
}

/// Moves the guest's cart into the user's. Signing in does not wait on it failing: the
/// guest cart stays, and the client can still call `POST /api/v1/cart/merge`.
async fn merge_guest_cart(s: &AppState, user: uuid::Uuid, session: uuid::Uuid) {
    let url = format!(
        "{}/internal/carts/{user}/merge",
        s.ctx.settings.services.cart.url
    );
    let merged: std::result::Result<serde_json::Value, _> = s
        .ctx
        .client
        .post(&url, &serde_json::json!({"cart_session": session}))
        .await;
    if let Err(e) = merged {
        tracing::warn!(user.id = %user, error = %e, "sign-in: the guest cart was not merged");
    }
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    refresh_token: String,
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair),
              (status = 400, description = "malformed_json: the body is not JSON", body = Problem),
              (status = 401, description = "invalid_token: unknown, expired or spent (a spent one revokes its family)", body = Problem),
              (status = 422, description = "invalid_body: a field is missing or of the wrong type", body = Problem)))]
async fn refresh(
    State(s): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> Result<Json<TokenPair>> {
    let (user, family) = accounts::spend_refresh(&s.pool, &req.refresh_token).await?;
    let pair =
        accounts::issue_tokens(&s.pool, &s.keys, &s.ctx.settings.auth, &user, Some(family)).await?;
    Ok(Json(pair))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    security(("bearer" = [])),
    responses((status = 204),
              (status = 400, description = "malformed_json: the body is not JSON", body = Problem),
              (status = 401, body = Problem),
              (status = 422, description = "invalid_body: a field is missing or of the wrong type", body = Problem)))]
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
    responses((status = 204),
              (status = 400, description = "malformed_json: the body is not JSON", body = Problem),
              (status = 401, description = "invalid_token", body = Problem),
              (status = 422, description = "invalid_body: a field is missing or of the wrong type", body = Problem)))]
async fn verify_email(
    State(s): State<AppState>,
    Json(req): Json<VerifyRequest>,
) -> Result<Response> {
    let user = accounts::verify_email(&s.pool, &req.token).await?;
    crate::cache::forget(&s, user).await;
    Ok(no_content())
}

#[derive(Deserialize, ToSchema)]
pub struct ResetRequest {
    email: String,
}

#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses((status = 202, description = "The same answer whether or not the email exists", body = Accepted),
              (status = 400, description = "malformed_json: the body is not JSON", body = Problem),
              (status = 422, description = "invalid_body: a field is missing or of the wrong type", body = Problem)))]
async fn password_reset(
    State(s): State<AppState>,
    Json(req): Json<ResetRequest>,
) -> Result<Response> {
    accounts::request_password_reset(&s.pool, &req.email, &s.ctx.settings.gateway.public_url)
        .await?;
    let body = Accepted {
        status: "accepted",
        detail: "If an account has this email, a reset link is on its way.",
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// The answer to a password-reset request, whatever became of it.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    /// `accepted`
    status: &'static str,
    detail: &'static str,
}

#[derive(Deserialize, ToSchema)]
pub struct ResetConfirm {
    token: String,
    new_password: String,
}

#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm,
    responses((status = 204, description = "Changed; every session of the account is signed out"),
              (status = 400, description = "malformed_json: the body is not JSON", body = Problem),
              (status = 401, description = "invalid_token: unknown, expired or used", body = Problem),
              (status = 422, description = "validation_failed", body = Problem)))]
async fn password_reset_confirm(
    State(s): State<AppState>,
    Json(req): Json<ResetConfirm>,
) -> Result<Response> {
    let user = accounts::confirm_password_reset(&s.pool, &req.token, &req.new_password).await?;
    crate::cache::forget(&s, user).await;
    Ok(no_content())
}

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "The public keys that verify access tokens", body = JwkSet)))]
async fn jwks(State(s): State<AppState>) -> Result<Json<JwkSet>> {
    Ok(Json(crate::keys::jwks(&s.pool).await?))
}
