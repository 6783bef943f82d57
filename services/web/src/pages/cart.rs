//! The cart: its lines with current prices, flags for what changed, quantities and removal.

use axum::{
    extract::{Path, State},
    http::{Method, StatusCode},
    response::Response,
};
use serde_json::{Value, json};

use super::{Posted, failed, page, redirect};
use crate::{AppState, session::Visit};

/// Shopper-facing words for the cart's line flags.
fn flag_text(flag: &str) -> &'static str {
    match flag {
        "hidden" | "deleted" => "This product is no longer on sale. Remove it to check out.",
        "out_of_stock" => "Not enough in stock for this quantity.",
        "price_changed" => "The price changed since you added it.",
        _ => "This line changed since you added it.",
    }
}

pub fn cart_page(
    s: &AppState,
    visit: Visit,
    cart: &Value,
    status: StatusCode,
    error: Option<(String, String)>,
) -> Response {
    let lines: Vec<Value> = cart["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|line| {
            let flags: Vec<&str> = line["flags"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(flag_text)
                .collect();
            let variant = line["variant_id"].as_str().unwrap_or_default();
            let error = error
                .as_ref()
                .filter(|(v, _)| v == variant)
                .map(|(_, e)| e.clone());
            json!({"line": line, "notes": flags, "error": error})
        })
        .collect();
    let general = error.filter(|(v, _)| v.is_empty()).map(|(_, e)| e);
    let ctx = json!({"cart": cart, "lines": lines, "error": general});
    page(s, visit, status, "cart.html", ctx)
}

pub async fn show(State(s): State<AppState>, mut visit: Visit) -> Response {
    let cart = visit.get("/api/v1/cart").await;
    if !cart.ok() {
        return failed(&s, visit, &cart);
    }
    cart_page(&s, visit, &cart.body, StatusCode::OK, None)
}

/// Adds the picked variant from the product page.
pub async fn add(State(s): State<AppState>, Posted { mut visit, form }: Posted) -> Response {
    let (product, variant) = (form.get("product_id"), form.get("variant_id"));
    let quantity: i64 = form.get("quantity").trim().parse().unwrap_or(0);
    let problem = if variant.is_empty() {
        Some("Pick one of the options first.".to_owned())
    } else if !(1..=1000).contains(&quantity) {
        Some("Choose a quantity from 1 to 1000.".to_owned())
    } else {
        let added = visit
            .post(
                "/api/v1/cart/items",
                &json!({"variant_id": variant, "quantity": quantity}),
            )
            .await;
        if added.ok() {
            return redirect(visit, "/cart");
        }
        if added.status.is_server_error() {
            return failed(&s, visit, &added);
        }
        Some(match added.code() {
            "insufficient_stock" => "Not enough in stock for that quantity.".to_owned(),
            _ => added.message(),
        })
    };
    // Back to the product page, the error next to the button.
    let answer = if uuid::Uuid::parse_str(product).is_ok() {
        visit.get(&format!("/api/v1/products/{product}")).await
    } else {
        return super::not_found(State(s), visit).await;
    };
    if !answer.ok() {
        return failed(&s, visit, &answer);
    }
    super::shop::product_page(
        &s,
        visit,
        &answer.body,
        Some(variant),
        StatusCode::CONFLICT,
        problem,
    )
}

/// Changes a line's quantity (0 removes it), or removes it.
pub async fn change(
    State(s): State<AppState>,
    Path(variant): Path<String>,
    Posted { mut visit, form }: Posted,
) -> Response {
    if uuid::Uuid::parse_str(&variant).is_err() {
        return super::not_found(State(s), visit).await;
    }
    let path = format!("/api/v1/cart/items/{variant}");
    let quantity = form.get("quantity").trim().parse::<i64>();
    let answer = match (form.get("action"), quantity) {
        ("remove", _) | (_, Ok(0)) => visit.call(Method::DELETE, &path, None, None).await,
        (_, Ok(q)) if (1..=1000).contains(&q) => {
            visit
                .call(Method::PATCH, &path, Some(&json!({"quantity": q})), None)
                .await
        }
        _ => {
            let cart = visit.get("/api/v1/cart").await;
            return cart_page(
                &s,
                visit,
                &cart.body,
                StatusCode::BAD_REQUEST,
                Some((variant, "Choose a quantity from 0 to 1000.".into())),
            );
        }
    };
    if answer.ok() {
        return redirect(visit, "/cart");
    }
    if answer.status.is_server_error() {
        return failed(&s, visit, &answer);
    }
    let status = answer.status;
    let why = match answer.code() {
        "insufficient_stock" => "Not enough in stock for that quantity.".to_owned(),
        _ => answer.message(),
    };
    let cart = visit.get("/api/v1/cart").await;
    cart_page(&s, visit, &cart.body, status, Some((variant, why)))
}
