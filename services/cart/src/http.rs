use axum::{
    extract::{FromRequestParts, State},
    http::{HeaderMap, HeaderValue, header, request::Parts},
    response::{IntoResponse, Response},
};
use kazna_contracts::cart::Cart;
use kazna_kernel::{
    AuthUser, FieldError, Internal, Json, MaybeUser, Path, Problem, server::no_content,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    carts::{self, MAX_QUANTITY, Owner},
    error::{Error, Result},
};

pub const SESSION_HEADER: &str = "x-cart-session";
const COOKIE: &str = "kazna_cart";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_cart))
        .routes(routes!(add_item))
        .routes(routes!(update_item, remove_item))
        .routes(routes!(merge))
        .routes(routes!(internal_cart, internal_clear))
}

/// The cart a request is about. A guest without a session gets a new one, returned in the
/// `X-Cart-Session` header and a cookie.
struct CartOwner {
    owner: Owner,
    new_session: Option<Uuid>,
}

fn guest_session(parts: &Parts) -> Option<Uuid> {
    let from_header = parts
        .headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| Uuid::parse_str(s.trim()).ok());
    from_header.or_else(|| {
        let cookies = parts.headers.get(header::COOKIE)?.to_str().ok()?;
        cookies.split(';').find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == COOKIE).then(|| Uuid::parse_str(v).ok()).flatten()
        })
    })
}

impl FromRequestParts<AppState> for CartOwner {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Problem> {
        if let MaybeUser(Some(user)) = MaybeUser::from_request_parts(parts, s).await? {
            return Ok(CartOwner {
                owner: Owner::User(user.id()),
                new_session: None,
            });
        }
        Ok(match guest_session(parts) {
            Some(id) => CartOwner {
                owner: Owner::Guest(id),
                new_session: None,
            },
            None => {
                let id = Uuid::new_v4();
                CartOwner {
                    owner: Owner::Guest(id),
                    new_session: Some(id),
                }
            }
        })
    }
}

fn respond(owner: &CartOwner, cart: Cart) -> Response {
    let mut headers = HeaderMap::new();
    let session = match owner.owner {
        Owner::Guest(id) => Some(id),
        Owner::User(_) => None,
    };
    if let Some(id) = session
        && let Ok(v) = HeaderValue::from_str(&id.to_string())
    {
        headers.insert(SESSION_HEADER, v);
    }
    if let Some(id) = owner.new_session {
        let cookie = format!("{COOKIE}={id}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax");
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
    Ok(respond(&owner, cart))
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
    let have = carts::quantity_of(&s, owner.owner, req.variant_id).await?;
    let wanted = have + req.quantity;
    check_quantity(wanted, 1)?;
    let cart = carts::set(&s, owner.owner, req.variant_id, wanted).await?;
    Ok(respond(&owner, cart))
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
    let cart = carts::set(&s, owner.owner, variant_id, req.quantity).await?;
    Ok(respond(&owner, cart))
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
    let cart = carts::set(&s, owner.owner, variant_id, 0).await?;
    Ok(respond(&owner, cart))
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
