//! The inbox: a consumer records each event id it applies in the same transaction as the
//! effect, so a redelivered event finds its id and changes nothing.

use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Opens a transaction that has claimed `event_id` for `consumer`, or `None` when the event
/// was already applied. The caller writes its effect in the transaction and commits it.
pub async fn begin(
    pool: &PgPool,
    consumer: &str,
    event_id: Uuid,
) -> Result<Option<Transaction<'static, Postgres>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let claimed = sqlx::query(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    Ok(Some(tx))
}
