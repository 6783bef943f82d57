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

    // Edited: a refund amount made larger.
    let original: String =
        sqlx::query_scalar("SELECT data::text FROM payment_events WHERE position = 3")
            .fetch_one(&mut admin)
            .await
            .expect("row 3");
    sqlx::query("UPDATE payment_events SET data = '{\"amount\": 1}' WHERE position = 3")
        .execute(&mut admin)
        .await
        .expect("edited");
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
    sqlx::query("CREATE TEMP TABLE saved AS SELECT * FROM payment_events WHERE position = 5")
        .execute(&mut admin)
        .await
        .expect("saved");
    sqlx::query("DELETE FROM payment_events WHERE position = 5")
        .execute(&mut admin)
        .await
        .expect("deleted");
    let (at, problem) = broken_at(&verdict().await).expect("the deletion is found");
    assert_eq!(at, 5);
    assert!(problem.contains("missing"), "{problem}");
    sqlx::query("INSERT INTO payment_events SELECT * FROM saved")
        .execute(&mut admin)
        .await
        .expect("put back");
    assert!(broken_at(&verdict().await).is_none());

    // Reordered: rows 2 and 4 swap places.
    sqlx::query("UPDATE payment_events SET position = -position WHERE position IN (2, 4)")
        .execute(&mut admin)
        .await
        .expect("moved aside");
    sqlx::query("UPDATE payment_events SET position = CASE position WHEN -2 THEN 4 ELSE 2 END WHERE position IN (-2, -4)")
        .execute(&mut admin)
        .await
        .expect("swapped");
    let (at, problem) = broken_at(&verdict().await).expect("the reordering is found");
    assert_eq!(at, 2, "{problem}");

    // A row deleted and the ones after it renumbered to hide the gap: found where it was.
    sqlx::query("UPDATE payment_events SET position = -position WHERE position IN (2, 4)")
        .execute(&mut admin)
        .await
        .expect("moved aside");
    sqlx::query("UPDATE payment_events SET position = CASE position WHEN -2 THEN 4 ELSE 2 END WHERE position IN (-2, -4)")
        .execute(&mut admin)
        .await
        .expect("swapped back");
    assert!(broken_at(&verdict().await).is_none());
    sqlx::query("DELETE FROM payment_events WHERE position = 6")
        .execute(&mut admin)
        .await
        .expect("deleted");
    sqlx::query("UPDATE payment_events SET position = -(position - 1) WHERE position > 6")
        .execute(&mut admin)
        .await
        .expect("renumbered");
    sqlx::query("UPDATE payment_events SET position = -position WHERE position < 0")
        .execute(&mut admin)
        .await
        .expect("renumbered");
    let (at, problem) = broken_at(&verdict().await).expect("the hidden deletion is found");
    assert_eq!(at, 6, "{problem}");
}
