//! A shopper's visit: the session their browser holds in cookies (the access and refresh
//! tokens, the guest cart session and the CSRF token, each `HttpOnly; SameSite=Lax`, and
//! `Secure` behind https), refreshed transparently, and the cookies an answer must set.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, HeaderValue, Method, header, request::Parts},
    response::Response,
};
use serde_json::{Value, json};

use crate::{
    AppState,
    api::{Answer, Caller},
};

const ACCESS: &str = "kazna_access";
const REFRESH: &str = "kazna_refresh";
const CART: &str = kazna_contracts::cart::SESSION_COOKIE;
const CSRF: &str = "kazna_csrf";
/// How long a signed-in browser stays signed in without a visit.
const REFRESH_SECS: u64 = 30 * 24 * 3600;
/// How long a guest's browser keeps its cart session.
const CART_SECS: u64 = 7 * 24 * 3600;

pub struct Visit {
    pub token: Option<String>,
    refresh: Option<String>,
    pub cart: Option<String>,
    /// The token every form of this visit carries back.
    pub csrf: String,
    ip: Option<String>,
    secure: bool,
    cookies: Vec<String>,
    state: AppState,
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

/// A token of our own making: what a cookie may hold, and nothing else.
fn plausible(v: &str) -> bool {
    !v.is_empty() && v.len() <= 4096 && v.bytes().all(|b| b.is_ascii_graphic() && b != b';')
}

impl FromRequestParts<AppState> for Visit {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let mut visit = Visit {
            token: None,
            refresh: None,
            cart: None,
            csrf: String::new(),
            ip: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
            secure: state.secure_cookies,
            cookies: Vec::new(),
            state: state.clone(),
        };
        for (name, value) in cookies(&parts.headers) {
            if !plausible(value) {
                continue;
            }
            let slot = match name {
                ACCESS => &mut visit.token,
                REFRESH => &mut visit.refresh,
                CART => &mut visit.cart,
                CSRF => {
                    visit.csrf = value.to_owned();
                    continue;
                }
                _ => continue,
            };
            *slot = Some(value.to_owned());
        }
        if visit.csrf.is_empty() {
            visit.csrf = uuid::Uuid::new_v4().simple().to_string();
            let c = visit.cookie(CSRF, &visit.csrf.clone(), None);
            visit.cookies.push(c);
        }
        // An access token that ran out is renewed before the page asks the API anything;
        // a HEAD or GET of a static file does not need it.
        if visit.token.is_none() && visit.refresh.is_some() && parts.method != Method::HEAD {
            visit.renew().await;
        }
        Ok(visit)
    }
}

impl Visit {
    pub fn signed_in(&self) -> bool {
        self.token.is_some()
    }

    fn cookie(&self, name: &str, value: &str, max_age: Option<u64>) -> String {
        let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if let Some(secs) = max_age {
            c.push_str(&format!("; Max-Age={secs}"));
        }
        if self.secure {
            c.push_str("; Secure");
        }
        c
    }

    fn set(&mut self, name: &str, value: &str, max_age: u64) {
        let c = self.cookie(name, value, Some(max_age));
        self.cookies.push(c);
    }

    fn clear(&mut self, name: &str) {
        let c = self.cookie(name, "", Some(0));
        self.cookies.push(c);
    }

    /// Whether a form's CSRF field is this visit's token.
    pub fn form_is_ours(&self, field: &str) -> bool {
        let (a, b) = (field.as_bytes(), self.csrf.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    fn caller(&self) -> Caller<'_> {
        Caller {
            token: self.token.as_deref(),
            cart: if self.token.is_some() {
                None
            } else {
                self.cart.as_deref()
            },
            ip: self.ip.as_deref(),
            idempotency_key: None,
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        self.call(Method::GET, path, None, None).await
    }

    pub async fn post(&mut self, path: &str, body: &Value) -> Answer {
        self.call(Method::POST, path, Some(body), None).await
    }

    /// A call to the API as this shopper. A token the API no longer takes is renewed once; a
    /// cart session the cart service gives a guest is kept in the browser.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Answer {
        let state = self.state.clone();
        let mut who = self.caller();
        who.idempotency_key = idempotency_key;
        let mut answer = state.api.send(method.clone(), path, &who, body).await;
        if answer.status == http::StatusCode::UNAUTHORIZED
            && self.token.is_some()
            && self.refresh.is_some()
        {
            self.token = None;
            if self.renew().await {
                let mut who = self.caller();
                who.idempotency_key = idempotency_key;
                answer = state.api.send(method, path, &who, body).await;
            }
        }
        if self.token.is_none()
            && let Some(session) = answer.cart_session.clone()
            && self.cart.as_deref() != Some(session.as_str())
            && plausible(&session)
        {
            self.set(CART, &session, CART_SECS);
            self.cart = Some(session);
        }
        answer
    }

    /// Trades the refresh token for a new pair; a refused one signs the browser out.
    async fn renew(&mut self) -> bool {
        let Some(refresh) = self.refresh.take() else {
            return false;
        };
        let state = self.state.clone();
        let who = Caller {
            ip: self.ip.as_deref(),
            ..Caller::default()
        };
        let answer = state
            .api
            .send(
                Method::POST,
                "/api/v1/auth/refresh",
                &who,
                Some(&json!({"refresh_token": refresh})),
            )
            .await;
        if answer.ok() {
            self.signed_in_with(&answer.body);
            true
        } else {
            if answer.status.is_client_error() {
                self.sign_out();
            }
            false
        }
    }

    /// Keeps the token pair the API gave at sign-in; the guest cart was merged by it.
    pub fn signed_in_with(&mut self, pair: &Value) {
        let (Some(access), Some(refresh)) = (
            pair["access_token"].as_str().filter(|t| plausible(t)),
            pair["refresh_token"].as_str().filter(|t| plausible(t)),
        ) else {
            return;
        };
        // The access cookie ends a little before the token does, so it is renewed in time.
        let expires = pair["expires_in"]
            .as_u64()
            .unwrap_or(900)
            .saturating_sub(30);
        self.set(ACCESS, access, expires.max(1));
        self.set(REFRESH, refresh, REFRESH_SECS);
        self.token = Some(access.to_owned());
        self.refresh = Some(refresh.to_owned());
        if self.cart.take().is_some() {
            self.clear(CART);
        }
    }

    /// The refresh token to spend at sign-out, and the browser forgets its session.
    pub fn sign_out(&mut self) -> Option<String> {
        self.clear(ACCESS);
        self.clear(REFRESH);
        self.token = None;
        self.refresh.take()
    }

    /// The credentials to send with a sign-in: the guest cart, to be merged.
    pub fn sign_in_caller(&self) -> Caller<'_> {
        Caller {
            cart: self.cart.as_deref(),
            ip: self.ip.as_deref(),
            ..Caller::default()
        }
    }

    /// `res` with the cookies this visit changed.
    pub fn finish(self, mut res: Response) -> Response {
        for c in self.cookies {
            if let Ok(v) = HeaderValue::from_str(&c) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_token_like_cookie_values_are_taken() {
        assert!(plausible("eyJhbGciOiJFZERTQSJ9.x-y_z"));
        assert!(!plausible(""));
        assert!(!plausible("a b"));
        assert!(!plausible("a\r\nSet-Cookie: x"));
        assert!(!plausible(&"a".repeat(5000)));
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; kazna_access=tok; kazna_cart=c1"),
        );
        let found: Vec<_> = cookies(&h).collect();
        assert_eq!(
            found,
            [("a", "1"), ("kazna_access", "tok"), ("kazna_cart", "c1")]
        );
    }
}
