//! The audit log's hash chain: intact as written, and each kind of tampering (an edited, a
//! deleted, a reordered row) named at the first row it touched.

use kazna_contracts::payments::{PaymentStatus, Provider};
use kazna_payments::audit::{self, Verdict};
use sqlx::Connection;

use crate::harness::{self, attempt};

#[tokio::test]
async fn the_audit_log_is_append_only_and_tampering_is_named_at_its_first_row() {
    let h = harness::start(&[Provider::Sandbox], |_| {}).await;
    for method in ["pm_card_visa", "pm_card_chargeDeclined", "pm_card_visa"] {
        let a = attempt(method);
        h.record(&a).await;
        h.work_until(a.payment_id, "settled", |p| {
            p.status != PaymentStatus::Pending
        })
        .await;
    }
    while audit::seal(&h.pool).await.expect("sealed") > 0 {}
    let Verdict::Intact {
        rows,
        head,
        unsealed,
    } = audit::verify(&h.pool).await.expect("verified")
    else {
        panic!("the log as written is intact");
    };
    assert!(rows >= 9, "{rows} rows");
    assert!(head.is_some());
    assert_eq!(unsealed, 0);

    // Through the service's own access, rows can be added, never changed or removed.
    let refused = sqlx::query("UPDATE payment_events SET kind = 'x' WHERE position = 1")
        .execute(&h.pool)
        .await;
    assert!(refused.is_err(), "an update is refused");
    let refused = sqlx::query("DELETE FROM payment_events WHERE position = 1")
        .execute(&h.pool)
        .await;
    assert!(refused.is_err(), "a delete is refused");

    // Someone with the power to switch the trigger off (a superuser) edits, deletes, reorders.
    let url = h.pool.connect_options();
    let mut admin = sqlx::PgConnection::connect_with(&url)
        .await
        .expect("connect");
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut admin)
        .await
        .expect("no triggers");
    let verdict = || async { audit::verify(&h.pool).await.expect("verified") };
    let broken_at = |v: &Verdict| match v {
        Verdict::Broken {
            position, problem, ..
        } => Some((*position, problem.clone())),
        Verdict::Intact { .. } => None,
    };

    // Edited: an amount changed.
    let original: String =
        sqlx::query_scalar("SELECT data::text FROM payment_events WHERE position = 3")
            .fetch_one(&mut admin)
            .await
            .expect("row 3");
    tamper(
        &mut admin,
        &["UPDATE payment_events SET data = '{\"amount\": 1}' WHERE position = 3"],
    )
    .await;
    let (at, problem) = broken_at(&verdict().await).expect("the edit is found");
    assert_eq!(at, 3);
    assert!(problem.contains("edited"), "{problem}");
    sqlx::query("UPDATE payment_events SET data = $1::jsonb WHERE position = 3")
        .bind(&original)
        .execute(&mut admin)
        .await
        .expect("put back");
    assert!(
        broken_at(&verdict().await).is_none(),
        "put back, it is intact again"
    );

    // Deleted.
    tamper(
        &mut admin,
        &[
            "CREATE TEMP TABLE saved AS SELECT * FROM payment_events WHERE position = 5",
            "DELETE FROM payment_events WHERE position = 5",
        ],
    )
    .await;
    let (at, problem) = broken_at(&verdict().await).expect("the deletion is found");
    assert_eq!(at, 5);
    assert!(problem.contains("missing"), "{problem}");
    tamper(
        &mut admin,
        &["INSERT INTO payment_events SELECT * FROM saved"],
    )
    .await;
    assert!(broken_at(&verdict().await).is_none());

    // Reordered: rows 2 and 4 swap places.
    tamper(&mut admin, SWAP_2_AND_4).await;
    let (at, problem) = broken_at(&verdict().await).expect("the reordering is found");
    assert_eq!(at, 2, "{problem}");
    tamper(&mut admin, SWAP_2_AND_4).await;
    assert!(broken_at(&verdict().await).is_none(), "swapped back");

    // A row deleted and the ones after it renumbered to hide the gap: found where it was.
    tamper(
        &mut admin,
        &[
            "DELETE FROM payment_events WHERE position = 6",
            "UPDATE payment_events SET position = -(position - 1) WHERE position > 6",
            "UPDATE payment_events SET position = -position WHERE position < 0",
        ],
    )
    .await;
    let (at, problem) = broken_at(&verdict().await).expect("the hidden deletion is found");
    assert_eq!(at, 6, "{problem}");
}

/// Positions are unique, so a swap goes through negative ones.
const SWAP_2_AND_4: &[&str] = &[
    "UPDATE payment_events SET position = -position WHERE position IN (2, 4)",
    "UPDATE payment_events SET position = CASE position WHEN -2 THEN 4 ELSE 2 END WHERE position IN (-2, -4)",
];

async fn tamper(admin: &mut sqlx::PgConnection, statements: &[&str]) {
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(*sql))
            .execute(&mut *admin)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}
