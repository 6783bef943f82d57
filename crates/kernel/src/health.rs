//! `/health/live` answers while the process runs; `/health/ready` checks each dependency.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde_json::{Map, Value, json};

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// One named readiness check.
#[derive(Clone)]
pub struct Check {
    name: &'static str,
    run: Arc<dyn Fn() -> CheckFuture + Send + Sync>,
}

impl Check {
    pub fn new<F, Fut>(name: &'static str, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Self {
            name,
            run: Arc::new(move || Box::pin(f())),
        }
    }

    pub fn postgres(pool: sqlx::PgPool) -> Self {
        Self::new("postgres", move || {
            let pool = pool.clone();
            async move {
                sqlx::query("SELECT 1")
                    .execute(&pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
    }

    pub fn redis(conn: redis::aio::ConnectionManager) -> Self {
        Self::new("redis", move || {
            let mut conn = conn.clone();
            async move {
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
    }
}

pub fn router(checks: Vec<Check>) -> Router {
    Router::new()
        .route(
            "/health/live",
            get(|| async { Json(json!({"status": "ok"})) }),
        )
        .route("/health/ready", get(ready))
        .with_state(Arc::new(checks))
}

async fn ready(State(checks): State<Arc<Vec<Check>>>) -> (StatusCode, Json<Value>) {
    let mut results = Map::new();
    let mut all_ok = true;
    for check in checks.iter() {
        let outcome = tokio::time::timeout(Duration::from_secs(2), (check.run)()).await;
        let value = match outcome {
            Ok(Ok(())) => json!("ok"),
            Ok(Err(e)) => {
                all_ok = false;
                tracing::warn!(check = check.name, error = %e, "readiness check failed");
                json!("failing")
            }
            Err(_) => {
                all_ok = false;
                json!("timeout")
            }
        };
        results.insert(check.name.to_owned(), value);
    }
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({"status": if all_ok { "ok" } else { "unavailable" }, "checks": results});
    (status, Json(body))
}
