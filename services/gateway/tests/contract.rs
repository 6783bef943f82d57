//! What every caller can rely on: problem documents, health, metrics, OpenAPI, docs,
//! request ids, CORS, and internal endpoints kept internal.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use reqwest::{Method, StatusCode};
use serde_json::json;

use kazna_testkit::TestApp;

#[tokio::test]
async fn bad_input_and_unknown_routes_get_problem_documents() {
    let app = TestApp::spawn().await;
    let raw = |body: &'static str| {
        app.http
            .post(format!("{}/api/v1/auth/register", app.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let malformed = raw("{\"email\":").await.expect("sent");
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        malformed.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = malformed.json().await.expect("json");
    assert_eq!(body["code"], "malformed_json");

    let wrong_type = raw("{\"email\": 5, \"password\": \"x\", \"name\": \"y\"}")
        .await
        .expect("sent");
    assert_eq!(wrong_type.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = wrong_type.json().await.expect("json");
    assert_eq!(body["code"], "invalid_body");

    let invalid = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"email": "nope", "password": "short", "name": ""})),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = invalid.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["email", "password", "name"]);

    for path in [
        "/api/v1/nothing-here",
        "/internal/variants?ids=",
        "/api/v1/orders/../../internal/carts",
    ] {
        let a = app.call(Method::GET, path, None, None).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(a.body["code"], "not_found", "{path}");
    }
    let bad_id = app
        .call(Method::GET, "/api/v1/products/not-a-uuid", None, None)
        .await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_id.headers["content-type"], "application/problem+json");

    let no_token = app.call(Method::GET, "/api/v1/users/me", None, None).await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
    let forged = app
        .call(Method::GET, "/api/v1/users/me", Some("e30.e30.e30"), None)
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);

    let no_key = app
        .call(
            Method::POST,
            "/api/v1/orders",
            Some(&app.login_new_buyer().await),
            Some(json!({})),
        )
        .await;
    assert_eq!(no_key.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_key.body["code"], "idempotency_key_required");

    app.stop().await;
}

#[tokio::test]
async fn internal_endpoints_answer_only_to_services() {
    let app = TestApp::spawn().await;
    let catalog = &app.settings.services.catalog.url;
    let path = format!("{catalog}/internal/variants?ids=");
    let anonymous = app.call(Method::GET, &path, None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let wrong = app
        .call_with(
            Method::GET,
            &path,
            None,
            None,
            &[("x-kazna-internal", "guess")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let token = app.settings.auth.internal_token.expose().to_owned();
    let right = app
        .call_with(
            Method::GET,
            &path,
            None,
            None,
            &[("x-kazna-internal", &token)],
        )
        .await;
    assert_eq!(right.status, StatusCode::OK);
    // Even with the credential, the gateway does not route internal paths.
    let through_gateway = app
        .call_with(
            Method::GET,
            "/internal/variants?ids=",
            None,
            None,
            &[("x-kazna-internal", &token)],
        )
        .await;
    assert_eq!(through_gateway.status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn every_service_serves_health_metrics_and_openapi() {
    let app = TestApp::spawn().await;
    let s = &app.settings.services;
    for (_, ep) in app.settings.services.all() {
        let url = &ep.url;
        let live = app
            .call(Method::GET, &format!("{url}/health/live"), None, None)
            .await;
        assert_eq!(live.status, StatusCode::OK, "{url}");
        let ready = app
            .call(Method::GET, &format!("{url}/health/ready"), None, None)
            .await;
        assert_eq!(ready.status, StatusCode::OK, "{url}: {}", ready.body);
        assert_eq!(ready.body["status"], "ok");
        let spec = app
            .call(Method::GET, &format!("{url}/openapi.json"), None, None)
            .await;
        assert_eq!(spec.status, StatusCode::OK, "{url}");
        assert!(spec.body["paths"].is_object(), "{url}");
    }
    // A request so that the counters have something to count.
    app.call(Method::GET, "/api/v1/products", None, None).await;
    let metrics = app
        .http
        .get(format!("{}/metrics", s.catalog.url))
        .send()
        .await
        .expect("metrics");
    let text = metrics.text().await.expect("text");
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains("service=\"catalog\""));

    let merged = app.call(Method::GET, "/openapi.json", None, None).await;
    let paths = merged.body["paths"].as_object().expect("paths");
    for p in [
        "/api/v1/auth/register",
        "/api/v1/products",
        "/api/v1/search",
        "/api/v1/cart/items",
        "/api/v1/orders",
        "/api/v1/payments/{id}",
        "/api/v1/notifications",
    ] {
        assert!(paths.contains_key(p), "merged spec has {p}");
    }
    assert!(
        !paths.keys().any(|p| p.starts_with("/internal")),
        "no internal paths in the public spec"
    );

    let docs = app
        .http
        .get(format!("{}/docs/", app.base))
        .send()
        .await
        .expect("docs");
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.expect("html").contains("swagger-ui"));
    let asset = app
        .http
        .get(format!("{}/docs/swagger-ui-bundle.js", app.base))
        .send()
        .await
        .expect("asset");
    assert_eq!(
        asset.status(),
        StatusCode::OK,
        "Swagger UI assets are built in"
    );
    app.stop().await;
}

#[tokio::test]
async fn request_ids_pass_through_and_cors_admits_configured_origins() {
    let app =
        TestApp::spawn_with(|s| s.gateway.cors_origins = vec!["https://shop.example.com".into()])
            .await;
    let a = app
        .call_with(
            Method::GET,
            "/api/v1/users/me",
            None,
            None,
            &[("x-request-id", "trace-abc-123")],
        )
        .await;
    assert_eq!(a.headers["x-request-id"], "trace-abc-123");
    assert_eq!(
        a.body["request_id"], "trace-abc-123",
        "the upstream saw the same id"
    );
    let fresh = app.call(Method::GET, "/api/v1/products", None, None).await;
    assert!(
        fresh.headers.contains_key("x-request-id"),
        "an id is made when none is sent"
    );

    let allowed = app
        .call_with(
            Method::GET,
            "/api/v1/products",
            None,
            None,
            &[("origin", "https://shop.example.com")],
        )
        .await;
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "https://shop.example.com"
    );
    let other = app
        .call_with(
            Method::GET,
            "/api/v1/products",
            None,
            None,
            &[("origin", "https://evil.example.com")],
        )
        .await;
    assert!(!other.headers.contains_key("access-control-allow-origin"));
    app.stop().await;
}

/// The merged document is what schemathesis checks the platform against: no two services may
/// describe different schemas under one name, and every error answer is a problem document.
#[tokio::test]
async fn the_services_documents_merge_without_conflicts_and_errors_are_problems() {
    let app = TestApp::spawn().await;
    let mut docs = Vec::new();
    for (name, ep) in app.settings.services.all() {
        if name == "gateway" {
            continue;
        }
        let doc = app
            .call(Method::GET, &format!("{}/openapi.json", ep.url), None, None)
            .await;
        docs.push((name, doc.body));
    }
    let (merged, conflicts) = kazna_gateway::openapi::merge(&docs, &app.base);
    assert_eq!(
        conflicts,
        Vec::<String>::new(),
        "schemas named alike differ"
    );
    let mut errors = 0;
    for (path, item) in merged["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            for (status, answer) in op["responses"].as_object().expect("responses") {
                if status.starts_with('4') || status.starts_with('5') {
                    errors += 1;
                    let types: Vec<&String> = answer["content"]
                        .as_object()
                        .map(|c| c.keys().collect())
                        .unwrap_or_default();
                    assert_eq!(
                        types,
                        ["application/problem+json"],
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
    assert!(errors > 100, "the common answers are listed ({errors})");
    let served = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(served.body["paths"], merged["paths"]);
    app.stop().await;
}

/// What the alert rules and the dashboard read (deploy/prometheus, deploy/grafana) is on
/// `/metrics` once the shop has done something: outbox backlog and age per database, events
/// handled and waiting per queue, reservations held, payments by state.
#[tokio::test]
async fn the_metrics_the_alerts_read_are_exported() {
    let app = TestApp::spawn().await;
    let (buyer, _) = app.a_buyer_with_in_cart("Lamp", 1_000, 5, 1).await;
    let order = app.place_order(&buyer, "metrics-1", "pm_card_visa").await;
    app.order_when(&buyer, order.id, 20, |o| o.status.as_str() == "paid")
        .await;
    let s = &app.settings;
    let catalog_db = format!("database=\"{}catalog\"", s.database.name_prefix);
    let orders_queue = format!("queue=\"{}.orders\"", s.amqp.queue_prefix);
    let wanted = [
        vec!["kazna_outbox_backlog{", catalog_db.as_str()],
        vec!["kazna_outbox_oldest_seconds{", catalog_db.as_str()],
        vec![
            "kazna_events_consumed_total{",
            orders_queue.as_str(),
            "outcome=\"handled\"",
        ],
        vec!["kazna_events_queue_messages{", orders_queue.as_str()],
        vec!["kazna_events_dead_letters{", orders_queue.as_str()],
        vec!["kazna_reservations_held_orders"],
        vec!["kazna_reservations_held_units"],
        vec!["kazna_payments{", "state=\"succeeded\""],
    ];
    let url = format!("{}/metrics", app.base);
    let missing = kazna_testkit::eventually(20, || async {
        let text = app.http.get(&url).send().await.ok()?.text().await.ok()?;
        let missing: Vec<String> = wanted
            .iter()
            .filter(|parts| !text.lines().any(|l| parts.iter().all(|p| l.contains(p))))
            .map(|parts| parts.join(" "))
            .collect();
        missing.is_empty().then_some(())
    })
    .await;
    if missing.is_none() {
        let text = app
            .http
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let ours: Vec<&str> = text.lines().filter(|l| l.starts_with("kazna_")).collect();
        panic!("metrics missing; exported: {ours:#?}");
    }
    app.stop().await;
}
