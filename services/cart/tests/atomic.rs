//! Carts under concurrency, fed by events, expiring, and unchanged by what fails.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use futures_util::future::join_all;
use kazna_kernel::Role;
use kazna_testkit::{TestApp, eventually};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

async fn add(
    app: &TestApp,
    token: Option<&str>,
    guest: Option<&str>,
    variant: Uuid,
    n: i64,
) -> kazna_testkit::Answer {
    let headers: Vec<(&str, &str)> = guest.map(|g| ("x-cart-session", g)).into_iter().collect();
    app.call_with(
        Method::POST,
        "/api/v1/cart/items",
        token,
        Some(json!({"variant_id": variant, "quantity": n})),
        &headers,
    )
    .await
}

fn quantity(cart: &Value, variant: Uuid) -> i64 {
    cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["variant_id"] == variant.to_string())
        .map_or(0, |l| l["quantity"].as_i64().unwrap())
}

async fn cart(app: &TestApp, token: &str) -> Value {
    app.call(Method::GET, "/api/v1/cart", Some(token), None)
        .await
        .ok()
}

#[tokio::test]
async fn fifty_parallel_adds_all_land_up_to_the_stock_and_parallel_lines_all_land() {
    let app = TestApp::spawn().await;
    let seller = app.account_with_role("s@example.com", Role::Seller).await;
    let plenty = app.a_product(&seller, "Plenty", 100, 500).await.variants[0].id;
    let scarce = app.a_product(&seller, "Scarce", 100, 20).await.variants[0].id;
    let buyer = app.login_new_buyer().await;

    let answers = join_all((0..50).map(|_| add(&app, Some(&buyer), None, plenty, 1))).await;
    assert!(answers.iter().all(|a| a.status == StatusCode::OK));
    assert_eq!(
        quantity(&cart(&app, &buyer).await, plenty),
        50,
        "no add lost"
    );

    let answers = join_all((0..50).map(|_| add(&app, Some(&buyer), None, scarce, 1))).await;
    let ok = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    let refused = answers
        .iter()
        .filter(|a| a.status == StatusCode::CONFLICT && a.code() == "insufficient_stock")
        .count();
    assert_eq!((ok, refused), (20, 30));
    assert_eq!(
        quantity(&cart(&app, &buyer).await, scarce),
        20,
        "stopped at the stock"
    );

    // Twenty lines at once, each its own product: every one lands.
    let mut variants = Vec::new();
    for i in 0..20 {
        variants.push(
            app.a_product(&seller, &format!("Line {i}"), 100, 5)
                .await
                .variants[0]
                .id,
        );
    }
    let other = app.login_new_buyer().await;
    let answers = join_all(
        variants
            .iter()
            .map(|v| add(&app, Some(&other), None, *v, 2)),
    )
    .await;
    assert!(answers.iter().all(|a| a.status == StatusCode::OK));
    let full = cart(&app, &other).await;
    assert_eq!(full["items"].as_array().unwrap().len(), 20);
    assert!(variants.iter().all(|v| quantity(&full, *v) == 2));
    assert_eq!(full["subtotal"]["amount"], 20 * 2 * 100);
}

#[tokio::test]
async fn merges_at_once_give_what_one_merge_gives_and_a_sign_in_merges_too() {
    let app = TestApp::spawn().await;
    let seller = app.account_with_role("s@example.com", Role::Seller).await;
    let mug = app.a_product(&seller, "Mug", 300, 10).await.variants[0].id;
    let cup = app.a_product(&seller, "Cup", 200, 10).await.variants[0].id;
    let guest = Uuid::new_v4().to_string();
    add(&app, None, Some(&guest), mug, 3).await.ok::<Value>();
    add(&app, None, Some(&guest), cup, 1).await.ok::<Value>();
    let buyer = app.login_new_buyer().await;
    add(&app, Some(&buyer), None, mug, 2).await.ok::<Value>();

    let merges = join_all((0..8).map(|_| {
        app.call(
            Method::POST,
            "/api/v1/cart/merge",
            Some(&buyer),
            Some(json!({"cart_session": guest})),
        )
    }))
    .await;
    assert!(merges.iter().all(|m| m.status == StatusCode::OK));
    let merged = cart(&app, &buyer).await;
    assert_eq!(
        (quantity(&merged, mug), quantity(&merged, cup)),
        (5, 1),
        "once, not eight times"
    );

    // Signing in with a guest session merges it.
    let email = format!("b-{}@example.com", Uuid::new_v4().simple());
    app.register(&email, kazna_testkit::PASSWORD).await;
    let other_guest = Uuid::new_v4().to_string();
    add(&app, None, Some(&other_guest), cup, 4)
        .await
        .ok::<Value>();
    let login = app
        .call_with(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": email, "password": kazna_testkit::PASSWORD})),
            &[("x-cart-session", &other_guest)],
        )
        .await;
    let token = login.ok::<Value>()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(quantity(&cart(&app, &token).await, cup), 4);
}

#[tokio::test]
async fn a_price_change_and_a_hide_reach_the_cart_as_flags_and_an_order_refuses_them() {
    let app = TestApp::spawn().await;
    let seller = app.account_with_role("s@example.com", Role::Seller).await;
    let moderator = app
        .account_with_role("m@example.com", Role::Moderator)
        .await;
    let lamp = app.a_product(&seller, "Lamp", 1000, 10).await;
    let vase = app.a_product(&seller, "Vase", 500, 10).await;
    let buyer = app.login_new_buyer().await;
    add(&app, Some(&buyer), None, lamp.variants[0].id, 1)
        .await
        .ok::<Value>();
    add(&app, Some(&buyer), None, vase.variants[0].id, 2)
        .await
        .ok::<Value>();

    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/products/{}", lamp.id),
            Some(&seller),
            Some(json!({"variants": [{"id": lamp.variants[0].id, "price": {"amount": 1200, "currency": "EUR"}}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.call(
        Method::POST,
        &format!("/api/v1/products/{}/hide", vase.id),
        Some(&moderator),
        None,
    )
    .await;
    let flagged = eventually(10, || async {
        let c = cart(&app, &buyer).await;
        let flags: Vec<Value> = c["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["flags"].clone())
            .collect();
        (flags.len() == 2 && flags.iter().all(|f| f != &json!([]))).then_some(c)
    })
    .await
    .expect("both lines flagged through the catalog's events");
    let line = |v: Uuid| {
        flagged["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["variant_id"] == v.to_string())
            .unwrap()
            .clone()
    };
    let repriced = line(lamp.variants[0].id);
    assert_eq!(repriced["flags"], json!(["price_changed"]));
    assert_eq!(
        repriced["price_when_added"],
        json!({"amount": 1000, "currency": "EUR"})
    );
    assert_eq!(
        repriced["unit_price"],
        json!({"amount": 1200, "currency": "EUR"})
    );
    assert_eq!(line(vase.variants[0].id)["flags"], json!(["hidden"]));
    assert_eq!(
        flagged["subtotal"]["amount"], 1200,
        "only what can be bought"
    );

    // Placing refuses, naming the lines; the cart stays as it was.
    let refused = app
        .try_place_order(&buyer, "flagged-1", "pm_card_visa")
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.code(), "cart_changed");
    let mut named = refused.error_fields();
    named.sort();
    let mut expected = vec![
        format!("items.{}", lamp.variants[0].id),
        format!("items.{}", vase.variants[0].id),
    ];
    expected.sort();
    assert_eq!(named, expected);
    assert_eq!(cart(&app, &buyer).await, flagged);

    // Looked at: the hidden line removed, the lamp set again at its new price. Now it goes,
    // and only the ordered lines leave the cart.
    app.call(
        Method::DELETE,
        &format!("/api/v1/cart/items/{}", vase.variants[0].id),
        Some(&buyer),
        None,
    )
    .await
    .ok::<Value>();
    let again = app
        .call(
            Method::PATCH,
            &format!("/api/v1/cart/items/{}", lamp.variants[0].id),
            Some(&buyer),
            Some(json!({"quantity": 1})),
        )
        .await
        .ok::<Value>();
    assert_eq!(line_flags(&again), [json!([])]);
    let mut spy = kazna_testkit::Spy::new(&app.settings, "cart.#")
        .await
        .expect("spy");
    let order = app.place_order(&buyer, "flagged-2", "pm_card_visa").await;
    assert_eq!(order.total.amount_minor, 1200);
    assert_eq!(cart(&app, &buyer).await["items"], json!([]));
    let started = spy
        .next("cart.checkout_started", 10)
        .await
        .expect("cart.checkout_started");
    assert_eq!(started.data["order_id"], order.id.to_string());
    assert_eq!(
        started.data["lines"][0]["variant_id"],
        lamp.variants[0].id.to_string()
    );
}

fn line_flags(cart: &Value) -> Vec<Value> {
    cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["flags"].clone())
        .collect()
}

#[tokio::test]
async fn an_order_refused_for_stock_leaves_the_cart_as_it_was() {
    let app = TestApp::spawn().await;
    let (buyer, product) = app.a_buyer_with_in_cart("Last one", 900, 1, 1).await;
    let variant = product.variants[0].id;
    // Someone else buys the last unit first.
    let rival = app.login_new_buyer().await;
    app.add_to_cart(&rival, variant, 1).await;
    app.place_order(&rival, "rival", "pm_card_visa").await;
    let before = cart(&app, &buyer).await;
    let refused = app.try_place_order(&buyer, "late", "pm_card_visa").await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    let after = cart(&app, &buyer).await;
    assert_eq!(quantity(&after, variant), 1);
    assert_eq!(
        before["items"][0]["quantity"],
        after["items"][0]["quantity"]
    );
}

#[tokio::test]
async fn a_guest_cart_goes_after_its_idle_time_and_its_cookie_says_so() {
    let app = TestApp::spawn_with(|s| {
        s.update::<kazna_cart::CartSettings>(|c| c.guest_idle_secs = 1)
            .expect("cart settings");
    })
    .await;
    let seller = app.account_with_role("s@example.com", Role::Seller).await;
    let sock = app.a_product(&seller, "Sock", 100, 5).await.variants[0].id;
    let guest = Uuid::new_v4().to_string();
    let first = add(&app, None, Some(&guest), sock, 1).await;
    let cookie = first.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("Max-Age=1"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "the test platform is plain http"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let later = app
        .call_with(
            Method::GET,
            "/api/v1/cart",
            None,
            None,
            &[("x-cart-session", &guest)],
        )
        .await;
    assert_eq!(later.body["items"], json!([]), "gone after a second idle");
}

#[tokio::test]
async fn with_redis_away_a_change_is_a_503_and_the_cart_is_unchanged() {
    let (proxy, app) = TestApp::spawn_behind_a_redis_proxy().await;
    let seller = app.account_with_role("s@example.com", Role::Seller).await;
    let sock = app.a_product(&seller, "Sock", 100, 5).await.variants[0].id;
    let buyer = app.login_new_buyer().await;
    add(&app, Some(&buyer), None, sock, 1).await.ok::<Value>();
    proxy.down();
    let refused = add(&app, Some(&buyer), None, sock, 1).await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["type"], "about:blank");
    proxy.up();
    let back = eventually(10, || async {
        let r = app
            .call(Method::GET, "/api/v1/cart", Some(&buyer), None)
            .await;
        (r.status == StatusCode::OK).then_some(r.body)
    })
    .await
    .expect("the cart answers once Redis is back");
    assert_eq!(
        quantity(&back, sock),
        1,
        "the failed change changed nothing"
    );
}

/// The catalog away when the cart must ask it about a variant its read model lacks: a 503,
/// and the cart as it was; once the catalog is back, the same change works.
#[tokio::test]
async fn with_the_catalog_away_a_variant_the_model_lacks_is_a_503_and_the_cart_is_unchanged() {
    let (proxy, app) = TestApp::spawn_separately_behind_a_catalog_proxy().await;
    let seller = app.account_with_role("s@example.com", Role::Seller).await;
    let sock = app.a_product(&seller, "Sock", 100, 5).await.variants[0].id;
    let hat = app.a_product(&seller, "Hat", 900, 5).await.variants[0].id;
    let buyer = app.login_new_buyer().await;
    add(&app, Some(&buyer), None, sock, 1).await.ok::<Value>();
    // The model heard of the hat from the catalog's events: it forgets it, as a model that
    // never heard of it would not know it.
    let mut redis = kazna_kernel::db::redis(&app.settings).await.unwrap();
    let key = app.settings.redis_key(&format!("cart:v:{hat}"));
    eventually(10, || {
        let (mut redis, key) = (redis.clone(), key.clone());
        async move {
            let known: bool = redis::AsyncCommands::exists(&mut redis, &key).await.ok()?;
            known.then_some(())
        }
    })
    .await
    .expect("the model hears of the hat");
    let _: () = redis::AsyncCommands::del(&mut redis, &key).await.unwrap();

    proxy.down();
    let refused = add(&app, Some(&buyer), None, hat, 1).await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.body
    );
    assert!(refused.body["title"].is_string(), "a problem document");
    let unchanged = cart(&app, &buyer).await;
    assert_eq!(
        (quantity(&unchanged, sock), quantity(&unchanged, hat)),
        (1, 0),
        "the failure changed nothing: {unchanged}"
    );

    proxy.up();
    let added = add(&app, Some(&buyer), None, hat, 1).await.ok::<Value>();
    assert_eq!((quantity(&added, sock), quantity(&added, hat)), (1, 1));
}

/// A cart holds at most 100 lines: added all at once they all land, a 101st is refused with
/// `cart_full` and changes nothing, and a line already in the cart still grows.
#[tokio::test]
async fn a_full_cart_refuses_another_line_but_its_lines_still_grow() {
    let app = TestApp::spawn().await;
    let seller = app.account_with_role("s@example.com", Role::Seller).await;
    let variants: Vec<Value> = (0..100)
        .map(|i| {
            json!({"sku": format!("V-{i}"), "options": {"n": i.to_string()},
            "price": {"amount": 100, "currency": "EUR"}, "stock": 5})
        })
        .collect();
    let many = app
        .create_product(&seller, json!({"name": "Many", "variants": variants}))
        .await;
    let ids: Vec<Uuid> = many["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().parse().unwrap())
        .collect();
    let extra = app.a_product(&seller, "Extra", 100, 5).await.variants[0].id;
    let buyer = app.login_new_buyer().await;
    let added = join_all(ids.iter().map(|v| add(&app, Some(&buyer), None, *v, 1))).await;
    assert!(added.iter().all(|a| a.status == StatusCode::OK));
    let refused = add(&app, Some(&buyer), None, extra, 1).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.code(), "cart_full");
    add(&app, Some(&buyer), None, ids[0], 1).await.ok::<Value>();
    let full = cart(&app, &buyer).await;
    assert_eq!(full["items"].as_array().unwrap().len(), 100);
    assert_eq!(quantity(&full, extra), 0);
    assert_eq!(quantity(&full, ids[0]), 2);
}
