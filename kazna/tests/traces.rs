//! Traces: with `telemetry.otlp_endpoint` set, a checkout through the gateway is one trace,
//! carried over HTTP between the services and through the events between them, received
//! here on a local OTLP endpoint. A binary of its own, since the exporter is the process's.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};

use kazna_kernel::config::TelemetrySettings;
use kazna_orders::status::OrderStatus;
use kazna_testkit::{MockServer, Reply, TestApp, eventually};
use serde_json::json;

/// One span as the collector received it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    kind: u64,
    trace: String,
    id: String,
    parent: Option<String>,
    status: u64,
}

/// Every span posted to `collector` so far.
fn received(collector: &MockServer) -> Vec<Received> {
    let mut out = Vec::new();
    for request in collector.requests_to("POST", "/v1/traces") {
        assert_eq!(request.header("content-type"), Some("application/json"));
        let body = request.json();
        for resource in body["resourceSpans"].as_array().expect("resourceSpans") {
            let service = resource["resource"]["attributes"]
                .as_array()
                .expect("resource attributes")
                .iter()
                .find(|a| a["key"] == "service.name")
                .and_then(|a| a["value"]["stringValue"].as_str())
                .expect("a service.name")
                .to_owned();
            for scope in resource["scopeSpans"].as_array().expect("scopeSpans") {
                for span in scope["spans"].as_array().expect("spans") {
                    let text = |key: &str| span[key].as_str().map(str::to_owned);
                    assert!(
                        text("startTimeUnixNano").unwrap().parse::<u128>().unwrap()
                            <= text("endTimeUnixNano").unwrap().parse::<u128>().unwrap(),
                        "{span}"
                    );
                    out.push(Received {
                        service: service.clone(),
                        name: text("name").expect("a name"),
                        kind: span["kind"].as_u64().expect("a kind"),
                        trace: text("traceId").expect("a trace id"),
                        id: text("spanId").expect("a span id"),
                        parent: text("parentSpanId"),
                        status: span["status"]["code"].as_u64().unwrap_or(0),
                    });
                }
            }
        }
    }
    out
}

/// The span of sending the email that tells of the paid order.
fn paid_email(trace: &[Received]) -> Option<&Received> {
    trace.iter().find(|s| {
        s.service == "notifications"
            && s.name == "email send"
            && trace
                .iter()
                .any(|p| Some(&p.id) == s.parent.as_ref() && p.name == "order.paid process")
    })
}

#[tokio::test]
async fn a_checkout_is_one_trace_from_the_gateway_through_every_service_it_touches() {
    let collector = MockServer::start().await;
    collector.on("POST", "/v1/traces", vec![Reply::json(200, json!({}))]);
    // Before the platform starts: the first set-up in a process is the one that holds.
    let telemetry = TelemetrySettings {
        otlp_endpoint: Some(collector.url.clone()),
        sample_ratio: None,
    };
    kazna_kernel::telemetry::init(&kazna_kernel::Settings::default().log, &telemetry);
    // Every service on its own, so the context crosses real HTTP between them; then all in
    // one process (`kazna up`), where calls go through the routers.
    let first = checkout_traced(TestApp::spawn_separately().await, &collector, None).await;
    checkout_traced(TestApp::spawn().await, &collector, Some(&first)).await;
}

/// Checks out one order on `app` and checks its trace (not `earlier`); returns its id.
async fn checkout_traced(app: TestApp, collector: &MockServer, earlier: Option<&str>) -> String {
    let (buyer, _) = app.a_buyer_with_in_cart("Traced lamp", 2500, 3, 1).await;
    let order = app.place_order(&buyer, "traced-1", "pm_card_visa").await;
    app.order_when(&buyer, order.id, 20, |o| o.status == OrderStatus::Paid)
        .await;

    // The checkout's trace is the one the gateway began for the order's request; it is
    // complete once the paid order's email has been sent.
    let trace = eventually(20, || async {
        let spans = received(collector);
        let root = spans.iter().find(|s| {
            s.service == "gateway"
                && s.kind == 2
                && s.name == "POST /api/v1/orders"
                && Some(s.trace.as_str()) != earlier
        })?;
        let trace: Vec<Received> = spans
            .iter()
            .filter(|s| s.trace == root.trace)
            .cloned()
            .collect();
        paid_email(&trace).is_some().then_some(trace)
    })
    .await
    .unwrap_or_else(|| {
        let names: Vec<String> = received(collector)
            .iter()
            .map(|s| format!("{} {} ({})", s.service, s.name, s.trace))
            .collect();
        panic!("no complete checkout trace among: {names:#?}")
    });

    // One tree: a single root, the gateway's; every other span's parent is in the trace.
    let ids: HashSet<&str> = trace.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), trace.len(), "span ids are unique");
    let roots: Vec<&Received> = trace.iter().filter(|s| s.parent.is_none()).collect();
    assert_eq!(roots.len(), 1, "one root: {roots:#?}");
    assert_eq!(roots[0].service, "gateway");
    for s in &trace {
        if let Some(parent) = &s.parent {
            assert!(
                ids.contains(parent.as_str()),
                "the parent of {s:?} is in the trace"
            );
        }
    }
    let by_id: HashMap<&str, &Received> = trace.iter().map(|s| (s.id.as_str(), s)).collect();
    let ancestry = |s: &Received| -> Vec<String> {
        let mut chain = vec![format!("{} {}", s.service, s.name)];
        let mut at = s.parent.as_deref();
        while let Some(id) = at {
            let p = by_id[id];
            chain.push(format!("{} {}", p.service, p.name));
            at = p.parent.as_deref();
        }
        chain.reverse();
        chain
    };

    // Every service of a checkout is in it, over HTTP and over events.
    let services: HashSet<&str> = trace.iter().map(|s| s.service.as_str()).collect();
    for service in [
        "gateway",
        "orders",
        "cart",
        "catalog",
        "payments",
        "notifications",
    ] {
        assert!(services.contains(service), "{service} in {services:?}");
    }
    let has = |service: &str, kind: u64, name: &str| {
        trace
            .iter()
            .any(|s| s.service == service && s.kind == kind && s.name == name)
    };
    // The gateway's call reaches the orders service's own server span, which asks the
    // catalog for a reservation.
    assert!(has("orders", 2, "POST /api/v1/orders"), "{trace:#?}");
    assert!(
        trace.iter().any(|s| s.service == "catalog" && s.kind == 2),
        "a catalog request: {trace:#?}"
    );
    // Events: published by one service (producer, 4), handled by another (consumer, 5).
    assert!(trace.iter().any(|s| s.kind == 4 && s.service == "orders"));
    assert!(
        trace.iter().any(|s| s.kind == 5 && s.service == "payments"),
        "payments handles the order's event: {trace:#?}"
    );
    assert!(has("orders", 5, "payment.succeeded process"), "{trace:#?}");
    assert!(has("notifications", 5, "order.paid process"), "{trace:#?}");
    // The charge, made by the payments worker, and the webhook that settled it join the
    // checkout's trace through the payment row.
    assert!(has("payments", 1, "payment call"), "{trace:#?}");
    assert!(
        has("payments", 1, "payment_intent.succeeded apply"),
        "{trace:#?}"
    );
    // The email sent at the end (one went out when the order was placed, too) descends from the gateway's request, through the events.
    let email = paid_email(&trace).expect("the paid order's email");
    let chain = ancestry(email);
    assert_eq!(
        chain.first().map(String::as_str),
        Some("gateway POST /api/v1/orders")
    );
    for hop in [
        "orders POST /api/v1/orders",
        "payments payment_intent.succeeded apply",
        "orders payment.succeeded process",
        "notifications order.paid process",
    ] {
        assert!(chain.iter().any(|c| c == hop), "{hop} in {chain:#?}");
    }
    assert!(
        trace.iter().all(|s| s.status != 2),
        "nothing failed: {trace:#?}"
    );
    app.stop().await;
    trace[0].trace.clone()
}
