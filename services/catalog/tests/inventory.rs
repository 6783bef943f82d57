//! Stock under real concurrency, against the real database.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use kazna_catalog::{
    Store,
    domain::{MoneyIn, ProductIn, VariantIn},
    error::Error,
    inventory::{self, StockChange},
    products,
};
use kazna_contracts::catalog::{ProductStatus, ReservationLine, ReservationStatus, VariantStatus};
use kazna_kernel::Context;
use kazna_testkit::TestEnv;
use uuid::Uuid;

async fn setup(stock: i64) -> (TestEnv, Store, Uuid) {
    let mut env = TestEnv::new().expect("env");
    env.settings.database.max_connections = 32;
    env.databases(&["catalog"]).await.expect("test database");
    let ctx = Context::new(Arc::new(env.settings.clone()));
    let store = kazna_catalog::Store::open(&ctx).await.expect("db");
    let product = ProductIn {
        name: "Lamp".into(),
        description: String::new(),
        category_ids: vec![],
        images: vec![],
        attributes: serde_json::Value::Null,
        variants: vec![VariantIn {
            sku: format!("SKU-{}", Uuid::new_v4().simple()),
            options: serde_json::Value::Null,
            price: MoneyIn {
                amount: 100,
                currency: "EUR".into(),
            },
            stock,
        }],
    };
    let p = products::create(&store, Uuid::now_v7(), product.parse().expect("valid"))
        .await
        .expect("created");
    (env, store, p.variants[0].id)
}

fn one(variant_id: Uuid) -> Vec<ReservationLine> {
    vec![ReservationLine {
        variant_id,
        quantity: 1,
    }]
}

#[tokio::test]
async fn two_hundred_buyers_at_once_get_exactly_the_twenty_units_there_are() {
    let (_env, store, variant) = setup(20).await;
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            inventory::reserve(&store, Uuid::now_v7(), &one(variant), 900).await
        }));
    }
    let (mut won, mut refused) = (0, 0);
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => won += 1,
            Err(Error::InsufficientStock(id)) => {
                assert_eq!(id, variant);
                refused += 1;
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!((won, refused), (20, 180));
    let s = inventory::stock(&store.pool, variant).await.expect("stock");
    assert_eq!((s.stock, s.reserved, s.available), (20, 20, 0));
}

#[tokio::test]
async fn an_order_reserving_twice_at_once_reserves_once() {
    let (_env, store, variant) = setup(10).await;
    let order = Uuid::now_v7();
    let lines = vec![ReservationLine {
        variant_id: variant,
        quantity: 3,
    }];
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, lines) = (store.clone(), lines.clone());
        tasks.push(tokio::spawn(async move {
            inventory::reserve(&store, order, &lines, 900).await
        }));
    }
    for t in tasks {
        let held = t.await.expect("task").expect("reserved");
        assert_eq!(held.lines.len(), 1);
        assert_eq!(held.lines[0].quantity, 3);
    }
    let s = inventory::stock(&store.pool, variant).await.expect("stock");
    assert_eq!((s.stock, s.reserved, s.available), (10, 3, 7));
}

#[tokio::test]
async fn committed_units_leave_stock_and_released_units_come_back_once() {
    let (_env, store, variant) = setup(5).await;
    let (sold, dropped) = (Uuid::now_v7(), Uuid::now_v7());
    inventory::reserve(&store, sold, &one(variant), 900)
        .await
        .expect("reserve");
    inventory::reserve(&store, dropped, &one(variant), 900)
        .await
        .expect("reserve");
    for _ in 0..2 {
        inventory::commit(&store, sold).await.expect("commit");
        inventory::release(&store, dropped).await.expect("release");
    }
    let s = inventory::stock(&store.pool, variant).await.expect("stock");
    assert_eq!((s.stock, s.reserved, s.available), (4, 0, 4));
    assert!(matches!(
        inventory::release(&store, sold).await,
        Err(Error::ReservationNotHeld)
    ));
}

#[tokio::test]
async fn a_payment_that_outlived_its_reservation_buys_what_is_still_there() {
    let (_env, store, variant) = setup(3).await;
    let (late, later, rival) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let two = |order| {
        let store = store.clone();
        async move {
            let lines = [ReservationLine {
                variant_id: variant,
                quantity: 2,
            }];
            inventory::reserve(&store, order, &lines, 900).await
        }
    };
    two(late).await.expect("reserve");
    sqlx::query("UPDATE reservations SET expires_at = now() - interval '1 second'")
        .execute(&store.pool)
        .await
        .expect("expire");
    assert_eq!(
        inventory::release_expired(&store).await.expect("sweep"),
        [variant]
    );

    // Units still there: the late payment gets them.
    let sold = inventory::commit(&store, late)
        .await
        .expect("commit after expiry");
    assert_eq!(sold.lines[0].status, ReservationStatus::Committed);
    let s = inventory::stock(&store.pool, variant).await.expect("stock");
    assert_eq!((s.stock, s.reserved, s.available), (1, 0, 1));

    // Units gone to someone else meanwhile: refused, and nothing moves.
    inventory::adjust(&store, variant, StockChange::Delta(2))
        .await
        .expect("restock");
    two(later).await.expect("reserve");
    sqlx::query(
        "UPDATE reservations SET expires_at = now() - interval '1 second' WHERE order_id = $1",
    )
    .bind(later)
    .execute(&store.pool)
    .await
    .expect("expire");
    inventory::release_expired(&store).await.expect("sweep");
    two(rival).await.expect("the rival takes two of three");
    assert!(matches!(
        inventory::commit(&store, later).await,
        Err(Error::InsufficientStock(id)) if id == variant
    ));
    let s = inventory::stock(&store.pool, variant).await.expect("stock");
    assert_eq!((s.stock, s.reserved, s.available), (3, 2, 1));
    assert!(
        matches!(
            inventory::release(&store, late).await,
            Err(Error::ReservationNotHeld)
        ),
        "sold units do not come back"
    );
}

#[tokio::test]
async fn only_variants_on_sale_can_be_reserved_and_held_units_still_finish() {
    let (_env, store, variant) = setup(5).await;
    let product = inventory::variant_info(&store.pool, &[variant])
        .await
        .expect("info")[0]
        .product_id;
    let seller = sqlx::query_scalar::<_, Uuid>("SELECT seller_id FROM products WHERE id = $1")
        .bind(product)
        .fetch_one(&store.pool)
        .await
        .expect("seller");
    let owner = kazna_kernel::AuthUser(kazna_kernel::auth::Claims {
        iss: String::new(),
        aud: String::new(),
        sub: seller,
        email: "seller@example.com".into(),
        roles: vec![kazna_kernel::Role::Seller],
        exp: 0,
        iat: 0,
        jti: Uuid::now_v7(),
    });
    let held = Uuid::now_v7();
    inventory::reserve(&store, held, &one(variant), 900)
        .await
        .expect("reserve while on sale");

    products::set_status(&store, product, ProductStatus::Hidden, None)
        .await
        .expect("hidden");
    let refused = inventory::reserve(&store, Uuid::now_v7(), &one(variant), 900).await;
    assert!(matches!(refused, Err(Error::InsufficientStock(id)) if id == variant));
    products::set_status(&store, product, ProductStatus::Active, None)
        .await
        .expect("restored");

    // A second variant keeps the product alive while the first is removed.
    let change = serde_json::from_value::<kazna_catalog::domain::ProductPatch>(serde_json::json!({
        "variants": [
            {"id": variant, "remove": true},
            {"sku": format!("NEW-{}", Uuid::new_v4().simple()), "price": {"amount": 100, "currency": "EUR"}},
        ]
    }))
    .expect("patch")
    .parse()
    .expect("valid");
    products::update(&store, product, &owner, change)
        .await
        .expect("updated");
    let info = inventory::variant_info(&store.pool, &[variant])
        .await
        .expect("info");
    assert_eq!(info[0].status, VariantStatus::Removed);
    let refused = inventory::reserve(&store, Uuid::now_v7(), &one(variant), 900).await;
    assert!(matches!(refused, Err(Error::InsufficientStock(id)) if id == variant));

    inventory::commit(&store, held)
        .await
        .expect("a reservation held before the removal still commits");
    let s = inventory::stock(&store.pool, variant).await.expect("stock");
    assert_eq!((s.stock, s.reserved, s.available), (4, 0, 4));
}
