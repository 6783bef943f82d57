//! Endpoints for other services only (never routed by the gateway; need the internal token).

use axum::extract::State;
use kazna_contracts::catalog::{Reservation, ReservationRequest, SnapshotPage, Stock, VariantInfo};
use kazna_kernel::{FieldError, Internal, Json, Path, Problem, Query};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    error::{Error, Result},
    inventory,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(variants))
        .routes(routes!(variant_stock))
        .routes(routes!(reserve))
        .routes(routes!(commit))
        .routes(routes!(release))
        .routes(routes!(give_back))
        .routes(routes!(snapshots))
}

#[derive(Deserialize, IntoParams)]
struct SnapshotsQuery {
    /// The `next_cursor` of the previous page.
    after: Option<Uuid>,
    /// 1–1000, default 500.
    limit: Option<i64>,
}

/// Every product in id order, a page at a time: what a search instance pulls to build its index.
#[utoipa::path(get, path = "/internal/products/snapshots", tag = "internal", params(SnapshotsQuery),
    responses((status = 200, body = SnapshotPage),
              (status = 422, body = Problem)))]
async fn snapshots(
    State(s): State<AppState>,
    _: Internal,
    Query(q): Query<SnapshotsQuery>,
) -> Result<Json<SnapshotPage>> {
    let limit = q.limit.unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return Err(Error::Validation(vec![FieldError::new(
            "limit",
            "must be between 1 and 1000",
        )]));
    }
    let items = crate::products::snapshots(&s.store.pool, q.after, limit).await?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|p| p.id))
        .flatten();
    Ok(Json(SnapshotPage { items, next_cursor }))
}

#[derive(Deserialize, IntoParams)]
struct VariantsQuery {
    /// Comma-separated variant ids (at most 100).
    ids: String,
}

#[utoipa::path(get, path = "/internal/variants", tag = "internal", params(VariantsQuery),
    responses((status = 200, body = Vec<VariantInfo>)))]
async fn variants(
    State(s): State<AppState>,
    _: Internal,
    Query(q): Query<VariantsQuery>,
) -> Result<Json<Vec<VariantInfo>>> {
    let ids: std::result::Result<Vec<Uuid>, _> = q
        .ids
        .split(',')
        .filter(|s| !s.is_empty())
        .map(Uuid::parse_str)
        .collect();
    let ids =
        ids.map_err(|_| Error::Validation(vec![FieldError::new("ids", "not a list of ids")]))?;
    if ids.len() > 100 {
        return Err(Error::Validation(vec![FieldError::new(
            "ids",
            "at most 100",
        )]));
    }
    Ok(Json(inventory::variant_info(&s.store.pool, &ids).await?))
}

#[utoipa::path(get, path = "/internal/variants/{id}/stock", tag = "internal",
    responses((status = 200, body = Stock),
              (status = 404, body = Problem)))]
async fn variant_stock(
    State(s): State<AppState>,
    _: Internal,
    Path(id): Path<Uuid>,
) -> Result<Json<Stock>> {
    Ok(Json(inventory::stock(&s.store.pool, id).await?))
}

#[utoipa::path(post, path = "/internal/reservations", tag = "internal", request_body = ReservationRequest,
    responses((status = 200, body = Reservation),
              (status = 409, description = "insufficient_stock", body = Problem)))]
async fn reserve(
    State(s): State<AppState>,
    _: Internal,
    Json(req): Json<ReservationRequest>,
) -> Result<Json<Reservation>> {
    let mut errors = Vec::new();
    if req.lines.is_empty() || req.lines.len() > 100 {
        errors.push(FieldError::new("lines", "1 to 100 lines"));
    }
    for (i, l) in req.lines.iter().enumerate() {
        if !(1..=10_000).contains(&l.quantity) {
            errors.push(FieldError::new(
                format!("lines[{i}].quantity"),
                "1 to 10000",
            ));
        }
    }
    let mut ids: Vec<Uuid> = req.lines.iter().map(|l| l.variant_id).collect();
    ids.sort();
    ids.dedup();
    if ids.len() != req.lines.len() {
        errors.push(FieldError::new("lines", "each variant at most once"));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let ttl = s.cfg.reservation_ttl_secs;
    Ok(Json(
        inventory::reserve(&s.store, req.order_id, &req.lines, ttl).await?,
    ))
}

#[utoipa::path(post, path = "/internal/reservations/{order_id}/commit", tag = "internal",
    responses((status = 200, body = Reservation),
              (status = 409, body = Problem)))]
async fn commit(
    State(s): State<AppState>,
    _: Internal,
    Path(order_id): Path<Uuid>,
) -> Result<Json<Reservation>> {
    Ok(Json(inventory::commit(&s.store, order_id).await?))
}

#[utoipa::path(post, path = "/internal/reservations/{order_id}/release", tag = "internal",
    responses((status = 200, body = Reservation),
              (status = 409, body = Problem)))]
async fn release(
    State(s): State<AppState>,
    _: Internal,
    Path(order_id): Path<Uuid>,
) -> Result<Json<Reservation>> {
    Ok(Json(inventory::release(&s.store, order_id).await?))
}

/// For an order that will not be filled: held units are released, sold ones come back to
/// stock.
#[utoipa::path(post, path = "/internal/reservations/{order_id}/return", tag = "internal",
    responses((status = 200, body = Reservation),
              (status = 404, body = Problem)))]
async fn give_back(
    State(s): State<AppState>,
    _: Internal,
    Path(order_id): Path<Uuid>,
) -> Result<Json<Reservation>> {
    Ok(Json(inventory::give_back(&s.store, order_id).await?))
}
