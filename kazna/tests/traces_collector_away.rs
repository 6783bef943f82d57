//! A collector that takes the connection and never answers holds up no request: spans wait
//! in the exporter's queue, off the requests' path. A binary of its own, since the exporter
//! is the process's.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use kazna_kernel::config::TelemetrySettings;
use kazna_testkit::TestApp;

#[tokio::test]
async fn a_collector_that_never_answers_holds_up_no_request() {
    // Accepts every connection and never reads or answers on it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let telemetry = TelemetrySettings {
        otlp_endpoint: Some(endpoint),
        sample_ratio: None,
    };
    kazna_kernel::telemetry::init(&kazna_kernel::Settings::default().log, &telemetry);
    let app = TestApp::spawn().await;
    let (buyer, product) = app.a_buyer_with_in_cart("Quiet lamp", 1500, 100, 1).await;
    // Well past one export batch (512 spans), each call of a few spans, every one answered
    // while the exporter waits on the collector.
    // A request that waited on the collector would wait its 10 s time-out: 200 of them
    // could not finish within the minute allowed.
    let reads = async {
        for _ in 0..200 {
            let cart = app.cart(&buyer).await;
            assert_eq!(cart.items.len(), 1);
            assert_eq!(cart.items[0].line.variant_id, product.variants[0].id);
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), reads)
        .await
        .expect("every read answered while the collector hangs");
    // And a change goes through as well.
    let cart = app.add_to_cart(&buyer, product.variants[0].id, 2).await;
    assert_eq!(cart.items[0].line.quantity, 3);
    app.stop().await;
}
