//! PostgreSQL: each service's database is created when missing, then a pool is opened.

use std::{str::FromStr, time::Duration};

use sqlx::{
    ConnectOptions, Connection, PgPool,
    postgres::{PgConnectOptions, PgConnection, PgPoolOptions},
};

use crate::{Error, config::Settings};

/// Opens a pool on `<prefix><service>`, creating that database first if it does not exist.
pub async fn connect(settings: &Settings, service: &str) -> Result<PgPool, Error> {
    let name = format!("{}{}", settings.database.name_prefix, service);
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(Error::Config(format!(
            "database.name_prefix: database name {name:?} may only hold letters, digits and _"
        )));
    }
    let server = PgConnectOptions::from_str(&settings.database.url)
        .map_err(|e| Error::Config(format!("database.url: {e}")))?;
    ensure_database(&server, &name).await?;
    let opts = server
        .database(&name)
        .log_statements(tracing::log::LevelFilter::Trace);
    PgPoolOptions::new()
        .max_connections(settings.database.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(opts)
        .await
        .map_err(Error::Database)
}

async fn ensure_database(server: &PgConnectOptions, name: &str) -> Result<(), Error> {
    let mut conn = PgConnection::connect_with(&server.clone().database("postgres")).await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut conn)
        .await?;
    if exists.is_none() {
        let created = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await;
        match created {
            Ok(_) => tracing::info!(database = name, "created database"),
            // Another instance created it at the same moment.
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("42P04") | Some("23505")) => {}
            Err(e) => return Err(e.into()),
        }
    }
    conn.close().await?;
    Ok(())
}

/// Drops a database (test clean-up).
pub async fn drop_database(settings: &Settings, name: &str) -> Result<(), Error> {
    let server = PgConnectOptions::from_str(&settings.database.url)
        .map_err(|e| Error::Config(format!("database.url: {e}")))?;
    let mut conn = PgConnection::connect_with(&server.database("postgres")).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// Opens a Redis connection manager, which reconnects by itself. While Redis is away a
/// command fails within a few hundred milliseconds (two quick reconnection attempts), so
/// callers that can do without Redis, like catalog reads, go on without waiting seconds.
pub async fn redis(settings: &Settings) -> Result<redis::aio::ConnectionManager, Error> {
    let client = redis::Client::open(settings.redis.url.as_str())
        .map_err(|e| Error::Config(format!("redis.url: {e}")))?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_number_of_retries(2)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(200))
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_response_timeout(Some(Duration::from_secs(1)));
    Ok(redis::aio::ConnectionManager::new_with_config(client, config).await?)
}

/// Moves readers of versioned cache entries to new keys by bumping each version key. It runs
/// after a change has committed, so it never fails the change: a failure is tried once more,
/// then logged. While Redis is away nothing is read from it either; only a Redis that comes
/// back holding old entries could serve them, until they expire.
pub async fn bump_versions(redis: &redis::aio::ConnectionManager, version_keys: &[String]) {
    let mut pipe = redis::pipe();
    for key in version_keys {
        pipe.incr(key, 1).ignore();
    }
    let mut conn = redis.clone();
    let mut outcome: Result<(), redis::RedisError> = pipe.query_async(&mut conn).await;
    if outcome.is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
        outcome = pipe.query_async(&mut conn).await;
    }
    if let Err(e) = outcome {
        tracing::error!(error = %e, keys = version_keys.len(), "could not bump cache versions");
    }
}

/// A transaction whose commit does not wait for the write-ahead log to reach the disk
/// (`synchronous_commit = off` for it alone, set with the `BEGIN`, so it costs no extra round
/// trip). For bookkeeping that is safe to lose in a crash because it is redone (the relay's
/// deletes of events it published): never for an effect, an event, or anything acknowledged
/// to a client or a broker.
pub async fn relaxed(
    pool: &sqlx::PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    pool.begin_with("BEGIN; SET LOCAL synchronous_commit = off")
        .await
}
