//! What every operation can answer besides what its handler lists, added to each service's
//! OpenAPI document in one place, so the document says what the service really does:
//!
//! - every error answer is a problem document, `application/problem+json`;
//! - an operation with path or query parameters can answer 400 (`invalid_parameter`: one does
//!   not parse) and 422 (one holds a NUL character);
//! - one with a JSON body can answer 400 (`malformed_json`), 413, 415 and 422 (`invalid_body`,
//!   `validation_failed`);
//! - one that takes a bearer token can answer 401 (missing, invalid or expired).
//!
//! Handlers list the answers particular to them (403, 404, 409, 429, 503, their own 422).

use serde_json::{Map, Value, json};
use utoipa::{PartialSchema, ToSchema};

use crate::problem::Problem;

pub const PROBLEM_JSON: &str = "application/problem+json";
const PROBLEM_REF: &str = "#/components/schemas/Problem";

/// The security scheme of access tokens, under the name operations use: `security(("bearer" = []))`.
pub fn bearer_scheme() -> Value {
    json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
}

/// Completes `doc` (an OpenAPI document as JSON) as the module documentation says.
pub fn complete(mut doc: Value) -> Value {
    let mut uses_bearer = false;
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            let shared_params = item.get("parameters").cloned();
            for (method, op) in item.iter_mut() {
                if !is_method(method) {
                    continue;
                }
                uses_bearer |= complete_operation(op, shared_params.as_ref());
            }
        }
    }
    let components = doc
        .as_object_mut()
        .map(|d| d.entry("components").or_insert_with(|| json!({})));
    if let Some(Value::Object(components)) = components {
        let schemas = components
            .entry("schemas")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(schemas) = schemas {
            for (name, schema) in problem_schemas() {
                schemas.entry(name).or_insert(schema);
            }
        }
        if uses_bearer {
            let schemes = components
                .entry("securitySchemes")
                .or_insert_with(|| json!({}));
            if let Some(schemes) = schemes.as_object_mut() {
                schemes.entry("bearer").or_insert_with(bearer_scheme);
            }
        }
    }
    doc
}

fn is_method(key: &str) -> bool {
    matches!(
        key,
        "get" | "put" | "post" | "delete" | "patch" | "head" | "options" | "trace"
    )
}

/// Returns whether the operation takes a bearer token.
fn complete_operation(op: &mut Value, shared_params: Option<&Value>) -> bool {
    let params = |v: Option<&Value>| {
        v.and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .any(|p| matches!(p["in"].as_str(), Some("path" | "query")))
            })
            .unwrap_or(false)
    };
    let has_params = params(op.get("parameters")) || params(shared_params);
    let has_json_body = op
        .pointer("/requestBody/content/application~1json")
        .is_some();
    let bearer = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|reqs| reqs.iter().any(|r| r.get("bearer").is_some()));
    let Some(op) = op.as_object_mut() else {
        return false;
    };
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(responses) = responses else {
        return bearer;
    };
    let mut add = |status: &str, why: &str| {
        let r = responses
            .entry(status.to_owned())
            .or_insert_with(|| json!({"description": why}));
        if r.get("description").is_none_or(|d| d == "") {
            r["description"] = json!(why);
        }
    };
    if has_params || has_json_body {
        add("400", "A parameter or the body does not parse");
        add("422", "A field or parameter is not valid");
    }
    if has_json_body {
        add("413", "The body is too large");
        add("415", "The body is not JSON");
    }
    if bearer {
        add("401", "The access token is missing, invalid or expired");
    }
    for (status, response) in responses.iter_mut() {
        if status.starts_with('4') || status.starts_with('5') {
            as_problem(response);
        }
    }
    bearer
}

/// An error answer's body is a problem document, whatever the handler said of its type.
fn as_problem(response: &mut Value) {
    let Some(r) = response.as_object_mut() else {
        return;
    };
    let schema = r
        .get("content")
        .and_then(Value::as_object)
        .and_then(|c| c.values().find_map(|m| m.get("schema").cloned()))
        .unwrap_or_else(|| json!({"$ref": PROBLEM_REF}));
    let mut content = Map::new();
    content.insert(PROBLEM_JSON.to_owned(), json!({"schema": schema}));
    r.insert("content".to_owned(), Value::Object(content));
}

/// `Problem` and the schemas it refers to, as components.
fn problem_schemas() -> Vec<(String, Value)> {
    let mut all = Vec::new();
    <Problem as ToSchema>::schemas(&mut all);
    all.push((
        <Problem as ToSchema>::name().into_owned(),
        <Problem as PartialSchema>::schema(),
    ));
    all.into_iter()
        .filter_map(|(name, schema)| Some((name, serde_json::to_value(schema).ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_problems_and_the_common_answers_are_listed() {
        let doc = json!({"paths": {
            "/things/{id}": {
                "parameters": [{"name": "id", "in": "path"}],
                "get": {"responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": {}}}},
                    "404": {"description": "", "content": {"application/json": {"schema": {"$ref": PROBLEM_REF}}}},
                }},
            },
            "/things": {"post": {
                "security": [{"bearer": []}],
                "requestBody": {"content": {"application/json": {"schema": {}}}},
                "responses": {"201": {"description": "made"}},
            }},
            "/ping": {"get": {"responses": {"200": {"description": "pong"}}}},
        }});
        let doc = complete(doc);
        let get = &doc["paths"]["/things/{id}"]["get"]["responses"];
        let mut codes: Vec<&String> = get.as_object().unwrap().keys().collect();
        codes.sort();
        assert_eq!(codes, ["200", "400", "404", "422"]);
        assert!(get["404"]["content"][PROBLEM_JSON]["schema"].is_object());
        assert!(get["404"]["content"].get("application/json").is_none());
        assert!(get["200"]["content"].get("application/json").is_some());
        let post = &doc["paths"]["/things"]["post"]["responses"];
        for code in ["400", "401", "413", "415", "422"] {
            assert_eq!(
                post[code]["content"][PROBLEM_JSON]["schema"]["$ref"], PROBLEM_REF,
                "{code}"
            );
        }
        let ping = doc["paths"]["/ping"]["get"]["responses"]
            .as_object()
            .unwrap();
        assert_eq!(ping.len(), 1, "nothing to reject, nothing added");
        assert!(doc["components"]["schemas"]["Problem"].is_object());
        assert!(doc["components"]["schemas"]["Code"].is_object());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
}
