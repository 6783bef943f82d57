//! Test databases: cloned from migrated templates, and given back even by a test that panics.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use kazna_kernel::Settings;
use kazna_testkit::TestEnv;

async fn leftovers(settings: &Settings) -> Vec<String> {
    let pool = sqlx::PgPool::connect(&format!("{}/postgres", settings.database.url))
        .await
        .unwrap();
    sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
        .bind(&settings.database.name_prefix)
        .fetch_all(&pool)
        .await
        .unwrap()
}

#[test]
fn a_test_that_panics_still_gives_its_databases_back() {
    let (seen, settings) = std::sync::mpsc::channel();
    let test = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let env = TestEnv::new().unwrap();
            env.databases(&["orders", "payments"]).await.unwrap();
            // A copy of the template: migrated, and with the bus's tables.
            let url = format!(
                "{}/{}orders",
                env.settings.database.url, env.settings.database.name_prefix
            );
            let orders = sqlx::PgPool::connect(&url).await.unwrap();
            let counted: (i64, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM outbox)",
            )
            .fetch_one(&orders)
            .await
            .unwrap();
            assert_eq!(counted, (0, 0));
            orders.close().await;
            assert_eq!(leftovers(&env.settings).await.len(), 2);
            seen.send(env.settings.clone()).unwrap();
            panic!("the test fails half-way");
        })
    });
    assert!(test.join().is_err(), "the test panicked");
    let settings = settings.recv().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(
        rt.block_on(leftovers(&settings)),
        Vec::<String>::new(),
        "its databases are gone"
    );
}
