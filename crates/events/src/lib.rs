//! The event bus: a transactional outbox and its relay on the producing side; consumers
//! with manual acks, an inbox of processed ids, retries with growing delays and a
//! dead-letter queue on the consuming side. See ARCHITECTURE.md, "Events".

pub mod broker;
pub mod consumer;
pub mod inbox;
pub mod outbox;

pub use broker::Broker;
pub use consumer::{Consumer, Handler, HandlerError};
pub use kazna_contracts::{Envelope, Event};
pub use outbox::{Relay, enqueue};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker refused message {0}")]
    Nacked(uuid::Uuid),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a handler task failed: {0}")]
    Task(String),
}

/// Opens a service's database (creating it when missing), applies its migrations and the
/// tables the bus needs.
pub async fn database(
    settings: &kazna_kernel::Settings,
    service: &str,
    migrations: &sqlx::migrate::Migrator,
) -> Result<sqlx::PgPool, kazna_kernel::Error> {
    let pool = kazna_kernel::db::connect(settings, service).await?;
    migrations.run(&pool).await?;
    install(&pool)
        .await
        .map_err(|e| kazna_kernel::Error::Other(e.to_string()))?;
    Ok(pool)
}

/// The tables of the bus: the outbox and the inbox of processed events.
pub const SCHEMA: &str = include_str!("schema.sql");

/// The tables the bus needs in each service database that produces or consumes events.
pub async fn install(pool: &sqlx::PgPool) -> Result<(), Error> {
    sqlx::raw_sql(SCHEMA).execute(pool).await?;
    Ok(())
}
