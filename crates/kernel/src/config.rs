//! Typed, layered configuration: built-in defaults, then an optional TOML file
//! (`kazna.toml`, or the path in `KAZNA_CONFIG`), then `KAZNA_...` environment variables
//! where `__` separates levels (`KAZNA_DATABASE__URL`).

use std::{net::SocketAddr, path::PathBuf};

use crate::secret::Secret;
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

use crate::Error;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub log: LogSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub amqp: AmqpSettings,
    pub auth: AuthSettings,
    pub services: ServiceMap,
    pub gateway: GatewaySettings,
    pub users: UsersSettings,
    pub catalog: CatalogSettings,
    pub search: SearchSettings,
    pub orders: OrdersSettings,
    pub payments: PaymentsSettings,
    pub notifications: NotificationsSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogSettings {
    /// `pretty` for people, `json` for log collectors.
    pub format: String,
    /// A tracing filter, e.g. `info,kazna_orders=debug`.
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabaseSettings {
    /// The PostgreSQL server, without a database name.
    pub url: String,
    /// Each service uses the database `<prefix><service>`, created on start if missing.
    pub name_prefix: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RedisSettings {
    pub url: String,
    /// Prepended to every key, so several shops (or tests) can share one server.
    pub key_prefix: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AmqpSettings {
    pub url: String,
    /// The topic exchange all events are published to.
    pub exchange: String,
    /// Queues are named `<queue_prefix>.<service>`, plus `.retry.<ms>` and `.dead`.
    pub queue_prefix: String,
    /// The delay before each retry of a failed message; after the last, it is dead-lettered.
    pub retry_delays_ms: Vec<u32>,
    pub prefetch: u16,
    /// When set, unused queues are deleted by the broker after this long (for tests).
    pub queue_expires_ms: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthSettings {
    pub issuer: String,
    pub audience: String,
    pub access_token_ttl_secs: u64,
    /// The credential services present to each other's `/internal/...` endpoints.
    pub internal_token: Secret,
    /// How long a service trusts the signing keys it fetched before fetching them again.
    pub jwks_cache_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    /// Where this service listens.
    pub bind: SocketAddr,
    /// Where other services reach it.
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceMap {
    pub gateway: Endpoint,
    pub users: Endpoint,
    pub catalog: Endpoint,
    pub search: Endpoint,
    pub cart: Endpoint,
    pub orders: Endpoint,
    pub payments: Endpoint,
    pub notifications: Endpoint,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GatewaySettings {
    /// Origins allowed by CORS; empty allows none.
    pub cors_origins: Vec<String>,
    /// The public address of the gateway, used in links sent to users.
    pub public_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UsersSettings {
    /// Failed sign-ins allowed per account and per client address in one window.
    pub login_attempts: u32,
    pub login_window_secs: u64,
    /// How long a profile stays in the Redis cache.
    pub profile_cache_secs: u64,
    /// How often a running service looks for a newer signing key.
    pub signing_key_refresh_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogSettings {
    pub reservation_ttl_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchSettings {
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrdersSettings {
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentsSettings {
    /// `sandbox` (built in, no account needed).
    pub provider: String,
    /// The secret webhooks are signed with.
    pub webhook_secret: Secret,
    /// Where the sandbox gateway delivers its webhooks (normally through the gateway).
    pub sandbox_webhook_url: String,
    pub sandbox_delay_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotificationsSettings {
    /// `file`: each message is written as a file under `outbox_dir`.
    pub email_backend: String,
    pub outbox_dir: PathBuf,
    pub from: String,
}

impl ServiceMap {
    /// Every service's endpoint with its name, gateway first.
    pub fn all(&self) -> [(&'static str, &Endpoint); 8] {
        [
            ("gateway", &self.gateway),
            ("users", &self.users),
            ("catalog", &self.catalog),
            ("search", &self.search),
            ("cart", &self.cart),
            ("orders", &self.orders),
            ("payments", &self.payments),
            ("notifications", &self.notifications),
        ]
    }

    pub fn all_mut(&mut self) -> [(&'static str, &mut Endpoint); 8] {
        [
            ("gateway", &mut self.gateway),
            ("users", &mut self.users),
            ("catalog", &mut self.catalog),
            ("search", &mut self.search),
            ("cart", &mut self.cart),
            ("orders", &mut self.orders),
            ("payments", &mut self.payments),
            ("notifications", &mut self.notifications),
        ]
    }
}

fn endpoint(port: u16) -> Endpoint {
    Endpoint {
        bind: SocketAddr::from(([127, 0, 0, 1], port)),
        url: format!("http://127.0.0.1:{port}"),
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            log: LogSettings {
                format: "pretty".into(),
                level: "info,lapin=off,sqlx::postgres::notice=warn".into(),
            },
            database: DatabaseSettings {
                url: "postgres://postgres@127.0.0.1:5432".into(),
                name_prefix: "kazna_".into(),
                max_connections: 16,
            },
            redis: RedisSettings {
                url: "redis://127.0.0.1:6379".into(),
                key_prefix: String::new(),
            },
            amqp: AmqpSettings {
                url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
                exchange: "kazna.events".into(),
                queue_prefix: "kazna".into(),
                retry_delays_ms: vec![1_000, 5_000, 30_000, 120_000],
                prefetch: 32,
                queue_expires_ms: None,
            },
            auth: AuthSettings {
                issuer: "kazna".into(),
                audience: "kazna".into(),
                access_token_ttl_secs: 900,
                internal_token: Secret::new("change-me-internal"),
                jwks_cache_secs: 300,
            },
            services: ServiceMap {
                gateway: endpoint(8080),
                users: endpoint(8081),
                catalog: endpoint(8082),
                search: endpoint(8083),
                cart: endpoint(8084),
                orders: endpoint(8085),
                payments: endpoint(8086),
                notifications: endpoint(8087),
            },
            gateway: GatewaySettings {
                cors_origins: vec![],
                public_url: "http://127.0.0.1:8080".into(),
            },
            users: UsersSettings {
                login_attempts: 10,
                login_window_secs: 60,
                profile_cache_secs: 300,
                signing_key_refresh_secs: 30,
            },
            catalog: CatalogSettings {
                reservation_ttl_secs: 900,
            },
            search: SearchSettings {
                data_dir: PathBuf::from("data/search"),
            },
            orders: OrdersSettings {
                currency: "EUR".into(),
            },
            payments: PaymentsSettings {
                provider: "sandbox".into(),
                webhook_secret: Secret::new("whsec_change_me"),
                sandbox_webhook_url: "http://127.0.0.1:8080/webhooks/payments/sandbox".into(),
                sandbox_delay_ms: 50,
            },
            notifications: NotificationsSettings {
                email_backend: "file".into(),
                outbox_dir: PathBuf::from("data/outbox"),
                from: "Kazna <shop@kazna.local>".into(),
            },
        }
    }
}

impl Settings {
    /// Loads defaults, then the config file if present, then the environment.
    pub fn load() -> Result<Self, Error> {
        let file = std::env::var("KAZNA_CONFIG").unwrap_or_else(|_| "kazna.toml".into());
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("KAZNA_").ignore(&["CONFIG"]).split("__"))
            .extract()
            .map_err(|e| Error::Config(e.to_string()))
    }

    /// The PostgreSQL URL of one service's database.
    pub fn database_url(&self, service: &str) -> String {
        format!(
            "{}/{}{}",
            self.database.url.trim_end_matches('/'),
            self.database.name_prefix,
            service
        )
    }

    pub fn redis_key(&self, key: &str) -> String {
        format!("{}{}", self.redis.key_prefix, key)
    }
}
