//! `kazna migrate`, the one-shot step a Compose or Kubernetes deployment runs first: started
//! beside a database server that does not answer yet, it waits for it.

use std::{net::ToSocketAddrs, time::Duration};

use kazna_testkit::{TcpProxy, TestEnv};

#[tokio::test]
async fn migrate_waits_for_a_database_server_that_is_not_up_yet_then_migrates_every_database() {
    let env = TestEnv::new().expect("test env");
    let mut settings = env.settings.clone();
    let host = settings
        .database
        .url
        .rsplit('@')
        .next()
        .expect("a server address")
        .trim_end_matches('/')
        .to_owned();
    let server = host
        .to_socket_addrs()
        .expect("the server's address")
        .next()
        .expect("one address");
    let proxy = TcpProxy::start(server, false).await.expect("proxy");
    settings.database.url = format!("postgres://postgres@{}", proxy.addr);

    let migrating = tokio::spawn(kazna::migrate(settings.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!migrating.is_finished(), "it waits for the server");
    proxy.up();
    tokio::time::timeout(Duration::from_secs(60), migrating)
        .await
        .expect("it migrates within a minute of the server answering")
        .expect("the task")
        .expect("migrated");

    for service in ["users", "catalog", "orders", "payments", "notifications"] {
        let pool = sqlx::PgPool::connect(&env.settings.database_url(service))
            .await
            .expect("the database exists");
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE NOT success")
                .fetch_one(&pool)
                .await
                .expect("migrations recorded");
        let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .expect("migrations recorded");
        assert_eq!(pending, 0, "{service}");
        assert!(applied > 0, "{service} is migrated");
        pool.close().await;
    }
}
