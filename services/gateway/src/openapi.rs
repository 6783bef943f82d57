//! The public API document: every service's OpenAPI merged, without internal paths.

use axum::{extract::State, http::header, response::IntoResponse};
use serde_json::{Map, Value, json};

use crate::AppState;

pub async fn merged(State(s): State<AppState>) -> impl IntoResponse {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut tags = Vec::new();
    let services = &s.ctx.settings.services;
    for (name, url) in [
        ("users", &services.users.url),
        ("catalog", &services.catalog.url),
        ("search", &services.search.url),
        ("cart", &services.cart.url),
        ("orders", &services.orders.url),
        ("payments", &services.payments.url),
        ("notifications", &services.notifications.url),
    ] {
        let doc: Value = match s.ctx.client.get(&format!("{url}/openapi.json")).await {
            Ok(doc) => doc,
            Err(e) => {
                tracing::warn!(service = name, error = %e, "no OpenAPI document from service");
                continue;
            }
        };
        if let Some(p) = doc.get("paths").and_then(Value::as_object) {
            for (path, item) in p {
                if !path.starts_with("/internal/") {
                    paths.insert(path.clone(), item.clone());
                }
            }
        }
        if let Some(c) = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            schemas.extend(c.clone());
        }
        tags.push(json!({"name": name}));
    }
    let doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "Kazna API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "The public HTTP API of Kazna, through the gateway."},
        "servers": [{"url": s.ctx.settings.gateway.public_url}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [],
        "paths": paths,
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.to_string(),
    )
}
