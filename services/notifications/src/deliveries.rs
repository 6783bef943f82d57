//! Turning events into messages: pick the template, render, send, log the delivery.

use chrono::{DateTime, Utc};
use kazna_contracts::Envelope;
use kazna_events::inbox;
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    NAME,
    channel::{Channel, DeliveryStatus},
    error::Result,
    outbox::{Email, FileOutbox},
    render,
};

pub const EVENTS: &[&str] = &[
    "user.verification_requested",
    "user.password_reset_requested",
    "order.placed",
    "order.paid",
];

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Delivery {
    pub id: Uuid,
    pub event: String,
    pub event_id: Uuid,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub recipient: String,
    pub subject: String,
    #[sqlx(try_from = "String")]
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Sends the email an event calls for, once: the delivery row and the inbox entry commit
/// together, after the message is written.
pub async fn deliver(
    pool: &PgPool,
    outbox: &FileOutbox,
    from: &str,
    event: &Envelope,
) -> Result<()> {
    let Some(recipient) = event.data.get("email").and_then(|v| v.as_str()) else {
        return Ok(());
    };
    let Some(mut tx) = inbox::begin(pool, NAME, event.id).await? else {
        return Ok(());
    };
    let template: Option<(String, String)> =
        sqlx::query_as("SELECT subject, body FROM templates WHERE event = $1 AND channel = $2")
            .bind(&event.event_type)
            .bind(Channel::Email.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let Some((subject, body)) = template else {
        tx.commit().await?;
        return Ok(());
    };
    let subject = render::render(&subject, &event.data)?;
    let body = render::render(&body, &event.data)?;
    let id = Uuid::now_v7();
    outbox
        .send(&Email {
            id,
            from,
            to: recipient,
            subject: &subject,
            body: &body,
        })
        .await?;
    sqlx::query(
        "INSERT INTO deliveries (id, event_id, event, channel, recipient, subject, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id, channel) DO NOTHING",
    )
    .bind(id)
    .bind(event.id)
    .bind(&event.event_type)
    .bind(Channel::Email.as_str())
    .bind(recipient)
    .bind(&subject)
    .bind(DeliveryStatus::Sent.as_str())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(event = %event.event_type, delivery.id = %id, "email sent");
    Ok(())
}

pub async fn list(
    pool: &PgPool,
    recipient: Option<&str>,
    cursor: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Delivery>> {
    Ok(sqlx::query_as(
        "SELECT id, event, event_id, channel, recipient, subject, status, attempts, last_error, created_at
         FROM deliveries WHERE ($1::text IS NULL OR recipient = $1) AND ($2::uuid IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3",
    )
    .bind(recipient)
    .bind(cursor)
    .bind(limit + 1)
    .fetch_all(pool)
    .await?)
}
