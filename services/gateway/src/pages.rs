//! The two pages the account emails link to, until the storefront exists: confirm an email
//! address, choose a new password. Each is a small form that completes its step through the
//! public API, exactly as any client would (the request goes through the gateway's own
//! routing, with no credential of its own), and shows the API's answer in words, an error
//! next to the field it is about. Opening a link changes nothing; pressing the button does
//! (mail scanners open links).

use axum::{
    body::{Body, Bytes, to_bytes},
    extract::{Query, Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use kazna_kernel::html::escape;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{AppState, proxy};

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Kazna</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}\
         label{{display:block;font-weight:600;margin-top:1rem}}input{{font:inherit;width:100%;padding:.5rem;box-sizing:border-box}}\
         button{{font:inherit;margin-top:1rem;padding:.5rem 1rem}}.error{{color:#a40000}}</style></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>"
    );
    let mut res = (status, Html(html)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    res
}

/// The fields of a form body.
fn form(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Calls the public API through the gateway's own routing; returns the status and the
/// problem document, if any.
async fn call(s: AppState, path: &str, body: Value) -> (StatusCode, Value) {
    let mut req = Request::new(Body::from(body.to_string()));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = match path.parse() {
        Ok(uri) => uri,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, Value::Null),
    };
    req.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let res = proxy::forward(State(s), req).await;
    let status = res.status();
    let bytes = to_bytes(res.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The error the API gave about `name`, if any.
fn error_for(problem: &Value, name: &str) -> Option<String> {
    problem["errors"]
        .as_array()?
        .iter()
        .find(|e| e["field"] == name)
        .and_then(|e| e["message"].as_str())
        .map(str::to_owned)
}

fn missing_token() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "This link is incomplete",
        "<p>Open the link from the email again, or copy all of it into the address bar.</p>",
    )
}

pub async fn verify_form(Query(q): Query<TokenQuery>) -> Response {
    let Some(token) = q.token.filter(|t| !t.is_empty()) else {
        return missing_token();
    };
    page(
        StatusCode::OK,
        "Confirm your email address",
        &format!(
            "<form method=\"post\" action=\"/verify-email\">\
             <input type=\"hidden\" name=\"token\" value=\"{}\">\
             <button type=\"submit\">Confirm my email address</button></form>",
            escape(&token)
        ),
    )
}

pub async fn verify_submit(State(s): State<AppState>, body: Bytes) -> Response {
    let form = form(&body);
    let token = field(&form, "token");
    if token.is_empty() {
        return missing_token();
    }
    match call(s, "/api/v1/auth/verify-email", json!({"token": token})).await {
        (status, _) if status.is_success() => page(
            StatusCode::OK,
            "Your email address is confirmed",
            "<p>Thank you. You can close this page.</p>",
        ),
        (status, problem) => page(
            if status.is_server_error() {
                StatusCode::BAD_GATEWAY
            } else {
                status
            },
            "The email address was not confirmed",
            &format!(
                "<p class=\"error\" role=\"alert\">{}</p><p>Ask for a new link after signing in.</p>",
                escape(
                    problem["title"]
                        .as_str()
                        .unwrap_or("Something went wrong; try again later.")
                )
            ),
        ),
    }
}

fn reset_form(token: &str, error: Option<&str>) -> String {
    let (invalid, note) = match error {
        Some(e) => (
            " aria-invalid=\"true\" aria-describedby=\"password-error\"",
            format!("<p id=\"password-error\" class=\"error\">{}</p>", escape(e)),
        ),
        None => ("", String::new()),
    };
    format!(
        "<form method=\"post\" action=\"/reset-password\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label for=\"new_password\">New password</label>\
         <input id=\"new_password\" name=\"new_password\" type=\"password\" autocomplete=\"new-password\" \
         minlength=\"8\" maxlength=\"128\" required{invalid}>{note}\
         <button type=\"submit\">Change my password</button></form>",
        token = escape(token)
    )
}

pub async fn reset_page(Query(q): Query<TokenQuery>) -> Response {
    match q.token.filter(|t| !t.is_empty()) {
        Some(token) => page(
            StatusCode::OK,
            "Choose a new password",
            &reset_form(&token, None),
        ),
        None => missing_token(),
    }
}

pub async fn reset_submit(State(s): State<AppState>, body: Bytes) -> Response {
    let form = form(&body);
    let (token, password) = (field(&form, "token"), field(&form, "new_password"));
    if token.is_empty() {
        return missing_token();
    }
    let ask = json!({"token": token, "new_password": password});
    match call(s, "/api/v1/auth/password-reset/confirm", ask).await {
        (status, _) if status.is_success() => page(
            StatusCode::OK,
            "Your password is changed",
            "<p>Sign in with your new password.</p>",
        ),
        (status, problem) => match error_for(&problem, "new_password") {
            Some(e) => page(
                status,
                "Choose a new password",
                &reset_form(token, Some(&e)),
            ),
            None => page(
                if status.is_server_error() {
                    StatusCode::BAD_GATEWAY
                } else {
                    status
                },
                "The password was not changed",
                &format!(
                    "<p class=\"error\" role=\"alert\">{}</p><p>Ask for a new link.</p>",
                    escape(
                        problem["title"]
                            .as_str()
                            .unwrap_or("Something went wrong; try again later.")
                    )
                ),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_link_carries_is_escaped() {
        assert_eq!(
            escape("\"><script>&'"),
            "&quot;&gt;&lt;script&gt;&amp;&#39;"
        );
        let form = reset_form("a\"b", Some("<too short>"));
        assert!(form.contains("value=\"a&quot;b\""), "{form}");
        assert!(form.contains("&lt;too short&gt;"), "{form}");
        assert!(form.contains("aria-invalid=\"true\""));
    }
}
