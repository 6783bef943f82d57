//! The pages, by area. Each handler asks the API what its widgets need (one call each),
//! renders a template, and lets the visit set the cookies it changed.

pub mod account;
pub mod cart;
pub mod checkout;
pub mod shop;

use std::collections::BTreeMap;

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{AppState, api::Answer, render, session::Visit};

/// The fields of a submitted form, in order.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &Bytes) -> Self {
        Form(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The field's value, or "" when the form has none.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The field trimmed, or `None` when it is empty.
    pub fn text(&self, name: &str) -> Option<&str> {
        Some(self.get(name).trim()).filter(|v| !v.is_empty())
    }
}

/// What every page's frame needs: who is visiting, the token its forms carry.
#[derive(Serialize)]
pub struct Frame<'a> {
    pub signed_in: bool,
    pub csrf: &'a str,
}

/// Renders `name` for this visit; the template sees the frame as `me` beside `ctx`.
pub fn page(s: &AppState, visit: Visit, status: StatusCode, name: &str, ctx: Value) -> Response {
    let mut ctx = ctx;
    ctx["me"] = json!(Frame {
        signed_in: visit.signed_in(),
        csrf: &visit.csrf,
    });
    let res = render::page(&s.templates, status, name, ctx);
    visit.finish(res)
}

/// A page that only says something: a title, a paragraph, perhaps a link on.
pub fn message(
    s: &AppState,
    visit: Visit,
    status: StatusCode,
    title: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Response {
    let link = link.map(|(href, label)| json!({"href": href, "label": label}));
    page(
        s,
        visit,
        status,
        "message.html",
        json!({"title": title, "text": text, "link": link,
               "alert": status.is_client_error() || status.is_server_error()}),
    )
}

/// The API's error as a page, its status kept for a client error.
pub fn failed(s: &AppState, visit: Visit, answer: &Answer) -> Response {
    let status = match answer.status {
        StatusCode::NOT_FOUND => {
            return message(
                s,
                visit,
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing at this address. It may have been removed.",
                Some(("/", "Go to the shop")),
            );
        }
        st if st.is_client_error() => st,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    message(
        s,
        visit,
        status,
        "Something went wrong",
        &answer.message(),
        Some(("/", "Go to the shop")),
    )
}

/// The status a page shows for the API's refusal: its own for a client error, 503 when the
/// API could not answer.
pub fn shown_status(answer: &Answer) -> StatusCode {
    if answer.status.is_client_error() {
        answer.status
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// A 303 to `to`, the cookies the visit changed included.
pub fn redirect(visit: Visit, to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    visit.finish(res)
}

/// A path of this shop to return to after signing in; anything else is the account page.
pub fn local_path(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.bytes().all(|b| b.is_ascii_graphic());
    if ok { next } else { "/account" }
}

/// The page to sign in from, coming back to `next`.
pub fn sign_in_first(visit: Visit, next: &str) -> Response {
    redirect(visit, &format!("/signin?next={}", crate::api::encode(next)))
}

/// A form sent from one of the shop's own pages: the visit, and the form's fields once its
/// CSRF field matched the visit's cookie. Any other form is answered "This form has expired",
/// before the handler runs, so nothing is changed.
pub struct Posted {
    pub visit: Visit,
    pub form: Form,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Ok(visit) = Visit::from_request_parts(&mut parts, s).await;
        let body = Bytes::from_request(Request::from_parts(parts, body), s)
            .await
            .map_err(IntoResponse::into_response)?;
        let form = Form::parse(&body);
        if !visit.form_is_ours(form.get("csrf")) {
            return Err(expired_form(s, visit));
        }
        Ok(Posted { visit, form })
    }
}

/// The form's CSRF field does not match the visit's cookie: nothing is done.
fn expired_form(s: &AppState, visit: Visit) -> Response {
    message(
        s,
        visit,
        StatusCode::FORBIDDEN,
        "This form has expired",
        "Nothing was changed. Go back, reload the page and try again.",
        None,
    )
}

/// The API's field errors under the names of the form's fields (`shipping_address.city` is
/// the form's `city`).
pub fn errors_by_field(answer: &Answer, prefix: &str) -> BTreeMap<String, String> {
    answer
        .field_errors()
        .into_iter()
        .map(|(k, v)| (k.strip_prefix(prefix).unwrap_or(&k).to_owned(), v))
        .collect()
}

pub async fn not_found(State(s): State<AppState>, visit: Visit) -> Response {
    message(
        &s,
        visit,
        StatusCode::NOT_FOUND,
        "Not found",
        "There is nothing at this address.",
        Some(("/", "Go to the shop")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_shop_are_returned_to() {
        assert_eq!(local_path("/checkout"), "/checkout");
        assert_eq!(local_path("/orders/1?x=2"), "/orders/1?x=2");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "",
            "/a b",
        ] {
            assert_eq!(local_path(bad), "/account", "{bad}");
        }
    }

    #[test]
    fn form_fields_are_read_by_name() {
        let f = Form::parse(&Bytes::from_static(b"a=1&b=+x+&c="));
        assert_eq!(f.get("a"), "1");
        assert_eq!(f.text("b"), Some("x"));
        assert_eq!(f.text("c"), None);
        assert_eq!(f.get("d"), "");
    }
}
