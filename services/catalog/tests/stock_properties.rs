//! A randomized property test: several tasks at once reserve, commit, release, expire and
//! adjust stock of one variant; afterwards stock, reserved and sold units add up exactly.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use kazna_catalog::{
    Store,
    domain::{MoneyIn, ProductIn, VariantIn},
    inventory::{self, StockChange},
    products,
};
use kazna_contracts::catalog::ReservationLine;
use kazna_kernel::Context;
use kazna_testkit::TestEnv;
use proptest::prelude::*;
use uuid::Uuid;

#[derive(Debug, Clone)]
enum Op {
    Reserve { order: usize, quantity: i64 },
    Commit { order: usize },
    Release { order: usize },
    Expire { order: usize },
    Adjust { delta: i64 },
}

const ORDERS: usize = 6;
const INITIAL: i64 = 10;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..ORDERS, 1..5i64).prop_map(|(order, quantity)| Op::Reserve { order, quantity }),
        2 => (0..ORDERS).prop_map(|order| Op::Commit { order }),
        2 => (0..ORDERS).prop_map(|order| Op::Release { order }),
        1 => (0..ORDERS).prop_map(|order| Op::Expire { order }),
        2 => (-6..7i64).prop_filter("non-zero", |d| *d != 0).prop_map(|delta| Op::Adjust { delta }),
    ]
}

async fn variant(store: &Store) -> Uuid {
    let product = ProductIn {
        name: "Prop".into(),
        description: String::new(),
        category_ids: vec![],
        images: vec![],
        attributes: serde_json::Value::Null,
        variants: vec![VariantIn {
            sku: format!("PROP-{}", Uuid::new_v4().simple()),
            options: serde_json::Value::Null,
            price: MoneyIn {
                amount: 100,
                currency: "EUR".into(),
            },
            stock: INITIAL,
        }],
    };
    let p = products::create(store, Uuid::now_v7(), product.parse().unwrap())
        .await
        .unwrap();
    p.variants[0].id
}

/// Runs one task's operations in order; returns the stock deltas that were applied.
async fn run(store: Store, variant: Uuid, orders: Vec<Uuid>, ops: Vec<Op>) -> i64 {
    let mut applied = 0;
    for op in ops {
        match op {
            Op::Reserve { order, quantity } => {
                let _ = inventory::reserve(
                    &store,
                    orders[order],
                    &[ReservationLine {
                        variant_id: variant,
                        quantity,
                    }],
                    900,
                )
                .await;
            }
            Op::Commit { order } => {
                let _ = inventory::commit(&store, orders[order]).await;
            }
            Op::Release { order } => {
                let _ = inventory::release(&store, orders[order]).await;
            }
            Op::Expire { order } => {
                sqlx::query("UPDATE reservations SET expires_at = now() - interval '1 second' WHERE order_id = $1 AND status = 'held'")
                    .bind(orders[order])
                    .execute(&store.pool)
                    .await
                    .unwrap();
                inventory::release_expired(&store).await.unwrap();
            }
            Op::Adjust { delta } => {
                if inventory::adjust(&store, variant, StockChange::Delta(delta))
                    .await
                    .is_ok()
                {
                    applied += delta;
                }
            }
        }
    }
    applied
}

#[test]
fn stock_reserved_and_sold_always_add_up() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_env, store) = rt.block_on(async {
        let mut env = TestEnv::new().unwrap();
        env.settings.database.max_connections = 16;
        let ctx = Context::new(Arc::new(env.settings.clone()));
        env.databases(&["catalog"]).await.unwrap();
        let store = kazna_catalog::Store::open(&ctx).await.unwrap();
        (env, store)
    });
    let config = ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(tasks in prop::collection::vec(prop::collection::vec(op(), 1..10), 2..5))| {
        let (stock, reserved, held, sold, applied) = rt.block_on(async {
            let variant = variant(&store).await;
            let orders: Vec<Uuid> = (0..ORDERS).map(|_| Uuid::now_v7()).collect();
            let handles: Vec<_> = tasks
                .into_iter()
                .map(|ops| tokio::spawn(run(store.clone(), variant, orders.clone(), ops)))
                .collect();
            let mut applied = 0;
            for h in handles {
                applied += h.await.unwrap();
            }
            let s = inventory::stock(&store.pool, variant).await.unwrap();
            let (held, sold): (i64, i64) = sqlx::query_as(
                "SELECT coalesce(sum(quantity) FILTER (WHERE status = 'held'), 0)::bigint,
                        coalesce(sum(quantity) FILTER (WHERE status = 'committed'), 0)::bigint
                 FROM reservations WHERE variant_id = $1",
            )
            .bind(variant)
            .fetch_one(&store.pool)
            .await
            .unwrap();
            (s.stock, s.reserved, held, sold, applied)
        });
        prop_assert_eq!(reserved, held, "reserved units are exactly those held");
        prop_assert_eq!(stock + sold, INITIAL + applied, "no unit lost or created");
        prop_assert!(stock >= reserved, "available never negative");
    });
}
