//! Access-token verification against the users service's published keys, roles, and the
//! extractors every service uses to say who may call what.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use crate::secret::Secret;
use axum::{
    extract::{FromRef, FromRequestParts},
    http::request::Parts,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::problem::Problem;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Buyer,
    Seller,
    Moderator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Buyer => "buyer",
            Role::Seller => "seller",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "buyer" => Some(Role::Buyer),
            "seller" => Some(Role::Seller),
            "moderator" => Some(Role::Moderator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The claims of a Kazna access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    pub email: String,
    pub roles: Vec<Role>,
    pub exp: u64,
    pub iat: u64,
    pub jti: Uuid,
}

impl Claims {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// Verifies access tokens with the public keys at the users service's JWKS address.
/// Keys are cached; an unknown `kid` triggers a refresh (at most one a second).
pub struct Verifier {
    jwks_url: String,
    http: reqwest::Client,
    validation: Validation,
    keys: RwLock<HashMap<String, DecodingKey>>,
    last_fetch: Mutex<Option<Instant>>,
    /// Known keys are fetched again after this long, so a retired key stops verifying.
    max_age: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed or its signature does not verify")]
    Invalid,
    #[error("no key with this id")]
    UnknownKey,
}

impl Verifier {
    pub fn new(jwks_url: String, issuer: &str, audience: &str, max_age: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        Self {
            jwks_url,
            http: reqwest::Client::new(),
            validation,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
            max_age,
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let stale = self
            .last_fetch
            .lock()
            .await
            .is_none_or(|t| t.elapsed() >= self.max_age);
        if stale || !self.keys.read().await.contains_key(&kid) {
            self.refresh().await;
        }
        let keys = self.keys.read().await;
        let key = keys.get(&kid).ok_or(TokenError::UnknownKey)?;
        jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| TokenError::Invalid)
    }

    async fn refresh(&self) {
        let mut last = self.last_fetch.lock().await;
        // At most one fetch a second (unknown kids must not hammer the users service).
        let pause = self.max_age.min(Duration::from_secs(1));
        if last.is_some_and(|t| t.elapsed() < pause) {
            return;
        }
        *last = Some(Instant::now());
        // A users service that is starting, or a name not resolving yet, is a moment's
        // trouble: a quick refusal is tried three times before the caller is refused (one
        // that timed out is not, so a caller never waits longer than one time-out).
        let mut tries = 0;
        let set = loop {
            tries += 1;
            match self.fetch().await {
                Ok(set) => break set,
                Err(e) if tries == 3 || e.is_timeout() => {
                    tracing::warn!(error = %e, url = %self.jwks_url, "could not fetch the JWKS");
                    return;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100 * tries)).await,
            }
        };
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if let (Some(kid), Ok(key)) = (&jwk.common.key_id, DecodingKey::from_jwk(jwk)) {
                keys.insert(kid.clone(), key);
            }
        }
        *self.keys.write().await = keys;
    }

    async fn fetch(&self) -> Result<JwkSet, reqwest::Error> {
        self.http
            .get(&self.jwks_url)
            .timeout(Duration::from_secs(5))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }
}

/// A signed-in caller. Rejects with 401 when the bearer token is missing or invalid.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Claims);

impl AuthUser {
    pub fn id(&self) -> Uuid {
        self.0.sub
    }

    /// Passes when the caller has any of `roles`, else answers 403.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), Problem> {
        if roles.iter().any(|r| self.0.has(*r)) {
            Ok(())
        } else {
            Err(Problem::forbidden())
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?;
    let s = value.to_str().ok()?;
    let (scheme, token) = s.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

impl<S> FromRequestParts<S> for AuthUser
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let token = bearer(parts).ok_or_else(Problem::unauthorized)?;
        let verifier = Arc::<Verifier>::from_ref(state);
        verifier
            .verify(token)
            .await
            .map(AuthUser)
            .map_err(|_| Problem::unauthorized())
    }
}

/// A set of roles an endpoint admits; see [`Require`].
pub trait RoleSet: Send + Sync + 'static {
    const ROLES: &'static [Role];
}

/// Admins only.
pub struct Admin;
impl RoleSet for Admin {
    const ROLES: &'static [Role] = &[Role::Admin];
}

/// Sellers (for what they own) and admins.
pub struct SellerOrAdmin;
impl RoleSet for SellerOrAdmin {
    const ROLES: &'static [Role] = &[Role::Seller, Role::Admin];
}

/// Moderators and admins.
pub struct ModeratorOrAdmin;
impl RoleSet for ModeratorOrAdmin {
    const ROLES: &'static [Role] = &[Role::Moderator, Role::Admin];
}

/// A signed-in caller with one of the roles of `R`: 401 without a valid token, 403 without
/// the role. Handlers state their permission in their signature: `Require<Admin>`.
pub struct Require<R: RoleSet>(pub AuthUser, pub std::marker::PhantomData<R>);

impl<R: RoleSet> Require<R> {
    pub fn user(&self) -> &AuthUser {
        &self.0
    }
}

impl<S, R> FromRequestParts<S> for Require<R>
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
    R: RoleSet,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        user.require_any(R::ROLES)?;
        Ok(Require(user, std::marker::PhantomData))
    }
}

/// A caller that may or may not be signed in; a present but invalid token is still a 401.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<AuthUser>);

impl<S> FromRequestParts<S> for MaybeUser
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        if parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            AuthUser::from_request_parts(parts, state)
                .await
                .map(|u| MaybeUser(Some(u)))
        } else {
            Ok(MaybeUser(None))
        }
    }
}

/// The credential services present to each other's `/internal/...` endpoints.
#[derive(Clone)]
pub struct InternalToken(pub Secret);

pub const INTERNAL_HEADER: &str = "x-kazna-internal";

/// Admits only calls that carry the internal credential.
#[derive(Debug, Clone, Copy)]
pub struct Internal;

impl<S> FromRequestParts<S> for Internal
where
    InternalToken: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let expected = InternalToken::from_ref(state);
        let given = parts
            .headers
            .get(INTERNAL_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if constant_time_eq(given.as_bytes(), expected.0.expose().as_bytes()) {
            Ok(Internal)
        } else {
            Err(Problem::unauthorized())
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::{Json, Router, http::StatusCode, routing::get};
    use jsonwebtoken::{EncodingKey, Header};

    use super::*;

    /// A key made for this test only (PKCS #8, and its public half as RFC 8037 writes it).
    const TEST_KEY: &str = "MC4CAQAwBQYDK2VwBCIEINDx82s0Er9C6v/5Cxkhpt00gENrEMH5fNjV9UON/Xmz";
    const TEST_PUBLIC: &str = "brd_SbEl7CTWJFwM6lRdTiUVavrG74KkJJTavU259zo";

    fn token() -> String {
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(TEST_KEY)
            .unwrap();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        let now = chrono::Utc::now().timestamp() as u64;
        let claims = Claims {
            iss: "kazna".into(),
            aud: "kazna".into(),
            sub: Uuid::now_v7(),
            email: "ada@example.com".into(),
            roles: vec![Role::Buyer],
            exp: now + 600,
            iat: now,
            jti: Uuid::now_v7(),
        };
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&der)).unwrap()
    }

    /// A JWKS address that fails `failures` times before it answers.
    async fn jwks_failing(failures: usize) -> (String, Arc<AtomicUsize>) {
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        let app = Router::new().route(
            "/jwks",
            get(move || {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < failures {
                        return Err(StatusCode::SERVICE_UNAVAILABLE);
                    }
                    Ok(Json(
                        serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519",
                        "alg": "EdDSA", "use": "sig", "kid": "k1", "x": TEST_PUBLIC}]}),
                    ))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, asked)
    }

    #[tokio::test]
    async fn a_jwks_that_fails_for_a_moment_is_asked_again_before_a_token_is_refused() {
        let (url, asked) = jwks_failing(2).await;
        let verifier = Verifier::new(url, "kazna", "kazna", Duration::from_secs(300));
        let claims = verifier.verify(&token()).await.unwrap();
        assert_eq!(claims.email, "ada@example.com");
        assert_eq!(asked.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_jwks_that_keeps_failing_refuses_the_token_after_three_tries() {
        let (url, asked) = jwks_failing(usize::MAX).await;
        let verifier = Verifier::new(url, "kazna", "kazna", Duration::from_secs(300));
        assert!(matches!(
            verifier.verify(&token()).await,
            Err(TokenError::UnknownKey)
        ));
        assert_eq!(asked.load(Ordering::SeqCst), 3);
    }
}
