//! Search instances: each builds its own index, from a pull of the catalog and from events.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use kazna::{Platform, Service};
use kazna_kernel::Role;
use kazna_testkit::eventually;
use reqwest::Method;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use kazna_testkit::TestApp;

#[tokio::test]
async fn every_search_instance_finds_every_product_even_one_started_later() {
    let app = TestApp::spawn().await;
    let seller = app
        .account_with_role("seller@example.com", Role::Seller)
        .await;
    let product = |name: &'static str, sku: &'static str| json!({"name": name, "variants": [{"sku": sku, "price": {"amount": 9000, "currency": "EUR"}, "stock": 2}]});
    let desk = app
        .create_product(&seller, product("Walnut desk", "DESK-1"))
        .await;
    let hidden = app
        .create_product(&seller, product("Walnut stool", "STOOL-1"))
        .await;
    let moderator = app
        .account_with_role("mod@example.com", Role::Moderator)
        .await;
    let hide = format!("/api/v1/products/{}/hide", hidden["id"].as_str().unwrap());
    app.call(Method::POST, &hide, Some(&moderator), None).await;

    // A second instance, started after both products exist, with an index of its own.
    let mut settings = (*app.settings).clone();
    settings
        .update::<kazna_search::SearchSettings>(|x| x.data_dir = x.data_dir.join("second"))
        .expect("search settings");
    settings.services.search.bind.set_port(0);
    let stop = CancellationToken::new();
    let second = Platform::build(settings, &[Service::Search], stop.clone())
        .await
        .expect("a second search instance");
    let second_url = second.settings.services.search.url.clone();
    let running = tokio::spawn(second.run(stop.clone()));
    let http = reqwest::Client::new();
    let ready = eventually(15, || async {
        let r = http
            .get(format!("{second_url}/health/ready"))
            .send()
            .await
            .ok()?;
        r.status().is_success().then_some(())
    })
    .await;
    assert!(ready.is_some(), "ready once it has pulled the catalog");

    let names = |base: String| {
        let http = http.clone();
        async move {
            let found: serde_json::Value = http
                .get(format!("{base}/api/v1/search?q=walnut"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let mut names: Vec<String> = found["items"]
                .as_array()?
                .iter()
                .filter_map(|i| i["name"].as_str().map(str::to_owned))
                .collect();
            names.sort();
            Some(names)
        }
    };
    let both_show = |expected: Vec<&'static str>| {
        let (names, gateway, second) = (&names, app.base.clone(), second_url.clone());
        async move {
            eventually(15, || async {
                let (a, b) = (names(gateway.clone()).await?, names(second.clone()).await?);
                (a == expected && b == expected).then_some(())
            })
            .await
            .is_some()
        }
    };
    assert!(
        both_show(vec!["Walnut desk"]).await,
        "the pull brought the desk, and not the hidden stool"
    );

    // From now on both follow the catalog's events, each through a queue of its own.
    app.create_product(&seller, product("Walnut shelf", "SHELF-1"))
        .await;
    assert!(both_show(vec!["Walnut desk", "Walnut shelf"]).await);
    let delete = format!("/api/v1/products/{}", desk["id"].as_str().unwrap());
    app.call(Method::DELETE, &delete, Some(&seller), None).await;
    assert!(both_show(vec!["Walnut shelf"]).await);

    // Suggestions complete what is typed, typos and all, from what is on sale.
    let suggested = app
        .call(
            Method::GET,
            "/api/v1/search/suggest?q=walnt%20sh",
            None,
            None,
        )
        .await;
    assert_eq!(
        suggested.status,
        reqwest::StatusCode::OK,
        "{}",
        suggested.body
    );
    assert_eq!(
        suggested.body["suggestions"][0],
        json!({"text": "Walnut shelf", "kind": "product", "product_id": suggested.body["suggestions"][0]["product_id"]})
    );
    let texts: Vec<&str> = suggested.body["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["text"].as_str())
        .collect();
    assert!(!texts.contains(&"Walnut stool"), "hidden: {texts:?}");
    assert!(!texts.contains(&"Walnut desk"), "deleted: {texts:?}");
    let bad = app
        .call(Method::GET, "/api/v1/search/suggest?limit=99", None, None)
        .await;
    assert_eq!(bad.status, reqwest::StatusCode::BAD_REQUEST);
    assert_eq!(bad.error_fields(), ["q", "limit"]);

    stop.cancel();
    let _ = running.await;
    app.stop().await;
}

/// A NUL character in a query is refused naming the parameter; one that does not parse is a
/// 400 naming it too.
#[tokio::test]
async fn a_nul_character_in_a_query_is_refused_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let nul = app
        .call(Method::GET, "/api/v1/search?q=lamp%00", None, None)
        .await;
    assert_eq!(nul.status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(nul.error_fields(), ["q"]);
    let unparsed = app
        .call(Method::GET, "/api/v1/search?q=lamp&limit=many", None, None)
        .await;
    assert_eq!(unparsed.status, reqwest::StatusCode::BAD_REQUEST);
    assert_eq!(unparsed.code(), "invalid_parameter");
    assert_eq!(unparsed.headers["content-type"], "application/problem+json");
    let bad = app
        .call(
            Method::GET,
            "/api/v1/search?q=lamp&sort=cheapest&min_price=-1&max_price=abc&in_stock=yes&cursor=x&limit=0",
            None,
            None,
        )
        .await;
    assert_eq!(bad.status, reqwest::StatusCode::BAD_REQUEST, "{}", bad.body);
    assert_eq!(bad.code(), "invalid_parameter");
    assert_eq!(
        bad.error_fields(),
        [
            "min_price",
            "max_price",
            "in_stock",
            "sort",
            "limit",
            "cursor"
        ]
    );
    let inverted = app
        .call(
            Method::GET,
            "/api/v1/search?min_price=500&max_price=100",
            None,
            None,
        )
        .await;
    assert_eq!(inverted.error_fields(), ["max_price"]);
    let long = format!("/api/v1/search?q={}", "a".repeat(201));
    assert_eq!(
        app.call(Method::GET, &long, None, None)
            .await
            .error_fields(),
        ["q"]
    );
    let syntax = app
        .call(Method::GET, "/api/v1/search?q=%2A%3A%22%28AND", None, None)
        .await;
    assert_eq!(syntax.status, reqwest::StatusCode::OK, "{}", syntax.body);
    app.stop().await;
}

#[tokio::test]
async fn admins_see_what_shoppers_look_for_and_what_found_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.account_with_role("root@example.com", Role::Admin).await;
    let seller = app.account_with_role("s@example.com", Role::Seller).await;
    app.create_product(
        &seller,
        json!({"name": "Walnut desk", "variants": [{"sku": "D-1", "price": {"amount": 9000, "currency": "EUR"}, "stock": 2}]}),
    )
    .await;
    let found = eventually(15, || async {
        let r = app
            .call(Method::GET, "/api/v1/search?q=desk", None, None)
            .await;
        (r.body["total"] == 1).then_some(())
    })
    .await;
    assert!(found.is_some());
    for q in [
        "walnut",
        "Walnut!",
        "WALNUT",
        "xyzzy",
        "xyzzy",
        "walnut&cursor=1.0.1",
    ] {
        let r = app
            .call(Method::GET, &format!("/api/v1/search?q={q}"), None, None)
            .await;
        assert_eq!(r.status, reqwest::StatusCode::OK);
    }
    let today = chrono::Utc::now().date_naive();
    let counted = |report: &serde_json::Value, list: &str, query: &str| {
        report[list]
            .as_array()
            .and_then(|l| l.iter().find(|c| c["query"] == query))
            .and_then(|c| c["count"].as_u64())
    };
    let report = eventually(10, || async {
        let r = app
            .call(
                Method::GET,
                &format!("/api/v1/search/analytics?since={today}"),
                Some(&admin),
                None,
            )
            .await;
        let done = counted(&r.body, "top", "walnut") == Some(3)
            && counted(&r.body, "zero_results", "xyzzy") == Some(2);
        done.then_some(r.body)
    })
    .await
    .expect("the counts arrive: three walnut (a later page does not count), two xyzzy");
    assert_eq!(counted(&report, "top", "xyzzy"), Some(2));
    assert_eq!(
        counted(&report, "zero_results", "walnut"),
        None,
        "walnut found something"
    );
    assert!(counted(&report, "top", "desk").is_some_and(|n| n >= 1));
    let buyer = app.login_new_buyer().await;
    let denied = app
        .call(Method::GET, "/api/v1/search/analytics", Some(&buyer), None)
        .await;
    assert_eq!(denied.status, reqwest::StatusCode::FORBIDDEN);
    let old = app
        .call(
            Method::GET,
            "/api/v1/search/analytics?since=2020-01-01&limit=0",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(old.status, reqwest::StatusCode::BAD_REQUEST);
    assert_eq!(old.error_fields(), ["since", "limit"]);
    app.stop().await;
}

#[tokio::test]
async fn hot_queries_are_answered_from_the_cache_until_the_index_changes_and_without_redis_too() {
    let (proxy, app) = TestApp::spawn_behind_a_redis_proxy().await;
    let seller = app.account_with_role("s@example.com", Role::Seller).await;
    let product = |name: &str, sku: &str| json!({"name": name, "variants": [{"sku": sku, "price": {"amount": 500, "currency": "EUR"}, "stock": 1}]});
    app.create_product(&seller, product("Teak bench", "B-1"))
        .await;
    let search = || async {
        let r = app
            .call(Method::GET, "/api/v1/search?q=teak", None, None)
            .await;
        let names: Vec<String> = r.body["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        (
            r.headers["x-cache"].to_str().unwrap_or("").to_owned(),
            names,
        )
    };
    let first = eventually(15, || async {
        let (cache, names) = search().await;
        (names == ["Teak bench"]).then_some(cache)
    })
    .await;
    assert!(first.is_some(), "the bench is found");
    assert_eq!(
        search().await,
        ("hit".to_owned(), vec!["Teak bench".to_owned()])
    );
    // `Cache-Control: no-cache` asks the index itself; `facets=false` leaves the facets out.
    let r = app
        .call_with(
            Method::GET,
            "/api/v1/search?q=teak&facets=false",
            None,
            None,
            &[("cache-control", "no-cache")],
        )
        .await;
    assert_eq!(r.headers["x-cache"], "miss");
    assert_eq!(
        (
            r.body["total"].as_u64(),
            r.body["facets"]["price"].as_array().map(Vec::len)
        ),
        (Some(1), Some(0))
    );
    // The index changes: what was cached before it is never served after.
    app.create_product(&seller, product("Teak table", "T-1"))
        .await;
    let fresh = eventually(15, || async {
        let (cache, mut names) = search().await;
        names.sort();
        (names == ["Teak bench", "Teak table"]).then_some(cache)
    })
    .await;
    assert_eq!(
        fresh.as_deref(),
        Some("miss"),
        "a new generation, a new answer"
    );
    // Redis away: the index answers, every time.
    proxy.down();
    for _ in 0..3 {
        let (cache, names) = search().await;
        assert_eq!(cache, "miss");
        assert_eq!(names.len(), 2);
    }
    proxy.up();
    app.stop().await;
}

#[tokio::test]
async fn a_category_narrows_a_search_to_it_and_what_is_below_it() {
    let app = TestApp::spawn().await;
    let admin = app.account_with_role("root@example.com", Role::Admin).await;
    let seller = app.account_with_role("s@example.com", Role::Seller).await;
    let category = |name: &str, parent: Option<&str>| {
        let body = json!({"name": name, "parent_id": parent});
        let admin = admin.clone();
        let app = &app;
        async move {
            let r = app
                .call(Method::POST, "/api/v1/categories", Some(&admin), Some(body))
                .await;
            assert_eq!(r.status, reqwest::StatusCode::CREATED, "{}", r.body);
            r.body["id"].as_str().expect("id").to_owned()
        }
    };
    let lighting = category("Lighting", None).await;
    let outdoor = category("Outdoor", Some(&lighting)).await;
    let product = |name: &str, sku: &str, category: &str| {
        json!({"name": name, "category_ids": [category],
        "variants": [{"sku": sku, "price": {"amount": 500, "currency": "EUR"}, "stock": 1}]})
    };
    app.create_product(&seller, product("Porch lamp", "P-1", &outdoor))
        .await;
    app.create_product(&seller, product("Desk lamp", "D-1", &lighting))
        .await;
    let both = eventually(15, || async {
        (within(&app, &lighting).await == ["Desk lamp", "Porch lamp"]).then_some(())
    })
    .await;
    assert!(both.is_some(), "a category takes in the one below it");
    assert_eq!(within(&app, &outdoor).await, ["Porch lamp"]);
    // Facets count what was found, per category (with what is below) and price range.
    let all = app
        .call(Method::GET, "/api/v1/search?q=lamp", None, None)
        .await;
    let count = |id: &str| {
        all.body["facets"]["category"]
            .as_array()
            .and_then(|l| l.iter().find(|c| c["value"] == id))
            .and_then(|c| c["count"].as_u64())
    };
    assert_eq!(
        (count(&lighting), count(&outdoor)),
        (Some(2), Some(1)),
        "{}",
        all.body
    );
    let priced: u64 = all.body["facets"]["price"]
        .as_array()
        .expect("price buckets")
        .iter()
        .filter_map(|b| b["count"].as_u64())
        .sum();
    assert_eq!(priced, 2);
    let bad = app
        .call(Method::GET, "/api/v1/search?category=lighting", None, None)
        .await;
    assert_eq!(bad.error_fields(), ["category"]);
    // A category moved elsewhere takes its products along.
    let garden = category("Garden", None).await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/categories/{outdoor}"),
            Some(&admin),
            Some(json!({"parent_id": garden})),
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::OK, "{}", r.body);
    let moved = eventually(10, || async {
        (within(&app, &garden).await == ["Porch lamp"]).then_some(())
    })
    .await;
    assert!(
        moved.is_some(),
        "the products below a moved category follow it"
    );
    assert_eq!(within(&app, &lighting).await, ["Desk lamp"]);
    app.stop().await;
}

/// The names a search for lamps finds in `category`.
async fn within(app: &TestApp, category: &str) -> Vec<String> {
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/search?q=lamp&category={category}"),
            None,
            None,
        )
        .await;
    let mut names: Vec<String> = r.body["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
