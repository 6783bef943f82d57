//! The shared kernel: configuration, problem documents, auth, request ids, telemetry,
//! health, metrics, the inter-service client and server plumbing.

pub mod auth;
pub mod client;
pub mod code;
pub mod config;
pub mod db;
pub mod health;
pub mod html;
pub mod idempotency;
pub mod json;
pub mod layer;
pub mod local;
pub mod metrics;
pub mod openapi;
pub mod page;
pub mod params;
pub mod problem;
pub mod request_id;
pub mod secret;
pub mod server;
pub mod telemetry;
pub mod text;
pub mod trace;
pub mod worker;

use std::sync::Arc;

pub use auth::{
    Admin, AuthUser, Internal, InternalToken, MaybeUser, ModeratorOrAdmin, Require, Role,
    SellerOrAdmin, Verifier,
};
pub use client::{CallError, ServiceClient};
pub use code::Code;
pub use config::Settings;
pub use json::Json;
pub use local::LocalServices;
pub use params::{Path, Query};
pub use problem::{FieldError, Problem};
pub use secret::Secret;

/// Start-up and infrastructure failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// What every service is handed: its settings and the means to trust and call the others.
/// Shared, so each request's copy of a service's state costs one count.
#[derive(Clone)]
pub struct Context(Arc<Shared>);

impl std::ops::Deref for Context {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub settings: Arc<Settings>,
    pub verifier: Arc<Verifier>,
    pub client: ServiceClient,
    pub internal: InternalToken,
    /// The services running in this process; empty when each runs on its own.
    pub local: LocalServices,
}

impl Context {
    pub fn new(settings: Arc<Settings>) -> Self {
        let jwks = format!(
            "{}/.well-known/jwks.json",
            settings.services.users.url.trim_end_matches('/')
        );
        let verifier = Arc::new(Verifier::new(
            jwks,
            &settings.auth.issuer,
            &settings.auth.audience,
            std::time::Duration::from_secs(settings.auth.jwks_cache_secs),
        ));
        let local = LocalServices::default();
        let client = ServiceClient::new(settings.auth.internal_token.clone(), local.clone());
        let internal = InternalToken(settings.auth.internal_token.clone());
        Self(Arc::new(Shared {
            settings,
            verifier,
            client,
            internal,
            local,
        }))
    }
}

/// Declares a service's state, `$state`, as one shared pointer to `$inner`, read as if it
/// were one: axum copies the state for every request, and a copy of this costs one count.
/// `$state(Arc::new(inner))` makes one.
#[macro_export]
macro_rules! shared_state {
    ($state:ident, $inner:ident) => {
        /// The service's state, shared (see `kazna_kernel::shared_state`).
        #[derive(Clone)]
        pub struct $state(::std::sync::Arc<$inner>);

        impl ::std::ops::Deref for $state {
            type Target = $inner;
            fn deref(&self) -> &$inner {
                &self.0
            }
        }
    };
}

/// Lets a service state that holds a `ctx: Context` field be used by the kernel's extractors.
#[macro_export]
macro_rules! impl_context {
    ($state:ty) => {
        impl ::axum::extract::FromRef<$state> for ::std::sync::Arc<$crate::Verifier> {
            fn from_ref(s: &$state) -> Self {
                s.ctx.verifier.clone()
            }
        }
        impl ::axum::extract::FromRef<$state> for $crate::InternalToken {
            fn from_ref(s: &$state) -> Self {
                s.ctx.internal.clone()
            }
        }
    };
}
