//! Typed, layered configuration: built-in defaults, then an optional TOML file
//! (`kazna.toml`, or the path in `KAZNA_CONFIG`), then `KAZNA_...` environment variables
//! where `__` separates levels (`KAZNA_DATABASE__URL`).

use std::net::SocketAddr;

use crate::secret::Secret;
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::Error;

/// Each bad setting with its path: `catalog.reservation_ttl_secs: invalid type: ...`.
fn describe(e: figment::Error) -> Error {
    let lines: Vec<String> = e
        .into_iter()
        .map(|e| match e.path.join(".") {
            path if path.is_empty() => e.to_string(),
            path => format!("{path}: {e}"),
        })
        .collect();
    Error::Config(lines.join("; "))
}

/// The settings every service shares, and the sections each service defines for itself.
///
/// The kernel owns what is common: logging, the stores, the broker, tokens, where each service
/// listens and the public address. A service's own section (`[catalog]` in `kazna.toml`,
/// `KAZNA_CATALOG__...` in the environment) is a type in that service's crate, read with
/// [`Settings::section`]; the kernel only composes them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub log: LogSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub amqp: AmqpSettings,
    pub auth: AuthSettings,
    pub services: ServiceMap,
    pub gateway: GatewaySettings,
    pub telemetry: TelemetrySettings,
    /// Everything as configured, for the service sections.
    #[serde(skip)]
    sections: Sections,
}

/// The sections of the shared settings above.
const SHARED: [&str; 8] = [
    "log",
    "database",
    "redis",
    "amqp",
    "auth",
    "services",
    "gateway",
    "telemetry",
];

/// A service's own settings section: every field has a default, and a key it does not know
/// is an error (`#[serde(default, deny_unknown_fields)]`).
pub trait Section: Serialize + DeserializeOwned + Default {
    /// `catalog` for `[catalog]` and `KAZNA_CATALOG__...`.
    const KEY: &'static str;
}

/// Reads section `T::KEY` of the whole configuration and passes over the others, so a bad
/// value's path is the one to write (`catalog.reservation_ttl_secs`).
struct Only<T>(T);

impl<'de, T: Section> Deserialize<'de> for Only<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: Section> serde::de::Visitor<'de> for Visit<T> {
            type Value = Only<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "a table with a [{}] section", T::KEY)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut found = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == T::KEY {
                        found = Some(map.next_value::<T>()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(Only(found.unwrap_or_default()))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// The layered configuration the service sections are read from.
#[derive(Clone, Default)]
struct Sections(Figment);

impl std::fmt::Debug for Sections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[service sections]")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// For people at a terminal.
    Pretty,
    /// One JSON object a line, for log collectors.
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A tracing filter, e.g. `info,kazna_orders=debug`; one that does not parse stops
    /// start-up.
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// The PostgreSQL server, without a database name.
    pub url: String,
    /// Each service uses the database `<prefix><service>`, created on start if missing.
    pub name_prefix: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    pub url: String,
    /// Prepended to every key, so several shops (or tests) can share one server.
    pub key_prefix: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// `classic` or `quorum` (replicated across a RabbitMQ cluster's nodes). A queue keeps
    /// the type it was made with: change it on a new broker, or after draining and deleting
    /// the queues.
    #[serde(default)]
    pub queue_type: QueueType,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueType {
    #[default]
    Classic,
    Quorum,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Where this service listens.
    pub bind: SocketAddr,
    /// Where other services reach it.
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceMap {
    pub gateway: Endpoint,
    pub users: Endpoint,
    pub catalog: Endpoint,
    pub search: Endpoint,
    pub cart: Endpoint,
    pub orders: Endpoint,
    pub payments: Endpoint,
    pub notifications: Endpoint,
    /// The storefront: the gateway serves every page that is not the API from it.
    pub web: Endpoint,
}

/// The public face of the platform, which several services need: links in emails, the
/// sandbox's webhooks and the documents' server address all use `public_url`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySettings {
    /// Origins allowed by CORS; empty allows none.
    pub cors_origins: Vec<String>,
    /// The public address of the gateway, used in links sent to users.
    pub public_url: String,
}

/// Where traces go. With no endpoint nothing is recorded, and requests pay nothing for it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    /// An OpenTelemetry collector's OTLP/HTTP address (`http://collector:4318`): spans are
    /// posted to its `/v1/traces` as JSON.
    pub otlp_endpoint: Option<String>,
    /// The share of new traces recorded, from 0 to 1 (default 1); a trace begun elsewhere
    /// keeps the caller's choice.
    pub sample_ratio: Option<f64>,
}

impl ServiceMap {
    /// Every service's endpoint with its name, gateway first.
    pub fn all(&self) -> [(&'static str, &Endpoint); 9] {
        [
            ("gateway", &self.gateway),
            ("users", &self.users),
            ("catalog", &self.catalog),
            ("search", &self.search),
            ("cart", &self.cart),
            ("orders", &self.orders),
            ("payments", &self.payments),
            ("notifications", &self.notifications),
            ("web", &self.web),
        ]
    }

    pub fn all_mut(&mut self) -> [(&'static str, &mut Endpoint); 9] {
        [
            ("gateway", &mut self.gateway),
            ("users", &mut self.users),
            ("catalog", &mut self.catalog),
            ("search", &mut self.search),
            ("cart", &mut self.cart),
            ("orders", &mut self.orders),
            ("payments", &mut self.payments),
            ("notifications", &mut self.notifications),
            ("web", &mut self.web),
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
                format: LogFormat::Pretty,
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
                queue_type: QueueType::Classic,
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
                web: endpoint(8088),
            },
            gateway: GatewaySettings {
                cors_origins: vec![],
                public_url: "http://127.0.0.1:8080".into(),
            },
            telemetry: TelemetrySettings::default(),
            sections: Sections::default(),
        }
    }
}

impl Settings {
    /// Loads defaults, then the config file if present, then the environment. Only variables
    /// with a section (`KAZNA_<SECTION>__<KEY>`) are settings, so `KAZNA_CONFIG` and the like
    /// are not mistaken for one.
    pub fn load() -> Result<Self, Error> {
        let file = std::env::var("KAZNA_CONFIG").unwrap_or_else(|_| "kazna.toml".into());
        Self::from_layers(
            Figment::new().merge(Toml::file(file)).merge(
                Env::prefixed("KAZNA_")
                    .filter(|k| k.as_str().contains("__"))
                    .split("__"),
            ),
        )
    }

    /// The settings `configured` gives over the defaults.
    fn from_layers(configured: Figment) -> Result<Self, Error> {
        let figment = Figment::from(Serialized::defaults(Settings::default())).merge(configured);
        let mut settings: Settings = figment.extract().map_err(describe)?;
        tracing_subscriber::EnvFilter::try_new(&settings.log.level).map_err(|e| {
            Error::Config(format!(
                "log.level: {:?} is not a filter: {e}",
                settings.log.level
            ))
        })?;
        // Set empty (as a Compose file does to turn it off), there is no endpoint.
        let t = &mut settings.telemetry;
        t.otlp_endpoint = t.otlp_endpoint.take().filter(|url| !url.trim().is_empty());
        if let Some(ratio) = t.sample_ratio
            && !(0.0..=1.0).contains(&ratio)
        {
            return Err(Error::Config(format!(
                "telemetry.sample_ratio: {ratio} is not between 0 and 1"
            )));
        }
        if let Some(url) = &t.otlp_endpoint
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(Error::Config(format!(
                "telemetry.otlp_endpoint: {url:?} is not an http:// or https:// address"
            )));
        }
        settings.sections = Sections(figment);
        Ok(settings)
    }

    /// A service's section: its defaults, overridden by what is configured. A bad value
    /// fails naming its key (`catalog.reservation_ttl_secs: ...`).
    pub fn section<T: Section>(&self) -> Result<T, Error> {
        Figment::from(Serialized::defaults(T::default()).key(T::KEY))
            .merge(self.sections.0.clone())
            .extract::<Only<T>>()
            .map(|only| only.0)
            .map_err(describe)
    }

    /// Replaces a service's section (for tests, and for settings that follow others).
    pub fn set_section<T: Section>(&mut self, value: &T) {
        let figment = std::mem::take(&mut self.sections.0);
        self.sections = Sections(figment.merge(Serialized::default(T::KEY, value)));
    }

    /// Changes a service's section in place.
    pub fn update<T: Section>(&mut self, change: impl FnOnce(&mut T)) -> Result<(), Error> {
        let mut section = self.section::<T>()?;
        change(&mut section);
        self.set_section(&section);
        Ok(())
    }

    /// Fails on a configured section that is neither shared nor one of `known`: a typo would
    /// otherwise be ignored.
    pub fn check_sections(&self, known: &[&str]) -> Result<(), Error> {
        let all: std::collections::BTreeMap<String, figment::value::Value> =
            self.sections.0.extract().map_err(describe)?;
        let unknown: Vec<&str> = all
            .keys()
            .map(String::as_str)
            .filter(|k| !SHARED.contains(k) && !known.contains(k))
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(Error::Config(format!(
                "unknown settings section {}: the sections are {}, {}",
                unknown.join(", "),
                SHARED.join(", "),
                known.join(", ")
            )))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Shop {
        ttl_secs: u64,
        name: String,
    }

    impl Default for Shop {
        fn default() -> Self {
            Shop {
                ttl_secs: 60,
                name: "kazna".into(),
            }
        }
    }

    impl Section for Shop {
        const KEY: &'static str = "shop";
    }

    fn load(toml: &str) -> Result<Settings, Error> {
        Settings::from_layers(Figment::new().merge(Toml::string(toml)))
    }

    fn message(r: Result<impl std::fmt::Debug, Error>) -> String {
        match r {
            Err(Error::Config(m)) => m,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn a_section_is_its_defaults_with_what_is_configured_over_them() {
        let s = load("[shop]\nttl_secs = 5").unwrap();
        assert_eq!(
            s.section::<Shop>().unwrap(),
            Shop {
                ttl_secs: 5,
                name: "kazna".into()
            }
        );
        assert_eq!(
            load("").unwrap().section::<Shop>().unwrap(),
            Shop::default()
        );
        let mut changed = s.clone();
        changed
            .update::<Shop>(|shop| shop.name = "other".into())
            .unwrap();
        assert_eq!(changed.section::<Shop>().unwrap().name, "other");
        assert_eq!(changed.section::<Shop>().unwrap().ttl_secs, 5);
    }

    #[test]
    fn a_bad_setting_names_its_key() {
        let s = load("[shop]\nttl_secs = \"soon\"").unwrap();
        assert!(message(s.section::<Shop>()).starts_with("shop.ttl_secs: "));
        let s = load("[shop]\nttl = 1").unwrap();
        assert!(
            message(s.section::<Shop>()).contains("ttl"),
            "an unknown key"
        );
        assert!(
            message(load("[database]\nmax_connections = -1"))
                .starts_with("database.max_connections: ")
        );
        assert!(message(load("[log]\nformat = \"xml\"")).starts_with("log.format: "));
        assert!(message(load("[log]\nlevel = \"info,=[\"")).starts_with("log.level: "));
        assert!(
            message(load("[telemetry]\nsample_ratio = 1.5"))
                .starts_with("telemetry.sample_ratio: ")
        );
        assert!(
            message(load("[telemetry]\notlp_endpoint = \"collector:4318\""))
                .starts_with("telemetry.otlp_endpoint: ")
        );
        let off = load("[telemetry]\notlp_endpoint = \"\"").unwrap();
        assert_eq!(off.telemetry.otlp_endpoint, None);
    }

    #[test]
    fn an_unknown_section_stops_start_up() {
        let s = load("[shop]\nttl_secs = 1\n[shpo]\nttl_secs = 1").unwrap();
        assert!(message(s.check_sections(&["shop"])).contains("shpo"));
        assert!(
            load("[shop]\nttl_secs = 1")
                .unwrap()
                .check_sections(&["shop"])
                .is_ok()
        );
    }
}
