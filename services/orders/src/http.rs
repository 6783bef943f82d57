use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use kazna_contracts::payments::Provider;
use kazna_kernel::{
    AuthUser, Code, FieldError, Json, Path, Problem, Query, Role,
    page::{Page, PageQuery},
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    error::{Error, Result},
    fulfilment::{self, Fulfil},
    idempotency::{self, Claim},
    orders::{self, Order, PlaceOrder, Reader},
    status::OrderStatus,
    view::{self, Filter},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(place_order, list_orders))
        .routes(routes!(get_order))
        .routes(routes!(pay_order))
        .routes(routes!(cancel_order))
        .routes(routes!(set_order_status))
}

fn reader(user: &AuthUser) -> Reader {
    Reader {
        id: user.id(),
        admin: user.0.has(Role::Admin),
        seller: user.0.has(Role::Seller),
    }
}

/// A payment method as the buyer sent it, trimmed, that a provider this shop offers takes;
/// or the field error.
fn payment_method(raw: &str, on: &[Provider]) -> Result<String, FieldError> {
    let pm = raw.trim();
    if pm.is_empty() || pm.len() > 100 {
        return Err(FieldError::new("payment_method", "1 to 100 characters"));
    }
    Provider::for_method(pm, on).map_err(|e| FieldError::new("payment_method", e.to_string()))?;
    Ok(pm.to_owned())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PlaceOrderRequest {
    /// A card payment method (`pm_...`, e.g. the sandbox's `pm_card_visa`) or `paypal`, of
    /// a provider this shop offers.
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

fn validate(req: &PlaceOrderRequest, on: &[Provider]) -> Result<()> {
    let mut e: Vec<FieldError> = payment_method(&req.payment_method, on)
        .err()
        .into_iter()
        .collect();
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
    let key = kazna_kernel::idempotency::key(&headers)?.ok_or(Error::IdempotencyKeyRequired)?;
    let req: PlaceOrderRequest = serde_json::from_value(body.clone())
        .map_err(|e| Problem::new(Code::InvalidBody).with_detail(e.to_string()))?;
    validate(&req, &s.providers)?;
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
    let placing = async move {
        let placed = orders::place(&s.ctx, &s.pool, &s.cfg, place, &key).await;
        if placed.is_err() {
            idempotency::release(&s.pool, user_id, &key).await;
        }
        placed
    };
    let placing = kazna_kernel::request_id::scope(request_id, placing);
    let placing = tokio::spawn(kazna_kernel::trace::carried(placing));
    let order = placing.await.map_err(|_| Problem::internal())??;
    Ok((StatusCode::CREATED, Json(order)).into_response())
}

#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders",
    security(("bearer" = [])),
    responses((status = 200, description = "The order; a seller sees only its own lines", body = Order),
              (status = 404, body = Problem)))]
async fn get_order(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Order>> {
    let mut conn = s.pool.acquire().await?;
    view::one(&mut conn, reader(&user), id)
        .await?
        .map(Json)
        .ok_or(Error::NotFound)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrdersQuery {
    /// Only orders in this status.
    status: Option<OrderStatus>,
    /// How many orders to return (1–100, default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A buyer's own orders; a seller's, and the orders holding its items (only its lines);
/// everything, for an admin. Newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", params(OrdersQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Page<Order>)))]
async fn list_orders(
    State(s): State<AppState>,
    user: AuthUser,
    Query(q): Query<OrdersQuery>,
) -> Result<Json<Page<Order>>> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let filter = Filter {
        status: q.status,
        before: page.cursor_id()?,
    };
    let mut conn = s.pool.acquire().await?;
    let rows = view::page(&mut conn, reader(&user), filter, limit).await?;
    Ok(Json(Page::from_rows(rows, limit, |o| o.id)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayOrderRequest {
    /// A card payment method (`pm_...`, e.g. the sandbox's `pm_card_visa`) or `paypal`, of
    /// a provider this shop offers.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    payment_method: String,
}

/// Pays an unpaid order again, after its last attempt was declined.
#[utoipa::path(post, path = "/api/v1/orders/{id}/pay", tag = "orders", request_body = PayOrderRequest,
    security(("bearer" = [])),
    responses((status = 202, description = "A new attempt is on its way; the order shows its outcome", body = Order),
              (status = 404, body = Problem),
              (status = 409, description = "order_not_payable, payment_in_progress", body = Problem)))]
async fn pay_order(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(req): Json<PayOrderRequest>,
) -> Result<(StatusCode, Json<Order>)> {
    let pm = payment_method(&req.payment_method, &s.providers)
        .map_err(|e| Error::Validation(vec![e]))?;
    let order = orders::pay_again(&s.pool, user.id(), id, &pm).await?;
    Ok((StatusCode::ACCEPTED, Json(order)))
}

/// Cancels an unpaid order, or a paid one that has not shipped (which refunds it).
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders",
    security(("bearer" = [])),
    responses((status = 200, body = Order),
              (status = 403, description = "forbidden: only the buyer or an admin", body = Problem),
              (status = 404, body = Problem),
              (status = 409, description = "invalid_transition: the order is past canceling", body = Problem)))]
async fn cancel_order(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Order>> {
    let order = orders::cancel(&s.pool, reader(&user), id).await?;
    s.kick.now();
    Ok(Json(order))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderStatusRequest {
    /// `shipped` or `delivered`.
    #[schema(value_type = String, pattern = "^(shipped|delivered)$")]
    status: String,
    #[schema(max_length = 100)]
    carrier: Option<String>,
    #[schema(max_length = 100)]
    tracking_number: Option<String>,
}

fn optional_text(field: &str, v: Option<String>, errors: &mut Vec<FieldError>) -> Option<String> {
    let v = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if v.as_ref().is_some_and(|s| s.chars().count() > 100) {
        errors.push(FieldError::new(field, "at most 100 characters"));
    }
    v
}

/// A seller ships or delivers its own lines; an admin, every line. The order is shipped
/// (delivered) when every seller's parcel is.
#[utoipa::path(post, path = "/api/v1/orders/{id}/status", tag = "orders", request_body = OrderStatusRequest,
    security(("bearer" = [])),
    responses((status = 200, body = Order),
              (status = 403, description = "forbidden: only the seller of the lines or an admin", body = Problem),
              (status = 404, body = Problem),
              (status = 409, description = "invalid_transition, naming from and to", body = Problem)))]
async fn set_order_status(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(req): Json<OrderStatusRequest>,
) -> Result<Json<Order>> {
    let who = reader(&user);
    if !who.admin && !who.seller {
        return Err(Error::Forbidden("Only the seller of the lines or an admin"));
    }
    let mut errors = Vec::new();
    let status = match req.status.as_str() {
        "shipped" => Some(OrderStatus::Shipped),
        "delivered" => Some(OrderStatus::Delivered),
        _ => {
            errors.push(FieldError::new("status", "shipped or delivered"));
            None
        }
    };
    let carrier = optional_text("carrier", req.carrier, &mut errors);
    let tracking_number = optional_text("tracking_number", req.tracking_number, &mut errors);
    let Some(status) = status.filter(|_| errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    let f = Fulfil {
        status,
        carrier,
        tracking_number,
    };
    Ok(Json(fulfilment::fulfil(&s.pool, who, id, f).await?))
}
