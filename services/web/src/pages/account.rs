//! Accounts: signing up, in and out, confirming the email address, resetting a forgotten
//! password, and the account page (orders, profile, notification preferences). Opening an
//! emailed link changes nothing; pressing its button does (mail scanners open links).

use axum::{
    extract::{Query, State},
    http::{Method, StatusCode},
    response::Response,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    Posted, errors_by_field, failed, local_path, message, page, redirect, shown_status,
    sign_in_first,
};
use crate::{AppState, session::Visit};

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

pub async fn signin_form(
    State(s): State<AppState>,
    visit: Visit,
    Query(q): Query<Next>,
) -> Response {
    let next = local_path(q.next.as_deref().unwrap_or("/account")).to_owned();
    if visit.signed_in() {
        return redirect(visit, &next);
    }
    let ctx = json!({"next": next, "email": "", "errors": {}});
    page(&s, visit, StatusCode::OK, "signin.html", ctx)
}

pub async fn signin(State(s): State<AppState>, Posted { mut visit, form }: Posted) -> Response {
    let next = local_path(form.get("next")).to_owned();
    let email = form.get("email").trim().to_owned();
    let ask = json!({"email": email, "password": form.get("password")});
    let answer = s
        .api
        .send(
            Method::POST,
            "/api/v1/auth/login",
            &visit.sign_in_caller(),
            Some(&ask),
        )
        .await;
    if answer.ok() {
        visit.signed_in_with(&answer.body);
        return redirect(visit, &next);
    }
    let mut errors = errors_by_field(&answer, "");
    let status = answer.status;
    match status {
        StatusCode::UNAUTHORIZED => {
            errors.insert(
                "password".into(),
                "The email address or the password is not right.".into(),
            );
        }
        _ if errors.is_empty() => {
            errors.insert("form".into(), answer.message());
        }
        _ => {}
    }
    let ctx = json!({"next": next, "email": email, "errors": errors});
    page(&s, visit, status, "signin.html", ctx)
}

pub async fn signup_form(State(s): State<AppState>, visit: Visit) -> Response {
    if visit.signed_in() {
        return redirect(visit, "/account");
    }
    let ctx = json!({"values": {}, "errors": {}});
    page(&s, visit, StatusCode::OK, "signup.html", ctx)
}

pub async fn signup(State(s): State<AppState>, Posted { mut visit, form }: Posted) -> Response {
    let (name, email, password) = (
        form.get("name").trim(),
        form.get("email").trim(),
        form.get("password"),
    );
    let ask = json!({"name": name, "email": email, "password": password});
    let made = visit.post("/api/v1/auth/register", &ask).await;
    if made.ok() {
        // The guest's cart stays with the browser until it signs in, which merges it.
        return message(
            &s,
            visit,
            StatusCode::CREATED,
            "Your account is created",
            &format!(
                "We sent a link to {email} to confirm the address. Sign in to go on shopping; \
                 your cart comes with you."
            ),
            Some(("/signin?next=/cart", "Sign in")),
        );
    }
    let mut errors = errors_by_field(&made, "");
    if made.code() == "email_taken" {
        errors.insert(
            "email".into(),
            "An account with this email address exists. Sign in instead.".into(),
        );
    } else if errors.is_empty() {
        errors.insert("form".into(), made.message());
    }
    let status = made.status;
    let ctx = json!({"values": {"name": name, "email": email}, "errors": errors});
    page(&s, visit, status, "signup.html", ctx)
}

pub async fn signout(State(s): State<AppState>, Posted { mut visit, .. }: Posted) -> Response {
    if let Some(refresh) = visit.sign_out() {
        // The refresh token is spent; the access token runs out by itself.
        let _ = s
            .api
            .send(
                Method::POST,
                "/api/v1/auth/logout",
                &crate::api::Caller::default(),
                Some(&json!({"refresh_token": refresh})),
            )
            .await;
    }
    redirect(visit, "/")
}

fn missing_token(s: &AppState, visit: Visit) -> Response {
    message(
        s,
        visit,
        StatusCode::BAD_REQUEST,
        "This link is incomplete",
        "Open the link from the email again, or copy all of it into the address bar.",
        None,
    )
}

pub async fn verify_form(
    State(s): State<AppState>,
    visit: Visit,
    Query(q): Query<TokenQuery>,
) -> Response {
    match q.token.filter(|t| !t.is_empty()) {
        Some(token) => page(
            &s,
            visit,
            StatusCode::OK,
            "verify.html",
            json!({"token": token}),
        ),
        None => missing_token(&s, visit),
    }
}

pub async fn verify(State(s): State<AppState>, Posted { mut visit, form }: Posted) -> Response {
    let Some(token) = form.text("token") else {
        return missing_token(&s, visit);
    };
    let answer = visit
        .post("/api/v1/auth/verify-email", &json!({"token": token}))
        .await;
    if answer.ok() {
        let next = if visit.signed_in() {
            ("/account", "Go to your account")
        } else {
            ("/signin", "Sign in")
        };
        return message(
            &s,
            visit,
            StatusCode::OK,
            "Your email address is confirmed",
            "Thank you.",
            Some(next),
        );
    }
    let status = shown_status(&answer);
    message(
        &s,
        visit,
        status,
        "The email address was not confirmed",
        &format!("{} Ask for a new link after signing in.", answer.message()),
        None,
    )
}

pub async fn forgot_form(State(s): State<AppState>, visit: Visit) -> Response {
    let ctx = json!({"step": "ask", "email": "", "errors": {}});
    page(&s, visit, StatusCode::OK, "password.html", ctx)
}

pub async fn forgot(State(s): State<AppState>, Posted { mut visit, form }: Posted) -> Response {
    let email = form.get("email").trim().to_owned();
    let answer = visit
        .post("/api/v1/auth/password-reset", &json!({"email": email}))
        .await;
    if answer.ok() {
        return message(
            &s,
            visit,
            StatusCode::OK,
            "Check your email",
            "If an account has this address, we sent it a link to choose a new password. \
             The link works once.",
            Some(("/signin", "Back to sign in")),
        );
    }
    let mut errors = errors_by_field(&answer, "");
    if errors.is_empty() {
        errors.insert("email".into(), answer.message());
    }
    let status = answer.status;
    let ctx = json!({"step": "ask", "email": email, "errors": errors});
    page(&s, visit, status, "password.html", ctx)
}

pub async fn reset_form(
    State(s): State<AppState>,
    visit: Visit,
    Query(q): Query<TokenQuery>,
) -> Response {
    match q.token.filter(|t| !t.is_empty()) {
        Some(token) => {
            let ctx = json!({"step": "choose", "token": token, "errors": {}});
            page(&s, visit, StatusCode::OK, "password.html", ctx)
        }
        None => missing_token(&s, visit),
    }
}

pub async fn reset(State(s): State<AppState>, Posted { mut visit, form }: Posted) -> Response {
    let Some(token) = form.text("token") else {
        return missing_token(&s, visit);
    };
    let ask = json!({"token": token, "new_password": form.get("new_password")});
    let answer = visit
        .post("/api/v1/auth/password-reset/confirm", &ask)
        .await;
    if answer.ok() {
        return message(
            &s,
            visit,
            StatusCode::OK,
            "Your password is changed",
            "Sign in with your new password.",
            Some(("/signin", "Sign in")),
        );
    }
    let errors = errors_by_field(&answer, "");
    if errors.contains_key("new_password") {
        let status = answer.status;
        let ctx = json!({"step": "choose", "token": token, "errors": errors});
        return page(&s, visit, status, "password.html", ctx);
    }
    let status = shown_status(&answer);
    message(
        &s,
        visit,
        status,
        "The password was not changed",
        &format!("{} Ask for a new link.", answer.message()),
        Some(("/forgot-password", "Ask for a new link")),
    )
}

/// The account page: profile, notification preferences and orders, each from one call.
async fn account_page(
    s: &AppState,
    mut visit: Visit,
    status: StatusCode,
    note: Option<&str>,
    errors: Value,
) -> Response {
    if !visit.signed_in() {
        return sign_in_first(visit, "/account");
    }
    let me = visit.get("/api/v1/users/me").await;
    if me.status == StatusCode::UNAUTHORIZED {
        return sign_in_first(visit, "/account");
    }
    if !me.ok() {
        return failed(s, visit, &me);
    }
    let prefs = visit.get("/api/v1/users/me/notifications").await;
    let orders = visit.get("/api/v1/orders?limit=20").await;
    let ctx = json!({
        "profile": me.body,
        "prefs": prefs.body,
        "orders": orders.body["items"],
        "note": note,
        "errors": errors,
    });
    page(s, visit, status, "account.html", ctx)
}

pub async fn show(State(s): State<AppState>, visit: Visit) -> Response {
    account_page(&s, visit, StatusCode::OK, None, json!({})).await
}

pub async fn profile(State(s): State<AppState>, Posted { mut visit, form }: Posted) -> Response {
    if !visit.signed_in() {
        return sign_in_first(visit, "/account");
    }
    let ask = json!({"name": form.get("name").trim(), "phone": form.text("phone")});
    let answer = visit
        .call(Method::PATCH, "/api/v1/users/me", Some(&ask), None)
        .await;
    if answer.ok() {
        return account_page(
            &s,
            visit,
            StatusCode::OK,
            Some("Your profile is saved."),
            json!({}),
        )
        .await;
    }
    let mut errors = errors_by_field(&answer, "");
    if errors.is_empty() {
        errors.insert("profile".into(), answer.message());
    }
    let status = answer.status;
    account_page(&s, visit, status, None, json!(errors)).await
}

pub async fn notifications(
    State(s): State<AppState>,
    Posted { mut visit, form }: Posted,
) -> Response {
    if !visit.signed_in() {
        return sign_in_first(visit, "/account");
    }
    let ask = json!({"sms": form.get("sms") == "on", "language": form.get("language").trim()});
    let answer = visit
        .call(
            Method::PUT,
            "/api/v1/users/me/notifications",
            Some(&ask),
            None,
        )
        .await;
    if answer.ok() {
        let note = Some("Your notification preferences are saved.");
        return account_page(&s, visit, StatusCode::OK, note, json!({})).await;
    }
    let mut errors = errors_by_field(&answer, "");
    if errors.is_empty() {
        errors.insert("prefs".into(), answer.message());
    }
    let status = answer.status;
    account_page(&s, visit, status, None, json!(errors)).await
}
