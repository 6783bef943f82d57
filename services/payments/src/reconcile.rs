//! Comparing what payments recorded with what the providers say: for every payment since a
//! time, the sums captured and refunded on both sides. Each difference is reported, logged and
//! counted (`kazna_payments_reconcile_differences`). Settling payments whose webhook never came
//! is the worker's part (`reconcile_after_secs`); this finds what is wrong after the fact.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kazna_contracts::{
    Currency,
    payments::{PaymentStatus, Provider},
};
use serde::Serialize;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    audit::Transcript,
    error::Result,
    gateways::Gateways,
    payments::{COLUMNS, Row},
};

/// Where payments and a provider disagree about one payment.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Difference {
    pub payment_id: Uuid,
    pub provider: Provider,
    pub intent: String,
    pub currency: Currency,
    /// Minor units taken, by our records and by the provider's.
    pub captured: (i64, i64),
    /// Minor units given back, by our records and by the provider's.
    pub refunded: (i64, i64),
    /// Set when the provider could not be asked or does not know the payment.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub checked: usize,
    pub differences: Vec<Difference>,
}

/// Compares every payment made since `since` that reached a provider.
pub async fn compare(pool: &PgPool, gateways: &Gateways, since: DateTime<Utc>) -> Result<Report> {
    let mut report = Report::default();
    let mut after = Uuid::nil();
    loop {
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM payments
             WHERE created_at >= $1 AND provider_ref IS NOT NULL AND id > $2
             ORDER BY id LIMIT 200"
        )))
        .bind(since)
        .bind(after)
        .fetch_all(pool)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for p in rows {
            let (Some(gateway), Some(r)) = (gateways.get(p.provider), p.gateway_ref()) else {
                continue;
            };
            report.checked += 1;
            let captured = match p.status {
                PaymentStatus::Succeeded
                | PaymentStatus::PartiallyRefunded
                | PaymentStatus::Refunded => p.amount,
                PaymentStatus::Pending | PaymentStatus::Failed | PaymentStatus::Voided => 0,
            };
            let mut log = Transcript::default();
            let (theirs, error) = match gateway.retrieve(&r, &mut log).await {
                Ok(remote) => ((remote.captured, remote.refunded), None),
                Err(e) => ((0, 0), Some(e.to_string())),
            };
            log.write_alone(pool, p.id).await?;
            if error.is_none() && theirs == (captured, p.refunded) {
                continue;
            }
            let d = Difference {
                payment_id: p.id,
                provider: p.provider,
                intent: r.intent,
                currency: p.currency,
                captured: (captured, theirs.0),
                refunded: (p.refunded, theirs.1),
                error,
            };
            tracing::warn!(
                payment = %d.payment_id, provider = %d.provider, intent = %d.intent,
                captured_ours = d.captured.0, captured_theirs = d.captured.1,
                refunded_ours = d.refunded.0, refunded_theirs = d.refunded.1,
                error = d.error.as_deref().unwrap_or(""),
                "payments and the provider disagree"
            );
            metrics::counter!("kazna_payments_reconcile_differences_total", "provider" => d.provider.as_str())
                .increment(1);
            report.differences.push(d);
        }
    }
    metrics::gauge!("kazna_payments_reconcile_differences").set(report.differences.len() as f64);
    Ok(report)
}

/// Compares the last two periods every `period` (never when it is zero), so a difference
/// shows on the metrics without anyone running the command.
pub async fn every(
    pool: PgPool,
    gateways: Gateways,
    period: Duration,
    shutdown: CancellationToken,
) {
    if period.is_zero() {
        return;
    }
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
        let window = chrono::Duration::from_std(period * 2).unwrap_or(chrono::Duration::days(1));
        if let Err(e) = compare(&pool, &gateways, Utc::now() - window).await {
            tracing::warn!(error = %e, "could not compare payments with the providers");
        }
    }
}
