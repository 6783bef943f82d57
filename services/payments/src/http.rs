use axum::{body::Bytes, extract::State, http::HeaderMap};
use kazna_kernel::{AuthUser, FieldError, Json, Path, Problem, Role};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    audit::{self, Transcript},
    error::{Error, Result},
    gateway::WebhookError,
    payments::{self, Payment},
    refunds::{self, Amount, Refund, RefundRequest},
};
use kazna_contracts::payments::Provider;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_payment))
        .routes(routes!(refund_payment))
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
    let mut p = payments::get(&s.pool, id).await?;
    let admin = user.0.has(Role::Admin);
    if p.user_id != user.id() && !admin {
        return Err(Error::NotFound);
    }
    if !admin {
        // What was said to the provider is for the shop's staff.
        p.events.retain(|e| e.kind != audit::PROVIDER_REQUEST);
    }
    Ok(Json(p))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundPaymentRequest {
    /// Minor units of the payment's currency; everything not refunded yet when left out.
    #[schema(minimum = 1)]
    amount: Option<i64>,
    /// Why, for the audit log.
    #[schema(max_length = 500)]
    reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/payments/{id}/refund", tag = "payments",
    request_body = RefundPaymentRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    security(("bearer" = [])),
    responses((status = 200, description = "The refund, pending until the gateway confirms it", body = Refund),
              (status = 403, description = "forbidden: admins only", body = Problem),
              (status = 404, body = Problem),
              (status = 409, description = "not_refundable, refund_too_large", body = Problem)))]
async fn refund_payment(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Json(req): Json<RefundPaymentRequest>,
) -> Result<Json<Refund>> {
    if !user.0.has(Role::Admin) {
        return Err(Problem::forbidden().into());
    }
    let mut errors = Vec::new();
    if req.amount.is_some_and(|a| a < 1) {
        errors.push(FieldError::new("amount", "at least 1 (minor units)"));
    }
    let reason = req.reason.as_deref().map(str::trim).unwrap_or("");
    if reason.len() > 500 {
        errors.push(FieldError::new("reason", "at most 500 characters"));
    }
    let key = kazna_kernel::idempotency::key(&headers)?;
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let by = user.id().to_string();
    let ask = RefundRequest {
        payment_id: id,
        amount: req.amount.map_or(Amount::AllLeft, Amount::Part),
        reason: if reason.is_empty() { "refund" } else { reason },
        by: &by,
        idempotency_key: key.as_deref(),
    };
    let refund = refunds::request_one(&s.pool, ask).await?;
    s.kick.now();
    Ok(Json(refund))
}

#[utoipa::path(post, path = "/webhooks/payments/{provider}", tag = "payments",
    params(("provider" = String, Path, description = "`sandbox`, `stripe` or `paypal`")),
    request_body(content = String, description = "The provider's signed event"),
    responses((status = 200, description = "Applied, or a repeat that was ignored", body = Received),
              (status = 400, description = "invalid_signature or invalid_webhook", body = Problem),
              (status = 404, description = "not_found: no such provider is on", body = Problem),
              (status = 503, description = "The provider could not be asked to verify it; it sends it again", body = Problem)))]
async fn webhook(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Received>> {
    let gateway = provider
        .parse::<Provider>()
        .ok()
        .and_then(|p| s.gateways.get(p))
        .ok_or(Error::UnknownProvider)?;
    let mut log = Transcript::default();
    let hook = gateway
        .webhook(&headers, &body, &mut log)
        .await
        .map_err(|e| match e {
            WebhookError::BadSignature => Error::BadSignature,
            WebhookError::Malformed => Error::BadWebhook,
            WebhookError::Gateway(e) => Error::GatewayUnavailable(e.to_string()),
        })?;
    let applied = payments::apply_webhook(&s.pool, gateway.provider(), hook, log).await?;
    if applied != payments::Applied::Repeat {
        s.kick.now();
    }
    Ok(Json(Received { received: true }))
}

/// The acknowledgement a provider waits for.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Received {
    received: bool,
}
