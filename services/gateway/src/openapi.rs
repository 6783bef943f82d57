//! The public API document: every service's OpenAPI merged, without internal paths, with the
//! answers the gateway itself can give (502, 504) on every operation.

use axum::{extract::State, http::header, response::IntoResponse};
use kazna_kernel::openapi::{PROBLEM_JSON, bearer_scheme};
use serde_json::{Map, Value, json};

use crate::AppState;

/// The services whose public paths the gateway routes, in the document's order.
const SERVICES: [&str; 7] = [
    "users",
    "catalog",
    "search",
    "cart",
    "orders",
    "payments",
    "notifications",
];

pub async fn merged(State(s): State<AppState>) -> impl IntoResponse {
    let urls = &s.ctx.settings.services;
    let mut docs = Vec::new();
    for (name, ep) in urls.all() {
        if !SERVICES.contains(&name) {
            continue;
        }
        match s
            .ctx
            .client
            .get::<Value>(&format!("{}/openapi.json", ep.url))
            .await
        {
            Ok(doc) => docs.push((name, doc)),
            Err(e) => {
                tracing::warn!(service = name, error = %e, "no OpenAPI document from service")
            }
        }
    }
    let (doc, conflicts) = merge(&docs, &s.ctx.settings.gateway.public_url);
    for name in conflicts {
        tracing::error!(schema = %name, "two services describe different schemas under one name");
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.to_string(),
    )
}

/// Merges the services' documents. Returns the document and the names of schemas that two
/// services define differently (the second one is dropped; there should be none).
pub fn merge(docs: &[(&str, Value)], public_url: &str) -> (Value, Vec<String>) {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut conflicts = Vec::new();
    let mut tags = Vec::new();
    for (name, doc) in docs {
        if let Some(p) = doc.get("paths").and_then(Value::as_object) {
            for (path, item) in p {
                if !path.starts_with("/internal/") {
                    let mut item = item.clone();
                    gateway_answers(&mut item);
                    paths.insert(path.clone(), item);
                }
            }
        }
        if let Some(c) = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            for (schema, body) in c {
                match schemas.get(schema) {
                    Some(known) if known != body => conflicts.push(schema.clone()),
                    Some(_) => {}
                    None => {
                        schemas.insert(schema.clone(), body.clone());
                    }
                }
            }
        }
        tags.push(json!({"name": name}));
    }
    let doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "Kazna API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "The public HTTP API of Kazna, through the gateway."},
        "servers": [{"url": public_url}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": bearer_scheme()},
        },
        "security": [],
        "paths": paths,
    });
    (doc, conflicts)
}

/// The gateway answers 502 when the service behind a path does not answer, and 504 when it
/// takes too long.
fn gateway_answers(item: &mut Value) {
    let Some(item) = item.as_object_mut() else {
        return;
    };
    for op in item.values_mut() {
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            continue;
        };
        for (status, why) in [
            (
                "502",
                "bad_gateway: the service behind this path did not answer",
            ),
            (
                "504",
                "gateway_timeout: the service behind this path took too long",
            ),
        ] {
            responses.entry(status).or_insert_with(|| {
                json!({"description": why, "content": {PROBLEM_JSON: {
                    "schema": {"$ref": "#/components/schemas/Problem"}}}})
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_paths_stay_out_and_differing_schemas_are_reported() {
        let users = json!({
            "paths": {"/api/v1/users/me": {"get": {"responses": {"200": {"description": "me"}}}},
                      "/internal/x": {"get": {"responses": {}}}},
            "components": {"schemas": {"Money": {"type": "object"}, "Status": {"enum": ["a"]}}},
        });
        let orders = json!({
            "paths": {"/api/v1/orders": {"get": {"responses": {"200": {"description": "list"}}}}},
            "components": {"schemas": {"Money": {"type": "object"}, "Status": {"enum": ["b"]}}},
        });
        let (doc, conflicts) = merge(&[("users", users), ("orders", orders)], "http://shop");
        assert_eq!(conflicts, ["Status"]);
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.contains_key("/api/v1/orders") && !paths.contains_key("/internal/x"));
        let me = &doc["paths"]["/api/v1/users/me"]["get"]["responses"];
        assert!(me["502"]["content"][PROBLEM_JSON].is_object());
        assert!(me["504"].is_object());
    }
}
