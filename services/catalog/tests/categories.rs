//! The category tree under concurrent moves, against the real database.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use kazna_catalog::{categories, error::Error};
use kazna_kernel::Context;
use kazna_testkit::TestEnv;

/// Two siblings moved under each other at the same moment, many times over: one move wins,
/// the other is refused, and the tree never holds a cycle.
#[tokio::test]
async fn crossed_moves_at_once_never_make_a_cycle() {
    let env = TestEnv::new().expect("env");
    env.databases(&["catalog"]).await.expect("test database");
    let ctx = Context::new(Arc::new(env.settings.clone()));
    let store = kazna_catalog::Store::open(&ctx).await.expect("db");
    for round in 0..20 {
        let a = categories::create(&store.pool, &format!("A{round}"), None)
            .await
            .unwrap();
        let b = categories::create(&store.pool, &format!("B{round}"), None)
            .await
            .unwrap();
        let (p1, p2) = (store.clone(), store.clone());
        let (a_under_b, b_under_a) = tokio::join!(
            tokio::spawn(
                async move { categories::update(&p1, a.id, None, Some(Some(b.id))).await }
            ),
            tokio::spawn(
                async move { categories::update(&p2, b.id, None, Some(Some(a.id))).await }
            ),
        );
        let outcomes = [a_under_b.unwrap(), b_under_a.unwrap()];
        let won = outcomes.iter().filter(|o| o.is_ok()).count();
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, Err(Error::CategoryCycle)))
            .count();
        assert_eq!((won, refused), (1, 1), "round {round}");
        // Walking up from either node reaches a root.
        let all = categories::list(&store.pool).await.unwrap();
        for start in [a.id, b.id] {
            let mut at = Some(start);
            let mut steps = 0;
            while let Some(id) = at {
                at = all.iter().find(|c| c.id == id).and_then(|c| c.parent_id);
                steps += 1;
                assert!(steps <= 3, "round {round}: a cycle through {start}");
            }
        }
    }
}
