use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use kazna_kernel::{
    AuthUser, Code, FieldError, Json, Path, Problem, Query, Role,
    page::{Page, PageQuery},
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    error::{Error, Result},
    idempotency::{self, Claim},
    orders::{self, Order, PlaceOrder},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(place_order, list_orders))
        .routes(routes!(get_order))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PlaceOrderRequest {
    /// A payment method of the configured gateway, e.g. `pm_card_visa`.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    payment_method: String,
    #[schema(value_type = ShippingAddress)]
    shipping_address: serde_json::Value,
}

/// Where the order goes. It is kept as sent; `validate` checks these fields one by one, so each
/// bad one is named.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ShippingAddress {
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    name: String,
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    line1: String,
    #[schema(max_length = 200)]
    line2: Option<String>,
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    city: String,
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    #[schema(pattern = "^[A-Z]{2}$")]
    country: String,
}

fn validate(req: &PlaceOrderRequest) -> Result<()> {
    let mut e = Vec::new();
    let pm = req.payment_method.trim();
    if pm.is_empty() || pm.len() > 100 {
        e.push(FieldError::new("payment_method", "1 to 100 characters"));
    }
    match req.shipping_address.as_object() {
        None => e.push(FieldError::new("shipping_address", "must be an object")),
        Some(a) => {
            for field in ["name", "line1", "city", "postal_code", "country"] {
                let ok = a
                    .get(field)
                    .and_then(|v| v.as_str())
                    .is_some_and(|s| !s.trim().is_empty() && s.len() <= 200);
                if !ok {
                    e.push(FieldError::new(
                        format!("shipping_address.{field}"),
                        "is required",
                    ));
                }
            }
            let country_ok = a
                .get("country")
                .and_then(|v| v.as_str())
                .is_some_and(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()));
            if !country_ok {
                e.push(FieldError::new(
                    "shipping_address.country",
                    "an ISO 3166-1 alpha-2 code like DE",
                ));
            }
        }
    }
    if e.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(e))
    }
}

#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", request_body = PlaceOrderRequest,
    params(("Idempotency-Key" = String, Header, description = "Makes retries safe")),
    security(("bearer" = [])),
    responses((status = 201, body = Order),
              (status = 400, description = "idempotency_key_required", body = Problem),
              (status = 409, description = "insufficient_stock", body = Problem),
              (status = 422, description = "cart_empty, validation_failed, idempotency_key_reused", body = Problem),
              (status = 503, description = "service_unavailable: the cart or the catalog did not answer", body = Problem)))]
async fn place_order(
    State(s): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> Result<Response> {
    let key = idempotency::parse_key(headers.get("idempotency-key").and_then(|v| v.to_str().ok()))?;
    let req: PlaceOrderRequest = serde_json::from_value(body.clone())
        .map_err(|e| Problem::new(Code::InvalidBody).with_detail(e.to_string()))?;
    validate(&req)?;
    let hash = idempotency::hash(&body);
    if let Claim::Done(status, body) = idempotency::claim(&s.pool, user.id(), &key, &hash).await? {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED);
        return Ok((status, Json(body)).into_response());
    }
    let place = PlaceOrder {
        user_id: user.id(),
        email: user.0.email.clone(),
        payment_method: req.payment_method.trim().to_owned(),
        shipping_address: req.shipping_address,
    };
    // Placing spans several services: it runs to its end in a task of its own, even when the
    // client hangs up half-way (which would otherwise drop this handler mid-flight and leave
    // its idempotency key claimed with no answer).
    let user_id = user.id();
    let request_id = kazna_kernel::request_id::current().unwrap_or_default();
    let placing = tokio::spawn(kazna_kernel::request_id::scope(request_id, async move {
        let placed = orders::place(&s.ctx, &s.pool, place, &key).await;
        if placed.is_err() {
            idempotency::release(&s.pool, user_id, &key).await;
        }
        placed
    }));
    let order = placing.await.map_err(|_| Problem::internal())??;
    Ok((StatusCode::CREATED, Json(order)).into_response())
}

#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders",
    security(("bearer" = [])),
    responses((status = 200, body = Order),
              (status = 404, body = Problem)))]
async fn get_order(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Order>> {
    let mut conn = s.pool.acquire().await?;
    match orders::load(&mut conn, id).await? {
        Some(o) if o.user_id == user.id() || user.0.has(Role::Admin) => Ok(Json(o)),
        _ => Err(Error::NotFound),
    }
}

#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Page<Order>)))]
async fn list_orders(
    State(s): State<AppState>,
    user: AuthUser,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Order>>> {
    let limit = page.limit()?;
    let whose = (!user.0.has(Role::Admin)).then(|| user.id());
    let rows = orders::list(&s.pool, whose, page.cursor_id()?, limit).await?;
    Ok(Json(Page::from_rows(rows, limit, |o| o.id)))
}
