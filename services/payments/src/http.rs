use axum::{body::Bytes, extract::State, http::HeaderMap};
use kazna_kernel::{AuthUser, Json, Path, Problem, Role};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    error::{Error, Result},
    payments::{self, Payment, WebhookEvent},
    signature,
};
use kazna_contracts::payments::Provider;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_payment))
        .routes(routes!(webhook))
}

#[utoipa::path(get, path = "/api/v1/payments/{id}", tag = "payments",
    security(("bearer" = [])),
    responses((status = 200, body = Payment),
              (status = 404, body = Problem)))]
async fn get_payment(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Payment>> {
    let p = payments::get(&s.pool, id).await?;
    if p.user_id != user.id() && !user.0.has(Role::Admin) {
        return Err(Error::NotFound);
    }
    Ok(Json(p))
}

#[utoipa::path(post, path = "/webhooks/payments/{provider}", tag = "payments",
    request_body(content = String, description = "The provider's signed event"),
    responses((status = 200, description = "Applied, or a repeat that was ignored"),
              (status = 400, description = "invalid_signature or invalid_webhook", body = Problem),
              (status = 404, description = "not_found: no such provider", body = Problem)))]
async fn webhook(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Received>> {
    let Ok(Provider::Sandbox) = provider.parse::<Provider>() else {
        return Err(Error::UnknownProvider);
    };
    let header = headers
        .get(signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(Error::BadSignature)?;
    let secret = s.cfg.webhook_secret.expose();
    if !signature::verify(secret, header, &body, chrono::Utc::now().timestamp()) {
        return Err(Error::BadSignature);
    }
    let event: WebhookEvent = serde_json::from_slice(&body).map_err(|_| Error::BadWebhook)?;
    payments::apply_webhook(&s.pool, event).await?;
    Ok(Json(Received { received: true }))
}

/// The acknowledgement a provider waits for.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Received {
    received: bool,
}
