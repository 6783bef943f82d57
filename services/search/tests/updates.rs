//! The index follows the catalog: each change is searchable within a second of the answer
//! that made it, events delivered twice or late leave it right, and a reindex gives the same
//! answers with no gap while it runs.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use kazna_contracts::catalog::{ProductUpdated, SnapshotPage, StockChanged};
use kazna_kernel::Role;
use kazna_testkit::{TestApp, eventually};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Waits for `check` to hold, and fails unless it held within a second.
async fn within_a_second<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: not searchable after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = started.elapsed();
    assert!(
        took <= Duration::from_secs(1),
        "{what}: searchable only after {} ms",
        took.as_millis()
    );
}

async fn search(app: &TestApp, query: &str) -> Value {
    let r = app
        .call(Method::GET, &format!("/api/v1/search?{query}"), None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.body);
    r.body
}

async fn total(app: &TestApp, query: &str) -> u64 {
    search(app, query).await["total"].as_u64().unwrap()
}

/// Calls an `/internal` endpoint of a service, as another service would.
trait Internal {
    async fn call_internal(&self, method: Method, url: &str) -> kazna_testkit::Answer;
}

impl Internal for TestApp {
    async fn call_internal(&self, method: Method, url: &str) -> kazna_testkit::Answer {
        let token = self.settings.auth.internal_token.expose().to_owned();
        self.call_with(method, url, None, None, &[("x-kazna-internal", &token)])
            .await
    }
}

#[tokio::test]
async fn every_change_to_a_product_is_searchable_within_a_second() {
    let app = TestApp::spawn().await;
    let seller = app
        .account_with_role("seller@example.com", Role::Seller)
        .await;
    let moderator = app
        .account_with_role("mod@example.com", Role::Moderator)
        .await;
    let bench = app
        .create_product(
            &seller,
            json!({"name": "Teak bench", "attributes": {"finish": "Oiled"},
                "variants": [{"sku": "BENCH-1", "options": {"colour": "Natural"},
                              "price": {"amount": 9000, "currency": "EUR"}, "stock": 3}]}),
        )
        .await;
    let id = bench["id"].as_str().unwrap().to_owned();
    let variant = bench["variants"][0]["id"].as_str().unwrap().to_owned();
    within_a_second("a new product", || async {
        total(&app, "q=teak").await == 1
    })
    .await;
    let found = search(&app, "q=teak&attr.colour=natural&attr.finish=oiled,waxed").await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(
        found["facets"]["attributes"]["colour"],
        json!([{"value": "natural", "count": 1}])
    );
    assert_eq!(total(&app, "q=teak&attr.colour=red").await, 0);
    assert_eq!(
        total(&app, "q=oiled").await,
        1,
        "an attribute is a word found"
    );

    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/products/{id}"),
            Some(&seller),
            Some(json!({"variants": [{"id": variant, "price": {"amount": 4000, "currency": "EUR"}}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    within_a_second("a new price", || async {
        search(&app, "q=teak&max_price=4000").await["items"][0]["price"]
            == json!({"amount": 4000, "currency": "EUR"})
    })
    .await;

    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/variants/{variant}/stock"),
            Some(&seller),
            Some(json!({"stock": 0})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    within_a_second("stock down to zero", || async {
        total(&app, "q=teak&in_stock=true").await == 0
    })
    .await;
    assert_eq!(total(&app, "q=teak").await, 1, "sold out is still found");

    let hide = format!("/api/v1/products/{id}/hide");
    app.call(Method::POST, &hide, Some(&moderator), None).await;
    within_a_second("a hidden product", || async {
        total(&app, "q=teak").await == 0
    })
    .await;
    let restore = format!("/api/v1/products/{id}/restore");
    app.call(Method::POST, &restore, Some(&moderator), None)
        .await;
    within_a_second("a product back on sale", || async {
        total(&app, "q=teak").await == 1
    })
    .await;

    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/products/{id}"),
            Some(&seller),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    within_a_second("a deleted product", || async {
        total(&app, "q=teak").await == 0
    })
    .await;
}

#[tokio::test]
async fn events_delivered_twice_or_late_leave_the_index_right() {
    let app = TestApp::spawn().await;
    let seller = app
        .account_with_role("seller@example.com", Role::Seller)
        .await;
    let shelf = app
        .create_product(
            &seller,
            json!({"name": "Oak shelf", "variants": [{"sku": "SHELF-1", "price": {"amount": 5000, "currency": "EUR"}, "stock": 4}]}),
        )
        .await;
    let id = shelf["id"].as_str().unwrap().to_owned();
    let variant = shelf["variants"][0]["id"].as_str().unwrap().to_owned();
    // The copy the catalog sent first, kept to be sent again later.
    let catalog = &app.settings.services.catalog.url;
    let page: SnapshotPage = app
        .call_internal(
            Method::GET,
            &format!("{catalog}/internal/products/snapshots?limit=10"),
        )
        .await
        .ok();
    let first = page.items.into_iter().next().unwrap();
    assert_eq!(first.name, "Oak shelf");
    app.call(
        Method::PATCH,
        &format!("/api/v1/products/{id}"),
        Some(&seller),
        Some(json!({"name": "Ash shelf"})),
    )
    .await;
    app.call(
        Method::PATCH,
        &format!("/api/v1/variants/{variant}/stock"),
        Some(&seller),
        Some(json!({"stock": 7})),
    )
    .await;
    let found = eventually(10, || async {
        (total(&app, "q=ash&in_stock=true").await == 1).then_some(())
    })
    .await;
    assert!(found.is_some());

    // The old copy twice, and a stock change older than the last, each through the bus.
    let pool = kazna_kernel::db::connect(&app.settings, "catalog")
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let stale = StockChanged {
        product_id: first.id,
        variant_id: first.variants[0].id,
        stock: 0,
        reserved: 0,
        available: 0,
        version: 0,
    };
    for _ in 0..2 {
        kazna_events::enqueue(&mut conn, "catalog", &ProductUpdated(first.clone()))
            .await
            .unwrap();
        kazna_events::enqueue(&mut conn, "catalog", &stale)
            .await
            .unwrap();
    }
    // Then a change of another product: once it is found, the events before it were read.
    app.create_product(
        &seller,
        json!({"name": "Marker lamp", "variants": [{"sku": "MARK-1", "price": {"amount": 100, "currency": "EUR"}, "stock": 1}]}),
    )
    .await;
    let marker = eventually(10, || async {
        (total(&app, "q=marker").await == 1).then_some(())
    })
    .await;
    assert!(marker.is_some());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(total(&app, "q=ash&in_stock=true").await, 1);
    assert_eq!(total(&app, "q=oak").await, 0, "the late copy did not win");
}

#[tokio::test]
async fn a_reindex_gives_the_same_answers_and_searches_succeed_throughout() {
    let app = TestApp::spawn().await;
    let seller = app
        .account_with_role("seller@example.com", Role::Seller)
        .await;
    let moderator = app
        .account_with_role("mod@example.com", Role::Moderator)
        .await;
    let woods = ["Oak", "Ash", "Teak", "Walnut", "Beech", "Pine"];
    let things = ["lamp", "stool", "shelf"];
    let mut ids = Vec::new();
    for (i, wood) in woods.iter().enumerate() {
        for (j, thing) in things.iter().enumerate() {
            let p = app
                .create_product(
                    &seller,
                    json!({"name": format!("{wood} {thing}"), "attributes": {"wood": wood},
                        "variants": [{"sku": format!("R-{i}-{j}"),
                                      "price": {"amount": 1000 + 100 * (i * 3 + j) as i64, "currency": "EUR"},
                                      "stock": (i + j) % 3}]}),
                )
                .await;
            ids.push(p["id"].as_str().unwrap().to_owned());
        }
    }
    let all_in = eventually(15, || async { (total(&app, "").await == 18).then_some(()) }).await;
    assert!(all_in.is_some());
    app.call(
        Method::POST,
        &format!("/api/v1/products/{}/hide", ids[0]),
        Some(&moderator),
        None,
    )
    .await;
    let ready = eventually(15, || async { (total(&app, "").await == 17).then_some(()) }).await;
    assert!(ready.is_some());
    let queries = [
        "q=lamp&sort=price_asc",
        "q=stoool&sort=price_desc",
        "q=walnut",
        "q=&in_stock=true&sort=price_asc",
        "q=shelf&attr.wood=teak,pine&sort=newest",
        "q=oak&sort=price_asc",
    ];
    let before = answers(&app, &queries).await;

    // Searches all through the reindex: every one answers, and finds all 17.
    let stop = Arc::new(AtomicBool::new(false));
    let (done, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let hammer = {
        let (stop, done, failed) = (stop.clone(), done.clone(), failed.clone());
        let (http, base) = (app.http.clone(), app.base.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = http
                    .get(format!("{base}/api/v1/search?q=&limit=1"))
                    .send()
                    .await;
                let ok = match r {
                    Ok(r) if r.status().is_success() => {
                        let body: Value = r.json().await.unwrap_or_default();
                        body["total"].as_u64().is_some_and(|t| t >= 17)
                    }
                    _ => false,
                };
                if ok { &done } else { &failed }.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let search_url = &app.settings.services.search.url;
    let endpoint = format!("{search_url}/internal/search/reindex");
    let unauthorised = app.call(Method::POST, &endpoint, None, None).await;
    assert_eq!(unauthorised.status, StatusCode::UNAUTHORIZED);
    let started = app.call_internal(Method::POST, &endpoint).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    assert_eq!(started.body["epoch"], 1);
    // A product made while the reindex runs is in the new index too.
    app.create_product(
        &seller,
        json!({"name": "Elm lamp", "variants": [{"sku": "ELM-1", "price": {"amount": 999, "currency": "EUR"}, "stock": 1}]}),
    )
    .await;
    let finished = eventually(30, || async {
        let s = app.call_internal(Method::GET, &endpoint).await;
        (s.body["state"] != "running").then_some(s.body)
    })
    .await
    .expect("the reindex ends");
    assert_eq!(finished["state"], "done", "{finished}");
    assert_eq!(finished["epoch"], 2);
    let elm = eventually(5, || async {
        (total(&app, "q=elm").await == 1).then_some(())
    })
    .await;
    assert!(elm.is_some(), "a change made during the reindex is kept");
    stop.store(true, Ordering::Relaxed);
    hammer.await.unwrap();
    assert_eq!(failed.load(Ordering::Relaxed), 0, "every search answered");
    assert!(done.load(Ordering::Relaxed) > 0);

    // With the Elm lamp gone again, the answers are the same as before.
    let elm_id = search(&app, "q=elm").await["items"][0]["product_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/products/{elm_id}"),
            Some(&seller),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let gone = eventually(5, || async {
        (total(&app, "q=elm").await == 0).then_some(())
    })
    .await;
    assert!(gone.is_some());
    assert_eq!(answers(&app, &queries).await, before);
}

/// For each query: the total, the ids found in order, and the facets.
async fn answers(app: &TestApp, queries: &[&str]) -> Vec<(Value, Vec<Value>, Value)> {
    let mut out = Vec::new();
    for q in queries {
        let body = search(app, q).await;
        let mut ids: Vec<Value> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["product_id"].clone())
            .collect();
        if !q.contains("sort=") {
            // Equal matches rank in no particular order.
            ids.sort_by_key(Value::to_string);
        }
        out.push((body["total"].clone(), ids, body["facets"].clone()));
    }
    out
}

#[tokio::test]
async fn what_sells_ranks_above_a_closer_match_and_stays_there_after_a_reindex() {
    let app = TestApp::spawn().await;
    // A longer name matches a little less well.
    let (buyer, sold) = app
        .a_buyer_with_in_cart("Brass lamp classic", 1500, 20, 10)
        .await;
    let seller = app
        .account_with_role("other@example.com", Role::Seller)
        .await;
    app.create_product(
        &seller,
        json!({"name": "Brass lamp", "variants": [{"sku": "LAMP-2", "price": {"amount": 1500, "currency": "EUR"}, "stock": 20}]}),
    )
    .await;
    let top = || async {
        let body = search(&app, "q=brass%20lamp").await;
        (body["total"] == 2).then(|| body["items"][0]["product_id"].as_str().unwrap().to_owned())
    };
    let newest = eventually(10, top).await.expect("both found");
    assert_ne!(
        newest,
        sold.id.to_string(),
        "the closer match ranks first before any sale"
    );

    let order = app.place_order(&buyer, "pop-1", "pm_card_visa").await;
    app.order_when(&buyer, order.id, 15, |o| o.status.as_str() == "paid")
        .await;
    let lifted = eventually(10, || async {
        (top().await? == sold.id.to_string()).then_some(())
    })
    .await;
    assert!(lifted.is_some(), "ten sold lift it above the closer match");

    // A new build of the index reads the sales back.
    let endpoint = format!(
        "{}/internal/search/reindex",
        app.settings.services.search.url
    );
    let started = app.call_internal(Method::POST, &endpoint).await;
    assert_eq!(started.status, StatusCode::ACCEPTED);
    let done = eventually(30, || async {
        let s = app.call_internal(Method::GET, &endpoint).await;
        (s.body["state"] == "done").then_some(())
    })
    .await;
    assert!(done.is_some());
    assert_eq!(top().await.as_deref(), Some(sold.id.to_string().as_str()));
}

#[tokio::test]
async fn a_sale_heard_by_every_instance_is_counted_once_however_often_and_at_once() {
    let env = kazna_testkit::TestEnv::new().unwrap();
    let redis = kazna_kernel::db::redis(&env.settings).await.unwrap();
    let popularity = kazna_search::popularity::Popularity::new(redis, &env.settings.redis_key(""));
    let product = uuid::Uuid::now_v7();
    let line = |quantity| kazna_contracts::orders::OrderLine {
        variant_id: uuid::Uuid::now_v7(),
        product_id: product,
        seller_id: uuid::Uuid::nil(),
        name: "Lamp".into(),
        sku: "L".into(),
        quantity,
        unit_price: kazna_contracts::Money::new(100, kazna_contracts::Currency::EUR),
    };
    let paid = kazna_contracts::orders::OrderPaid {
        order_id: uuid::Uuid::now_v7(),
        user_id: uuid::Uuid::nil(),
        email: "b@example.com".into(),
        total: kazna_contracts::Money::new(500, kazna_contracts::Currency::EUR),
        payment_id: uuid::Uuid::now_v7(),
        lines: vec![line(2), line(3)],
    };
    let (event, at) = (uuid::Uuid::now_v7(), chrono::Utc::now());
    // Four instances hear the same event at once, and one hears it again later.
    let heard =
        futures_util::future::join_all((0..4).map(|_| popularity.record(event, &paid, at))).await;
    let again = popularity.record(event, &paid, at).await.unwrap();
    let once = kazna_search::index::sale_weight(5, at);
    for totals in heard.into_iter().map(Result::unwrap).chain([again]) {
        assert_eq!(totals.len(), 1, "two lines of one product are one total");
        assert!(
            (totals[0].popularity - once).abs() < 1e-6 * once,
            "{totals:?}"
        );
    }
    let read = popularity
        .of(&[product, uuid::Uuid::now_v7()])
        .await
        .unwrap();
    assert_eq!(read.len(), 1, "a product never sold is left out");
}
