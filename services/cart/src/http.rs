use axum::{
    extract::{FromRequestParts, State},
    http::{HeaderMap, HeaderValue, header, request::Parts},
    response::{IntoResponse, Response},
};
use kazna_contracts::cart::{self, Cart, SESSION_COOKIE as COOKIE, SESSION_HEADER};
use kazna_kernel::{
    AuthUser, FieldError, Internal, Json, MaybeUser, Path, Problem, server::no_content,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    carts::{self, Change, MAX_QUANTITY, Owner},
    error::{Error, Result},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_cart))
        .routes(routes!(add_item))
        .routes(routes!(update_item, remove_item))
        .routes(routes!(merge))
        .routes(routes!(internal_cart, internal_clear))
        .routes(routes!(internal_take))
        .routes(routes!(internal_merge))
}

/// The cart a request is about. A guest without a session gets a new one, returned in the
/// `X-Cart-Session` header and a cookie.
struct CartOwner {
    owner: Owner,
}

fn guest_session(parts: &Parts) -> Option<Uuid> {
    let text = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    cart::guest_session(text(SESSION_HEADER), text(header::COOKIE.as_str()))
}

impl FromRequestParts<AppState> for CartOwner {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Problem> {
        if let MaybeUser(Some(user)) = MaybeUser::from_request_parts(parts, s).await? {
            return Ok(CartOwner {
                owner: Owner::User(user.id()),
            });
        }
        let session = guest_session(parts).unwrap_or_else(Uuid::new_v4);
        Ok(CartOwner {
            owner: Owner::Guest(session),
        })
    }
}

fn respond(s: &AppState, owner: &CartOwner, cart: Cart) -> Response {
    let mut headers = HeaderMap::new();
    if let Owner::Guest(id) = owner.owner {
        if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
            headers.insert(SESSION_HEADER, v);
        }
        // The cookie lives as long as the cart would, from this change on.
        let secure = if s.secure_cookie { "; Secure" } else { "" };
        let cookie = format!(
            "{COOKIE}={id}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            s.settings.guest_idle.as_secs()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            headers.insert(header::SET_COOKIE, v);
        }
    }
    (headers, Json(cart)).into_response()
}

fn check_quantity(q: i64, min: i64) -> Result<()> {
    if (min..=MAX_QUANTITY).contains(&q) {
        Ok(())
    } else {
        Err(Error::Validation(vec![FieldError::new(
            "quantity",
            format!("must be between {min} and {MAX_QUANTITY}"),
        )]))
    }
}

#[utoipa::path(get, path = "/api/v1/cart", tag = "cart", security((), ("bearer" = [])),
    responses((status = 200, body = Cart),
              (status = 401, description = "unauthorized: a token that does not verify", body = Problem),
              (status = 503, description = "service_unavailable: the cart store or the catalog is away", body = Problem)))]
async fn get_cart(State(s): State<AppState>, owner: CartOwner) -> Result<Response> {
    let cart = carts::load(&s, owner.owner).await?;
    Ok(respond(&s, &owner, cart))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AddItem {
    variant_id: Uuid,
    /// Added to what the cart holds; the line stays at most 1000.
    #[schema(minimum = 1, maximum = 1000)]
    quantity: i64,
}

#[utoipa::path(post, path = "/api/v1/cart/items", tag = "cart", request_body = AddItem,
    security((), ("bearer" = [])),
    responses((status = 200, body = Cart),
              (status = 401, description = "unauthorized: a token that does not verify", body = Problem),
              (status = 404, body = Problem),
              (status = 409, description = "insufficient_stock, currency_mismatch or cart_full", body = Problem),
              (status = 422, body = Problem),
              (status = 503, description = "service_unavailable: the cart store or the catalog is away", body = Problem)))]
async fn add_item(
    State(s): State<AppState>,
    owner: CartOwner,
    Json(req): Json<AddItem>,
) -> Result<Response> {
    check_quantity(req.quantity, 1)?;
    let cart = carts::change(&s, owner.owner, req.variant_id, Change::Add(req.quantity)).await?;
    Ok(respond(&s, &owner, cart))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SetQuantity {
    /// 0 removes the line.
    #[schema(minimum = 0, maximum = 1000)]
    quantity: i64,
}

#[utoipa::path(patch, path = "/api/v1/cart/items/{variant_id}", tag = "cart", request_body = SetQuantity,
    security((), ("bearer" = [])),
    responses((status = 200, body = Cart),
              (status = 401, description = "unauthorized: a token that does not verify", body = Problem),
              (status = 404, description = "not_found: no such variant on sale", body = Problem),
              (status = 409, description = "insufficient_stock, currency_mismatch or cart_full", body = Problem),
              (status = 422, body = Problem),
              (status = 503, description = "service_unavailable: the cart store or the catalog is away", body = Problem)))]
async fn update_item(
    State(s): State<AppState>,
    owner: CartOwner,
    Path(variant_id): Path<Uuid>,
    Json(req): Json<SetQuantity>,
) -> Result<Response> {
    check_quantity(req.quantity, 0)?;
    let cart = carts::change(&s, owner.owner, variant_id, Change::Set(req.quantity)).await?;
    Ok(respond(&s, &owner, cart))
}

#[utoipa::path(delete, path = "/api/v1/cart/items/{variant_id}", tag = "cart",
    security((), ("bearer" = [])),
    responses((status = 200, body = Cart),
              (status = 401, description = "unauthorized: a token that does not verify", body = Problem),
              (status = 503, description = "service_unavailable: the cart store or the catalog is away", body = Problem)))]
async fn remove_item(
    State(s): State<AppState>,
    owner: CartOwner,
    Path(variant_id): Path<Uuid>,
) -> Result<Response> {
    let cart = carts::change(&s, owner.owner, variant_id, Change::Set(0)).await?;
    Ok(respond(&s, &owner, cart))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MergeRequest {
    cart_session: Uuid,
}

#[utoipa::path(post, path = "/api/v1/cart/merge", tag = "cart", request_body = MergeRequest,
    security(("bearer" = [])),
    responses((status = 200, body = Cart),
              (status = 401, body = Problem),
              (status = 409, description = "insufficient_stock, currency_mismatch or cart_full", body = Problem),
              (status = 503, description = "service_unavailable: the cart store or the catalog is away", body = Problem)))]
async fn merge(
    State(s): State<AppState>,
    user: AuthUser,
    Json(req): Json<MergeRequest>,
) -> Result<Json<Cart>> {
    Ok(Json(carts::merge(&s, req.cart_session, user.id()).await?))
}

#[utoipa::path(get, path = "/internal/carts/{user_id}", tag = "internal",
    responses((status = 200, body = Cart)))]
async fn internal_cart(
    State(s): State<AppState>,
    _: Internal,
    Path(user_id): Path<Uuid>,
) -> Result<Json<Cart>> {
    Ok(Json(carts::load(&s, Owner::User(user_id)).await?))
}

#[utoipa::path(delete, path = "/internal/carts/{user_id}", tag = "internal",
    responses((status = 204)))]
async fn internal_clear(
    State(s): State<AppState>,
    _: Internal,
    Path(user_id): Path<Uuid>,
) -> Result<Response> {
    carts::clear(&s, Owner::User(user_id)).await?;
    Ok(no_content())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TakeLines {
    lines: Vec<TakeLine>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TakeLine {
    variant_id: Uuid,
    quantity: i64,
}

/// Takes the lines of an accepted order out of the user's cart (what was added meanwhile
/// stays).
#[utoipa::path(post, path = "/internal/carts/{user_id}/take", tag = "internal",
    request_body = TakeLines, responses((status = 200, body = Cart)))]
async fn internal_take(
    State(s): State<AppState>,
    _: Internal,
    Path(user_id): Path<Uuid>,
    Json(req): Json<TakeLines>,
) -> Result<Json<Cart>> {
    let lines: Vec<(Uuid, i64)> = req
        .lines
        .iter()
        .map(|l| (l.variant_id, l.quantity))
        .collect();
    carts::take(&s, user_id, &lines).await?;
    Ok(Json(carts::load(&s, Owner::User(user_id)).await?))
}

/// Merges a guest cart into the user's, for a sign-in that brought the guest's session.
#[utoipa::path(post, path = "/internal/carts/{user_id}/merge", tag = "internal",
    request_body = MergeRequest, responses((status = 200, body = Cart)))]
async fn internal_merge(
    State(s): State<AppState>,
    _: Internal,
    Path(user_id): Path<Uuid>,
    Json(req): Json<MergeRequest>,
) -> Result<Json<Cart>> {
    Ok(Json(carts::merge(&s, req.cart_session, user_id).await?))
}
