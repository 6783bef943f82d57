//! Test databases cloned from a migrated template per service: the migrations run once per
//! schema version, and every test's database is a copy (`CREATE DATABASE … TEMPLATE …`).
//!
//! A template is named after a hash of its migrations and the bus's tables, so a changed
//! migration makes a new one. It is built under another name and renamed when complete, and
//! the building is serialised by an advisory lock, so tests running at once (in one process
//! or several) never clone a half-made template.

use std::str::FromStr;

use kazna::Database;
use kazna_kernel::Settings;
use sha2::{Digest, Sha256};
use sqlx::{
    Connection, Executor,
    postgres::{PgConnectOptions, PgConnection},
};

/// Every test database name starts with this; templates are `kt_tpl_...`.
pub const PREFIX: &str = "kt_";

fn template_name(db: &Database) -> String {
    let mut h = Sha256::new();
    for m in db.migrator.iter() {
        h.update(m.version.to_le_bytes());
        h.update(&m.checksum);
    }
    h.update(kazna_events::SCHEMA.as_bytes());
    let hash = hex::encode(&h.finalize()[..8]);
    format!("{PREFIX}tpl_{}_{hash}", db.name)
}

async fn server(settings: &Settings, database: &str) -> Result<PgConnection, sqlx::Error> {
    let opts = PgConnectOptions::from_str(&settings.database.url)?.database(database);
    PgConnection::connect_with(&opts).await
}

async fn exists(conn: &mut PgConnection, name: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

/// Makes sure `db`'s template exists, building it if needed; returns its name.
async fn template(settings: &Settings, db: &Database) -> Result<String, sqlx::Error> {
    let name = template_name(db);
    let mut conn = server(settings, "postgres").await?;
    if exists(&mut conn, &name).await? {
        return Ok(name);
    }
    sqlx::query("SELECT pg_advisory_lock(hashtext('kazna.testkit.templates'))")
        .execute(&mut conn)
        .await?;
    let built = build(settings, db, &name, &mut conn).await;
    sqlx::query("SELECT pg_advisory_unlock(hashtext('kazna.testkit.templates'))")
        .execute(&mut conn)
        .await?;
    built?;
    Ok(name)
}

async fn build(
    settings: &Settings,
    db: &Database,
    name: &str,
    conn: &mut PgConnection,
) -> Result<(), sqlx::Error> {
    if exists(conn, name).await? {
        return Ok(());
    }
    let building = format!("{name}_new");
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
    )))
    .await?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE \"{building}\""
    )))
    .await?;
    let mut fresh = server(settings, &building).await?;
    db.migrator
        .run(&mut fresh)
        .await
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    sqlx::raw_sql(kazna_events::SCHEMA)
        .execute(&mut fresh)
        .await?;
    fresh.close().await?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
    )))
    .await?;
    Ok(())
}

/// Creates the databases of `services` for a test (`<prefix><service>`) as copies of their
/// templates; a service without a database of its own is passed over.
pub async fn clone_for(settings: &Settings, services: &[&str]) -> Result<(), sqlx::Error> {
    for db in kazna::DATABASES
        .iter()
        .filter(|d| services.contains(&d.name))
    {
        let template = template(settings, db).await?;
        let target = format!("{}{}", settings.database.name_prefix, db.name);
        let mut conn = server(settings, "postgres").await?;
        conn.execute(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE \"{target}\" TEMPLATE \"{template}\""
        )))
        .await?;
        conn.close().await?;
    }
    Ok(())
}
