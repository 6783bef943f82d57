//! The ceilings: bare axum handlers doing one database operation each, on this machine, in
//! this run. A scenario's ratio to its ceiling says how much the platform costs on top.

use axum::{
    Router,
    extract::{Path, State},
    http::StatusCode,
    routing::get,
};
use kazna_kernel::Settings;
use sqlx::PgPool;

async fn serve(app: Router) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// `GET /pg/{id}`: one primary-key SELECT on the catalog's products table.
pub async fn start_postgres(settings: &Settings) -> anyhow::Result<String> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(settings.database.max_connections)
        .connect(&settings.database_url("catalog"))
        .await?;
    async fn one(
        State(pool): State<PgPool>,
        Path(id): Path<uuid::Uuid>,
    ) -> Result<String, StatusCode> {
        let row: Option<(uuid::Uuid, String)> =
            sqlx::query_as("SELECT id, name FROM products WHERE id = $1")
                .bind(id)
                .fetch_optional(&pool)
                .await
                .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        let (id, name) = row.ok_or(StatusCode::NOT_FOUND)?;
        Ok(format!("{{\"id\":\"{id}\",\"name\":{name:?}}}"))
    }
    serve(Router::new().route("/pg/{id}", get(one)).with_state(pool)).await
}

/// `GET /redis/{id}`: one HSET.
pub async fn start_redis(settings: &Settings) -> anyhow::Result<String> {
    let conn = kazna_kernel::db::redis(settings).await?;
    async fn one(
        State(mut conn): State<redis::aio::ConnectionManager>,
        Path(id): Path<String>,
    ) -> Result<&'static str, StatusCode> {
        redis::cmd("HSET")
            .arg(format!("kbench:ceiling:{id}"))
            .arg("quantity")
            .arg(1)
            .query_async::<i64>(&mut conn)
            .await
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        Ok("{}")
    }
    serve(
        Router::new()
            .route("/redis/{id}", get(one))
            .with_state(conn),
    )
    .await
}

/// A TPC-B-like ceiling: `pgbench`'s built-in transaction (three updates, a select and an
/// insert) on a scratch database of this run, with the scenarios' connections and duration.
/// Returns transactions per second.
pub async fn pgbench(
    settings: &Settings,
    connections: u32,
    threads: u32,
    secs: u64,
) -> anyhow::Result<f64> {
    let url = settings.database_url("pgbench");
    let admin = PgPool::connect(&format!("{}/postgres", settings.database.url)).await?;
    let db = format!("{}pgbench", settings.database.name_prefix);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{db}\""
    )))
    .execute(&admin)
    .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{db}\"")))
        .execute(&admin)
        .await?;
    let init = tokio::process::Command::new("pgbench")
        .args(["-i", "-q", "-s", "4", &url])
        .output()
        .await?;
    anyhow::ensure!(
        init.status.success(),
        "pgbench -i: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let run = tokio::process::Command::new("pgbench")
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &connections.to_string(),
            "-j",
            &threads.to_string(),
        ])
        .args(["-T", &secs.to_string(), &url])
        .output()
        .await?;
    anyhow::ensure!(
        run.status.success(),
        "pgbench: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = String::from_utf8_lossy(&run.stdout);
    out.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no tps in pgbench's output: {out}"))
}
