//! The sandbox's fault knobs, and what payments does about each: a lost answer to a charge,
//! a webhook that never comes, webhooks delivered twice, webhooks out of order.

use kazna_contracts::payments::{PaymentStatus, Provider};
use uuid::Uuid;

use crate::harness::{self, Harness, attempt, logged};

async fn intents_of(h: &Harness, payment: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM sandbox_intents WHERE metadata->>'payment_id' = $1::text",
    )
    .bind(payment)
    .fetch_one(&h.pool)
    .await
    .expect("count")
}

#[tokio::test]
async fn a_lost_answer_to_a_charge_is_retried_and_charges_exactly_once() {
    let h = harness::start(&[Provider::Sandbox], |p| {
        p.sandbox_faults.lose_first_charge_answer = true;
        // Decided later than the retry comes, so the retry is what finds the charge.
        p.sandbox_delay_ms = 1500;
    })
    .await;
    let a = attempt("pm_card_visa");
    h.record(&a).await;
    let p = h
        .work_until(a.payment_id, "paid", |p| {
            p.status == PaymentStatus::Succeeded
        })
        .await;
    assert_eq!(
        intents_of(&h, a.payment_id).await,
        1,
        "exactly one charge at the gateway"
    );
    let tries = p
        .events
        .iter()
        .filter(|e| e.kind == "provider_request" && e.data["path"] == "/sandbox/charges")
        .count();
    assert!(
        tries >= 2,
        "the lost answer and the retry are both in the audit log: {tries}"
    );
    let lost = p
        .events
        .iter()
        .find(|e| e.kind == "provider_request")
        .expect("first try");
    assert!(
        lost.data["error"]
            .as_str()
            .is_some_and(|e| e.contains("timed out")),
        "{:?}",
        lost.data
    );
}

#[tokio::test]
async fn a_payment_whose_webhooks_are_all_lost_still_reaches_its_end_through_reconciliation() {
    let h = harness::start(&[Provider::Sandbox], |p| {
        p.sandbox_faults.drop_every_nth_webhook = 1;
        p.reconcile_after_secs = 1;
    })
    .await;
    let paid = attempt("pm_card_visa");
    let declined = attempt("pm_card_chargeDeclined");
    h.record(&paid).await;
    h.record(&declined).await;
    let p = h
        .work_until(paid.payment_id, "paid", |p| {
            p.status != PaymentStatus::Pending
        })
        .await;
    assert_eq!(p.status, PaymentStatus::Succeeded);
    let d = h
        .work_until(declined.payment_id, "declined", |p| {
            p.status != PaymentStatus::Pending
        })
        .await;
    assert_eq!(
        (d.status, d.failure_reason.as_deref()),
        (PaymentStatus::Failed, Some("card_declined"))
    );
    for p in [&p, &d] {
        assert!(
            p.events
                .iter()
                .all(|e| !e.kind.starts_with("payment_intent.")),
            "no webhook came"
        );
        assert!(
            p.events
                .iter()
                .any(|e| e.kind == "provider_request" && e.data["method"] == "GET"),
            "the sandbox was asked"
        );
    }
    // A refund whose confirmation is lost too.
    h.refund(paid.payment_id, 500).await;
    let p = h
        .work_until(paid.payment_id, "refunded", |p| {
            p.status == PaymentStatus::PartiallyRefunded
        })
        .await;
    assert_eq!(p.refunded.amount_minor, 500);
    assert_eq!(logged(&p, "charge.refunded"), 0, "no webhook came");
}

#[tokio::test]
async fn duplicated_webhooks_are_applied_once() {
    let h = harness::start(&[Provider::Sandbox], |p| {
        p.sandbox_faults.duplicate_webhooks = true
    })
    .await;
    let a = attempt("pm_card_visa");
    h.record(&a).await;
    h.work_until(a.payment_id, "paid", |p| {
        p.status == PaymentStatus::Succeeded
    })
    .await;
    // Give the second copy time to arrive, then look.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let p = h.payment(a.payment_id).await;
    assert_eq!(logged(&p, "payment_intent.succeeded"), 1);
    assert_eq!(logged(&p, "status_changed"), 1);
}

#[tokio::test]
async fn reordered_webhooks_end_in_the_same_state() {
    let h = harness::start(&[Provider::Sandbox], |p| {
        p.sandbox_faults.reorder_webhooks = true
    })
    .await;
    let a = attempt("pm_card_visa");
    h.record(&a).await;
    h.work_until(a.payment_id, "paid", |p| {
        p.status == PaymentStatus::Succeeded
    })
    .await;
    // Two refunds whose confirmations go out the other way round.
    h.refund(a.payment_id, 1000).await;
    h.refund(a.payment_id, 999).await;
    let p = h
        .work_until(a.payment_id, "refunded", |p| {
            p.status == PaymentStatus::Refunded
        })
        .await;
    assert_eq!(p.refunded.amount_minor, 1999);
    assert!(
        p.refunds
            .iter()
            .all(|r| r.status == kazna_payments::refunds::RefundStatus::Succeeded)
    );
}

#[tokio::test]
async fn comparing_with_the_provider_reports_each_difference() {
    let h = harness::start(&[Provider::Sandbox], |_| {}).await;
    let a = attempt("pm_card_visa");
    let b = attempt("pm_card_visa");
    for x in [&a, &b] {
        h.record(x).await;
        h.work_until(x.payment_id, "paid", |p| {
            p.status == PaymentStatus::Succeeded
        })
        .await;
    }
    let gateways = &h.worker.gateways;
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let report = kazna_payments::reconcile::compare(&h.pool, gateways, since)
        .await
        .expect("compared");
    assert_eq!(
        (report.checked, report.differences.len()),
        (2, 0),
        "{report:?}"
    );

    // Money went back at the provider without payments knowing (a refund in its dashboard).
    sqlx::query(
        "INSERT INTO sandbox_refunds (id, intent_id, idempotency_key, amount, refund_id)
         SELECT 're_dashboard', id, 'dashboard', 500, gen_random_uuid() FROM sandbox_intents
         WHERE metadata->>'payment_id' = $1::text",
    )
    .bind(b.payment_id)
    .execute(&h.pool)
    .await
    .expect("refund behind our back");
    let report = kazna_payments::reconcile::compare(&h.pool, gateways, since)
        .await
        .expect("compared");
    assert_eq!(report.checked, 2);
    assert_eq!(report.differences.len(), 1, "{report:?}");
    let d = &report.differences[0];
    assert_eq!(d.payment_id, b.payment_id);
    assert_eq!((d.captured, d.refunded), ((1999, 1999), (0, 500)));
    // Only payments since the date are compared.
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    let report = kazna_payments::reconcile::compare(&h.pool, gateways, later)
        .await
        .expect("compared");
    assert_eq!(report.checked, 0);
}
