//! Checkout and orders: the address and payment method, the order page with its status
//! history, tracking, paying again after a decline, and canceling.

use axum::{
    extract::{Path, State},
    http::{Method, StatusCode},
    response::Response,
};
use serde_json::{Value, json};

use super::{Form, Posted, errors_by_field, failed, page, redirect, shown_status, sign_in_first};
use crate::{AppState, session::Visit};

const ADDRESS: [&str; 6] = ["name", "line1", "line2", "city", "postal_code", "country"];

/// A payment method as the shopper reads it.
fn method_label(pm: &str) -> String {
    match pm {
        "pm_card_visa" => "Test card: Visa (paid)".into(),
        "pm_card_mastercard" => "Test card: Mastercard (paid)".into(),
        "pm_card_chargeDeclined" => "Test card: declined".into(),
        "pm_card_chargeDeclinedInsufficientFunds" => "Test card: insufficient funds".into(),
        "paypal" => "PayPal".into(),
        other => format!("Card ({other})"),
    }
}

fn methods(s: &AppState, picked: &str) -> Vec<Value> {
    s.cfg
        .payment_methods
        .iter()
        .enumerate()
        .map(|(i, pm)| {
            let checked = if picked.is_empty() {
                i == 0
            } else {
                pm == picked
            };
            json!({"value": pm, "label": method_label(pm), "checked": checked})
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn checkout_page(
    s: &AppState,
    visit: Visit,
    status: StatusCode,
    cart: &Value,
    values: Value,
    picked: &str,
    errors: Value,
) -> Response {
    let key = uuid::Uuid::now_v7().to_string();
    let ctx = json!({
        "cart": cart,
        "values": values,
        "methods": methods(s, picked),
        "errors": errors,
        "key": key,
    });
    page(s, visit, status, "checkout.html", ctx)
}

pub async fn form(State(s): State<AppState>, mut visit: Visit) -> Response {
    if !visit.signed_in() {
        return sign_in_first(visit, "/checkout");
    }
    let cart = visit.get("/api/v1/cart").await;
    if cart.status == StatusCode::UNAUTHORIZED {
        return sign_in_first(visit, "/checkout");
    }
    if !cart.ok() {
        return failed(&s, visit, &cart);
    }
    if cart.body["items"].as_array().is_none_or(Vec::is_empty) {
        return redirect(visit, "/cart");
    }
    let me = visit.get("/api/v1/users/me").await;
    let values = json!({"name": me.body["name"], "country": ""});
    checkout_page(&s, visit, StatusCode::OK, &cart.body, values, "", json!({}))
}

pub async fn place(State(s): State<AppState>, Posted { mut visit, form }: Posted) -> Response {
    if !visit.signed_in() {
        return sign_in_first(visit, "/checkout");
    }
    let mut address = serde_json::Map::new();
    for field in ADDRESS {
        if let Some(v) = form.text(field) {
            let v = if field == "country" {
                v.to_uppercase()
            } else {
                v.to_owned()
            };
            address.insert(field.into(), Value::String(v));
        }
    }
    let pm = form.get("payment_method").to_owned();
    let ask = json!({"payment_method": pm, "shipping_address": address});
    // The key the form was rendered with: pressing the button twice places one order.
    let key = form
        .text("key")
        .filter(|k| uuid::Uuid::parse_str(k).is_ok())
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let placed = visit
        .call(Method::POST, "/api/v1/orders", Some(&ask), Some(&key))
        .await;
    if placed.ok()
        && let Some(id) = placed.body["id"].as_str()
    {
        return redirect(visit, &format!("/orders/{id}"));
    }
    if placed.status == StatusCode::UNAUTHORIZED {
        return sign_in_first(visit, "/checkout");
    }
    if placed.status.is_server_error() {
        return failed(&s, visit, &placed);
    }
    let mut errors = errors_by_field(&placed, "shipping_address.");
    match placed.code() {
        "insufficient_stock" => {
            errors.insert(
                "form".into(),
                "Some of your cart is no longer in stock in that quantity. Check your cart.".into(),
            );
        }
        "cart_changed" => {
            errors.insert(
                "form".into(),
                "Your cart changed since you added things to it. Check the marked lines.".into(),
            );
        }
        "cart_empty" => return redirect(visit, "/cart"),
        _ if errors.is_empty() => {
            errors.insert("form".into(), placed.message());
        }
        _ => {}
    }
    let status = placed.status;
    let cart = visit.get("/api/v1/cart").await;
    checkout_page(
        &s,
        visit,
        status,
        &cart.body,
        Value::Object(address),
        &pm,
        json!(errors),
    )
}

/// Whether an order page is waiting for something that will change it soon.
fn settling(order: &Value) -> bool {
    order["status"] == "pending_payment"
        && order["payment"]["status"]
            .as_str()
            .is_none_or(|st| st == "pending")
}

async fn order_page(
    s: &AppState,
    mut visit: Visit,
    id: &str,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    if uuid::Uuid::parse_str(id).is_err() {
        return super::not_found(State(s.clone()), visit).await;
    }
    if !visit.signed_in() {
        return sign_in_first(visit, &format!("/orders/{id}"));
    }
    let order = visit.get(&format!("/api/v1/orders/{id}")).await;
    if order.status == StatusCode::UNAUTHORIZED {
        return sign_in_first(visit, &format!("/orders/{id}"));
    }
    if !order.ok() {
        return failed(s, visit, &order);
    }
    let o = &order.body;
    let declined = o["status"] == "pending_payment" && o["payment"]["status"] == "failed";
    let cancelable = matches!(o["status"].as_str(), Some("pending_payment" | "paid"));
    // A payment the buyer must approve at the provider (PayPal) names the page to go to.
    let mut action_url = None;
    if settling(o)
        && let Some(payment) = o["payment"]["id"].as_str()
    {
        let p = visit.get(&format!("/api/v1/payments/{payment}")).await;
        action_url = p.body["action"]["url"]
            .as_str()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .map(str::to_owned);
    }
    let ctx = json!({
        "order": o,
        "declined": declined,
        "cancelable": cancelable,
        "settling": settling(o) && action_url.is_none(),
        "action_url": action_url,
        "methods": methods(s, ""),
        "error": error,
        "method": method_label(o["payment_method"].as_str().unwrap_or_default()),
    });
    page(s, visit, status, "order.html", ctx)
}

pub async fn order(State(s): State<AppState>, visit: Visit, Path(id): Path<String>) -> Response {
    order_page(&s, visit, &id, StatusCode::OK, None).await
}

/// Pays again after a decline, with the method picked.
pub async fn pay(State(s): State<AppState>, Path(id): Path<String>, posted: Posted) -> Response {
    order_step(
        s,
        posted,
        id,
        "pay",
        |form| json!({"payment_method": form.get("payment_method")}),
    )
    .await
}

pub async fn cancel(State(s): State<AppState>, Path(id): Path<String>, posted: Posted) -> Response {
    order_step(s, posted, id, "cancel", |_| json!({})).await
}

/// A step of an order the buyer takes from its page (`pay`, `cancel`): back to the page,
/// with the API's reason when it refused.
async fn order_step(
    s: AppState,
    Posted { mut visit, form }: Posted,
    id: String,
    step: &str,
    ask: impl FnOnce(&Form) -> Value,
) -> Response {
    if uuid::Uuid::parse_str(&id).is_err() {
        return super::not_found(State(s), visit).await;
    }
    let answer = visit
        .post(&format!("/api/v1/orders/{id}/{step}"), &ask(&form))
        .await;
    if answer.ok() {
        return redirect(visit, &format!("/orders/{id}"));
    }
    order_page(
        &s,
        visit,
        &id,
        shown_status(&answer),
        Some(answer.message()),
    )
    .await
}

#[derive(serde::Deserialize)]
pub struct Returned {
    payment: Option<String>,
}

/// Where a provider sends the buyer back (PayPal's return and cancel pages): the order the
/// payment is for.
pub async fn provider_return(
    State(s): State<AppState>,
    mut visit: Visit,
    axum::extract::Query(q): axum::extract::Query<Returned>,
) -> Response {
    let Some(payment) = q.payment.filter(|p| uuid::Uuid::parse_str(p).is_ok()) else {
        return super::not_found(State(s), visit).await;
    };
    let back = format!("/checkout/paypal/return?payment={payment}");
    if !visit.signed_in() {
        return sign_in_first(visit, &back);
    }
    let p = visit.get(&format!("/api/v1/payments/{payment}")).await;
    match p.body["order_id"].as_str() {
        Some(order) if p.ok() => redirect(visit, &format!("/orders/{order}")),
        _ if p.status == StatusCode::UNAUTHORIZED => sign_in_first(visit, &back),
        _ => failed(&s, visit, &p),
    }
}
