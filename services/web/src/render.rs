//! Pages from templates compiled into the binary (minijinja), with filters for prices and
//! times; every page carries the security headers a shop's pages need.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use minijinja::{Environment, Value as Jinja};
use serde::Serialize;

/// Every template, by name.
const TEMPLATES: [(&str, &str); 14] = [
    ("base.html", include_str!("../templates/base.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("listing.html", include_str!("../templates/listing.html")),
    ("product.html", include_str!("../templates/product.html")),
    ("cart.html", include_str!("../templates/cart.html")),
    ("signin.html", include_str!("../templates/signin.html")),
    ("signup.html", include_str!("../templates/signup.html")),
    ("message.html", include_str!("../templates/message.html")),
    ("verify.html", include_str!("../templates/verify.html")),
    ("password.html", include_str!("../templates/password.html")),
    ("checkout.html", include_str!("../templates/checkout.html")),
    ("order.html", include_str!("../templates/order.html")),
    ("account.html", include_str!("../templates/account.html")),
];

pub fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    env.add_filter("money", money);
    env.add_filter("when", when);
    env.add_filter("words", words);
    Ok(env)
}

/// `{amount, currency}` as the shopper reads it.
fn money(m: Jinja) -> String {
    let amount = m
        .get_attr("amount")
        .ok()
        .and_then(|a| i64::try_from(a).ok());
    let code = m.get_attr("currency").ok();
    match (amount, code.as_ref().and_then(Jinja::as_str)) {
        (Some(amount), Some(code)) => crate::money::format(amount, code),
        _ => String::new(),
    }
}

/// An RFC 3339 time as "2 Dec 2026, 15:04 UTC".
fn when(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%-d %b %Y, %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|_| t.to_owned())
}

/// A machine word (`pending_payment`, `card_declined`) as words ("pending payment").
pub fn words(s: &str) -> String {
    let s = s.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => s,
    }
}

/// Renders `name` with `ctx` as the answer, `status` and all.
pub fn page(
    env: &Environment<'static>,
    status: StatusCode,
    name: &str,
    ctx: impl Serialize,
) -> Response {
    let html = env
        .get_template(name)
        .and_then(|t| t.render(Jinja::from_serialize(&ctx)));
    let mut res = match html {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><p>This page could not be shown.</p>"),
            )
                .into_response()
        }
    };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "referrer-policy",
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' https: data:; style-src 'self'; \
             script-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_words_read_as_words() {
        assert_eq!(words("pending_payment"), "Pending payment");
        assert_eq!(words(""), "");
        assert_eq!(when("2026-12-02T15:04:05Z"), "2 Dec 2026, 15:04 UTC");
        assert_eq!(when("not a time"), "not a time");
    }

    #[test]
    fn every_template_compiles() {
        assert!(environment().is_ok(), "{:?}", environment().err());
    }
}
